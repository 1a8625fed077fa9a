//! A small blocking client for Kafka Connect's REST API (and Tidemark's, which speaks the
//! same): JSON in, status and JSON out, over HTTP/1.1 with hyper's client (already in the
//! tests' dependency tree through axum and wasmtime-wasi-http).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value as Json;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A REST endpoint on 127.0.0.1.
pub struct Rest {
    /// The port it listens on.
    pub port: u16,
    runtime: tokio::runtime::Runtime,
}

impl Rest {
    /// A client of `127.0.0.1:port`.
    pub fn new(port: u16) -> Rest {
        Rest {
            port,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
        }
    }

    /// Sends `method path` with `body` (JSON) and returns the status and the answer's JSON
    /// (`null` when empty), or why there was no answer.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Result<(u16, Json), String> {
        self.try_request_raw(method, path, body.map(Json::to_string).unwrap_or_default())
    }

    /// Sends `method path` with `body` as it is (which may be malformed JSON), labelled
    /// `application/json`; the status and the answer as [`Rest::try_request`] gives them.
    pub fn try_request_raw(
        &self,
        method: &str,
        path: &str,
        body: String,
    ) -> Result<(u16, Json), String> {
        let port = self.port;
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let exchange = async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| e.to_string())?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let json = if bytes.is_empty() {
                Json::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()))
            };
            Ok::<_, String>((status, json))
        };
        self.runtime
            .block_on(async { tokio::time::timeout(REQUEST_TIMEOUT, exchange).await })
            .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))?
    }

    /// Sends a request that must be answered; panics naming it otherwise.
    pub fn request(&self, method: &str, path: &str, body: Option<&Json>) -> (u16, Json) {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
    }
}

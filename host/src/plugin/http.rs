//! Outgoing wasi:http requests: sent only to the authorities a plugin was granted
//! (`plugin.allow.http`); any other request fails with `HTTP-request-denied` before a
//! connection is made, and the host logs which authority was refused.

use std::future::Future;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::limits::HttpGrants;

type Response = http::Response<WasiBody>;
type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// The wasi:http hooks of one plugin.
pub struct HttpHooks {
    plugin: String,
    grants: HttpGrants,
}

impl HttpHooks {
    /// Hooks allowing the plugin's grants only.
    pub fn new(plugin: &str, grants: HttpGrants) -> HttpHooks {
        HttpHooks {
            plugin: plugin.to_owned(),
            grants,
        }
    }
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Io,
    ) -> Box<dyn Future<Output = Result<(Response, Io), Error>> + Send> {
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !self.grants.allows(&host, port) {
            tracing::warn!(
                plugin = %self.plugin,
                authority = %format!("{host}:{port}"),
                "refused an HTTP request to an authority not granted by plugin.allow.http"
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Io))
        })
    }
}

//! `http-sink`: POSTs each batch to a URL as one JSON array, over wasi:http.
//!
//! Each element is `{"topic", "key", "value", "headers": [{"key","value"}], "timestamp"}`;
//! `key` and `value` are the payloads as Kafka Connect's JsonConverter writes them with
//! `schemas.enable=false` (bytes and decimals as base64, a null field with a schema default
//! as that default).
//!
//! Settings (`sink.config.*`):
//! - `url` (required): `http://host[:port]/path` or `https://…`. The host must also be granted
//!   with `plugin.allow.http=host:port`: that grant is the only capability the plugin has.
//! - `header.<Name>`: an extra request header (e.g. `header.Authorization=Bearer …`).
//! - `timeout.ms` (default 30000): connect and first-byte timeout of a request.
//!
//! Answers: a 2xx response acknowledges the batch; 408, 429 and 5xx, a refused or broken
//! connection, or a timeout are `retriable` (the host retries the same batch after a backoff);
//! any other status, or a request the host refused (not granted), is `fatal`, with the status
//! and the start of the response body in the message.

use std::collections::HashMap;
use std::rc::Rc;

use base64::Engine;
use serde_json::{Map, Value as Json};
use wasip2::http::outgoing_handler::{self, ErrorCode, RequestOptions};
use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "declared-sink",
    });
}

use bindings::exports::tidemark::plugin::config_schema::{self, ConfigKey, Importance, KeyType};
use bindings::exports::tidemark::plugin::destination::{Guest, SinkError};
use bindings::tidemark::plugin::records::Batch;
use bindings::tidemark::plugin::types::{Part, SchemaNode, SchemaType, ValueNode};

/// The parsed settings.
struct Settings {
    scheme: Scheme,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    timeout_ns: u64,
}

thread_local! {
    static SETTINGS: std::cell::RefCell<Option<Settings>> = const { std::cell::RefCell::new(None) };
}

/// Splits `http://host:port/path?query` into scheme, authority and path.
fn parse_url(url: &str) -> Result<(Scheme, String, String), String> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(format!(
            "setting 'url' = {url:?} must start with http:// or https://"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("setting 'url' = {url:?} has no host"));
    }
    Ok((scheme, authority.to_owned(), path.to_owned()))
}

/// The sink's keys, declared for the host (which checks a configuration against them and
/// lists them); `configure` reads the same keys.
fn definition() -> Vec<ConfigKey> {
    let key =
        |name: &str, type_, default: Option<&str>, required, importance, doc: &str| ConfigKey {
            name: name.to_owned(),
            type_,
            default_value: default.map(str::to_owned),
            required,
            importance,
            documentation: doc.to_owned(),
            allowed: Vec::new(),
            case_insensitive: false,
        };
    vec![
        key(
            URL,
            KeyType::String,
            None,
            true,
            Importance::High,
            "The address batches are POSTed to, http://host[:port]/path or https://…; the host must also be granted with plugin.allow.http=host:port.",
        ),
        key(
            TIMEOUT,
            KeyType::Long,
            Some(&DEFAULT_TIMEOUT_MS.to_string()),
            false,
            Importance::Medium,
            "Connect and first-byte timeout of a request, in milliseconds.",
        ),
        key(
            "header.*",
            KeyType::Password,
            None,
            false,
            Importance::Low,
            "header.<Name>: an extra request header (e.g. header.Authorization=Bearer …).",
        ),
    ]
}

const URL: &str = "url";
const TIMEOUT: &str = "timeout.ms";
const DEFAULT_TIMEOUT_MS: u64 = 30_000;

fn configure(config: Vec<(String, String)>) -> Result<Settings, String> {
    let get = |key: &str| {
        config
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let url = get(URL).ok_or("missing required setting 'url' (the address to POST to)")?;
    let (scheme, authority, path) = parse_url(url.trim())?;
    let timeout_ms: u64 = match get(TIMEOUT) {
        None => DEFAULT_TIMEOUT_MS,
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("setting 'timeout.ms' has an invalid value {v:?}"))?,
    };
    let headers = config
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("header.").map(|n| (n.to_owned(), v.clone())))
        .collect();
    Ok(Settings {
        scheme,
        authority,
        path,
        headers,
        timeout_ns: timeout_ms.saturating_mul(1_000_000),
    })
}

/// Converts value nodes to JSON, guided by schema nodes when the part has a schema.
struct Converter<'a> {
    values: &'a [ValueNode],
    schema: Option<&'a [SchemaNode]>,
}

impl Converter<'_> {
    fn json(&self, value: u32, schema: Option<u32>) -> Json {
        let node = self.schema.zip(schema).map(|(s, i)| &s[i as usize]);
        match &self.values[value as usize] {
            ValueNode::Null => match node.and_then(|n| n.default_value.as_ref()) {
                Some(default) => Converter {
                    values: default,
                    schema: self.schema,
                }
                .json(0, schema),
                None => Json::Null,
            },
            ValueNode::Boolean(b) => Json::Bool(*b),
            ValueNode::Int8(n) => (*n).into(),
            ValueNode::Int16(n) => (*n).into(),
            ValueNode::Int32(n) => (*n).into(),
            ValueNode::Int64(n) => (*n).into(),
            ValueNode::Float32(f) => {
                serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
            }
            ValueNode::Float64(f) => {
                serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
            ValueNode::String(s) => Json::String(s.clone()),
            ValueNode::Bytes(b) => {
                Json::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            ValueNode::Array(items) => {
                let element = node.and_then(|n| n.value_schema);
                Json::Array(items.iter().map(|i| self.json(*i, element)).collect())
            }
            ValueNode::Map(entries) => {
                let (keys, values) = node.map_or((None, None), |n| (n.key_schema, n.value_schema));
                let string_keys = entries
                    .iter()
                    .all(|(k, _)| matches!(self.values[*k as usize], ValueNode::String(_)));
                if string_keys {
                    let mut object = Map::new();
                    for (k, v) in entries {
                        if let ValueNode::String(key) = &self.values[*k as usize] {
                            object.insert(key.clone(), self.json(*v, values));
                        }
                    }
                    Json::Object(object)
                } else {
                    Json::Array(
                        entries
                            .iter()
                            .map(|(k, v)| {
                                Json::Array(vec![self.json(*k, keys), self.json(*v, values)])
                            })
                            .collect(),
                    )
                }
            }
            ValueNode::Struct(fields) => {
                let mut object = Map::new();
                let schema_fields = node.filter(|n| n.type_ == SchemaType::Struct);
                for (i, v) in fields.iter().enumerate() {
                    let (name, field_schema) = match schema_fields.and_then(|n| n.fields.get(i)) {
                        Some(f) => (f.name.clone(), Some(f.schema)),
                        None => (i.to_string(), None),
                    };
                    object.insert(name, self.json(*v, field_schema));
                }
                Json::Object(object)
            }
        }
    }
}

/// Schemas by schema id, so each distinct schema crosses the boundary once per batch.
type Schemas = HashMap<u64, Rc<Vec<SchemaNode>>>;

fn part_json(batch: &Batch, index: u32, part: Part, schemas: &mut Schemas) -> Json {
    let Ok(Some(values)) = batch.get(index, part, "") else {
        return Json::Null;
    };
    let schema = match batch.schema_id(index, part).ok().flatten() {
        Some(id) => match schemas.get(&id) {
            Some(s) => Some(s.clone()),
            None => {
                let s = batch.schema(index, part, "").ok().flatten().map(Rc::new);
                if let Some(s) = &s {
                    schemas.insert(id, s.clone());
                }
                s
            }
        },
        None => None,
    };
    Converter {
        values: &values,
        schema: schema.as_deref().map(Vec::as_slice),
    }
    .json(0, schema.as_ref().map(|_| 0))
}

/// The batch as the JSON array the plugin posts.
fn batch_json(batch: &Batch) -> Json {
    let mut schemas = Schemas::new();
    let records = (0..batch.len())
        .map(|i| {
            let mut object = Map::new();
            object.insert("topic".into(), batch.topic(i).unwrap_or_default().into());
            object.insert("key".into(), part_json(batch, i, Part::Key, &mut schemas));
            object.insert(
                "value".into(),
                part_json(batch, i, Part::Value, &mut schemas),
            );
            let headers = batch
                .headers(i)
                .unwrap_or_default()
                .into_iter()
                .map(|h| {
                    let mut o = Map::new();
                    o.insert("key".into(), h.key.into());
                    o.insert("value".into(), h.value.map_or(Json::Null, Json::String));
                    Json::Object(o)
                })
                .collect();
            object.insert("headers".into(), Json::Array(headers));
            object.insert(
                "timestamp".into(),
                batch
                    .timestamp(i)
                    .ok()
                    .flatten()
                    .map_or(Json::Null, Json::from),
            );
            Json::Object(object)
        })
        .collect();
    Json::Array(records)
}

fn retriable(message: String) -> SinkError {
    SinkError::Retriable(message)
}

/// Sends one POST and classifies the answer.
fn post(settings: &Settings, body: &[u8]) -> Result<(), SinkError> {
    let target = format!("{}{}", settings.authority, settings.path);
    let mut header_list: Vec<(String, Vec<u8>)> = vec![
        ("content-type".into(), b"application/json".to_vec()),
        ("content-length".into(), body.len().to_string().into_bytes()),
    ];
    header_list.extend(
        settings
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into_bytes())),
    );
    let headers = Fields::from_list(&header_list)
        .map_err(|e| SinkError::Fatal(format!("invalid request header: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let invalid = |what: &str| SinkError::Fatal(format!("invalid {what} in setting 'url'"));
    request
        .set_method(&Method::Post)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(&settings.scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(&settings.authority))
        .map_err(|()| invalid("host"))?;
    request
        .set_path_with_query(Some(&settings.path))
        .map_err(|()| invalid("path"))?;
    let outgoing = request
        .body()
        .map_err(|()| SinkError::Fatal("the request body cannot be opened".into()))?;
    let options = RequestOptions::new();
    // The host may not support one of them; the defaults then apply.
    let _ = options.set_connect_timeout(Some(settings.timeout_ns));
    let _ = options.set_first_byte_timeout(Some(settings.timeout_ns));
    let future =
        outgoing_handler::handle(request, Some(options)).map_err(|e| classify(&target, e))?;
    // The response (or why there is none); when sending the body fails, this says why (a
    // request the host refused never reads its body).
    let answer = || {
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(response))) => Ok(response),
            Some(Ok(Err(e))) => Err(classify(&target, e)),
            Some(Err(())) | None => Err(retriable(format!("POST {target}: no response"))),
        }
    };
    let sent = (|| {
        let stream = outgoing
            .write()
            .map_err(|()| "the body stream cannot be opened".to_owned())?;
        // blocking-write-and-flush takes at most 4096 bytes per call.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("sending the body failed: {e:?}"))?;
        }
        Ok::<(), String>(())
    })();
    if let Err(why) = sent {
        answer()?;
        return Err(retriable(format!("POST {target}: {why}")));
    }
    if let Err(e) = OutgoingBody::finish(outgoing, None) {
        answer()?;
        return Err(classify(&target, e));
    }
    let response = answer()?;
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = read_body(&response);
    let message = format!("POST {target} answered {status}: {}", text.trim());
    if status == 408 || status == 429 || status >= 500 {
        Err(SinkError::Retriable(message))
    } else {
        Err(SinkError::Fatal(message))
    }
}

/// The start of a response body (for error messages).
fn read_body(response: &wasip2::http::types::IncomingResponse) -> String {
    let Ok(body) = response.consume() else {
        return String::new();
    };
    let Ok(stream) = body.stream() else {
        return String::new();
    };
    let mut bytes = Vec::new();
    while bytes.len() < 512 {
        match stream.blocking_read(512) {
            Ok(chunk) if !chunk.is_empty() => bytes.extend(chunk),
            _ => break,
        }
    }
    bytes.truncate(512);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A transport error: retriable unless the host refused the request or it is malformed.
fn classify(target: &str, error: ErrorCode) -> SinkError {
    match error {
        ErrorCode::HttpRequestDenied => SinkError::Fatal(format!(
            "POST {target}: the host refused the request; grant the authority with sink.config.plugin.allow.http=host:port"
        )),
        ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpProtocolError => {
            SinkError::Fatal(format!("POST {target}: invalid request ({error:?})"))
        }
        other => SinkError::Retriable(format!("POST {target}: {other:?}")),
    }
}

struct HttpSink;

impl config_schema::Guest for HttpSink {
    fn describe() -> Option<Vec<ConfigKey>> {
        Some(definition())
    }
}

impl Guest for HttpSink {
    fn configure(config: Vec<(String, String)>) -> Result<(), String> {
        let settings = configure(config)?;
        SETTINGS.with(|s| *s.borrow_mut() = Some(settings));
        Ok(())
    }

    fn write(records: &Batch) -> Result<(), SinkError> {
        if records.len() == 0 {
            return Ok(());
        }
        let body = serde_json::to_vec(&batch_json(records))
            .map_err(|e| SinkError::Fatal(format!("cannot encode the batch: {e}")))?;
        SETTINGS.with(|s| match s.borrow().as_ref() {
            Some(settings) => post(settings, &body),
            None => Err(SinkError::Fatal("write before configure".into())),
        })
    }

    fn flush() -> Result<(), SinkError> {
        // Every write is one synchronous POST: an acknowledged batch is already delivered.
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(HttpSink with_types_in bindings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let (scheme, authority, path) = parse_url("http://127.0.0.1:8080/ingest?x=1").unwrap();
        assert!(matches!(scheme, Scheme::Http));
        assert_eq!(authority, "127.0.0.1:8080");
        assert_eq!(path, "/ingest?x=1");
        let (_, authority, path) = parse_url("https://example.com").unwrap();
        assert_eq!((authority.as_str(), path.as_str()), ("example.com", "/"));
        assert!(parse_url("ftp://x").unwrap_err().contains("http://"));
        assert!(parse_url("http:///x").unwrap_err().contains("no host"));
    }

    #[test]
    fn settings_name_what_is_wrong() {
        let err = configure(vec![]).err().unwrap();
        assert!(err.contains("'url'"), "{err}");
        let err = configure(vec![
            ("url".into(), "http://h/".into()),
            ("timeout.ms".into(), "soon".into()),
        ])
        .err()
        .unwrap();
        assert!(err.contains("timeout.ms"), "{err}");
    }
}

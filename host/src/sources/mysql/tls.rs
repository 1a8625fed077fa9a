//! TLS to MySQL and MariaDB: `database.ssl.mode` with Debezium's trust and key stores, as
//! PEM files, on every connection (mysql_async over rustls).
//!
//! - `disabled`: plain text only.
//! - `preferred` (the default, as in Debezium): TLS without checking the certificate; when
//!   the server does not offer TLS, plain text with a warning naming the setting.
//! - `required`: TLS without checking the certificate.
//! - `verify_ca`: TLS; the certificate's chain is checked against `database.ssl.truststore`
//!   (the well-known public CAs without one).
//! - `verify_identity`: as `verify_ca`, and the certificate must be for `database.hostname`.
//!
//! `database.ssl.truststore` is a PEM file of CA certificates and `database.ssl.keystore` a
//! PEM file with the client's certificate and its unencrypted key. Java stores (JKS, and
//! PKCS12) are refused with the commands that convert them. The `.password` settings are
//! read and not needed: PEM files carry none.

use std::path::{Path, PathBuf};

use mysql_async::{ClientIdentity, Conn, DriverError, OptsBuilder, SslOpts};

use super::config::MySqlConfig;
use super::error::MySqlError;
use super::keys;
use crate::config::{ConfigError, Key, Properties};
use crate::sources::tls;

/// `database.ssl.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// How the connections to the server use TLS.
#[derive(Debug, Clone)]
pub struct MySqlTls {
    pub mode: SslMode,
    /// `database.ssl.truststore`: a PEM file of CA certificates.
    pub truststore: Option<PathBuf>,
    /// `database.ssl.keystore`: a PEM file with the client certificate and key.
    pub keystore: Option<PathBuf>,
}

#[derive(Clone, Copy)]
enum Store {
    Trust,
    Key,
}

/// The JKS magic number.
const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

/// Checks a store file: PEM with what the store needs, or a clear error on a Java store.
fn read_store(props: &Properties, key: &Key, store: Store) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = props.value(key)? else {
        return Ok(None);
    };
    let key = key.name.as_ref();
    let invalid = |problem: String| ConfigError::Invalid {
        key: key.into(),
        value: path.into(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| invalid(format!("cannot read the file: {e}")))?;
    let (pem, convert) = match store {
        Store::Trust => ("ca.pem", "-nokeys -out ca.pem"),
        Store::Key => ("client.pem", "-nodes -out client.pem"),
    };
    if bytes.starts_with(&JKS_MAGIC) {
        return Err(invalid(format!(
            "this is a Java KeyStore (JKS); Tidemark reads PEM files. Convert it: keytool -importkeystore -srckeystore {path} -srcstoretype JKS -destkeystore store.p12 -deststoretype PKCS12, then openssl pkcs12 -in store.p12 {convert}, and set {key} to {pem}"
        )));
    }
    if !tls::contains(&bytes, b"-----BEGIN ") {
        return Err(invalid(format!(
            "not a PEM file (a PKCS12 store?); Tidemark reads PEM files. Convert a PKCS12 store: openssl pkcs12 -in {path} {convert}, and set {key} to {pem}"
        )));
    }
    let path_ref = Path::new(path);
    match store {
        Store::Trust => tls::read_roots(path_ref).map(drop),
        Store::Key => tls::read_certificates(path_ref)
            .and_then(|_| tls::read_private_key(path_ref))
            .map(drop),
    }
    .map_err(invalid)?;
    Ok(Some(path.into()))
}

impl MySqlTls {
    /// Reads the TLS settings and checks the files they name.
    pub fn from_properties(props: &Properties) -> Result<MySqlTls, ConfigError> {
        let mode = match props.choose(&keys::SSL_MODE)?.as_str() {
            "disabled" => SslMode::Disabled,
            "preferred" => SslMode::Preferred,
            "required" => SslMode::Required,
            "verify_ca" => SslMode::VerifyCa,
            _ => SslMode::VerifyIdentity,
        };
        Ok(MySqlTls {
            mode,
            truststore: read_store(props, &keys::SSL_TRUSTSTORE, Store::Trust)?,
            keystore: read_store(props, &keys::SSL_KEYSTORE, Store::Key)?,
        })
    }

    fn setting(&self) -> &'static str {
        match self.mode {
            SslMode::Disabled => "database.ssl.mode=disabled",
            SslMode::Preferred => "database.ssl.mode=preferred",
            SslMode::Required => "database.ssl.mode=required",
            SslMode::VerifyCa => "database.ssl.mode=verify_ca",
            SslMode::VerifyIdentity => "database.ssl.mode=verify_identity",
        }
    }

    /// The driver's TLS options; `name` is the name the certificate must be for instead of
    /// `database.hostname`.
    fn ssl_opts(&self, name: Option<String>) -> SslOpts {
        let mut opts = SslOpts::default();
        if let Some(truststore) = &self.truststore {
            opts = opts
                .with_root_certs(vec![truststore.clone().into()])
                .with_disable_built_in_roots(true);
        }
        if let Some(keystore) = &self.keystore {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                keystore.clone().into(),
                keystore.clone().into(),
            )));
        }
        match self.mode {
            SslMode::Preferred | SslMode::Required => opts.with_danger_accept_invalid_certs(true),
            SslMode::VerifyCa => opts
                .with_danger_skip_domain_validation(true)
                .with_danger_tls_hostname_override(name),
            _ => opts,
        }
    }

    fn error(&self, config: &MySqlConfig, reason: String) -> MySqlError {
        MySqlError::Tls {
            host: config.hostname.clone(),
            port: config.port,
            reason: format!("{}: {reason}", self.setting()),
        }
    }

    /// Opens a connection, as `database.ssl.mode` asks.
    pub async fn connect(
        &self,
        config: &MySqlConfig,
        opts: OptsBuilder,
    ) -> Result<Conn, MySqlError> {
        tls::install_default_provider();
        let encrypted =
            |name: Option<String>| Conn::new(opts.clone().ssl_opts(self.ssl_opts(name)));
        match self.mode {
            SslMode::Disabled => Conn::new(opts.clone())
                .await
                .map_err(|e| self.plain_error(config, e)),
            SslMode::Preferred => match encrypted(None).await {
                Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => {
                    tracing::warn!(
                        "database.ssl.mode=preferred: the server at {}:{} does not offer TLS, so the connection is in PLAIN TEXT; set database.ssl.mode=disabled to connect in plain text knowingly, or required/verify_identity to refuse it",
                        config.hostname,
                        config.port
                    );
                    Conn::new(opts.clone())
                        .await
                        .map_err(|e| self.plain_error(config, e))
                }
                other => other.map_err(|e| self.tls_error(config, e)),
            },
            SslMode::VerifyCa => {
                let error = match encrypted(None).await {
                    Ok(conn) => return Ok(conn),
                    Err(error) => error,
                };
                // mysql_async's own "skip the name" check misses rustls's wrong-name error;
                // the chain was good, so connect again naming a name the certificate holds
                // (its chain is checked again).
                let name = match tls::find_rustls_error(&error) {
                    Some(rustls::Error::InvalidCertificate(cert)) if tls::is_wrong_name(cert) => {
                        tls::certificate_name(cert)
                    }
                    _ => None,
                };
                match name {
                    Some(name) => encrypted(Some(name))
                        .await
                        .map_err(|e| self.tls_error(config, e)),
                    None => Err(self.tls_error(config, error)),
                }
            }
            SslMode::Required | SslMode::VerifyIdentity => {
                encrypted(None).await.map_err(|e| self.tls_error(config, e))
            }
        }
    }

    /// A failure of a TLS connection: the handshake's, a server without TLS, or what any
    /// connection may meet.
    fn tls_error(&self, config: &MySqlConfig, error: mysql_async::Error) -> MySqlError {
        if let Some(handshake) = tls::find_rustls_error(&error) {
            return self.error(config, tls::explain(handshake, "database.ssl.truststore"));
        }
        match error {
            mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => self.error(
                config,
                "the server does not offer TLS (have_ssl is not YES: it has no ssl_cert and ssl_key): enable TLS on the server, or set database.ssl.mode=preferred or disabled to connect in plain text".into(),
            ),
            mysql_async::Error::Driver(DriverError::NoKeyFound) => self.error(
                config,
                "database.ssl.keystore holds no private key".into(),
            ),
            other => connect_error(config, other),
        }
    }

    /// A failure of a plain-text connection: a server refusing plain text says "access
    /// denied" (a user with REQUIRE SSL) or names secure transport.
    fn plain_error(&self, config: &MySqlConfig, error: mysql_async::Error) -> MySqlError {
        match &error {
            mysql_async::Error::Server(server)
                if self.mode == SslMode::Disabled
                    && (server.code == 1045 || server.message.contains("secure transport")) =>
            {
                self.error(
                    config,
                    format!(
                        "the server refused a connection without TLS ({}): if the user or the server requires TLS (REQUIRE SSL, require_secure_transport), set database.ssl.mode to verify_identity (with database.ssl.truststore), verify_ca or required; otherwise check database.user and database.password",
                        server.message
                    ),
                )
            }
            _ => connect_error(config, error),
        }
    }
}

fn connect_error(config: &MySqlConfig, error: mysql_async::Error) -> MySqlError {
    MySqlError::Connect {
        host: config.hostname.clone(),
        port: config.port,
        user: config.user.clone(),
        retriable: super::error::is_transient(&error),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: Vec<(&str, String)>) -> Result<MySqlTls, ConfigError> {
        MySqlTls::from_properties(&Properties::from_pairs(pairs))
    }

    #[test]
    fn java_stores_are_refused_with_how_to_convert_them() {
        let dir = tempfile::tempdir().unwrap();
        let jks = dir.path().join("truststore.jks");
        std::fs::write(&jks, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).unwrap();
        let jks = jks.display().to_string();
        let err = read(vec![("database.ssl.truststore", jks.clone())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'database.ssl.truststore'"), "{err}");
        assert!(err.contains("Java KeyStore (JKS)"), "{err}");
        assert!(err.contains("keytool -importkeystore"), "{err}");
        assert!(err.contains("openssl pkcs12"), "{err}");
        let err = read(vec![("database.ssl.keystore", jks)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("-nodes -out client.pem"), "{err}");
        let p12 = dir.path().join("store.p12");
        std::fs::write(&p12, [0x30, 0x82, 0x0a, 0x00]).unwrap();
        let err = read(vec![("database.ssl.truststore", p12.display().to_string())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PKCS12") && err.contains("openssl pkcs12"),
            "{err}"
        );
    }

    #[test]
    fn modes_are_debeziums() {
        assert_eq!(read(vec![]).unwrap().mode, SslMode::Preferred);
        let err = read(vec![("database.ssl.mode", "verify-full".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'database.ssl.mode'"), "{err}");
    }
}

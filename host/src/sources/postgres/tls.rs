//! TLS to Postgres: `database.sslmode` with `database.sslrootcert`, `database.sslcert` and
//! `database.sslkey`, as libpq reads them, on the management connections (tokio-postgres
//! over rustls, through tokio-postgres-rustls) and on the replication connection
//! (pgwire-replication's rustls).
//!
//! - `disable`: plain text only.
//! - `allow`: plain text; when the server refuses it, TLS without checking the certificate.
//! - `prefer` (the default, as in Debezium and libpq): TLS without checking the certificate;
//!   when the server does not offer TLS, plain text with a warning naming the setting.
//! - `require`: TLS without checking the certificate; with `database.sslrootcert` set it is
//!   `verify-ca`, as in libpq.
//! - `verify-ca`: TLS; the certificate's chain is checked against `database.sslrootcert`.
//! - `verify-full`: as `verify-ca`, and the certificate must be for `database.hostname`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pgwire_replication::{PgWireError, ReplicationClient, ReplicationConfig, TlsConfig};
use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::catalog::connect_error;
use super::config::PostgresConfig;
use super::error::PostgresError;
use super::keys;
use crate::config::{ConfigError, Properties};
use crate::sources::tls::{self, AnyCertificate, ChainOnly};

/// `database.sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// How the connections to Postgres use TLS.
#[derive(Debug, Clone)]
pub struct PgTls {
    /// The mode in effect (`require` with a root certificate is `verify-ca`).
    pub mode: SslMode,
    /// `database.sslmode=<value>` as written, for messages.
    setting: String,
    /// The management connections' TLS configuration.
    rustls: Arc<ClientConfig>,
    /// The replication connection's TLS configuration, before its mode is chosen.
    replication: TlsConfig,
    /// With `verify-ca`, a name the server's certificate holds, seen by the management
    /// connection: pgwire-replication checks names, so the replication connection asks for
    /// one the certificate has (its chain is checked all the same).
    seen_name: Arc<Mutex<Option<String>>>,
    /// With `prefer`, the server refused TLS once: later connections go to plain text at
    /// once, without a refused attempt (and its warning) each time.
    refused_tls: Arc<AtomicBool>,
}

fn invalid(key: &str, value: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        problem: problem.into(),
    }
}

impl PgTls {
    /// Reads the TLS settings and the files they name.
    pub fn from_properties(props: &Properties) -> Result<PgTls, ConfigError> {
        let written = props.choose(&keys::SSL_MODE)?;
        let root = props.value(&keys::SSL_ROOT_CERT)?;
        let mode = match (written.as_str(), root) {
            ("disable", _) => SslMode::Disable,
            ("allow", _) => SslMode::Allow,
            ("prefer", _) => SslMode::Prefer,
            ("require", None) => SslMode::Require,
            ("require" | "verify-ca", _) => SslMode::VerifyCa,
            _ => SslMode::VerifyFull,
        };
        let provider = tls::provider();
        let seen_name = Arc::new(Mutex::new(None));
        let mut replication = TlsConfig::disabled();
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = match root {
                    None => {
                        return Err(invalid(
                            "database.sslmode",
                            &written,
                            "verify-ca and verify-full check the server's certificate against database.sslrootcert: set it to the PEM file of the CA that signed the server's certificate, or to 'system' for the well-known public CAs",
                        ));
                    }
                    Some("system") => tls::public_roots(),
                    Some(path) => {
                        replication.ca_pem_path = Some(path.into());
                        tls::read_roots(Path::new(path))
                            .map_err(|p| invalid("database.sslrootcert", path, p))?
                    }
                };
                if mode == SslMode::VerifyCa {
                    Arc::new(
                        ChainOnly::new(roots, provider.clone(), seen_name.clone())
                            .map_err(|p| invalid("database.sslrootcert", root.unwrap_or(""), p))?,
                    )
                } else {
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| {
                            invalid("database.sslrootcert", root.unwrap_or(""), e.to_string())
                        })?
                }
            }
            _ => Arc::new(AnyCertificate(provider.clone())),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("database.sslmode", &written, e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let rustls = match (props.value(&keys::SSL_CERT)?, props.value(&keys::SSL_KEY)?) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let certs = tls::read_certificates(Path::new(cert))
                    .map_err(|p| invalid("database.sslcert", cert, p))?;
                let private = tls::read_private_key(Path::new(key))
                    .map_err(|p| invalid("database.sslkey", key, p))?;
                replication = replication.with_client_cert(cert, key);
                builder.with_client_auth_cert(certs, private).map_err(|e| {
                    invalid(
                        "database.sslkey",
                        key,
                        format!("does not fit database.sslcert: {e}"),
                    )
                })?
            }
            (Some(cert), None) => {
                return Err(invalid(
                    "database.sslcert",
                    cert,
                    "a client certificate needs its private key: set database.sslkey too",
                ));
            }
            (None, Some(key)) => {
                return Err(invalid(
                    "database.sslkey",
                    key,
                    "set database.sslcert to the client certificate of this key",
                ));
            }
        };
        Ok(PgTls {
            mode,
            setting: format!("database.sslmode={written}"),
            rustls: Arc::new(rustls),
            replication,
            seen_name,
            refused_tls: Arc::new(AtomicBool::new(false)),
        })
    }

    fn error(&self, config: &PostgresConfig, reason: String) -> PostgresError {
        PostgresError::Tls {
            host: config.hostname.clone(),
            port: config.port,
            reason: format!("{}: {reason}", self.setting),
        }
    }

    /// Opens a management connection, as `database.sslmode` asks.
    pub async fn connect(
        &self,
        config: &PostgresConfig,
        pg: &tokio_postgres::Config,
    ) -> Result<Client, PostgresError> {
        match self.mode {
            SslMode::Disable => plain(pg).await.map_err(|e| self.plain_error(config, &e)),
            SslMode::Allow => match plain(pg).await {
                Err(e) if e.as_db_error().is_some() => {
                    tracing::info!(
                        "database.sslmode=allow: the server refused a plain-text connection ({}); connecting with TLS",
                        super::error::describe(&e)
                    );
                    self.encrypted(pg)
                        .await
                        .map_err(|e| self.tls_error(config, &e))
                }
                other => other.map_err(|e| self.plain_error(config, &e)),
            },
            SslMode::Prefer if self.refused_tls.load(Ordering::Relaxed) => {
                plain(pg).await.map_err(|e| self.plain_error(config, &e))
            }
            SslMode::Prefer => match self.encrypted(pg).await {
                Err(e) if refused_tls(&e) => {
                    self.refused_tls.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        "database.sslmode=prefer: the server at {}:{} does not accept TLS, so the connection is in PLAIN TEXT; set database.sslmode=disable to connect in plain text knowingly, or require/verify-full to refuse it",
                        config.hostname,
                        config.port
                    );
                    plain(pg).await.map_err(|e| self.plain_error(config, &e))
                }
                other => other.map_err(|e| self.tls_error(config, &e)),
            },
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => self
                .encrypted(pg)
                .await
                .map_err(|e| self.tls_error(config, &e)),
        }
    }

    async fn encrypted(
        &self,
        pg: &tokio_postgres::Config,
    ) -> Result<Client, tokio_postgres::Error> {
        let mut pg = pg.clone();
        pg.ssl_mode(tokio_postgres::config::SslMode::Require);
        let (client, connection) = pg
            .connect(MakeRustlsConnect::new(ClientConfig::clone(&self.rustls)))
            .await?;
        spawn_connection(connection);
        Ok(client)
    }

    /// A failure of a TLS connection: the handshake's, the server's refusal of TLS, or
    /// what any connection may meet.
    fn tls_error(&self, config: &PostgresConfig, error: &tokio_postgres::Error) -> PostgresError {
        if let Some(handshake) = tls::find_rustls_error(error) {
            self.error(config, tls::explain(handshake, "database.sslrootcert"))
        } else if refused_tls(error) {
            self.error(config, SERVER_WITHOUT_TLS.into())
        } else {
            connect_error(config, error)
        }
    }

    /// A failure of a plain-text connection: the server's refusal of plain text, or what
    /// any connection may meet.
    fn plain_error(&self, config: &PostgresConfig, error: &tokio_postgres::Error) -> PostgresError {
        let refused = error.as_db_error().is_some_and(|db| {
            *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("no encryption")
        });
        if refused {
            self.error(config, plain_refused(&super::error::describe(error)))
        } else {
            connect_error(config, error)
        }
    }

    /// Opens the replication connection, as `database.sslmode` asks; `other` classifies
    /// failures that are not about TLS.
    pub async fn connect_replication(
        &self,
        config: &PostgresConfig,
        replication: ReplicationConfig,
        other: impl Fn(PgWireError) -> PostgresError,
    ) -> Result<ReplicationClient, PostgresError> {
        let attempt = |tls: TlsConfig| {
            let replication = replication.clone().with_tls(tls);
            async move {
                let mut client = ReplicationClient::connect_gated(replication).await?;
                // The session connects in the background: a first command waits for it, so
                // failures to connect (TLS among them) show here.
                client.identify_system().await?;
                Ok::<_, PgWireError>(client)
            }
        };
        let plain_error = |e: PgWireError| {
            if e.to_string().contains("no encryption") {
                self.error(config, plain_refused(&e.to_string()))
            } else {
                other(e)
            }
        };
        let tls_error = |e: PgWireError| match e {
            PgWireError::Tls(reason) if reason.contains("SSLRequest rejected") => {
                self.error(config, SERVER_WITHOUT_TLS.into())
            }
            PgWireError::Tls(reason) => self.error(
                config,
                format!(
                    "{reason} (check database.sslrootcert, database.sslcert and database.sslkey)"
                ),
            ),
            e => other(e),
        };
        let encrypt_only = TlsConfig {
            mode: pgwire_replication::SslMode::Require,
            ..self.replication.clone()
        };
        match self.mode {
            SslMode::Disable => attempt(TlsConfig::disabled()).await.map_err(plain_error),
            SslMode::Allow => match attempt(TlsConfig::disabled()).await {
                Err(e) if !e.is_io() && !matches!(e, PgWireError::Tls(_)) => {
                    tracing::info!(
                        "database.sslmode=allow: the server refused a plain-text replication connection ({e}); connecting with TLS"
                    );
                    attempt(encrypt_only).await.map_err(tls_error)
                }
                other => other.map_err(plain_error),
            },
            // The management connection, opened first, found that the server refuses TLS
            // (and said so).
            SslMode::Prefer if self.refused_tls.load(Ordering::Relaxed) => {
                attempt(TlsConfig::disabled()).await.map_err(plain_error)
            }
            SslMode::Prefer => match attempt(encrypt_only).await {
                Err(PgWireError::Tls(reason)) if reason.contains("SSLRequest rejected") => {
                    self.refused_tls.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        "database.sslmode=prefer: the server at {}:{} does not accept TLS, so the replication connection is in PLAIN TEXT; set database.sslmode=disable to connect in plain text knowingly, or require/verify-full to refuse it",
                        config.hostname,
                        config.port
                    );
                    attempt(TlsConfig::disabled()).await.map_err(plain_error)
                }
                other => other.map_err(tls_error),
            },
            SslMode::Require => attempt(encrypt_only).await.map_err(tls_error),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                // The name checked: the host's, or with verify-ca one the certificate holds.
                // Naming it also lets verify-full check a certificate's IP address.
                let seen = self.seen_name.lock().ok().and_then(|s| s.clone());
                let name = match self.mode {
                    SslMode::VerifyCa => seen.unwrap_or_else(|| config.hostname.clone()),
                    _ => config.hostname.clone(),
                };
                let verify = TlsConfig {
                    mode: pgwire_replication::SslMode::VerifyFull,
                    sni_hostname: Some(name),
                    ..self.replication.clone()
                };
                attempt(verify).await.map_err(tls_error)
            }
        }
    }
}

const SERVER_WITHOUT_TLS: &str = "the server does not accept TLS connections (ssl=off in its postgresql.conf): enable TLS on the server, or set database.sslmode=prefer or disable to connect in plain text";

fn plain_refused(reason: &str) -> String {
    format!(
        "the server refuses connections without TLS ({reason}): set database.sslmode=verify-full (with database.sslrootcert), verify-ca or require"
    )
}

/// Whether tokio-postgres gave up because the server answered the TLS request with "no".
fn refused_tls(error: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if inner.to_string() == "server does not support TLS" {
            return true;
        }
        source = inner.source();
    }
    false
}

async fn plain(pg: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = pg.connect(tokio_postgres::NoTls).await?;
    spawn_connection(connection);
    Ok(client)
}

fn spawn_connection<F>(connection: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "management connection closed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&'static str, &'static str)]) -> Properties {
        Properties::from_pairs(extra.to_vec())
    }

    #[test]
    fn modes_follow_libpq() {
        let tls = PgTls::from_properties(&props(&[])).unwrap();
        assert_eq!(tls.mode, SslMode::Prefer);
        let tls = PgTls::from_properties(&props(&[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", "system"),
        ]))
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        // libpq: require with a root certificate checks the chain.
        let tls = PgTls::from_properties(&props(&[
            ("database.sslmode", "require"),
            ("database.sslrootcert", "system"),
        ]))
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyCa);
    }

    #[test]
    fn unusable_settings_fail_naming_the_property() {
        let err = PgTls::from_properties(&props(&[("database.sslmode", "verify-full")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.sslrootcert"), "{err}");
        let err = PgTls::from_properties(&props(&[("database.sslmode", "secure")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'database.sslmode'"), "{err}");
        let err = PgTls::from_properties(&props(&[
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", "/nonexistent/ca.pem"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("'database.sslrootcert'") && err.contains("cannot read"),
            "{err}"
        );
        let err = PgTls::from_properties(&props(&[("database.sslcert", "/c.pem")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.sslkey"), "{err}");
    }
}

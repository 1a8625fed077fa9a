//! Kafka's Java security properties (`security.protocol`, `ssl.*`, `sasl.*`) as Kafka
//! Connect users write them, translated into librdkafka's: `sasl.jaas.config` into
//! `sasl.username`/`sasl.password`, trust stores into `ssl.ca.location`/`ssl.ca.pem`, key
//! stores into `ssl.keystore.*` (PKCS12) or `ssl.certificate.*`/`ssl.key.*` (PEM). Java-only
//! properties either map or are an error naming the property; librdkafka's own names pass
//! through (librdkafka checks them). The failures librdkafka reports once connecting
//! (authentication, TLS handshake) are told apart from outages by [`fatal_problem`].

use std::collections::BTreeMap;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::jaas;
use super::stores::{self, Declared, Readable};
use crate::config::ConfigError;

/// Whether a Java client property belongs to the security settings this module translates.
pub fn is_security_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("ssl.") || key.starts_with("sasl.")
}

/// A property's value and the key the user wrote it under (with its prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub key: String,
    pub value: String,
}

/// One librdkafka property and the property it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub key: String,
    pub value: String,
    pub origin: String,
}

/// One client's Java security properties, later layers overriding earlier ones key by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JavaSecurity {
    entries: BTreeMap<String, Written>,
}

/// Java-only properties and what their values may be: `Ok(())` when the value needs nothing
/// from librdkafka (it is what librdkafka does anyway), else why it cannot be honoured.
fn java_only(key: &str, value: &str) -> Option<Result<(), String>> {
    let v = value.trim();
    let remove = |why: &str| Err(format!("{why}; remove this property"));
    Some(match key {
        // Java's SSLContext protocol; the versions actually offered are
        // ssl.enabled.protocols' (TLS 1.2 and 1.3 by default), as with OpenSSL.
        "ssl.protocol" => match v {
            "TLS" | "TLSv1.2" | "TLSv1.3" => Ok(()),
            _ => remove("librdkafka's OpenSSL negotiates TLS 1.2 or 1.3 only"),
        },
        "ssl.enabled.protocols" => {
            let list: Vec<&str> = v.split(',').map(str::trim).collect();
            if list.contains(&"TLSv1.2") && list.contains(&"TLSv1.3") {
                Ok(())
            } else {
                remove("librdkafka offers TLS 1.2 and 1.3 and cannot be limited to fewer versions")
            }
        }
        "ssl.keymanager.algorithm" => match v {
            "" | "SunX509" | "PKIX" => Ok(()),
            _ => remove("Java's key manager factories have no counterpart in librdkafka"),
        },
        "ssl.trustmanager.algorithm" => match v {
            "" | "PKIX" | "SunX509" => Ok(()),
            _ => remove("Java's trust manager factories have no counterpart in librdkafka"),
        },
        "ssl.provider" | "ssl.secure.random.implementation" | "ssl.engine.factory.class" => {
            if v.is_empty() {
                Ok(())
            } else {
                remove("a Java security provider or class has no counterpart in librdkafka")
            }
        }
        "ssl.cipher.suites"
            if v.split(',')
                .any(|s| s.trim().starts_with("TLS_") || s.trim().starts_with("SSL_")) =>
        {
            remove(
                "these are Java's (IANA) cipher suite names; librdkafka takes OpenSSL's cipher list \
                 syntax (e.g. ECDHE-RSA-AES256-GCM-SHA384) under this key",
            )
        }
        "sasl.login.class"
        | "sasl.login.callback.handler.class"
        | "sasl.client.callback.handler.class" => {
            remove("Java login and callback classes have no counterpart in librdkafka")
        }
        "sasl.kerberos.ticket.renew.window.factor" | "sasl.kerberos.ticket.renew.jitter" => {
            remove("Kerberos (GSSAPI) is not supported by this build")
        }
        _ if key.starts_with("sasl.login.") || key.starts_with("sasl.oauthbearer.") => {
            remove("it configures OAUTHBEARER logins, which are not supported")
        }
        _ => return None,
    })
}

/// The properties handled together below rather than one by one.
const STORE_KEYS: &[&str] = &[
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "ssl.truststore.certificates",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
];

/// The values a user wrote that hold secrets are not repeated in errors.
fn shown(key: &str, value: &str) -> String {
    if key.contains("password") || key.contains("jaas") || key.ends_with("keystore.key") {
        "(hidden)".into()
    } else {
        value.into()
    }
}

/// The librdkafka properties being built, each with the property it came from.
#[derive(Default)]
struct Out {
    properties: Vec<Translated>,
}

impl Out {
    fn set(
        &mut self,
        key: &str,
        value: impl Into<String>,
        origin: &str,
    ) -> Result<(), ConfigError> {
        if let Some(other) = self.properties.iter().find(|p| p.key == key) {
            return Err(ConfigError::Invalid {
                key: origin.into(),
                value: shown(origin, ""),
                problem: format!(
                    "it sets librdkafka's {key}, which {} sets too: keep one of them",
                    other.origin
                ),
            });
        }
        self.properties.push(Translated {
            key: key.into(),
            value: value.into(),
            origin: origin.into(),
        });
        Ok(())
    }
}

impl JavaSecurity {
    /// Sets `key` (a Java name without prefix), written as `written`.
    pub fn set(&mut self, key: &str, written: String, value: String) {
        self.entries.insert(
            key.into(),
            Written {
                key: written,
                value,
            },
        );
    }

    fn get(&self, key: &str) -> Option<&Written> {
        self.entries.get(key)
    }

    /// A set, non-blank value.
    fn value(&self, key: &str) -> Option<&str> {
        self.get(key)
            .map(|w| w.value.trim())
            .filter(|v| !v.is_empty())
    }

    /// The key as written; for a key not set, the Java name under the prefix the other keys
    /// were written with.
    fn name(&self, key: &str) -> String {
        if let Some(w) = self.get(key) {
            return w.key.clone();
        }
        let prefix = self
            .entries
            .iter()
            .find_map(|(k, w)| w.key.strip_suffix(k.as_str()))
            .unwrap_or("");
        format!("{prefix}{key}")
    }

    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        let name = self.name(key);
        ConfigError::Invalid {
            value: shown(&name, self.get(key).map(|w| w.value.as_str()).unwrap_or("")),
            key: name,
            problem: problem.into(),
        }
    }

    /// librdkafka's properties for these Java properties, checked (files read, passwords
    /// tried) without connecting.
    pub fn translate(&self) -> Result<Vec<Translated>, ConfigError> {
        let mut out = Out::default();
        let protocol = self
            .value("security.protocol")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&protocol.as_str()) {
            return Err(self.invalid(
                "security.protocol",
                "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            ));
        }
        let tls = protocol.ends_with("SSL");
        let sasl = protocol.starts_with("SASL");
        if self.get("security.protocol").is_some() {
            out.set(
                "security.protocol",
                protocol.to_ascii_lowercase(),
                &self.name("security.protocol"),
            )?;
        }
        for (key, written) in &self.entries {
            if key == "security.protocol"
                || STORE_KEYS.contains(&key.as_str())
                || key == "sasl.jaas.config"
                || key == "sasl.mechanism"
            {
                continue;
            }
            if let Some(verdict) = java_only(key, &written.value) {
                verdict.map_err(|problem| self.invalid(key, problem))?;
                continue;
            }
            if (key.starts_with("ssl.") && !tls) || (key.starts_with("sasl.") && !sasl) {
                tracing::warn!(
                    property = %written.key,
                    "not used: security.protocol is {protocol}"
                );
                continue;
            }
            // librdkafka's own names (ssl.ca.location, sasl.username, …): librdkafka
            // checks them, and refuses names it does not know.
            out.set(key, written.value.clone(), &written.key)?;
        }
        if sasl {
            self.sasl(&mut out)?;
        } else {
            self.unused(&["sasl.mechanism", "sasl.jaas.config"], &protocol);
        }
        if tls {
            self.endpoint_identification(&mut out)?;
            self.truststore(&mut out)?;
            self.keystore(&mut out)?;
        } else {
            self.unused(STORE_KEYS, &protocol);
        }
        Ok(out.properties)
    }

    fn unused(&self, keys: &[&str], protocol: &str) {
        for key in keys {
            if let Some(w) = self.get(key) {
                tracing::warn!(property = %w.key, "not used: security.protocol is {protocol}");
            }
        }
    }

    fn sasl(&self, out: &mut Out) -> Result<(), ConfigError> {
        let Some(mechanism) = self.value("sasl.mechanism") else {
            return Err(ConfigError::Missing {
                key: self.name("sasl.mechanism"),
                hint: "SASL without sasl.mechanism is Kafka's default GSSAPI (Kerberos), which \
                       this build does not support: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                    .into(),
            });
        };
        let mechanism = mechanism.to_ascii_uppercase();
        match mechanism.as_str() {
            "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => {}
            "GSSAPI" => {
                return Err(self.invalid(
                    "sasl.mechanism",
                    "Kerberos (GSSAPI) needs Cyrus SASL, which this build's static librdkafka \
                     leaves out: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                ));
            }
            _ => {
                return Err(self.invalid(
                    "sasl.mechanism",
                    "expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                ));
            }
        }
        out.set("sasl.mechanism", mechanism, &self.name("sasl.mechanism"))?;
        match self.get("sasl.jaas.config") {
            Some(jaas) => {
                let credentials = jaas::credentials(&jaas.value)
                    .map_err(|p| self.invalid("sasl.jaas.config", p))?;
                out.set("sasl.username", credentials.username, &jaas.key)?;
                out.set("sasl.password", credentials.password, &jaas.key)?;
            }
            None if out.properties.iter().any(|p| p.key == "sasl.username") => {}
            None => {
                return Err(ConfigError::Missing {
                    key: self.name("sasl.jaas.config"),
                    hint: format!(
                        "SASL needs the user and password, as in \
                         {}=\"{} required username=\\\"…\\\" password=\\\"…\\\";\"",
                        self.name("sasl.jaas.config"),
                        jaas::SCRAM_MODULE
                    ),
                });
            }
        }
        Ok(())
    }

    fn endpoint_identification(&self, out: &mut Out) -> Result<(), ConfigError> {
        let key = "ssl.endpoint.identification.algorithm";
        let value = match self.get(key).map(|w| w.value.trim().to_ascii_lowercase()) {
            // Java's default: the broker's certificate must name the host connected to.
            None => return out.set(key, "https", key),
            Some(v) if v == "https" => "https",
            Some(v) if v.is_empty() || v == "none" => "none",
            Some(_) => {
                return Err(
                    self.invalid(key, "expected https, or empty to skip the host name check")
                );
            }
        };
        out.set(key, value, &self.name(key))
    }

    fn truststore(&self, out: &mut Out) -> Result<(), ConfigError> {
        let declared = Declared::parse(self.value("ssl.truststore.type"))
            .map_err(|p| self.invalid("ssl.truststore.type", p))?;
        let password = self.value("ssl.truststore.password");
        let password_name = self.name("ssl.truststore.password");
        if let Some(pem) = self.value("ssl.truststore.certificates") {
            if self.value("ssl.truststore.location").is_some() {
                return Err(self.invalid(
                    "ssl.truststore.certificates",
                    format!(
                        "set it or {}, not both",
                        self.name("ssl.truststore.location")
                    ),
                ));
            }
            if !matches!(declared, Declared::Unset | Declared::Pem) {
                return Err(self.invalid(
                    "ssl.truststore.type",
                    "inline certificates are PEM: set PEM",
                ));
            }
            stores::pem_certificates(pem.as_bytes(), "the value")
                .map_err(|p| self.invalid("ssl.truststore.certificates", p))?;
            return out.set("ssl.ca.pem", pem, &self.name("ssl.truststore.certificates"));
        }
        let Some(path) = self.value("ssl.truststore.location") else {
            // No trust store: the system's CA certificates, as Java's default trust store.
            return Ok(());
        };
        let origin = self.name("ssl.truststore.location");
        let failed = |p: String| self.invalid("ssl.truststore.location", p);
        let bytes = stores::read(path).map_err(failed)?;
        let type_name = self.name("ssl.truststore.type");
        match stores::format(&bytes, declared, &type_name, path).map_err(failed)? {
            Readable::Pem => {
                if password.is_some() {
                    return Err(self.invalid(
                        "ssl.truststore.password",
                        "a PEM trust store has no password (as in Kafka): remove it",
                    ));
                }
                stores::pem_certificates(&bytes, path).map_err(failed)?;
                out.set("ssl.ca.location", path, &origin)
            }
            Readable::Pkcs12 => {
                let pem = stores::pkcs12_trusted(&bytes, password, path, &password_name)
                    .map_err(failed)?;
                out.set("ssl.ca.pem", pem, &origin)
            }
        }
    }

    fn keystore(&self, out: &mut Out) -> Result<(), ConfigError> {
        let declared = Declared::parse(self.value("ssl.keystore.type"))
            .map_err(|p| self.invalid("ssl.keystore.type", p))?;
        let password = self.value("ssl.keystore.password");
        let key_password = self.value("ssl.key.password");
        let key_password_name = self.name("ssl.key.password");
        let inline_key = self.value("ssl.keystore.key");
        let inline_chain = self.value("ssl.keystore.certificate.chain");
        if inline_key.is_some() || inline_chain.is_some() {
            let (Some(key), Some(chain)) = (inline_key, inline_chain) else {
                let (set, missing) = if inline_key.is_some() {
                    ("ssl.keystore.key", "ssl.keystore.certificate.chain")
                } else {
                    ("ssl.keystore.certificate.chain", "ssl.keystore.key")
                };
                return Err(self.invalid(set, format!("needs {} too", self.name(missing))));
            };
            if self.value("ssl.keystore.location").is_some() {
                return Err(self.invalid(
                    "ssl.keystore.key",
                    format!("set it or {}, not both", self.name("ssl.keystore.location")),
                ));
            }
            if !matches!(declared, Declared::Unset | Declared::Pem) {
                return Err(self.invalid(
                    "ssl.keystore.type",
                    "an inline key and chain are PEM: set PEM",
                ));
            }
            stores::pem_certificates(chain.as_bytes(), "the value")
                .map_err(|p| self.invalid("ssl.keystore.certificate.chain", p))?;
            stores::check_pem_key(
                key.as_bytes(),
                key_password,
                "the value",
                &key_password_name,
            )
            .map_err(|p| self.invalid("ssl.keystore.key", p))?;
            out.set(
                "ssl.certificate.pem",
                chain,
                &self.name("ssl.keystore.certificate.chain"),
            )?;
            out.set("ssl.key.pem", key, &self.name("ssl.keystore.key"))?;
            if let Some(p) = key_password {
                out.set("ssl.key.password", p, &key_password_name)?;
            }
            return Ok(());
        }
        let Some(path) = self.value("ssl.keystore.location") else {
            if key_password.is_some() || password.is_some() {
                let key = if key_password.is_some() {
                    "ssl.key.password"
                } else {
                    "ssl.keystore.password"
                };
                return Err(self.invalid(
                    key,
                    format!(
                        "there is no key store: set {} (or {} and {})",
                        self.name("ssl.keystore.location"),
                        self.name("ssl.keystore.certificate.chain"),
                        self.name("ssl.keystore.key")
                    ),
                ));
            }
            return Ok(());
        };
        let origin = self.name("ssl.keystore.location");
        let failed = |p: String| self.invalid("ssl.keystore.location", p);
        let bytes = stores::read(path).map_err(failed)?;
        let type_name = self.name("ssl.keystore.type");
        match stores::format(&bytes, declared, &type_name, path).map_err(failed)? {
            Readable::Pkcs12 => {
                let password_name = self.name("ssl.keystore.password");
                stores::check_pkcs12_keystore(&bytes, password, path, &password_name)
                    .map_err(failed)?;
                if key_password.is_some_and(|k| Some(k) != password) {
                    return Err(self.invalid(
                        "ssl.key.password",
                        format!(
                            "librdkafka opens a PKCS12 key store's key with {password_name}: \
                             export the store with one password for both"
                        ),
                    ));
                }
                out.set("ssl.keystore.location", path, &origin)?;
                if let Some(p) = password {
                    out.set("ssl.keystore.password", p, &password_name)?;
                }
                Ok(())
            }
            Readable::Pem => {
                if password.is_some() {
                    return Err(self.invalid(
                        "ssl.keystore.password",
                        format!(
                            "a PEM key store has no store password (as in Kafka): an encrypted \
                             key's password goes in {key_password_name}"
                        ),
                    ));
                }
                stores::pem_certificates(&bytes, path).map_err(failed)?;
                stores::check_pem_key(&bytes, key_password, path, &key_password_name)
                    .map_err(failed)?;
                out.set("ssl.certificate.location", path, &origin)?;
                out.set("ssl.key.location", path, &origin)?;
                if let Some(p) = key_password {
                    out.set("ssl.key.password", p, &key_password_name)?;
                }
                Ok(())
            }
        }
    }
}

/// Who a client is, for the errors [`fatal_problem`] writes.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `sasl.username`.
    pub user: Option<String>,
    /// `sasl.mechanism`.
    pub mechanism: Option<String>,
}

/// The error a client's failure makes when waiting for the broker cannot mend it: a failed
/// SASL authentication or TLS handshake (a wrong password, CA or client certificate).
/// `None` for everything else, outages included.
pub fn fatal_problem(error: &KafkaError, reason: &str, who: &Identity) -> Option<String> {
    let reason = reason.trim();
    match error.rdkafka_error_code()? {
        RDKafkaErrorCode::Authentication => {
            let user = who.user.as_deref().unwrap_or("(none)");
            let mechanism = who.mechanism.as_deref().unwrap_or("SASL");
            let check = if reason.contains("mechanism") && !reason.contains("invalid credentials") {
                "check sasl.mechanism against the broker listener's sasl.enabled.mechanisms"
            } else {
                "check the username and password in sasl.jaas.config"
            };
            Some(format!(
                "SASL authentication failed for user {user} ({mechanism}): {reason}: {check}"
            ))
        }
        RDKafkaErrorCode::SSL => {
            let hint =
                if reason.contains("certificate verify failed") || reason.contains("0A000086") {
                    "the broker's certificate is not signed by a CA in the trust store \
                 (ssl.truststore.location or ssl.truststore.certificates), or does not name the \
                 host connected to (ssl.endpoint.identification.algorithm)"
                } else if reason.contains("unexpected message")
                    || reason.contains("certificate required")
                {
                    "the broker wants a client certificate: set ssl.keystore.location"
                } else {
                    "check the ssl.* settings against the broker listener's"
                };
            Some(format!("TLS handshake failed: {reason}: {hint}"))
        }
        _ if reason.contains("alert certificate required")
            || reason.contains("alert bad certificate")
            || reason.contains("alert unknown ca") =>
        {
            Some(format!(
                "the broker refused the TLS client certificate: {reason}: check \
                 ssl.keystore.location (it must be signed by a CA the broker trusts)"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;

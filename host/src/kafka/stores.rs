//! Java's trust stores and key stores (`ssl.truststore.*`, `ssl.keystore.*`) read with the
//! OpenSSL librdkafka links, so a store librdkafka cannot use as it is (a PKCS12 trust store)
//! is handed over as PEM, and a bad file or password is a clear error before anything
//! connects.

use std::path::Path;

use openssl::pkcs12::Pkcs12;
use openssl::pkey::PKey;
use openssl::x509::X509;

/// What a store file holds, judged by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pem,
    Pkcs12,
    /// Java's own formats (JKS, JCEKS), which only Java reads.
    Jks,
}

/// How a store is read: the formats librdkafka's OpenSSL reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    Pem,
    Pkcs12,
}

/// The store type a property names (`ssl.truststore.type`, `ssl.keystore.type`); `None`
/// when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    Unset,
    Jks,
    Pkcs12,
    Pem,
}

impl Declared {
    /// Reads a store type property's value.
    pub fn parse(value: Option<&str>) -> Result<Declared, String> {
        match value.map(|v| v.trim().to_ascii_uppercase()).as_deref() {
            None | Some("") => Ok(Declared::Unset),
            Some("JKS") => Ok(Declared::Jks),
            Some("PKCS12") => Ok(Declared::Pkcs12),
            Some("PEM") => Ok(Declared::Pem),
            Some(_) => {
                Err("expected PKCS12 or PEM (JKS stores need converting, see the docs)".into())
            }
        }
    }
}

/// The file's bytes, or why it cannot be read.
pub fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(Path::new(path)).map_err(|e| format!("cannot read {path}: {e}"))
}

/// The format of a store file's content.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xfe, 0xed, 0xfe, 0xed]) || bytes.starts_with(&[0xce, 0xce, 0xce, 0xce])
    {
        Some(Format::Jks)
    } else if bytes
        .windows(b"-----BEGIN".len())
        .any(|w| w == b"-----BEGIN")
    {
        Some(Format::Pem)
    } else if bytes.first() == Some(&0x30) {
        // A DER SEQUENCE: PKCS12 is the only DER store Java writes.
        Some(Format::Pkcs12)
    } else {
        None
    }
}

/// The format to read a store as: what the file holds, checked against what the type
/// property says. A JKS store is refused with the command that converts it. With the type
/// unset or JKS, a PKCS12 file is read as PKCS12, as Java's JKS keystore type does since
/// Java 9; a PEM file is read as PEM only when the type is unset or PEM.
pub fn format(
    bytes: &[u8],
    declared: Declared,
    type_key: &str,
    path: &str,
) -> Result<Readable, String> {
    let found = sniff(bytes);
    match (found, declared) {
        (Some(Format::Jks), _) => Err(format!(
            "{path} is a Java KeyStore (JKS), which only Java reads: convert it to PKCS12 with \
             `keytool -importkeystore -srckeystore {path} -srcstoretype JKS -destkeystore \
             {path}.p12 -deststoretype PKCS12`, then point to {path}.p12 and set {type_key}=PKCS12"
        )),
        (Some(Format::Pem), Declared::Pem | Declared::Unset) => Ok(Readable::Pem),
        (Some(Format::Pkcs12), Declared::Pkcs12 | Declared::Jks | Declared::Unset) => {
            Ok(Readable::Pkcs12)
        }
        (Some(Format::Pem), _) => Err(format!(
            "{path} holds PEM, not the type {type_key} names: set {type_key}=PEM"
        )),
        (Some(Format::Pkcs12), Declared::Pem) => Err(format!(
            "{path} is a PKCS12 store, not PEM: set {type_key}=PKCS12"
        )),
        (None, _) => Err(format!(
            "{path} is neither a PEM file nor a PKCS12 store (nor a JKS store)"
        )),
    }
}

/// The certificates of a PEM text, checked to be at least one.
pub fn pem_certificates(pem: &[u8], what: &str) -> Result<Vec<X509>, String> {
    let certificates =
        X509::stack_from_pem(pem).map_err(|e| format!("{what} is not valid PEM: {e}"))?;
    if certificates.is_empty() {
        return Err(format!("{what} holds no certificate"));
    }
    Ok(certificates)
}

/// The certificates as one PEM text.
pub fn to_pem(certificates: &[X509]) -> Result<String, String> {
    let mut pem = String::new();
    for certificate in certificates {
        let bytes = certificate
            .to_pem()
            .map_err(|e| format!("cannot write a certificate as PEM: {e}"))?;
        pem.push_str(&String::from_utf8_lossy(&bytes));
    }
    Ok(pem)
}

/// A PKCS12 store opened with its password (none: the empty one).
struct Opened {
    has_key: bool,
    certificates: Vec<X509>,
}

fn open_pkcs12(
    bytes: &[u8],
    password: Option<&str>,
    path: &str,
    password_key: &str,
) -> Result<Opened, String> {
    let store =
        Pkcs12::from_der(bytes).map_err(|e| format!("{path} is not a valid PKCS12 store: {e}"))?;
    let parsed = store
        .parse2(password.unwrap_or(""))
        .map_err(|e| match password {
            None => format!("{path} cannot be opened without a password: set {password_key} ({e})"),
            Some(_) => {
                format!("{path} cannot be opened with {password_key}: wrong password? ({e})")
            }
        })?;
    let mut certificates: Vec<X509> = parsed.cert.into_iter().collect();
    if let Some(chain) = parsed.ca {
        certificates.extend(chain);
    }
    Ok(Opened {
        has_key: parsed.pkey.is_some(),
        certificates,
    })
}

/// The trusted certificates of a PKCS12 trust store, as PEM for librdkafka's `ssl.ca.pem`.
pub fn pkcs12_trusted(
    bytes: &[u8],
    password: Option<&str>,
    path: &str,
    password_key: &str,
) -> Result<String, String> {
    let opened = open_pkcs12(bytes, password, path, password_key)?;
    if opened.certificates.is_empty() {
        return Err(format!("{path} holds no certificate to trust"));
    }
    to_pem(&opened.certificates)
}

/// Checks a PKCS12 key store opens with its password and holds a key and its certificate.
pub fn check_pkcs12_keystore(
    bytes: &[u8],
    password: Option<&str>,
    path: &str,
    password_key: &str,
) -> Result<(), String> {
    let opened = open_pkcs12(bytes, password, path, password_key)?;
    if !opened.has_key || opened.certificates.is_empty() {
        return Err(format!("{path} holds no private key with its certificate"));
    }
    Ok(())
}

/// Checks a PEM private key opens (with `password` when it is encrypted).
pub fn check_pem_key(
    pem: &[u8],
    password: Option<&str>,
    what: &str,
    password_key: &str,
) -> Result<(), String> {
    // An empty passphrase, not none: without one OpenSSL would ask on the terminal.
    PKey::private_key_from_pem_passphrase(pem, password.unwrap_or("").as_bytes())
        .map(|_| ())
        .map_err(|e| match password {
            None => format!(
                "{what} holds no readable private key (an encrypted key needs {password_key}): {e}"
            ),
            Some(_) => format!("{what} holds no private key that {password_key} opens: {e}"),
        })
}

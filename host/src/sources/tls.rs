//! What the sources' TLS connections share: rustls with the ring provider, the two
//! certificate checks the TLS libraries lack (encrypt without checking, and check the chain
//! but not the name), PEM files read with errors naming the setting, and finding a rustls
//! error inside a driver's error.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The crypto provider of every TLS connection the sources open.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process's default provider, for libraries that build their rustls
/// configuration with it (mysql_async): with both of rustls's providers compiled in (one
/// dependency enables aws-lc-rs), rustls cannot pick one by itself. Installing it again,
/// or after another library did, changes nothing.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The certificates of a PEM file; the error says what is wrong with the file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the file: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a valid PEM file: {e}"))?;
    if certs.is_empty() {
        return Err("the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The trusted roots of a PEM file of CA certificates.
pub fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(read_certificates(path)?);
    if added == 0 {
        return Err("the file holds no usable CA certificate".into());
    }
    Ok(roots)
}

/// The well-known public CAs (Mozilla's list, built in).
pub fn public_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1), unencrypted.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if contains(&text, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(format!(
            "the private key is encrypted; decrypt it (openssl pkey -in {} -out key.pem) and protect the file with its permissions instead",
            path.display()
        ));
    }
    PrivateKeyDer::from_pem_slice(&text)
        .map_err(|e| format!("the file holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"))
}

/// Whether `bytes` contains `needle`.
pub fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// Accepts any server certificate while still checking the handshake's signatures: the
/// "encrypt, don't verify" modes (`sslmode=require`, `ssl.mode=required`).
#[derive(Debug)]
pub struct AnyCertificate(pub Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the server certificate's chain against the trusted roots but not the name it is
/// for (`sslmode=verify-ca`, `ssl.mode=verify_ca`). A name the certificate holds is kept in
/// `seen_name`, for connections made by libraries that always check the name.
#[derive(Debug)]
pub struct ChainOnly {
    pub inner: Arc<WebPkiServerVerifier>,
    pub seen_name: Arc<std::sync::Mutex<Option<String>>>,
}

impl ChainOnly {
    /// A chain-only check against `roots`.
    pub fn new(
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
        seen_name: Arc<std::sync::Mutex<Option<String>>>,
    ) -> Result<ChainOnly, String> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ChainOnly { inner, seen_name })
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            // The name is checked after the chain: a wrong name means a good chain.
            Err(rustls::Error::InvalidCertificate(error)) if is_wrong_name(&error) => {
                if let Some(name) = certificate_name(&error)
                    && let Ok(mut seen) = self.seen_name.lock()
                {
                    *seen = Some(name);
                }
                Ok(ServerCertVerified::assertion())
            }
            Ok(verified) => {
                if let Ok(mut seen) = self.seen_name.lock() {
                    *seen = Some(server_name.to_str().into_owned());
                }
                Ok(verified)
            }
            Err(other) => Err(other),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Whether a certificate error says the certificate is for other names.
pub fn is_wrong_name(error: &CertificateError) -> bool {
    matches!(
        error,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
    )
}

/// A name the certificate of a wrong-name error is valid for, usable to connect with: its
/// first IP address or DNS name (a wildcard's `*` replaced by a label). rustls lists the
/// certificate's names as `DnsName("…")` and `IpAddress(…)`.
pub fn certificate_name(error: &CertificateError) -> Option<String> {
    let CertificateError::NotValidForNameContext { presented, .. } = error else {
        return None;
    };
    presented.iter().find_map(|name| {
        if let Some(dns) = name
            .strip_prefix("DnsName(\"")
            .and_then(|n| n.strip_suffix("\")"))
        {
            let dns = match dns.strip_prefix("*.") {
                Some(rest) => format!("tidemark.{rest}"),
                None => dns.to_owned(),
            };
            return ServerName::try_from(dns.clone()).is_ok().then_some(dns);
        }
        let ip = name.strip_prefix("IpAddress(")?.strip_suffix(')')?;
        ip.parse::<IpAddr>().ok().map(|ip| ip.to_string())
    })
}

/// The rustls error inside a driver's error, if a TLS handshake failed on one.
pub fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // `io::Error::source` skips the error it wraps: look inside it.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = find_rustls_error(inner)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// What to tell the user about a failed TLS handshake: the problem and the setting to check.
pub fn explain(error: &rustls::Error, ca_key: &str) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) if is_wrong_name(cert) => format!(
            "the server's certificate is not valid for the host name connected to ({cert}); connect with a name the certificate holds (database.hostname) or check only the chain"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!(
            "the server's certificate is not signed by a trusted CA ({error}); check {ca_key}"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => format!("the server's certificate has expired ({error})"),
        other => format!("the TLS handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong_name(presented: &[&str]) -> CertificateError {
        CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("db.example").unwrap(),
            presented: presented.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn certificate_names_come_from_the_wrong_name_error() {
        assert_eq!(
            certificate_name(&wrong_name(&["IpAddress(127.0.0.1)", "DnsName(\"a\")"])),
            Some("127.0.0.1".into())
        );
        assert_eq!(
            certificate_name(&wrong_name(&["DnsName(\"*.db.example\")"])),
            Some("tidemark.db.example".into())
        );
        assert_eq!(certificate_name(&wrong_name(&[])), None);
        assert_eq!(certificate_name(&CertificateError::NotValidForName), None);
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let rustls_error = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_error.clone());
        assert_eq!(find_rustls_error(&io), Some(&rustls_error));
        let plain = std::io::Error::other("no");
        assert_eq!(find_rustls_error(&plain), None);
    }
}

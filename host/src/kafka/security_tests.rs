//! Translation of Java security properties: files made here with OpenSSL (a self-signed
//! certificate as PEM and PKCS12, a JKS header), errors checked to name the property.

use std::collections::BTreeMap;

use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use openssl::x509::{X509, X509NameBuilder};

use super::*;

const SCRAM: &str = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#;

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn certificate(key: &PKey<Private>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "test").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    builder
        .sign(key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    builder.build()
}

/// A key, its certificate, and files of them in a temporary directory.
struct Files {
    dir: tempfile::TempDir,
    cert_pem: String,
    key_pem: String,
}

impl Files {
    fn new() -> Files {
        let key = key();
        let cert = certificate(&key);
        let files = Files {
            dir: tempfile::tempdir().unwrap(),
            cert_pem: String::from_utf8(cert.to_pem().unwrap()).unwrap(),
            key_pem: String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        };
        files.write("ca.pem", files.cert_pem.as_bytes());
        files.write(
            "keystore.pem",
            format!("{}{}", files.key_pem, files.cert_pem).as_bytes(),
        );
        let encrypted = key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"key-secret")
            .unwrap();
        files.write(
            "encrypted.pem",
            &[encrypted, files.cert_pem.as_bytes().to_vec()].concat(),
        );
        let keystore = Pkcs12::builder()
            .name("client")
            .pkey(&key)
            .cert(&cert)
            .build2("store-secret")
            .unwrap();
        files.write("keystore.p12", &keystore.to_der().unwrap());
        let mut chain = openssl::stack::Stack::new().unwrap();
        chain.push(cert.clone()).unwrap();
        let truststore = Pkcs12::builder().ca(chain).build2("trust-secret").unwrap();
        files.write("truststore.p12", &truststore.to_der().unwrap());
        files.write("truststore.jks", &[0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]);
        files
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn translate(pairs: &[(&str, &str)]) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut security = JavaSecurity::default();
    for (key, value) in pairs {
        security.set(key, format!("producer.{key}"), (*value).to_owned());
    }
    Ok(security
        .translate()?
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

fn error(pairs: &[(&str, &str)]) -> String {
    translate(pairs).unwrap_err().to_string()
}

#[test]
fn sasl_jaas_config_becomes_username_and_password() {
    let out = translate(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", SCRAM),
    ])
    .unwrap();
    assert_eq!(out["security.protocol"], "sasl_plaintext");
    assert_eq!(out["sasl.mechanism"], "SCRAM-SHA-512");
    assert_eq!(out["sasl.username"], "alice");
    assert_eq!(out["sasl.password"], "alice-secret");
    assert!(!out.contains_key("sasl.jaas.config"));
}

#[test]
fn sasl_errors_name_the_property_and_hide_the_password() {
    let e = error(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="hunter2""#,
        ),
    ]);
    assert!(e.contains("producer.sasl.jaas.config"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = error(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.jaas.config", SCRAM),
    ]);
    assert!(
        e.contains("producer.sasl.mechanism") && e.contains("GSSAPI"),
        "{e}"
    );
    let e = error(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "GSSAPI"),
        ("sasl.jaas.config", SCRAM),
    ]);
    assert!(e.contains("Kerberos"), "{e}");
    let e = error(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
    ]);
    assert!(e.contains("producer.sasl.jaas.config"), "{e}");
    let e = error(&[("security.protocol", "TLS")]);
    assert!(e.contains("producer.security.protocol"), "{e}");
    let e = error(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", SCRAM),
    ]);
    assert!(e.contains("producer.sasl.mechanism"), "{e}");
    let e = error(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", SCRAM),
        ("sasl.login.refresh.window.factor", "0.8"),
    ]);
    assert!(
        e.contains("producer.sasl.login.refresh.window.factor"),
        "{e}"
    );
}

#[test]
fn truststores_pem_pkcs12_inline_and_jks() {
    let f = Files::new();
    let ssl = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("security.protocol", "SSL")];
        pairs.extend_from_slice(extra);
        translate(&pairs)
    };
    let ca = f.path("ca.pem");
    let out = ssl(&[
        ("ssl.truststore.location", &ca),
        ("ssl.truststore.type", "PEM"),
    ])
    .unwrap();
    assert_eq!(out["ssl.ca.location"], ca);
    assert_eq!(out["ssl.endpoint.identification.algorithm"], "https");
    // Unset type: read as what the file holds.
    let out = ssl(&[("ssl.truststore.location", &ca)]).unwrap();
    assert_eq!(out["ssl.ca.location"], ca);
    let p12 = f.path("truststore.p12");
    for kind in ["PKCS12", "JKS", ""] {
        let out = ssl(&[
            ("ssl.truststore.location", &p12),
            ("ssl.truststore.type", kind),
            ("ssl.truststore.password", "trust-secret"),
        ])
        .unwrap();
        assert_eq!(out["ssl.ca.pem"], f.cert_pem, "type {kind}");
        assert!(!out.contains_key("ssl.ca.location"));
    }
    let e = ssl(&[
        ("ssl.truststore.location", &p12),
        ("ssl.truststore.type", "PKCS12"),
        ("ssl.truststore.password", "wrong"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("producer.ssl.truststore.password") && e.contains("wrong password"),
        "{e}"
    );
    assert!(!e.contains("\"wrong\""), "{e}");
    let out = ssl(&[("ssl.truststore.certificates", &f.cert_pem)]).unwrap();
    assert_eq!(out["ssl.ca.pem"], f.cert_pem.trim_end());
    let jks = f.path("truststore.jks");
    for kind in ["JKS", "", "PKCS12"] {
        let e = ssl(&[
            ("ssl.truststore.location", &jks),
            ("ssl.truststore.type", kind),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("producer.ssl.truststore.location"), "{e}");
        assert!(
            e.contains("keytool -importkeystore") && e.contains("-deststoretype PKCS12"),
            "{e}"
        );
    }
    let e = ssl(&[
        ("ssl.truststore.location", &ca),
        ("ssl.truststore.type", "JKS"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.truststore.type=PEM"), "{e}");
    let e = ssl(&[("ssl.truststore.location", "/no/such/file")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("producer.ssl.truststore.location") && e.contains("/no/such/file"),
        "{e}"
    );
    let e = ssl(&[
        ("ssl.truststore.location", &ca),
        ("ssl.truststore.type", "BKS"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.truststore.type"), "{e}");
    let e = ssl(&[
        ("ssl.truststore.location", &ca),
        ("ssl.truststore.password", "x"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.truststore.password"), "{e}");
}

#[test]
fn keystores_pkcs12_pem_file_and_inline() {
    let f = Files::new();
    let ssl = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("security.protocol", "SSL")];
        pairs.extend_from_slice(extra);
        translate(&pairs)
    };
    let p12 = f.path("keystore.p12");
    let out = ssl(&[
        ("ssl.keystore.location", &p12),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.password", "store-secret"),
        ("ssl.key.password", "store-secret"),
    ])
    .unwrap();
    assert_eq!(out["ssl.keystore.location"], p12);
    assert_eq!(out["ssl.keystore.password"], "store-secret");
    let e = ssl(&[
        ("ssl.keystore.location", &p12),
        ("ssl.keystore.password", "nope"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.keystore.password"), "{e}");
    let e = ssl(&[
        ("ssl.keystore.location", &p12),
        ("ssl.keystore.password", "store-secret"),
        ("ssl.key.password", "other"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.key.password"), "{e}");
    let pem = f.path("keystore.pem");
    let out = ssl(&[
        ("ssl.keystore.location", &pem),
        ("ssl.keystore.type", "PEM"),
    ])
    .unwrap();
    assert_eq!(out["ssl.certificate.location"], pem);
    assert_eq!(out["ssl.key.location"], pem);
    let encrypted = f.path("encrypted.pem");
    let out = ssl(&[
        ("ssl.keystore.location", &encrypted),
        ("ssl.keystore.type", "PEM"),
        ("ssl.key.password", "key-secret"),
    ])
    .unwrap();
    assert_eq!(out["ssl.key.password"], "key-secret");
    let e = ssl(&[
        ("ssl.keystore.location", &encrypted),
        ("ssl.keystore.type", "PEM"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.key.password"), "{e}");
    let out = ssl(&[
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.certificate.chain", &f.cert_pem),
        ("ssl.keystore.key", &f.key_pem),
    ])
    .unwrap();
    assert_eq!(out["ssl.certificate.pem"], f.cert_pem.trim_end());
    assert_eq!(out["ssl.key.pem"], f.key_pem.trim_end());
    let e = ssl(&[("ssl.keystore.key", &f.key_pem)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("producer.ssl.keystore.certificate.chain"), "{e}");
    assert!(!e.contains("PRIVATE KEY"), "{e}");
    let e = ssl(&[("ssl.key.password", "x")]).unwrap_err().to_string();
    assert!(e.contains("producer.ssl.keystore.location"), "{e}");
}

#[test]
fn java_only_and_librdkafka_properties() {
    let base = [("security.protocol", "SSL")];
    let with = |pair: (&str, &str)| {
        let mut pairs = base.to_vec();
        pairs.push(pair);
        translate(&pairs)
    };
    let out = with(("ssl.endpoint.identification.algorithm", "")).unwrap();
    assert_eq!(out["ssl.endpoint.identification.algorithm"], "none");
    let e = with(("ssl.endpoint.identification.algorithm", "ldaps"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("producer.ssl.endpoint.identification.algorithm"),
        "{e}"
    );
    // Accepted: what librdkafka does anyway.
    for pair in [
        ("ssl.protocol", "TLSv1.3"),
        ("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
        ("ssl.keymanager.algorithm", "SunX509"),
        ("ssl.trustmanager.algorithm", "PKIX"),
    ] {
        let out = with(pair).unwrap();
        assert!(!out.contains_key(pair.0), "{pair:?}");
    }
    for pair in [
        ("ssl.protocol", "TLSv1.1"),
        ("ssl.enabled.protocols", "TLSv1.3"),
        ("ssl.provider", "Conscrypt"),
        ("ssl.engine.factory.class", "com.example.Factory"),
        ("ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"),
        ("ssl.secure.random.implementation", "SHA1PRNG"),
    ] {
        let e = with(pair).unwrap_err().to_string();
        assert!(e.contains(&format!("producer.{}", pair.0)), "{e}");
    }
    // librdkafka's own names pass through (librdkafka checks them later).
    let out = with(("ssl.ca.location", "/etc/ca.pem")).unwrap();
    assert_eq!(out["ssl.ca.location"], "/etc/ca.pem");
    let f = Files::new();
    let e = translate(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", "/etc/ca.pem"),
        ("ssl.truststore.location", &f.path("ca.pem")),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("producer.ssl.ca.location"), "{e}");
    // Settings for a protocol not in use are left out (with a warning).
    let out = translate(&[("ssl.truststore.location", "/no/such/file")]).unwrap();
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn authentication_and_handshake_failures_are_fatal_outages_are_not() {
    use rdkafka::error::KafkaError;
    let who = Identity {
        user: Some("alice".into()),
        mechanism: Some("SCRAM-SHA-512".into()),
    };
    let auth = fatal_problem(
        &KafkaError::Global(RDKafkaErrorCode::Authentication),
        "sasl_ssl://127.0.0.1:9/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        &who,
    )
    .unwrap();
    assert!(
        auth.contains("user alice")
            && auth.contains("127.0.0.1:9")
            && auth.contains("sasl.jaas.config"),
        "{auth}"
    );
    let tls = fatal_problem(
        &KafkaError::Global(RDKafkaErrorCode::SSL),
        "ssl://127.0.0.1:9/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed",
        &who,
    )
    .unwrap();
    assert!(tls.contains("ssl.truststore.location"), "{tls}");
    for code in [
        RDKafkaErrorCode::BrokerTransportFailure,
        RDKafkaErrorCode::AllBrokersDown,
    ] {
        assert_eq!(
            fatal_problem(
                &KafkaError::Global(code),
                "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused",
                &who
            ),
            None
        );
    }
}

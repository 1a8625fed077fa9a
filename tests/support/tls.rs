//! Throwaway certificates for the TLS tests, made with the `openssl` command: a CA, a server
//! certificate it signs for `127.0.0.1` only (not `localhost`), and a second CA that signed
//! nothing the servers use; on request a client certificate the CA signs, and the stores
//! Java reads (PKCS12 made by `openssl`, PKCS12 and JKS trust stores made by `keytool`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of one test's certificates.
pub struct Certificates {
    /// The CA that signed the server certificate (PEM).
    pub ca: PathBuf,
    /// A CA that did not (PEM).
    pub other_ca: PathBuf,
    /// The server's certificate, for IP address 127.0.0.1 only (PEM).
    pub server_cert: PathBuf,
    /// The server's private key (PEM, unencrypted).
    pub server_key: PathBuf,
    pub dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command runs");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn new_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

impl Certificates {
    /// Makes the certificates in a new directory that any user may read (the server may run
    /// as another user); the server key is readable by its owner only.
    pub fn new() -> Certificates {
        let dir = tempfile::Builder::new()
            .prefix("tidemark-tls")
            .tempdir()
            .expect("tempdir");
        let path = dir.path();
        new_ca(path, "ca");
        new_ca(path, "other-ca");
        std::fs::write(
            path.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        openssl(
            path,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        openssl(
            path,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for file in ["ca.pem", "other-ca.pem", "server.pem"] {
            std::fs::set_permissions(path.join(file), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        std::fs::set_permissions(
            path.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        Certificates {
            ca: path.join("ca.pem"),
            other_ca: path.join("other-ca.pem"),
            server_cert: path.join("server.pem"),
            server_key: path.join("server.key"),
            dir,
        }
    }

    /// Hands the server key to `user` (Postgres wants its key owned by the server's user).
    pub fn give_key_to(&self, user: &str) {
        let status = Command::new("chown")
            .arg(user)
            .arg(&self.server_key)
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown {user} failed");
    }
}

/// A client certificate signed by the test CA, in the shapes Kafka clients take.
pub struct ClientCertificate {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8, unencrypted).
    pub key: PathBuf,
    /// Key and certificate in one file: a Java PEM key store.
    pub pem_keystore: PathBuf,
}

impl Certificates {
    /// A client certificate for `name`, signed by the CA, for TLS client authentication.
    pub fn client(&self, name: &str) -> ClientCertificate {
        let path = self.dir.path();
        std::fs::write(
            path.join(format!("{name}.ext")),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )
        .expect("write the extensions");
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let cert = format!("{name}.pem");
        openssl(
            path,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        );
        openssl(
            path,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &cert,
            ],
        );
        let pem_keystore = path.join(format!("{name}-keystore.pem"));
        let both = [
            std::fs::read(path.join(&key)).expect("the key"),
            std::fs::read(path.join(&cert)).expect("the certificate"),
        ]
        .concat();
        std::fs::write(&pem_keystore, both).expect("write the PEM key store");
        ClientCertificate {
            cert: path.join(cert),
            key: path.join(key),
            pem_keystore,
        }
    }

    /// A PKCS12 key store (made by `openssl pkcs12 -export`) of a key and its certificate.
    pub fn pkcs12_keystore(&self, cert: &Path, key: &Path, password: &str) -> PathBuf {
        let out = self.dir.path().join(format!(
            "{}.p12",
            cert.file_stem().expect("a file name").to_string_lossy()
        ));
        let (cert, key, out_arg) = (
            cert.display().to_string(),
            key.display().to_string(),
            out.display().to_string(),
        );
        openssl(
            self.dir.path(),
            &[
                "pkcs12",
                "-export",
                "-in",
                &cert,
                "-inkey",
                &key,
                "-name",
                "tidemark",
                "-out",
                &out_arg,
                "-passout",
                &format!("pass:{password}"),
            ],
        );
        out
    }

    /// A trust store holding `ca`, made by Java's `keytool` as `kind` (`PKCS12` or `JKS`).
    pub fn java_truststore(&self, ca: &Path, kind: &str, password: &str) -> PathBuf {
        let out = self.dir.path().join(format!(
            "{}-truststore.{}",
            ca.file_stem().expect("a file name").to_string_lossy(),
            kind.to_ascii_lowercase()
        ));
        let output = Command::new("keytool")
            .args(["-importcert", "-noprompt", "-alias", "ca", "-file"])
            .arg(ca)
            .arg("-keystore")
            .arg(&out)
            .args(["-storetype", kind, "-storepass", password])
            .output()
            .expect("keytool runs (a JDK on PATH)");
        assert!(
            output.status.success(),
            "keytool failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    }
}

impl Default for Certificates {
    fn default() -> Certificates {
        Certificates::new()
    }
}

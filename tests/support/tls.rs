//! Throwaway certificates for the TLS tests, made with the `openssl` command: a CA, a server
//! certificate it signs for `127.0.0.1` only (not `localhost`), and a second CA that signed
//! nothing the servers use.

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

impl Default for Certificates {
    fn default() -> Certificates {
        Certificates::new()
    }
}

//! A throwaway MariaDB server on an ephemeral port, from the installed binaries, writing a
//! ROW binlog with FULL row images and metadata and GTIDs: its own data directory and
//! socket in a temporary directory, killed and deleted on drop. Root may connect over the
//! socket without a password and over TCP with [`PASSWORD`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of `root@127.0.0.1` on every test server.
pub const PASSWORD: &str = "dbz";

/// A running test server.
pub struct MariaDb {
    pub port: u16,
    socket: PathBuf,
    child: Child,
    /// The server's arguments, to start it again after [`MariaDb::stop`].
    args: Vec<std::ffi::OsString>,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

/// An installed MariaDB program: Debian puts the server in /usr/sbin, which a user's PATH
/// may lack.
fn program(name: &str) -> Command {
    let sbin = Path::new("/usr/sbin").join(name);
    Command::new(if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn check(output: std::process::Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Settings both the installer and the server get (they must agree on the InnoDB files).
const COMMON: &[&str] = &["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=64M"];

impl MariaDb {
    /// Starts a server with server id 1.
    pub fn start() -> MariaDb {
        MariaDb::start_with(&[])
    }

    /// Starts a server with extra `mariadbd` options.
    pub fn start_with(options: &[&str]) -> MariaDb {
        let dir = tempfile::Builder::new()
            .prefix("tidemark-maria")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        // Servers of parallel tests must not share temporary files.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("tmp dir");
        let tmpdir = format!("--tmpdir={}", tmp.display());
        check(
            program("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args([
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ])
                .args(COMMON)
                .arg(&tmpdir)
                .output()
                .expect("mariadb-install-db runs"),
            "mariadb-install-db",
        );
        let port = free_port();
        let socket = dir.path().join("mariadb.sock");
        let mut command = program("mariadbd");
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--port={port}"))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mariadb.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .arg(format!("--log-bin={}", data.join("binlog").display()))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--server-id=1",
                "--binlog-format=ROW",
                "--binlog-row-image=FULL",
                "--binlog-row-metadata=FULL",
                "--gtid-strict-mode=ON",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=2",
                "--sync-binlog=0",
            ])
            .args(COMMON)
            .arg(&tmpdir)
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let args = command.get_args().map(ToOwned::to_owned).collect();
        let child = command.spawn().expect("mariadbd starts");
        let mut server = MariaDb {
            port,
            args,
            socket,
            child,
            data,
            _dir: dir,
        };
        server.wait_ready();
        server.sql(
            "",
            &format!(
                "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
                 ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
                 GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; RESET MASTER;"
            ),
        );
        server
    }

    /// Stops the server with SIGTERM (a clean shutdown) and waits until it exited.
    pub fn stop(&mut self) {
        let status = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill mariadbd");
        self.child.wait().expect("mariadbd exits");
    }

    /// Starts the stopped server again, on the same port and data, and waits until it
    /// answers.
    pub fn start_again(&mut self) {
        self.child = program("mariadbd")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self._dir.path().join("error.log")).unwrap_or_default();
                panic!("mariadbd exited with {status}:\n{log}");
            }
            let ok = self
                .client("")
                .args(["-e", "SELECT 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "mariadbd did not start in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The client, connected over the socket to a database (`""` for none).
    pub fn client(&self, database: &str) -> Command {
        let mut c = Command::new("mariadb");
        c.arg("--no-defaults")
            .arg("--protocol=socket")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "--batch", "--skip-column-names"]);
        if !database.is_empty() {
            c.arg(database);
        }
        c
    }

    /// Runs SQL with the client in a database (`""` for none); returns the tab-separated
    /// output without column names.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        check(
            self.client(database)
                .args(["-e", sql])
                .output()
                .expect("mariadb runs"),
            &format!("mariadb -e {sql:?}"),
        )
    }

    /// Runs a SQL file with the client in a database.
    pub fn sql_file(&self, database: &str, file: &Path) -> String {
        let input = std::fs::File::open(file).expect("the SQL file");
        check(
            self.client(database)
                .stdin(input)
                .output()
                .expect("mariadb runs"),
            &format!("mariadb < {}", file.display()),
        )
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) {
        self.sql("", &format!("CREATE DATABASE `{name}`"));
    }

    /// The data directory (the binlogs are there).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The binlog file the server writes now.
    pub fn current_binlog(&self) -> String {
        let status = self.sql("", "SHOW MASTER STATUS");
        status
            .split('\t')
            .next()
            .filter(|f| !f.trim().is_empty())
            .expect("the server writes a binlog")
            .trim()
            .to_owned()
    }

    /// Starts a new binlog file and deletes every earlier one (`FLUSH BINARY LOGS` then
    /// `PURGE BINARY LOGS TO`); returns the file that is left.
    ///
    /// Right after the flush the server still needs the previous file (until its binlog
    /// checkpoint reaches the new one) and `PURGE` silently keeps it, so the purge is
    /// repeated until only the new file is listed.
    pub fn purge_binlogs(&self) -> String {
        self.sql("", "FLUSH BINARY LOGS");
        let file = self.current_binlog();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.sql("", &format!("PURGE BINARY LOGS TO '{file}'"));
            let listed = self.sql("", "SHOW BINARY LOGS");
            if listed.lines().count() == 1 {
                return file;
            }
            assert!(
                Instant::now() < deadline,
                "the binlogs before {file} were not purged within 30 s: {listed}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The replica connections (binlog dumps) the server is serving.
    pub fn binlog_dumps(&self) -> usize {
        self.sql(
            "",
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
        )
        .trim()
        .parse()
        .unwrap_or(0)
    }

    /// A command running `sql` through the client in a database, over the server's socket:
    /// it can run on another thread, and fails (rather than panics) while the server is down.
    pub fn sql_command(&self, database: &str, sql: &str) -> Command {
        let mut c = self.client(database);
        c.args(["-e", sql]);
        c
    }

    /// Waits until a connector reads the binlog.
    pub fn wait_binlog_dump(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.binlog_dumps() == 0 {
            assert!(
                Instant::now() < deadline,
                "no connector started reading the binlog"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

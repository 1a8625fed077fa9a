//! A throwaway PostgreSQL 15 server on an ephemeral port, from the installed binaries,
//! with `wal_level=logical` and password (SCRAM) authentication. Stopped and deleted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian installs PostgreSQL 15.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The superuser's password on every test server.
pub const PASSWORD: &str = "postgres";

/// A running test server.
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

/// The user the server runs as: PostgreSQL refuses to run as root.
fn run_as() -> Option<&'static str> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&uid.stdout).trim() == "0").then_some("postgres")
}

fn pg_command(program: &str) -> Command {
    let path = Path::new(PG_BIN).join(program);
    match run_as() {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(path);
            c
        }
        None => Command::new(path),
    }
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

/// psql as the superuser against `database` of the test server on `port` (stopping at the
/// first error, unaligned tuples only): for threads that cannot borrow the server, or
/// commands that may fail while it restarts.
pub fn psql_command(port: u16, database: &str) -> Command {
    let mut c = Command::new(Path::new(PG_BIN).join("psql"));
    c.args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-qAtX",
    ])
    .arg("-p")
    .arg(port.to_string())
    .args(["-d", database])
    .env("PGPASSWORD", PASSWORD);
    c
}

impl Postgres {
    /// Starts a server with `wal_level=logical`.
    pub fn start() -> Postgres {
        Postgres::start_with(&["wal_level = logical"])
    }

    /// Starts a server with extra `postgresql.conf` lines.
    pub fn start_with(settings: &[&str]) -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("tidemark-pg")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        if let Some(user) = run_as() {
            check(
                Command::new("chown")
                    .args(["-R", user])
                    .arg(dir.path())
                    .output()
                    .expect("chown"),
                "chown",
            );
        }
        check(
            pg_command("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output()
                .expect("initdb runs"),
            "initdb",
        );
        let port = free_port();
        let mut conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nmax_replication_slots = 20\nmax_wal_senders = 20\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            dir.path().display()
        );
        for s in settings {
            conf.push_str(s);
            conf.push('\n');
        }
        let conf_path = data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing).expect("write postgresql.conf");
        check(
            pg_command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("server.log"))
                .args(["-w", "start"])
                .output()
                .expect("pg_ctl runs"),
            "pg_ctl start",
        );
        let server = Postgres {
            port,
            data,
            _dir: dir,
        };
        server.psql("postgres", "CREATE DATABASE test");
        server
    }

    fn psql_command(&self, database: &str) -> Command {
        psql_command(self.port, database)
    }

    /// Runs SQL with psql against a database; returns the unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        check(
            self.psql_command(database)
                .args(["-c", sql])
                .output()
                .expect("psql runs"),
            "psql",
        )
    }

    /// Runs a SQL file with psql against a database.
    pub fn psql_file(&self, database: &str, file: &Path) -> String {
        check(
            self.psql_command(database)
                .arg("-f")
                .arg(file)
                .output()
                .expect("psql runs"),
            &format!("psql -f {}", file.display()),
        )
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
    }

    /// Waits until a replication slot exists and a consumer holds it (streaming started).
    /// Generous: a slot is only created once every transaction running at that moment has
    /// ended, so connectors starting together on one server wait for each other's snapshots,
    /// which on a busy 2-core machine under a parallel test run took over a minute.
    pub fn wait_slot_active(&self, database: &str, slot: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        loop {
            let active = self.psql(
                database,
                &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"),
            );
            if active.trim() == "t" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "slot {slot} never became active"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The slot's `confirmed_flush_lsn` as a number.
    pub fn confirmed_flush(&self, database: &str, slot: &str) -> u64 {
        self.psql(
            database,
            &format!("SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        )
        .trim()
        .parse()
        .expect("the slot exists")
    }
}

impl Postgres {
    fn pg_ctl(&self, args: &[&str]) {
        check(
            pg_command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(
                    self.data
                        .parent()
                        .expect("data dir parent")
                        .join("server.log"),
                )
                .args(args)
                .output()
                .expect("pg_ctl runs"),
            &format!("pg_ctl {}", args.join(" ")),
        );
    }

    /// `pg_ctl restart -m fast`: the server ends every session and starts again.
    pub fn restart_fast(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "restart"]);
    }

    /// Stops the server (`-m fast`) until [`Postgres::start_again`].
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Starts the stopped server again on the same port and data.
    pub fn start_again(&self) {
        self.pg_ctl(&["-w", "start"]);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg_command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

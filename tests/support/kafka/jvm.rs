//! What the broker ([`super::broker`]) and the Connect worker ([`super::connect`]) share: the
//! jars `tests/support/kafka/fetch.sh` puts in a cache outside the repository, and a JVM run
//! with a guard.
//!
//! The guard is a `sh` holding the read end of a pipe whose write end only this test process
//! has: when the test process ends, however it ends, the guard kills the JVM and removes its
//! directory. That lets a test binary keep a JVM in a static (`Kafka::shared`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};

/// The Apache Kafka release the tests run (the `<kafka.version>` of `pom.xml`).
pub(super) const VERSION: &str = "4.4.0";

/// JVM options: a small heap and a collector and compiler that start fast.
const JVM_OPTIONS: &[&str] = &[
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// The cache directory of `fetch.sh`: `$TIDEMARK_CACHE`, else `$XDG_CACHE_HOME/tidemark`,
/// else `~/.cache/tidemark`.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TIDEMARK_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    base.join("tidemark")
}

/// The jar `fetch.sh connect` adds to Connect's libs for Debezium 3.6.1 on Kafka 4.4.
const CONNECT_SHIM: &str = "libs/tidemark-debezium-3.6.1-sanitizer-shim.jar";
/// The marker of Log4j 2 in Connect's libs (`fetch.sh connect` adds it to an older cache).
const CONNECT_LOG4J: &str = ".log4j2";

/// `<cache>/<what>-<VERSION>`, fetched by `fetch.sh <what>` (`kafka` or `connect`) when its
/// `.complete` marker (or Connect's shim) is missing; panics saying what to run when that
/// fails.
pub(super) fn fetched(what: &str) -> PathBuf {
    let home = cache_dir().join(format!("{what}-{VERSION}"));
    let ready = |home: &Path| {
        home.join(".complete").exists()
            && (what != "connect"
                || (home.join(CONNECT_SHIM).exists() && home.join(CONNECT_LOG4J).exists()))
    };
    if !ready(&home) {
        let script = crate::workspace_root().join("tests/support/kafka/fetch.sh");
        let status = Command::new("bash")
            .arg(&script)
            .arg(what)
            .status()
            .expect("bash runs");
        assert!(
            status.success() && ready(&home),
            "Apache Kafka's {what} {VERSION} is not in {} and fetching it failed: run \
             `bash tests/support/kafka/fetch.sh {what}` (needs Maven and a JDK 17+)",
            home.display()
        );
    }
    home
}

/// `java` with the tests' JVM options and the jars of `libs` as its class path.
pub(super) fn java(libs: &Path) -> Command {
    java_with(&[libs.join("*")])
}

/// `java` with the tests' JVM options and `class_path` (directories, jars, `dir/*`).
pub(super) fn java_with(class_path: &[PathBuf]) -> Command {
    let mut command = Command::new("java");
    command
        .args(JVM_OPTIONS)
        .arg("-cp")
        .arg(std::env::join_paths(class_path).expect("a class path without ':'"));
    command
}

/// A running JVM, its output appended to a log file, and its guard. Dropping it kills the
/// JVM; [`Jvm::terminate`] stops it with SIGTERM.
pub(super) struct Jvm {
    java: Child,
    guard: Child,
    guard_stdin: Option<ChildStdin>,
}

impl Jvm {
    /// Spawns `command` (a [`java`] command), its stdout and stderr appended to `log`, and a
    /// guard that kills it and removes `dir` if this process ends first. `name` names the
    /// guard in `ps`.
    pub(super) fn spawn(mut command: Command, log: &Path, dir: &Path, name: &str) -> Jvm {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let java = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("java runs (a JDK 17+ on PATH)");
        // On EOF (this process gone) the guard kills the JVM and removes the directory;
        // "disarm" tells it the JVM has been waited for (its pid may then be reused).
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(r#"read -r line; [ "$line" = disarm ] || { kill -9 "$1"; rm -rf "$2"; }"#)
            .arg(name)
            .arg(java.id().to_string())
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("sh runs");
        let guard_stdin = guard.stdin.take();
        Jvm {
            java,
            guard,
            guard_stdin,
        }
    }

    /// The JVM's exit status if it has ended.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.java.try_wait().ok().flatten()
    }

    /// Stops the JVM with SIGTERM (Kafka's and Connect's orderly shutdown) and waits for it.
    pub(super) fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.java.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "signalling the JVM failed");
        let _ = self.java.wait();
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        // Both are no-ops once the JVM has been waited for.
        let _ = self.java.kill();
        let _ = self.java.wait();
        if let Some(mut stdin) = self.guard_stdin.take() {
            let _ = stdin.write_all(b"disarm\n");
        }
        let _ = self.guard.wait();
    }
}

//! A plugin that misbehaves on purpose, for the host's containment tests.
//!
//! `mode` picks the misbehaviour; it happens for records whose topic equals `trigger`
//! (every record when `trigger` is unset). Other records pass unchanged.
//! - `panic`: panics (a trap, with a message on stderr).
//! - `loop`: spins forever.
//! - `alloc`: allocates memory until refused.
//! - `recurse`: recurses until the stack is exhausted.
//! - `file`: reads `path` and puts its length in header `read` (panics if refused).
//! - `socket`: connects to `address` and puts `connected` in header `socket` (panics if
//!   refused).
//! - `env`: puts the value of environment variable `name` (or `<unset>`) in header `env`.
//! - `clock`: puts the wall clock's seconds since the epoch in header `clock`.
//! - `reject`: refuses its configuration.

use std::hint::black_box;

use tidemark_sdk::{Config, Outcome, Record, Transform, export_transform};

/// The misbehaving transform.
pub struct Hostile {
    mode: String,
    trigger: Option<String>,
    config: Config,
}

fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth + 1)) + 1
}

impl Transform for Hostile {
    fn configure(config: Config) -> Result<Self, String> {
        let mode = config.require("mode")?.to_owned();
        if mode == "reject" {
            return Err("setting 'mode' is 'reject', so this configuration is refused".into());
        }
        Ok(Hostile {
            mode,
            trigger: config.get("trigger").map(str::to_owned),
            config,
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        if let Some(trigger) = &self.trigger
            && record.topic() != *trigger
        {
            return Outcome::Keep;
        }
        match self.mode.as_str() {
            "panic" => panic!("hostile plugin panics on purpose"),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    black_box(&hoard);
                }
            }
            "recurse" => {
                black_box(recurse(0));
            }
            "file" => {
                let path = self.config.get("path").unwrap_or("/etc/passwd");
                let bytes = std::fs::read(path).expect("reading a file");
                record.add_header("read", Some(&bytes.len().to_string()));
            }
            "socket" => {
                let address = self.config.get("address").unwrap_or("127.0.0.1:9");
                std::net::TcpStream::connect(address).expect("opening a socket");
                record.add_header("socket", Some("connected"));
            }
            "env" => {
                let name = self.config.get("name").unwrap_or("HOME");
                let value = std::env::var(name).unwrap_or_else(|_| "<unset>".into());
                record.add_header("env", Some(&value));
            }
            "clock" => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                record.add_header("clock", Some(&secs.to_string()));
            }
            other => panic!("unknown mode {other}"),
        }
        Outcome::Keep
    }
}

export_transform!(Hostile);

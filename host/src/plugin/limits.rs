//! Per-plugin limits and capability grants, read from the `plugin.*` keys of a plugin's
//! configuration (the host consumes them; the plugin never sees them).
//!
//! A plugin gets no ambient capability: no files, sockets, environment variables or clocks
//! (its clocks are frozen at the Unix epoch) unless one of these keys grants it.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

use super::PluginError;
use super::stderr::StderrTail;

/// Time a plugin may spend on one batch (`plugin.timeout.ms`).
pub const TIMEOUT_KEY: &str = "plugin.timeout.ms";
/// Instructions' worth of fuel a plugin may burn per batch (`plugin.fuel`): a budget that,
/// unlike the time limit, does not depend on how busy the machine is.
pub const FUEL_KEY: &str = "plugin.fuel";
/// Linear memory cap per plugin instance (`plugin.memory.limit.bytes`; suffixes KiB, MiB, GiB).
pub const MEMORY_KEY: &str = "plugin.memory.limit.bytes";
/// Comma-separated environment variable names passed through (`plugin.allow.env`).
pub const ENV_KEY: &str = "plugin.allow.env";
/// `true` gives the plugin the real wall and monotonic clocks (`plugin.allow.clock`).
pub const CLOCK_KEY: &str = "plugin.allow.clock";
/// Comma-separated `host-dir[:guest-dir]` entries opened read-only (`plugin.allow.dirs`).
pub const DIRS_KEY: &str = "plugin.allow.dirs";
/// Comma-separated `host:port` addresses the plugin may open TCP connections to
/// (`plugin.allow.connect`).
pub const CONNECT_KEY: &str = "plugin.allow.connect";
/// Comma-separated authorities (`host:port`, or `host` for any port) the plugin may send
/// wasi:http requests to (`plugin.allow.http`).
pub const HTTP_KEY: &str = "plugin.allow.http";

/// The default per-batch time limit: generous for real transforms, short enough that a stuck
/// plugin is noticed.
pub const fn default_timeout() -> Duration {
    Duration::from_millis(1000)
}

/// The default memory cap: 64 MiB per plugin instance.
pub const fn default_memory_limit() -> usize {
    64 << 20
}

/// Limits and grants for one plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_limit: usize,
    /// Fuel per batch; `None` runs the plugin unmetered.
    pub fuel: Option<u64>,
    pub env: Vec<String>,
    pub clock: bool,
    pub dirs: Vec<(PathBuf, String)>,
    pub connect: Vec<SocketAddr>,
    pub http: HttpGrants,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: default_timeout(),
            memory_limit: default_memory_limit(),
            fuel: None,
            env: Vec::new(),
            clock: false,
            dirs: Vec::new(),
            connect: Vec::new(),
            http: HttpGrants::default(),
        }
    }
}

impl Limits {
    /// Splits a plugin's configuration into the host's `plugin.*` settings and the rest,
    /// which goes to the plugin's `configure`.
    pub fn from_config(
        plugin: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(Limits, Vec<(String, String)>), PluginError> {
        let mut limits = Limits::default();
        let mut rest = Vec::new();
        for (key, value) in config {
            let bad = |reason: String| PluginError::Setting {
                plugin: plugin.to_owned(),
                key: key.clone(),
                value: value.clone(),
                reason,
            };
            match key.as_str() {
                TIMEOUT_KEY => {
                    let ms: u64 = value
                        .trim()
                        .parse()
                        .map_err(|_| bad("expected a whole number of milliseconds".into()))?;
                    if ms == 0 {
                        return Err(bad("must be at least 1".into()));
                    }
                    limits.timeout = Duration::from_millis(ms);
                }
                MEMORY_KEY => limits.memory_limit = parse_size(value).map_err(bad)?,
                FUEL_KEY => {
                    let fuel: u64 = value
                        .trim()
                        .parse()
                        .map_err(|_| bad("expected a whole number of fuel units".into()))?;
                    if fuel == 0 {
                        return Err(bad("must be at least 1".into()));
                    }
                    limits.fuel = Some(fuel);
                }
                ENV_KEY => limits.env = list(value).map(str::to_owned).collect(),
                CLOCK_KEY => {
                    limits.clock = value
                        .trim()
                        .parse()
                        .map_err(|_| bad("expected true or false".into()))?
                }
                DIRS_KEY => {
                    for entry in list(value) {
                        let (host, guest) = entry.split_once(':').unwrap_or((entry, entry));
                        let host = PathBuf::from(host);
                        if !host.is_dir() {
                            return Err(bad(format!("{} is not a directory", host.display())));
                        }
                        limits.dirs.push((host, guest.to_owned()));
                    }
                }
                CONNECT_KEY => {
                    for entry in list(value) {
                        let addrs = entry
                            .to_socket_addrs()
                            .map_err(|e| bad(format!("cannot resolve {entry}: {e}")))?;
                        limits.connect.extend(addrs);
                    }
                }
                HTTP_KEY => limits.http = HttpGrants::parse(value).map_err(bad)?,
                other if other.starts_with("plugin.") => {
                    return Err(bad(format!(
                        "unknown host setting; known ones are {TIMEOUT_KEY}, {MEMORY_KEY}, {FUEL_KEY}, {ENV_KEY}, {CLOCK_KEY}, {DIRS_KEY}, {CONNECT_KEY}, {HTTP_KEY}"
                    )));
                }
                _ => rest.push((key.clone(), value.clone())),
            }
        }
        Ok((limits, rest))
    }

    /// Builds the WASI context these grants allow; stdout is discarded and stderr captured.
    pub fn wasi(&self, stderr: &StderrTail) -> Result<WasiCtx, String> {
        let mut builder = WasiCtxBuilder::new();
        builder.stderr(stderr.clone());
        for name in &self.env {
            if let Ok(value) = std::env::var(name) {
                builder.env(name, value);
            }
        }
        if !self.clock {
            builder.wall_clock(FrozenClock);
            builder.monotonic_clock(FrozenClock);
        }
        for (host, guest) in &self.dirs {
            builder
                .preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(|e| format!("cannot open {}: {e}", host.display()))?;
        }
        let allowed = self.connect.clone();
        builder.allow_tcp(!allowed.is_empty());
        builder.allow_udp(false);
        builder.allow_ip_name_lookup(false);
        builder.socket_addr_check(move |addr, use_| {
            use wasmtime_wasi::sockets::SocketAddrUse;
            let ok = match use_ {
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                // The implicit bind to a wildcard address that precedes a connect.
                SocketAddrUse::TcpBind => {
                    !allowed.is_empty() && addr.ip().is_unspecified() && addr.port() == 0
                }
                _ => false,
            };
            Box::pin(async move { ok })
        });
        Ok(builder.build())
    }
}

/// The authorities a plugin may send wasi:http requests to; empty denies every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrants {
    /// `(host, port)`; `None` allows any port of the host.
    allowed: Vec<(String, Option<u16>)>,
}

impl HttpGrants {
    /// Parses `host:port` / `host` entries (IPv6 in brackets: `[::1]:8080`).
    pub fn parse(value: &str) -> Result<HttpGrants, String> {
        let mut allowed = Vec::new();
        for entry in list(value) {
            if entry.contains("://") || entry.contains('/') {
                return Err(format!(
                    "{entry:?} is not an authority: give host:port (or host), without scheme or path"
                ));
            }
            allowed.push(split_authority(entry).ok_or_else(|| {
                format!("{entry:?} is not host:port (the port must be a number)")
            })?);
        }
        Ok(HttpGrants { allowed })
    }

    /// Whether a request to `host` on `port` is allowed.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.allowed.iter().any(|(h, p)| {
            h.eq_ignore_ascii_case(host.trim_matches(['[', ']'])) && p.is_none_or(|p| p == port)
        })
    }

    /// True when nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }
}

/// `host:port` or `host` (IPv6 literals in brackets) into its parts, the host lower-cased.
fn split_authority(entry: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port))
            if !host.ends_with(':') && (!host.contains(':') || host.ends_with(']')) =>
        {
            (host, Some(port.parse().ok()?))
        }
        _ => (entry, None),
    };
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    (!host.is_empty()).then_some((host, port))
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses a byte size such as `67108864`, `64MiB` or `1GiB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| "expected a size such as 67108864 or 64MiB".to_owned())?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        other => return Err(format!("unknown unit {other:?}; use KiB, MiB or GiB")),
    };
    n.checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| "size must be above zero and fit in memory".to_owned())
}

/// The clocks of a plugin that was not granted one: always the Unix epoch.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn host_keys_are_split_from_plugin_keys() {
        let (limits, rest) = Limits::from_config(
            "p",
            &config(&[
                ("plugin.timeout.ms", "250"),
                ("plugin.memory.limit.bytes", "16MiB"),
                ("regex", "a.*"),
            ]),
        )
        .unwrap();
        assert_eq!(limits.timeout, Duration::from_millis(250));
        assert_eq!(limits.memory_limit, 16 << 20);
        assert_eq!(rest, vec![("regex".to_owned(), "a.*".to_owned())]);
    }

    #[test]
    fn bad_host_keys_name_the_key() {
        let err = Limits::from_config("p", &config(&[("plugin.timeout.ms", "soon")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin 'p': setting plugin.timeout.ms=\"soon\" is invalid: expected a whole number of milliseconds"
        );
        let err = Limits::from_config("p", &config(&[("plugin.memroy", "1")])).unwrap_err();
        assert!(err.to_string().contains("unknown host setting"));
        let err =
            Limits::from_config("p", &config(&[("plugin.allow.http", "http://x/y")])).unwrap_err();
        assert!(err.to_string().contains("not an authority"), "{err}");
        let err = Limits::from_config("p", &config(&[("plugin.memory.limit.bytes", "3 parsecs")]))
            .unwrap_err();
        assert!(err.to_string().contains("unknown unit"));
    }

    #[test]
    fn http_grants_match_host_and_port() {
        let grants = HttpGrants::parse("127.0.0.1:8080, Example.com, [::1]:9000").unwrap();
        assert!(grants.allows("127.0.0.1", 8080));
        assert!(!grants.allows("127.0.0.1", 8081));
        assert!(grants.allows("example.com", 443));
        assert!(grants.allows("[::1]", 9000));
        assert!(!grants.allows("127.0.0.2", 8080));
        assert!(HttpGrants::default().is_empty());
        assert!(HttpGrants::parse("host:port").is_err());
    }
}

//! Reconnecting after a retriable failure: when the database restarts or the connection
//! drops, a source waits with exponential backoff and starts again from the committed
//! offset; only errors that retrying cannot fix (authentication, privileges, a lost slot)
//! stop the connector.
//!
//! The settings are Debezium's and Connect's: `errors.max.retries` (how many consecutive
//! failed attempts; `-1`, the default, retries without limit; `0` never retries),
//! `retriable.restart.connector.wait.ms` (the first wait, 10 s as in Debezium),
//! `errors.retry.delay.max.ms` (the longest wait, 60 s as in Connect) and
//! `errors.retry.timeout` (how long after the first of a run of failures to keep trying;
//! `-1`, the default, without limit). The waits double from the first to the longest, with
//! jitter, using `backon`'s exponential backoff. A run of failures ends when an attempt
//! makes progress (the pipeline commits a newer offset), and the count starts again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::sync::watch;

use crate::config::{ConfigError, Key, Properties, declare_keys, worker};
use crate::offsets::OffsetMap;
use crate::sources::Checkpoint;

/// How a source reconnects after a retriable failure.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// `errors.max.retries`: consecutive failed attempts allowed; `None` for no limit.
    pub max_retries: Option<u32>,
    /// `retriable.restart.connector.wait.ms`: the wait before the first new attempt.
    pub first_wait: Duration,
    /// `errors.retry.delay.max.ms`: the longest wait between attempts.
    pub max_wait: Duration,
    /// `errors.retry.timeout`: how long a run of failures may last; `None` for no limit.
    pub timeout: Option<Duration>,
}

impl Default for ReconnectPolicy {
    fn default() -> ReconnectPolicy {
        ReconnectPolicy {
            max_retries: None,
            first_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
            timeout: None,
        }
    }
}

declare_keys! {
    /// `errors.max.retries`.
    MAX_RETRIES = Key::int("errors.max.retries")
        .default("-1")
        .range(Some(-1), None)
        .group("Error handling")
        .doc("How many consecutive failed attempts to reconnect are allowed after a \
              retriable failure; -1 retries without limit, 0 never retries.");
    /// `retriable.restart.connector.wait.ms`.
    FIRST_WAIT = Key::long("retriable.restart.connector.wait.ms")
        .default("10000")
        .range(Some(0), None)
        .group("Error handling")
        .doc("The wait, in milliseconds, before the first attempt to reconnect; later waits \
              double up to errors.retry.delay.max.ms.");
}

/// A count or duration where `-1` means "no limit".
fn limit(props: &Properties, key: &Key) -> Result<Option<u64>, ConfigError> {
    Ok(u64::try_from(props.number::<i64>(key)?).ok())
}

impl ReconnectPolicy {
    /// Reads the policy from the connector's properties.
    pub fn from_properties(props: &Properties) -> Result<ReconnectPolicy, ConfigError> {
        let max_retries = limit(props, &MAX_RETRIES)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let first_wait = Duration::from_millis(props.number(&FIRST_WAIT)?);
        let max_wait = Duration::from_millis(props.number(&worker::RETRY_DELAY_MAX)?);
        let timeout = limit(props, &worker::RETRY_TIMEOUT)?.map(Duration::from_millis);
        Ok(ReconnectPolicy {
            max_retries,
            first_wait,
            max_wait: max_wait.max(first_wait),
            timeout,
        })
    }

    fn backoff(&self) -> ExponentialBackoff {
        let builder = ExponentialBuilder::new()
            .with_min_delay(self.first_wait)
            .with_max_delay(self.max_wait)
            .with_factor(2.0)
            .with_jitter();
        match self.max_retries {
            Some(n) => builder.with_max_times(n as usize),
            None => builder.without_max_times(),
        }
        .build()
    }
}

/// The state of a run of failures.
#[derive(Debug)]
pub struct Reconnects {
    /// An attempt got a connection to the server: from then on, losing it is retried.
    pub connected: bool,
    policy: ReconnectPolicy,
    backoff: ExponentialBackoff,
    /// The first failure of the current run, and how many attempts failed since.
    run: Option<(Instant, u32)>,
    /// The committed offset at the last failure: a newer one is progress.
    last_committed: Option<OffsetMap>,
    /// Counts the reconnects (shown in the metrics).
    count: Arc<AtomicU64>,
}

/// What a source does after a retriable failure.
#[derive(Debug, PartialEq)]
pub enum After {
    /// Connect again, from the committed offset.
    Retry,
    /// Shutdown was requested while waiting.
    Stop,
    /// The error stops the connector: retrying cannot fix it, or no retry is left.
    GiveUp,
}

/// What to do after a failure.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// No retry is left: `attempts` attempts failed in a row over `elapsed`.
    GiveUp { attempts: u32, elapsed: Duration },
}

impl Reconnects {
    /// No failure yet.
    pub fn new(policy: ReconnectPolicy) -> Reconnects {
        Reconnects {
            backoff: policy.backoff(),
            connected: false,
            policy,
            run: None,
            last_committed: None,
            count: Arc::default(),
        }
    }

    /// Counts each reconnect in `count` (the pipeline's metrics read it).
    pub fn counted_in(mut self, count: Arc<AtomicU64>) -> Reconnects {
        self.count = count;
        self
    }

    /// After an attempt failed with `error`: whether to connect again, and from where.
    ///
    /// An error retrying cannot fix (`retriable` false) gives up at once, and so does any
    /// error before the first connection: a server out of reach at start-up is a
    /// configuration problem until shown otherwise, as Connect's validation of a new
    /// connector reports it. Otherwise the error is logged, the backoff waited out, and on
    /// `Retry` `stored` is the committed offset to resume from. A committed offset newer
    /// than at the last failure means the attempt made progress: a new run of failures
    /// starts.
    pub async fn after_failure(
        &mut self,
        error: &(dyn std::fmt::Display + Sync),
        retriable: bool,
        committed: &watch::Receiver<Option<Checkpoint>>,
        shutdown: &mut watch::Receiver<bool>,
        stored: &mut Option<OffsetMap>,
    ) -> After {
        if !retriable || !self.connected {
            return After::GiveUp;
        }
        let now = committed.borrow().as_ref().map(|c| c.offset.clone());
        if now != self.last_committed {
            self.progressed();
            self.last_committed = now;
        }
        match self.failed() {
            Next::GiveUp { attempts, elapsed } => {
                tracing::error!(
                    %error,
                    attempts,
                    elapsed_ms = elapsed.as_millis() as u64,
                    "giving up: no reconnect left (errors.max.retries, errors.retry.timeout)"
                );
                After::GiveUp
            }
            Next::RetryAfter(delay) => {
                tracing::warn!(
                    %error,
                    wait_ms = delay.as_millis() as u64,
                    "the source failed; reconnecting from the committed offset"
                );
                if !wait(delay, shutdown).await {
                    return After::Stop;
                }
                if let Some(checkpoint) = &*committed.borrow() {
                    *stored = Some(checkpoint.offset.clone());
                }
                self.count.fetch_add(1, Ordering::Relaxed);
                After::Retry
            }
        }
    }

    /// An attempt made progress: the next failure starts a new run.
    pub fn progressed(&mut self) {
        if self.run.take().is_some() {
            self.backoff = self.policy.backoff();
        }
    }

    /// An attempt failed with a retriable error: how long to wait, or whether to give up.
    pub fn failed(&mut self) -> Next {
        let now = Instant::now();
        let (started, attempts) = self.run.get_or_insert((now, 0));
        *attempts += 1;
        let (attempts, elapsed) = (*attempts, now - *started);
        let next = self.backoff.next();
        match (next, self.policy.timeout) {
            (Some(wait), Some(timeout)) if elapsed + wait > timeout => {
                Next::GiveUp { attempts, elapsed }
            }
            (Some(wait), _) => Next::RetryAfter(wait),
            (None, _) => Next::GiveUp { attempts, elapsed },
        }
    }
}

/// Waits `wait`, or less when shutdown is requested; true when the wait ran out (try again),
/// false on shutdown.
pub async fn wait(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        changed = shutdown.changed() => match changed {
            Ok(()) => !*shutdown.borrow() && {
                // A change that is not a stop request: wait out the rest.
                tokio::time::sleep(wait).await;
                true
            },
            Err(_) => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pairs: &[(&str, &str)]) -> Result<ReconnectPolicy, ConfigError> {
        ReconnectPolicy::from_properties(&Properties::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_debeziums_and_connects() {
        assert_eq!(policy(&[]).unwrap(), ReconnectPolicy::default());
        let p = policy(&[
            ("errors.max.retries", "3"),
            ("retriable.restart.connector.wait.ms", "100"),
            ("errors.retry.delay.max.ms", "400"),
            ("errors.retry.timeout", "5000"),
        ])
        .unwrap();
        assert_eq!(p.max_retries, Some(3));
        assert_eq!(p.first_wait, Duration::from_millis(100));
        assert_eq!(p.max_wait, Duration::from_millis(400));
        assert_eq!(p.timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn bad_values_name_the_property() {
        let error = policy(&[("errors.max.retries", "-2")]).unwrap_err();
        assert!(error.to_string().contains("errors.max.retries"), "{error}");
        let error = policy(&[("retriable.restart.connector.wait.ms", "soon")]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("retriable.restart.connector.wait.ms"),
            "{error}"
        );
    }

    #[test]
    fn waits_grow_to_the_maximum_and_stop_after_max_retries() {
        let mut reconnects = Reconnects::new(
            policy(&[
                ("errors.max.retries", "6"),
                ("retriable.restart.connector.wait.ms", "100"),
                ("errors.retry.delay.max.ms", "400"),
            ])
            .unwrap(),
        );
        let mut waits = Vec::new();
        for _ in 0..6 {
            match reconnects.failed() {
                Next::RetryAfter(wait) => waits.push(wait),
                other => panic!("gave up early: {other:?}"),
            }
        }
        // Jitter adds up to one more delay: 100-200, 200-400, then 400-800 at the cap.
        assert!(waits[0] >= Duration::from_millis(100) && waits[0] <= Duration::from_millis(200));
        assert!(waits[1] >= Duration::from_millis(200));
        assert!(waits[5] >= Duration::from_millis(400) && waits[5] <= Duration::from_millis(800));
        assert!(matches!(
            reconnects.failed(),
            Next::GiveUp { attempts: 7, .. }
        ));
        // Progress starts a new run with the full count.
        reconnects.progressed();
        assert!(
            matches!(reconnects.failed(), Next::RetryAfter(w) if w <= Duration::from_millis(200))
        );
    }

    #[test]
    fn zero_retries_gives_up_at_once_and_the_timeout_ends_a_run() {
        let mut never = Reconnects::new(policy(&[("errors.max.retries", "0")]).unwrap());
        assert!(matches!(never.failed(), Next::GiveUp { attempts: 1, .. }));
        let mut timed = Reconnects::new(
            policy(&[
                ("retriable.restart.connector.wait.ms", "100"),
                ("errors.retry.timeout", "50"),
            ])
            .unwrap(),
        );
        assert!(matches!(timed.failed(), Next::GiveUp { .. }));
    }

    #[tokio::test]
    async fn a_stop_request_ends_the_wait() {
        let (stop, mut shutdown) = watch::channel(false);
        let waiting =
            tokio::spawn(async move { wait(Duration::from_secs(3600), &mut shutdown).await });
        stop.send_replace(true);
        assert!(!waiting.await.unwrap());
    }
}

//! Distributed mode: a connector fenced while this worker still owns it is restarted.
//!
//! With exactly-once, a connector's producer fences every older producer of its
//! transactional id. A worker frozen (or cut off) while its producer was inside
//! `init_transactions` completes it when it runs again, with a newer epoch than the new
//! owner's, and so fences the new owner, whose connector fails with the fencing error; the
//! woken worker then learns it lost the connector and stops it. The new owner still owns the
//! connector: after [`DELAY`] (by then the zombie has noticed), it starts it again, and its
//! producer fences the zombie's for good. A connector fenced again and again is left FAILED
//! after [`LIMIT`] restarts in [`WINDOW`]: something else writes with its transactional id.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a fenced connector stays FAILED before its owner starts it again.
pub const DELAY: Duration = Duration::from_secs(3);
/// Restarts of one connector within [`WINDOW`] after which it stays FAILED.
pub const LIMIT: usize = 3;
/// See [`LIMIT`].
pub const WINDOW: Duration = Duration::from_secs(300);

/// The fenced connectors a worker owns, and when it restarted each.
#[derive(Debug, Default)]
pub struct FencedRestarts {
    /// When each connector was first seen failed by fencing.
    seen: BTreeMap<String, Instant>,
    /// Each connector's restarts within the window.
    restarts: BTreeMap<String, Vec<Instant>>,
}

impl FencedRestarts {
    /// Given the connectors failed by fencing `now`, the ones to start again.
    pub fn due(&mut self, fenced: Vec<String>, now: Instant) -> Vec<String> {
        self.seen.retain(|name, _| fenced.contains(name));
        let mut due = Vec::new();
        for name in fenced {
            let since = *self.seen.entry(name.clone()).or_insert(now);
            if now.duration_since(since) < DELAY {
                continue;
            }
            let restarts = self.restarts.entry(name.clone()).or_default();
            restarts.retain(|at| now.duration_since(*at) < WINDOW);
            if restarts.len() >= LIMIT {
                if restarts.len() == LIMIT {
                    tracing::error!(
                        connector = %name,
                        "fenced again after {LIMIT} restarts within {} s: left FAILED; another \
                         process writes with this connector's transactional id",
                        WINDOW.as_secs()
                    );
                    restarts.push(now);
                }
                continue;
            }
            restarts.push(now);
            self.seen.remove(&name);
            due.push(name);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_connector_restarts_after_the_delay_and_at_most_limit_times() {
        let mut restarts = FencedRestarts::default();
        let start = Instant::now();
        let fenced = || vec!["a".to_owned()];
        assert!(restarts.due(fenced(), start).is_empty());
        assert!(restarts.due(fenced(), start + DELAY / 2).is_empty());
        assert_eq!(restarts.due(fenced(), start + DELAY), ["a"]);
        // Healthy for a while: nothing to do, and the next fencing waits the delay again.
        assert!(restarts.due(Vec::new(), start + DELAY * 2).is_empty());
        let mut at = start + DELAY * 3;
        for _ in 1..LIMIT {
            assert!(restarts.due(fenced(), at).is_empty());
            at += DELAY;
            assert_eq!(restarts.due(fenced(), at), ["a"]);
        }
        at += DELAY;
        assert!(restarts.due(fenced(), at).is_empty());
        assert!(restarts.due(fenced(), at + DELAY * 2).is_empty());
        // Once the window has passed, it may restart again.
        assert_eq!(restarts.due(fenced(), at + WINDOW + DELAY), ["a"]);
    }
}

//! Per-schema work, cached by the host's schema id (as Connect's transforms keep a 16-entry
//! LRU cache keyed by schema).

/// How many schemas a cache remembers; the oldest entry goes first.
const CAPACITY: usize = 16;

/// A small cache from schema id to whatever a transform derives from that schema.
#[derive(Debug)]
pub struct IdCache<T> {
    entries: Vec<(u64, T)>,
}

impl<T> Default for IdCache<T> {
    fn default() -> Self {
        IdCache {
            entries: Vec::new(),
        }
    }
}

impl<T: Clone> IdCache<T> {
    /// The entry for `id`, made by `make` (and remembered) when missing. Errors from `make`
    /// are returned and not remembered.
    pub fn get_or_try_insert(
        &mut self,
        id: u64,
        make: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        if let Some((_, found)) = self.entries.iter().find(|(k, _)| *k == id) {
            return Ok(found.clone());
        }
        let made = make()?;
        if self.entries.len() >= CAPACITY {
            self.entries.remove(0);
        }
        self.entries.push((id, made.clone()));
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_evicts_oldest() {
        let mut cache = IdCache::default();
        let mut calls = 0;
        for round in 0..2 {
            for id in 0..CAPACITY as u64 {
                let v = cache
                    .get_or_try_insert(id, || {
                        calls += 1;
                        Ok(id * 10)
                    })
                    .unwrap();
                assert_eq!(v, id * 10, "round {round}");
            }
        }
        assert_eq!(calls, CAPACITY);
        cache.get_or_try_insert(99, || Ok(0)).unwrap();
        let again = cache.get_or_try_insert(0, || Ok(7)).unwrap();
        assert_eq!(again, 7, "id 0 was evicted first");
        assert!(cache.get_or_try_insert(5, || Err("x".into())).is_ok());
        assert_eq!(
            cache.get_or_try_insert(1000, || Err("bad".into())),
            Err::<u64, _>("bad".into())
        );
    }
}

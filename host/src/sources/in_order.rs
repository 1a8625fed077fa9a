//! Work items (a snapshot's ranges) done by several tasks and handed back in order: each task
//! takes the next item once it holds a permit (at most so many read ahead of the one being
//! consumed, so memory stays bounded), and the consumer gets the results by item index.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// The results of the items, in item order.
pub struct InOrder<T, E> {
    results: mpsc::Receiver<(usize, Result<T, E>)>,
    ahead: BTreeMap<usize, T>,
    next: usize,
}

/// What the tasks share: the items, how many are taken, the read-ahead permits and where
/// results go.
pub struct Work<I> {
    items: Arc<Vec<I>>,
    taken: Arc<AtomicUsize>,
    ahead: Arc<Semaphore>,
}

impl<I> Clone for Work<I> {
    fn clone(&self) -> Self {
        Work {
            items: self.items.clone(),
            taken: self.taken.clone(),
            ahead: self.ahead.clone(),
        }
    }
}

impl<I: Copy> Work<I> {
    /// `items` for tasks that may hold `ahead` results not yet consumed.
    pub fn new(items: Vec<I>, ahead: usize) -> Work<I> {
        Work {
            items: Arc::new(items),
            taken: Arc::new(AtomicUsize::new(0)),
            ahead: Arc::new(Semaphore::new(ahead)),
        }
    }

    /// The next item for a task, with its index and a permit (taken first, so that the item
    /// the consumer waits for is always being done; its result holds the permit until
    /// consumed); `None` when the items have run out.
    pub async fn take(&self) -> Option<(usize, I, OwnedSemaphorePermit)> {
        let permit = self.ahead.clone().acquire_owned().await.ok()?;
        let index = self.taken.fetch_add(1, Ordering::Relaxed);
        let item = self.items.get(index).copied()?;
        Some((index, item, permit))
    }
}

/// Hands an item's result to the consumer; `false` when the task should stop (the item
/// failed, or the consumer is gone).
pub async fn deliver<T, E>(
    send: &mpsc::Sender<(usize, Result<T, E>)>,
    index: usize,
    result: Result<T, E>,
) -> bool {
    let failed = result.is_err();
    send.send((index, result)).await.is_ok() && !failed
}

impl<T, E> InOrder<T, E> {
    /// Results arriving on `results`, consumed from item 0.
    pub fn new(results: mpsc::Receiver<(usize, Result<T, E>)>) -> InOrder<T, E> {
        InOrder {
            results,
            ahead: BTreeMap::new(),
            next: 0,
        }
    }

    /// The index of the next result.
    pub fn position(&self) -> usize {
        self.next
    }

    /// The next result in order (or the first error); `None` when every task ended before
    /// it came.
    pub async fn next(&mut self) -> Option<Result<T, E>> {
        loop {
            if let Some(result) = self.ahead.remove(&self.next) {
                self.next += 1;
                return Some(Ok(result));
            }
            match self.results.recv().await? {
                (_, Err(error)) => return Some(Err(error)),
                (index, Ok(result)) => {
                    self.ahead.insert(index, result);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_come_back_in_item_order_whatever_the_tasks_timing() {
        let work = Work::new((0..20u64).collect(), 4);
        let (send, results) = mpsc::channel(4);
        let mut tasks = tokio::task::JoinSet::new();
        for delay in [3u64, 1] {
            let (work, send) = (work.clone(), send.clone());
            tasks.spawn(async move {
                while let Some((index, item, permit)) = work.take().await {
                    tokio::time::sleep(std::time::Duration::from_millis(delay * (item % 3))).await;
                    if !deliver(&send, index, Ok::<_, String>((item, permit))).await {
                        return;
                    }
                }
            });
        }
        drop(send);
        let mut in_order = InOrder::new(results);
        for expected in 0..20 {
            let (item, _permit) = in_order.next().await.unwrap().unwrap();
            assert_eq!(item, expected);
        }
        assert!(in_order.next().await.is_none());
        assert_eq!(in_order.position(), 20);
    }
}

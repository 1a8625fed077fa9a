//! Background priority for compiling plugins. Compiling a new plugin version (hot reload) is
//! CPU-heavy; on a machine whose cores the pipelines keep busy it must not take their time,
//! or batches stall while the compiler runs. Compilation therefore runs on threads with a
//! lower scheduling priority (nice 10): when a core is idle they use it fully, when the
//! pipelines need it they get it first. The optimized code of a version that already runs
//! with baseline code is compiled at the lowest priority (nice 19): nothing waits for it, so
//! it gets little more than the time no other thread wants, yet is never starved for good.

use std::sync::{Once, OnceLock};

/// How much lower than the process's own priority compile and reload threads run.
const NICE: libc::c_int = 10;

/// The nice value of the threads that compile optimized code in the background.
const LOWEST: libc::c_int = 19;

/// Sets up the thread pool wasmtime compiles on (rayon's global pool) with low-priority
/// threads. Only the first call in a process does anything; if something else in the process
/// created the global pool first, compilation keeps that pool's priority.
pub(super) fn init_compile_threads() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let built = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("tidemark-compile-{i}"))
            .start_handler(|_| lower_current_thread())
            .build_global();
        if let Err(error) = built {
            tracing::debug!(%error, "plugin compilation keeps the existing thread pool's priority");
        }
    });
}

/// A thread pool of the lowest priority, for compiling optimized code in the background;
/// wasmtime compiles on it inside [`rayon::ThreadPool::install`]. `None` if the pool could
/// not be built.
pub(super) fn lowest_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("tidemark-optimize-{i}"))
            .start_handler(|_| lowest_current_thread())
            .build()
            .map_err(|error| tracing::debug!(%error, "no low-priority pool for optimizing plugins"))
            .ok()
    })
    .as_ref()
}

/// Gives the calling thread the lowest priority (nice 19).
pub(super) fn lowest_current_thread() {
    renice_current_thread(|_| LOWEST);
}

/// Lowers the calling thread's scheduling priority (Linux nice values are per thread).
pub(super) fn lower_current_thread() {
    renice_current_thread(|current| current.saturating_add(NICE));
}

/// Sets the calling thread's nice value to `nice(current value)`.
fn renice_current_thread(nice: impl FnOnce(libc::c_int) -> libc::c_int) {
    // SAFETY: plain system calls with no memory arguments; `gettid` cannot fail, and a
    // failing `setpriority` leaves the thread at its priority, which is only slower.
    let failed = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, nice(current).min(LOWEST)) != 0
    };
    if failed {
        tracing::debug!(
            "could not lower the priority of a plugin compile thread: {}",
            std::io::Error::last_os_error()
        );
    }
}

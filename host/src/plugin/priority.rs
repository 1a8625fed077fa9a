//! Background priority for compiling plugins. Compiling a new plugin version (hot reload) is
//! CPU-heavy; on a machine whose cores the pipelines keep busy it must not take their time,
//! or batches stall while Cranelift runs. Compilation therefore runs on threads with a lower
//! scheduling priority (nice 10): when a core is idle they use it fully, when the pipelines
//! need it they get it first.

use std::sync::Once;

/// How much lower than the process's own priority compile and reload threads run.
const NICE: libc::c_int = 10;

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

/// Lowers the calling thread's scheduling priority (Linux nice values are per thread).
pub(super) fn lower_current_thread() {
    // SAFETY: plain system calls with no memory arguments; `gettid` cannot fail, and a
    // failing `setpriority` leaves the thread at its priority, which is only slower.
    let failed = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, current.saturating_add(NICE)) != 0
    };
    if failed {
        tracing::debug!(
            "could not lower the priority of a plugin compile thread: {}",
            std::io::Error::last_os_error()
        );
    }
}

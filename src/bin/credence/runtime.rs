//! The tokio runtime a command runs the engine or a server on.

/// A tokio runtime with `threads` workers, each with the main thread's
/// 8 MiB of stack (the engine plans recursively).
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
}

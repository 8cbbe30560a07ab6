//! The daemon and the C allocator: glibc gives each thread that allocates a malloc arena of
//! its own (up to 8 a core), and memory freed in one arena is not reused by another. A dream
//! allocates hundreds of MB on one blocking thread (the engine) and then on another (staging
//! and verification): with one arena each, the daemon's peak is their sum, not their maximum
//! (measured on a 100 MB store: 1.21 GB with the default arenas, 0.84 GB with two).

/// Before any thread starts: at most two arenas (the async workers and the blocking work share
/// them), unless `MALLOC_ARENA_MAX` says otherwise.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called before any other thread exists; mallopt only sets a tunable.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Return the allocator's free pages to the system, after a stage that freed a lot.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

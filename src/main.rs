//! The `gcorr` binary: parse arguments, run, turn the outcome into an exit code.

fn main() -> std::process::ExitCode {
    // Threads here hand their buffers to each other (reader to parsers to the folding thread,
    // encoders to the writer); with an arena per thread, what one frees waits in its arena for
    // that thread alone, and peak memory grows with how the threads happened to be scheduled.
    // Two arenas keep it flat at no measurable cost in speed.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any thread starts; mallopt only sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    gcorr::main_entry()
}

//! The `rulegate` binary: everything happens in [`rulegate::commands::main`].

/// mimalloc: traces and suites are many small allocations across threads, where it is several
/// times faster than the system allocator (see benches/cases.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    die_quietly_on_closed_stdout();
    rulegate::commands::main()
}

/// Rust ignores SIGPIPE, so a write to a closed pipe (`rulegate test | head -1`) is an error
/// that `println!` turns into a panic. Restore the default action, as Unix tools have it: the
/// process ends quietly (the shell reports 141).
#[cfg(unix)]
#[expect(
    unsafe_code,
    reason = "setting a signal's disposition has no safe wrapper in the standard library"
)]
fn die_quietly_on_closed_stdout() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn die_quietly_on_closed_stdout() {}

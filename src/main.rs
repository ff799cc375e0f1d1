//! The `rulegate` binary: everything happens in [`rulegate::commands::main`].

/// mimalloc: traces and suites are many small allocations across threads, where it is several
/// times faster than the system allocator (see benches/cases.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rulegate::commands::main()
}

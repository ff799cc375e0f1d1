//! The `rulegate` binary: parse the command line, run, exit with the code the run chose.

use clap::Parser;

/// mimalloc: traces and suites are many small allocations across threads, where it is several
/// times faster than the system allocator (see benches/cases.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = match rulegate::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; everything else is a usage error (exit 2).
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    rulegate::exit::Exit::Success.into()
                }
                _ => rulegate::exit::Exit::Invalid.into(),
            };
        }
    };
    rulegate::main_with(cli).into()
}

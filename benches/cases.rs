//! End-to-end benchmark: 10,000 generated cases against the example shop project, through the
//! whole `rulegate test` (release build) with the local backend, then through `rulegate serve`
//! over loopback with `--backend cloudflare --concurrency 32`. Prints wall time, cases per
//! second and peak memory of the `rulegate test` process.
//!
//!     cargo bench --bench cases
//!     cargo bench --bench cases -- --cases 2000

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

#[expect(
    unsafe_code,
    reason = "getrusage has no safe wrapper in the standard library"
)]
fn peak_rss_of_children_mib() -> f64 {
    // SAFETY: rusage is plain integers, for which all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}

/// Runs `cmd` to the end; its wall time and libtest's result line. Panics if it failed.
fn timed_run(cmd: &mut Command) -> (f64, String) {
    let start = Instant::now();
    let out = cmd.stderr(Stdio::null()).output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout
        .lines()
        .find(|l| l.starts_with("test result"))
        .unwrap_or("(no result line)")
        .to_string();
    assert!(
        out.status.success(),
        "{:?} failed: {result}",
        cmd.get_args().collect::<Vec<_>>()
    );
    (secs, result)
}

fn main() {
    let n = common::cases_arg(10_000);
    let bin = env!("CARGO_BIN_EXE_rulegate");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::project(dir, n);

    let (secs, result) = timed_run(Command::new(bin).args(["test", dir.to_str().unwrap(), "-q"]));
    let peak = peak_rss_of_children_mib();
    println!(
        "local backend: {n} cases in {secs:.3} s = {:.0} cases/s; peak memory {peak:.1} MiB",
        n as f64 / secs
    );
    println!("  {result}");

    let (mut serve, api) = common::serve(bin, dir, &[]);
    let (secs, result) = timed_run(
        Command::new(bin)
            .env("CLOUDFLARE_API_TOKEN", "bench")
            .args([
                "test",
                dir.to_str().unwrap(),
                "-q",
                "--backend",
                "cloudflare",
                "--api-url",
                &api,
                "--concurrency",
                "32",
                "--rate-limit",
                "100000000/1",
            ]),
    );
    let _ = serve.kill();
    let _ = serve.wait();
    println!(
        "rulegate serve over loopback, --concurrency 32: {n} cases in {secs:.3} s = {:.0} cases/s",
        n as f64 / secs
    );
    println!("  {result}");
    let _ = std::io::stdout().flush();
}

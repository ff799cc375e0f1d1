//! Soak: 20,000 traces through `rulegate serve` on loopback while it injects 429s (with
//! Retry-After), 503s and latency; the client retries. Checks that every case is accounted for
//! in the JUnit report (a result for each, none lost) and that serve's memory stays flat.
//! Bounded: it stops by itself (a few minutes on 2 cores); not part of `cargo test`.
//!
//!     cargo bench --bench soak
//!     cargo bench --bench soak -- --cases 5000

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Resident memory of `pid` in MiB, from /proc.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let n = common::cases_arg(20_000);
    let bin = env!("CARGO_BIN_EXE_rulegate");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::project(dir, n);
    let (mut serve, api) = common::serve(
        bin,
        dir,
        &[
            "--fail-429",
            "0.03",
            "--retry-after",
            "1",
            "--fail-5xx",
            "0.03",
            "--latency-ms",
            "2",
            "--seed",
            "7",
        ],
    );

    // Sample serve's memory once a second while the run goes on.
    let samples: Arc<Mutex<Vec<f64>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, done, pid) = (samples.clone(), done.clone(), serve.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(m) = rss_mib(pid) {
                    samples.lock().unwrap().push(m);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let junit = dir.join("soak.xml");
    let start = Instant::now();
    let out = Command::new(bin)
        .env("CLOUDFLARE_API_TOKEN", "soak")
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
            "--retries",
            "20",
            "--retry-delay",
            "0.01",
            "--junit",
            junit.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let _ = serve.kill();
    let _ = serve.wait();

    let xml = std::fs::read_to_string(&junit).expect("the run wrote its JUnit report");
    let doc = roxmltree::Document::parse(&xml).expect("the report parses");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|e| e.has_tag_name("testcase"))
        .collect();
    let count = |tag: &str| {
        cases
            .iter()
            .filter(|c| c.children().any(|x| x.has_tag_name(tag)))
            .count()
    };
    let (failed, errors) = (count("failure"), count("error"));
    let samples = samples.lock().unwrap().clone();
    let quarter = samples.get(samples.len() / 4).copied().unwrap_or(0.0);
    let last = samples.last().copied().unwrap_or(0.0);
    let peak = samples.iter().copied().fold(0.0, f64::max);
    println!(
        "soak: {n} cases through serve with 3% 429 + 3% 503 + 2 ms latency in {secs:.1} s ({:.0} cases/s); exit {:?}",
        n as f64 / secs,
        out.status.code()
    );
    println!(
        "  JUnit: {} testcases, {} passed, {failed} failed, {errors} could not run",
        cases.len(),
        cases.len() - failed - errors
    );
    println!(
        "  serve memory: {quarter:.1} MiB at a quarter of the run, {last:.1} MiB at the end, peak {peak:.1} MiB ({} samples)",
        samples.len()
    );
    assert_eq!(cases.len(), n, "every case is accounted for in the report");
    assert!(
        last <= quarter * 1.5 + 8.0,
        "serve's memory grew from {quarter:.1} to {last:.1} MiB"
    );
}

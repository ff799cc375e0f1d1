//! End-to-end benchmark: 10,000 generated cases against the example shop project, through the
//! whole `rulegate test` (release build) with the local backend, then through `rulegate serve`
//! over loopback with `--backend cloudflare --concurrency 32`. Prints wall time, cases per
//! second and peak memory of the `rulegate test` process.
//!
//!     cargo bench --bench cases
//!     cargo bench --bench cases -- --cases 2000

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

const PATHS: &[&str] = &[
    "/",
    "/admin/orders",
    "/login",
    "/api/v2/products",
    "/search?q=shoes",
    "/shop/old-sale",
    "/legacy/cart",
    "/wp-login.php",
    "/blog/2026",
    "/xmlrpc.php",
];
const COUNTRIES: &[&str] = &["US", "FR", "DE", "KP", "BR", "JP"];

/// Writes `n` cases in files of 1,000.
fn generate(dir: &Path, n: usize) {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    for file in 0..n.div_ceil(1000) {
        let mut s =
            String::from("base_url: https://${ZONE}\ndefaults:\n  skip_response: true\ncases:\n");
        for i in file * 1000..((file + 1) * 1000).min(n) {
            let method = if next(4) == 0 { "POST" } else { "GET" };
            s.push_str(&format!(
                "  - name: case {i}\n    request:\n      method: {method}\n      url: \"{}\"\n      headers: {{ user-agent: \"agent-{}\" }}\n      context: {{ bot_score: {}, geoloc: {{ iso_code: {} }} }}\n    fields: {{ ip.src: 192.0.{}.{} }}\n    expect:\n      status: [200, 301, 302, 403, 451]\n",
                PATHS[next(PATHS.len())],
                next(50),
                1 + next(99),
                COUNTRIES[next(COUNTRIES.len())],
                next(4),
                next(250)
            ));
        }
        std::fs::write(dir.join(format!("gen-{file:02}.yaml")), s).unwrap();
    }
}

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
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--cases")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let bin = env!("CARGO_BIN_EXE_rulegate");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(root.join("rulegate.yaml"), dir.join("rulegate.yaml")).unwrap();
    copy_dir(&root.join("rulesets"), &dir.join("rulesets"));
    copy_dir(&root.join("lists"), &dir.join("lists"));
    generate(dir, n);

    let (secs, result) = timed_run(Command::new(bin).args(["test", dir.to_str().unwrap(), "-q"]));
    let peak = peak_rss_of_children_mib();
    println!(
        "local backend: {n} cases in {secs:.3} s = {:.0} cases/s; peak memory {peak:.1} MiB",
        n as f64 / secs
    );
    println!("  {result}");

    let mut serve = Command::new(bin)
        .args(["serve", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let api = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("serve prints its address")
        .to_string();
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

//! `rulegate replay` end to end (release build): a generated Logpush `http_requests` file
//! (gzip NDJSON, ~30 fields a line, as a Logpush job with custom request headers writes them)
//! through the example project's rulesets, on one worker (`--jobs 1`: requests per second per
//! core) and on every core, then against a git baseline. Prints requests per second and the
//! peak memory of the replaying process at each size, which must not grow with the input.
//!
//!     cargo bench --bench replay                  # 1,000,000 and 5,000,000 lines
//!     cargo bench --bench replay -- --lines 200000

mod common;

use std::io::Write as _;
use std::path::Path;
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

const PATHS: &[&str] = &[
    "/",
    "/products/shoes-42?color=red&size=9",
    "/cart",
    "/api/v2/products?page=3",
    "/static/app.9f3c1.js",
    "/admin/orders",
    "/login",
    "/search?q=summer+dress",
    "/wp-login.php",
    "/blog/2026/11/sale",
    "/download?file=..%2F..%2Fetc%2Fpasswd",
    "/images/hero.webp",
];

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];

/// One generated line: a pseudo-random but deterministic mix of paths, clients and fields.
fn line(i: u64, out: &mut Vec<u8>) {
    let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let pick = |n: usize, shift: u32| ((h >> shift) as usize) % n;
    let path = PATHS[pick(PATHS.len(), 7)];
    let method = if path == "/login" && h & 1 == 0 {
        "POST"
    } else {
        "GET"
    };
    let ua = AGENTS[pick(AGENTS.len(), 17)];
    let country = ["us", "fr", "de", "gb", "kp", "jp"][pick(6, 23)];
    let ip_c = (h >> 29) & 0xff;
    let ip_d = (h >> 37) & 0xff;
    let bot = 1 + (h >> 41) % 99;
    let _ = writeln!(
        out,
        concat!(
            r#"{{"BotScore":{bot},"BotScoreSrc":"Machine Learning","CacheCacheStatus":"dynamic","ClientASN":{asn},"#,
            r#""ClientCountry":"{country}","ClientDeviceType":"desktop","ClientIP":"203.0.{c}.{d}","#,
            r#""ClientRequestBytes":{bytes},"ClientRequestHost":"www.example.com","ClientRequestMethod":"{method}","#,
            r#""ClientRequestPath":"{path_only}","ClientRequestProtocol":"HTTP/2","ClientRequestReferer":"https://www.example.com/","#,
            r#""ClientRequestScheme":"https","ClientRequestURI":"{path}","ClientRequestUserAgent":"{ua}","#,
            r#""ClientSSLCipher":"AEAD-AES128-GCM-SHA256","ClientSSLProtocol":"TLSv1.3","ClientSrcPort":{port},"#,
            r#""EdgeColoCode":"CDG","EdgeResponseBytes":{resp},"EdgeResponseStatus":200,"#,
            r#""EdgeStartTimestamp":"2026-12-01T10:{min:02}:{sec:02}Z","JA3Hash":"e7d705a3286e19ea42f587b344ee6865","#,
            r#""OriginResponseStatus":200,"RayID":"8e{i:014x}","#,
            r#""RequestHeaders":{{"accept":"text/html,application/xhtml+xml","accept-language":"fr-FR,fr;q=0.9,en;q=0.8","x-forwarded-proto":"https"}},"#,
            r#""SecurityAction":"","SecurityRuleID":"","WAFAttackScore":{waf},"ZoneName":"example.com"}}"#
        ),
        bot = bot,
        asn = 64_496 + (h >> 45) % 10,
        country = country,
        c = ip_c,
        d = ip_d,
        bytes = 400 + (h >> 13) % 900,
        method = method,
        path_only = path.split('?').next().unwrap_or(path),
        path = path,
        ua = ua,
        port = 1024 + (h >> 19) % 60_000,
        resp = 1000 + (h >> 11) % 50_000,
        min = (i / 60) % 60,
        sec = i % 60,
        i = i,
        waf = 1 + (h >> 51) % 99,
    );
}

fn generate(path: &Path, lines: u64) -> u64 {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        flate2::Compression::fast(),
    );
    let mut buf = Vec::with_capacity(1 << 20);
    let mut raw = 0;
    for i in 0..lines {
        line(i, &mut buf);
        if buf.len() > 1 << 20 {
            raw += buf.len() as u64;
            gz.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    raw += buf.len() as u64;
    gz.write_all(&buf).unwrap();
    gz.finish().unwrap().flush().unwrap();
    raw
}

fn run(bin: &str, dir: &Path, args: &[&str]) -> f64 {
    let start = Instant::now();
    let out = Command::new(bin)
        .current_dir(dir)
        .arg("replay")
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "replay {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.email=b@example.com",
            "-c",
            "user.name=bench",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<u64> = match args.iter().position(|a| a == "--lines") {
        Some(i) => vec![args[i + 1].parse().expect("--lines N")],
        None => vec![1_000_000, 5_000_000],
    };
    let bin = env!("CARGO_BIN_EXE_rulegate");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The example project in a repository whose last commit changes a rule.
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("suites"),
        &dir.join("project"),
    );
    git(dir, &["init", "-q"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "base"]);
    let waf = dir.join("project/rulesets/zone-http_request_firewall_custom.json");
    let text = std::fs::read_to_string(&waf).unwrap();
    std::fs::write(&waf, text.replacen("\"managed_challenge\"", "\"block\"", 1)).unwrap();
    git(dir, &["commit", "-qam", "candidate"]);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for n in sizes {
        let log = dir.join(format!("http_requests-{n}.log.gz"));
        let start = Instant::now();
        let raw = generate(&log, n);
        let gz = std::fs::metadata(&log).unwrap().len();
        println!(
            "{n} lines: {:.0} MiB of NDJSON, {:.0} MiB gzip (generated in {:.1} s)",
            raw as f64 / 1048576.0,
            gz as f64 / 1048576.0,
            start.elapsed().as_secs_f64()
        );
        let file = log.file_name().unwrap().to_str().unwrap();
        let one = run(
            bin,
            dir,
            &[file, "--project", "project", "--jobs", "1", "--no-progress"],
        );
        println!(
            "  --jobs 1:             {one:.2} s = {:.0} requests/s per core; peak memory so far {:.1} MiB",
            n as f64 / one,
            peak_rss_of_children_mib()
        );
        let all = run(bin, dir, &[file, "--project", "project", "--no-progress"]);
        println!(
            "  --jobs {cores} (all cores): {all:.2} s = {:.0} requests/s; peak memory so far {:.1} MiB",
            n as f64 / all,
            peak_rss_of_children_mib()
        );
        let base = run(
            bin,
            dir,
            &[
                file,
                "--project",
                "project",
                "--baseline",
                "HEAD~1",
                "--no-progress",
                "--json",
                "out.json",
            ],
        );
        println!(
            "  --baseline HEAD~1:    {base:.2} s = {:.0} requests/s (two evaluations each); peak memory so far {:.1} MiB",
            n as f64 / base,
            peak_rss_of_children_mib()
        );
        std::fs::remove_file(&log).unwrap();
    }
}

//! The OWASP CRS emulation's speed (release build): requests per second on one core at
//! paranoia levels 1 and 4, over CRS's own regression requests (`../shared/owasp/`, mostly
//! attacks) and over an ordinary-traffic mix (browser page loads, API calls with JSON bodies,
//! form posts, static assets). The rules are compiled once and shared, as a project does.
//!
//!     cargo bench --bench owasp                    # CRS from RULEGATE_CRS or Debian's package
//!     RULEGATE_CRS=~/coreruleset cargo bench --bench owasp
//!     cargo bench --bench owasp -- --each          # each ordinary request alone, at PL1

use std::path::{Path, PathBuf};

use std::time::Instant;

use rulegate::owasp::{Crs, Request, Settings, ftw};

fn ordinary() -> Vec<Request> {
    let browser = |path: &str| Request {
        method: "GET".into(),
        uri: path.into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), "www.example.com".into()),
            (
                "User-Agent".into(),
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0".into(),
            ),
            (
                "Accept".into(),
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".into(),
            ),
            ("Accept-Language".into(), "en-US,en;q=0.5".into()),
            ("Accept-Encoding".into(), "gzip, deflate, br".into()),
            (
                "Cookie".into(),
                "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234.5678".into(),
            ),
            ("Referer".into(), "https://www.example.com/".into()),
        ],
        body: Vec::new(),
        remote_addr: "192.0.2.10".into(),
    };
    let mut out = Vec::new();
    for p in [
        "/",
        "/products?page=2&sort=price_asc",
        "/search?q=running+shoes&size=42",
        "/static/app.3f2a1c.js",
        "/images/hero.webp",
        "/blog/2026/11/how-we-ship-faster",
        "/account/orders?status=shipped",
    ] {
        out.push(browser(p));
    }
    let mut api = browser("/api/cart/items");
    api.method = "POST".into();
    api.headers
        .push(("Content-Type".into(), "application/json".into()));
    api.body =
        br#"{"sku":"SHOE-42-BLK","quantity":2,"gift":false,"note":"Leave at the door, thanks!"}"#
            .to_vec();
    api.headers
        .push(("Content-Length".into(), api.body.len().to_string()));
    out.push(api);
    let mut form = browser("/login");
    form.method = "POST".into();
    form.headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    form.body = b"email=jane.doe%40example.com&password=correct+horse+battery&remember=on".to_vec();
    form.headers
        .push(("Content-Length".into(), form.body.len().to_string()));
    out.push(form);
    out
}

fn regression() -> Vec<Request> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/owasp/crs-3.3.4-regression");
    match ftw::read_tree(&dir) {
        Ok(files) => files
            .into_iter()
            .flat_map(|(_, _, cases)| cases)
            .map(|c| c.request)
            .collect(),
        Err(e) => {
            eprintln!("note: {e}; only the ordinary mix is measured");
            Vec::new()
        }
    }
}

fn measure(crs: &Crs, reqs: &[Request], paranoia: u8) -> f64 {
    let settings = Settings {
        paranoia,
        without_blocking: true,
    };
    // At least ~1 s of work, and every request at least 20 times.
    let start = Instant::now();
    let mut n = 0u64;
    let mut matched = 0usize;
    while n < reqs.len() as u64 * 20 || start.elapsed().as_secs_f64() < 1.0 {
        for r in reqs {
            let out = crs.evaluate(r, &settings, &|_| false);
            matched += out.evaluated.iter().filter(|e| e.matched).count();
            n += 1;
        }
    }
    std::hint::black_box(matched);
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let path = std::env::var_os("RULEGATE_CRS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(rulegate::owasp::DEBIAN_RULES));
    let t = Instant::now();
    let crs = match Crs::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: no CRS release ({e}); install modsecurity-crs or set RULEGATE_CRS");
            return;
        }
    };
    println!(
        "{} ({} rules) compiled in {:.0} ms",
        crs.version(),
        crs.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    if std::env::args().any(|a| a == "--each") {
        // Per ordinary request, at PL1: which ones cost what.
        for r in ordinary() {
            let rate = measure(&crs, std::slice::from_ref(&r), 1);
            println!("{:>9.0} requests/s  {} {}", rate, r.method, r.uri);
        }
        return;
    }
    let mixes = [
        ("ordinary traffic", ordinary()),
        ("CRS regression requests", regression()),
    ];
    for (name, reqs) in &mixes {
        if reqs.is_empty() {
            continue;
        }
        for pl in [1, 4] {
            let rate = measure(&crs, reqs, pl);
            println!(
                "{name:<24} ({:>4} requests) PL{pl}: {rate:>9.0} requests/s on one core",
                reqs.len()
            );
        }
    }
}

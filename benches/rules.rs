//! Rules-engine benchmark: compiles 1,000 realistic WAF-style expressions (host, path,
//! header, IP, ASN, threat- and bot-score conditions; about a sixth with regexes; sets;
//! wildcards; `[*]` quantifiers) and evaluates each against 10,000 deterministic generated
//! requests on one core. Prints compile time and evaluations per second.
//!
//!     cargo bench --bench rules
//!     cargo bench --bench rules -- --exprs FILE     # one expression per line instead
//!     cargo bench --bench rules -- --requests 2000  # fewer requests

use std::hint::black_box;
use std::time::Instant;

use rulegate::rules::{self, Context, Filter, IpSet, List, Lists, request};
use rulegate::trace::{Geoloc, TraceContext, TraceRequest};

/// A small deterministic generator (xorshift64*), so every run sees the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const HOSTS: &[&str] = &[
    "shop.example.com",
    "api.example.com",
    "www.example.com",
    "static.example.net",
    "admin.example.org",
    "blog.example.io",
];
const PATHS: &[&str] = &[
    "/",
    "/login",
    "/admin/users",
    "/api/v1/orders",
    "/api/v2/users/42",
    "/wp-login.php",
    "/static/app.js",
    "/search",
    "/cart/checkout",
    "/../etc/passwd",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0",
    "curl/8.4.0",
    "python-requests/2.31",
    "sqlmap/1.7",
    "Googlebot/2.1",
    "Mozilla/5.0 (iPhone) Safari/605.1",
];
const COUNTRIES: &[&str] = &["US", "FR", "DE", "CN", "RU", "BR", "GB", "JP"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD"];

fn condition(r: &mut Rng, i: u64) -> String {
    match r.below(18) {
        0 => format!(r#"http.host eq "{}""#, r.pick(HOSTS)),
        1 => format!(
            r#"http.host in {{"{}" "{}" "x{i}.example.com"}}"#,
            r.pick(HOSTS),
            r.pick(HOSTS)
        ),
        2 => format!(
            r#"http.host wildcard "*.example.{}""#,
            r.pick(&["com", "net", "org"])
        ),
        3 => format!(
            r#"starts_with(http.request.uri.path, "{}")"#,
            r.pick(&["/api/", "/admin", "/static/", "/wp-"])
        ),
        4 => format!(
            r#"http.request.uri.path contains "{}""#,
            r.pick(&["admin", "login", "..", "users"])
        ),
        5 => format!(r#"http.request.uri.path eq "{}""#, r.pick(PATHS)),
        6 => format!(
            r#"http.user_agent contains "{}""#,
            r.pick(&["curl", "bot", "python", "sqlmap"])
        ),
        7 => format!(r#"any(http.request.headers["x-api-key"][*] eq "key-{i}")"#),
        8 => format!(
            "ip.src in {{10.0.0.0/8 192.168.{}.0/24 203.0.113.{}}}",
            r.below(255),
            r.below(255)
        ),
        9 => format!(
            "ip.src.asnum in {{13335 {} {}}}",
            64500 + r.below(100),
            15169
        ),
        10 => format!("cf.threat_score gt {}", r.below(50)),
        11 => format!("cf.bot_management.score lt {}", 1 + r.below(40)),
        12 => format!(
            r#"ip.src.country in {{"{}" "{}"}}"#,
            r.pick(COUNTRIES),
            r.pick(COUNTRIES)
        ),
        13 => format!(
            r#"http.request.method in {{"{}" "{}"}}"#,
            r.pick(METHODS),
            r.pick(METHODS)
        ),
        14 => format!(
            r#"any(http.request.uri.args.names[*] eq "{}")"#,
            r.pick(&["debug", "id", "q", "redirect"])
        ),
        15 => format!(
            r#"http.request.full_uri wildcard "https://*.example.com/{}*""#,
            r.pick(&["api/", "wp-", "admin"])
        ),
        16 => format!(
            r#"http.request.uri.path.extension in {{"php" "asp" "{}"}}"#,
            r.pick(&["jsp", "cgi"])
        ),
        _ => format!(
            r#"not http.request.headers["referer"][0] contains "{}""#,
            r.pick(HOSTS)
        ),
    }
}

fn regex_condition(r: &mut Rng, i: u64) -> String {
    match r.below(4) {
        0 => format!(
            r#"http.request.uri.path matches "^/api/v[0-9]+/users/{}""#,
            i % 97
        ),
        1 => r#"http.user_agent matches "(?i)(sqlmap|nikto|nmap|masscan)""#.to_string(),
        2 => format!(
            r#"http.request.uri.query matches "(union|select).{{0,20}}{}""#,
            i % 13
        ),
        _ => r#"http.request.uri.path matches "\.(php|asp|jsp)$""#.to_string(),
    }
}

fn expressions(n: u64) -> Vec<String> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let k = 2 + r.below(3);
            let mut parts: Vec<String> = (0..k).map(|_| condition(&mut r, i)).collect();
            if i % 6 == 0 {
                parts[0] = regex_condition(&mut r, i);
            }
            match r.below(3) {
                0 => parts.join(" and "),
                1 => format!(
                    "({}) or ({})",
                    parts[..1].join(" and "),
                    parts[1..].join(" and ")
                ),
                _ => format!("{} and not ({})", parts[0], parts[1..].join(" or ")),
            }
        })
        .collect()
}

/// Trace requests as suites send them, with the `fields` a case adds (client IP, ASN).
fn requests(n: u64) -> Vec<(TraceRequest, serde_json::Value)> {
    let mut r = Rng(0x1234_5678_9abc_def1);
    (0..n)
        .map(|i| {
            let mut req = TraceRequest {
                method: r.pick(METHODS).into(),
                url: format!(
                    "https://{}{}?q={}&id={}",
                    r.pick(HOSTS),
                    r.pick(PATHS),
                    r.below(100),
                    i
                ),
                ..Default::default()
            };
            req.headers
                .insert("user-agent".into(), r.pick(AGENTS).into());
            if r.below(4) == 0 {
                req.headers
                    .insert("x-api-key".into(), format!("key-{}", r.below(1000)));
            }
            if r.below(3) == 0 {
                req.headers
                    .insert("referer".into(), format!("https://{}/", r.pick(HOSTS)));
            }
            req.context = Some(TraceContext {
                bot_score: Some(1 + r.below(99) as i64),
                threat_score: Some(r.below(60) as i64),
                geoloc: Some(Geoloc {
                    iso_code: Some(r.pick(COUNTRIES).into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            let ip = format!(
                "{}.{}.{}.{}",
                [10, 192, 203, 198][r.below(4) as usize],
                r.below(256),
                r.below(256),
                r.below(256)
            );
            let asn = [13335, 15169, 64512, 7922][r.below(4) as usize];
            let fields = serde_json::json!({ "ip.src": ip, "ip.src.asnum": asn });
            (req, fields)
        })
        .collect()
}

// The allocator the rulegate binary uses.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lists() -> Lists {
    let mut l = Lists::new();
    let mut s = IpSet::new();
    s.add_cidr("192.0.2.0".parse().unwrap(), 24);
    l.insert("office", List::Ip(s.finish()));
    l
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let exprs: Vec<String> = match arg("--exprs") {
        Some(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect(),
        None => expressions(1000),
    };
    let n_req: u64 = arg("--requests")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let lists = lists();

    // Compile: best of 5 runs.
    let mut best = f64::MAX;
    let mut filters: Vec<Filter> = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let compiled: Vec<Filter> = exprs
            .iter()
            .map(|e| rules::compile_filter(e, &lists).unwrap_or_else(|err| panic!("`{e}`: {err}")))
            .collect();
        best = best.min(start.elapsed().as_secs_f64());
        filters = compiled;
    }
    let regexes = exprs.iter().filter(|e| e.contains("matches")).count();
    println!("expressions: {} ({} with regexes)", exprs.len(), regexes);
    println!(
        "compile: {:.2} ms for all (best of 5), {:.1} µs each",
        best * 1e3,
        best * 1e6 / exprs.len() as f64
    );

    // The request → fields path (`request::context`: every field a Trace request determines,
    // ~100, and the case's `fields`): best of 5 passes over the requests.
    let reqs = requests(n_req);
    // Each context is built and dropped, as a trace does.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for (req, fields) in &reqs {
            drop(black_box(
                request::context(black_box(req), fields.as_object()).expect("valid request"),
            ));
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "requests: {} contexts built and dropped in {:.1} ms ({:.2} µs each, best of 5)",
        reqs.len(),
        best * 1e3,
        best * 1e6 / reqs.len() as f64
    );
    let contexts: Vec<Context> = reqs
        .iter()
        .map(|(req, fields)| request::context(req, fields.as_object()).expect("valid request"))
        .collect();

    let start = Instant::now();
    let mut matched = 0u64;
    for ctx in &contexts {
        for f in &filters {
            matched += u64::from(black_box(f).execute(black_box(ctx)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let evals = (filters.len() * contexts.len()) as f64;
    println!("evaluate: {evals:.0} evaluations in {secs:.3} s on one core");
    println!(
        "evaluations per second: {:.2} million ({:.1} ns each); {:.1}% matched",
        evals / secs / 1e6,
        secs * 1e9 / evals,
        matched as f64 * 100.0 / evals
    );
}

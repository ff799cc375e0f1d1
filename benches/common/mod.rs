//! What the end-to-end benches share: the example project copied with generated cases, and
//! `rulegate serve` started on a free port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Copies the directory tree `from` to `to`.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
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
pub(crate) fn generate(dir: &Path, n: usize) {
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

/// Copies the example project's configuration, rulesets and lists into `dir` and writes `n`
/// generated cases beside them.
pub(crate) fn project(dir: &Path, n: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    std::fs::copy(root.join("rulegate.yaml"), dir.join("rulegate.yaml")).unwrap();
    copy_dir(&root.join("rulesets"), &dir.join("rulesets"));
    copy_dir(&root.join("lists"), &dir.join("lists"));
    generate(dir, n);
}

/// `rulegate serve` over `dir` on 127.0.0.1:0 with `extra` flags; its API URL.
pub(crate) fn serve(bin: &str, dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(["serve", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let api = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("serve prints its address")
        .to_string();
    (child, api)
}

/// `--cases N` from the command line, else `default`.
pub(crate) fn cases_arg(default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--cases")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

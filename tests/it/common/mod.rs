//! A Trace API test server on 127.0.0.1:0 (real sockets, axum), with auth checked server-side
//! for both schemes, every request recorded, and a scripted behaviour per test; plus helpers
//! to run the real `rulegate` binary and to parse and validate JUnit.

pub(crate) mod corpus;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "tok-SECRET-4f1d2c9e8b7a6f5e4d3c2b1a";
pub(crate) const EMAIL: &str = "ci@shop.example";
pub(crate) const KEY: &str = "key-SECRET-0123456789abcdef0123456789";
pub(crate) const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub body: Value,
    pub authorized: bool,
}

impl Recorded {
    pub(crate) fn url(&self) -> &str {
        self.body["url"].as_str().unwrap_or("")
    }
}

/// What the server answers.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub(crate) fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: v.to_string(),
            delay: Duration::ZERO,
        }
    }
}

pub(crate) type Behavior = Arc<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct AppState {
    auth: Auth,
    behavior: Behavior,
    log: Arc<Mutex<Vec<Recorded>>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Token,
    EmailKey,
}

pub(crate) struct Server {
    pub api_url: String,
    pub log: Arc<Mutex<Vec<Recorded>>>,
}

/// Serves `app` on 127.0.0.1 (a free port) from a thread of its own, for the test's life.
pub(crate) fn serve_app(app: Router) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

impl Server {
    pub(crate) fn start(auth: Auth, behavior: Behavior) -> Server {
        let log: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let state = AppState {
            auth,
            behavior,
            log: log.clone(),
        };
        let addr = serve_app(
            Router::new()
                .route(
                    "/client/v4/accounts/{account}/request-tracer/trace",
                    post(handle),
                )
                .with_state(state),
        );
        Server {
            api_url: format!("http://{addr}/client/v4"),
            log,
        }
    }

    /// Requests that passed auth, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.authorized)
            .cloned()
            .collect()
    }

    pub(crate) fn all_requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
}

async fn handle(
    State(st): State<AppState>,
    UrlPath(account): UrlPath<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorized = match st.auth {
        Auth::Token => h("authorization").as_deref() == Some(&format!("Bearer {TOKEN}")),
        Auth::EmailKey => {
            h("x-auth-email").as_deref() == Some(EMAIL) && h("x-auth-key").as_deref() == Some(KEY)
        }
    };
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let rec = Recorded {
        body: parsed,
        authorized,
    };
    let n = {
        let mut log = st.log.lock().unwrap();
        log.push(rec.clone());
        log.iter()
            .filter(|r| r.authorized)
            .count()
            .saturating_sub(1)
    };
    if !authorized {
        return (StatusCode::FORBIDDEN, json!({"success": false, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": [], "result": null}).to_string()).into_response();
    }
    if account != ACCOUNT {
        return (StatusCode::BAD_REQUEST, json!({"success": false, "errors": [{"code": 7003, "message": format!("Could not route to /client/v4/accounts/{account}/request-tracer/trace, perhaps your object identifier is invalid?")}], "messages": [], "result": null}).to_string()).into_response();
    }
    let reply = (st.behavior)(&rec, n);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

fn rule(id: &str, description: &str, expression: &str, action: &str, matched: bool) -> Value {
    json!({"type": "rule", "step_name": id, "description": description, "expression": expression,
           "action": action, "action_parameters": {}, "matched": matched})
}

/// A small zone, evaluated the way the live API reports it: phase → ruleset → rules.
/// `/admin*` from outside the US is blocked; `/login` with a bot score under 30 is challenged;
/// everything is logged.
pub(crate) fn shop_trace(req: &Value) -> Value {
    let url = req["url"].as_str().unwrap_or("");
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_else(|| "/".into());
    let country = req["context"]["geoloc"]["iso_code"]
        .as_str()
        .unwrap_or("US");
    let bot = req["context"]["bot_score"].as_i64().unwrap_or(99);
    let admin = path.starts_with("/admin") && !path.starts_with("/admin-docs") && country != "US";
    let login = path == "/login" && bot < 30;
    let mut rules = vec![rule("r-log", "log everything", "true", "log", true)];
    rules.push(rule(
        "r-admin",
        "block admin outside the office",
        "starts_with(http.request.uri.path, \"/admin\")",
        "block",
        admin,
    ));
    if !admin {
        rules.push(rule(
            "r-login",
            "challenge bots on login",
            "http.request.uri.path eq \"/login\"",
            "managed_challenge",
            login,
        ));
    }
    let status = if admin || login { 403 } else { 200 };
    json!({"status_code": status, "trace": [
        {"type": "phase", "step_name": "http_request_firewall_custom", "matched": admin || login, "trace": [
            {"type": "ruleset", "step_name": "rs-zone-custom", "name": "default", "kind": "zone", "matched": true, "trace": rules}
        ]}
    ]})
}

pub(crate) fn ok_envelope(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

/// The shop zone, always answering.
pub(crate) fn shop() -> Behavior {
    Arc::new(|r: &Recorded, _| Reply::json(200, ok_envelope(shop_trace(&r.body))))
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The real binary, with no Cloudflare or rulegate settings from the caller's environment:
/// every `CLOUDFLARE_*`, `RULEGATE_*`, `GITHUB_*` and `TF_VAR_*` variable and `NO_COLOR`
/// removed. Every test runs the
/// binary through here.
pub(crate) fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rulegate"));
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if ["CLOUDFLARE_", "RULEGATE_", "GITHUB_", "TF_VAR_"]
            .iter()
            .any(|p| n.starts_with(p))
            || n == "NO_COLOR"
        {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// Runs the real binary with the Cloudflare credentials of `auth` (and nothing from the
/// caller's environment).
pub(crate) fn rulegate(server: &Server, auth: Auth, args: &[&str]) -> Output {
    let mut cmd = bin();
    match auth {
        Auth::Token => cmd.env("CLOUDFLARE_API_TOKEN", TOKEN),
        Auth::EmailKey => cmd
            .env("CLOUDFLARE_EMAIL", EMAIL)
            .env("CLOUDFLARE_API_KEY", KEY),
    };
    cmd.env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CLOUDFLARE_API_BASE_URL", &server.api_url)
        .args(["test", "--backend", "cloudflare"])
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A parsed JUnit report: per testcase (classname::name) its result kind.
#[derive(Debug)]
pub(crate) struct Junit {
    pub suites: Vec<(String, usize, usize, usize)>,
    pub cases: Vec<(String, &'static str, String)>,
    pub text: String,
}

impl Junit {
    pub(crate) fn kinds(&self) -> Vec<(String, &'static str)> {
        self.cases.iter().map(|(n, k, _)| (n.clone(), *k)).collect()
    }

    pub(crate) fn case(&self, name: &str) -> (&'static str, &str) {
        let c = self
            .cases
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no testcase {name} in {:?}", self.kinds()));
        (c.1, &c.2)
    }
}

/// Parses the report with an XML parser and validates it against shared/junit/junit-10.xsd.
pub(crate) fn junit(path: &Path) -> Junit {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut suites = Vec::new();
    let mut cases = Vec::new();
    for ts in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let attr = |n: &str| ts.attribute(n).unwrap().parse::<usize>().unwrap();
        suites.push((
            ts.attribute("name").unwrap().to_string(),
            attr("tests"),
            attr("failures"),
            attr("errors"),
        ));
        for tc in ts.children().filter(|n| n.has_tag_name("testcase")) {
            let name = format!(
                "{}::{}",
                tc.attribute("classname").unwrap(),
                tc.attribute("name").unwrap()
            );
            // A tagged case carries its tags in <system-out>: the outcome is the other child.
            let child = tc.children().find(|c| {
                c.is_element() && !matches!(c.tag_name().name(), "system-out" | "system-err")
            });
            let (kind, text) = match child {
                None => ("passed", String::new()),
                Some(c) => {
                    let k = match c.tag_name().name() {
                        "failure" => "failure",
                        "error" => "error",
                        "skipped" => "skipped",
                        other => panic!("unexpected <{other}>"),
                    };
                    (
                        k,
                        format!(
                            "{}\n{}",
                            c.attribute("message").unwrap_or(""),
                            c.text().unwrap_or("")
                        ),
                    )
                }
            };
            cases.push((name, kind, text));
        }
    }
    validate_schema(path);
    Junit {
        suites,
        cases,
        text,
    }
}

fn validate_schema(path: &Path) {
    // A copy of shared/junit/junit-10.xsd (Jenkins xUnit plugin, MIT), kept in the repo.
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit-10.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(path)
        .output()
        .expect("xmllint is needed to validate JUnit (Debian package libxml2-utils; .ci/run installs it)");
    assert!(
        out.status.success(),
        "JUnit does not validate against junit-10.xsd:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file of `../shared/` (beside the checkout, never copied into the repository): its text,
/// or `None` with the reason printed when shared/ is absent (a user's fresh clone). CI sets
/// `RULEGATE_REQUIRE_SHARED=1`, which makes its absence a failure.
pub(crate) fn shared_text(rel: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) => {
            assert!(
                std::env::var_os("RULEGATE_REQUIRE_SHARED").is_none(),
                "{}: {e}; RULEGATE_REQUIRE_SHARED is set, so shared/ must be beside the checkout",
                path.display()
            );
            eprintln!(
                "skipped: {} is absent ({e}); this test reads shared/ beside the checkout",
                path.display()
            );
            None
        }
    }
}

/// Runs git in `dir` as a throwaway identity (no signing, `main` as the first branch); its
/// stdout. Panics with git's output when it fails.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", outcome(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `len` bytes of `a`/`b` in a fixed pseudo-random order: the input on which a small regex's
/// lazy DFA gives up and the search costs its expanded size times the length.
pub(crate) fn random_ab(len: usize) -> String {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x & 1 == 0 { 'a' } else { 'b' }
        })
        .collect()
}

pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes a suite file into `dir` and returns its path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// `rulegate serve` on 127.0.0.1:0, killed on drop.
pub(crate) struct Serve {
    pub(crate) child: std::process::Child,
    /// The API base URL, `http://127.0.0.1:PORT/client/v4`.
    pub(crate) api: String,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
}

impl Serve {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Serve {
        let mut child = bin()
            .args(["serve", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let api = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let addr = api
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Serve { child, api, addr }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the directory tree `from` to `to`.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A finished command's exit status and output, for assertion messages.
pub(crate) fn outcome(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

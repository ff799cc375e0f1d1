//! `rulegate serve`: the local engine behind the Request Trace API, plus the read side of the
//! Rulesets and Lists APIs, with the v4 envelope and error codes, optional Bearer auth, and
//! reproducible fault injection (latency, 429 with Retry-After, 5xx) for testing clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::backend::Local;
use crate::cloudflare::Secret;
use crate::diag::Diagnostic;
use crate::limits;
use crate::project::Project;
use crate::ruleset::Level;
use crate::ruleset::model::ListFile;
use crate::trace::{Envelope, Extras, TraceRequest, TraceResult};

/// Reproducible fault injection.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) latency: Duration,
    pub(crate) share_429: f64,
    pub(crate) share_5xx: f64,
    pub(crate) retry_after: u64,
    pub(crate) seed: u64,
    counter: AtomicU64,
}

impl Faults {
    pub(crate) fn new(
        latency: Duration,
        share_429: f64,
        share_5xx: f64,
        retry_after: u64,
        seed: u64,
    ) -> Faults {
        Faults {
            latency,
            share_429,
            share_5xx,
            retry_after,
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// A number in [0, 1) for the n-th request: a hash of (seed, n).
    fn draw(&self) -> f64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut x = self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the server needs besides the project.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) listen: SocketAddr,
    /// How long one trace may evaluate.
    pub(crate) trace_budget: Duration,
    pub(crate) token: Option<Secret>,
    pub(crate) faults: Faults,
}

#[derive(Debug)]
struct AppState {
    project: Arc<Project>,
    local: Arc<Local>,
    token: Option<Secret>,
    faults: Faults,
}

type St = State<Arc<AppState>>;

fn envelope_error(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    (status, axum::Json(Envelope::<Value>::error(code, message))).into_response()
}

fn ok<T: serde::Serialize>(v: T) -> Response {
    (StatusCode::OK, axum::Json(Envelope::ok(v))).into_response()
}

fn ok_list<T: serde::Serialize>(items: Vec<T>) -> Response {
    let n = items.len();
    let body = json!({"success": true, "errors": [], "messages": [], "result": items,
        "result_info": {"page": 1, "per_page": n.max(1), "count": n, "total_count": n, "total_pages": 1}});
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The account or zone a request names.
enum Scope<'a> {
    Account(&'a str),
    Zone(&'a str),
}

/// The scope named by a `/client/v4/accounts/{id}/…` or `/client/v4/zones/{id}/…` path.
fn scope(path: &str) -> Option<Scope<'_>> {
    let rest = path.strip_prefix("/client/v4/")?;
    let (what, rest) = rest.split_once('/')?;
    let id = rest.split('/').next()?;
    match what {
        "accounts" => Some(Scope::Account(id)),
        "zones" => Some(Scope::Zone(id)),
        _ => None,
    }
}

/// The refusal for a request, if any: 403 / 10000 unless the Bearer token matches (when one is
/// required); 400 / 7003 when the account or zone is not the project's (when it names them).
fn refuse(st: &AppState, headers: &HeaderMap, scope: Scope) -> Option<Response> {
    if let Some(token) = &st.token {
        let got = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if got != Some(token.expose()) {
            return Some(envelope_error(
                StatusCode::FORBIDDEN,
                10000,
                "Authentication error",
            ));
        }
    }
    let cfg = &st.project.config;
    let (want, got, what) = match scope {
        Scope::Account(a) => (&cfg.account_id, a, "accounts"),
        Scope::Zone(z) => (&cfg.zone_id, z, "zones"),
    };
    match want {
        Some(w) if w != got => Some(envelope_error(
            StatusCode::BAD_REQUEST,
            7003,
            format!(
                "Could not route to /client/v4/{what}/{got}, perhaps your object identifier is invalid?"
            ),
        )),
        _ => None,
    }
}

/// Every routed request passes here first: authentication and the account or zone check.
async fn guard(State(st): St, req: Request, next: Next) -> Response {
    if let Some(scope) = scope(req.uri().path())
        && let Some(refusal) = refuse(&st, req.headers(), scope)
    {
        return refusal;
    }
    next.run(req).await
}

async fn trace(State(st): St, body: axum::body::Bytes) -> Response {
    if !st.faults.latency.is_zero() {
        tokio::time::sleep(st.faults.latency).await;
    }
    let draw = st.faults.draw();
    if draw < st.faults.share_429 {
        let mut r = envelope_error(
            StatusCode::TOO_MANY_REQUESTS,
            971,
            "Please wait and consider throttling your request speed",
        );
        r.headers_mut().insert(
            "retry-after",
            axum::http::HeaderValue::from(st.faults.retry_after),
        );
        return r;
    }
    if draw < st.faults.share_429 + st.faults.share_5xx {
        return envelope_error(
            StatusCode::SERVICE_UNAVAILABLE,
            10013,
            "Service temporarily unavailable (injected)",
        );
    }
    let (req, extras) = match parse_trace_body(&body) {
        Ok(x) => x,
        Err(message) => return envelope_error(StatusCode::BAD_REQUEST, 6007, message),
    };
    // Off the async workers, with a time budget: a slow trace (a pathological regex on a huge
    // value) must not stop the server from answering others.
    match st.local.trace_bounded(&req, &extras).await {
        Ok(result) => ok::<TraceResult>(result),
        Err(e) => envelope_error(StatusCode::BAD_REQUEST, 10001, e.to_string()),
    }
}

/// A trace request body: the Trace API's request plus rulegate's optional `rulegate` key
/// (`fields`, `origin`), checked as the suite loader checks a case's request. The error is
/// the message of a 400 / 6007 answer (a `String`, since that message is all anyone does
/// with it).
fn parse_trace_body(body: &[u8]) -> Result<(TraceRequest, Extras), String> {
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| format!("Malformed JSON in request body: {e}"))?;
    let extras: Extras = match v.as_object_mut().and_then(|o| o.remove("rulegate")) {
        Some(x) => {
            serde_json::from_value(x).map_err(|e| format!("invalid `rulegate` extension: {e}"))?
        }
        None => Extras::default(),
    };
    let req: TraceRequest =
        serde_json::from_value(v).map_err(|e| format!("Invalid trace request: {e}"))?;
    // The same checks the suite loader makes: serve accepts what a suite may say, no more.
    let mut problems = crate::trace::validate::request(&req);
    if let Some(s) = extras.origin.as_ref().and_then(|o| o.status)
        && let Err(p) = crate::trace::validate::origin_status(s)
    {
        problems.push(p);
    }
    if !problems.is_empty() {
        let text: Vec<String> = problems.into_iter().map(|p| p.message).collect();
        return Err(format!("Invalid trace request: {}", text.join("; ")));
    }
    Ok((req, extras))
}

/// Every request, routed or not: too many headers is 431, a request that takes longer than
/// its time is 408, and an error that the HTTP layer produced as plain text (405, 413, a
/// body that is not JSON) is answered in the v4 envelope like every other error.
async fn envelope_layer(req: Request, next: Next) -> Response {
    let uri_len = req.uri().to_string().len();
    if uri_len > limits::SERVE_MAX_URI_BYTES {
        // UNCERTAIN: the live API's code for an overlong URI.
        return envelope_error(
            StatusCode::URI_TOO_LONG,
            6100,
            format!(
                "the request URI is {uri_len} bytes long (at most {})",
                limits::SERVE_MAX_URI_BYTES
            ),
        );
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > limits::SERVE_MAX_HEADER_BYTES {
        return envelope_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            6100,
            format!(
                "the request headers are {header_bytes} bytes (at most {})",
                limits::SERVE_MAX_HEADER_BYTES
            ),
        );
    }
    if req.headers().len() > limits::SERVE_MAX_HEADERS {
        return envelope_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            6100,
            format!(
                "too many request headers: {} (at most {})",
                req.headers().len(),
                limits::SERVE_MAX_HEADERS
            ),
        );
    }
    let Ok(resp) = tokio::time::timeout(limits::SERVE_REQUEST_TIMEOUT, next.run(req)).await else {
        // UNCERTAIN: the live API's code for a request that was not received in time.
        return envelope_error(
            StatusCode::REQUEST_TIMEOUT,
            10408,
            "the request was not received and answered in time",
        );
    };
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let status = resp.status();
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    // UNCERTAIN: the live API's codes for these HTTP-level errors.
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            (7001, "Method not allowed for this endpoint".to_string())
        }
        StatusCode::PAYLOAD_TOO_LARGE => (
            6101,
            format!(
                "the request body is larger than {} MiB",
                limits::SERVE_MAX_BODY_BYTES / (1024 * 1024)
            ),
        ),
        other => (
            6007,
            format!(
                "the request could not be read ({})",
                other.canonical_reason().unwrap_or("error")
            ),
        ),
    };
    envelope_error(status, code, message)
}

fn summaries(project: &Project, kinds: &[&str]) -> Vec<Value> {
    project
        .book
        .rulesets
        .iter()
        .filter(|r| kinds.contains(&r.ruleset.kind.as_str()))
        .filter_map(|r| serde_json::to_value(r.ruleset.summary()).ok())
        .collect()
}

const ACCOUNT_KINDS: &[&str] = &["root", "custom", "managed"];
const ZONE_KINDS: &[&str] = &["zone", "managed"];

async fn account_rulesets(State(st): St) -> Response {
    ok_list(summaries(&st.project, ACCOUNT_KINDS))
}

async fn zone_rulesets(State(st): St) -> Response {
    ok_list(summaries(&st.project, ZONE_KINDS))
}

fn one_ruleset(project: &Project, id: &str, kinds: &[&str]) -> Response {
    match project
        .book
        .ruleset(id)
        .filter(|r| kinds.contains(&r.ruleset.kind.as_str()))
    {
        Some(r) => ok(&r.ruleset),
        // UNCERTAIN: the live API's code for a missing ruleset.
        None => envelope_error(
            StatusCode::NOT_FOUND,
            10007,
            format!("could not find ruleset {id}"),
        ),
    }
}

async fn account_ruleset(State(st): St, Path((_, id)): Path<(String, String)>) -> Response {
    one_ruleset(&st.project, &id, ACCOUNT_KINDS)
}

async fn zone_ruleset(State(st): St, Path((_, id)): Path<(String, String)>) -> Response {
    one_ruleset(&st.project, &id, ZONE_KINDS)
}

fn entrypoint(project: &Project, level: Level, phase: &str) -> Response {
    match project.book.entry_point(level, phase) {
        Some(r) => ok(&r.ruleset),
        None => envelope_error(
            StatusCode::NOT_FOUND,
            10007,
            format!("could not find entrypoint ruleset in the {phase} phase"),
        ),
    }
}

async fn account_entrypoint(State(st): St, Path((_, phase)): Path<(String, String)>) -> Response {
    entrypoint(&st.project, Level::Account, &phase)
}

async fn zone_entrypoint(State(st): St, Path((_, phase)): Path<(String, String)>) -> Response {
    entrypoint(&st.project, Level::Zone, &phase)
}

/// A list's id: its own, or one derived from its name.
pub(crate) fn list_id(l: &ListFile) -> String {
    l.id.clone().unwrap_or_else(|| {
        Sha256::digest(l.name.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

fn list_meta(l: &ListFile) -> Value {
    json!({"id": list_id(l), "name": l.name, "kind": l.kind, "description": l.description.clone().unwrap_or_default(),
           "num_items": l.items.len(), "num_referencing_filters": 0})
}

async fn lists(State(st): St) -> Response {
    ok_list(st.project.list_files.iter().map(list_meta).collect())
}

fn find_list<'a>(project: &'a Project, id: &str) -> Option<&'a ListFile> {
    project.list_files.iter().find(|l| list_id(l) == id)
}

async fn list(State(st): St, Path((_, id)): Path<(String, String)>) -> Response {
    match find_list(&st.project, &id) {
        Some(l) => ok(list_meta(l)),
        None => envelope_error(StatusCode::NOT_FOUND, 10000, format!("list {id} not found")),
    }
}

async fn list_items(State(st): St, Path((_, id)): Path<(String, String)>) -> Response {
    match find_list(&st.project, &id) {
        Some(l) => ok_list(l.items.clone()),
        None => envelope_error(StatusCode::NOT_FOUND, 10000, format!("list {id} not found")),
    }
}

async fn no_route() -> Response {
    envelope_error(StatusCode::NOT_FOUND, 7000, "No route for that URI")
}

/// The HTTP API over `state`.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/client/v4/accounts/{account}/request-tracer/trace",
            post(trace),
        )
        .route(
            "/client/v4/accounts/{account}/rulesets",
            get(account_rulesets),
        )
        .route(
            "/client/v4/accounts/{account}/rulesets/phases/{phase}/entrypoint",
            get(account_entrypoint),
        )
        .route(
            "/client/v4/accounts/{account}/rulesets/{id}",
            get(account_ruleset),
        )
        .route("/client/v4/zones/{zone}/rulesets", get(zone_rulesets))
        .route(
            "/client/v4/zones/{zone}/rulesets/phases/{phase}/entrypoint",
            get(zone_entrypoint),
        )
        .route("/client/v4/zones/{zone}/rulesets/{id}", get(zone_ruleset))
        .route("/client/v4/accounts/{account}/rules/lists", get(lists))
        .route("/client/v4/accounts/{account}/rules/lists/{id}", get(list))
        .route(
            "/client/v4/accounts/{account}/rules/lists/{id}/items",
            get(list_items),
        )
        .fallback(no_route)
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn(envelope_layer))
        .layer(axum::extract::DefaultBodyLimit::max(
            limits::SERVE_MAX_BODY_BYTES,
        ))
        .with_state(state)
}

/// Runs the server until Ctrl-C. Prints the address it listens on first. Each connection
/// has a header read timeout; at most [`limits::SERVE_MAX_CONNECTIONS`] are served at once
/// (others wait in the listen queue); on Ctrl-C the open connections get
/// [`limits::SERVE_SHUTDOWN_GRACE`] to finish, then the server stops anyway.
pub(crate) async fn run(project: Arc<Project>, opts: Options) -> Result<(), Diagnostic> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let describe = project.describe();
    let state = Arc::new(AppState {
        local: Arc::new(Local::new(
            project.book.clone(),
            project.dir.display().to_string(),
            describe.clone(),
            opts.trace_budget,
        )),
        project,
        token: opts.token.filter(|t| !t.expose().is_empty()),
        faults: opts.faults,
    });
    let addr = opts.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Diagnostic::could_not_run(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_or(addr, |a| a);
    println!("rulegate serve: listening on http://{bound}/client/v4 ({describe})");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let app = router(state.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(limits::SERVE_MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits::SERVE_HEADER_TIMEOUT)
        // Generous parser limits, so that what the limits refuse is answered by the envelope
        // layer (431, 414 in the v4 envelope) rather than by hyper's bare errors.
        .max_headers(limits::SERVE_MAX_HEADERS * 10)
        .max_buf_size(1024 * 1024);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.map_err(|e| Diagnostic::could_not_run(e.to_string()))?,
            _ = &mut ctrl_c => break,
        };
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(x) => x,
                // A failed accept (too many open files, a reset) is one connection's problem.
                Err(_) => continue,
            },
            _ = &mut ctrl_c => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    // Graceful shutdown with a deadline: a half-open connection cannot keep the server alive.
    let _ = tokio::time::timeout(limits::SERVE_SHUTDOWN_GRACE, graceful.shutdown()).await;
    for w in state.local.take_warnings() {
        eprintln!(
            "warning: {}",
            crate::escape::console(&crate::escape::scrub(&w))
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bodies_the_suite_loader_refuses_are_refused() {
        for (body, want) in [
            (
                r#"{"method": "get", "url": "https://a.example/"}"#,
                "invalid HTTP method `get`",
            ),
            (
                r#"{"method": "GET", "url": "https://a.example/", "context": {"bot_score": 0}}"#,
                "bot_score 0 is out of range",
            ),
            (
                r#"{"method": "GET", "url": "https://a.example/", "body": {"plain_text": "a", "json": {}}}"#,
                "more than one form",
            ),
            (
                r#"{"method": "GET", "url": "https://a.example/", "nope": 1}"#,
                "unknown field `nope`",
            ),
            (
                r#"{"method": "GET", "url": "/relative"}"#,
                "url: invalid URL",
            ),
        ] {
            let err = parse_trace_body(body.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
        assert!(parse_trace_body(br#"{"method": "GET", "url": "https://a.example/", "rulegate": {"fields": {"ip.src": "192.0.2.1"}}}"#).is_ok());
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#"{"method": "GET", "url": "https://a.example/"#.to_string()),
            Just(r#"", "headers": {"a": "b"}"#.to_string()),
            Just(r#", "body": {"base64": "aGk="}"#.to_string()),
            Just(r#", "context": {"bot_score": 5, "geoloc": {"iso_code": "FR"}}"#.to_string()),
            Just(
                r#", "rulegate": {"fields": {"ip.src": "1.2.3.4"}, "origin": {"status": 404}}"#
                    .to_string()
            ),
            Just("}".to_string()),
            "[ -~]{0,20}",
            "\\PC{0,10}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn any_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_trace_body(&body);
        }

        #[test]
        fn request_shaped_bodies_never_panic(parts in proptest::collection::vec(fragment(), 0..8)) {
            let _ = parse_trace_body(parts.concat().as_bytes());
        }
    }
}

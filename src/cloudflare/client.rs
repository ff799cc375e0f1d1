//! The HTTP client for `POST {api}/accounts/{account_id}/request-tracer/trace`: auth headers,
//! the shared rate limiter, per-request timeout, retries per [`RetryPolicy`], and every failure
//! turned into an [`ApiError`] (a `TraceError` when a trace fails) that keeps Cloudflare's
//! codes and says what to fix.

use std::time::Duration;

use super::error::{ApiError, ApiErrorKind};
use crate::limits::MAX_RESPONSE_BYTES;
use crate::trace::{ApiMessage, Envelope, TraceError, TraceErrorKind, TraceRequest, TraceResult};

use super::auth::Credentials;
use super::ratelimit::{Limiter, RateLimit};
use super::retry::{Failure, RetryPolicy, parse_retry_after};

/// Everything the client needs; built by `config`.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    /// Base URL without a trailing slash, e.g. `https://api.cloudflare.com/client/v4`.
    pub api_url: String,
    pub account_id: String,
    /// `None` only for read requests to a server that needs none (`rulegate serve`).
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub rate: RateLimit,
}

/// The live API client: the REST layer (auth, rate limit, retries, the v4 envelope) shared by
/// the Trace API and the read endpoints `pull` uses. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    cfg: ClientConfig,
    limiter: Limiter,
    endpoint: String,
    /// Set on the first answer that refuses the credentials: later requests are not sent
    /// (the same refusal for every case would be noise, and hammer the API).
    auth_refused: std::sync::atomic::AtomicBool,
}

impl Client {
    pub(crate) fn new(cfg: ClientConfig) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("rulegate/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| ApiError {
                kind: ApiErrorKind::Transport,
                message: format!("cannot build the HTTP client: {e}"),
                hint: None,
                attempts: 1,
            })?;
        let endpoint = format!(
            "{}/accounts/{}/request-tracer/trace",
            cfg.api_url.trim_end_matches('/'),
            cfg.account_id
        );
        Ok(Client {
            http,
            limiter: Limiter::new(cfg.rate),
            endpoint,
            cfg,
            auth_refused: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Where traces are sent (no credentials in it).
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// True when the endpoint is Cloudflare's own API (not `rulegate serve` or a test server).
    pub(crate) fn is_live_cloudflare(&self) -> bool {
        is_live_url(&self.cfg.api_url)
    }

    /// Traces one request, retrying as the policy allows. Offline-only `extras` go to a
    /// rulegate server as the `rulegate` key; the live API cannot take them.
    pub(crate) async fn trace(
        &self,
        req: &TraceRequest,
        extras: &crate::trace::Extras,
    ) -> Result<TraceResult, TraceError> {
        let mut body = serde_json::to_value(req).map_err(|e| {
            TraceError::from(self.error(
                ApiErrorKind::Malformed,
                format!("cannot encode the request: {e}"),
                None,
            ))
        })?;
        if !extras.is_empty() {
            if self.is_live_cloudflare() {
                return Err(self
                    .error(
                        ApiErrorKind::Malformed,
                        "this case sets `fields` or `origin`, which the live Request Trace API cannot take".into(),
                        Some("run it with --backend local, or against rulegate serve".into()),
                    )
                    .into());
            }
            if let (Some(obj), Ok(x)) = (body.as_object_mut(), serde_json::to_value(extras)) {
                obj.insert("rulegate".into(), x);
            }
        }
        let endpoint = self.endpoint.clone();
        if self.auth_refused.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(TraceError {
                kind: TraceErrorKind::Request,
                message: "not traced: the API refused the credentials on an earlier case (its error says why)".into(),
                hint: None,
                attempts: 0,
            });
        }
        // A POST never reads a 404 as "none": it is an error with the API's codes.
        let sent = self
            .send::<TraceResult>(reqwest::Method::POST, &endpoint, Some(&body))
            .await;
        if let Err(e) = &sent
            && e.is_auth()
        {
            self.auth_refused
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let result = sent?.ok_or_else(|| {
            self.error(
                ApiErrorKind::Malformed,
                "the API answered without a trace".into(),
                None,
            )
        })?;
        // Every trace ends with the status the client would get; an answer without one
        // cannot be checked, so it is could-not-run, never a pass.
        match result.status_code {
            Some(code) if (100..=599).contains(&code) => Ok(result),
            other => Err(self
                .error(
                    ApiErrorKind::Malformed,
                    match other {
                        None => "the API answered a trace without a status code".to_string(),
                        Some(c) => format!(
                            "the API answered a trace with status code {c}, which is no HTTP status"
                        ),
                    },
                    None,
                )
                .into()),
        }
    }

    /// GETs `path` (below the API base URL) and returns the envelope's `result`; `None` on 404.
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ApiError> {
        let url = format!("{}{path}", self.cfg.api_url.trim_end_matches('/'));
        self.send(reqwest::Method::GET, &url, None).await
    }

    /// Sends one request with the rate limit and the retry policy; `None` for a 404.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>, ApiError> {
        let mut attempt = 0u32;
        loop {
            self.limiter.acquire().await;
            let (failure, err) = match self.attempt(method.clone(), url, body).await {
                Ok(result) => return Ok(result),
                Err(pair) => pair,
            };
            match self.cfg.retry.delay(attempt, failure, fastrand::f64()) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    return Err(ApiError {
                        attempts: attempt + 1,
                        ..err
                    });
                }
            }
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let b = self.http.request(method, url);
        match &self.cfg.credentials {
            Some(Credentials::Token(t)) => b.bearer_auth(t.expose()),
            Some(Credentials::EmailKey { email, key }) => b
                .header("X-Auth-Email", email)
                .header("X-Auth-Key", key.expose()),
            None => b,
        }
    }

    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>, (Failure, ApiError)> {
        let not_found_is_none = method == reqwest::Method::GET;
        let mut req = self.request(method, url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&e)),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let body = self.read_body(resp).await?;
        let failure = if (200..300).contains(&status) {
            Failure::Fatal
        } else {
            Failure::Status(status, retry_after)
        };
        if status == 404 && not_found_is_none {
            return Ok(None);
        }
        match serde_json::from_slice::<Envelope<T>>(&body) {
            Ok(env) if env.success && (200..300).contains(&status) => match env.result {
                Some(r) => Ok(Some(r)),
                // An answer without a result cannot be read as "nothing matched".
                None => Err((
                    Failure::Fatal,
                    self.error(
                        ApiErrorKind::Malformed,
                        format!(
                            "the API answered HTTP {status} with success but no result: {}",
                            self.snippet(&body)
                        ),
                        Some("the answer cannot be interpreted, so the case is not counted as passed".into()),
                    ),
                )),
            },
            Ok(env) => Err((failure, self.api_error(status, &env.errors))),
            Err(e) if (200..300).contains(&status) => Err((
                Failure::Fatal,
                self.error(
                    ApiErrorKind::Malformed,
                    format!(
                        "the API answered HTTP {status} with a body that is not the documented envelope ({e}): {}",
                        self.snippet(&body)
                    ),
                    Some("check --api-url: it must point at the Cloudflare API v4 (…/client/v4)".into()),
                ),
            )),
            Err(_) => Err((
                failure,
                self.error(
                    ApiErrorKind::Http(status),
                    format!("the API answered HTTP {status}: {}", self.snippet(&body)),
                    http_hint(status),
                ),
            )),
        }
    }

    /// Reads a response body, refusing one larger than [`MAX_RESPONSE_BYTES`].
    async fn read_body(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, (Failure, ApiError)> {
        let too_large = |n: usize| {
            (
                Failure::Fatal,
                self.error(
                    ApiErrorKind::Malformed,
                    format!(
                        "the API's answer is larger than {} MiB (at least {n} bytes); a trace is a few kilobytes",
                        MAX_RESPONSE_BYTES / (1024 * 1024)
                    ),
                    Some("check --api-url: it must point at the Cloudflare API v4".into()),
                ),
            )
        };
        if let Some(n) = resp.content_length()
            && n > MAX_RESPONSE_BYTES as u64
        {
            return Err(too_large(usize::try_from(n).unwrap_or(usize::MAX)));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(too_large(body.len() + chunk.len()));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(self.transport_error(&e)),
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        match &self.cfg.credentials {
            Some(c) => c.redact(text),
            None => text.to_string(),
        }
    }

    fn snippet(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let cut: String = text.chars().take(200).collect();
        let cut = if cut.len() < text.len() {
            format!("{cut}…")
        } else {
            cut
        };
        if cut.is_empty() {
            "(empty body)".into()
        } else {
            self.redact(&cut)
        }
    }

    fn error(&self, kind: ApiErrorKind, message: String, hint: Option<String>) -> ApiError {
        ApiError {
            kind,
            message: self.redact(&message),
            hint: hint.map(|h| self.redact(&h)),
            attempts: 1,
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> (Failure, ApiError) {
        // reqwest's Display includes the URL, which holds no credential.
        let detail =
            std::error::Error::source(e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"));
        if e.is_timeout() {
            (
                Failure::Timeout,
                self.error(
                    ApiErrorKind::Timeout,
                    format!("the API did not answer within {:?}", self.cfg.timeout),
                    Some("raise --timeout, or check the network path to the API".into()),
                ),
            )
        } else if e.is_connect() {
            (
                Failure::Connect,
                self.error(
                    ApiErrorKind::Connect,
                    format!("cannot connect to the API: {detail}"),
                    Some("check --api-url and the network".into()),
                ),
            )
        } else {
            (
                Failure::Connect,
                self.error(
                    ApiErrorKind::Transport,
                    format!("request failed: {detail}"),
                    None,
                ),
            )
        }
    }

    fn api_error(&self, status: u16, errors: &[ApiMessage]) -> ApiError {
        let mut codes = Vec::new();
        let mut parts = Vec::new();
        fn collect(m: &ApiMessage, codes: &mut Vec<i64>, parts: &mut Vec<String>) {
            codes.push(m.code);
            parts.push(format!("{} {}", m.code, m.message));
            for c in &m.error_chain {
                collect(c, codes, parts);
            }
        }
        for m in errors {
            collect(m, &mut codes, &mut parts);
        }
        let what = if parts.is_empty() {
            "no error details".to_string()
        } else {
            parts.join("; ")
        };
        let hint = codes
            .iter()
            .find_map(|c| code_hint(*c, &self.cfg))
            .or_else(|| http_hint(status));
        self.error(
            ApiErrorKind::Api {
                http_status: status,
                codes,
            },
            format!("Cloudflare API error (HTTP {status}): {what}"),
            hint,
        )
    }
}

/// What to do about a Cloudflare error code (reference §2.3).
fn code_hint(code: i64, cfg: &ClientConfig) -> Option<String> {
    Some(match code {
        10000 => format!(
            "authentication failed with the {}: the credential is wrong, or the token lacks the \
             account permission \"Request Tracer Read\" for account {}",
            cfg.credentials.as_ref().map_or("request without credentials", Credentials::scheme),
            cfg.account_id
        ),
        6003 | 6111 | 6102 | 6103 => "malformed authentication header: put an API token in \
             CLOUDFLARE_API_TOKEN, or a Global API key in CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL; \
             do not mix the two"
            .to_string(),
        7003 | 7000 => format!(
            "the API cannot route to account `{}`: check --account-id / CLOUDFLARE_ACCOUNT_ID \
             (32 hex characters, from the dashboard's account home)",
            cfg.account_id
        ),
        9109 => "the credential cannot access this account: grant the token access to it".to_string(),
        _ => return None,
    })
}

fn http_hint(status: u16) -> Option<String> {
    match status {
        401 | 403 => {
            Some("check the credentials and the token's \"Request Tracer Read\" permission".into())
        }
        404 => Some("check --api-url and --account-id".into()),
        429 => Some("the API rate limit was hit: lower --rate-limit or --concurrency".into()),
        500..=599 => Some("Cloudflare's API failed; try again later".into()),
        _ => None,
    }
}

/// True when `api_url` is Cloudflare's own API, which takes no offline-only `fields`/`origin`.
pub(crate) fn is_live_url(api_url: &str) -> bool {
    url::Url::parse(api_url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h == "cloudflare.com" || h.ends_with(".cloudflare.com"))
        })
        .unwrap_or(false)
}

//! Resolves CLI flags and the environment into the pieces a run needs: the backend, the
//! libtest arguments, the variables. Credentials are read here and only here.

use std::time::Duration;

use libtest_mimic::{Arguments, ColorSetting};

use crate::cli::{ApiArgs, BackendKind, TestArgs};
use crate::cloudflare::{self, ClientConfig, Credentials, RateLimit, RetryPolicy, Secret};
use crate::project::ProjectConfig;

/// A problem with flags or environment: exit 2, nothing runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError {
        message: message.into(),
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Credentials from `CLOUDFLARE_API_TOKEN`, else `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`.
pub fn credentials_from_env() -> Result<Credentials, ConfigError> {
    if let Some(token) = env_nonempty("CLOUDFLARE_API_TOKEN") {
        return Ok(Credentials::Token(Secret::new(token.trim())));
    }
    match (
        env_nonempty("CLOUDFLARE_EMAIL"),
        env_nonempty("CLOUDFLARE_API_KEY"),
    ) {
        (Some(email), Some(key)) => Ok(Credentials::EmailKey {
            email: email.trim().to_string(),
            key: Secret::new(key.trim()),
        }),
        (None, Some(_)) => Err(err(
            "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not: a Global API key needs both",
        )),
        (Some(_), None) => Err(err(
            "CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not: a Global API key needs both",
        )),
        (None, None) => Err(err(
            "no Cloudflare credentials: set CLOUDFLARE_API_TOKEN (a token with the account permission \
             \"Request Tracer Read\"), or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY",
        )),
    }
}

/// The backend: `--backend`, else rulegate.yaml's, else local.
pub fn backend_kind(a: &ApiArgs, cfg: &ProjectConfig) -> BackendKind {
    a.backend.unwrap_or(match cfg.backend.as_deref() {
        Some("cloudflare") => BackendKind::Cloudflare,
        _ => BackendKind::Local,
    })
}

/// Traces in flight: `--concurrency`, else rulegate.yaml, else 8.
pub fn concurrency(a: &TestArgs, cfg: &ProjectConfig) -> usize {
    a.concurrency.or(cfg.concurrency).unwrap_or(8).max(1) as usize
}

/// The API base URL: flag or env, else rulegate.yaml, else Cloudflare's.
pub fn api_url(flag: Option<&String>, cfg: &ProjectConfig) -> String {
    flag.cloned()
        .or_else(|| env_nonempty("CLOUDFLARE_BASE_URL"))
        .or_else(|| cfg.api_url.clone())
        .unwrap_or_else(|| cloudflare::DEFAULT_API_URL.to_string())
}

/// The live client's settings from flags, environment and rulegate.yaml (flags win).
pub fn client_config(a: &ApiArgs, cfg: &ProjectConfig) -> Result<ClientConfig, ConfigError> {
    let api_url = api_url(a.api_url.as_ref(), cfg);
    match url::Url::parse(&api_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(err(format!("--api-url `{api_url}` is not an http(s) URL"))),
    }
    let account_id = a
        .account_id
        .clone()
        .or_else(|| cfg.account_id.clone())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| err("no account id: pass --account-id or set CLOUDFLARE_ACCOUNT_ID"))?;
    let account_id = account_id.trim().to_string();
    if account_id.len() > 32 || !account_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err(format!(
            "account id `{account_id}` is malformed: it is up to 32 hex characters, from the dashboard's account home"
        )));
    }
    let rate = match (a.rate_limit, &cfg.rate_limit) {
        (Some(r), _) => r,
        (None, Some(text)) => text.parse::<RateLimit>().map_err(err)?,
        (None, None) => RateLimit::default(),
    };
    Ok(ClientConfig {
        api_url,
        account_id,
        credentials: credentials_from_env()?,
        timeout: Duration::from_secs_f64(a.timeout.or(cfg.timeout).unwrap_or(30.0).max(0.001)),
        retry: RetryPolicy {
            retries: a.retries.or(cfg.retries).unwrap_or(4),
            base: Duration::from_secs_f64(a.retry_delay),
            ..RetryPolicy::default()
        },
        rate,
    })
}

/// Whether our own output (the diff) is coloured: `--color`, then `NO_COLOR`, then a TTY check.
pub fn use_color(a: &TestArgs) -> bool {
    use std::io::IsTerminal;
    match a.color {
        Some(ColorSetting::Always) => true,
        Some(ColorSetting::Never) => false,
        _ => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// libtest-mimic's arguments from ours.
pub fn libtest_arguments(a: &TestArgs) -> Result<Arguments, ConfigError> {
    if a.filter.len() > 1 {
        return Err(err(format!(
            "one filter at most after `--`, got {}: {}",
            a.filter.len(),
            a.filter.join(" ")
        )));
    }
    let color = match a.color {
        Some(c) => Some(c),
        None if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
            Some(ColorSetting::Never)
        }
        None => None,
    };
    Ok(Arguments {
        filter: a.filter.first().cloned(),
        exact: a.exact,
        skip: a.skip.clone(),
        list: a.list,
        ignored: a.ignored,
        include_ignored: a.include_ignored,
        quiet: a.quiet,
        format: a.format,
        color,
        test_threads: a.test_threads,
        ..Arguments::default()
    })
}

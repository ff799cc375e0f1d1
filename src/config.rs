//! Resolves CLI flags and the environment into the pieces a run needs: the backend, the
//! libtest arguments, the variables. Credentials are read here and only here.

use std::time::Duration;

use libtest_mimic::{Arguments, ColorSetting};

use crate::cli::{BackendKind, TestArgs};
use crate::cloudflare::{self, ClientConfig, Credentials, RetryPolicy, Secret};

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

/// The live client's settings from flags and environment.
pub fn client_config(a: &TestArgs) -> Result<ClientConfig, ConfigError> {
    let BackendKind::Cloudflare = a.backend;
    let api_url = a
        .api_url
        .clone()
        .or_else(|| env_nonempty("CLOUDFLARE_BASE_URL"))
        .unwrap_or_else(|| cloudflare::DEFAULT_API_URL.to_string());
    match url::Url::parse(&api_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(err(format!("--api-url `{api_url}` is not an http(s) URL"))),
    }
    let account_id = a
        .account_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| err("no account id: pass --account-id or set CLOUDFLARE_ACCOUNT_ID"))?;
    let account_id = account_id.trim().to_string();
    if account_id.len() > 32 || !account_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err(format!(
            "account id `{account_id}` is malformed: it is up to 32 hex characters, from the dashboard's account home"
        )));
    }
    Ok(ClientConfig {
        api_url,
        account_id,
        credentials: credentials_from_env()?,
        timeout: Duration::from_secs_f64(a.timeout.max(0.001)),
        retry: RetryPolicy {
            retries: a.retries,
            base: Duration::from_secs_f64(a.retry_delay),
            ..RetryPolicy::default()
        },
        rate: a.rate_limit,
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

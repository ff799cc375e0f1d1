//! Settings resolved once: flags, the environment and `rulegate.yaml` merged into one
//! [`Settings`] that every command receives (flags win, then the environment, then the
//! project file, then defaults). Credentials are read here and only here, and only when the
//! live API is used.

mod test;
pub(crate) use test::{BaselineSpec, CoverageSettings, TestSettings};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::BackendKind;
use crate::cli::{Annotations, ApiArgs};
use crate::cloudflare::{self, ClientConfig, Credentials, RateLimit, RetryPolicy, Secret};
use crate::diag::{Diagnostic, Report};
use crate::limits;
use crate::project::{ProjectConfig, ProjectSource, load_config};
use crate::suite::Vars;

/// What a command passes in: its flags, before anything is merged.
#[derive(Debug, Default)]
pub(crate) struct Flags<'a> {
    /// The project directory (holds rulegate.yaml, rulesets/, lists/).
    pub(crate) dir: PathBuf,
    pub(crate) backend: Option<BackendKind>,
    pub(crate) api: Option<&'a ApiArgs>,
    pub(crate) vars: &'a [(String, String)],
    pub(crate) concurrency: Option<u16>,
    pub(crate) junit: Option<&'a Path>,
    pub(crate) trace_budget: Option<f64>,
    /// `--terraform`: wins over rulegate.yaml's `terraform`.
    pub(crate) terraform: Option<&'a Path>,
    /// `--var-file`: Terraform variables files.
    pub(crate) var_files: &'a [PathBuf],
    /// `--crs` (or `RULEGATE_CRS`): the CRS release for the OWASP emulation.
    pub(crate) crs: Option<&'a Path>,
    /// `--annotations`: wins over `GITHUB_ACTIONS`.
    pub(crate) annotations: Option<Annotations>,
    /// `--summary FILE.md`.
    pub(crate) summary: Option<&'a Path>,
}

/// What a run reports to its CI, resolved from flags and the CI's environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct CiSettings {
    /// Print GitHub workflow commands: `--annotations github`, or `GITHUB_ACTIONS=true`.
    pub(crate) github_annotations: bool,
    /// The repository root annotation paths are relative to (`GITHUB_WORKSPACE`).
    pub(crate) workspace: Option<PathBuf>,
    /// Where the Markdown summary goes: `--summary`, and `GITHUB_STEP_SUMMARY` (appended).
    pub(crate) summary_file: Option<PathBuf>,
    pub(crate) step_summary: Option<PathBuf>,
}

impl CiSettings {
    fn resolve(flags: &Flags) -> CiSettings {
        let on_github = env_nonempty("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        CiSettings {
            github_annotations: match flags.annotations {
                Some(a) => a == Annotations::Github,
                None => on_github,
            },
            workspace: env_nonempty("GITHUB_WORKSPACE").map(PathBuf::from),
            summary_file: flags.summary.map(Path::to_path_buf),
            step_summary: env_nonempty("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }
}

/// How the live API is reached (no credentials: see [`Settings::client_config`]).
#[derive(Debug, Clone)]
pub(crate) struct ApiSettings {
    pub(crate) url: String,
    pub(crate) account_id: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate: RateLimit,
    /// `--allow-plain-http`: credentials may go to a non-loopback `http://` URL.
    pub(crate) allow_plain_http: bool,
}

/// Everything a command needs to know, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) dir: PathBuf,
    /// `rulegate.yaml` as read (its checked values are merged into the fields below).
    pub(crate) config: ProjectConfig,
    /// The project file and its text, when there is one.
    pub(crate) config_file: Option<(PathBuf, String)>,
    /// What the command line adds to `config` (`--terraform`, `--var`, `--var-file`).
    pub(crate) source: ProjectSource,
    pub(crate) backend: BackendKind,
    pub(crate) vars: Vars,
    pub(crate) concurrency: usize,
    /// Where the JUnit report goes, if anywhere.
    pub(crate) junit: Option<PathBuf>,
    /// How long one local trace may evaluate.
    pub(crate) trace_budget: Duration,
    pub(crate) api: ApiSettings,
    pub(crate) ci: CiSettings,
}

/// An environment variable, unset when empty: the one way settings read the environment
/// (besides clap's `env` for `--account-id` and `serve --token`).
fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// Reads `rulegate.yaml` from `flags.dir` and merges it with the flags and environment.
    pub(crate) fn resolve(flags: &Flags) -> Result<Settings, Report> {
        let loaded = load_config(&flags.dir)?;
        let cfg = loaded.config;
        // A flag's path is relative to where the command runs, not to the project.
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let source = ProjectSource {
            terraform: flags.terraform.map(absolute),
            vars: flags.vars.iter().cloned().collect(),
            var_files: flags.var_files.iter().map(|f| absolute(f)).collect(),
            crs: flags.crs.map(absolute),
        };
        let none = ApiArgs::default();
        let api = flags.api.unwrap_or(&none);
        let url = api
            .api_url
            .clone()
            .or_else(|| env_nonempty("CLOUDFLARE_API_BASE_URL"))
            .or_else(|| env_nonempty("CLOUDFLARE_BASE_URL"))
            .or_else(|| cfg.api_url.clone())
            .unwrap_or_else(|| cloudflare::DEFAULT_API_URL.to_string());
        let timeout = match api.timeout.or(cfg.timeout) {
            Some(s) => limits::seconds(s).ok_or_else(|| {
                Diagnostic::usage(format!("timeout {s} is not a number of seconds"))
            })?,
            None => limits::DEFAULT_TIMEOUT,
        }
        .max(Duration::from_millis(1));
        let retry_base = match api.retry_delay {
            Some(s) => limits::seconds(s).ok_or_else(|| {
                Diagnostic::usage(format!("--retry-delay {s} is not a number of seconds"))
            })?,
            None => RetryPolicy::default().base,
        };
        let trace_budget =
            limits::trace_budget(flags.trace_budget.or(cfg.trace_budget)).map_err(|s| {
                Diagnostic::usage(format!("trace budget {s} is not a number of seconds"))
            })?;
        // `--junit` may point anywhere (the user typed it); rulegate.yaml's `junit:` only
        // inside the repository.
        let junit = match (flags.junit, &cfg.junit) {
            (Some(j), _) => Some(j.to_path_buf()),
            (None, Some(j)) => {
                let path = flags.dir.join(j);
                if let Err(why) = crate::confine::Confine::for_project(&flags.dir).check(&path) {
                    let (file, text) = loaded.file.clone().unwrap_or_default();
                    let at = text
                        .find("junit:")
                        .map(|i| crate::diag::Pos::at(&text, i, 6));
                    let mut r = Report::from(
                        Diagnostic::new(&file, at, format!("`junit:` {why}"))
                            .hint(crate::confine::HINT),
                    );
                    r.sources.insert(file, text);
                    return Err(r);
                }
                Some(path)
            }
            (None, None) => None,
        };
        Ok(Settings {
            dir: flags.dir.clone(),
            backend: flags.backend.or(cfg.backend).unwrap_or(BackendKind::Local),
            vars: Vars::new(flags.vars.iter().cloned().collect::<BTreeMap<_, _>>(), true)
                .with_defaults(cfg.vars.clone()),
            concurrency: flags
                .concurrency
                .or(cfg.concurrency)
                .map_or(limits::DEFAULT_CONCURRENCY, usize::from)
                .max(1),
            junit,
            trace_budget,
            ci: CiSettings::resolve(flags),
            api: ApiSettings {
                url,
                account_id: api
                    .account_id
                    .clone()
                    .or_else(|| cfg.account_id.clone())
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty()),
                timeout,
                retry: RetryPolicy {
                    retries: api
                        .retries
                        .or(cfg.retries)
                        .unwrap_or(limits::DEFAULT_RETRIES),
                    base: retry_base,
                    ..RetryPolicy::default()
                },
                rate: api.rate_limit.or(cfg.rate_limit).unwrap_or_default(),
                allow_plain_http: api.allow_plain_http,
            },
            config: cfg,
            source,
            config_file: loaded.file,
        })
    }

    /// The project file's text keyed by its path, for rendering diagnostics.
    pub(crate) fn sources(&self) -> BTreeMap<PathBuf, String> {
        self.config_file.iter().cloned().collect()
    }

    /// The live client's configuration: checks the URL and account id and reads credentials.
    pub(crate) fn client_config(&self) -> Result<ClientConfig, Diagnostic> {
        self.client_config_with(true)
    }

    /// [`Settings::client_config`]; credentials may be missing when not `required` and the
    /// URL is not Cloudflare's own API (`rulegate serve` without `--token`).
    pub(crate) fn client_config_with(&self, required: bool) -> Result<ClientConfig, Diagnostic> {
        let api = &self.api;
        match url::Url::parse(&api.url) {
            Ok(u) if u.scheme() == "https" => {}
            // The token would travel unencrypted to a host the URL (maybe a pull request's
            // rulegate.yaml) chose: only loopback (serve, tests) or an explicit flag.
            Ok(u) if u.scheme() == "http" => {
                let loopback = match u.host() {
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                if !loopback && !api.allow_plain_http {
                    return Err(Diagnostic::usage(format!(
                        "the API URL `{}` is plain http:// on another host: the credentials would travel unencrypted",
                        crate::escape::visible(&api.url)
                    ))
                    .hint("use https://, or pass --allow-plain-http if this is really wanted (plain HTTP is accepted on loopback, e.g. rulegate serve)"));
                }
            }
            _ => {
                return Err(Diagnostic::usage(format!(
                    "--api-url `{}` is not an http(s) URL",
                    api.url
                )));
            }
        }
        let account_id = self.account_id()?;
        let credentials = match credentials_from_env() {
            Ok(c) => Some(c),
            Err(e) if required || cloudflare::client::is_live_url(&api.url) => return Err(e),
            Err(_) => None,
        };
        Ok(ClientConfig {
            api_url: api.url.clone(),
            account_id,
            credentials,
            timeout: api.timeout,
            retry: api.retry,
            rate: api.rate,
        })
    }

    /// The account id, checked.
    pub(crate) fn account_id(&self) -> Result<String, Diagnostic> {
        let account_id = self.api.account_id.clone().ok_or_else(|| {
            Diagnostic::usage("no account id: pass --account-id or set CLOUDFLARE_ACCOUNT_ID")
        })?;
        if account_id.len() > 32 || !account_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Diagnostic::usage(format!(
                "account id `{account_id}` is malformed: it is up to 32 hex characters, from the dashboard's account home"
            )));
        }
        Ok(account_id)
    }
}

/// Credentials from `CLOUDFLARE_API_TOKEN`, else `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`.
fn credentials_from_env() -> Result<Credentials, Diagnostic> {
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
        (None, Some(_)) => Err(Diagnostic::usage(
            "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not: a Global API key needs both",
        )),
        (Some(_), None) => Err(Diagnostic::usage(
            "CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not: a Global API key needs both",
        )),
        (None, None) => Err(Diagnostic::usage(
            "no Cloudflare credentials: set CLOUDFLARE_API_TOKEN (a token with the account permission \
             \"Request Tracer Read\"), or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY",
        )),
    }
}

//! `rulegate.yaml`: settings a team would otherwise repeat on every command line. Read and
//! checked here (every value with its line); merged with flags and the environment in
//! `settings`, where flags win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, de::Error as _};

use crate::backend::BackendKind;
use crate::cloudflare::RateLimit;
use crate::diag::{Report, yaml_diagnostic};
use crate::limits;

/// The names a project file may have, in the order they are looked for.
pub(crate) const CONFIG_FILES: &[&str] = &["rulegate.yaml", "rulegate.yml"];

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectConfig {
    /// `local` (default) or `cloudflare`.
    #[serde(default, deserialize_with = "backend")]
    pub(crate) backend: Option<BackendKind>,
    /// Directory of ruleset JSON files, relative to the project directory (default `rulesets`).
    pub(crate) rulesets: Option<PathBuf>,
    /// Directory of list JSON files (default `lists`).
    pub(crate) lists: Option<PathBuf>,
    /// Terraform source of rulesets and lists: a root module's directory or a plan/state as
    /// JSON (`terraform show -json`).
    pub(crate) terraform: Option<PathBuf>,
    /// `true` when the project deliberately holds no rulesets: the local engine then runs
    /// over none. Otherwise a local run whose sources yield no ruleset is an error.
    #[serde(default)]
    pub(crate) no_rulesets: bool,
    /// The origin's status when no rule ends the request (default 200).
    #[serde(default, deserialize_with = "status")]
    pub(crate) origin_status: Option<i64>,
    /// Default `${VARS}`; `--var` and the environment win.
    #[serde(default)]
    pub(crate) vars: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "concurrency")]
    pub(crate) concurrency: Option<u16>,
    #[serde(default, deserialize_with = "seconds")]
    pub(crate) timeout: Option<f64>,
    /// How long one local trace may evaluate, in seconds.
    #[serde(default, deserialize_with = "seconds")]
    pub(crate) trace_budget: Option<f64>,
    #[serde(default, deserialize_with = "retries")]
    pub(crate) retries: Option<u32>,
    #[serde(default, deserialize_with = "rate_limit")]
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) api_url: Option<String>,
    pub(crate) account_id: Option<String>,
    /// The zone the rulesets belong to (`pull` default; `serve` answers for it).
    pub(crate) zone_id: Option<String>,
    /// Write a JUnit report here unless `--junit` is given.
    pub(crate) junit: Option<PathBuf>,
    /// Rule coverage: what `--require-coverage` demands, and the rules it exempts.
    #[serde(default)]
    pub(crate) coverage: Option<CoverageConfig>,
    /// Header, cookie and query-argument names (glob patterns, `*` and `?`, any case) whose
    /// values `replay` replaces in samples, emitted cases and reports (`authorization`,
    /// `cookie` and `set-cookie` always are).
    #[serde(default, deserialize_with = "redact")]
    pub(crate) redact: Vec<String>,
    /// The OWASP Core Ruleset emulation.
    #[serde(default)]
    pub(crate) owasp: Option<OwaspConfig>,
}

/// `owasp:` in rulegate.yaml.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct OwaspConfig {
    /// A CRS release inside the repository (a checkout with rules/, or a rules directory).
    pub(crate) crs: Option<PathBuf>,
    /// `false`: never emulate (the OWASP ruleset stays an opaque step, as without a CRS).
    pub(crate) emulate: Option<bool>,
}

fn redact<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    for p in &list {
        if p.is_empty() {
            return Err(D::Error::custom(
                "an empty redact pattern matches nothing: remove it or write a name",
            ));
        }
    }
    Ok(list)
}

/// `coverage:` in rulegate.yaml.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct CoverageConfig {
    /// `all` or a percentage (`90%`); when set, every `test` run checks it (as
    /// `--require-coverage` does).
    #[serde(default, deserialize_with = "require")]
    pub(crate) require: Option<Require>,
    /// Rules (by ref, id or description) that need no case, such as catch-all log rules.
    #[serde(default)]
    pub(crate) exempt: Vec<String>,
}

fn require<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Require>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(f64),
        S(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::N(n) => n.to_string(),
        Raw::S(s) => s,
    };
    Require::parse(&text).map(Some).map_err(D::Error::custom)
}

fn backend<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BackendKind>, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "local" => Ok(Some(BackendKind::Local)),
        "cloudflare" => Ok(Some(BackendKind::Cloudflare)),
        _ => Err(D::Error::custom(format!(
            "unknown backend `{s}`: use `local` or `cloudflare`"
        ))),
    }
}

fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = i64::deserialize(d)?;
    if (100..=599).contains(&s) {
        Ok(Some(s))
    } else {
        Err(D::Error::custom(format!(
            "origin_status {s} is not an HTTP status: use 100..=599"
        )))
    }
}

fn concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let n = u64::deserialize(d)?;
    match u16::try_from(n) {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(D::Error::custom(format!(
            "concurrency {n} is out of range: use 1..=65535"
        ))),
    }
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    match limits::seconds(v) {
        Some(_) => Ok(Some(v)),
        None => Err(D::Error::custom(format!(
            "{v:?} is not a number of seconds: use 0 to {}",
            limits::MAX_SECONDS
        ))),
    }
}

fn retries<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(n) if n <= limits::MAX_RETRIES => Ok(Some(n)),
        _ => Err(D::Error::custom(format!(
            "retries {n} is out of range: use 0..={}",
            limits::MAX_RETRIES
        ))),
    }
}

fn rate_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RateLimit>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<RateLimit>().map(Some).map_err(D::Error::custom)
}

impl ProjectConfig {
    pub(crate) fn rulesets_dir(&self) -> PathBuf {
        self.rulesets
            .clone()
            .unwrap_or_else(|| PathBuf::from("rulesets"))
    }

    pub(crate) fn lists_dir(&self) -> PathBuf {
        self.lists.clone().unwrap_or_else(|| PathBuf::from("lists"))
    }
}

/// A project's configuration and the file it was read from (with its text), if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadedConfig {
    pub(crate) config: ProjectConfig,
    pub(crate) file: Option<(PathBuf, String)>,
}

/// Reads `dir/rulegate.yaml` (or `.yml`); a missing file is the default configuration.
pub(crate) fn load_config(dir: &Path) -> Result<LoadedConfig, Report> {
    for name in CONFIG_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let text = crate::diag::read_text(&path).map_err(Report::from)?;
        let config = if text.trim().is_empty() {
            ProjectConfig::default()
        } else {
            match serde_saphyr::from_str(&text) {
                Ok(c) => c,
                Err(e) => {
                    let mut r = Report::from(yaml_diagnostic(&path, &e));
                    r.sources.insert(path, text);
                    return Err(r);
                }
            }
        };
        return Ok(LoadedConfig {
            config,
            file: Some((path, text)),
        });
    }
    Ok(LoadedConfig::default())
}

/// What `--require-coverage` (or `coverage: require:`) demands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Require {
    All,
    /// At least this percentage of counted rules matched.
    Percent(f64),
}

impl Require {
    /// `all`, `90`, `90%`, `87.5%`.
    pub(crate) fn parse(s: &str) -> Result<Require, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Require::All);
        }
        let n = t.strip_suffix('%').unwrap_or(t).trim();
        match n.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Require::Percent(p)),
            _ => Err(format!(
                "`{s}` is not a coverage requirement: use `all` or a percentage such as `90%`"
            )),
        }
    }

    /// The requirement in words: `all` or `90%`.
    pub(crate) fn label(self) -> String {
        match self {
            Require::All => "all".into(),
            Require::Percent(p) => format!("{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered report as the error: what the assertions read.
    fn load(text: &str) -> Result<ProjectConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rulegate.yaml"), text).unwrap();
        load_config(dir.path())
            .map(|c| c.config)
            .map_err(|r| r.render())
    }

    #[test]
    fn numbers_are_checked_with_their_line() {
        let err = load("backend: local\ntimeout: 1e300\n").unwrap_err();
        assert!(err.contains("is not a number of seconds"), "{err}");
        assert!(err.contains("rulegate.yaml:2:"), "{err}");
        let err = load("concurrency: 0\n").unwrap_err();
        assert!(err.contains("concurrency 0 is out of range"), "{err}");
        let err = load("rate_limit: 5\n").unwrap_err();
        assert!(err.contains("not a rate limit"), "{err}");
    }

    #[test]
    fn a_good_file_reads() {
        let c = load("backend: cloudflare\ntimeout: 2.5\nrate_limit: 10/60\n").unwrap();
        assert_eq!(c.backend, Some(BackendKind::Cloudflare));
        assert_eq!(c.timeout, Some(2.5));
        assert_eq!(c.rate_limit.map(|r| r.limit), Some(10));
    }
}

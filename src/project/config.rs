//! `rulegate.yaml`: settings a team would otherwise repeat on every command line. Command-line
//! flags win over it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diag::Diagnostic;
use crate::suite::load::yaml_diagnostic;

pub const CONFIG_FILES: &[&str] = &["rulegate.yaml", "rulegate.yml"];

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// `local` (default) or `cloudflare`.
    pub backend: Option<String>,
    /// Directory of ruleset JSON files, relative to the project directory (default `rulesets`).
    pub rulesets: Option<PathBuf>,
    /// Directory of list JSON files (default `lists`).
    pub lists: Option<PathBuf>,
    /// The origin's status when no rule ends the request (default 200).
    pub origin_status: Option<i64>,
    /// Default `${VARS}`; `--var` and the environment win.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    pub concurrency: Option<u16>,
    pub timeout: Option<f64>,
    pub retries: Option<u32>,
    pub rate_limit: Option<String>,
    pub api_url: Option<String>,
    pub account_id: Option<String>,
    /// The zone the rulesets belong to (`pull` default; `serve` answers for it).
    pub zone_id: Option<String>,
    /// Write a JUnit report here unless `--junit` is given.
    pub junit: Option<PathBuf>,
}

impl ProjectConfig {
    pub fn rulesets_dir(&self) -> PathBuf {
        self.rulesets
            .clone()
            .unwrap_or_else(|| PathBuf::from("rulesets"))
    }

    pub fn lists_dir(&self) -> PathBuf {
        self.lists.clone().unwrap_or_else(|| PathBuf::from("lists"))
    }
}

/// A configuration and, when read from a file, that file and its text.
pub type LoadedConfig = (ProjectConfig, Option<(PathBuf, String)>);

/// Reads `dir/rulegate.yaml` (or `.yml`); a missing file is the default configuration.
pub fn load_config(dir: &Path) -> Result<LoadedConfig, Vec<Diagnostic>> {
    for name in CONFIG_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            vec![Diagnostic::new(
                &path,
                None,
                format!("cannot read the file: {e}"),
            )]
        })?;
        if text.trim().is_empty() {
            return Ok((ProjectConfig::default(), Some((path, text))));
        }
        let cfg: ProjectConfig =
            serde_saphyr::from_str(&text).map_err(|e| vec![yaml_diagnostic(&path, &e)])?;
        let mut diags = Vec::new();
        if let Some(b) = &cfg.backend
            && b != "local"
            && b != "cloudflare"
        {
            diags.push(
                Diagnostic::new(&path, None, format!("unknown backend `{b}`"))
                    .hint("use `local` or `cloudflare`"),
            );
        }
        if let Some(s) = cfg.origin_status
            && !(100..=599).contains(&s)
        {
            diags.push(
                Diagnostic::new(
                    &path,
                    None,
                    format!("origin_status {s} is not an HTTP status"),
                )
                .hint("use 100..=599"),
            );
        }
        if let Some(r) = &cfg.rate_limit
            && let Err(e) = r.parse::<crate::cloudflare::RateLimit>()
        {
            diags.push(Diagnostic::new(&path, None, e));
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        return Ok((cfg, Some((path, text))));
    }
    Ok((ProjectConfig::default(), None))
}

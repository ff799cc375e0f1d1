//! The OWASP Core Rule Set, evaluated offline: a CRS release's request rule files read from
//! the user's machine (`seclang`), compiled (`rules`: targets, operators, `transform`ations,
//! actions), and run per request by the `engine` in detection mode with anomaly scoring,
//! with the request body processors CRS relies on (`body`). `ruleset::eval` puts Cloudflare's
//! configuration model on top (paranoia level by tag, score threshold, action).

mod body;
mod engine;
pub mod ftw;
mod rules;
mod seclang;
mod transform;

use std::path::{Path, PathBuf};

pub use engine::{Evaluated, Request};

/// Where Debian and Ubuntu's `modsecurity-crs` package puts the rules (CRS 3.3.4).
pub const DEBIAN_RULES: &str = "/usr/share/modsecurity-crs/rules";

/// Why a CRS release could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CrsError {
    #[error(
        "{0}: no CRS request rules there (looked for REQUEST-*.conf in it and in its rules/ directory)"
    )]
    NotFound(PathBuf),
    #[error("cannot read {path}: {1}", path = .0.display())]
    Read(PathBuf, String),
    #[error("{0}")]
    Rule(String),
    /// A file of the release may not be read (it leads outside the repository).
    #[error("{0}")]
    Refused(String),
}

/// A CRS release compiled once; shared by every request (and thread).
#[derive(Debug)]
pub struct Crs {
    compiled: rules::Compiled,
    dir: PathBuf,
    /// Per rule: from `REQUEST-949-BLOCKING-EVALUATION.conf` (the caller may score instead).
    blocking: Vec<bool>,
}

/// What the caller decides for one evaluation.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `tx.paranoia_level` (1–4).
    pub paranoia: u8,
    /// Leave out the rules of `REQUEST-949-BLOCKING-EVALUATION.conf` (the caller scores).
    pub without_blocking: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            paranoia: 1,
            without_blocking: false,
        }
    }
}

/// One rule as the release defines it.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo<'a> {
    pub id: u32,
    pub msg: Option<&'a str>,
    pub tags: &'a [String],
    /// `paranoia-level/N`.
    pub paranoia: Option<u8>,
    /// `CRITICAL`, `WARNING`…
    pub severity: Option<&'a str>,
    /// Whether the rule adds to the anomaly score when it matches (a detection rule; the
    /// rest is initialization and flow control).
    pub scored: bool,
    /// Whether the rule writes to the log when it matches (`nolog` rules are flow control).
    pub logs: bool,
    pub file: &'a Path,
    pub line: usize,
}

/// The result of one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every rule evaluated, in order.
    pub evaluated: Vec<Evaluated>,
    /// The score each matched rule added (by index into `evaluated`; 0 for flow-control rules).
    pub scores: Vec<i64>,
    /// CRS's own total: `tx.anomaly_score` after phase 2 (only with the blocking rules), else
    /// the sum of the per-level scores.
    pub anomaly_score: i64,
}

impl Crs {
    /// The rules directory for `path`: a CRS checkout (with `rules/`) or a rules directory.
    pub fn rules_dir(path: &Path) -> Result<PathBuf, CrsError> {
        let has = |d: &Path| {
            std::fs::read_dir(d).ok().is_some_and(|rd| {
                rd.flatten().any(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.starts_with("REQUEST-") && n.ends_with(".conf")
                })
            })
        };
        let sub = path.join("rules");
        if has(&sub) {
            Ok(sub)
        } else if has(path) {
            Ok(path.to_path_buf())
        } else {
            Err(CrsError::NotFound(path.to_path_buf()))
        }
    }

    /// Reads and compiles the request rule files (`REQUEST-*.conf`, in name order) of the CRS
    /// at `path`.
    pub fn load(path: &Path) -> Result<Crs, CrsError> {
        Crs::load_checked(path, &|_| Ok(()))
    }

    /// [`Crs::load`], with `check` asked first about every file in the rules directory (rule
    /// files and the data files they name, which must sit beside them): a release inside a
    /// repository is read only where the repository allows.
    pub(crate) fn load_checked(
        path: &Path,
        check: &dyn Fn(&Path) -> Result<(), String>,
    ) -> Result<Crs, CrsError> {
        let dir = Crs::rules_dir(path)?;
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| CrsError::Read(dir.clone(), e.to_string()))?
            .flatten()
        {
            check(&entry.path()).map_err(CrsError::Refused)?;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| CrsError::Read(dir.clone(), e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("REQUEST-") && n.ends_with(".conf"))
            })
            .collect();
        files.sort();
        let mut all = Vec::new();
        for f in &files {
            let text =
                std::fs::read_to_string(f).map_err(|e| CrsError::Read(f.clone(), e.to_string()))?;
            all.extend(seclang::directives(f, &text).map_err(|e| CrsError::Rule(e.to_string()))?);
        }
        let compiled = rules::compile(&all).map_err(|e| CrsError::Rule(e.to_string()))?;
        let blocking = compiled
            .rules
            .iter()
            .map(|r| {
                r.file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("REQUEST-949"))
            })
            .collect();
        Ok(Crs {
            compiled,
            dir,
            blocking,
        })
    }

    /// `OWASP_CRS/3.3.4`, as the release signs itself.
    pub fn version(&self) -> &str {
        self.compiled
            .version
            .as_deref()
            .unwrap_or("OWASP_CRS (unknown version)")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn len(&self) -> usize {
        self.compiled.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.compiled.rules.is_empty()
    }

    pub fn rule(&self, i: usize) -> RuleInfo<'_> {
        let r = &self.compiled.rules[i];
        RuleInfo {
            id: r.id,
            msg: r.msg.as_deref(),
            tags: &r.tags,
            paranoia: r.paranoia,
            severity: r.severity.as_deref(),
            logs: r.log,
            scored: r.score.is_some(),
            file: &r.file,
            line: r.line,
        }
    }

    /// The index of the rule with CRS id `id`.
    pub fn find(&self, id: u32) -> Option<usize> {
        self.compiled.rules.iter().position(|r| r.id == id)
    }

    fn is_blocking(&self, i: usize) -> bool {
        self.blocking[i]
    }

    /// Runs `req` through the rules; `disabled(i)` leaves rule `i` out.
    pub fn evaluate(
        &self,
        req: &Request,
        settings: &Settings,
        disabled: &dyn Fn(usize) -> bool,
    ) -> Outcome {
        let pl = settings.paranoia.clamp(1, 4).to_string();
        let setup = self
            .version()
            .rsplit('/')
            .next()
            .unwrap_or("3.3.4")
            .replace('.', "");
        let init = [
            ("paranoia_level", pl.clone()),
            ("executing_paranoia_level", pl),
            ("crs_setup_version", setup),
        ];
        let mut tx = engine::Transaction::new(&self.compiled, req, &init);
        let skip = |i: usize| disabled(i) || (settings.without_blocking && self.is_blocking(i));
        tx.run(&skip);
        let scores = tx
            .evaluated
            .iter()
            .map(|e| {
                let r = &self.compiled.rules[e.rule];
                match (&r.score, e.matched) {
                    (Some(m), true) => engine::atoi(&tx.expand(m, r)),
                    _ => 0,
                }
            })
            .collect();
        let total = match tx.tx("anomaly_score") {
            Some(v) if !settings.without_blocking => engine::atoi(v),
            _ => (1..=4)
                .map(|n| {
                    tx.tx(&format!("anomaly_score_pl{n}"))
                        .map(engine::atoi)
                        .unwrap_or(0)
                })
                .sum(),
        };
        Outcome {
            evaluated: std::mem::take(&mut tx.evaluated),
            scores,
            anomaly_score: total,
        }
    }
}

//! Attaching a CRS release to a project that executes Cloudflare's OWASP ruleset without a
//! stand-in: from `--crs`/`RULEGATE_CRS` (trusted, anywhere), else rulegate.yaml's
//! `owasp.crs` (inside the repository), else Debian's `modsecurity-crs` package when
//! installed. Compiled once; every trace shares it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::ProjectConfig;
use super::{ProjectSource, config_key};
use crate::confine::{self, Confine};
use crate::diag::{Diagnostic, Report};
use crate::owasp::{Crs, DEBIAN_RULES};
use crate::ruleset::action::Action;
use crate::ruleset::compiled::Rulebook;
use crate::ruleset::owasp::{OWASP_ID, is_stand_in};

/// Whether some rule executes the OWASP ruleset and no stand-in models it.
pub(crate) fn needs_emulation(book: &Rulebook) -> bool {
    let executes = book
        .rulesets
        .iter()
        .flat_map(|rs| &rs.rules)
        .any(|r| matches!(&r.action, Action::Execute { id, .. } if id == OWASP_ID));
    executes && book.ruleset(OWASP_ID).is_none_or(|rs| !is_stand_in(rs))
}

pub(super) fn attach(
    book: &mut Rulebook,
    dir: &Path,
    config: &ProjectConfig,
    source: &ProjectSource,
    confine: &Confine,
    report: &mut Report,
) {
    if !needs_emulation(book) || config.owasp.as_ref().and_then(|o| o.emulate) == Some(false) {
        return;
    }
    let named = config.owasp.as_ref().and_then(|o| o.crs.as_ref());
    // Only a path from rulegate.yaml is confined: the flag, the variable and Debian's
    // package are the operator's choice.
    let mut confined = false;
    let path: PathBuf = if let Some(p) = &source.crs {
        p.clone()
    } else if let Some(p) = named {
        confined = true;
        let full = dir.join(p);
        if let Err(why) = confine.check(&full) {
            let (file, at) = config_key(dir, "owasp", report);
            report.push(
                Diagnostic::new(&file, at, format!("`owasp.crs:` {why}")).hint(confine::HINT),
            );
            return;
        }
        full
    } else if Path::new(DEBIAN_RULES).is_dir() {
        PathBuf::from(DEBIAN_RULES)
    } else {
        return;
    };
    let check = |f: &Path| if confined { confine.check(f) } else { Ok(()) };
    match load_once(&path, &check) {
        Ok(c) => book.crs = Some(c),
        Err(e) => report.push(
            Diagnostic::new(&path, None, format!("the OWASP Core Rule Set cannot be read: {e}"))
                .hint("--crs, RULEGATE_CRS or rulegate.yaml's `owasp.crs` names a CRS release: a checkout with rules/, or its rules directory"),
        ),
    }
}

/// One compiled release per path and process: a `--baseline` run reads the project twice,
/// and both sides share the release they name.
fn load_once(
    path: &Path,
    check: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<Arc<Crs>, crate::owasp::CrsError> {
    static LOADED: std::sync::LazyLock<std::sync::Mutex<HashMap<PathBuf, Arc<Crs>>>> =
        std::sync::LazyLock::new(Default::default);
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(c) = LOADED.lock().ok().and_then(|m| m.get(&key).cloned()) {
        // Cached or not, this project's repository decides what may be read.
        Crs::rules_dir(path)?;
        for e in std::fs::read_dir(c.dir()).into_iter().flatten().flatten() {
            check(&e.path()).map_err(crate::owasp::CrsError::Refused)?;
        }
        return Ok(c);
    }
    let c = Arc::new(Crs::load_checked(path, check)?);
    if let Ok(mut m) = LOADED.lock() {
        m.insert(key, c.clone());
    }
    Ok(c)
}

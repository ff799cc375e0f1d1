//! `rulegate check`: validate suites, rulegate.yaml, rulesets and lists; run nothing.

use super::{load, project_dir, say, settings};
use crate::cli::CheckArgs;
use crate::diag::Report;
use crate::exit::Exit;
use crate::settings::Flags;

pub(super) fn run(args: &CheckArgs) -> Result<Exit, Report> {
    let settings = settings(Flags {
        terraform: args.suites.tf.terraform.as_deref(),
        var_files: &args.suites.tf.var_files,
        crs: args.suites.tf.crs.as_deref(),
        dir: project_dir(&args.suites.paths),
        vars: &args.suites.vars,
        ..Flags::default()
    })?;
    let loaded = load(&settings, Some(&args.suites), true)?;
    let cases: usize = loaded.suites.iter().map(|s| s.cases.len()).sum();
    let (rs, ls) = loaded
        .project
        .as_ref()
        .map_or((0, 0), |p| (p.book.rulesets.len(), p.list_files.len()));
    say(&format!(
        "ok: {} suite(s), {cases} case(s), {rs} ruleset(s), {ls} list(s)\n",
        loaded.suites.len()
    ))?;
    Ok(Exit::Success)
}

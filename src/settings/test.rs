//! What `rulegate test` decides from its flags, the environment and `rulegate.yaml`, once:
//! libtest's arguments, colour, the offline-only policy, coverage, the baseline. The command
//! reads these; nothing below it looks at `TestArgs` or the environment again.

use libtest_mimic::{Arguments, ColorSetting};

use super::Settings;
use crate::backend::BackendKind;
use crate::cli::TestArgs;
use crate::diag::{Diagnostic, Report};
use crate::project::config::Require;

/// The other side of `--baseline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BaselineSpec {
    /// The project as of a git revision, on the local engine.
    Rev(String),
    /// What is deployed: the live API.
    Live,
}

/// Rule coverage as asked by the flags and `rulegate.yaml`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CoverageSettings {
    /// Measure and print it.
    pub(crate) on: bool,
    /// What the run must reach (a flag's, else the file's on an unfiltered run).
    pub(crate) require: Option<Require>,
    /// Rules not counted (by ref, id or description).
    pub(crate) exempt: Vec<String>,
    /// Why the file's requirement is not checked on this run, to print.
    pub(crate) note: Option<String>,
    /// `--coverage-lcov FILE`.
    pub(crate) lcov: Option<std::path::PathBuf>,
    /// `--coverage-cobertura FILE`.
    pub(crate) cobertura: Option<std::path::PathBuf>,
}

/// `rulegate test`'s settings.
#[derive(Debug, Clone)]
pub(crate) struct TestSettings {
    pub(crate) common: Settings,
    /// libtest-mimic's arguments (filter, `--skip`, `--exact`, `--ignored`, format, colour).
    pub(crate) libtest: Arguments,
    /// Whether rulegate's own output (the diff) is coloured.
    pub(crate) color: bool,
    /// Cases with offline-only parts are skipped (against the live API, without
    /// `--strict-live`).
    pub(crate) skip_offline_only: bool,
    /// `--tag` / `--skip-tag`.
    pub(crate) tags: crate::runner::Selection,
    pub(crate) coverage: CoverageSettings,
    pub(crate) baseline: Option<BaselineSpec>,
    /// With a baseline: where the behaviour changes go as JSON (`--changes`).
    pub(crate) changes: Option<std::path::PathBuf>,
    /// `--require-changed-covered`: a changed rule no case matches fails the run.
    pub(crate) require_changed_covered: bool,
    /// Where rulegate's text after libtest's output goes: stderr when libtest writes JSON to
    /// stdout, else stdout.
    pub(crate) text_to_stderr: bool,
}

impl TestSettings {
    pub(crate) fn resolve(args: &TestArgs, common: Settings) -> Result<TestSettings, Report> {
        let libtest = libtest_arguments(args)?;
        let live = common.backend == BackendKind::Cloudflare
            && crate::cloudflare::client::is_live_url(&common.api.url);
        let coverage = coverage(args, &common, &libtest)?;
        if args.require_changed_covered && args.baseline.as_deref() == Some("live") {
            return Err(Diagnostic::usage(
                "--require-changed-covered compares the rules with a git revision's, but the live API's rules are not known",
            )
            .hint("name a git revision as the baseline (e.g. --baseline origin/main)")
            .into());
        }
        Ok(TestSettings {
            color: use_color(args),
            skip_offline_only: live && !args.strict_live,
            tags: crate::runner::Selection {
                only: args.tags.clone(),
                skip: args.skip_tags.clone(),
                partition: args.partition,
            },
            coverage,
            baseline: args.baseline.as_deref().map(|b| {
                if b == "live" {
                    BaselineSpec::Live
                } else {
                    BaselineSpec::Rev(b.to_string())
                }
            }),
            changes: args.changes.clone(),
            require_changed_covered: args.require_changed_covered,
            text_to_stderr: matches!(args.format, Some(libtest_mimic::FormatSetting::Json)),
            libtest,
            common,
        })
    }
}

/// The colour choice, decided once for libtest's output and ours: `--color`, then `NO_COLOR`
/// (never), else automatic.
fn color_choice(a: &TestArgs) -> Option<ColorSetting> {
    a.color.or_else(|| {
        std::env::var_os("NO_COLOR")
            .is_some_and(|v| !v.is_empty())
            .then_some(ColorSetting::Never)
    })
}

/// Whether our own output (the diff) is coloured: the choice, else a TTY check.
fn use_color(a: &TestArgs) -> bool {
    use std::io::IsTerminal;
    match color_choice(a) {
        Some(ColorSetting::Always) => true,
        Some(ColorSetting::Never) => false,
        _ => std::io::stdout().is_terminal(),
    }
}

/// libtest-mimic's arguments from ours.
fn libtest_arguments(a: &TestArgs) -> Result<Arguments, Diagnostic> {
    if a.filter.len() > 1 {
        return Err(Diagnostic::usage(format!(
            "one filter at most after `--`, got {}: {}",
            a.filter.len(),
            a.filter.join(" ")
        )));
    }
    Ok(Arguments {
        filter: a.filter.first().cloned(),
        exact: a.exact,
        skip: a.skip.clone(),
        list: a.list,
        ignored: a.ignored,
        include_ignored: a.include_ignored,
        quiet: a.quiet,
        format: a.format,
        color: color_choice(a),
        test_threads: a.test_threads,
        ..Arguments::default()
    })
}

/// Coverage from the flags and `rulegate.yaml`'s `coverage:`.
fn coverage(
    args: &TestArgs,
    settings: &Settings,
    largs: &Arguments,
) -> Result<CoverageSettings, Report> {
    let cfg = settings.config.coverage.clone().unwrap_or_default();
    let require = match args.require_coverage.as_deref() {
        Some("") => Some(cfg.require.unwrap_or(Require::All)),
        Some(s) => Some(Require::parse(s).map_err(Diagnostic::usage)?),
        None => None,
    };
    let asked = args.coverage
        || require.is_some()
        || args.coverage_lcov.is_some()
        || args.coverage_cobertura.is_some();
    if asked && settings.backend != BackendKind::Local {
        return Err(Diagnostic::usage(
            "rule coverage is measured by the local engine, but this run uses --backend cloudflare",
        )
        .hint("drop the coverage flags for the live run, or run them with --backend local")
        .into());
    }
    // rulegate.yaml's requirement holds on every unfiltered local run; a filtered run (a
    // laptop's) cannot meet it and says so.
    // Tags and a partition select a part of the suites too: one shard cannot cover them all.
    let filtered = largs.filter.is_some()
        || !largs.skip.is_empty()
        || largs.ignored
        || !args.tags.is_empty()
        || !args.skip_tags.is_empty()
        || args.partition.is_some();
    let mut note = None;
    let from_config = match cfg.require {
        Some(r) if require.is_none() && settings.backend == BackendKind::Local => {
            if filtered {
                note = Some(format!(
                    "note: rulegate.yaml's coverage requirement ({}) is not checked: this run is filtered",
                    r.label()
                ));
                None
            } else {
                Some(r)
            }
        }
        _ => None,
    };
    let require = require.or(from_config);
    Ok(CoverageSettings {
        on: asked || require.is_some(),
        require,
        exempt: cfg.exempt,
        note,
        lcov: args.coverage_lcov.clone(),
        cobertura: args.coverage_cobertura.clone(),
    })
}

//! CI-native output: GitHub Actions workflow commands (`::error` per failed case at its line,
//! `::notice` per behaviour change, within GitHub's per-step limits) and a Markdown job summary
//! (totals, each failure's diff, the behaviour changes) for `GITHUB_STEP_SUMMARY` or any file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::changes::{Comparison, cells};
use super::coverage::{self, Coverage};
use crate::escape;
use crate::exit::Exit;
use crate::runner::{Outcome, RunResult};
use crate::suite::Suite;

/// GitHub shows at most this many annotations of each level per step; the rest are printed
/// as plain log lines and counted.
pub(crate) const MAX_PER_LEVEL: usize = 10;

/// GitHub rejects a step summary over 1 MiB; failure details stop short of it, leaving room
/// for the other sections (each capped too).
pub(crate) const MAX_FAILURE_DETAILS: usize = 640 * 1024;

/// Escapes a workflow command's message (GitHub's rules: `%`, `\r`, `\n`).
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation: level, where, title, message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotation {
    pub(crate) level: &'static str,
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) title: String,
    pub(crate) message: String,
}

impl Annotation {
    fn command(&self) -> String {
        let at = if self.file.is_empty() {
            String::new()
        } else {
            format!("file={},line={},", escape_property(&self.file), self.line)
        };
        let text = format!(
            "::{} {at}title={}::{}",
            self.level,
            escape_property(&self.title),
            escape_data(&self.message)
        );
        escape::scrub(&text).into_owned()
    }

    fn plain(&self) -> String {
        let text = format!(
            "{}: {}:{}: {}: {}",
            self.level,
            self.file,
            self.line,
            self.title,
            self.message.lines().next().unwrap_or("")
        );
        escape::visible(&escape::scrub(&text)).into_owned()
    }
}

/// A file as GitHub wants it: relative to the workspace when it lies inside it, `/`-separated,
/// with `.` and `dir/..` folded (GitHub attaches annotations only to such paths).
fn repo_path(file: &Path, workspace: Option<&Path>) -> String {
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let abs = PathBuf::from(coverage::show(&abs));
    let inside = workspace.and_then(|w| {
        let w = std::path::absolute(w).unwrap_or_else(|_| w.to_path_buf());
        abs.strip_prefix(coverage::show(&w))
            .ok()
            .map(Path::to_path_buf)
    });
    match inside {
        Some(rel) => coverage::show(&rel),
        None => coverage::show(file),
    }
}

/// The annotations of a run: an error per failed or unrunnable case, a notice per behaviour
/// change, in suite order.
pub(crate) fn annotations(
    suites: &[Suite],
    run: &RunResult,
    comparison: Option<&Comparison>,
    coverage: Option<&Coverage>,
    workspace: Option<&Path>,
) -> Vec<Annotation> {
    let mut out = Vec::new();
    for (suite, case, result) in run.walk(suites) {
        let file = repo_path(&suite.file, workspace);
        let message = match &result.outcome {
            Outcome::Failed { mismatches, .. } => mismatches
                .first()
                .map_or_else(|| "expectations not met".to_string(), |m| m.message.clone()),
            Outcome::Error { error } => format!("could not run: {error}"),
            Outcome::Passed | Outcome::Skipped { .. } => continue,
        };
        out.push(Annotation {
            level: "error",
            file: file.clone(),
            line: case.line,
            title: format!("rulegate: {}", case.full_name),
            message,
        });
    }
    if let Some(cov) = coverage {
        for u in cov.uncovered() {
            out.push(Annotation {
                level: "warning",
                file: repo_path(u.file, workspace),
                line: u.rule.line.max(1),
                title: format!("uncovered rule: {}", u.rule.label()),
                message: if u.reached {
                    format!(
                        "no case matches this rule of ruleset {} (evaluated by {} case(s))",
                        u.ruleset, u.rule.evaluated
                    )
                } else {
                    format!("no case reaches this rule of ruleset {}", u.ruleset)
                },
            });
        }
    }
    if let Some(c) = comparison {
        for r in c.rules.iter().filter(|r| r.unexercised() && r.in_candidate) {
            out.push(Annotation {
                level: if c.require_rules_covered { "error" } else { "warning" },
                file: repo_path(Path::new(&r.file), workspace),
                line: r.line.max(1),
                title: format!("changed rule no case exercises: {}", r.label),
                message: format!(
                    "this rule changed ({}) against {}, and no case matches it before or after: a case requesting what it now does would test the change",
                    r.changes.join(", "),
                    c.baseline
                ),
            });
        }
        for change in &c.changes {
            let (before, after) = cells(&change.before, &change.after);
            out.push(Annotation {
                level: "notice",
                file: repo_path(Path::new(&change.file), workspace),
                line: change.line,
                title: format!("behaviour change ({}): {}", change.kind, change.case),
                message: format!("before ({}): {before}\nafter: {after}", c.baseline),
            });
        }
    }
    out
}

/// The text to print: up to [`MAX_PER_LEVEL`] workflow commands per level, then the rest as
/// plain lines and one line per level saying how many were not annotated.
pub(crate) fn render_annotations(list: &[Annotation]) -> String {
    let mut out = String::new();
    for level in ["error", "warning", "notice"] {
        let of: Vec<&Annotation> = list.iter().filter(|a| a.level == level).collect();
        for a in of.iter().take(MAX_PER_LEVEL) {
            out.push_str(&a.command());
            out.push('\n');
        }
        if of.len() > MAX_PER_LEVEL {
            let rest = &of[MAX_PER_LEVEL..];
            for a in rest {
                out.push_str(&a.plain());
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "{} more {level}(s) not annotated (GitHub shows at most {MAX_PER_LEVEL} per step); they are listed above and in the job summary",
                rest.len()
            );
        }
    }
    out
}

/// Counts of a run's outcomes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) errors: usize,
    pub(crate) skipped: usize,
}

pub(crate) fn totals(run: &RunResult) -> Totals {
    let mut t = Totals::default();
    for r in run.results.values() {
        match r.outcome {
            Outcome::Passed => t.passed += 1,
            Outcome::Failed { .. } => t.failed += 1,
            Outcome::Error { .. } => t.errors += 1,
            Outcome::Skipped { .. } => t.skipped += 1,
        }
    }
    t
}

/// A Markdown table cell or list text: see [`escape::md_text`].
fn cell(s: &str) -> String {
    escape::md_text(s)
}

/// A fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    "`".repeat((escape::longest_backtick_run(body) + 1).max(3))
}

/// Escapes text for HTML (inside `<summary>`): see [`escape::html`].
fn html(s: &str) -> String {
    escape::html(s)
}

/// The run's verdict in the summary's headline: the same one the exit code carries.
pub(crate) fn verdict_word(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "passed",
        Exit::Failed => "failed",
        Exit::Invalid => "invalid input",
        Exit::CouldNotRun => "could not run",
    }
}

/// A section of the summary that stops at `limit` bytes, counting the items it leaves out.
struct Capped {
    text: String,
    limit: usize,
    left: usize,
}

impl Capped {
    fn new(limit: usize) -> Capped {
        Capped {
            text: String::new(),
            limit,
            left: 0,
        }
    }

    fn push(&mut self, item: &str) {
        if self.left > 0 || self.text.len() + item.len() > self.limit {
            self.left += 1;
        } else {
            self.text.push_str(item);
        }
    }

    /// The section's text, then a line counting what was left out (`what` names the items).
    fn finish(self, md: &mut String, what: &str) {
        md.push_str(&self.text);
        if self.left > 0 {
            let _ = writeln!(
                md,
                "\n{} more {what} not shown here (GitHub's summary limit is 1 MiB): see the log and the reports.\n",
                self.left
            );
        }
    }
}

/// Byte budgets of the summary's sections: together under GitHub's 1 MiB.
const MAX_CHANGES: usize = 96 * 1024;
const MAX_UNCOVERED: usize = 64 * 1024;
const MAX_SKIPPED: usize = 64 * 1024;
const MAX_COVERAGE_TABLE: usize = 32 * 1024;

/// The Markdown job summary; `verdict` is the run's one verdict (what the exit code says),
/// `reasons` why it is not a pass beyond the case outcomes (unmet coverage, baseline errors).
pub(crate) fn summary(
    suites: &[Suite],
    run: &RunResult,
    comparison: Option<&Comparison>,
    coverage: Option<&Coverage>,
    backend: &str,
    verdict: (Exit, &[String]),
) -> String {
    let t = totals(run);
    let mut md = String::new();
    let _ = writeln!(md, "## rulegate: {}\n", verdict_word(verdict.0));
    for why in verdict.1 {
        let _ = writeln!(md, "- {}", cell(why));
    }
    if !verdict.1.is_empty() {
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "| passed | failed | could not run | skipped |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n",
        t.passed, t.failed, t.errors, t.skipped
    );
    let _ = writeln!(md, "Backend: {}\n", cell(backend));
    let mut failures = Capped::new(MAX_FAILURE_DETAILS);
    let mut skipped = Capped::new(MAX_SKIPPED);
    for (suite, case, result) in run.walk(suites) {
        let mut at = format!("{}:{}", suite.file.display(), case.line);
        if let Some(n) = suite.name.as_deref().filter(|n| !n.is_empty()) {
            at.push_str(&format!(", suite {n}"));
        }
        if !case.tags.is_empty() {
            at.push_str(&format!(", tags: {}", case.tags.join(", ")));
        }
        let body = match &result.outcome {
            Outcome::Failed { mismatches, diff } => {
                let mut b: String = mismatches
                    .iter()
                    .map(|m| format!("{}\n", m.message))
                    .collect();
                b.push('\n');
                b.push_str(diff);
                b
            }
            Outcome::Error { error } => format!("could not run: {error}\n"),
            Outcome::Skipped { reason } => {
                skipped.push(&format!(
                    "- {}: {}\n",
                    escape::md_code(&case.full_name),
                    cell(reason)
                ));
                continue;
            }
            Outcome::Passed => continue,
        };
        // Inside the fence only a longer fence ends the block; control characters other
        // than line breaks are made visible.
        let body = escape::console(&body).into_owned();
        let f = fence(&body);
        failures.push(&format!(
            "<details><summary><code>{}</code> ({})</summary>\n\n{f}text\n{}{}{f}\n\n</details>\n\n",
            html(&case.full_name),
            html(&at),
            body,
            if body.ends_with('\n') { "" } else { "\n" }
        ));
    }
    if !failures.text.is_empty() || failures.left > 0 {
        md.push_str("### Failures\n\n");
        failures.finish(&mut md, "failure(s)");
    }
    if let Some(c) = comparison {
        let _ = writeln!(md, "### Behaviour changes\n");
        if !c.changes.is_empty() {
            md.push_str("| case | before | after |\n|---|---|---|\n");
            let mut rows = Capped::new(MAX_CHANGES);
            for change in &c.changes {
                let (b, a) = cells(&change.before, &change.after);
                rows.push(&format!(
                    "| {} | {} | {} |\n",
                    escape::md_code(&change.case),
                    cell(&b),
                    cell(&a)
                ));
            }
            rows.finish(&mut md, "behaviour change(s)");
            md.push('\n');
        }
        if !c.rules.is_empty() {
            md.push_str("#### Changed rules\n\n| rule | file | change | cases before | cases after |\n|---|---|---|---:|---:|\n");
            let mut rows = Capped::new(MAX_CHANGES);
            for r in &c.rules {
                let flag = if r.unexercised() {
                    " ⚠ no case exercises it"
                } else {
                    ""
                };
                rows.push(&format!(
                    "| {}{flag} | {} | {} | {} | {} |\n",
                    cell(&r.label),
                    cell(&format!("{}:{}", r.file, r.line)),
                    cell(&r.changes.join(", ")),
                    r.before,
                    r.after
                ));
            }
            rows.finish(&mut md, "changed rule(s)");
            md.push('\n');
        }
        let _ = writeln!(md, "{}\n", cell(&c.totals()));
    }
    if let Some(cov) = coverage {
        let (counted, covered) = cov.totals();
        let _ = writeln!(
            md,
            "### Rule coverage\n\n{covered} of {counted} rules matched by some case ({:.1}%).\n",
            cov.percent()
        );
        md.push_str("| ruleset | file | rules | matched | evaluated only | not reached |\n|---|---|---:|---:|---:|---:|\n");
        let mut rows = Capped::new(MAX_COVERAGE_TABLE);
        for rs in &cov.rulesets {
            let counted: Vec<_> = rs.rules.iter().filter(|r| r.apart.is_none()).collect();
            if counted.is_empty() {
                continue;
            }
            rows.push(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                escape::md_code(&rs.id),
                cell(&coverage::show(&rs.file)),
                counted.len(),
                counted.iter().filter(|r| r.matched > 0).count(),
                counted
                    .iter()
                    .filter(|r| r.matched == 0 && r.evaluated > 0)
                    .count(),
                counted.iter().filter(|r| r.evaluated == 0).count()
            ));
        }
        rows.finish(&mut md, "ruleset(s)");
        md.push('\n');
        let uncovered = cov.uncovered();
        if !uncovered.is_empty() {
            md.push_str("Rules no case matches:\n\n");
            let mut list = Capped::new(MAX_UNCOVERED);
            for u in uncovered {
                list.push(&format!(
                    "- {} at {}:{}{}\n",
                    escape::md_code(u.rule.label()),
                    cell(&coverage::show(u.file)),
                    u.rule.line,
                    if u.reached { "" } else { " (never reached)" }
                ));
            }
            list.finish(&mut md, "uncovered rule(s)");
            md.push('\n');
        }
    }
    if !skipped.text.is_empty() || skipped.left > 0 {
        md.push_str("### Skipped\n\n");
        skipped.finish(&mut md, "skipped case(s)");
        md.push('\n');
    }
    escape::scrub(&md).into_owned()
}

/// Appends `text` to `path` (GitHub's summary file collects every step's output).
pub(crate) fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_githubs_rules() {
        assert_eq!(escape_data("100% a\r\nb: c, d"), "100%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_property("waf::a, b\n100%"),
            "waf%3A%3Aa%2C b%0A100%25"
        );
    }

    fn err(n: usize) -> Annotation {
        Annotation {
            level: "error",
            file: "s.yaml".into(),
            line: n,
            title: format!("rulegate: s::c{n}"),
            message: "status: expected 403\nmore".into(),
        }
    }

    #[test]
    fn at_most_ten_per_level_the_rest_listed_and_counted() {
        let list: Vec<Annotation> = (1..=12).map(err).collect();
        let text = render_annotations(&list);
        let commands = text.lines().filter(|l| l.starts_with("::error ")).count();
        assert_eq!(commands, 10, "{text}");
        assert!(text.contains("error: s.yaml:11: rulegate: s::c11: status: expected 403\n"));
        assert!(text.contains("2 more error(s) not annotated"), "{text}");
        assert!(text.starts_with(
            "::error file=s.yaml,line=1,title=rulegate%3A s%3A%3Ac1::status: expected 403%0Amore\n"
        ));
        assert!(!render_annotations(&list[..3]).contains("more error"));
    }

    #[test]
    fn annotation_paths_are_normalized() {
        assert_eq!(
            repo_path(
                Path::new("/w/tests/../infra/./waf.tf"),
                Some(Path::new("/w"))
            ),
            "infra/waf.tf"
        );
        assert_eq!(repo_path(Path::new("./a/../b.yaml"), None), "b.yaml");
    }

    #[test]
    fn markdown_cells_and_fences_hold_any_text() {
        // `\n` shown as the two characters (the backslash escaped for Markdown).
        assert_eq!(cell("a|b\nc"), "a\\|b\\\\nc");
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("has ```` four"), "`````");
        assert_eq!(html("<a & b>"), "&lt;a &amp; b&gt;");
    }
}

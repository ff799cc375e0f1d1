//! Behaviour changes between a baseline and the candidate: which selected cases a rules change
//! affects, as a `case | before | after` table with a one-line total, and as JSON
//! (`--changes FILE.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::runner::RunResult;
use crate::suite::Suite;
use crate::text::cut;
use crate::trace::Behaviour;
use crate::trace::TraceError;
use crate::trace::behaviour::change_kind;

/// One case whose behaviour differs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Change {
    pub(crate) case: String,
    pub(crate) file: String,
    pub(crate) line: usize,
    /// How it changed (`newly blocked`, `no longer challenged`, …).
    pub(crate) kind: &'static str,
    pub(crate) before: Behaviour,
    pub(crate) after: Behaviour,
}

/// The comparison of one run with its baseline.
#[derive(Debug, Serialize)]
pub(crate) struct Comparison {
    /// What the baseline is: `HEAD~1 (1a2b3c4d5e6f)`, `the live API`.
    pub(crate) baseline: String,
    /// Cases traced on both sides.
    pub(crate) compared: usize,
    pub(crate) changes: Vec<Change>,
    /// Cases the baseline could not trace: the comparison is incomplete (exit 3).
    pub(crate) baseline_errors: Vec<(String, String)>,
    /// The rules whose definition differs from the baseline's (a revision baseline only),
    /// with the cases that match each on either side.
    pub(crate) rules: Vec<RuleReview>,
    /// `--require-changed-covered`: an unexercised changed rule fails the run.
    #[serde(skip)]
    pub(crate) require_rules_covered: bool,
}

/// A changed rule and what exercises it: cases (and, for `replay`, requests) matching it on
/// the baseline's side and on the candidate's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuleReview {
    pub(crate) ruleset: String,
    pub(crate) rule: String,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub(crate) reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) changes: Vec<&'static str>,
    /// Where the rule is, as reports name files (`REV:path` for a removed rule).
    pub(crate) file: String,
    pub(crate) line: usize,
    /// The file is the candidate's (an annotation can point at it).
    #[serde(skip)]
    pub(crate) in_candidate: bool,
    pub(crate) before: u64,
    pub(crate) after: u64,
    #[serde(skip)]
    pub(crate) label: String,
}

impl RuleReview {
    /// No case (or request) matches the rule on either side: the change is untested.
    pub(crate) fn unexercised(&self) -> bool {
        self.before == 0 && self.after == 0
    }

    /// `rulesets/x.json:14 "Block admin" (admin): expression, action`.
    pub(crate) fn line_text(&self, noun: &str) -> String {
        let mut s = format!(
            "{}:{} {}: {}; {noun}s matching it {} → {}",
            self.file,
            self.line,
            self.label,
            self.changes.join(", "),
            self.before,
            self.after
        );
        if self.unexercised() {
            let _ = write!(s, "  ← no {noun} exercises this change");
        }
        s
    }
}

/// The reviews of `changed` rules, counting the matches of each in `before` and `after`
/// (the matched rule sets of the cases or requests on each side); `show` names a file.
pub(crate) fn review<'a>(
    changed: Vec<crate::ruleset::diff::RuleChange>,
    before: impl Iterator<Item = &'a Behaviour> + Clone,
    after: impl Iterator<Item = &'a Behaviour> + Clone,
    show: impl Fn(&Path) -> String,
) -> Vec<RuleReview> {
    changed
        .into_iter()
        .map(|c| {
            let count = |side: &mut dyn Iterator<Item = &'a Behaviour>| {
                side.filter(|b| b.matched.contains(&c.step)).count() as u64
            };
            RuleReview {
                before: count(&mut before.clone()),
                after: count(&mut after.clone()),
                label: c.label(),
                ruleset: c.ruleset,
                rule: c.step,
                reference: c.reference,
                description: c.description,
                changes: c.kinds,
                file: show(&c.file),
                line: c.line,
                in_candidate: !c.in_baseline,
            }
        })
        .collect()
}

/// The plain-text list of changed rules.
pub(crate) fn render_rules(rules: &[RuleReview], noun: &str) -> String {
    let mut out = String::new();
    if rules.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "changed rules ({noun}s matching each, baseline → candidate):"
    );
    for r in rules {
        let _ = writeln!(out, "  {}", crate::escape::visible(&r.line_text(noun)));
    }
    let n = rules.iter().filter(|r| r.unexercised()).count();
    if n > 0 {
        let _ = writeln!(out, "{n} changed rule(s) no {noun} exercises");
    }
    out
}

/// Compares the candidate's behaviours in `run` with `baseline`'s, case by case, in suite order.
pub(crate) fn compare(
    suites: &[Suite],
    run: &RunResult,
    baseline: &BTreeMap<String, Result<Behaviour, TraceError>>,
    what: String,
) -> Comparison {
    let mut out = Comparison {
        baseline: what,
        compared: 0,
        changes: Vec::new(),
        baseline_errors: Vec::new(),
        rules: Vec::new(),
        require_rules_covered: false,
    };
    for (suite, case, result) in run.walk(suites) {
        let Some(base) = baseline.get(&case.full_name) else {
            continue;
        };
        let before = match base {
            Ok(b) => b,
            Err(e) => {
                out.baseline_errors
                    .push((case.full_name.clone(), e.to_string()));
                continue;
            }
        };
        // A case the candidate could not trace is already an error of the run.
        let Some(after) = result.behaviour.as_ref() else {
            continue;
        };
        out.compared += 1;
        if before != after {
            out.changes.push(Change {
                case: case.full_name.clone(),
                file: suite.file.display().to_string(),
                line: case.line,
                kind: change_kind(before, after),
                before: before.clone(),
                after: after.clone(),
            });
        }
    }
    out
}

impl Comparison {
    /// `7 of 212 cases change behaviour against HEAD~1 (…): 5 newly blocked, 2 no longer
    /// challenged`.
    pub(crate) fn totals(&self) -> String {
        let mut kinds: Vec<(&str, usize)> = Vec::new();
        for c in &self.changes {
            match kinds.iter_mut().find(|(k, _)| *k == c.kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((c.kind, 1)),
            }
        }
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let noun = if self.compared == 1 { "case" } else { "cases" };
        let verb = if self.changes.len() == 1 && self.compared == 1 {
            "changes"
        } else {
            "change"
        };
        let mut s = format!(
            "{} of {} {noun} {verb} behaviour against {}",
            self.changes.len(),
            self.compared,
            self.baseline
        );
        if !kinds.is_empty() {
            s.push_str(": ");
            let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            s.push_str(&parts.join(", "));
        }
        if !self.baseline_errors.is_empty() {
            let _ = write!(
                s,
                "; {} case(s) could not be traced on the baseline",
                self.baseline_errors.len()
            );
        }
        s
    }

    /// The plain-text report: the table (when anything changed), baseline errors, the totals.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if !self.changes.is_empty() {
            let rows: Vec<[String; 3]> = self
                .changes
                .iter()
                .map(|c| {
                    let (b, a) = cells(&c.before, &c.after);
                    [c.case.clone(), b, a]
                })
                .collect();
            out.push_str(&table(&["case", "before", "after"], &rows));
            out.push('\n');
        }
        for (case, e) in &self.baseline_errors {
            let _ = writeln!(out, "baseline could not trace {case}: {e}");
        }
        if !self.rules.is_empty() {
            out.push_str(&render_rules(&self.rules, "case"));
            out.push('\n');
        }
        out.push_str(&self.totals());
        out.push('\n');
        out
    }

    /// The changes as JSON, for `--changes`.
    pub(crate) fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, crate::escape::scrub(&text).into_owned() + "\n")
    }
}

/// The before and after cells: the headlines, and on the after side the rules that now match
/// or no longer match, when those differ.
pub(crate) fn cells(before: &Behaviour, after: &Behaviour) -> (String, String) {
    let mut a = after.headline();
    let gained: Vec<&str> = after
        .matched
        .difference(&before.matched)
        .map(String::as_str)
        .collect();
    let lost: Vec<&str> = before
        .matched
        .difference(&after.matched)
        .map(String::as_str)
        .collect();
    if !gained.is_empty() {
        let _ = write!(a, "; also matches {}", gained.join(", "));
    }
    if !lost.is_empty() {
        let _ = write!(a, "; no longer matches {}", lost.join(", "));
    }
    (before.headline(), a)
}

/// Cells wider than this are cut with `…`.
const MAX_CELL: usize = 72;

/// A plain-text table with a header rule.
fn table(head: &[&str; 3], rows: &[[String; 3]]) -> String {
    let rows: Vec<[String; 3]> = rows
        .iter()
        .map(|r| {
            r.clone()
                .map(|c| cut(&crate::escape::visible(&c), MAX_CELL))
        })
        .collect();
    let mut w = head.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 3]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            s.push_str(c);
            if i < 2 {
                s.push_str(&" ".repeat(w[i] - c.chars().count()));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(*head);
    out.push_str(&format!(
        "{}-+-{}-+-{}\n",
        "-".repeat(w[0]),
        "-".repeat(w[1]),
        "-".repeat(w[2])
    ));
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2]]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(action: &str) -> Behaviour {
        Behaviour {
            status: Some(if action == "block" { 403 } else { 200 }),
            action: action.into(),
            rule: (action != "none").then(|| "r1".to_string()),
            description: None,
            redirect: None,
            matched: Default::default(),
        }
    }

    #[test]
    fn totals_count_each_kind_most_first() {
        let change = |k: &'static str| Change {
            case: "s::c".into(),
            file: "s.yaml".into(),
            line: 3,
            kind: k,
            before: b("none"),
            after: b("block"),
        };
        let c = Comparison {
            baseline: "HEAD~1 (abc)".into(),
            compared: 212,
            changes: [
                vec![change("newly blocked"); 5],
                vec![change("no longer challenged"); 2],
            ]
            .concat(),
            baseline_errors: vec![],
            rules: vec![],
            require_rules_covered: false,
        };
        assert_eq!(
            c.totals(),
            "7 of 212 cases change behaviour against HEAD~1 (abc): 5 newly blocked, 2 no longer challenged"
        );
        let text = c.render();
        assert!(text.starts_with("case | before"), "{text}");
        assert!(
            text.contains("s::c | 200 none | 403 block by r1\n"),
            "{text}"
        );
    }
}

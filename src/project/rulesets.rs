//! Ruleset files into compiled rulesets: kinds and phases known, actions allowed in their
//! phase, expressions parsed, type-checked and available in the phase, action parameters
//! typed ([`Action::parse`]), execute targets present. Every problem is placed in the file.

use std::collections::HashSet;
use std::path::Path;

use super::files::FileCtx;
use crate::diag::Report;
use crate::rules::functions::Usage;
use crate::rules::{self, Filter, ValueProgram};
use crate::ruleset::action::{Action, RedirectFrom, Sink};
use crate::ruleset::model::{Rule, Ruleset};
use crate::ruleset::{CompiledRule, CompiledRuleset, Level, Rulebook, managed_name, phases};
use crate::text::suggestion;
use crate::trace::view::RATE_LIMIT_PHASE;

const KINDS: &[&str] = &["zone", "root", "custom", "managed"];

/// Where a rule's action parameters report to: the file, at the rule.
struct RuleSink<'c, 'a> {
    c: &'c mut FileCtx<'a>,
    label: &'c str,
    anchor: usize,
    compiler: &'c rules::Compiler<'c>,
    /// The phase whose availability rules apply (`None` for managed rulesets).
    phase: Option<&'c str>,
    /// What the value expressions' regexes may cost.
    cost: &'c mut rules::cost::Cost,
}

impl Sink for RuleSink<'_, '_> {
    fn error(&mut self, message: String, hint: Option<&str>) {
        let d = self
            .c
            .error(self.anchor, 1, format!("in rule {}: {message}", self.label));
        d.hint = hint.map(String::from);
    }

    fn value_expr(&mut self, what: &str, e: &str) -> Option<ValueProgram> {
        let label = format!("{} ({what})", self.label);
        match self.compiler.parse_value(e) {
            Ok(v) => {
                self.cost.add_value(&v);
                for err in rules::availability::value_availability(&v, Usage::Value, self.phase) {
                    self.c.expr_error(&label, self.anchor, e, &err);
                }
                Some(ValueProgram::new(&v))
            }
            Err(err) => {
                self.c.expr_error(&label, self.anchor, e, &err);
                None
            }
        }
    }
}

/// Where a rule is named in the file: its id, else its ref.
fn rule_anchor(c: &FileCtx, rule: &Rule) -> usize {
    rule.id
        .as_ref()
        .or(rule.reference.as_ref())
        .and_then(|id| c.find(id, 0))
        .unwrap_or(0)
}

/// Where `value` stands as the value of `key` (`"key": "value"` in JSON, `key = "value"` in
/// HCL) at or after `from`, so a rule is not placed at a label or variable of the same name.
fn keyed_value(c: &FileCtx, key: &str, value: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = c.find(value, at) {
        let before = c.text[..found.saturating_sub(1)].trim_end();
        let before = before
            .strip_suffix('=')
            .or_else(|| before.strip_suffix(':'))
            .map(str::trim_end);
        if before.is_some_and(|b| b.ends_with(key) || b.ends_with(&format!("\"{key}\""))) {
            return Some(found);
        }
        at = found;
    }
    None
}

/// Where `rule` stands in its file, at or after `from` (rules are in file order): by id, ref,
/// description or expression (its first line, for a `.tf` heredoc).
fn rule_offset(c: &FileCtx, rule: &Rule, from: usize) -> Option<usize> {
    let keyed = [
        ("id", &rule.id),
        ("ref", &rule.reference),
        ("description", &rule.description),
        ("expression", &rule.expression),
    ];
    keyed
        .iter()
        .find_map(|(key, v)| v.as_deref().and_then(|v| keyed_value(c, key, v, from)))
        .or_else(|| keyed.iter().find_map(|(_, v)| c.find(v.as_deref()?, from)))
        .or_else(|| {
            let first = rule.expression.as_deref()?.lines().next()?.trim();
            (!first.is_empty())
                .then(|| c.text.get(from..)?.find(first).map(|i| from + i))
                .flatten()
        })
}

/// Compiles `rs`; `ids` are every ruleset id of the project (execute targets).
pub(super) fn compile_ruleset(
    path: &Path,
    rs: Ruleset,
    compiler: &rules::Compiler,
    ids: &HashSet<String>,
    c: &mut FileCtx,
    cost: &mut rules::cost::Cost,
) -> CompiledRuleset {
    if !KINDS.contains(&rs.kind.as_str()) {
        let at = c.find(&rs.kind, 0).unwrap_or(0);
        c.error(
            at,
            rs.kind.len(),
            format!("unknown ruleset kind `{}`", rs.kind),
        )
        .hint = Some("kind is zone, root (account entry point), custom or managed".into());
    }
    match &rs.phase {
        Some(p) if !phases::is_known(p) => {
            let at = c.find(p, 0).unwrap_or(0);
            let hint = suggestion(p, phases::all());
            c.error(at, p.len(), format!("unknown phase `{p}`")).hint = hint;
        }
        None if matches!(rs.kind.as_str(), "zone" | "root") => {
            c.error(
                0,
                1,
                format!("{} ruleset `{}` has no phase", rs.kind, rs.id),
            )
            .hint = Some("an entry point names its phase".into());
        }
        _ => {}
    }
    let managed = rs.kind == "managed";
    let phase = rs.phase.clone().unwrap_or_default();
    let phase_checked = if managed { None } else { rs.phase.as_deref() };
    let mut seen_ids = HashSet::new();
    let mut rules = Vec::new();
    let mut placed_from = 0;
    for (i, rule) in rs.rules.iter().enumerate() {
        let line = match rule_offset(c, rule, placed_from) {
            Some(at) => {
                placed_from = at;
                crate::text::line_col(c.text, at).0
            }
            None => 0,
        };
        let label = format!("`{}`", rule.step_name(i));
        let anchor = rule_anchor(c, rule);
        if let Some(id) = &rule.id
            && !seen_ids.insert(id.as_str())
        {
            // The second use: the first occurrence after the first one.
            let at = c.find(id, anchor + 1).unwrap_or(anchor);
            c.error(
                at,
                id.len(),
                format!("rule id `{id}` is used twice in ruleset `{}`", rs.id),
            )
            .hint = Some("rule ids are unique within a ruleset".into());
        }
        if !managed
            && let Some(allowed) = phases::allowed_actions(&phase)
            && !allowed.contains(&rule.action.as_str())
        {
            let at = c.find(&rule.action, anchor).unwrap_or(anchor);
            let hint = suggestion(&rule.action, allowed.iter().copied())
                .unwrap_or_else(|| format!("allowed in {phase}: {}", allowed.join(", ")));
            c.error(
                at,
                rule.action.len(),
                format!(
                    "in rule {label}: action `{}` is not allowed in phase {phase}",
                    rule.action
                ),
            )
            .hint = Some(hint);
        }
        let filter = match &rule.expression {
            Some(e) => match compiler.parse_filter(e) {
                Ok(ast) => {
                    cost.add_filter(&ast);
                    if !managed {
                        for err in rules::availability::availability(
                            &ast,
                            Usage::Filter,
                            rs.phase.as_deref(),
                        ) {
                            c.expr_error(&label, anchor, e, &err);
                        }
                    }
                    Some(Filter::new(&ast))
                }
                Err(err) => {
                    c.expr_error(&label, anchor, e, &err);
                    None
                }
            },
            None if managed => None,
            None => {
                c.error(anchor, 1, format!("in rule {label}: no `expression`"))
                    .hint = Some("use \"true\" to match every request".into());
                None
            }
        };
        let null = serde_json::Value::Null;
        let params = rule.action_parameters.as_deref().unwrap_or(&null);
        let action = Action::parse(
            &rule.action,
            params,
            &mut RuleSink {
                c,
                label: &label,
                anchor,
                compiler,
                phase: phase_checked,
                cost,
            },
        );
        if let Action::Redirect(Some(from)) = &action
            && let RedirectFrom::List { name, .. } = from.as_ref()
        {
            match compiler.lists().get(name) {
                Some(l) if l.kind() == "redirect" => {}
                Some(l) => {
                    c.error(
                        anchor,
                        1,
                        format!(
                            "in rule {label}: from_list names `{name}`, a {} list",
                            l.kind()
                        ),
                    )
                    .hint = Some("Bulk Redirects read a list of kind redirect".into());
                }
                None => {
                    c.error(anchor, 1, format!("in rule {label}: from_list names `{name}`, which is no list in the project"))
                        .hint = suggestion(name, compiler.lists().names());
                }
            }
        }
        if let Action::Execute { id, .. } = &action
            && !id.is_empty()
            && !ids.contains(id)
            && managed_name(id).is_none()
        {
            c.error(
                anchor,
                1,
                format!("in rule {label}: execute target `{id}` is not in the project"),
            )
            .hint = Some(
                "add the ruleset's JSON to the rulesets directory (rulegate pull fetches them)"
                    .into(),
            );
        }
        // Cloudflare refuses rate limiting parameters outside the rate limiting phase; taking
        // them would evaluate the rule as a plain action there.
        if !phase.is_empty() && phase != RATE_LIMIT_PHASE && !managed && rule.ratelimit.is_some() {
            c.error(
                anchor,
                1,
                format!("in rule {label}: `ratelimit` is only allowed in phase {RATE_LIMIT_PHASE}, not {phase}"),
            )
            .hint = Some("move the rule to a ruleset of phase http_ratelimit, or drop `ratelimit` to make it a plain rule".into());
        }
        if phase == RATE_LIMIT_PHASE && !managed {
            let ok = rule.ratelimit.as_ref().is_some_and(|rl| {
                rl.get("characteristics")
                    .is_some_and(serde_json::Value::is_array)
                    && rl.get("period").is_some_and(serde_json::Value::is_i64)
            });
            if !ok {
                c.error(anchor, 1, format!("in rule {label}: a rate limiting rule needs `ratelimit` with `characteristics` and `period`")).hint =
                    Some("e.g. \"ratelimit\": {\"characteristics\": [\"ip.src\", \"cf.colo.id\"], \"period\": 60, \"requests_per_period\": 100, \"mitigation_timeout\": 600}".into());
            }
        }
        rules.push(CompiledRule {
            rule: rule.clone(),
            filter,
            action,
            line,
        });
    }
    CompiledRuleset {
        file: path.to_path_buf(),
        ruleset: rs,
        rules,
    }
}

/// Only entry points execute rulesets, and only custom or managed ones (Cloudflare deploys a
/// custom ruleset by an `execute` rule in a phase entry point; a custom ruleset cannot execute
/// another). With both rules no loop can form; loops are still found and named by their path,
/// so a project that breaks both rules hears what would happen.
pub(super) fn check_executes(book: &Rulebook, report: &mut Report) {
    let label = |rs: &CompiledRuleset| match rs.ruleset.name.as_deref() {
        Some(n) if n != rs.ruleset.id => format!("`{n}` ({})", rs.ruleset.id),
        _ => format!("`{}`", rs.ruleset.id),
    };
    // Edges: ruleset index → (rule index, target index).
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); book.rulesets.len()];
    for (ri, rs) in book.rulesets.iter().enumerate() {
        let text = report.sources.get(&rs.file).cloned().unwrap_or_default();
        let mut c = FileCtx {
            file: &rs.file,
            text: &text,
            diags: &mut report.diagnostics,
        };
        for (i, cr) in rs.rules.iter().enumerate() {
            let Action::Execute { id, .. } = &cr.action else {
                continue;
            };
            let anchor = rule_anchor(&c, &cr.rule);
            let rule = format!("`{}`", cr.rule.step_name(i));
            if Level::of_kind(&rs.ruleset.kind).is_none() {
                c.error(
                    anchor,
                    1,
                    format!(
                        "in rule {rule}: a {} ruleset cannot execute another ruleset",
                        rs.ruleset.kind
                    ),
                )
                .hint = Some(
                    "only phase entry points (kind zone or root) execute rulesets: move this rule to the entry point"
                        .into(),
                );
            }
            let Some(&ti) = book.by_id.get(id) else {
                continue;
            };
            let target = &book.rulesets[ti];
            if Level::of_kind(&target.ruleset.kind).is_some() {
                c.error(
                    anchor,
                    1,
                    format!(
                        "in rule {rule}: execute target {} is an entry point (kind {})",
                        label(target),
                        target.ruleset.kind
                    ),
                )
                .hint = Some("only custom and managed rulesets can be executed".into());
            }
            edges[ri].push((i, ti));
        }
    }
    // Loops: a depth-first search; each back edge closes one, reported at its rule.
    let mut state = vec![0u8; book.rulesets.len()]; // 0 new, 1 on the path, 2 done
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        n: usize,
        edges: &[Vec<(usize, usize)>],
        state: &mut [u8],
        path: &mut Vec<usize>,
        found: &mut Vec<(usize, usize, Vec<usize>)>,
    ) {
        state[n] = 1;
        path.push(n);
        for &(rule, t) in &edges[n] {
            match state[t] {
                0 => visit(t, edges, state, path, found),
                1 => {
                    let from = path.iter().position(|&p| p == t).unwrap_or(0);
                    let mut cycle = path[from..].to_vec();
                    cycle.push(t);
                    found.push((n, rule, cycle));
                }
                _ => {}
            }
        }
        path.pop();
        state[n] = 2;
    }
    let mut found = Vec::new();
    for n in 0..book.rulesets.len() {
        if state[n] == 0 {
            visit(n, &edges, &mut state, &mut path, &mut found);
        }
    }
    for (n, rule, cycle) in found {
        let rs = &book.rulesets[n];
        let text = report.sources.get(&rs.file).cloned().unwrap_or_default();
        let mut c = FileCtx {
            file: &rs.file,
            text: &text,
            diags: &mut report.diagnostics,
        };
        let cr = &rs.rules[rule];
        let anchor = rule_anchor(&c, &cr.rule);
        let path: Vec<String> = cycle.iter().map(|&i| label(&book.rulesets[i])).collect();
        c.error(
            anchor,
            1,
            format!(
                "in rule `{}`: execute loop {}",
                cr.rule.step_name(rule),
                path.join(" → ")
            ),
        )
        .hint = Some("a ruleset must not execute itself, directly or through others".into());
    }
}

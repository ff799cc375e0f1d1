//! Which rules a change touches: the rules of two rulebooks (a baseline and a candidate)
//! matched by ruleset and rule identity (the rule's id, else its ref, else its description),
//! each difference named: added, removed, expression, action, parameters, order, enabled.
//! A rule that keeps its place relative to the other surviving rules is not "moved" because
//! a rule was added or removed before it.

use std::collections::HashMap;
use std::path::PathBuf;

use super::compiled::{CompiledRule, CompiledRuleset, Rulebook};

/// One rule that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleChange {
    pub(crate) ruleset: String,
    /// What traces call the rule (id, else ref, else `rule-N`).
    pub(crate) step: String,
    pub(crate) reference: Option<String>,
    pub(crate) description: Option<String>,
    /// `added`, `removed`, or what changed.
    pub(crate) kinds: Vec<&'static str>,
    /// Where the rule is: the candidate's file and line, or the baseline's for a removed rule.
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    /// From the baseline's side (a removed rule).
    pub(crate) in_baseline: bool,
    /// The candidate's rule is disabled.
    pub(crate) disabled: bool,
}

impl RuleChange {
    /// How people name it: `"Block admin" (admin-block)`, or its step name.
    pub(crate) fn label(&self) -> String {
        match (&self.description, &self.reference) {
            (Some(d), Some(r)) if !d.is_empty() => format!("\"{d}\" ({r})"),
            (Some(d), None) if !d.is_empty() => format!("\"{d}\""),
            (_, Some(r)) => r.clone(),
            _ => self.step.clone(),
        }
    }
}

/// A rule's identity within its ruleset across revisions.
fn key(cr: &CompiledRule, index: usize) -> String {
    cr.rule
        .id
        .clone()
        .or_else(|| cr.rule.reference.clone())
        .or_else(|| cr.rule.description.clone().filter(|d| !d.is_empty()))
        .unwrap_or_else(|| format!("#{index}"))
}

fn change(
    rs: &CompiledRuleset,
    cr: &CompiledRule,
    i: usize,
    kinds: Vec<&'static str>,
    in_baseline: bool,
) -> RuleChange {
    RuleChange {
        ruleset: rs.ruleset.id.clone(),
        step: cr.rule.step_name(i),
        reference: cr.rule.reference.clone(),
        description: cr.rule.description.clone().filter(|d| !d.is_empty()),
        kinds,
        file: rs.file.clone(),
        line: cr.line,
        in_baseline,
        disabled: !cr.rule.is_enabled(),
    }
}

/// The rules that differ between `before` and `after`, in the candidate's order (removed rules
/// after the candidate's).
pub(crate) fn diff(before: &Rulebook, after: &Rulebook) -> Vec<RuleChange> {
    let mut out = Vec::new();
    for rs in &after.rulesets {
        let old = before.ruleset(&rs.ruleset.id);
        let old_rules: Vec<(String, usize, &CompiledRule)> = old
            .map(|o| {
                o.rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (key(r, i), i, r))
                    .collect()
            })
            .unwrap_or_default();
        let new_rules: Vec<(String, usize, &CompiledRule)> = rs
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (key(r, i), i, r))
            .collect();
        let by_key: HashMap<&str, &CompiledRule> =
            old_rules.iter().map(|(k, _, r)| (k.as_str(), *r)).collect();
        // Order: the surviving rules' keys in each revision; those outside the longest
        // common subsequence moved.
        let kept_old: Vec<&str> = old_rules
            .iter()
            .map(|(k, _, _)| k.as_str())
            .filter(|k| new_rules.iter().any(|(n, _, _)| n == k))
            .collect();
        let kept_new: Vec<&str> = new_rules
            .iter()
            .map(|(k, _, _)| k.as_str())
            .filter(|k| by_key.contains_key(k))
            .collect();
        let in_place = in_place(&kept_old, &kept_new);
        for (k, i, cr) in &new_rules {
            let Some(prev) = by_key.get(k.as_str()) else {
                out.push(change(rs, cr, *i, vec!["added"], false));
                continue;
            };
            let mut kinds = Vec::new();
            if prev.rule.expression != cr.rule.expression {
                kinds.push("expression");
            }
            if prev.rule.action != cr.rule.action {
                kinds.push("action");
            }
            if prev.rule.action_parameters != cr.rule.action_parameters
                || prev.rule.ratelimit != cr.rule.ratelimit
            {
                kinds.push("parameters");
            }
            if prev.rule.is_enabled() != cr.rule.is_enabled() {
                kinds.push("enabled");
            }
            if !in_place.contains(&k.as_str()) {
                kinds.push("order");
            }
            if !kinds.is_empty() {
                out.push(change(rs, cr, *i, kinds, false));
            }
        }
        if let Some(o) = old {
            for (k, i, cr) in &old_rules {
                if !new_rules.iter().any(|(n, _, _)| n == k) {
                    out.push(change(o, cr, *i, vec!["removed"], true));
                }
            }
        }
    }
    for o in &before.rulesets {
        if after.ruleset(&o.ruleset.id).is_none() {
            for (i, cr) in o.rules.iter().enumerate() {
                out.push(change(o, cr, i, vec!["removed"], true));
            }
        }
    }
    out
}

/// The keys of `new` in a longest common subsequence with `old`.
fn in_place<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<&'a str> {
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, old, new);
    let mut out = Vec::new();
    for op in ops {
        if let similar::DiffOp::Equal { new_index, len, .. } = op {
            out.extend_from_slice(&new[new_index..new_index + len]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::model::{Rule, Ruleset};

    fn rule(id: &str, expr: &str, action: &str) -> CompiledRule {
        CompiledRule {
            rule: Rule {
                id: Some(id.into()),
                reference: None,
                version: None,
                action: action.into(),
                action_parameters: None,
                expression: Some(expr.into()),
                description: Some(format!("rule {id}")),
                enabled: None,
                categories: Vec::new(),
                ratelimit: None,
                extra: Default::default(),
            },
            filter: None,
            action: crate::ruleset::action::Action::Log,
            line: 1,
        }
    }

    fn book(rules: Vec<CompiledRule>) -> Rulebook {
        let mut b = Rulebook::default();
        b.rulesets.push(CompiledRuleset {
            file: "rs.json".into(),
            ruleset: Ruleset {
                id: "rs".into(),
                name: None,
                description: None,
                kind: "zone".into(),
                phase: Some("http_request_firewall_custom".into()),
                version: None,
                rules: Vec::new(),
                extra: Default::default(),
            },
            rules,
        });
        b.by_id.insert("rs".into(), 0);
        b
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let before = book(vec![
            rule("a", "true", "block"),
            rule("b", "true", "log"),
            rule("c", "false", "block"),
            rule("d", "true", "block"),
            rule("e", "true", "block"),
        ]);
        let mut disabled = rule("d", "true", "block");
        disabled.rule.enabled = Some(false);
        let after = book(vec![
            rule("new", "true", "block"),
            rule("a", "true", "block"),
            rule("c", "true", "block"),
            rule("b", "true", "block"),
            disabled,
        ]);
        let got: Vec<(String, Vec<&str>)> = diff(&before, &after)
            .into_iter()
            .map(|c| (c.step, c.kinds))
            .collect();
        assert_eq!(
            got,
            vec![
                ("new".to_string(), vec!["added"]),
                // a, b, d keep their order: c is the one that moved.
                ("c".to_string(), vec!["expression", "order"]),
                ("b".to_string(), vec!["action"]),
                ("d".to_string(), vec!["enabled"]),
                ("e".to_string(), vec!["removed"]),
            ]
        );
        assert!(diff(&before, &before).is_empty());
    }
}

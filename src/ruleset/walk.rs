//! The walk of one offline evaluation, recorded on demand (`rulegate explain`, a failing
//! case's `why:`): every phase with an entry point, run or not and why; every ruleset entered
//! or not and why (the skip rule that skipped it, the rule that ended the request first); every
//! rule evaluated or not and why, with the action that applied, what an `execute` override
//! changed and which rule ended the request; and the request's context as each phase began
//! (a transform rule's rewrite is what later phases read). The evaluator fills it only when
//! asked: ordinary runs carry `None` and pay one branch per rule.

use std::fmt::Write as _;

use serde::Serialize;

use super::compiled::{CompiledRule, CompiledRuleset};
use crate::rules::Context;
use crate::trace::TraceItem;

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Walk {
    pub(crate) phases: Vec<PhaseWalk>,
    /// The rule that ended the request, placed (`` `id` (file:line) ``).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ended_by: Option<String>,
    /// The context as each phase that ran began.
    #[serde(skip)]
    contexts: Vec<(String, Context)>,
    /// The context when the evaluation ended (what a phase that never ran would have read).
    #[serde(skip)]
    last: Option<Context>,
    #[serde(skip)]
    rec: Recorder,
    /// Every rule of an emulated managed ruleset (the CRS), with its phase: evaluated or not
    /// and why. The walk shows only those that matched; an explanation of one a case names
    /// reads it here.
    #[serde(skip)]
    managed: Vec<(String, RuleWalk)>,
}

/// What the evaluator tells the walk while it runs: who skipped what, whose overrides apply.
#[derive(Debug, Clone, Default)]
struct Recorder {
    /// Open rulesets, outermost first.
    stack: Vec<RulesetWalk>,
    /// The `execute` rules whose overrides apply, innermost last.
    executing: Vec<String>,
    skip_phase_by: Option<String>,
    phase_skipped_by: Vec<(String, String)>,
    ruleset_skipped_by: Vec<(String, String)>,
    rule_skipped_by: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PhaseWalk {
    pub(crate) phase: String,
    pub(crate) ran: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) why_not: Option<String>,
    pub(crate) rulesets: Vec<RulesetWalk>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RulesetWalk {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) kind: String,
    /// The file it was read from (none for a managed ruleset evaluated by emulation or not
    /// at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    pub(crate) entered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) why_not: Option<String>,
    /// How it was evaluated when not from its rules (`OWASP_CRS/3.3.4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) emulated: Option<String>,
    pub(crate) rules: Vec<RuleWalk>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuleWalk {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// `file:line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) at: Option<String>,
    /// The action that applied (after overrides); an emulated OWASP rule's `score +N`.
    pub(crate) action: String,
    pub(crate) evaluated: bool,
    pub(crate) matched: bool,
    /// It ended the request.
    pub(crate) ended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) why_not: Option<String>,
    /// What overrides changed (`action log → block by the override in …`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) changed: Vec<String>,
    /// Why a matched rule's action did not end the request (a rate limit counts; a challenge
    /// with `skip_challenge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
    /// The ruleset an `execute` rule ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) executes: Option<RulesetWalk>,
}

/// `` `id` (file:line) ``: how reasons name a rule.
pub(crate) fn place(rs: &CompiledRuleset, cr: &CompiledRule, index: usize) -> String {
    format!(
        "`{}` ({}:{})",
        cr.rule.step_name(index),
        rs.file.display(),
        cr.line
    )
}

fn ruleset_walk(rs: &CompiledRuleset, entered: bool, why_not: Option<String>) -> RulesetWalk {
    RulesetWalk {
        id: rs.ruleset.id.clone(),
        name: rs.ruleset.name.clone(),
        kind: rs.ruleset.kind.clone(),
        file: Some(rs.file.display().to_string()),
        entered,
        why_not,
        emulated: None,
        rules: Vec::new(),
    }
}

impl Walk {
    pub(crate) fn phase_start(&mut self, phase: &str, ctx: &Context) {
        self.rec.skip_phase_by = None;
        self.contexts.push((phase.to_string(), ctx.clone()));
        self.phases.push(PhaseWalk {
            phase: phase.to_string(),
            ran: true,
            why_not: None,
            rulesets: Vec::new(),
        });
    }

    pub(crate) fn phase_not_run(&mut self, phase: &str, why: String) {
        self.phases.push(PhaseWalk {
            phase: phase.to_string(),
            ran: false,
            why_not: Some(why),
            rulesets: Vec::new(),
        });
    }

    /// Why the rest of the request was not evaluated: the rule that ended it, or the skip
    /// of the rest of the phase.
    pub(crate) fn why_stopped(&self, ended: bool, phase: &str) -> String {
        match (&self.ended_by, &self.rec.skip_phase_by) {
            (Some(by), _) if ended => format!("the request ended at rule {by}"),
            (_, Some(by)) => format!("the skip rule {by} skipped the rest of phase {phase}"),
            _ => "the evaluation stopped".into(),
        }
    }

    /// The skip rule that skipped `phase`, if one did.
    pub(crate) fn phase_skipped_by(&self, phase: &str) -> Option<&str> {
        self.rec
            .phase_skipped_by
            .iter()
            .rev()
            .find(|(p, _)| p == phase)
            .map(|(_, by)| by.as_str())
    }

    pub(crate) fn ruleset_skipped_by(&self, id: &str) -> Option<&str> {
        self.rec
            .ruleset_skipped_by
            .iter()
            .rev()
            .find(|(r, _)| r == id)
            .map(|(_, by)| by.as_str())
    }

    pub(crate) fn rule_skipped_by(&self, ruleset: &str, rule: &str) -> Option<&str> {
        self.rec
            .rule_skipped_by
            .iter()
            .rev()
            .find(|(rs, r, _)| rs == ruleset && r == rule)
            .map(|(_, _, by)| by.as_str())
    }

    /// The skip rule that skipped a rule of `ruleset` for which `names` holds (a rule named
    /// by another id, as a CRS rule by its Cloudflare id).
    pub(crate) fn rule_skipped_where(
        &self,
        ruleset: &str,
        names: impl Fn(&str) -> bool,
    ) -> Option<&str> {
        self.rec
            .rule_skipped_by
            .iter()
            .rev()
            .find(|(rs, r, _)| rs == ruleset && names(r))
            .map(|(_, _, by)| by.as_str())
    }

    pub(crate) fn skipped_phase(&mut self, by: &str) {
        self.rec.skip_phase_by = Some(by.to_string());
    }

    pub(crate) fn skipped_phases(&mut self, by: &str, phases: &[String]) {
        for p in phases {
            self.rec.phase_skipped_by.push((p.clone(), by.to_string()));
        }
    }

    pub(crate) fn skipped_rulesets(&mut self, by: &str, rulesets: &[String]) {
        for r in rulesets {
            self.rec
                .ruleset_skipped_by
                .push((r.clone(), by.to_string()));
        }
    }

    pub(crate) fn skipped_rules(&mut self, by: &str, rules: &[(String, Vec<String>)]) {
        for (rs, ids) in rules {
            for id in ids {
                self.rec
                    .rule_skipped_by
                    .push((rs.clone(), id.clone(), by.to_string()));
            }
        }
    }

    /// An entry point that was not entered, and why.
    pub(crate) fn not_entered(&mut self, rs: &CompiledRuleset, why: String) {
        let w = ruleset_walk(rs, false, Some(why));
        if let Some(p) = self.phases.last_mut() {
            p.rulesets.push(w);
        }
    }

    pub(crate) fn enter(&mut self, rs: &CompiledRuleset) {
        self.rec.stack.push(ruleset_walk(rs, true, None));
    }

    /// Closes the innermost ruleset: under the `execute` rule that ran it, or in the phase.
    pub(crate) fn leave(&mut self) {
        let Some(done) = self.rec.stack.pop() else {
            return;
        };
        self.attach(done);
    }

    fn attach(&mut self, done: RulesetWalk) {
        match self.rec.stack.last_mut().and_then(|p| p.rules.last_mut()) {
            Some(parent) => parent.executes = Some(done),
            None => {
                if let Some(p) = self.phases.last_mut() {
                    p.rulesets.push(done);
                }
            }
        }
    }

    /// The overrides of `execute` rule `by` apply until [`Walk::executed`].
    pub(crate) fn executing(&mut self, by: String) {
        self.rec.executing.push(by);
    }

    pub(crate) fn executed(&mut self) {
        self.rec.executing.pop();
    }

    /// The `execute` rule whose overrides apply now.
    pub(crate) fn override_by(&self) -> String {
        self.rec
            .executing
            .last()
            .map(|by| format!("the override in the execute rule {by}"))
            .unwrap_or_else(|| "an override".into())
    }

    /// A rule of the innermost ruleset.
    pub(crate) fn rule(&mut self, rule: RuleWalk) {
        if let Some(rs) = self.rec.stack.last_mut() {
            rs.rules.push(rule);
        }
    }

    /// A note on the innermost ruleset's last rule.
    pub(crate) fn note(&mut self, note: &str) {
        if let Some(r) = self.rec.stack.last_mut().and_then(|rs| rs.rules.last_mut()) {
            r.note = Some(note.to_string());
        }
    }

    /// The innermost ruleset's last rule ended the request.
    pub(crate) fn ended(&mut self, by: String) {
        if let Some(r) = self.rec.stack.last_mut().and_then(|rs| rs.rules.last_mut()) {
            r.ended = true;
        }
        self.ended_by = Some(by);
    }

    /// A managed ruleset run by emulation (OWASP): its step's rules that matched, and the
    /// score rule; every rule kept aside, with why those in `off` (CRS id, why) did not run.
    pub(crate) fn emulated(
        &mut self,
        step: &TraceItem,
        changed: Vec<String>,
        off: Vec<(String, String)>,
    ) {
        let phase = self
            .phases
            .last()
            .map(|p| p.phase.clone())
            .unwrap_or_default();
        let all: Vec<RuleWalk> = step
            .trace
            .iter()
            .map(|i| RuleWalk {
                id: i.step_name.clone().unwrap_or_default(),
                description: i.description.clone(),
                at: None,
                action: match (&i.action, i.score, i.score_threshold) {
                    (Some(a), Some(s), Some(t)) => format!("{a} at score {s}/{t}"),
                    (None, Some(s), _) => format!("score +{s}"),
                    (a, _, _) => a.clone().unwrap_or_else(|| "score".into()),
                },
                evaluated: true,
                matched: i.matched == Some(true),
                ended: false,
                why_not: None,
                note: None,
                changed: if i.score_threshold.is_some() {
                    changed.clone()
                } else {
                    Vec::new()
                },
                executes: None,
            })
            .collect();
        // Shown: the rules that scored, and the score rule.
        let shown = all
            .iter()
            .zip(&step.trace)
            .filter(|(r, i)| r.matched || i.score_threshold.is_some())
            .map(|(r, _)| r.clone())
            .collect();
        self.managed
            .extend(all.into_iter().map(|r| (phase.clone(), r)));
        self.managed.extend(off.into_iter().map(|(id, why)| {
            (
                phase.clone(),
                RuleWalk {
                    id,
                    description: None,
                    at: None,
                    action: "score".into(),
                    evaluated: false,
                    matched: false,
                    ended: false,
                    why_not: Some(why),
                    changed: Vec::new(),
                    note: None,
                    executes: None,
                },
            )
        }));
        self.attach(RulesetWalk {
            id: step.step_name.clone().unwrap_or_default(),
            name: step.name.clone(),
            kind: step.kind.clone().unwrap_or_else(|| "managed".into()),
            file: None,
            entered: true,
            why_not: None,
            emulated: step.emulated.clone(),
            rules: shown,
        });
    }

    /// A managed ruleset that cannot be evaluated offline.
    pub(crate) fn opaque(&mut self, id: &str, name: &str) {
        self.attach(RulesetWalk {
            id: id.to_string(),
            name: Some(name.to_string()),
            kind: "managed".into(),
            file: None,
            entered: false,
            why_not: Some(
                "its rules are not public: it is not evaluated offline (add a stand-in ruleset with its id)"
                    .into(),
            ),
            emulated: None,
            rules: Vec::new(),
        });
    }

    pub(crate) fn finish(&mut self, ctx: &Context) {
        while !self.rec.stack.is_empty() {
            self.leave();
        }
        self.last = Some(ctx.clone());
    }

    /// The walk entry of rule `id`, and the phase it is in.
    pub(crate) fn find(&self, id: &str) -> Option<(&str, &RuleWalk)> {
        fn in_set<'a>(rs: &'a RulesetWalk, id: &str) -> Option<&'a RuleWalk> {
            rs.rules.iter().find_map(|r| {
                if r.id == id {
                    Some(r)
                } else {
                    r.executes.as_ref().and_then(|x| in_set(x, id))
                }
            })
        }
        self.phases
            .iter()
            .find_map(|p| {
                p.rulesets
                    .iter()
                    .find_map(|rs| in_set(rs, id))
                    .map(|r| (p.phase.as_str(), r))
            })
            .or_else(|| {
                self.managed
                    .iter()
                    .find(|(_, r)| r.id == id)
                    .map(|(p, r)| (p.as_str(), r))
            })
    }

    /// The context rule `id` was (or would have been) evaluated against: as its phase
    /// began, after the rewrites of the phases before it.
    pub(crate) fn context_for(&self, id: &str) -> Option<&Context> {
        self.find(id)
            .and_then(|(phase, _)| {
                self.contexts
                    .iter()
                    .find(|(p, _)| p == phase)
                    .map(|(_, c)| c)
            })
            .or(self.last.as_ref())
    }

    /// The walk as text: `[x]` matched, `[ ]` evaluated and not matched, `[-]` not
    /// evaluated, with the reason under it.
    pub(crate) fn render(&self, indent: usize) -> String {
        let mut out = String::new();
        let pad = " ".repeat(indent);
        let v = |s: &str| crate::escape::visible(s).into_owned();
        let mut last_reason: Option<&str> = None;
        for p in &self.phases {
            let mark = if !p.ran {
                "[-]"
            } else if p.rulesets.iter().any(|r| r.rules.iter().any(|x| x.matched)) {
                "[x]"
            } else {
                "[ ]"
            };
            let _ = writeln!(out, "{pad}{mark} phase {}", v(&p.phase));
            match &p.why_not {
                // A run of phases left out for one reason says it once.
                Some(w) if last_reason != Some(w.as_str()) => {
                    let _ = writeln!(out, "{pad}      not run: {}", v(w));
                    last_reason = Some(w);
                }
                Some(_) => {}
                None => last_reason = None,
            }
            for rs in &p.rulesets {
                ruleset_lines(rs, indent + 2, &mut out);
            }
        }
        out
    }
}

fn ruleset_lines(rs: &RulesetWalk, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    let v = |s: &str| crate::escape::visible(s).into_owned();
    let mark = if !rs.entered {
        "[-]"
    } else if rs.rules.iter().any(|r| r.matched) {
        "[x]"
    } else {
        "[ ]"
    };
    let _ = writeln!(
        out,
        "{pad}{mark} ruleset {} ({} {}){}{}",
        v(rs.name.as_deref().unwrap_or("?")),
        v(&rs.kind),
        v(&rs.id),
        rs.file
            .as_deref()
            .map(|f| format!(" {}", v(f)))
            .unwrap_or_default(),
        rs.emulated
            .as_deref()
            .map(|e| format!(", emulated with {}", v(e)))
            .unwrap_or_default(),
    );
    if let Some(w) = &rs.why_not {
        let _ = writeln!(out, "{pad}      not entered: {}", v(w));
    }
    let mut last_reason: Option<&str> = None;
    for r in &rs.rules {
        let mark = match (r.evaluated, r.matched) {
            (false, _) => "[-]",
            (true, true) => "[x]",
            (true, false) => "[ ]",
        };
        let _ = writeln!(
            out,
            "{pad}  {mark} {:<18} {}  {}{}{}",
            v(&r.action),
            v(&r.id),
            v(r.description.as_deref().unwrap_or("")),
            // The ruleset's line names the file: a rule in it names its line.
            r.at.as_deref()
                .map(
                    |a| match rs.file.as_deref().and_then(|f| a.strip_prefix(f)) {
                        Some(line) => format!("  (line {})", line.trim_start_matches(':')),
                        None => format!("  ({})", v(a)),
                    }
                )
                .unwrap_or_default(),
            if r.ended {
                "  ← ended the request"
            } else {
                ""
            },
        );
        for c in &r.changed {
            let _ = writeln!(out, "{pad}        changed: {}", v(c));
        }
        if let Some(n) = &r.note {
            let _ = writeln!(out, "{pad}        note: {}", v(n));
        }
        match &r.why_not {
            // A run of rules left out for one reason says it once.
            Some(w) if last_reason != Some(w.as_str()) => {
                let _ = writeln!(out, "{pad}        not evaluated: {}", v(w));
                last_reason = Some(w);
            }
            Some(_) => {}
            None => last_reason = None,
        }
        if let Some(x) = &r.executes {
            ruleset_lines(x, indent + 4, out);
        }
    }
}

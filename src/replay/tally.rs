//! What a replay counts, in a form that merges exactly: counts add, samples are the few with
//! the smallest line hash (so the same ones win whichever partition or worker saw them), bad
//! lines keep the first few by source and line.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{At, Record, redact::Redactor};
use crate::trace::{Behaviour, TraceRequest};

/// Bad lines shown with their line number.
pub(crate) const BAD_SHOWN: usize = 5;

/// A request's outcome as the report compares it: the terminating action (`none` when no
/// rule ended the request) and the rule that took it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub(crate) action: String,
    pub(crate) rule: Option<String>,
}

impl Outcome {
    pub(crate) fn of(b: &Behaviour) -> Outcome {
        Outcome {
            action: b.action.clone(),
            rule: b.rule.clone(),
        }
    }

    /// `block by r1`, `none`.
    pub(crate) fn label(&self) -> String {
        match &self.rule {
            Some(r) => format!("{} by {r}", self.action),
            None => self.action.clone(),
        }
    }
}

/// A sample request of a group, as replayed (after redaction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sample {
    /// The line's hash (16 hex digits in JSON): which samples a group keeps.
    #[serde(with = "hex")]
    pub(crate) key: u64,
    pub(crate) source: String,
    pub(crate) line: u64,
    pub(crate) request: TraceRequest,
    /// Fields the log carried beyond the request, as a case's `fields`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) fields: BTreeMap<String, serde_json::Value>,
}

impl Sample {
    pub(crate) fn new(key: u64, at: &At<'_>, rec: &Record, redact: &Redactor) -> Sample {
        Sample {
            key,
            source: at.source.to_string(),
            line: at.line,
            request: redact.request(&rec.req),
            fields: rec
                .fields
                .iter()
                .map(|(id, v)| (id.name().to_string(), v.to_json()))
                .collect(),
        }
    }

    fn order(&self) -> (u64, &str, u64) {
        (self.key, &self.source, self.line)
    }
}

/// A sample's key as 16 hex digits.
mod hex {
    pub(super) fn serialize<S: serde::Serializer>(key: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{key:016x}"))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

/// Requests with one outcome (or one transition) and a few of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Group {
    pub(crate) count: u64,
    pub(crate) samples: Vec<Sample>,
}

impl Group {
    fn wants(&self, key: u64, n: usize) -> bool {
        self.samples.len() < n || self.samples.last().is_some_and(|s| key < s.key)
    }

    fn keep(&mut self, s: Sample, n: usize) {
        // One sample per distinct line: the first by source and line.
        if let Some(i) = self.samples.iter().position(|x| x.key == s.key) {
            if s.order() < self.samples[i].order() {
                self.samples[i] = s;
            }
            return;
        }
        let at = self.samples.partition_point(|x| x.order() < s.order());
        self.samples.insert(at, s);
        self.samples.truncate(n);
    }

    fn merge(&mut self, other: Group, n: usize) {
        self.count += other.count;
        for s in other.samples {
            self.keep(s, n);
        }
    }
}

/// A line that could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct BadLine {
    pub(crate) source: String,
    pub(crate) line: u64,
    pub(crate) reason: String,
}

/// The counts of a replay (or of several, merged).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tally {
    pub(crate) requests: u64,
    pub(crate) bad_lines: u64,
    pub(crate) bad: Vec<BadLine>,
    /// Requests whose outcome differs from the baseline's.
    pub(crate) changed: u64,
    /// (before, after) → requests, for changed requests only.
    pub(crate) transitions: BTreeMap<(Outcome, Outcome), Group>,
    /// The candidate's outcomes, every request.
    pub(crate) outcomes: BTreeMap<Outcome, Group>,
    /// Rule id → requests it matched [before, after].
    pub(crate) rules: BTreeMap<String, [u64; 2]>,
    /// With the logged baseline: requests compared, and per rule (logged or offline
    /// terminating rule) [compared, agreed].
    pub(crate) compared: u64,
    pub(crate) agreement: BTreeMap<String, [u64; 2]>,
    /// Requests without a logged outcome (with the logged baseline).
    pub(crate) no_logged: u64,
    /// The fields the rules read that at least one request carried.
    pub(crate) carried: BTreeSet<String>,
    /// The same, by field id, for the per-request check (no string compare).
    pub(crate) carried_ids: [u64; 4],
    /// Warnings of the engine (managed rulesets evaluated without their rules).
    pub(crate) warnings: BTreeSet<String>,
    /// Requests stopped at the trace budget (also bad lines): the run could not evaluate them.
    pub(crate) over_budget: u64,
}

impl Tally {
    pub(crate) fn bad(&mut self, at: &At<'_>, reason: String) {
        self.bad_lines += 1;
        let b = BadLine {
            source: at.source.to_string(),
            line: at.line,
            reason,
        };
        if self.bad.len() < BAD_SHOWN || self.bad.last().is_some_and(|l| b < *l) {
            let i = self.bad.partition_point(|l| *l < b);
            self.bad.insert(i, b);
            self.bad.truncate(BAD_SHOWN);
        }
    }

    /// Adds one replayed request. `sample` builds its sample only when a group keeps it.
    pub(crate) fn add(
        &mut self,
        before: Option<&Behaviour>,
        after: &Behaviour,
        logged: bool,
        key: u64,
        n: usize,
        sample: impl Fn() -> Sample,
    ) {
        self.requests += 1;
        let a = Outcome::of(after);
        let mut made: Option<Sample> = None;
        let mut take = |g: &mut Group| {
            g.count += 1;
            if n > 0 && g.wants(key, n) {
                let s = made.get_or_insert_with(&sample).clone();
                g.keep(s, n);
            }
        };
        take(self.outcomes.entry(a.clone()).or_default());
        for id in &after.matched {
            self.rules.entry(id.clone()).or_default()[1] += 1;
        }
        let Some(before) = before else { return };
        for id in &before.matched {
            self.rules.entry(id.clone()).or_default()[0] += 1;
        }
        let b = Outcome::of(before);
        // The log names the rule only when a security rule ended the request; an offline
        // rule is compared with it only when both name one.
        let same = if logged {
            b.action == a.action && (b.rule.is_none() || a.rule.is_none() || b.rule == a.rule)
        } else {
            b == a
        };
        if logged {
            self.compared += 1;
            let rule = b
                .rule
                .clone()
                .or_else(|| a.rule.clone())
                .unwrap_or_else(|| "(no rule)".into());
            let e = self.agreement.entry(rule).or_default();
            e[0] += 1;
            e[1] += u64::from(same);
        }
        if !same {
            self.changed += 1;
            take(self.transitions.entry((b, a)).or_default());
        }
    }

    /// Adds `other`'s counts (another worker's, or another partition's).
    pub(crate) fn merge(&mut self, other: Tally) {
        let n = usize::MAX;
        self.requests += other.requests;
        self.bad_lines += other.bad_lines;
        self.bad.extend(other.bad);
        self.bad.sort();
        self.bad.dedup();
        self.bad.truncate(BAD_SHOWN);
        self.changed += other.changed;
        for (k, g) in other.transitions {
            self.transitions.entry(k).or_default().merge(g, n);
        }
        for (k, g) in other.outcomes {
            self.outcomes.entry(k).or_default().merge(g, n);
        }
        for (k, [b, a]) in other.rules {
            let e = self.rules.entry(k).or_default();
            e[0] += b;
            e[1] += a;
        }
        self.compared += other.compared;
        for (k, [c, a]) in other.agreement {
            let e = self.agreement.entry(k).or_default();
            e[0] += c;
            e[1] += a;
        }
        self.no_logged += other.no_logged;
        self.carried.extend(other.carried);
        self.warnings.extend(other.warnings);
        self.over_budget += other.over_budget;
    }

    /// Cuts every group's samples to `n` after merging.
    pub(crate) fn finish(&mut self, n: usize) {
        for g in self
            .transitions
            .values_mut()
            .chain(self.outcomes.values_mut())
        {
            g.samples.truncate(n);
        }
    }

    /// Requests agreeing with the log.
    pub(crate) fn agreed(&self) -> u64 {
        self.agreement.values().map(|v| v[1]).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(action: &str, rule: Option<&str>) -> Behaviour {
        Behaviour {
            status: None,
            action: action.into(),
            rule: rule.map(Into::into),
            description: None,
            redirect: None,
            matched: rule.into_iter().map(Into::into).collect(),
        }
    }

    fn sample(key: u64, line: u64) -> Sample {
        Sample {
            key,
            source: "a.log".into(),
            line,
            request: TraceRequest::default(),
            fields: BTreeMap::new(),
        }
    }

    #[test]
    fn merging_two_halves_equals_the_whole() {
        let events: Vec<(u64, &str, Option<&str>)> = (0..40)
            .map(|i| {
                let (a, r) = match i % 3 {
                    0 => ("block", Some("r1")),
                    1 => ("none", None),
                    _ => ("managed_challenge", Some("r2")),
                };
                ((i * 7919) % 97, a, r)
            })
            .collect();
        let none = b("none", None);
        let add = |t: &mut Tally, (key, a, r): (u64, &str, Option<&str>), line: u64| {
            t.add(Some(&none), &b(a, r), false, key, 3, || sample(key, line));
        };
        let mut whole = Tally::default();
        let (mut odd, mut even) = (Tally::default(), Tally::default());
        for (i, e) in events.iter().enumerate() {
            add(&mut whole, *e, i as u64);
            add(if i % 2 == 0 { &mut even } else { &mut odd }, *e, i as u64);
        }
        even.merge(odd);
        even.finish(3);
        whole.finish(3);
        assert_eq!(even, whole);
        assert_eq!(whole.changed, 27);
        let g = &whole.transitions[&(
            Outcome::of(&none),
            Outcome {
                action: "block".into(),
                rule: Some("r1".into()),
            },
        )];
        assert_eq!(g.count, 14);
        assert_eq!(g.samples.len(), 3);
        assert!(g.samples.windows(2).all(|w| w[0].key < w[1].key));
        assert_eq!(whole.rules["r1"], [0, 14]);
    }

    #[test]
    fn logged_rules_compare_only_when_both_sides_name_one() {
        let mut t = Tally::default();
        let s = || sample(1, 1);
        t.add(
            Some(&b("block", None)),
            &b("block", Some("r1")),
            true,
            1,
            1,
            s,
        );
        t.add(
            Some(&b("block", Some("r9"))),
            &b("block", Some("r1")),
            true,
            2,
            1,
            s,
        );
        t.add(Some(&b("none", None)), &b("none", None), true, 3, 1, s);
        assert_eq!((t.compared, t.agreed(), t.changed), (3, 2, 1));
        assert_eq!(t.agreement["r9"], [1, 0]);
    }
}

//! A replay's reports: the console text, the `--json` document (which `--merge` reads back),
//! the Markdown summary, and the `--fail-on` thresholds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::tally::{BadLine, Group, Outcome, Sample, Tally};
use crate::escape::{md_code, md_text, visible};

/// The `--json` format's name and version.
pub(crate) const FORMAT: &str = "rulegate-replay/1";

/// Samples printed per transition on the console.
const SHOWN: usize = 3;

/// A rule's names, for people.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RuleInfo {
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub(crate) reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
}

/// What the report says besides the counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// `HEAD~1 (abc1234)`, `logged`, or none.
    pub(crate) baseline: Option<String>,
    /// `1/3` when this run read one partition.
    pub(crate) partition: Option<String>,
    /// The fields the rules read (to name those the logs never carried).
    pub(crate) fields_read: BTreeSet<String>,
    /// Rule id → its ref and description.
    pub(crate) rule_info: BTreeMap<String, RuleInfo>,
    /// The sample count asked for.
    pub(crate) samples: usize,
    /// With a revision baseline: the rules whose definition changed.
    pub(crate) changed_rules: Vec<ChangedRule>,
}

/// A rule whose definition differs from the baseline's; its request counts come from the
/// tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChangedRule {
    pub(crate) ruleset: String,
    pub(crate) rule: String,
    #[serde(rename = "ref")]
    pub(crate) reference: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) changes: Vec<String>,
    pub(crate) file: String,
    pub(crate) line: usize,
    /// Filled from the tally when written.
    #[serde(default)]
    pub(crate) requests_before: u64,
    #[serde(default)]
    pub(crate) requests_after: u64,
}

impl ChangedRule {
    pub(crate) fn of(c: crate::ruleset::diff::RuleChange, file: String) -> ChangedRule {
        ChangedRule {
            ruleset: c.ruleset,
            rule: c.step,
            reference: c.reference,
            description: c.description,
            changes: c.kinds.iter().map(|k| (*k).to_string()).collect(),
            file,
            line: c.line,
            requests_before: 0,
            requests_after: 0,
        }
    }

    fn counted(&self, t: &Tally) -> ChangedRule {
        let [b, a] = t.rules.get(&self.rule).copied().unwrap_or_default();
        ChangedRule {
            requests_before: b,
            requests_after: a,
            ..self.clone()
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct JsonTransition {
    before: String,
    after: String,
    before_rule: Option<String>,
    after_rule: Option<String>,
    count: u64,
    share: f64,
    samples: Vec<Sample>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JsonOutcome {
    action: String,
    rule: Option<String>,
    count: u64,
    share: f64,
    samples: Vec<Sample>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JsonRule {
    id: String,
    #[serde(rename = "ref")]
    reference: Option<String>,
    description: Option<String>,
    matched_before: u64,
    matched_after: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct JsonAgreementRule {
    rule: String,
    compared: u64,
    agreed: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct JsonAgreement {
    compared: u64,
    agreed: u64,
    rate: f64,
    rules: Vec<JsonAgreementRule>,
    without_logged_outcome: u64,
}

/// The `--json` document.
#[derive(Debug, Serialize, Deserialize)]
struct Json {
    format: String,
    baseline: Option<String>,
    partition: Option<String>,
    requests: u64,
    bad_lines: u64,
    bad_line_samples: Vec<BadLine>,
    changed: u64,
    transitions: Vec<JsonTransition>,
    outcomes: Vec<JsonOutcome>,
    rules: Vec<JsonRule>,
    agreement: Option<JsonAgreement>,
    fields_read: BTreeSet<String>,
    fields_carried: BTreeSet<String>,
    fields_never_carried: BTreeSet<String>,
    warnings: BTreeSet<String>,
    samples_per_group: usize,
    #[serde(default)]
    changed_rules: Vec<ChangedRule>,
    /// Requests stopped at the trace budget.
    #[serde(default)]
    over_budget: u64,
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn pct(n: u64, of: u64) -> String {
    let p = share(n, of) * 100.0;
    if p > 0.0 && p < 0.01 {
        "<0.01%".into()
    } else {
        format!("{p:.2}%")
    }
}

/// The fields the rules read that no replayed request carried.
fn never_carried(t: &Tally, meta: &Meta) -> BTreeSet<String> {
    meta.fields_read.difference(&t.carried).cloned().collect()
}

/// The `--json` document of a tally.
pub(crate) fn to_json(t: &Tally, meta: &Meta) -> String {
    let doc = Json {
        format: FORMAT.into(),
        baseline: meta.baseline.clone(),
        partition: meta.partition.clone(),
        requests: t.requests,
        bad_lines: t.bad_lines,
        bad_line_samples: t.bad.clone(),
        changed: t.changed,
        transitions: t
            .transitions
            .iter()
            .map(|((b, a), g)| JsonTransition {
                before: b.action.clone(),
                after: a.action.clone(),
                before_rule: b.rule.clone(),
                after_rule: a.rule.clone(),
                count: g.count,
                share: share(g.count, t.requests),
                samples: g.samples.clone(),
            })
            .collect(),
        outcomes: t
            .outcomes
            .iter()
            .map(|(o, g)| JsonOutcome {
                action: o.action.clone(),
                rule: o.rule.clone(),
                count: g.count,
                share: share(g.count, t.requests),
                samples: g.samples.clone(),
            })
            .collect(),
        rules: t
            .rules
            .iter()
            .map(|(id, [b, a])| {
                let i = meta.rule_info.get(id).cloned().unwrap_or_default();
                JsonRule {
                    id: id.clone(),
                    reference: i.reference,
                    description: i.description,
                    matched_before: *b,
                    matched_after: *a,
                }
            })
            .collect(),
        agreement: (meta.baseline.as_deref() == Some("logged")).then(|| JsonAgreement {
            compared: t.compared,
            agreed: t.agreed(),
            rate: share(t.agreed(), t.compared),
            rules: t
                .agreement
                .iter()
                .map(|(r, [c, a])| JsonAgreementRule {
                    rule: r.clone(),
                    compared: *c,
                    agreed: *a,
                })
                .collect(),
            without_logged_outcome: t.no_logged,
        }),
        fields_read: meta.fields_read.clone(),
        fields_carried: t.carried.clone(),
        fields_never_carried: never_carried(t, meta),
        warnings: t.warnings.clone(),
        samples_per_group: meta.samples,
        changed_rules: meta.changed_rules.iter().map(|c| c.counted(t)).collect(),
        over_budget: t.over_budget,
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// Reads a `--json` document back into its tally and meta (`--merge`).
pub(crate) fn from_json(text: &str) -> Result<(Tally, Meta), String> {
    let doc: Json = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a `rulegate replay --json` report (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })?;
    if doc.format != FORMAT {
        return Err(format!(
            "a report of format `{}`; this rulegate reads `{FORMAT}`",
            doc.format
        ));
    }
    let group = |count, samples| Group { count, samples };
    let mut t = Tally {
        requests: doc.requests,
        bad_lines: doc.bad_lines,
        bad: doc.bad_line_samples,
        changed: doc.changed,
        carried: doc.fields_carried,
        warnings: doc.warnings,
        over_budget: doc.over_budget,
        ..Tally::default()
    };
    for x in doc.transitions {
        t.transitions.insert(
            (
                Outcome {
                    action: x.before,
                    rule: x.before_rule,
                },
                Outcome {
                    action: x.after,
                    rule: x.after_rule,
                },
            ),
            group(x.count, x.samples),
        );
    }
    for x in doc.outcomes {
        t.outcomes.insert(
            Outcome {
                action: x.action,
                rule: x.rule,
            },
            group(x.count, x.samples),
        );
    }
    let mut meta = Meta {
        baseline: doc.baseline,
        partition: doc.partition,
        fields_read: doc.fields_read,
        samples: doc.samples_per_group,
        changed_rules: doc.changed_rules,
        ..Meta::default()
    };
    for r in doc.rules {
        t.rules
            .insert(r.id.clone(), [r.matched_before, r.matched_after]);
        meta.rule_info.insert(
            r.id,
            RuleInfo {
                reference: r.reference,
                description: r.description,
            },
        );
    }
    if let Some(a) = doc.agreement {
        t.compared = a.compared;
        t.no_logged = a.without_logged_outcome;
        for r in a.rules {
            t.agreement.insert(r.rule, [r.compared, r.agreed]);
        }
    }
    Ok((t, meta))
}

/// Merges the reports of several runs (partitions of one input): the same baseline, and
/// partitions that are disjoint and complete.
pub(crate) fn merge(parts: Vec<(String, Tally, Meta)>) -> Result<(Tally, Meta), String> {
    let mut iter = parts.into_iter();
    let Some((_, mut tally, mut meta)) = iter.next() else {
        return Err("--merge needs at least one report".into());
    };
    let mut partitions = vec![meta.partition.take()];
    for (name, t, m) in iter {
        if m.baseline != meta.baseline {
            return Err(format!(
                "{name} compares with {} but the first report with {}: merge only reports of one comparison",
                m.baseline.as_deref().unwrap_or("no baseline"),
                meta.baseline.as_deref().unwrap_or("no baseline")
            ));
        }
        partitions.push(m.partition);
        tally.merge(t);
        meta.fields_read.extend(m.fields_read);
        for (k, v) in m.rule_info {
            meta.rule_info.entry(k).or_insert(v);
        }
        meta.samples = meta.samples.max(m.samples);
    }
    check_partitions(&partitions)?;
    tally.finish(meta.samples);
    Ok((tally, meta))
}

/// Partitions `K/N` of one N, each once, all of them; or reports of whole runs.
fn check_partitions(parts: &[Option<String>]) -> Result<(), String> {
    if parts.iter().all(Option::is_none) {
        return Ok(());
    }
    let mut seen = BTreeSet::new();
    let mut n_of = None;
    for p in parts {
        let Some(p) = p else {
            return Err("a whole run cannot merge with partitions of a run".into());
        };
        let part = super::Partition::parse(p)?;
        if *n_of.get_or_insert(part.n) != part.n {
            return Err(format!(
                "partitions of different counts ({p} and …/{})",
                n_of.unwrap_or(0)
            ));
        }
        if !seen.insert(part.k) {
            return Err(format!("partition {p} is given twice"));
        }
    }
    let n = n_of.unwrap_or(0);
    let missing: Vec<String> = (1..=n)
        .filter(|k| !seen.contains(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "partition(s) {} missing: a merge of some partitions is not the whole input",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// A rule for people: `"Block admin" (r-admin)` or the id.
fn rule_name(meta: &Meta, id: &str) -> String {
    match meta.rule_info.get(id) {
        Some(RuleInfo {
            description: Some(d),
            ..
        }) if !d.is_empty() => format!("\"{d}\" ({id})"),
        Some(RuleInfo {
            reference: Some(r), ..
        }) => format!("{r} ({id})"),
        _ => id.to_string(),
    }
}

fn outcome_name(meta: &Meta, o: &Outcome) -> String {
    match &o.rule {
        Some(r) => format!("{} by {}", o.action, rule_name(meta, r)),
        None => o.action.clone(),
    }
}

fn sample_line(s: &Sample) -> String {
    format!(
        "{} {}  ({}:{})",
        s.request.method, s.request.url, s.source, s.line
    )
}

/// The console report.
pub(crate) fn text(t: &Tally, meta: &Meta, sources: usize) -> String {
    let mut o = String::new();
    let against = match &meta.baseline {
        Some(b) if b == "logged" => " against the outcome Cloudflare logged".to_string(),
        Some(b) => format!(" against {b}"),
        None => String::new(),
    };
    let part = meta
        .partition
        .as_ref()
        .map(|p| format!(" (partition {p})"))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "replayed {} request(s) from {sources} source(s){part}{against}; {} bad line(s)",
        t.requests, t.bad_lines
    );
    if meta.baseline.is_some() {
        let word = if meta.baseline.as_deref() == Some("logged") {
            "disagree with the log"
        } else {
            "changed"
        };
        let _ = writeln!(o, "{} {word} ({})", t.changed, pct(t.changed, t.requests));
    }
    if !t.transitions.is_empty() {
        let _ = writeln!(o, "\ntransitions:");
        let mut list: Vec<_> = t.transitions.iter().collect();
        list.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for ((b, a), g) in list {
            let _ = writeln!(
                o,
                "  {} → {}   {} ({})",
                visible(&outcome_name(meta, b)),
                visible(&outcome_name(meta, a)),
                g.count,
                pct(g.count, t.requests)
            );
            for s in g.samples.iter().take(SHOWN) {
                let _ = writeln!(o, "      {}", visible(&sample_line(s)));
            }
        }
    }
    if meta.baseline.is_none() || t.transitions.is_empty() {
        let _ = writeln!(o, "\noutcomes:");
        let mut list: Vec<_> = t.outcomes.iter().collect();
        list.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for (out, g) in list {
            let _ = writeln!(
                o,
                "  {}   {} ({})",
                visible(&outcome_name(meta, out)),
                g.count,
                pct(g.count, t.requests)
            );
        }
    }
    // A log names only the rule that ended a request: per-rule counts compare with a
    // revision, not with the log.
    let by_revision = meta.baseline.is_some() && meta.baseline.as_deref() != Some("logged");
    let rules: Vec<_> = t
        .rules
        .iter()
        .filter(|(_, [b, a])| !by_revision || b != a)
        .filter(|(_, [_, a])| by_revision || *a > 0)
        .collect();
    if !rules.is_empty() {
        let title = if by_revision {
            "rules whose matches changed (before → after)"
        } else {
            "rules matched"
        };
        let _ = writeln!(o, "\n{title}:");
        for (id, [b, a]) in rules {
            if by_revision {
                let _ = writeln!(o, "  {}   {b} → {a}", visible(&rule_name(meta, id)));
            } else {
                let _ = writeln!(o, "  {}   {a}", visible(&rule_name(meta, id)));
            }
        }
    }
    if meta.baseline.as_deref() == Some("logged") {
        let _ = writeln!(
            o,
            "\nagreement with the logged SecurityAction: {} of {} ({})",
            t.agreed(),
            t.compared,
            pct(t.agreed(), t.compared)
        );
        for (rule, [c, a]) in &t.agreement {
            let _ = writeln!(
                o,
                "  {}   {a}/{c} ({})",
                visible(&rule_name(meta, rule)),
                pct(*a, *c)
            );
        }
        if t.no_logged > 0 {
            let _ = writeln!(o, "  {} request(s) carried no logged outcome", t.no_logged);
        }
    }
    if !meta.changed_rules.is_empty() {
        let _ = writeln!(
            o,
            "\nchanged rules (requests matching each, baseline → candidate):"
        );
        let mut quiet = 0;
        for c in &meta.changed_rules {
            let c = c.counted(t);
            let idle = c.requests_before == 0 && c.requests_after == 0;
            quiet += usize::from(idle);
            let _ = writeln!(
                o,
                "  {}:{} {}: {}; requests matching it {} → {}{}",
                visible(&c.file),
                c.line,
                visible(&rule_name(meta, &c.rule)),
                c.changes.join(", "),
                c.requests_before,
                c.requests_after,
                if idle {
                    "  ← no replayed request exercises this change"
                } else {
                    ""
                }
            );
        }
        if quiet > 0 {
            let _ = writeln!(o, "{quiet} changed rule(s) no replayed request exercises");
        }
    }
    let never = never_carried(t, meta);
    if !never.is_empty() {
        let list: Vec<&str> = never.iter().map(String::as_str).collect();
        let _ = writeln!(
            o,
            "\nfields the rules read that the logs never carried (missing in every replayed request): {}",
            list.join(", ")
        );
    }
    if t.bad_lines > 0 {
        let _ = writeln!(o, "\nbad lines: {}", t.bad_lines);
        for b in &t.bad {
            let _ = writeln!(
                o,
                "  {}:{}: {}",
                visible(&b.source),
                b.line,
                visible(&b.reason)
            );
        }
    }
    o
}

/// The Markdown summary (`--summary`, `GITHUB_STEP_SUMMARY`).
pub(crate) fn markdown(t: &Tally, meta: &Meta, failed: &[String]) -> String {
    let mut o = String::new();
    let head = if failed.is_empty() {
        "passed"
    } else {
        "failed"
    };
    let _ = writeln!(o, "## rulegate replay: {head}\n");
    for f in failed {
        let _ = writeln!(o, "- {}", md_text(f));
    }
    let _ = writeln!(
        o,
        "{} request(s) replayed{}, {} changed ({}), {} bad line(s)\n",
        t.requests,
        meta.baseline
            .as_ref()
            .map(|b| format!(" against {}", md_text(b)))
            .unwrap_or_default(),
        t.changed,
        pct(t.changed, t.requests),
        t.bad_lines
    );
    if !t.transitions.is_empty() {
        let _ = writeln!(
            o,
            "| before | after | requests | share | sample |\n|---|---|---:|---:|---|"
        );
        for ((b, a), g) in &t.transitions {
            let sample = g
                .samples
                .first()
                .map(|s| md_code(&format!("{} {}", s.request.method, s.request.url)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                md_text(&outcome_name(meta, b)),
                md_text(&outcome_name(meta, a)),
                g.count,
                pct(g.count, t.requests),
                sample
            );
        }
        o.push('\n');
    }
    if meta.baseline.as_deref() == Some("logged") {
        let _ = writeln!(
            o,
            "Agreement with the logged outcome: {} of {} ({})\n",
            t.agreed(),
            t.compared,
            pct(t.agreed(), t.compared)
        );
    }
    o
}

/// One `--fail-on` threshold: `changed>0`, `block>0.1%`, `managed_challenge>=100`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Threshold {
    /// `changed`, or an action: requests newly ending with it.
    kind: String,
    inclusive: bool,
    limit: Limit,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    Count(u64),
    Percent(f64),
}

impl Threshold {
    pub(crate) fn parse(s: &str) -> Result<Vec<Threshold>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (i, inclusive, len) = match part.find(">=") {
                Some(i) => (i, true, 2),
                None => (
                    part.find('>').ok_or_else(|| {
                        format!("`{part}` is not KIND>LIMIT (e.g. `block>0.1%`, `changed>0`)")
                    })?,
                    false,
                    1,
                ),
            };
            let kind = part[..i].trim().to_ascii_lowercase();
            let known: Vec<&str> = ["changed"]
                .into_iter()
                .chain(crate::trace::view::TERMINATING_ACTIONS.iter().copied())
                .chain(["none"])
                .collect();
            if !known.contains(&kind.as_str()) {
                let hint = crate::text::did_you_mean(&kind, known.iter().copied())
                    .map(|d| format!(" (did you mean `{d}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "`{kind}` in `{part}` is neither `changed` nor an action{hint}"
                ));
            }
            let v = part[i + len..].trim();
            let limit = match v.strip_suffix('%') {
                Some(p) => {
                    let p: f64 = p
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{v}` in `{part}` is not a percentage"))?;
                    if !(0.0..=100.0).contains(&p) {
                        return Err(format!("`{v}` in `{part}` is not within 0%..=100%"));
                    }
                    Limit::Percent(p)
                }
                None => Limit::Count(
                    v.parse()
                        .map_err(|_| format!("`{v}` in `{part}` is not a count or a percentage"))?,
                ),
            };
            out.push(Threshold {
                kind,
                inclusive,
                limit,
                text: part.to_string(),
            });
        }
        if out.is_empty() {
            return Err("--fail-on names no threshold".into());
        }
        Ok(out)
    }

    /// Why the run fails this threshold, if it does.
    pub(crate) fn exceeded(&self, t: &Tally) -> Option<String> {
        let n: u64 = if self.kind == "changed" {
            t.changed
        } else {
            t.transitions
                .iter()
                .filter(|((b, a), _)| a.action == self.kind && b.action != self.kind)
                .map(|(_, g)| g.count)
                .sum()
        };
        let over = match self.limit {
            Limit::Count(c) => n > c || (self.inclusive && n == c),
            Limit::Percent(p) => {
                let s = share(n, t.requests) * 100.0;
                s > p || (self.inclusive && (s - p).abs() < f64::EPSILON)
            }
        };
        let what = if self.kind == "changed" {
            "changed".to_string()
        } else {
            format!("newly {}", self.kind)
        };
        over.then(|| {
            format!(
                "{n} request(s) {what} ({} of {}): over --fail-on {}",
                pct(n, t.requests),
                t.requests,
                self.text
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_trip() {
        let th = Threshold::parse("block>0.1%, changed>=2").unwrap();
        assert_eq!(th.len(), 2);
        let mut t = Tally {
            requests: 1000,
            changed: 2,
            ..Tally::default()
        };
        let none = Outcome {
            action: "none".into(),
            rule: None,
        };
        let block = Outcome {
            action: "block".into(),
            rule: Some("r".into()),
        };
        t.transitions.insert(
            (none, block),
            Group {
                count: 2,
                samples: vec![],
            },
        );
        assert!(th[0].exceeded(&t).unwrap().contains("newly block"));
        assert!(th[1].exceeded(&t).is_some());
        assert!(
            Threshold::parse("block>0.3%").unwrap()[0]
                .exceeded(&t)
                .is_none()
        );
        for bad in ["blok>1", "block", "block>x", "block>200%", ""] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Threshold::parse("blok>1")
                .unwrap_err()
                .contains("did you mean `block`")
        );
    }

    #[test]
    fn partitions_must_be_whole() {
        let p = |v: &[&str]| v.iter().map(|s| Some((*s).to_string())).collect::<Vec<_>>();
        assert!(check_partitions(&p(&["1/3", "2/3", "3/3"])).is_ok());
        assert!(
            check_partitions(&p(&["1/3", "3/3"]))
                .unwrap_err()
                .contains("2/3")
        );
        assert!(
            check_partitions(&p(&["1/2", "1/2"]))
                .unwrap_err()
                .contains("twice")
        );
        assert!(check_partitions(&[None, None]).is_ok());
        assert!(check_partitions(&[None, Some("1/2".into())]).is_err());
    }
}

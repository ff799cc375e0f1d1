//! Cloudflare's configuration model over the OWASP CRS emulation (`crate::owasp`), from
//! Cloudflare's docs (README "OWASP Core Ruleset, emulated"): the paranoia level chosen by
//! disabling the `paranoia-level-N` tags above it (PL1 when no paranoia tag is overridden),
//! rules disabled by rule or tag (category) override, the request threat score summed from
//! the matched rules' scores, and the last rule (`949110: Inbound Anomaly Score Exceeded`)
//! taking the configured action when the score reaches the threshold (Medium, 40, by default).

use std::collections::HashMap;

use base64::Engine as _;

use super::action::{Action, Overrides};
use super::compiled::CompiledRuleset;
use crate::owasp::{Crs, Request, Settings};
use crate::rules::request::{header_pairs, split_url};
use crate::trace::{TraceItem, TraceRequest};

/// The Cloudflare OWASP Core Ruleset.
pub(crate) const OWASP_ID: &str = "4814384a9e5d4991b9815dcfc25d2f1f";
/// Its last rule, `949110: Inbound Anomaly Score Exceeded`, which carries the threshold and
/// the action.
pub(crate) const SCORE_RULE_ID: &str = "6179ae15870a4bb7b2d480d4843b323c";
/// The score rule's CRS id.
pub(crate) const SCORE_RULE_CRS_ID: &str = "949110";
/// Cloudflare's default threshold: Medium, "40 and higher".
pub(crate) const DEFAULT_THRESHOLD: i64 = 40;
/// The action when the project sets none. UNCERTAIN: Cloudflare's docs list the choices
/// (block, log, the challenges) without naming the default; block is assumed.
pub(crate) const DEFAULT_ACTION: &str = "block";

/// A ruleset with that id holding expressions models the OWASP ruleset by hand (a stand-in)
/// and is evaluated as written; one without (the rule list `rulegate pull` downloads: ids,
/// descriptions, tags) is a listing, which maps Cloudflare rule ids to CRS ids.
pub(crate) fn is_stand_in(rs: &CompiledRuleset) -> bool {
    rs.rules.iter().any(|r| r.filter.is_some())
}

/// Cloudflare rule id → CRS id, from a listing's descriptions (`942100: SQL Injection …`).
pub(crate) fn listing_ids(rs: Option<&CompiledRuleset>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert(SCORE_RULE_ID.to_string(), SCORE_RULE_CRS_ID.to_string());
    for r in rs.iter().flat_map(|rs| &rs.rules) {
        let (Some(id), Some(d)) = (&r.rule.id, &r.rule.description) else {
            continue;
        };
        let crs: String = d.chars().take_while(char::is_ascii_digit).collect();
        if !crs.is_empty() && d[crs.len()..].starts_with(':') {
            m.insert(id.clone(), crs);
        }
    }
    m
}

/// The request as the WAF would see it: method, the target (path and query), protocol,
/// headers (Host from the URL when missing; cookies as a Cookie header) and body.
pub(crate) fn waf_request(req: &TraceRequest) -> Request {
    let (target, mut headers) = match split_url(&req.url) {
        Ok(u) => {
            let path = if u.path.is_empty() {
                "/"
            } else {
                u.path.as_str()
            };
            let target = match &u.query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            };
            (target, header_pairs(req, &u))
        }
        // A validated Trace request's URL is absolute; anything else goes as it is.
        Err(_) => (
            req.url.clone(),
            req.headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>(),
        ),
    };
    let mut body = Vec::new();
    if let Some(b) = &req.body {
        if let Some(t) = &b.plain_text {
            body = t.clone().into_bytes();
        } else if let Some(j) = &b.json {
            body = serde_json::to_vec(j).unwrap_or_default();
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
        } else if let Some(b64) = &b.base64 {
            body = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap_or_default();
        }
    }
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        headers.push(("Content-Length".into(), body.len().to_string()));
    }
    let protocol = match req.protocol.as_deref() {
        Some(p) if p.to_ascii_uppercase().starts_with("HTTP/") => p.to_ascii_uppercase(),
        _ => "HTTP/1.1".to_string(),
    };
    Request {
        method: req.method.to_ascii_uppercase(),
        uri: target,
        protocol,
        headers,
        body,
        remote_addr: "192.0.2.1".into(),
    }
}

/// Whether CRS tag `t` is Cloudflare's category `c`: the same text, except that CRS writes
/// `paranoia-level/2` where Cloudflare writes `paranoia-level-2`.
fn is_category(t: &str, c: &str) -> bool {
    t == c
        || t.strip_prefix("paranoia-level/")
            .is_some_and(|n| c.strip_prefix("paranoia-level-") == Some(n))
}

/// What the emulation decided.
#[derive(Debug)]
pub(crate) struct Emulated {
    /// The executed ruleset's step, with one child per evaluated rule and the score rule.
    pub(crate) step: TraceItem,
    /// The action the score rule took (when the score reached the threshold and the rule is
    /// enabled).
    pub(crate) action: Option<Action>,
}

/// Why a CRS rule does not run under an execute rule's overrides (no allocation: the
/// emulation asks for every rule of every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Off {
    /// Above PL1 with no `paranoia-level-N` category overridden.
    Paranoia(u8),
    /// `enabled: false` for the whole ruleset.
    Ruleset,
    /// The category override at this index of `Overrides::categories`.
    Category(usize),
    /// A rule override.
    Rule,
    /// A skip rule named it.
    Skipped,
}

/// The overrides and skips of one `execute` of the OWASP ruleset, keyed by CRS id.
struct Switches<'a> {
    ov: &'a Overrides,
    rules: HashMap<u32, (Option<&'a Action>, Option<bool>)>,
    pl_overridden: bool,
    skipped: std::collections::HashSet<u32>,
}

impl<'a> Switches<'a> {
    fn new(
        ids: &HashMap<String, String>,
        ov: &'a Overrides,
        skips: &rustc_hash::FxHashSet<String>,
    ) -> Self {
        // Overrides and skips name rules by CRS id, or by Cloudflare id through the listing;
        // a name that is neither names no CRS rule.
        let crs_id =
            |cf: &str| -> Option<u32> { ids.get(cf).map_or(cf, String::as_str).parse().ok() };
        Switches {
            ov,
            rules: ov
                .rules
                .iter()
                .filter_map(|(k, (a, e))| Some((crs_id(k)?, (a.as_ref(), *e))))
                .collect(),
            pl_overridden: ov
                .categories
                .iter()
                .any(|(c, _, _)| c.starts_with("paranoia-level-")),
            skipped: skips.iter().filter_map(|s| crs_id(s)).collect(),
        }
    }

    /// Why rule `i` does not run, or `None` when it runs: the paranoia level, then the
    /// ruleset's `enabled`, the last matching category, the rule's own override (each later
    /// one wins), then a skip.
    fn off(&self, crs: &Crs, i: usize) -> Option<Off> {
        let r = crs.rule(i);
        let Some(pl) = r.paranoia.filter(|_| r.scored) else {
            // Initialization and flow control: not rules Cloudflare lists.
            return None;
        };
        let mut off = (!(self.pl_overridden || pl <= 1)).then_some(Off::Paranoia(pl));
        if let Some(e) = self.ov.enabled {
            off = (!e).then_some(Off::Ruleset);
        }
        for (k, (c, _, e)) in self.ov.categories.iter().enumerate() {
            if let Some(e) = e
                && r.tags.iter().any(|t| is_category(t, c))
            {
                off = (!*e).then_some(Off::Category(k));
            }
        }
        if let Some((_, Some(e))) = self.rules.get(&r.id) {
            off = (!*e).then_some(Off::Rule);
        }
        if off.is_none() && self.skipped.contains(&r.id) {
            off = Some(Off::Skipped);
        }
        off
    }
}

/// Each CRS rule Cloudflare lists that does not run under this execute rule (`by`, placed),
/// by CRS id, with why: what an explanation says of a managed rule a case names.
pub(crate) fn off_reasons(
    crs: &Crs,
    ids: &HashMap<String, String>,
    ov: &Overrides,
    skips: &rustc_hash::FxHashSet<String>,
    by: &str,
    skipped_by: &dyn Fn(u32) -> Option<String>,
) -> Vec<(String, String)> {
    let sw = Switches::new(ids, ov, skips);
    (0..crs.len())
        .filter_map(|i| {
            let why = match sw.off(crs, i)? {
                Off::Paranoia(pl) => format!(
                    "its paranoia level is {pl}: the execute rule {by} runs PL1 only (no paranoia-level-N category is overridden)"
                ),
                Off::Ruleset => {
                    format!("the override in the execute rule {by} disables the whole ruleset")
                }
                Off::Category(k) => format!(
                    "the override of category `{}` in the execute rule {by} disables it",
                    ov.categories[k].0
                ),
                Off::Rule => format!("the rule override in the execute rule {by} disables it"),
                Off::Skipped => match skipped_by(crs.rule(i).id) {
                    Some(skip) => format!("the skip rule {skip} skipped it"),
                    None => "a skip rule earlier in the phase skipped it".to_string(),
                },
            };
            Some((crs.rule(i).id.to_string(), why))
        })
        .collect()
}

/// Runs `req` through the CRS under the execute rule's `overrides` (rule overrides by CRS id,
/// or by Cloudflare id through `listing`), leaving out the rules an earlier `skip` named.
pub(crate) fn emulate(
    crs: &Crs,
    ids: &HashMap<String, String>,
    ov: &Overrides,
    skips: &rustc_hash::FxHashSet<String>,
    req: &TraceRequest,
    lean: bool,
) -> Emulated {
    let sw = Switches::new(ids, ov, skips);
    let settings = Settings {
        paranoia: 4,
        without_blocking: true,
    };
    let out = crs.evaluate(&waf_request(req), &settings, &|i| sw.off(crs, i).is_some());
    let (rules, skipped) = (&sw.rules, &sw.skipped);
    let label = crs.version().to_string();
    let mut step = TraceItem {
        kind_of_step: Some("ruleset".into()),
        step_name: Some(OWASP_ID.into()),
        name: Some("Cloudflare OWASP Core Ruleset".into()),
        kind: Some("managed".into()),
        matched: Some(false),
        emulated: Some(label.clone()),
        ..Default::default()
    };
    let mut total = 0;
    for (e, score) in out.evaluated.iter().zip(&out.scores) {
        let r = crs.rule(e.rule);
        if !r.scored {
            continue;
        }
        if e.matched {
            total += score;
        }
        if lean && !e.matched {
            continue;
        }
        step.trace.push(TraceItem {
            kind_of_step: Some("rule".into()),
            step_name: Some(r.id.to_string()),
            description: Some(format!("{}: {}", r.id, r.msg.unwrap_or(""))),
            matched: Some(e.matched),
            score: e.matched.then_some(*score),
            emulated: Some(label.clone()),
            ..Default::default()
        });
    }
    let score_id: u32 = SCORE_RULE_CRS_ID.parse().unwrap_or(949_110);
    let (override_action, score_enabled) = rules
        .get(&score_id)
        .map(|(a, e)| (*a, *e))
        .unwrap_or((None, None));
    let action = override_action
        .or(ov.action.as_ref())
        .cloned()
        .unwrap_or_else(|| Action::bare(DEFAULT_ACTION));
    let threshold = ov
        .thresholds
        .get(SCORE_RULE_ID)
        .or_else(|| ov.thresholds.get(SCORE_RULE_CRS_ID))
        .copied()
        .unwrap_or(DEFAULT_THRESHOLD);
    let on = score_enabled.or(ov.enabled).unwrap_or(true) && !skipped.contains(&score_id);
    let fired = on && total >= threshold;
    if on && (fired || !lean) {
        step.trace.push(TraceItem {
            kind_of_step: Some("rule".into()),
            step_name: Some(SCORE_RULE_CRS_ID.into()),
            description: Some(format!(
                "{SCORE_RULE_CRS_ID}: Inbound Anomaly Score Exceeded"
            )),
            action: Some(action.name().into()),
            matched: Some(fired),
            score: Some(total),
            score_threshold: Some(threshold),
            emulated: Some(label),
            ..Default::default()
        });
    }
    step.matched = Some(step.trace.iter().any(|t| t.matched == Some(true)));
    Emulated {
        step,
        action: fired.then_some(action),
    }
}

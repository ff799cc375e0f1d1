//! The phase evaluator (reference cloudflare-apis §3, §6): request phases in order, the
//! account (`root`) entry point before the zone's in each, rules in order, disabled rules not
//! evaluated. Terminating actions end the request; skip, execute (with overrides), rewrite and
//! redirect behave as documented; rate limiting rules are traced but cannot trip on one
//! request; response phases run when the case gives an origin response.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Rule;
use super::{phases, shape};
use crate::project::{CompiledRule, CompiledRuleset, Level, Project};
use crate::rules::request::{self, split_url};
use crate::rules::{Context, Value as RValue};
use crate::trace::{TraceItem, TraceRequest, TraceResult};

/// The origin's response, for response phases.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    pub status: Option<i64>,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// What a case adds for offline runs: field values the Trace API cannot set, and the origin's
/// response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Extras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Extras {
    pub fn is_empty(&self) -> bool {
        self.fields.is_none() && self.origin.is_none()
    }
}

/// How the request ended.
#[derive(Debug, Clone)]
struct End {
    status: i64,
}

/// Evaluation state across phases.
struct State<'p> {
    project: &'p Project,
    ctx: Context,
    skip_challenge: bool,
    end: Option<End>,
    /// Phases skipped per level by `skip` with `phases`.
    skipped_phases: HashSet<(Level, String)>,
    /// `skip` with `phase: current` in the phase being evaluated.
    skip_phase: bool,
    /// Rewrites of this phase, applied when it ends (the last one wins).
    pending_uri: Option<(Option<String>, Option<String>)>,
    pending_headers: Vec<(String, String, Option<String>)>,
    headers: Vec<(String, String)>,
    warnings: Vec<String>,
    phase: &'static str,
    response: bool,
}

/// Ruleset-wide, category and rule overrides of an `execute`.
#[derive(Debug, Default)]
struct Overrides {
    action: Option<String>,
    enabled: Option<bool>,
    categories: Vec<(String, Option<String>, Option<bool>)>,
    rules: HashMap<String, (Option<String>, Option<bool>)>,
}

impl Overrides {
    fn from(v: Option<&Value>) -> Overrides {
        let Some(v) = v else {
            return Overrides::default();
        };
        let s = |x: &Value, k: &str| x.get(k).and_then(Value::as_str).map(String::from);
        let b = |x: &Value, k: &str| x.get(k).and_then(Value::as_bool);
        Overrides {
            action: s(v, "action"),
            enabled: b(v, "enabled"),
            categories: v
                .get("categories")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| Some((s(c, "category")?, s(c, "action"), b(c, "enabled"))))
                        .collect()
                })
                .unwrap_or_default(),
            rules: v
                .get("rules")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|r| Some((s(r, "id")?, (s(r, "action"), b(r, "enabled")))))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Effective (action, enabled): rule > last matching category > ruleset > the rule's own.
    fn apply(&self, rule: &Rule) -> (String, bool) {
        let mut action = rule.action.clone();
        let mut enabled = rule.is_enabled();
        if let Some(e) = self.enabled {
            enabled = e;
        }
        if let Some(a) = &self.action
            && enabled
        {
            action = a.clone();
        }
        if let Some((_, a, e)) = self
            .categories
            .iter()
            .rev()
            .find(|(c, _, _)| rule.categories.contains(c))
        {
            if let Some(e) = e {
                enabled = *e;
            }
            if let Some(a) = a {
                action = a.clone();
            }
        }
        if let Some((a, e)) = rule.id.as_ref().and_then(|id| self.rules.get(id)) {
            if let Some(e) = e {
                enabled = *e;
            }
            if let Some(a) = a {
                action = a.clone();
            }
        }
        (action, enabled)
    }
}

/// Runs `req` through `project`. Returns the trace and warnings (managed rulesets that could
/// not be evaluated).
pub fn evaluate(
    project: &Project,
    req: &TraceRequest,
    extras: &Extras,
) -> Result<(TraceResult, Vec<String>), String> {
    let ctx = request::context(req, extras.fields.as_ref())?;
    // The header list as the context built it (Host and cookies included), for rewrites.
    let list = |name: &str| match ctx.get_by_name(name) {
        Some(RValue::Array(a)) => a
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned())
            .collect(),
        _ => Vec::new(),
    };
    let headers: Vec<(String, String)> = list("http.request.headers.names")
        .into_iter()
        .zip(list("http.request.headers.values"))
        .collect();
    let mut st = State {
        project,
        ctx,
        skip_challenge: req
            .context
            .as_ref()
            .and_then(|c| c.skip_challenge)
            .unwrap_or(false),
        end: None,
        skipped_phases: HashSet::new(),
        skip_phase: false,
        pending_uri: None,
        pending_headers: Vec::new(),
        headers,
        warnings: Vec::new(),
        phase: "",
        response: false,
    };
    let mut trace = Vec::new();
    for phase in phases::REQUEST_PHASES {
        if st.end.is_some() {
            break;
        }
        if let Some(item) = run_phase(&mut st, phase) {
            trace.push(item);
        }
        apply_rewrites(&mut st, req)?;
    }
    let origin_status = extras
        .origin
        .as_ref()
        .and_then(|o| o.status)
        .or(project.config.origin_status)
        .unwrap_or(200);
    let mut status = st.end.as_ref().map(|e| e.status);
    if st.end.is_none()
        && let Some(origin) = &extras.origin
    {
        set_response(&mut st.ctx, origin_status, origin);
        st.response = true;
        for phase in phases::RESPONSE_PHASES {
            if st.end.is_some() {
                break;
            }
            if let Some(item) = run_phase(&mut st, phase) {
                trace.push(item);
            }
        }
        status = st.end.as_ref().map(|e| e.status);
    }
    let mut warnings = st.warnings;
    warnings.sort();
    warnings.dedup();
    Ok((
        TraceResult {
            status_code: Some(status.unwrap_or(origin_status)),
            trace,
        },
        warnings,
    ))
}

fn set_response(ctx: &mut Context, status: i64, o: &Origin) {
    let pairs: Vec<(String, String)> = o
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut map: std::collections::BTreeMap<Vec<u8>, RValue> = std::collections::BTreeMap::new();
    for (k, v) in &pairs {
        if let RValue::Array(a) = map
            .entry(k.to_ascii_lowercase().into_bytes())
            .or_insert_with(|| RValue::Array(Vec::new()))
        {
            a.push(RValue::bytes(v.as_str()));
        }
    }
    let names = RValue::strings(pairs.iter().map(|(k, _)| k.as_str()));
    let values = RValue::strings(pairs.iter().map(|(_, v)| v.as_str()));
    let media = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    for prefix in ["", "raw."] {
        let _ = ctx.set(
            &format!("{prefix}http.response.headers"),
            RValue::Map(map.clone()),
        );
        let _ = ctx.set(
            &format!("{prefix}http.response.headers.names"),
            names.clone(),
        );
        let _ = ctx.set(
            &format!("{prefix}http.response.headers.values"),
            values.clone(),
        );
    }
    let _ = ctx.set("http.response.code", RValue::Int(status));
    let _ = ctx.set("http.response.headers.truncated", RValue::Bool(false));
    let _ = ctx.set(
        "http.response.content_type.media_type",
        RValue::bytes(media),
    );
    let _ = ctx.set("cf.response.1xxx_code", RValue::Int(0));
    let _ = ctx.set("cf.response.error_type", RValue::bytes(""));
}

fn run_phase(st: &mut State, phase: &'static str) -> Option<TraceItem> {
    st.phase = phase;
    st.skip_phase = false;
    let mut item = shape::phase(phase);
    for level in [Level::Account, Level::Zone] {
        if st.end.is_some() || st.skip_phase {
            break;
        }
        if st.skipped_phases.contains(&(level, phase.to_string())) {
            continue;
        }
        let project = st.project;
        if let Some(rs) = project.entry_point(level, phase) {
            let child = run_ruleset(st, rs, level, &Overrides::default(), &HashSet::new());
            item.trace.push(child);
        }
    }
    if item.trace.is_empty() {
        return None;
    }
    item.matched = Some(item.trace.iter().any(|c| c.matched == Some(true)));
    Some(item)
}

fn run_ruleset(
    st: &mut State,
    rs: &CompiledRuleset,
    level: Level,
    ov: &Overrides,
    skip_rules: &HashSet<String>,
) -> TraceItem {
    let mut item = shape::ruleset(&rs.ruleset);
    // Exceptions (skip) in this ruleset affect only the execute rules after them here.
    let mut skip_rulesets: HashSet<String> = HashSet::new();
    let mut skip_rules_of: HashMap<String, HashSet<String>> = HashMap::new();
    let show_expression = rs.ruleset.kind != "managed";
    for (i, cr) in rs.rules.iter().enumerate() {
        if st.end.is_some() || st.skip_phase {
            break;
        }
        let (action, enabled) = ov.apply(&cr.rule);
        if !enabled
            || cr
                .rule
                .id
                .as_ref()
                .is_some_and(|id| skip_rules.contains(id))
        {
            continue;
        }
        let params = cr.rule.action_parameters.clone().unwrap_or(Value::Null);
        if action == "execute"
            && let Some(target) = params.get("id").and_then(Value::as_str)
            && skip_rulesets.contains(target)
        {
            continue;
        }
        let matched = cr.filter.as_ref().is_some_and(|f| f.execute(&st.ctx));
        let mut step = shape::rule(&cr.rule, i, &action, matched, show_expression);
        let mut stop_ruleset = false;
        if matched {
            item.matched = Some(true);
            match action.as_str() {
                // Rate limiting rules: one trace cannot exceed a threshold, so the action is
                // not applied (the rule is traced with `matched` from its expression).
                _ if st.phase == "http_ratelimit" => {}
                // With skip_challenge the trace goes on past a challenge.
                a if phases::is_challenge(a) && st.skip_challenge => {}
                a if phases::is_challenge(a) => st.end = Some(End { status: 403 }),
                "block" => {
                    let status = params
                        .pointer("/response/status_code")
                        .and_then(Value::as_i64)
                        .unwrap_or(403);
                    st.end = Some(End { status });
                }
                "serve_error" => {
                    let status = params
                        .get("status_code")
                        .and_then(Value::as_i64)
                        .or_else(|| {
                            st.ctx.get_by_name("http.response.code").and_then(|v| {
                                if let RValue::Int(i) = v {
                                    Some(*i)
                                } else {
                                    None
                                }
                            })
                        })
                        .unwrap_or(500);
                    st.end = Some(End { status });
                }
                "redirect" => {
                    let status = cr.redirect.as_ref().map_or(301, |r| r.status);
                    step.target_url = cr.redirect.as_ref().and_then(|r| redirect_target(st, r));
                    st.end = Some(End { status });
                }
                "skip" => {
                    if params.get("ruleset").and_then(Value::as_str) == Some("current") {
                        stop_ruleset = true;
                    }
                    if params.get("phase").and_then(Value::as_str) == Some("current") {
                        st.skip_phase = true;
                    }
                    for p in params
                        .get("phases")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        // An account-level skip of phases skips them at both levels.
                        st.skipped_phases.insert((Level::Zone, p.to_string()));
                        if level == Level::Account {
                            st.skipped_phases.insert((Level::Account, p.to_string()));
                        }
                    }
                    for r in params
                        .get("rulesets")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        skip_rulesets.insert(r.to_string());
                    }
                    if let Some(rules) = params.get("rules").and_then(Value::as_object) {
                        for (rs_id, ids) in rules {
                            skip_rules_of.entry(rs_id.clone()).or_default().extend(
                                ids.as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(Value::as_str)
                                    .map(String::from),
                            );
                        }
                    }
                }
                "execute" => {
                    if let Some(target) = params.get("id").and_then(Value::as_str) {
                        let project = st.project;
                        match project.ruleset(target) {
                            Some(child) => {
                                let ov = Overrides::from(params.get("overrides"));
                                let skips = skip_rules_of.get(target).cloned().unwrap_or_default();
                                let t = run_ruleset(st, child, level, &ov, &skips);
                                step.trace.push(t);
                            }
                            None => {
                                let name = crate::project::managed_name(target)
                                    .unwrap_or("unknown ruleset");
                                st.warnings.push(format!(
                                    "managed ruleset {target} ({name}) cannot be evaluated offline: its rules are not public; add a stand-in ruleset with that id to model it"
                                ));
                                step.trace.push(shape::opaque_ruleset(target, name));
                            }
                        }
                    }
                }
                "rewrite" => record_rewrite(st, cr),
                _ => {}
            }
        }
        item.trace.push(step);
        if stop_ruleset {
            break;
        }
    }
    item
}

fn eval_text(
    st: &State,
    value: &Option<String>,
    expr: &Option<crate::rules::ValueProgram>,
) -> Option<String> {
    if let Some(v) = value {
        return Some(v.clone());
    }
    match expr.as_ref()?.eval(&st.ctx)? {
        RValue::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        RValue::Int(i) => Some(i.to_string()),
        RValue::Bool(b) => Some(b.to_string()),
        RValue::Ip(ip) => Some(ip.to_string()),
        _ => None,
    }
}

/// Where a redirect sends the visitor: the static value or the expression's result, with the
/// request's query appended when `preserve_query_string` is set.
fn redirect_target(st: &State, r: &crate::project::Redirect) -> Option<String> {
    let mut url = eval_text(st, &r.value, &r.expression)?;
    if r.preserve_query
        && let Some(RValue::Bytes(q)) = st.ctx.get_by_name("http.request.uri.query")
        && !q.is_empty()
    {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&String::from_utf8_lossy(q));
    }
    Some(url)
}

fn record_rewrite(st: &mut State, cr: &CompiledRule) {
    let Some(rw) = &cr.rewrite else { return };
    let path = eval_text(st, &rw.path_value, &rw.path_expr);
    let query = eval_text(st, &rw.query_value, &rw.query_expr);
    if path.is_some() || query.is_some() {
        let (p0, q0) = st.pending_uri.take().unwrap_or((None, None));
        st.pending_uri = Some((path.or(p0), query.or(q0)));
    }
    for h in &rw.headers {
        let value = eval_text(st, &h.value, &h.expression);
        st.pending_headers
            .push((h.name.clone(), h.operation.clone(), value));
    }
}

/// Applies this phase's rewrites to the fields later phases see (`raw.*` keep the original).
fn apply_rewrites(st: &mut State, req: &TraceRequest) -> Result<(), String> {
    if let Some((path, query)) = st.pending_uri.take() {
        let mut u = split_url(&req.url)?;
        if let Some(RValue::Bytes(p)) = st.ctx.get_by_name("http.request.uri.path") {
            u.path = String::from_utf8_lossy(p).into_owned();
        }
        if let Some(RValue::Bytes(q)) = st.ctx.get_by_name("http.request.uri.query") {
            u.query = (!q.is_empty()).then(|| String::from_utf8_lossy(q).into_owned());
        }
        if let Some(p) = path {
            u.path = p;
        }
        if let Some(q) = query {
            u.query = (!q.is_empty()).then_some(q);
        }
        request::set_uri(&mut st.ctx, &u);
    }
    if !st.pending_headers.is_empty() {
        for (name, op, value) in std::mem::take(&mut st.pending_headers) {
            match op.as_str() {
                "remove" => st.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name)),
                "set" => {
                    st.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                    if let Some(v) = value {
                        st.headers.push((name, v));
                    }
                }
                _ => {
                    if let Some(v) = value {
                        st.headers.push((name, v));
                    }
                }
            }
        }
        let headers = st.headers.clone();
        request::set_request_headers(&mut st.ctx, &headers);
    }
    Ok(())
}

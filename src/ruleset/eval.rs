//! The phase evaluator (reference cloudflare-apis §3, §6): request phases in order, the
//! account (`root`) entry point before the zone's in each, rules in order, disabled rules not
//! evaluated. Terminating actions end the request; skip, execute (with overrides), rewrite and
//! redirect behave as documented; rate limiting rules are traced but cannot trip on one
//! request; response phases run when the case gives an origin response.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use super::action::{Action, HeaderOperation, Overrides, Redirect, RedirectFrom, Text};
use super::compiled::{CompiledRule, CompiledRuleset, Level, Rulebook};
use super::walk::{self, RuleWalk, Walk};
use super::{owasp, phases, shape};
use crate::rules::request::{self, split_url};
use crate::rules::{Context, FieldError, RequestError, Value as RValue};
use crate::trace::view::RATE_LIMIT_PHASE;
use crate::trace::{Extras, Origin, TraceItem, TraceRequest, TraceResult};

/// How deep `execute` may nest while evaluating. Cloudflare allows one level (an entry point
/// executes a custom or managed ruleset) and `check` enforces that; this bound only keeps a
/// project that escaped the check from recursing without limit.
pub(crate) const MAX_EXECUTE_DEPTH: usize = 8;

/// Why a request could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EvalError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("execute nests deeper than {MAX_EXECUTE_DEPTH} rulesets: {}", .0.join(" → "))]
    TooDeep(Vec<String>),
    /// A response field could not be set (a field missing from the scheme: a bug).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The caller cancelled the evaluation (its time budget ran out); checked between rules.
    #[error("the evaluation was stopped: its time budget ran out")]
    Cancelled,
}

/// How the request ended.
#[derive(Debug, Clone)]
struct End {
    status: i64,
}

/// Evaluation state across phases.
struct State<'p> {
    book: &'p Rulebook,
    /// The request as given (the OWASP emulation reads it as a WAF would).
    req: &'p TraceRequest,
    ctx: Context,
    skip_challenge: bool,
    end: Option<End>,
    /// Phases skipped per level by `skip` with `phases`.
    skipped_phases: Vec<(Level, String)>,
    /// `skip` with `phase: current` in the phase being evaluated.
    skip_phase: bool,
    /// Rewrites of this phase, applied when it ends (the last one wins).
    pending_uri: Option<(Option<String>, Option<String>)>,
    pending_headers: Vec<(String, HeaderOperation, Option<String>)>,
    /// The request's header list as the context holds it, for header rewrites: read from
    /// the context on the first rewrite.
    headers: Option<Vec<(String, String)>>,
    warnings: Vec<String>,
    /// Trace only the matched rules (and the rulesets and phases around them): enough for a
    /// [`crate::trace::Behaviour`], without a step per evaluated rule. Replay's mode.
    lean: bool,
    phase: &'static str,
    response: bool,
    /// The rulesets being executed, outermost first (for the depth bound's message).
    executing: Vec<String>,
    /// Set when evaluation cannot go on; ends the request.
    failed: Option<EvalError>,
    /// Set by the caller to stop the evaluation at the next rule.
    cancel: &'p AtomicBool,
    /// The walk, recorded only when explaining.
    walk: Option<Box<Walk>>,
}

/// The action that applies to `rule` and whether it is enabled, after `ov`: rule >
/// last matching category > ruleset > the rule's own. An override naming the rule's own action
/// keeps the rule's parameters.
fn apply<'a>(ov: &'a Overrides, cr: &'a CompiledRule) -> (&'a Action, bool) {
    let pick = |a: &'a Action| {
        if a.name() == cr.action.name() {
            &cr.action
        } else {
            a
        }
    };
    let mut action = &cr.action;
    let mut enabled = ov.enabled.unwrap_or(cr.rule.is_enabled());
    if let Some(a) = &ov.action
        && enabled
    {
        action = pick(a);
    }
    let category = ov
        .categories
        .iter()
        .rev()
        .find(|(c, _, _)| cr.rule.categories.contains(c))
        .map(|(_, a, e)| (a, e));
    let rule = cr
        .rule
        .id
        .as_ref()
        .and_then(|id| ov.rules.get(id))
        .map(|(a, e)| (a, e));
    for (a, e) in category.into_iter().chain(rule) {
        if let Some(e) = e {
            enabled = *e;
        }
        if let Some(a) = a {
            action = pick(a);
        }
    }
    (action, enabled)
}

/// Runs `req` through `book`. Returns the trace and warnings (managed rulesets that could
/// not be evaluated).
#[cfg(test)]
pub(crate) fn evaluate(
    book: &Rulebook,
    req: &TraceRequest,
    extras: &Extras,
) -> Result<(TraceResult, Vec<String>), EvalError> {
    static NEVER: AtomicBool = AtomicBool::new(false);
    evaluate_until(book, req, extras, &NEVER)
}

/// Runs `req` through `book`: the trace and warnings (managed rulesets that could not be
/// evaluated). Stopped with [`EvalError::Cancelled`] at the next rule once `cancel` is set (a
/// budget that ran out: the thread does not go on burning a core).
pub(crate) fn evaluate_until(
    book: &Rulebook,
    req: &TraceRequest,
    extras: &Extras,
    cancel: &AtomicBool,
) -> Result<(TraceResult, Vec<String>), EvalError> {
    let ctx = request::context(req, extras.fields.as_ref())?;
    evaluate_inner(book, ctx, req, extras, cancel, false, None).map(|(t, w, _)| (t, w))
}

/// [`evaluate_until`] recording the [`Walk`]: what `explain` and a failing case's `why:` read.
/// On demand only; not bounded by a budget (the request was traced within one already).
pub(crate) fn evaluate_walked(
    book: &Rulebook,
    req: &TraceRequest,
    extras: &Extras,
) -> Result<(TraceResult, Walk), EvalError> {
    static NEVER: AtomicBool = AtomicBool::new(false);
    let ctx = request::context(req, extras.fields.as_ref())?;
    let (t, _, w) = evaluate_inner(book, ctx, req, extras, &NEVER, false, Some(Box::default()))?;
    Ok((t, w.map(|w| *w).unwrap_or_default()))
}

/// [`evaluate_until`] over a context already built from `req` (a replayed log line builds its
/// own, with the fields the log carried and the rest missing), tracing only matched rules: the same [`crate::trace::Behaviour`]
/// (which reads matched steps only) for a fraction of the work. `replay` evaluates millions
/// of requests this way.
pub(crate) fn evaluate_lean(
    book: &Rulebook,
    ctx: Context,
    req: &TraceRequest,
    cancel: &AtomicBool,
) -> Result<(TraceResult, Vec<String>), EvalError> {
    static NONE: std::sync::LazyLock<Extras> = std::sync::LazyLock::new(Extras::default);
    evaluate_inner(book, ctx, req, &NONE, cancel, true, None).map(|(t, w, _)| (t, w))
}

/// The header list as the context holds it (Host and cookies included).
fn header_list(ctx: &Context) -> Vec<(String, String)> {
    let list = |name: &str| match ctx.get_by_name(name) {
        Some(RValue::Array(a)) => a
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned())
            .collect(),
        _ => Vec::new(),
    };
    list("http.request.headers.names")
        .into_iter()
        .zip(list("http.request.headers.values"))
        .collect()
}

/// A trace, its warnings, and the walk when one was asked for.
type Evaluated = (TraceResult, Vec<String>, Option<Box<Walk>>);

fn evaluate_inner(
    book: &Rulebook,
    ctx: Context,
    req: &TraceRequest,
    extras: &Extras,
    cancel: &AtomicBool,
    lean: bool,
    walk: Option<Box<Walk>>,
) -> Result<Evaluated, EvalError> {
    let mut st = State {
        book,
        req,
        ctx,
        skip_challenge: req
            .context
            .as_ref()
            .and_then(|c| c.skip_challenge)
            .unwrap_or(false),
        end: None,
        skipped_phases: Vec::new(),
        skip_phase: false,
        pending_uri: None,
        pending_headers: Vec::new(),
        headers: None,
        lean,
        warnings: Vec::new(),
        phase: "",
        response: false,
        executing: Vec::new(),
        failed: None,
        cancel,
        walk,
    };
    let mut trace = Vec::new();
    for phase in phases::REQUEST_PHASES {
        if st.end.is_some() {
            not_run(&mut st, phase, None);
            continue;
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
        .unwrap_or(book.origin_status);
    let mut status = st.end.as_ref().map(|e| e.status);
    if st.end.is_none()
        && let Some(origin) = &extras.origin
    {
        set_response(&mut st.ctx, origin_status, origin)?;
        st.response = true;
        for phase in phases::RESPONSE_PHASES {
            if st.end.is_some() {
                not_run(&mut st, phase, None);
                continue;
            }
            if let Some(item) = run_phase(&mut st, phase) {
                trace.push(item);
            }
        }
        status = st.end.as_ref().map(|e| e.status);
    } else if st.walk.is_some() {
        let ended = st.end.is_some();
        for phase in phases::RESPONSE_PHASES {
            not_run(
                &mut st,
                phase,
                (!ended).then_some(
                    "response phases run when the case gives the origin's response (`origin:`)",
                ),
            );
        }
    }
    if let Some(e) = st.failed {
        return Err(e);
    }
    if let Some(w) = st.walk.as_mut() {
        w.finish(&st.ctx);
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
        st.walk,
    ))
}

/// Records a phase with an entry point that did not run (the request had ended, or a
/// response phase without a response).
fn not_run(st: &mut State, phase: &str, why: Option<&str>) {
    if st.walk.is_none() || !st.book.has_entry_in(phase) {
        return;
    }
    let Some(w) = st.walk.as_mut() else { return };
    let why = why.map_or_else(|| w.why_stopped(true, phase), str::to_string);
    w.phase_not_run(phase, why);
}

fn set_response(ctx: &mut Context, status: i64, o: &Origin) -> Result<(), FieldError> {
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
        ctx.set(
            &format!("{prefix}http.response.headers"),
            RValue::Map(map.clone()),
        )?;
        ctx.set(
            &format!("{prefix}http.response.headers.names"),
            names.clone(),
        )?;
        ctx.set(
            &format!("{prefix}http.response.headers.values"),
            values.clone(),
        )?;
    }
    ctx.set("http.response.code", RValue::Int(status))?;
    ctx.set("http.response.headers.truncated", RValue::Bool(false))?;
    ctx.set(
        "http.response.content_type.media_type",
        RValue::bytes(media),
    )?;
    ctx.set("cf.response.1xxx_code", RValue::Int(0))?;
    ctx.set("cf.response.error_type", RValue::bytes(""))?;
    Ok(())
}

fn run_phase(st: &mut State, phase: &'static str) -> Option<TraceItem> {
    st.phase = phase;
    st.skip_phase = false;
    // Most phases of most zones have no entry point: nothing to build for them.
    if !st.book.has_entry_in(phase) {
        return None;
    }
    if let Some(w) = st.walk.as_mut() {
        w.phase_start(phase, &st.ctx);
    }
    let mut item = if st.lean {
        shape::lean_step(phase)
    } else {
        shape::phase(phase)
    };
    let book = st.book;
    for level in [Level::Account, Level::Zone] {
        let Some(rs) = book.entry_point(level, phase) else {
            continue;
        };
        if st.end.is_some() || st.skip_phase {
            if let Some(w) = st.walk.as_mut() {
                let why = w.why_stopped(st.end.is_some(), phase);
                w.not_entered(rs, why);
            }
            continue;
        }
        if st
            .skipped_phases
            .iter()
            .any(|(l, p)| *l == level && p == phase)
        {
            if let Some(w) = st.walk.as_mut() {
                let why = match w.phase_skipped_by(phase) {
                    Some(by) => format!("the skip rule {by} skipped phase {phase}"),
                    None => format!("a skip rule skipped phase {phase}"),
                };
                w.not_entered(rs, why);
            }
            continue;
        }
        let child = run_ruleset(
            st,
            rs,
            level,
            &NO_OVERRIDES,
            &rustc_hash::FxHashSet::default(),
        );
        item.trace.push(child);
    }
    if item.trace.is_empty() {
        return None;
    }
    item.matched = Some(item.trace.iter().any(|c| c.matched == Some(true)));
    Some(item)
}

static NO_OVERRIDES: std::sync::LazyLock<Overrides> = std::sync::LazyLock::new(Overrides::default);

fn run_ruleset(
    st: &mut State,
    rs: &CompiledRuleset,
    level: Level,
    ov: &Overrides,
    skip_rules: &rustc_hash::FxHashSet<String>,
) -> TraceItem {
    let mut item = if st.lean {
        shape::lean_step(&rs.ruleset.id)
    } else {
        shape::ruleset(&rs.ruleset)
    };
    // Exceptions (skip) in this ruleset affect only the execute rules after them here.
    let mut skip_rulesets: HashSet<&str> = HashSet::new();
    let mut skip_rules_of: rustc_hash::FxHashMap<&str, rustc_hash::FxHashSet<String>> =
        rustc_hash::FxHashMap::default();
    let show_expression = rs.ruleset.kind != "managed";
    if let Some(w) = st.walk.as_mut() {
        w.enter(rs);
    }
    for (i, cr) in rs.rules.iter().enumerate() {
        if st.end.is_some() || st.skip_phase {
            if let Some(w) = st.walk.as_mut() {
                let why = w.why_stopped(st.end.is_some(), st.phase);
                left_out(w, rs, i, why);
            }
            break;
        }
        if st.cancel.load(Ordering::Relaxed) {
            st.failed = Some(EvalError::Cancelled);
            st.end = Some(End { status: 0 });
            break;
        }
        let (action, enabled) = apply(ov, cr);
        let skipped = cr
            .rule
            .id
            .as_ref()
            .is_some_and(|id| skip_rules.contains(id));
        if !enabled || skipped {
            if let Some(w) = st.walk.as_mut() {
                let why = if skipped {
                    match w.rule_skipped_by(&rs.ruleset.id, &cr.rule.step_name(i)) {
                        Some(by) => format!("the skip rule {by} skipped it"),
                        None => "a skip rule skipped it".into(),
                    }
                } else if cr.rule.is_enabled() {
                    format!("disabled by {}", w.override_by())
                } else {
                    "it is disabled (`enabled: false`)".into()
                };
                w.rule(rule_walk(rs, cr, i, action, false, Some(why)));
            }
            continue;
        }
        if let Action::Execute { id, .. } = action
            && skip_rulesets.contains(id.as_str())
        {
            if let Some(w) = st.walk.as_mut() {
                let why = match w.ruleset_skipped_by(id) {
                    Some(by) => format!("the skip rule {by} skipped ruleset {id}"),
                    None => format!("a skip rule skipped ruleset {id}"),
                };
                w.rule(rule_walk(rs, cr, i, action, false, Some(why)));
            }
            continue;
        }
        let matched = cr.filter.as_ref().is_some_and(|f| f.execute(&st.ctx));
        if st.lean && !matched {
            continue;
        }
        if let Some(w) = st.walk.as_mut() {
            let mut rw = rule_walk(rs, cr, i, action, true, None);
            rw.matched = matched;
            if action.name() != cr.action.name() {
                rw.changed.push(format!(
                    "action {} → {} by {}",
                    cr.action.name(),
                    action.name(),
                    w.override_by()
                ));
            }
            if !cr.rule.is_enabled() {
                rw.changed.push(format!(
                    "enabled (it says `enabled: false`) by {}",
                    w.override_by()
                ));
            }
            w.rule(rw);
        }
        let mut step = if st.lean {
            shape::matched_rule(&cr.rule, i, action.name())
        } else {
            shape::rule(&cr.rule, i, action.name(), matched, show_expression)
        };
        let mut stop_ruleset = false;
        if matched {
            item.matched = Some(true);
            match action {
                // Rate limiting rules: one trace cannot exceed a threshold, so the action is
                // not applied (the rule is traced with `matched` from its expression).
                _ if st.phase == RATE_LIMIT_PHASE => {
                    if let Some(w) = st.walk.as_mut() {
                        w.note("counted, not applied: one request cannot exceed a rate limit's threshold");
                    }
                }
                // With skip_challenge the trace goes on past a challenge.
                Action::Challenge(_) if st.skip_challenge => {
                    if let Some(w) = st.walk.as_mut() {
                        w.note(
                            "the request's skip_challenge lets the trace go on past the challenge",
                        );
                    }
                }
                Action::Challenge(_) => st.end = Some(End { status: 403 }),
                Action::Block { status } => st.end = Some(End { status: *status }),
                Action::ServeError { status } => {
                    let status = status
                        .or_else(|| match st.ctx.get_by_name("http.response.code") {
                            Some(RValue::Int(i)) => Some(*i),
                            _ => None,
                        })
                        .unwrap_or(500);
                    st.end = Some(End { status });
                }
                Action::Redirect(from) => match from.as_deref() {
                    Some(RedirectFrom::Value(r)) => {
                        step.target_url = redirect_target(st, r);
                        st.end = Some(End { status: r.status });
                    }
                    Some(RedirectFrom::List { name, key }) => {
                        // A Bulk Redirect: only a list item whose source matches redirects.
                        if let Some((target, status)) = list_redirect(st, name, key) {
                            step.target_url = Some(target);
                            st.end = Some(End { status });
                        }
                    }
                    None => st.end = Some(End { status: 301 }),
                },
                Action::Skip(skip) => {
                    if let Some(w) = st.walk.as_mut() {
                        let by = walk::place(rs, cr, i);
                        if skip.phase {
                            w.skipped_phase(&by);
                        }
                        w.skipped_phases(&by, &skip.phases);
                        w.skipped_rulesets(&by, &skip.rulesets);
                        w.skipped_rules(&by, &skip.rules);
                    }
                    stop_ruleset = skip.ruleset;
                    if skip.phase {
                        st.skip_phase = true;
                    }
                    for p in &skip.phases {
                        // An account-level skip of phases skips them at both levels.
                        st.skipped_phases.push((Level::Zone, p.clone()));
                        if level == Level::Account {
                            st.skipped_phases.push((Level::Account, p.clone()));
                        }
                    }
                    skip_rulesets.extend(skip.rulesets.iter().map(String::as_str));
                    for (rs_id, ids) in &skip.rules {
                        skip_rules_of
                            .entry(rs_id.as_str())
                            .or_default()
                            .extend(ids.iter().cloned());
                    }
                }
                Action::Execute { id, overrides }
                    if id == owasp::OWASP_ID
                        && st.book.crs.is_some()
                        && st.book.ruleset(id).is_none_or(|rs| !owasp::is_stand_in(rs)) =>
                {
                    let book = st.book;
                    let crs = book.crs.as_deref().expect("checked above");
                    let none = rustc_hash::FxHashSet::default();
                    let skips = skip_rules_of.get(id.as_str()).unwrap_or(&none);
                    let ids = book
                        .owasp_ids
                        .get_or_init(|| owasp::listing_ids(book.ruleset(id)));
                    let e = owasp::emulate(crs, ids, overrides, skips, st.req, st.lean);
                    if let Some(w) = st.walk.as_mut() {
                        let by = walk::place(rs, cr, i);
                        let changed = overrides
                            .thresholds
                            .values()
                            .map(|t| {
                                format!(
                                    "score threshold {t} by the override in the execute rule {by}"
                                )
                            })
                            .collect();
                        let skipped_by = |crs_id: u32| {
                            let named = |n: &str| {
                                ids.get(n).map_or(n, String::as_str).parse() == Ok(crs_id)
                            };
                            w.rule_skipped_where(id, named).map(str::to_string)
                        };
                        let off = owasp::off_reasons(crs, ids, overrides, skips, &by, &skipped_by);
                        w.emulated(&e.step, changed, off);
                    }
                    step.trace.push(e.step);
                    match e.action {
                        Some(Action::Block { status }) => st.end = Some(End { status }),
                        Some(Action::Challenge(_)) if st.skip_challenge => {}
                        Some(Action::Challenge(_)) => st.end = Some(End { status: 403 }),
                        _ => {}
                    }
                }
                Action::Execute { id, overrides } => {
                    let book = st.book;
                    match book.ruleset(id) {
                        Some(_) if st.executing.len() >= MAX_EXECUTE_DEPTH => {
                            let mut path = st.executing.clone();
                            path.push(id.clone());
                            st.failed = Some(EvalError::TooDeep(path));
                            st.end = Some(End { status: 0 });
                        }
                        Some(child) => {
                            let skips = skip_rules_of.get(id.as_str()).cloned().unwrap_or_default();
                            st.executing.push(id.clone());
                            if let Some(w) = st.walk.as_mut() {
                                w.executing(walk::place(rs, cr, i));
                            }
                            let t = run_ruleset(st, child, level, overrides, &skips);
                            if let Some(w) = st.walk.as_mut() {
                                w.executed();
                            }
                            st.executing.pop();
                            step.trace.push(t);
                        }
                        None => {
                            let name = super::managed_name(id).unwrap_or("unknown ruleset");
                            st.warnings.push(if id == owasp::OWASP_ID {
                                format!(
                                    "managed ruleset {id} ({name}) is not evaluated offline: no OWASP Core Rule Set release was found; install one (`apt-get install modsecurity-crs`, or a CRS checkout named by --crs, RULEGATE_CRS or `owasp: {{crs: PATH}}` in rulegate.yaml) to emulate it, or add a stand-in ruleset with that id"
                                )
                            } else {
                                format!(
                                    "managed ruleset {id} ({name}) cannot be evaluated offline: its rules are not public; add a stand-in ruleset with that id to model it"
                                )
                            });
                            if let Some(w) = st.walk.as_mut() {
                                w.opaque(id, name);
                            }
                            step.trace.push(shape::opaque_ruleset(id, name));
                        }
                    }
                }
                Action::Rewrite(_) => record_rewrite(st, action),
                Action::Log | Action::Passive(_) => {}
            }
        }
        // The innermost rule that ended the request names it (not the execute rule around it).
        if let Some(w) = st.walk.as_mut()
            && matched
            && st.end.is_some()
            && st.failed.is_none()
            && w.ended_by.is_none()
        {
            w.ended(walk::place(rs, cr, i));
        }
        item.trace.push(step);
        if stop_ruleset {
            if let Some(w) = st.walk.as_mut() {
                let why = format!(
                    "the skip rule {} skipped the rest of this ruleset",
                    walk::place(rs, cr, i)
                );
                left_out(w, rs, i + 1, why);
            }
            break;
        }
    }
    if let Some(w) = st.walk.as_mut() {
        w.leave();
    }
    item
}

/// A rule's walk entry: the action that applied, evaluated or not and why.
fn rule_walk(
    rs: &CompiledRuleset,
    cr: &CompiledRule,
    i: usize,
    action: &Action,
    evaluated: bool,
    why_not: Option<String>,
) -> RuleWalk {
    RuleWalk {
        id: cr.rule.step_name(i),
        description: cr.rule.description.clone(),
        at: Some(format!("{}:{}", rs.file.display(), cr.line)),
        action: action.name().to_string(),
        evaluated,
        matched: false,
        ended: false,
        why_not,
        changed: Vec::new(),
        note: None,
        executes: None,
    }
}

/// The rules of `rs` from `from` on, none evaluated, for `why`.
fn left_out(w: &mut Walk, rs: &CompiledRuleset, from: usize, why: String) {
    for (i, cr) in rs.rules.iter().enumerate().skip(from) {
        w.rule(rule_walk(rs, cr, i, &cr.action, false, Some(why.clone())));
    }
}

fn eval_text(st: &State, t: &Text) -> Option<String> {
    if let Some(v) = &t.value {
        return Some(v.clone());
    }
    match t.expression.as_ref()?.eval(&st.ctx)? {
        RValue::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        RValue::Int(i) => Some(i.to_string()),
        RValue::Bool(b) => Some(b.to_string()),
        RValue::Ip(ip) => Some(ip.to_string()),
        _ => None,
    }
}

/// The target and status of the first item of redirect list `name` whose source matches
/// the value of field `key` (the full URI unless the rule says otherwise).
fn list_redirect(st: &State, name: &str, key: &str) -> Option<(String, i64)> {
    let list = st.book.lists.get(name)?;
    let Some(RValue::Bytes(url)) = st.ctx.get_by_name(key) else {
        return None;
    };
    let item = list.redirect_for(url)?;
    let target = item.target_for(std::str::from_utf8(url).ok()?)?;
    Some((target, item.status_code))
}

/// Where a redirect sends the visitor: the static value or the expression's result, with the
/// request's query appended when `preserve_query_string` is set.
fn redirect_target(st: &State, r: &Redirect) -> Option<String> {
    let mut url = eval_text(st, &r.target)?;
    if r.preserve_query
        && let Some(RValue::Bytes(q)) = st.ctx.get_by_name("http.request.uri.query")
        && !q.is_empty()
    {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&String::from_utf8_lossy(q));
    }
    Some(url)
}

fn record_rewrite(st: &mut State, action: &Action) {
    let Action::Rewrite(rw) = action else { return };
    let path = rw.path.as_ref().and_then(|t| eval_text(st, t));
    let query = rw.query.as_ref().and_then(|t| eval_text(st, t));
    if path.is_some() || query.is_some() {
        let (p0, q0) = st.pending_uri.take().unwrap_or((None, None));
        st.pending_uri = Some((path.or(p0), query.or(q0)));
    }
    for h in &rw.headers {
        let value = eval_text(st, &h.value);
        st.pending_headers
            .push((h.name.clone(), h.operation, value));
    }
}

/// Applies this phase's rewrites to the fields later phases see (`raw.*` keep the original).
fn apply_rewrites(st: &mut State, req: &TraceRequest) -> Result<(), RequestError> {
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
        let headers = st.headers.get_or_insert_with(|| header_list(&st.ctx));
        for (name, op, value) in std::mem::take(&mut st.pending_headers) {
            match op {
                HeaderOperation::Remove => {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                }
                HeaderOperation::Set => {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                    if let Some(v) = value {
                        headers.push((name, v));
                    }
                }
                HeaderOperation::Add => {
                    if let Some(v) = value {
                        headers.push((name, v));
                    }
                }
            }
        }
        let headers = headers.clone();
        request::set_request_headers(&mut st.ctx, &headers);
    }
    Ok(())
}

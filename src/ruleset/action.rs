//! Typed, compiled rule actions. `action_parameters` are read once, at load, into an
//! [`Action`]; the evaluator matches on it and never reads JSON. Problems with the parameters
//! are reported through a [`Sink`] (the project loader places them in the file).
//!
//! Adding an action: a variant here, its arm in [`Action::parse`], and its effect in
//! `eval.rs`'s one `match`.

use serde_json::Value;

use super::phases;
use crate::rules::ValueProgram;
use crate::text::suggestion;

/// Receives what [`Action::parse`] finds: errors, and value expressions to compile.
pub(crate) trait Sink {
    /// A problem with the parameters (the caller adds the rule and position).
    fn error(&mut self, message: String, hint: Option<&str>);
    /// Compiles a value expression (`what` names the parameter), reporting its errors.
    fn value_expr(&mut self, what: &str, expr: &str) -> Option<ValueProgram>;
}

/// A sink that ignores problems and compiles nothing: for actions named by an override,
/// which carry no parameters of their own.
struct Quiet;

impl Sink for Quiet {
    fn error(&mut self, _: String, _: Option<&str>) {}
    fn value_expr(&mut self, _: &str, _: &str) -> Option<ValueProgram> {
        None
    }
}

/// The three challenge actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Challenge {
    Interactive,
    Js,
    Managed,
}

/// What an `execute` changes in the ruleset it runs: ruleset-wide, per category (the last
/// matching one wins) and per rule (wins over all).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) action: Option<Action>,
    pub(crate) enabled: Option<bool>,
    pub(crate) categories: Vec<(String, Option<Action>, Option<bool>)>,
    pub(crate) rules: rustc_hash::FxHashMap<String, (Option<Action>, Option<bool>)>,
    /// Rule id → `score_threshold` (the OWASP ruleset's score rule).
    pub(crate) thresholds: rustc_hash::FxHashMap<String, i64>,
}

/// The parameters of `skip`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Skip {
    /// `ruleset: current`: the rest of this ruleset.
    pub(crate) ruleset: bool,
    /// `phase: current`: the rest of this phase.
    pub(crate) phase: bool,
    pub(crate) phases: Vec<String>,
    pub(crate) products: Vec<String>,
    pub(crate) rulesets: Vec<String>,
    /// Ruleset id → rule ids.
    pub(crate) rules: Vec<(String, Vec<String>)>,
}

/// A static text or a value expression computed per request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Text {
    pub(crate) value: Option<String>,
    pub(crate) expression: Option<ValueProgram>,
}

/// `redirect` `from_value`.
#[derive(Debug, Clone)]
pub(crate) struct Redirect {
    pub(crate) target: Text,
    pub(crate) status: i64,
    pub(crate) preserve_query: bool,
}

/// Where a redirect's target comes from.
#[derive(Debug, Clone)]
pub(crate) enum RedirectFrom {
    Value(Redirect),
    /// Bulk Redirects: the first item of list `name` whose source matches field `key`.
    List {
        name: String,
        key: String,
    },
}

/// A header operation of `rewrite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderOperation {
    Set,
    Add,
    Remove,
}

#[derive(Debug, Clone)]
pub(crate) struct HeaderOp {
    pub(crate) name: String,
    pub(crate) operation: HeaderOperation,
    pub(crate) value: Text,
}

/// `rewrite`: URI path and query, and request or response headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rewrite {
    pub(crate) path: Option<Text>,
    pub(crate) query: Option<Text>,
    pub(crate) headers: Vec<HeaderOp>,
}

/// A rule's action with its parameters, compiled.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Ends the request with the custom response's status, else 403.
    Block {
        status: i64,
    },
    Challenge(Challenge),
    Skip(Box<Skip>),
    Execute {
        id: String,
        overrides: Box<Overrides>,
    },
    /// A Single Redirect (`from_value`) or a Bulk Redirect (`from_list`); `None` only when
    /// the parameters were unusable (already reported).
    Redirect(Option<Box<RedirectFrom>>),
    Rewrite(Box<Rewrite>),
    /// Ends the request with this status, else the response's (response phases), else 500.
    ServeError {
        status: Option<i64>,
    },
    Log,
    /// An action the offline engine traces but whose effect it does not model (set_config,
    /// route, score, set_cache_settings, compress_response, …).
    Passive(String),
}

const SKIP_KEYS: &[&str] = &[
    "ruleset", "phase", "phases", "products", "rulesets", "rules",
];

impl Action {
    /// The action's API name, as traces and suites spell it.
    pub(crate) fn name(&self) -> &str {
        match self {
            Action::Block { .. } => "block",
            Action::Challenge(Challenge::Interactive) => "challenge",
            Action::Challenge(Challenge::Js) => "js_challenge",
            Action::Challenge(Challenge::Managed) => "managed_challenge",
            Action::Skip(_) => "skip",
            Action::Execute { .. } => "execute",
            Action::Redirect(_) => "redirect",
            Action::Rewrite(_) => "rewrite",
            Action::ServeError { .. } => "serve_error",
            Action::Log => "log",
            Action::Passive(name) => name,
        }
    }

    /// The action `name` with no parameters (an override's action).
    pub(crate) fn bare(name: &str) -> Action {
        Action::parse(name, &Value::Null, &mut Quiet)
    }

    /// Reads `name` and its `action_parameters`, reporting problems to `sink`.
    pub(crate) fn parse(name: &str, p: &Value, sink: &mut dyn Sink) -> Action {
        match name {
            "block" => Action::Block {
                status: block_status(p, sink),
            },
            "challenge" => Action::Challenge(Challenge::Interactive),
            "js_challenge" => Action::Challenge(Challenge::Js),
            "managed_challenge" => Action::Challenge(Challenge::Managed),
            "log" => Action::Log,
            "skip" => Action::Skip(Box::new(skip(p, sink))),
            "execute" => match p.get("id").and_then(Value::as_str) {
                Some(id) => Action::Execute {
                    id: id.to_string(),
                    overrides: Box::new(overrides(p.get("overrides"))),
                },
                None => {
                    sink.error(
                        "execute needs action_parameters.id".into(),
                        Some("the id of the ruleset to run"),
                    );
                    Action::Execute {
                        id: String::new(),
                        overrides: Box::default(),
                    }
                }
            },
            "redirect" => Action::Redirect(redirect(p, sink).map(Box::new)),
            "rewrite" => Action::Rewrite(Box::new(rewrite(p, sink))),
            "serve_error" => {
                let status = p.get("status_code").and_then(Value::as_i64);
                if let Some(s) = status
                    && !(400..=999).contains(&s)
                {
                    sink.error(
                        format!("serve_error status_code {s} must be 400..=999"),
                        None,
                    );
                }
                Action::ServeError { status }
            }
            other => Action::Passive(other.to_string()),
        }
    }
}

fn block_status(p: &Value, sink: &mut dyn Sink) -> i64 {
    let Some(r) = p.get("response") else {
        return 403;
    };
    let status = r.get("status_code").and_then(Value::as_i64);
    if !status.is_some_and(|s| (400..=499).contains(&s)) {
        sink.error("block response.status_code must be 400..=499".into(), None);
    }
    let ct = r.get("content_type").and_then(Value::as_str).unwrap_or("");
    if !["text/html", "text/plain", "application/json", "text/xml"].contains(&ct) {
        sink.error(
            format!("block response.content_type `{ct}` is not allowed"),
            Some("use text/html, text/plain, application/json or text/xml"),
        );
    }
    status.unwrap_or(403)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

fn skip(p: &Value, sink: &mut dyn Sink) -> Skip {
    let empty = serde_json::Map::new();
    let obj = p.as_object().unwrap_or(&empty);
    if obj.is_empty() {
        sink.error(
            "skip needs action_parameters".into(),
            Some("one of ruleset, phase, phases, products, rulesets, rules"),
        );
    }
    let mut out = Skip::default();
    for (k, v) in obj {
        let ok = match k.as_str() {
            "ruleset" => {
                out.ruleset = v == "current";
                out.ruleset
            }
            "phase" => {
                out.phase = v == "current";
                out.phase
            }
            "phases" => {
                out.phases = strings(v);
                v.as_array()
                    .is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(phases::is_known)))
            }
            "products" => {
                out.products = strings(v);
                v.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|x| x.as_str().is_some_and(|s| phases::PRODUCTS.contains(&s)))
                })
            }
            "rulesets" => {
                out.rulesets = strings(v);
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }
            "rules" => {
                if let Some(o) = v.as_object() {
                    out.rules = o.iter().map(|(k, ids)| (k.clone(), strings(ids))).collect();
                }
                v.as_object().is_some_and(|o| {
                    o.values()
                        .all(|x| x.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
                })
            }
            _ => {
                let hint = suggestion(k, SKIP_KEYS.iter().copied()).unwrap_or_default();
                sink.error(
                    format!("unknown skip parameter `{k}`"),
                    Some(hint.as_str()).filter(|h| !h.is_empty()),
                );
                true
            }
        };
        if !ok {
            sink.error(
                format!("skip parameter `{k}` has the wrong shape"),
                Some("ruleset/phase: \"current\"; phases, products, rulesets: arrays of names; rules: {ruleset_id: [rule_id]}"),
            );
        }
    }
    if obj.contains_key("ruleset") && (obj.contains_key("rulesets") || obj.contains_key("rules")) {
        sink.error(
            "skip `ruleset` cannot be combined with `rulesets` or `rules`".into(),
            None,
        );
    }
    out
}

fn overrides(v: Option<&Value>) -> Overrides {
    let Some(v) = v else {
        return Overrides::default();
    };
    let action = |x: &Value| x.get("action").and_then(Value::as_str).map(Action::bare);
    let enabled = |x: &Value| x.get("enabled").and_then(Value::as_bool);
    let text = |x: &Value, k: &str| x.get(k).and_then(Value::as_str).map(String::from);
    Overrides {
        action: action(v),
        enabled: enabled(v),
        categories: v
            .get("categories")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| Some((text(c, "category")?, action(c), enabled(c))))
                    .collect()
            })
            .unwrap_or_default(),
        rules: v
            .get("rules")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((text(r, "id")?, (action(r), enabled(r)))))
                    .collect()
            })
            .unwrap_or_default(),
        thresholds: v
            .get("rules")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((text(r, "id")?, r.get("score_threshold")?.as_i64()?)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A `{value}` or `{expression}` object; exactly one must be given.
fn text(x: &Value, what: &str, sink: &mut dyn Sink) -> (Text, bool) {
    let value = x.get("value").and_then(Value::as_str).map(String::from);
    let expr = x.get("expression").and_then(Value::as_str);
    let one = value.is_some() != expr.is_some();
    let expression = expr.and_then(|e| sink.value_expr(what, e));
    (Text { value, expression }, one)
}

fn redirect(p: &Value, sink: &mut dyn Sink) -> Option<RedirectFrom> {
    let Some(fv) = p.get("from_value") else {
        let Some(fl) = p.get("from_list") else {
            sink.error("redirect needs from_value or from_list".into(), None);
            return None;
        };
        let Some(name) = fl.get("name").and_then(Value::as_str) else {
            sink.error(
                "redirect from_list needs the list's `name`".into(),
                Some("e.g. {\"name\": \"redirects\", \"key\": \"http.request.full_uri\"}"),
            );
            return None;
        };
        let key = fl
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or("http.request.full_uri");
        return Some(RedirectFrom::List {
            name: name.to_string(),
            key: key.to_string(),
        });
    };
    let (target, one) = match fv.get("target_url") {
        Some(t) => text(t, "target_url", sink),
        None => (Text::default(), false),
    };
    if !one {
        sink.error(
            "redirect from_value.target_url needs exactly one of value and expression".into(),
            None,
        );
    }
    let status = fv.get("status_code").and_then(Value::as_i64).unwrap_or(301);
    if ![301, 302, 303, 307, 308].contains(&status) {
        sink.error(
            format!("redirect status_code {status} is not one of 301, 302, 303, 307, 308"),
            None,
        );
    }
    Some(RedirectFrom::Value(Redirect {
        target,
        status,
        preserve_query: fv
            .get("preserve_query_string")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }))
}

fn rewrite(p: &Value, sink: &mut dyn Sink) -> Rewrite {
    let mut rw = Rewrite::default();
    for key in ["path", "query"] {
        let Some(x) = p.get("uri").and_then(|u| u.get(key)) else {
            continue;
        };
        let (t, one) = text(x, key, sink);
        if !one {
            sink.error(
                format!("rewrite uri.{key} needs exactly one of value and expression"),
                None,
            );
        }
        if key == "path" {
            rw.path = Some(t);
        } else {
            rw.query = Some(t);
        }
    }
    if let Some(h) = p.get("headers").and_then(Value::as_object) {
        for (name, spec) in h {
            let op = spec.get("operation").and_then(Value::as_str).unwrap_or("");
            let operation = match op {
                "set" => HeaderOperation::Set,
                "add" => HeaderOperation::Add,
                "remove" => HeaderOperation::Remove,
                _ => {
                    sink.error(
                        format!("header `{name}`: operation `{op}` is not set, add or remove"),
                        None,
                    );
                    HeaderOperation::Set
                }
            };
            let value = Text {
                value: spec.get("value").and_then(Value::as_str).map(String::from),
                expression: spec
                    .get("expression")
                    .and_then(Value::as_str)
                    .and_then(|e| sink.value_expr(name, e)),
            };
            rw.headers.push(HeaderOp {
                name: name.clone(),
                operation,
                value,
            });
        }
    }
    if p.get("uri").is_none() && p.get("headers").is_none() {
        sink.error("rewrite needs uri or headers".into(), None);
    }
    rw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl Sink for Collect {
        fn error(&mut self, message: String, _: Option<&str>) {
            self.0.push(message);
        }
        fn value_expr(&mut self, _: &str, e: &str) -> Option<ValueProgram> {
            crate::rules::compile_value(e, &crate::rules::Lists::new()).ok()
        }
    }

    fn parse(name: &str, p: &str) -> (Action, Vec<String>) {
        let mut sink = Collect::default();
        let a = Action::parse(name, &serde_json::from_str(p).unwrap(), &mut sink);
        (a, sink.0)
    }

    #[test]
    fn block_reads_its_status_once() {
        let (a, errs) = parse(
            "block",
            r#"{"response": {"status_code": 429, "content_type": "text/plain", "content": "x"}}"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert!(matches!(a, Action::Block { status: 429 }));
        assert!(matches!(
            parse("block", "null").0,
            Action::Block { status: 403 }
        ));
    }

    #[test]
    fn execute_overrides_are_typed() {
        let (a, errs) = parse(
            "execute",
            r#"{"id": "abc", "overrides": {"action": "log", "categories": [{"category": "wp", "enabled": false}], "rules": [{"id": "r1", "action": "block"}]}}"#,
        );
        assert!(errs.is_empty());
        let Action::Execute { id, overrides } = a else {
            panic!("not execute")
        };
        assert_eq!(id, "abc");
        assert_eq!(overrides.action.as_ref().map(Action::name), Some("log"));
        assert_eq!(overrides.categories[0].2, Some(false));
        assert_eq!(
            overrides.rules["r1"].0.as_ref().map(Action::name),
            Some("block")
        );
    }

    #[test]
    fn bad_parameters_are_reported() {
        assert_eq!(
            parse("skip", r#"{"rulset": "current"}"#).1,
            ["unknown skip parameter `rulset`"]
        );
        assert_eq!(
            parse(
                "redirect",
                r#"{"from_value": {"target_url": {}, "status_code": 300}}"#
            )
            .1,
            [
                "redirect from_value.target_url needs exactly one of value and expression",
                "redirect status_code 300 is not one of 301, 302, 303, 307, 308"
            ]
        );
        assert_eq!(parse("serve_error", r#"{"status_code": 200}"#).1.len(), 1);
    }

    #[test]
    fn names_round_trip() {
        for n in [
            "block",
            "challenge",
            "js_challenge",
            "managed_challenge",
            "skip",
            "execute",
            "redirect",
            "rewrite",
            "serve_error",
            "log",
            "set_config",
            "route",
        ] {
            assert_eq!(Action::bare(n).name(), n);
        }
    }
}

//! Why a filter is true or false for a request: its syntax tree with every condition's value
//! and the field values it read. Each node is evaluated on its own (compiled from its subtree)
//! against the request's context, so the answer is the engine's own; it is computed on demand
//! (`rulegate explain`), never during an ordinary run.

use serde::Serialize;

use super::ast::{self, Expr, ExprKind, LogicOp, Rhs, Shape};
use super::{Context, Filter, Lists, ParseLimits, parse_filter};

/// Longest value shown before it is cut (with its length).
const MAX_VALUE: usize = 80;

/// One node of an explained filter.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Node {
    /// `and`, `or`, `xor`, `not`, or the condition as canonical Rules-language text.
    pub(crate) text: String,
    /// The node's value; `null` inside `any(…)`/`all(…)`, where a value is per element.
    pub(crate) value: Option<bool>,
    /// Whether this operand decided its `and`/`or` (the first false of an `and`, the first
    /// true of an `or`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) decided: bool,
    /// The fields this condition read, with their values (`missing` when unset).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) reads: Vec<(String, String)>,
    /// The named list a membership test used, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) list: Option<String>,
    /// The list item that matched, with where it is (`suites/lists/office.json:7: 192.0.2.0/24`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) item: Option<String>,
    /// A membership test's left side's value: what the item is looked up by.
    #[serde(skip)]
    pub(crate) probe: Option<super::Value>,
    /// In `any(…[*]…)` / `all(…[*]…)`: the element that decided (`[2] = "x-debug"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) element: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) children: Vec<Node>,
}

/// The explained filter `src`; `None` when it does not parse (a project that loaded parses).
pub(crate) fn explain(src: &str, lists: &Lists, ctx: &Context) -> Option<Node> {
    let e = parse_filter(src, lists, &ParseLimits::default()).ok()?;
    Some(node(&e, ctx))
}

fn value_of(e: &Expr, ctx: &Context) -> Option<bool> {
    (e.shape == Shape::Bool).then(|| Filter::new(e).execute(ctx))
}

/// A field value as one short line.
fn shown(v: Option<&super::Value>) -> String {
    let Some(v) = v else {
        return "missing".to_string();
    };
    let text = match v.to_json() {
        serde_json::Value::String(s) => serde_json::to_string(&s).unwrap_or_default(),
        other => other.to_string(),
    };
    let text = crate::escape::visible(&text).into_owned();
    if text.chars().count() > MAX_VALUE {
        let cut: String = text.chars().take(MAX_VALUE).collect();
        format!("{cut}… ({} characters)", text.chars().count())
    } else {
        text
    }
}

fn reads(e: &Expr, ctx: &Context) -> Vec<(String, String)> {
    struct Fields(Vec<super::FieldId>);
    impl ast::Visitor for Fields {
        fn visit_lhs(&mut self, l: &ast::Lhs) {
            if let ast::Base::Field(id) = &l.base
                && !self.0.contains(id)
            {
                self.0.push(*id);
            }
            ast::walk_lhs(self, l);
        }
    }
    let mut f = Fields(Vec::new());
    ast::Visitor::visit_expr(&mut f, e);
    let mut out: Vec<(String, String)> =
        f.0.into_iter()
            .map(|id| (id.name().to_string(), shown(ctx.get(id))))
            .collect();
    out.extend(call_results(e, ctx));
    out
}

/// Each function call in `e` (outside `[*]`) with its result, innermost last; not the call
/// that is `e` itself (a Bool call's result is the node's value).
fn call_results(e: &Expr, ctx: &Context) -> Vec<(String, String)> {
    struct Calls(Vec<ast::Lhs>);
    impl ast::Visitor for Calls {
        fn visit_call(&mut self, at: &ast::Lhs, call: &ast::Call) {
            if !at.each && !self.0.contains(at) {
                self.0.push(at.clone());
            }
            ast::walk_call(self, call);
        }
    }
    let mut c = Calls(Vec::new());
    ast::Visitor::visit_expr(&mut c, e);
    let own = match &e.kind {
        ExprKind::Bare(l) => Some(l),
        _ => None,
    };
    c.0.into_iter()
        .filter(|l| Some(l) != own)
        .map(|l| {
            let text = l.to_string();
            let v = super::ValueProgram::new(&ast::ValueExpr::Lhs(l)).eval(ctx);
            (text, shown(v.as_ref()))
        })
        .collect()
}

fn node(e: &Expr, ctx: &Context) -> Node {
    let value = value_of(e, ctx);
    let mut n = Node {
        text: String::new(),
        value,
        decided: false,
        reads: Vec::new(),
        list: None,
        item: None,
        probe: None,
        element: None,
        children: Vec::new(),
    };
    match &e.kind {
        ExprKind::Logical(op, xs) => {
            n.text = match op {
                LogicOp::And => "and",
                LogicOp::Or => "or",
                LogicOp::Xor => "xor",
            }
            .to_string();
            n.children = xs.iter().map(|x| node(x, ctx)).collect();
            // Short-circuit: the operand that settled the result.
            let decider = match op {
                LogicOp::And => Some(false),
                LogicOp::Or => Some(true),
                LogicOp::Xor => None,
            };
            if let Some(want) = decider
                && let Some(c) = n.children.iter_mut().find(|c| c.value == Some(want))
            {
                c.decided = true;
            }
        }
        ExprKind::Not(x) => {
            n.text = "not".to_string();
            n.children = vec![node(x, ctx)];
        }
        ExprKind::Quant { all, arg } => {
            n.text = e.to_string();
            n.reads = reads(e, ctx);
            n.element = deciding_element(e, *all, arg, ctx);
        }
        ExprKind::Cmp(_, _, rhs) => {
            n.text = e.to_string();
            n.reads = reads(e, ctx);
            if let Rhs::List(l) = rhs {
                n.list = Some(format!("${}", l.name));
                if let ExprKind::Cmp(lhs, _, _) = &e.kind
                    && !lhs.each
                {
                    n.probe = super::ValueProgram::new(&ast::ValueExpr::Lhs(lhs.clone())).eval(ctx);
                }
            }
        }
        _ => {
            n.text = e.to_string();
            n.reads = reads(e, ctx);
        }
    }
    n
}

/// The one field an `any`/`all` argument maps over with `[*]`, when there is exactly one
/// and it is an array indexed by `[*]` alone (`None` key) or a map's values under one key
/// (`headers["x-a"][*]`).
fn each_field(arg: &Expr) -> Option<(super::FieldId, Option<Vec<u8>>)> {
    type Seen = (super::FieldId, Option<Option<Vec<u8>>>);
    struct Each(Vec<Seen>);
    impl ast::Visitor for Each {
        fn visit_lhs(&mut self, l: &ast::Lhs) {
            if let ast::Base::Field(id) = &l.base
                && l.each
            {
                let shape = match l.index.as_slice() {
                    [ast::Index::Each] => Some(None),
                    [ast::Index::Key(k), ast::Index::Each] => Some(Some(k.clone())),
                    _ => None,
                };
                self.0.push((*id, shape));
            }
            ast::walk_lhs(self, l);
        }
    }
    let mut each = Each(Vec::new());
    ast::Visitor::visit_expr(&mut each, arg);
    match each.0.as_slice() {
        [(id, Some(key))] => Some((*id, key.clone())),
        _ => None,
    }
}

/// The element that decided `any` (the first that makes it true) or `all` (the first that
/// makes it false): the node evaluated with the array (or the map's values under the key)
/// cut down to each element in turn.
fn deciding_element(e: &Expr, all: bool, arg: &Expr, ctx: &Context) -> Option<String> {
    let (id, key) = each_field(arg)?;
    let whole = ctx.get(id)?;
    let items = match (&key, whole) {
        (None, super::Value::Array(items)) => items,
        (Some(k), super::Value::Map(m)) => match m.get(k)? {
            super::Value::Array(items) => items,
            _ => return None,
        },
        _ => return None,
    };
    let filter = Filter::new(e);
    items.iter().enumerate().find_map(|(i, item)| {
        let one_item = super::Value::Array(vec![item.clone()]);
        let cut = match (&key, whole) {
            (Some(k), super::Value::Map(m)) => {
                let mut m = m.clone();
                m.insert(k.clone(), one_item);
                super::Value::Map(m)
            }
            _ => one_item,
        };
        let mut one = ctx.clone();
        one.set_field(id, cut).ok()?;
        let label = match &key {
            Some(k) => format!(
                "[{}][{i}]",
                serde_json::to_string(&String::from_utf8_lossy(k)).unwrap_or_default()
            ),
            None => format!("[{i}]"),
        };
        (filter.execute(&one) != all).then(|| format!("{label} = {}", shown(Some(item))))
    })
}

/// The tree as indented lines: text, value, and what it read.
pub(crate) fn render(n: &Node, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let value = match n.value {
        Some(true) => "true",
        Some(false) => "false",
        None => "per element",
    };
    let mark = if n.decided { " ←" } else { "" };
    let text = crate::escape::visible(&n.text);
    let mut line = format!("{pad}{text:<48} {value}{mark}");
    if !n.reads.is_empty() {
        let r: Vec<String> = n.reads.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        line.push_str(&format!("    {}", r.join(", ")));
    }
    match (&n.list, &n.item) {
        (Some(l), Some(item)) => line.push_str(&format!(
            " (list {}: {})",
            crate::escape::visible(l),
            crate::escape::visible(item)
        )),
        (Some(l), None) => line.push_str(&format!(" (list {})", crate::escape::visible(l))),
        _ => {}
    }
    if let Some(el) = &n.element {
        line.push_str(&format!(" (decided by element {el})"));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for c in &n.children {
        render(c, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(fields: serde_json::Value) -> Context {
        let req = crate::trace::TraceRequest {
            method: "GET".into(),
            url: "https://Shop.example/Admin/users".into(),
            ..Default::default()
        };
        super::super::request::context(&req, fields.as_object()).unwrap()
    }

    #[test]
    fn each_condition_has_its_value_and_the_decider_is_marked() {
        let c = ctx(serde_json::json!({"ip.src": "203.0.113.50"}));
        let n = explain(
            r#"starts_with(http.request.uri.path, "/admin") and not ip.src in {192.0.2.0/24}"#,
            &Lists::open(),
            &c,
        )
        .unwrap();
        assert_eq!(n.text, "and");
        assert_eq!(n.value, Some(false));
        // Case-sensitive: the path is /Admin/users.
        let first = &n.children[0];
        assert_eq!(first.value, Some(false));
        assert!(first.decided);
        assert_eq!(
            first.reads,
            vec![(
                "http.request.uri.path".to_string(),
                "\"/Admin/users\"".to_string()
            )]
        );
        assert_eq!(n.children[1].text, "not");
        assert_eq!(n.children[1].value, Some(true));
        let mut out = String::new();
        render(&n, 0, &mut out);
        assert!(
            out.contains("http.request.uri.path = \"/Admin/users\""),
            "{out}"
        );
        assert!(out.contains("false ←"), "{out}");
    }

    #[test]
    fn any_names_the_element_that_decided() {
        let req = crate::trace::TraceRequest {
            method: "GET".into(),
            url: "https://a.example/".into(),
            headers: [("accept", "*/*"), ("x-debug", "1"), ("x-other", "2")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let c = super::super::request::context(&req, None).unwrap();
        let n = explain(
            r#"any(http.request.headers.names[*] eq "x-debug")"#,
            &Lists::open(),
            &c,
        )
        .unwrap();
        assert_eq!(n.value, Some(true));
        let el = n.element.as_deref().unwrap();
        assert!(el.ends_with("= \"x-debug\""), "{el}");
        let n = explain(
            r#"all(http.request.headers.names[*] ne "x-other")"#,
            &Lists::open(),
            &c,
        )
        .unwrap();
        assert_eq!(n.value, Some(false));
        assert!(n.element.as_deref().unwrap().ends_with("= \"x-other\""));
    }

    #[test]
    fn any_over_a_maps_values_names_the_key_and_element() {
        let req = crate::trace::TraceRequest {
            method: "GET".into(),
            url: "https://a.example/?q=1&q=UNION&q=3".into(),
            ..Default::default()
        };
        let c = super::super::request::context(&req, None).unwrap();
        let n = explain(
            r#"any(lower(http.request.uri.args["q"][*])[*] contains "union")"#,
            &Lists::open(),
            &c,
        )
        .unwrap();
        assert_eq!(n.value, Some(true));
        assert_eq!(n.element.as_deref(), Some(r#"["q"][1] = "UNION""#));
        let n = explain(
            r#"all(http.request.uri.args["q"][*] ne "3")"#,
            &Lists::open(),
            &c,
        )
        .unwrap();
        assert_eq!(n.value, Some(false));
        assert_eq!(n.element.as_deref(), Some(r#"["q"][2] = "3""#));
    }

    #[test]
    fn functions_show_their_result() {
        let c = ctx(serde_json::json!({}));
        let n = explain(
            r#"lower(http.request.uri.path) eq "/admin/users" and starts_with(lower(http.host), "shop.")"#,
            &Lists::open(),
            &c,
        )
        .unwrap();
        assert_eq!(n.value, Some(true));
        assert!(
            n.children[0].reads.contains(&(
                "lower(http.request.uri.path)".into(),
                "\"/admin/users\"".into()
            )),
            "{:?}",
            n.children[0].reads
        );
        // The Bool call is the node's own value; the call inside it shows its result.
        let inner = &n.children[1].reads;
        assert!(
            inner.contains(&("lower(http.host)".into(), "\"shop.example\"".into())),
            "{inner:?}"
        );
        assert!(
            !inner.iter().any(|(k, _)| k.starts_with("starts_with(")),
            "{inner:?}"
        );
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let long = "a".repeat(500);
        let c = ctx(serde_json::json!({"http.user_agent": long}));
        let n = explain(r#"http.user_agent contains "bot""#, &Lists::open(), &c).unwrap();
        assert!(n.reads[0].1.ends_with("(502 characters)"), "{:?}", n.reads);
    }
}

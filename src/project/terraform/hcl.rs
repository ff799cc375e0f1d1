//! The HCL route: the `*.tf` files of a root module (and of local modules it calls with
//! `source = "./…"`), read with hcl-rs and evaluated statically: string literals and heredocs,
//! `var.*` (defaults, `terraform.tfvars`, `*.auto.tfvars`, `TF_VAR_name`), `local.*`, the
//! common functions, `dynamic` blocks, and `for_each` / `count` over known collections.
//! References to `cloudflare_ruleset` and `cloudflare_list` resources resolve to their
//! addresses (their ids before apply). Anything else (data sources, other providers'
//! attributes, unknown functions) is an error at the resource that names the plan route.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::Context;
use hcl::{Block, Body, Expression, Value};
use serde_json::Value as J;

use super::Found;
use super::eval::{NO_VALUE, UNKNOWN, eval, unknown_in, why_unknown};
use super::functions::{context_with_functions, s, to_json};
use crate::diag::{Diagnostic, Pos, Report};

/// A resource block of a module, where it stands, and its module's address prefix.
struct Resource {
    kind: String,
    name: String,
    body: Body,
    file: PathBuf,
    /// Byte offset of the `resource` header in its file.
    at: usize,
    prefix: String,
}

/// What a module's files declare.
#[derive(Default)]
struct Module {
    variables: BTreeMap<String, Option<Expression>>,
    /// Variables' `type` constraints (for `optional(T, default)` and conversions).
    types: BTreeMap<String, Expression>,
    locals: Vec<(String, Expression, PathBuf, usize)>,
    resources: Vec<Resource>,
    calls: Vec<(String, Body, PathBuf, usize)>,
    outputs: Vec<(String, Expression)>,
    /// Every resource type the module declares (of any provider): their attributes are
    /// computed at apply, unknown here, except what [`resource_refs`] knows.
    kinds: std::collections::BTreeSet<String>,
}

fn tf_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A byte offset that was not found in its file: no position.
const NOT_FOUND: usize = usize::MAX;

/// Where the block `kind "a" "b"` starts in `text` (for positions); [`NOT_FOUND`] when not
/// found (a block at byte 0 is found at 0).
fn header_offset(text: &str, kind: &str, labels: &[&str]) -> usize {
    let mut from = 0;
    while let Some(i) = text[from..].find(kind) {
        let at = from + i;
        let rest = &text[at + kind.len()..];
        let mut ok = true;
        let mut r = rest;
        for l in labels {
            let t = r.trim_start();
            let quoted = format!("\"{l}\"");
            if let Some(x) = t.strip_prefix(&quoted) {
                r = x;
            } else {
                ok = false;
                break;
            }
        }
        if ok && (at == 0 || text.as_bytes()[at - 1].is_ascii_whitespace()) {
            return at;
        }
        from = at + kind.len();
    }
    NOT_FOUND
}

/// Brings a parsed body to what Terraform reads. hcl-rs keeps the escapes of a quoted
/// template's text raw inside `%{ … }` directives (`\"` stays a backslash and a quote), where
/// Terraform reads them as escapes: such templates are unescaped. And an object literal keeps
/// its written order in hcl-rs, where Terraform iterates objects in lexical order of their
/// keys (rules built by a `for` over `{ b = …, a = … }` deploy `a` first): entries whose keys
/// are literal are sorted.
fn read_as_terraform(body: &mut Body) {
    fn unescape(raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        }
        out
    }
    fn expr(e: &mut Expression) {
        use hcl::expr::{Operation, TemplateExpr, TraversalOperator};
        match e {
            Expression::TemplateExpr(t) => {
                if let TemplateExpr::QuotedString(raw) = t.as_mut()
                    && raw.contains("%{")
                    && raw.contains('\\')
                {
                    *raw = unescape(raw);
                }
            }
            Expression::Array(items) => items.iter_mut().for_each(expr),
            Expression::Object(o) => {
                o.values_mut().for_each(expr);
                sort_literal_keys(o);
            }
            Expression::Traversal(t) => {
                expr(&mut t.expr);
                for op in &mut t.operators {
                    if let TraversalOperator::Index(i) = op {
                        expr(i);
                    }
                }
            }
            Expression::FuncCall(f) => f.args.iter_mut().for_each(expr),
            Expression::Parenthesis(p) => expr(p),
            Expression::Conditional(c) => {
                expr(&mut c.cond_expr);
                expr(&mut c.true_expr);
                expr(&mut c.false_expr);
            }
            Expression::Operation(op) => match op.as_mut() {
                Operation::Unary(u) => expr(&mut u.expr),
                Operation::Binary(b) => {
                    expr(&mut b.lhs_expr);
                    expr(&mut b.rhs_expr);
                }
            },
            Expression::ForExpr(f) => {
                expr(&mut f.collection_expr);
                if let Some(k) = &mut f.key_expr {
                    expr(k);
                }
                expr(&mut f.value_expr);
                if let Some(c) = &mut f.cond_expr {
                    expr(c);
                }
            }
            _ => {}
        }
    }
    for a in body.attributes_mut() {
        expr(&mut a.expr);
    }
    for b in body.blocks_mut() {
        read_as_terraform(&mut b.body);
    }
}

/// Sorts an object literal's entries by key when every key is literal (an identifier or a
/// plain string); computed keys keep the written order.
fn sort_literal_keys(o: &mut hcl::expr::Object<hcl::expr::ObjectKey, Expression>) {
    use hcl::expr::{ObjectKey, TemplateExpr};
    fn literal(k: &ObjectKey) -> Option<String> {
        match k {
            ObjectKey::Identifier(i) => Some(i.as_str().to_string()),
            ObjectKey::Expression(Expression::String(s)) => Some(s.clone()),
            ObjectKey::Expression(Expression::TemplateExpr(t)) => match t.as_ref() {
                TemplateExpr::QuotedString(s) if !s.contains("${") && !s.contains("%{") => {
                    Some(s.clone())
                }
                _ => None,
            },
            _ => None,
        }
    }
    let keys: Option<Vec<String>> = o.keys().map(literal).collect();
    let Some(keys) = keys else { return };
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut entries: Vec<(String, ObjectKey, Expression)> = std::mem::take(o)
        .into_iter()
        .zip(keys)
        .map(|((k, v), name)| (name, k, v))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, k, v) in entries {
        o.insert(k, v);
    }
}

fn parse_module(
    dir: &Path,
    prefix: &str,
    confine: &crate::confine::Confine,
    report: &mut Report,
    out: &mut Module,
) {
    for file in tf_files(dir, ".tf") {
        if let Err(why) = confine.check(&file) {
            report.push(Diagnostic::new(&file, None, why).hint(crate::confine::HINT));
            continue;
        }
        let text = match crate::diag::read_text(&file) {
            Ok(t) => t,
            Err(d) => {
                report.push(d);
                continue;
            }
        };
        let body = match hcl::parse(&text) {
            Ok(mut b) => {
                read_as_terraform(&mut b);
                b
            }
            Err(e) => {
                let pos = match &e {
                    hcl::Error::Parse(p) => {
                        Some(Pos::new(p.location().line(), p.location().column(), 1))
                    }
                    _ => None,
                };
                report.sources.insert(file.clone(), text);
                report.push(Diagnostic::new(
                    &file,
                    pos,
                    format!("invalid HCL: {}", first_line(&e.to_string())),
                ));
                continue;
            }
        };
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(hcl::BlockLabel::as_str).collect();
            let at = header_offset(&text, block.identifier(), &labels);
            match (block.identifier(), labels.as_slice()) {
                ("variable", [name]) => {
                    let attr = |k: &str| {
                        block
                            .body()
                            .attributes()
                            .find(|a| a.key() == k)
                            .map(|a| a.expr.clone())
                    };
                    out.variables.insert((*name).to_string(), attr("default"));
                    if let Some(t) = attr("type") {
                        out.types.insert((*name).to_string(), t);
                    }
                }
                ("locals", []) => {
                    for a in block.body().attributes() {
                        out.locals
                            .push((a.key().to_string(), a.expr.clone(), file.clone(), at));
                    }
                }
                ("resource", [kind, _]) if !kind.starts_with("cloudflare_") => {
                    out.kinds.insert((*kind).to_string());
                }
                ("resource", [kind, name]) => {
                    out.kinds.insert((*kind).to_string());
                    out.resources.push(Resource {
                        kind: (*kind).to_string(),
                        name: (*name).to_string(),
                        body: block.body().clone(),
                        file: file.clone(),
                        at,
                        prefix: prefix.to_string(),
                    });
                }
                ("output", [name]) => {
                    if let Some(v) = block.body().attributes().find(|a| a.key() == "value") {
                        out.outputs.push(((*name).to_string(), v.expr.clone()));
                    }
                }
                ("module", [name]) => {
                    out.calls
                        .push(((*name).to_string(), block.body().clone(), file.clone(), at));
                }
                _ => {}
            }
        }
        report.sources.insert(file, text);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s)
}

// ---- evaluation ------------------------------------------------------------------------

/// A body as JSON: attributes evaluated, blocks grouped by name into lists (as v4's JSON
/// has them), `dynamic` blocks expanded over their `for_each`.
fn body_json(body: &Body, ctx: &Context) -> Result<J, String> {
    let mut out = serde_json::Map::new();
    for a in body.attributes() {
        check_nesting(&a.expr.to_string()).map_err(|why| format!("`{}`: {why}", a.key()))?;
        let v = eval(&a.expr, ctx).map_err(|e| format!("`{}`: {e}", a.key()))?;
        check_size(&v).map_err(|why| format!("`{}`: {why}", a.key()))?;
        out.insert(a.key().to_string(), to_json(&v));
    }
    for b in body.blocks() {
        if b.identifier() == "dynamic" {
            let name = b
                .labels()
                .first()
                .map(|l| l.as_str().to_string())
                .unwrap_or_default();
            for item in dynamic_items(b, &name, ctx)? {
                push_block(&mut out, &name, item);
            }
        } else {
            let v = body_json(b.body(), ctx)?;
            push_block(&mut out, b.identifier(), v);
        }
    }
    Ok(J::Object(out))
}

fn push_block(out: &mut serde_json::Map<String, J>, name: &str, v: J) {
    match out
        .entry(name.to_string())
        .or_insert_with(|| J::Array(Vec::new()))
    {
        J::Array(a) => a.push(v),
        other => *other = J::Array(vec![v]),
    }
}

/// The blocks a `dynamic "NAME" { for_each = …; content { … } }` stands for.
fn dynamic_items(b: &Block, name: &str, ctx: &Context) -> Result<Vec<J>, String> {
    let body = b.body();
    let iterator = body
        .attributes()
        .find(|a| a.key() == "iterator")
        .and_then(|a| match &a.expr {
            Expression::Variable(v) => Some(v.as_str().to_string()),
            _ => None,
        })
        .unwrap_or_else(|| name.to_string());
    let for_each = eval(
        &body
            .attributes()
            .find(|a| a.key() == "for_each")
            .ok_or_else(|| format!("dynamic \"{name}\" has no for_each"))?
            .expr,
        ctx,
    )
    .map_err(|e| format!("dynamic \"{name}\" for_each: {e}"))?;
    if let Some(u) = unknown_in(&for_each) {
        return Err(format!(
            "dynamic \"{name}\" for_each depends on a value rulegate cannot know: {}; Terraform too must know it to plan",
            why_unknown(&u)
        ));
    }
    let content = body
        .blocks()
        .find(|c| c.identifier() == "content")
        .ok_or_else(|| format!("dynamic \"{name}\" has no content block"))?;
    let mut out = Vec::new();
    for (key, value) in entries(&for_each) {
        let mut inner = ctx.clone();
        let mut it = hcl::Map::new();
        it.insert("key".to_string(), key);
        it.insert("value".to_string(), value);
        inner.declare_var(iterator.as_str(), Value::Object(it));
        out.push(body_json(content.body(), &inner)?);
    }
    Ok(out)
}

/// (key, value) pairs of a collection: a map's entries, a list's or set's (index or
/// element, element).
fn entries(v: &Value) -> Vec<(Value, Value)> {
    match v {
        // Terraform walks a map in lexical order of its keys.
        Value::Object(o) => {
            let mut e: Vec<(Value, Value)> = o
                .iter()
                .map(|(k, v)| (Value::from(k.clone()), v.clone()))
                .collect();
            e.sort_by_key(|(k, _)| s(k));
            e
        }
        Value::Array(a) => a.iter().map(|x| (x.clone(), x.clone())).collect(),
        _ => Vec::new(),
    }
}

/// The `count` or `each` variable an instance sees.
type Each = (&'static str, Value);

/// A module instance's key (none, a `count` index, a `for_each` key) and the variable it sees.
type ModuleKey = (Option<Value>, Option<Each>);

/// The instances a module call makes: one (no key), `count` indexes, or `for_each` keys,
/// each with the `count` / `each` variable its arguments see. An error names the attribute.
fn module_keys(body: &Body, ctx: &Context) -> Result<Vec<ModuleKey>, (&'static str, String)> {
    let attr = |k: &str| {
        body.attributes()
            .find(|a| a.key() == k)
            .map(|a| a.expr.clone())
    };
    if let Some(fe) = attr("for_each") {
        let v = known("for_each", eval(&fe, ctx)).map_err(|e| ("for_each", e))?;
        return for_each_entries(&v)
            .map_err(|why| ("for_each", why))
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        let mut each = hcl::Map::new();
                        each.insert("key".to_string(), key.clone());
                        each.insert("value".to_string(), value);
                        (Some(key), Some(("each", Value::Object(each))))
                    })
                    .collect()
            });
    }
    if let Some(count) = attr("count") {
        let n = count_of(&count, ctx).map_err(|why| ("count", why))?;
        return Ok((0..n)
            .map(|i| {
                let mut cm = hcl::Map::new();
                cm.insert("index".to_string(), Value::from(i));
                (Some(Value::from(i)), Some(("count", Value::Object(cm))))
            })
            .collect());
    }
    Ok(vec![(None, None)])
}

/// A `count` or `for_each` value, which Terraform must know to plan: an unknown one is an
/// error naming what it depends on.
fn known(what: &str, v: Result<Value, String>) -> Result<Value, String> {
    let v = v.map_err(|e| format!("{what}: {e}"))?;
    if super::eval::is_unknown(&v) {
        return Err(format!(
            "{what} depends on a value rulegate cannot know: {}; the instances depend on it (give it with --var or a literal, or use the plan route)",
            why_unknown(&v)
        ));
    }
    Ok(v)
}

/// A `count` value: a whole number from 0 to [`MAX_INSTANCES`] (a string of digits converts,
/// as Terraform converts it).
fn count_of(expr: &Expression, ctx: &Context) -> Result<u64, String> {
    let v = known("count", eval(expr, ctx))?;
    let n = match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(t) => t.trim().parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("count is {}, not a whole number", to_json(&v)))?;
    if n > MAX_INSTANCES {
        return Err(format!(
            "count = {n} is more than the {MAX_INSTANCES} instances rulegate evaluates"
        ));
    }
    Ok(n)
}

/// A `for_each` value's (key, value) pairs: a map's entries or a set's strings, as Terraform
/// takes them; anything else (a string, null, a list of non-strings) is an error.
fn for_each_entries(v: &Value) -> Result<Vec<(Value, Value)>, String> {
    let entries = match v {
        Value::Object(_) => entries(v),
        Value::Array(a) if a.iter().all(|x| matches!(x, Value::String(_))) => entries(v),
        other => {
            return Err(format!(
                "for_each is {}, but Terraform takes a map or a set of strings",
                match other {
                    Value::Null => "null".to_string(),
                    Value::String(_) => "a string".to_string(),
                    Value::Array(_) => "a list that holds non-strings".to_string(),
                    x => to_json(x).to_string(),
                }
            ));
        }
    };
    if entries.len() as u64 > MAX_INSTANCES {
        return Err(format!(
            "for_each makes {} instances, more than the {MAX_INSTANCES} rulegate evaluates",
            entries.len()
        ));
    }
    Ok(entries)
}

/// Where attribute `key` of the block starting at byte `at` is written (its name), else `at`.
fn attribute_offset(text: &str, at: usize, key: &str) -> usize {
    if at == NOT_FOUND {
        return at;
    }
    let Some(rest) = text.get(at..) else {
        return at;
    };
    let mut from = 0;
    while let Some(i) = rest[from..].find(key) {
        let start = from + i;
        let before_ok = start == 0
            || rest.as_bytes()[start - 1].is_ascii_whitespace()
            || rest.as_bytes()[start - 1] == b'{';
        let after = rest[start + key.len()..].trim_start();
        if before_ok && after.starts_with('=') && !after.starts_with("==") {
            return at + start;
        }
        from = start + key.len();
    }
    at
}

/// A body's expressions as text (for the references they make).
fn body_text(body: &Body) -> String {
    let mut out = String::new();
    for a in body.attributes() {
        out.push_str(&a.expr.to_string());
        out.push('\n');
    }
    for b in body.blocks() {
        out.push_str(&body_text(b.body()));
    }
    out
}

/// One instance of a resource: its address and the `each` / `count` variable it sees.
type Instance = (String, Option<(&'static str, Value)>);

/// Instances of a resource (`for_each`, `count`, or just one).
fn instances(r: &Resource, ctx: &Context) -> Result<Vec<Instance>, String> {
    let addr = format!("{}{}.{}", r.prefix, r.kind, r.name);
    let attr = |k: &str| {
        r.body
            .attributes()
            .find(|a| a.key() == k)
            .map(|a| a.expr.clone())
    };
    if let Some(fe) = attr("for_each") {
        let v = known("for_each", eval(&fe, ctx))?;
        return Ok(for_each_entries(&v)?
            .into_iter()
            .map(|(key, value)| {
                let mut each = hcl::Map::new();
                each.insert("key".to_string(), key.clone());
                each.insert("value".to_string(), value);
                (
                    format!("{addr}[{}]", to_json(&key)),
                    Some(("each", Value::Object(each))),
                )
            })
            .collect());
    }
    if let Some(count) = attr("count") {
        let n = count_of(&count, ctx)?;
        return Ok((0..n)
            .map(|i| {
                let mut cm = hcl::Map::new();
                cm.insert("index".to_string(), Value::from(i));
                (format!("{addr}[{i}]"), Some(("count", Value::Object(cm))))
            })
            .collect());
    }
    Ok(vec![(addr, None)])
}

/// `data.TYPE.NAME.ATTR…` references in an expression's text, as their chains of names.
fn data_refs(text: &str) -> Vec<Vec<&str>> {
    refs_after(text, "data.", 2)
}

/// References starting with `head` (`data.`, `KIND.`) in a text, as the chains of names
/// after it (at least `min` of them).
fn refs_after<'t>(text: &'t str, head: &str, min: usize) -> Vec<Vec<&'t str>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(head) {
        let at = from + i;
        from = at + head.len();
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b'.'))
        {
            continue;
        }
        let len = text[at..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            .count();
        let chain: Vec<&str> = text[at + head.len()..at + len]
            .trim_end_matches('.')
            .split('.')
            .filter(|p| !p.is_empty())
            .collect();
        if chain.len() >= min {
            out.push(chain);
        }
    }
    out
}

/// What a module's texts reference of its resources (`KIND.NAME.ATTR…`, any provider): each
/// leaf unknown, named by its reference, overlaid with what [`resource_refs`] knows (ids of
/// Cloudflare resources, list names).
fn resource_object(
    texts: &[String],
    kinds: &std::collections::BTreeSet<String>,
    known: BTreeMap<String, hcl::Map<String, Value>>,
) -> hcl::Map<String, Value> {
    let mut root = hcl::Map::new();
    for kind in kinds {
        let head = format!("{kind}.");
        let mut node = hcl::Map::new();
        for t in texts {
            for chain in refs_after(t, &head, 1) {
                let full = format!("{kind}.{}", chain.join("."));
                insert_unknown(&mut node, &chain, &full);
            }
        }
        root.insert(kind.clone(), Value::Object(node));
    }
    for (kind, objs) in known {
        let slot = root
            .entry(kind)
            .or_insert_with(|| Value::Object(hcl::Map::new()));
        overlay(slot, Value::Object(objs));
    }
    root
}

/// `known` laid over `base`: objects merge, anything else replaces.
fn overlay(base: &mut Value, known: Value) {
    match (base, known) {
        (Value::Object(b), Value::Object(k)) => {
            for (key, v) in k {
                match b.get_mut(&key) {
                    Some(slot) => overlay(slot, v),
                    None => {
                        b.insert(key, v);
                    }
                }
            }
        }
        (b, k) => *b = k,
    }
}

fn insert_unknown(node: &mut hcl::Map<String, Value>, chain: &[&str], full: &str) {
    let Some((first, rest)) = chain.split_first() else {
        return;
    };
    if rest.is_empty() {
        node.entry((*first).to_string())
            .or_insert_with(|| Value::from(format!("{UNKNOWN}{full}")));
        return;
    }
    let child = node
        .entry((*first).to_string())
        .or_insert_with(|| Value::Object(hcl::Map::new()));
    if !matches!(child, Value::Object(_)) {
        *child = Value::Object(hcl::Map::new());
    }
    if let Value::Object(o) = child {
        insert_unknown(o, rest, full);
    }
}

/// The `data` object of a module: every data reference its texts make, each leaf an unknown
/// value named by its reference.
fn data_object(texts: &[String]) -> Value {
    let mut root = hcl::Map::new();
    for t in texts {
        for chain in data_refs(t) {
            let full = format!("data.{}", chain.join("."));
            insert_unknown(&mut root, &chain, &full);
        }
    }
    Value::Object(root)
}

/// What references to `resources` evaluate to: `KIND.NAME.id` is the resource's address
/// (its id before apply), a `cloudflare_list`'s `name` its literal name. Keyed by the
/// module prefix and kind.
fn resource_refs(resources: &[Resource]) -> BTreeMap<String, hcl::Map<String, Value>> {
    let mut refs: BTreeMap<String, hcl::Map<String, Value>> = BTreeMap::new();
    for r in resources {
        let mut obj = hcl::Map::new();
        let addr = format!("{}{}.{}", r.prefix, r.kind, r.name);
        obj.insert("id".to_string(), Value::from(addr));
        if r.kind == "cloudflare_list"
            && let Some(n) = r.body.attributes().find(|a| a.key() == "name")
            && let Expression::String(name) = &n.expr
        {
            obj.insert("name".to_string(), Value::from(name.clone()));
        }
        refs.entry(format!("{}{}", r.prefix, r.kind))
            .or_default()
            .insert(r.name.clone(), Value::Object(obj));
    }
    refs
}

/// Unknown and missing values in a resource's JSON: a `zone_id`/`account_id` that is unknown
/// becomes its reference text; any other is a problem `(attribute, message, hint)`.
fn unknowns(v: &mut J, key: &str, out: &mut Vec<(String, String, String)>) {
    match v {
        J::String(text) => {
            if let Some(i) = text.find(NO_VALUE) {
                let name = text[i + NO_VALUE.len()..]
                    .split(|c: char| {
                        !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
                    })
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("var.")
                    .to_string();
                out.push((
                    key.to_string(),
                    format!("`{key}` needs variable `{name}`, which has no value"),
                    format!(
                        "pass --var {name}=VALUE, or set it in terraform.tfvars or TF_VAR_{name}"
                    ),
                ));
            } else if let Some(i) = text.find(UNKNOWN) {
                let reference = text[i + UNKNOWN.len()..]
                    .split(|c: char| {
                        !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
                    })
                    .next()
                    .unwrap_or("")
                    .to_string();
                if matches!(key, "zone_id" | "account_id")
                    && *text == format!("{UNKNOWN}{reference}")
                {
                    *text = reference;
                } else {
                    out.push((
                        key.to_string(),
                        format!(
                            "`{key}` depends on a value rulegate cannot know: {}",
                            why_unknown(&Value::from(format!("{UNKNOWN}{reference}")))
                        ),
                        "give the value as a literal or a variable (--var), or use the plan route (terraform show -json)".to_string(),
                    ));
                }
            }
        }
        J::Array(a) => a.iter_mut().for_each(|x| unknowns(x, key, out)),
        J::Object(o) => {
            // Labels that do not change a verdict may be unknown: a name or description
            // reads as what it waits for, a `ref` is left to Cloudflare to assign.
            let unknown = |x: &J| x.as_str().is_some_and(|s| s.contains('\u{1}'));
            if o.get("ref").is_some_and(unknown) {
                o.remove("ref");
            }
            for k in ["name", "description"] {
                if let Some(x) = o.get_mut(k)
                    && unknown(x)
                    && let Some(u) =
                        super::eval::unknown_in(&Value::from(x.as_str().unwrap_or_default()))
                {
                    *x = J::from(format!("({})", super::eval::why_unknown(&u)));
                }
            }
            for (k, x) in o.iter_mut() {
                unknowns(x, k, out);
            }
        }
        _ => {}
    }
}

/// One instance of a module: where its files are, its address prefix, the inputs it was
/// called with, and where it stands in its parent (for `module.NAME` outputs).
#[derive(Clone)]
struct ModuleInstance {
    dir: PathBuf,
    prefix: String,
    inputs: BTreeMap<String, Value>,
    /// The parent's prefix, the call's name, and the instance key (`count` index or
    /// `for_each` key), for the root: none.
    parent: Option<(String, String, Option<Value>)>,
    /// The module directories from the root to this one (resolved), to find cycles.
    chain: Vec<PathBuf>,
}

/// The most module instances one configuration may hold: Terraform has no such limit, but a
/// configuration that needs more is not one rulegate can evaluate statically.
const MAX_MODULES: usize = 1_000;

/// The most instances one `count` or `for_each` may create.
pub(super) const MAX_INSTANCES: u64 = 10_000;

/// Reads the root module in `dir` with its local modules.
pub(super) fn read(
    dir: &Path,
    cli_vars: &BTreeMap<String, String>,
    var_files: &[PathBuf],
    confine: &crate::confine::Confine,
    report: &mut Report,
) -> Option<Found> {
    // A module argument may use another module's output, known only once that module is
    // read: passes repeat with the outputs the previous one found, until none is missing.
    let mut known: ModuleValues = BTreeMap::new();
    let start = report.diagnostics.len();
    let _files = super::eval::FileAccess::enter(dir, confine);
    for pass in 0..MAX_PASSES {
        let last = pass + 1 == MAX_PASSES;
        let (found, values, deferred) =
            read_pass(dir, (cli_vars, var_files), confine, report, &known, last);
        if deferred == 0 || last || values == known {
            if deferred > 0 && !last {
                // No progress: one more pass reports what stays missing.
                report.diagnostics.truncate(start);
                return read_pass(dir, (cli_vars, var_files), confine, report, &values, true).0;
            }
            return found;
        }
        report.diagnostics.truncate(start);
        known = values;
    }
    None
}

/// How many times module arguments are re-evaluated with the outputs found so far.
const MAX_PASSES: usize = 8;

/// Module outputs: per parent prefix, each call's value (an object, or a list or map of them).
type ModuleValues = BTreeMap<String, hcl::Map<String, Value>>;

/// One pass over the configuration with `known` module outputs; also returns the outputs it
/// found and how many module arguments waited for one (reported only on the `last` pass).
fn read_pass(
    dir: &Path,
    (cli_vars, var_files): (&BTreeMap<String, String>, &[PathBuf]),
    confine: &crate::confine::Confine,
    report: &mut Report,
    known: &ModuleValues,
    last: bool,
) -> (Option<Found>, ModuleValues, usize) {
    let mut deferred = 0usize;
    let mut found = Found::default();
    let before = report.diagnostics.len();
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let mut modules: Vec<ModuleInstance> = vec![ModuleInstance {
        dir: dir.to_path_buf(),
        prefix: String::new(),
        inputs: BTreeMap::new(),
        parent: None,
        chain: vec![canon(dir)],
    }];
    let mut all_resources = Vec::new();
    // Calls of modules that are neither local nor installed: (parent prefix, name).
    let mut remote: Vec<(String, String)> = Vec::new();
    let mut contexts: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut outputs: Vec<(ModuleInstance, Vec<(String, Expression)>)> = Vec::new();
    // Locals that could not be evaluated, per module: an error only where a resource uses one.
    let mut failed_locals: BTreeMap<String, BTreeMap<String, Diagnostic>> = BTreeMap::new();
    let mut seen = 0;
    while seen < modules.len() {
        let inst = modules[seen].clone();
        seen += 1;
        let (mdir, prefix) = (&inst.dir, &inst.prefix);
        let mut m = Module::default();
        parse_module(mdir, prefix, confine, report, &mut m);
        let vars = variables(
            mdir,
            &m,
            &inst.inputs,
            prefix.is_empty(),
            (cli_vars, var_files),
            confine,
            report,
        );
        let mut ctx = context_with_functions();
        ctx.declare_var("var", Value::Object(vars.clone().into_iter().collect()));
        let path = path_object(dir, mdir);
        ctx.declare_var("path", path.clone());
        ctx.declare_var("terraform", terraform_object());
        // Locals may refer to the module's resources and to data sources (unknown values).
        let mut texts: Vec<String> = m.locals.iter().map(|(_, e, ..)| e.to_string()).collect();
        texts.extend(m.resources.iter().map(|r| body_text(&r.body)));
        texts.extend(m.calls.iter().map(|(_, b, ..)| body_text(b)));
        texts.extend(m.outputs.iter().map(|(_, e)| e.to_string()));
        let known_refs = resource_refs(&m.resources)
            .into_iter()
            .filter_map(|(kind, objs)| {
                Some((kind.strip_prefix(prefix.as_str())?.to_string(), objs))
            })
            .collect();
        let res = resource_object(&texts, &m.kinds, known_refs);
        for (kind, objs) in &res {
            ctx.declare_var(kind.clone(), objs.clone());
        }
        let data = data_object(&texts);
        ctx.declare_var("data", data.clone());
        // Module outputs known so far; a module neither local nor installed has unknown ones.
        let mut module_object = known.get(prefix.as_str()).cloned().unwrap_or_default();
        for (name, body, ..) in &m.calls {
            if let Some(a) = body.attributes().find(|a| a.key() == "source")
                && let Expression::String(src) = &a.expr
                && !(src.starts_with("./") || src.starts_with("../"))
                && installed_module(dir, prefix, name).is_none()
            {
                module_object.insert(
                    name.clone(),
                    Value::from(format!("{UNKNOWN}{prefix}module.{name}")),
                );
            }
        }
        ctx.declare_var("module", Value::Object(module_object));
        let (locals, failed) = locals(&m, &ctx, &report.sources);
        failed_locals.insert(prefix.clone(), failed);
        ctx.declare_var("local", Value::Object(locals.clone().into_iter().collect()));
        let mut names = vars.clone();
        names.insert(
            "__locals".into(),
            Value::Object(locals.into_iter().collect()),
        );
        names.insert("__data".into(), data);
        names.insert("__path".into(), path);
        names.insert("__resources".into(), Value::Object(res));
        contexts.insert(prefix.clone(), names);
        for (name, body, file, at) in &m.calls {
            let text = report_text(report, file).to_string();
            let attr_pos = |key: &str| {
                body.attributes()
                    .find(|a| a.key() == key)
                    .map(|_| Pos::at(&text, attribute_offset(&text, *at, key), key.len()))
                    .or_else(|| (*at != NOT_FOUND).then(|| Pos::at(&text, *at, 6)))
            };
            let call_error = |report: &mut Report, key: &str, title: String, hint: &str| {
                report.push(Diagnostic::new(file, attr_pos(key), title).hint(hint));
            };
            let src = match body.attributes().find(|a| a.key() == "source") {
                None => {
                    call_error(
                        report,
                        "module",
                        format!("module `{name}` has no `source`"),
                        "Terraform requires `source` in every module block",
                    );
                    continue;
                }
                Some(a) => match eval(&a.expr, &ctx) {
                    Ok(Value::String(s)) => s,
                    _ => {
                        call_error(
                            report,
                            "source",
                            format!("module `{name}`: `source` is not a literal string"),
                            "Terraform requires a literal string as a module source",
                        );
                        continue;
                    }
                },
            };
            let local = src.starts_with("./") || src.starts_with("../");
            // A registry or remote module: read where `terraform init` put it, else its
            // outputs are unknown (an error only where a Cloudflare resource needs one).
            let installed = if local {
                None
            } else {
                installed_module(dir, prefix, name)
            };
            if !local && installed.is_none() {
                // It may declare rulesets of its own: a gate that skipped them would pass
                // untested rules. Its outputs stay unknown so its users do not cascade.
                call_error(
                    report,
                    "source",
                    format!(
                        "module `{name}` comes from `{src}`, which is not a local directory and not installed: rulegate cannot see the rulesets it may declare"
                    ),
                    "run `terraform init` first (rulegate reads the modules it installs under .terraform/modules), or use the plan route (terraform show -json)",
                );
                remote.push((prefix.clone(), name.clone()));
                continue;
            }
            let child = installed.unwrap_or_else(|| mdir.join(&src));
            if let Err(why) = confine.check(&child) {
                call_error(
                    report,
                    "source",
                    format!("module `{name}`: {why}"),
                    crate::confine::HINT,
                );
                continue;
            }
            if !child.is_dir() {
                call_error(
                    report,
                    "source",
                    format!(
                        "module `{name}`: its source `{src}` is not a directory ({} does not exist)",
                        child.display()
                    ),
                    "Terraform fails on a module whose source it cannot find (terraform init)",
                );
                continue;
            }
            let child_canon = canon(&child);
            if inst.chain.contains(&child_canon) {
                call_error(
                    report,
                    "source",
                    format!(
                        "module `{name}` calls `{src}`, which is already among its callers: a module cycle"
                    ),
                    "Terraform refuses module cycles; break the loop",
                );
                continue;
            }
            let keys = match module_keys(body, &ctx) {
                Ok(k) => k,
                Err((key, why)) => {
                    call_error(
                        report,
                        key,
                        format!("module `{name}`: {why}"),
                        "`count` takes a whole number, `for_each` a map or a set of strings, as Terraform requires",
                    );
                    continue;
                }
            };
            for (key, each) in keys {
                if modules.len() >= MAX_MODULES {
                    call_error(
                        report,
                        "source",
                        format!(
                            "the configuration holds more than {MAX_MODULES} module instances; rulegate stops here"
                        ),
                        "use the plan route (terraform show -json) for a configuration this large",
                    );
                    break;
                }
                let mut c = ctx.clone();
                if let Some((var, v)) = &each {
                    c.declare_var(*var, v.clone());
                }
                let mut inputs = BTreeMap::new();
                for a in body.attributes().filter(|a| {
                    !matches!(
                        a.key(),
                        "source" | "version" | "providers" | "count" | "for_each" | "depends_on"
                    )
                }) {
                    match eval(&a.expr, &c) {
                        Ok(v) => {
                            inputs.insert(a.key().to_string(), v);
                        }
                        Err(_) if !last && a.expr.to_string().contains("module.") => {
                            deferred += 1;
                        }
                        Err(e) => report.push(unresolved(
                            report,
                            file,
                            attribute_offset(&text, *at, a.key()),
                            &format!("module.{name}.{}", a.key()),
                            &e,
                        )),
                    }
                }
                let shown = match &key {
                    None => String::new(),
                    Some(k) => format!("[{}]", to_json(k)),
                };
                let mut chain = inst.chain.clone();
                chain.push(child_canon.clone());
                modules.push(ModuleInstance {
                    dir: child.clone(),
                    prefix: format!("{prefix}module.{name}{shown}."),
                    inputs,
                    parent: Some((prefix.clone(), name.clone(), key)),
                    chain,
                });
            }
        }
        outputs.push((inst.clone(), m.outputs));
        all_resources.extend(m.resources);
    }
    // Module outputs, children first (they were found after their parents). A module with
    // `count` is a list of instances, one with `for_each` a map, as Terraform has them.
    let mut module_values: ModuleValues = BTreeMap::new();
    for (parent, name) in &remote {
        module_values.entry(parent.clone()).or_default().insert(
            name.clone(),
            Value::from(format!("{UNKNOWN}{parent}module.{name}")),
        );
    }
    for (inst, outs) in outputs.iter().rev() {
        let ctx = module_context(&inst.prefix, &contexts, &module_values);
        let mut values = hcl::Map::new();
        for (name, expr) in outs {
            if let Ok(v) = eval(expr, &ctx) {
                values.insert(name.clone(), v);
            }
        }
        if let Some((parent, name, key)) = &inst.parent {
            let slot = module_values.entry(parent.clone()).or_default();
            let values = Value::Object(values);
            match key {
                None => {
                    slot.insert(name.clone(), values);
                }
                Some(Value::Number(n)) => {
                    let i = usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(0);
                    let entry = slot
                        .entry(name.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        if a.len() <= i {
                            a.resize(i + 1, Value::Null);
                        }
                        a[i] = values;
                    }
                }
                Some(k) => {
                    let entry = slot
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(hcl::Map::new()));
                    if let Value::Object(o) = entry {
                        o.insert(s(k), values);
                    }
                }
            }
        }
    }
    let mut reported: std::collections::BTreeSet<(String, String)> =
        std::collections::BTreeSet::new();
    for r in &all_resources {
        if !matches!(
            r.kind.as_str(),
            "cloudflare_ruleset" | "cloudflare_list" | "cloudflare_list_item"
        ) {
            continue;
        }
        let ctx = module_context(&r.prefix, &contexts, &module_values);
        // A local this resource uses that could not be evaluated is the root cause: report it
        // (once) rather than the resource's cascade; locals nothing uses never matter.
        let mut root_cause = |report: &mut Report| -> bool {
            let Some(failed) = failed_locals.get_mut(&r.prefix) else {
                return false;
            };
            let text = body_text(&r.body);
            let used: Vec<String> = local_refs(&text)
                .into_iter()
                .filter(|n| failed.contains_key(*n))
                .map(String::from)
                .collect();
            for n in &used {
                if let Some(d) = failed.remove(n) {
                    report.push(d);
                    reported.insert((r.prefix.clone(), n.clone()));
                }
            }
            !used.is_empty()
                || local_refs(&text)
                    .iter()
                    .any(|n| reported.contains(&(r.prefix.clone(), (*n).to_string())))
        };
        let instances = match instances(r, &ctx) {
            Ok(i) => i,
            Err(e) => {
                if !root_cause(report) {
                    // At the `for_each` or `count` the error is about.
                    let key = if e.starts_with("count") {
                        "count"
                    } else {
                        "for_each"
                    };
                    let at = attribute_offset(report_text(report, &r.file), r.at, key);
                    report.push(unresolved(
                        report,
                        &r.file,
                        at,
                        &format!("{}{}.{}", r.prefix, r.kind, r.name),
                        &e,
                    ));
                }
                continue;
            }
        };
        for (address, extra) in instances {
            let mut c = ctx.clone();
            if let Some((name, v)) = extra {
                c.declare_var(name, v);
            }
            let mut value = match body_json(&r.body, &c) {
                Ok(v) => v,
                Err(e) => {
                    if !root_cause(report) {
                        report.push(unresolved(report, &r.file, r.at, &address, &e));
                    }
                    continue;
                }
            };
            // Values known only after apply, and variables nobody set.
            let mut problems = Vec::new();
            unknowns(&mut value, "", &mut problems);
            if !problems.is_empty() {
                let text = report_text(report, &r.file).to_string();
                for (key, message, hint) in problems {
                    let at = attribute_offset(&text, r.at, &key);
                    let pos = (at != NOT_FOUND).then(|| Pos::at(&text, at, key.len().max(1)));
                    report.push(
                        Diagnostic::new(&r.file, pos, format!("{address}: {message}")).hint(hint),
                    );
                }
                continue;
            }
            if let Some(o) = value.as_object_mut() {
                o.remove("for_each");
                o.remove("count");
                o.remove("lifecycle");
                o.remove("depends_on");
                o.remove("provider");
            }
            match r.kind.as_str() {
                "cloudflare_ruleset" => {
                    let mut rs = super::normalize(&value);
                    let zone_refs: Vec<String> = r
                        .body
                        .attributes()
                        .find(|a| a.key() == "zone_id")
                        .map(|z| z.expr.to_string())
                        .into_iter()
                        .collect();
                    if let Some(o) = rs.as_object_mut() {
                        o.insert("id".into(), J::String(address.clone()));
                        if let Some(rules) = o.get_mut("rules").and_then(J::as_array_mut) {
                            for (i, rule) in rules.iter_mut().enumerate() {
                                super::rule_identity(rule, &address, i);
                            }
                        }
                    }
                    found.rulesets.push(super::FoundRuleset {
                        address,
                        file: Some(r.file.clone()),
                        zone_refs,
                        value: rs,
                    });
                }
                "cloudflare_list" => {
                    let (addr, mut l) = super::list(&address, &value);
                    if let Some(o) = l.as_object_mut() {
                        o.insert("id".into(), J::String(addr.clone()));
                    }
                    found.lists.push((addr, l));
                }
                _ => found.items.push((address, value)),
            }
        }
    }
    // List items join their list (its id is its address here).
    for (address, item) in std::mem::take(&mut found.items) {
        let list_id = item
            .get("list_id")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        match found.lists.iter_mut().find(|(a, _)| *a == list_id) {
            Some((_, l)) => {
                if let Some(items) = l.get_mut("items").and_then(J::as_array_mut) {
                    items.push(super::list_item(&item));
                }
            }
            None => found.problems.push((
                address,
                format!(
                    "its list_id `{list_id}` names no cloudflare_list of the configuration: the item is added to a list that lives elsewhere, whose other items cannot be known offline (add that list to the project as a list file, e.g. with rulegate pull, or to the configuration)"
                ),
            )),
        }
    }
    let ok = report.diagnostics.len() == before;
    (ok.then_some(found), module_values, deferred)
}

/// The evaluation context of the module at `prefix`: functions, `var`, `local`, references
/// to its resources, and its module calls' outputs.
fn module_context<'a>(
    prefix: &str,
    contexts: &BTreeMap<String, BTreeMap<String, Value>>,
    modules: &BTreeMap<String, hcl::Map<String, Value>>,
) -> Context<'a> {
    let mut ctx = context_with_functions();
    let mut vars = contexts.get(prefix).cloned().unwrap_or_default();
    let locals = vars.remove("__locals").unwrap_or(Value::Null);
    let data = vars.remove("__data").unwrap_or(Value::Null);
    let path = vars.remove("__path").unwrap_or(Value::Null);
    if let Some(Value::Object(res)) = vars.remove("__resources") {
        for (kind, objs) in res {
            ctx.declare_var(kind, objs);
        }
    }
    ctx.declare_var("path", path);
    ctx.declare_var("terraform", terraform_object());
    ctx.declare_var("var", Value::Object(vars.into_iter().collect()));
    ctx.declare_var("local", locals);
    ctx.declare_var("data", data);
    if let Some(m) = modules.get(prefix) {
        ctx.declare_var("module", Value::Object(m.clone()));
    }
    ctx
}

/// `path.module`, `path.root` and `path.cwd` as Terraform gives them: relative to the root
/// module's directory, where Terraform runs.
fn path_object(root: &Path, module: &Path) -> Value {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (root, module) = (canon(root), canon(module));
    let common = root
        .components()
        .zip(module.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in common..root.components().count() {
        rel.push("..");
    }
    for c in module.components().skip(common) {
        rel.push(c);
    }
    let rel = if rel.as_os_str().is_empty() {
        ".".to_string()
    } else {
        rel.to_string_lossy().replace('\\', "/")
    };
    let mut o = hcl::Map::new();
    o.insert("module".to_string(), Value::from(rel));
    o.insert("root".to_string(), Value::from("."));
    o.insert("cwd".to_string(), Value::from("."));
    Value::Object(o)
}

/// Where `terraform init` installed the module `name` called from the module at `prefix`
/// (`.terraform/modules/modules.json` in the root module's directory), if it did.
fn installed_module(root: &Path, prefix: &str, name: &str) -> Option<PathBuf> {
    let manifest = root.join(".terraform/modules/modules.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let json: J = serde_json::from_str(&text).ok()?;
    // Terraform keys a call by the names of the calls leading to it, dot-separated.
    let mut key: Vec<String> = prefix
        .split("module.")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = p.trim_end_matches('.');
            p.split('[').next().unwrap_or(p).to_string()
        })
        .collect();
    key.push(name.to_string());
    let key = key.join(".");
    json.get("Modules")?
        .as_array()?
        .iter()
        .find(|m| m.get("Key").and_then(J::as_str) == Some(key.as_str()))
        .and_then(|m| m.get("Dir")?.as_str())
        .map(|d| root.join(d))
}

/// `terraform.workspace`: rulegate reads the default workspace.
fn terraform_object() -> Value {
    let mut o = hcl::Map::new();
    o.insert("workspace".to_string(), Value::from("default"));
    Value::Object(o)
}

fn report_text<'a>(report: &'a Report, file: &Path) -> &'a str {
    report.sources.get(file).map_or("", String::as_str)
}

/// An expression that cannot be evaluated, placed on its attribute when the reason names one
/// (`` `expression`: … ``, `count: …`, `for_each: …`), else on the block at `at`.
fn unresolved(report: &Report, file: &Path, at: usize, address: &str, why: &str) -> Diagnostic {
    unresolved_in(report_text(report, file), file, at, address, why)
}

/// [`unresolved`] with the file's text at hand.
fn unresolved_in(text: &str, file: &Path, at: usize, address: &str, why: &str) -> Diagnostic {
    let key = why
        .strip_prefix('`')
        .and_then(|r| r.split_once("`:"))
        .map(|(k, _)| k)
        .or_else(|| {
            why.split_once(':')
                .map(|(k, _)| k)
                .filter(|k| matches!(*k, "count" | "for_each"))
        });
    let pos = (at != NOT_FOUND).then(|| match key {
        Some(k) => Pos::at(text, attribute_offset(text, at, k), k.len()),
        None => Pos::at(text, at, 8),
    });
    Diagnostic::new(file, pos, format!("{address}: cannot be resolved statically: {}", first_line(why)))
        .hint("rulegate resolves literals, heredocs, var.*, local.*, common functions, dynamic blocks, for_each and count; for anything else point terraform: at `terraform show -json` output (the plan route)")
}

/// Variable values: defaults, then terraform.tfvars and *.auto.tfvars, `TF_VAR_name` and
/// `--var` (root module only, in that order, as Terraform reads them), then a module call's
/// inputs.
fn variables(
    dir: &Path,
    m: &Module,
    inputs: &BTreeMap<String, Value>,
    root: bool,
    (cli, var_files): (&BTreeMap<String, String>, &[PathBuf]),
    confine: &crate::confine::Confine,
    report: &mut Report,
) -> BTreeMap<String, Value> {
    let ctx = context_with_functions();
    let mut vars = BTreeMap::new();
    for (name, default) in &m.variables {
        if let Some(d) = default
            && let Ok(v) = eval(d, &ctx)
        {
            vars.insert(name.clone(), v);
        }
    }
    if root {
        let value = |raw: &str| {
            hcl::parse(&format!("v = {raw}"))
                .ok()
                .and_then(|b| b.attributes().next().and_then(|a| eval(&a.expr, &ctx).ok()))
                .unwrap_or_else(|| Value::from(raw.to_string()))
        };
        // Terraform's order, later winning: the environment, terraform.tfvars,
        // terraform.tfvars.json, *.auto.tfvars and *.auto.tfvars.json by file name, `--var`.
        for name in m.variables.keys() {
            if let Ok(raw) = std::env::var(format!("TF_VAR_{name}")) {
                vars.insert(name.clone(), value(&raw));
            }
        }
        let mut files = vec![
            dir.join("terraform.tfvars"),
            dir.join("terraform.tfvars.json"),
        ];
        let mut auto = tf_files(dir, ".auto.tfvars");
        auto.extend(tf_files(dir, ".auto.tfvars.json"));
        auto.sort_by_key(|p| p.file_name().map(std::ffi::OsStr::to_os_string));
        files.extend(auto);
        // `--var-file`s, in command-line order; a missing one is an error, as in Terraform.
        for f in var_files {
            if f.is_file() {
                files.push(f.clone());
            } else {
                report.push(
                    Diagnostic::usage(format!("--var-file {}: no such file", f.display()))
                        .hint("give a .tfvars or .tfvars.json file"),
                );
            }
        }
        let mut unreadable = false;
        for f in files.into_iter().filter(|f| f.is_file()) {
            if let Err(why) = confine.check(&f) {
                report.push(Diagnostic::new(&f, None, why).hint(crate::confine::HINT));
                continue;
            }
            let text = match crate::diag::read_text(&f) {
                Ok(t) => t,
                // A variables file Terraform loads by itself that is not text (encrypted with
                // git-crypt or sops): skipped, and every variable it might set has no value.
                Err(_) if !var_files.contains(&f) => {
                    unreadable = true;
                    continue;
                }
                Err(d) => {
                    report.push(d);
                    continue;
                }
            };
            if f.extension().is_some_and(|e| e == "json") {
                match serde_json::from_str::<serde_json::Map<String, J>>(&text) {
                    Ok(obj) => {
                        for (k, v) in obj {
                            if let Ok(v) = hcl::to_value(&v) {
                                vars.insert(k, v);
                            }
                        }
                    }
                    Err(e) => {
                        let pos = Pos::new(e.line(), e.column(), 1);
                        report.sources.insert(f.clone(), text);
                        report.push(Diagnostic::new(
                            &f,
                            Some(pos),
                            format!("not a variables file: {e}"),
                        )
                        .hint("a .tfvars.json file is one JSON object of variable name to value"));
                    }
                }
                continue;
            }
            match hcl::parse(&text) {
                Ok(body) => {
                    for a in body.attributes() {
                        if let Ok(v) = eval(&a.expr, &ctx) {
                            vars.insert(a.key().to_string(), v);
                        }
                    }
                }
                Err(e) => report.push(Diagnostic::new(
                    &f,
                    None,
                    format!("invalid HCL: {}", first_line(&e.to_string())),
                )),
            }
        }
        for name in m.variables.keys() {
            // `--var` wins, as Terraform's `-var` does.
            if let Some(raw) = cli.get(name) {
                vars.insert(name.clone(), value(raw));
            }
            // Nobody gave it a value: Terraform would ask; an error where it is used.
            if !vars.contains_key(name) || (unreadable && !cli.contains_key(name)) {
                vars.insert(name.clone(), Value::from(format!("{NO_VALUE}var.{name}")));
            }
        }
    }
    for (k, v) in inputs {
        vars.insert(k.clone(), v.clone());
    }
    // Type constraints: `optional(T, default)` attributes filled, primitives converted.
    for (name, t) in &m.types {
        if let Some(v) = vars.get_mut(name) {
            apply_type(v, t, &ctx);
        }
    }
    vars.values_mut().for_each(sort_maps);
    vars
}

/// Orders every map of `v` by key, as Terraform holds maps and objects: a `for` expression
/// over one then yields its entries in lexical order (rules built from a map deploy in that
/// order, not the file's).
fn sort_maps(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut x) in entries {
                sort_maps(&mut x);
                o.insert(k, x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_maps),
        _ => {}
    }
}

/// Applies a variable's type constraint to its value as Terraform does: an object type's
/// `optional(T, default)` attributes that are missing or null get the default (null without
/// one), collections apply their element type, and primitives convert (`string` takes a
/// number or bool, `number` a numeric string, `bool` `"true"`/`"false"`).
fn apply_type(v: &mut Value, t: &Expression, ctx: &Context) {
    use hcl::expr::ObjectKey;
    match t {
        Expression::Variable(name) => match (name.as_str(), &*v) {
            ("string", Value::Bool(_) | Value::Number(_)) => *v = Value::from(s(v)),
            ("number", Value::String(x)) => {
                if let Ok(n) = x.trim().parse::<i64>() {
                    *v = Value::from(n);
                } else if let Ok(f) = x.trim().parse::<f64>() {
                    *v = Value::from(f);
                }
            }
            ("bool", Value::String(x)) if x == "true" || x == "false" => {
                *v = Value::Bool(x == "true");
            }
            _ => {}
        },
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            match (name, call.args.first()) {
                ("list" | "set", Some(elem)) => {
                    if let Value::Array(items) = v {
                        for x in items {
                            apply_type(x, elem, ctx);
                        }
                    }
                }
                ("map", Some(elem)) => {
                    if let Value::Object(o) = v {
                        for x in o.values_mut() {
                            apply_type(x, elem, ctx);
                        }
                    }
                }
                ("object", Some(Expression::Object(attrs))) => {
                    let Value::Object(o) = v else { return };
                    for (key, at) in attrs {
                        let key = match key {
                            ObjectKey::Identifier(i) => i.as_str().to_string(),
                            ObjectKey::Expression(e) => match eval(e, ctx) {
                                Ok(Value::String(k)) => k,
                                _ => continue,
                            },
                            _ => continue,
                        };
                        let (inner, default) = match at {
                            Expression::FuncCall(f) if f.name.name.as_str() == "optional" => {
                                (f.args.first(), f.args.get(1))
                            }
                            other => (Some(other), None),
                        };
                        let missing = o.get(&key).is_none_or(Value::is_null);
                        if missing {
                            let is_optional = matches!(at, Expression::FuncCall(f) if f.name.name.as_str() == "optional");
                            if is_optional {
                                let filled = default
                                    .and_then(|d| eval(d, ctx).ok())
                                    .unwrap_or(Value::Null);
                                o.insert(key.clone(), filled);
                            }
                        }
                        if let (Some(inner), Some(x)) = (inner, o.get_mut(&key))
                            && !x.is_null()
                        {
                            apply_type(x, inner, ctx);
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// The `local.NAME`s an expression's text refers to.
fn local_refs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("local.") {
        let at = from + i;
        let start = at + "local.".len();
        let boundary = at == 0
            || !(bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b'.'));
        let len = text[start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            .count();
        if boundary && len > 0 {
            out.push(&text[start..start + len]);
        }
        from = start;
    }
    out
}

/// Locals in dependency order (each evaluated once, after the locals it refers to: linear in
/// their number); a cycle is an error naming it, as Terraform's.
fn locals(
    m: &Module,
    ctx: &Context,
    sources: &BTreeMap<PathBuf, String>,
) -> (BTreeMap<String, Value>, BTreeMap<String, Diagnostic>) {
    let mut failed: BTreeMap<String, Diagnostic> = BTreeMap::new();
    let by_name: BTreeMap<&str, usize> = m
        .locals
        .iter()
        .enumerate()
        .map(|(i, (name, ..))| (name.as_str(), i))
        .collect();
    let texts: Vec<String> = m.locals.iter().map(|(_, e, ..)| e.to_string()).collect();
    let deps: Vec<Vec<usize>> = texts
        .iter()
        .map(|t| {
            local_refs(t)
                .into_iter()
                .filter_map(|n| by_name.get(n).copied())
                .collect()
        })
        .collect();
    // Depth-first post-order; `state`: 0 new, 1 on the stack, 2 done.
    let mut state = vec![0u8; m.locals.len()];
    let mut order = Vec::with_capacity(m.locals.len());
    let mut cyclic: Vec<usize> = Vec::new();
    for root in 0..m.locals.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match state[dep] {
                    0 => {
                        state[dep] = 1;
                        stack.push((dep, 0));
                    }
                    1 if !cyclic.contains(&dep) => cyclic.push(dep),
                    _ => {}
                }
            } else {
                state[node] = 2;
                order.push(node);
                stack.pop();
            }
        }
    }
    let mut done: hcl::Map<String, Value> = hcl::Map::new();
    let mut c = ctx.clone();
    for i in order {
        let (name, expr, file, at) = &m.locals[i];
        let text = sources.get(file).map_or("", String::as_str);
        let pos = attribute_offset(text, *at, name);
        if cyclic.contains(&i) {
            let d = unresolved_in(
                text,
                file,
                pos,
                &format!("local.{name}"),
                "it refers to itself through other locals (a cycle, which Terraform refuses)",
            );
            failed.insert(name.clone(), d);
            continue;
        }
        // A local that uses a failed one fails with it: the root cause is the one reported.
        if let Some(root) = deps[i]
            .iter()
            .find_map(|&d| failed.get(&m.locals[d].0).cloned())
        {
            failed.insert(name.clone(), root);
            continue;
        }
        if let Err(why) = check_nesting(&texts[i]) {
            let d = unresolved_in(text, file, pos, &format!("local.{name}"), &why);
            failed.insert(name.clone(), d);
            continue;
        }
        // Only the locals it refers to: cloning every local for each would be quadratic.
        let visible: hcl::Map<String, Value> = deps[i]
            .iter()
            .filter_map(|&d| {
                let n = &m.locals[d].0;
                done.get(n).map(|v| (n.clone(), v.clone()))
            })
            .collect();
        c.declare_var("local", Value::Object(visible));
        match eval(expr, &c).and_then(|v| {
            check_size(&v)?;
            Ok(v)
        }) {
            Ok(mut v) => {
                sort_maps(&mut v);
                done.insert(name.clone(), v);
            }
            Err(why) => {
                let d = unresolved_in(text, file, pos, &format!("local.{name}"), &why);
                failed.insert(name.clone(), d);
            }
        }
    }
    (done.into_iter().collect(), failed)
}

/// The most nested `for` expressions one expression may hold: each level multiplies the work.
const MAX_FOR_NESTING: usize = 3;

/// The largest value one expression may make: elements and string bytes together.
pub(super) const MAX_VALUE_UNITS: usize = 1_000_000;

/// Refuses an expression (as text) whose `for` expressions nest deeper than
/// [`MAX_FOR_NESTING`]: eight levels over small lists already take minutes.
fn check_nesting(text: &str) -> Result<(), String> {
    let mut stack: Vec<bool> = Vec::new();
    let mut fors = 0usize;
    let mut deepest = 0usize;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' | b'{' | b'(' => {
                let is_for = text[i + 1..].trim_start().starts_with("for ");
                if is_for {
                    fors += 1;
                    deepest = deepest.max(fors);
                }
                stack.push(is_for);
            }
            b']' | b'}' | b')' if stack.pop() == Some(true) => fors -= 1,
            _ => {}
        }
    }
    if deepest > MAX_FOR_NESTING {
        return Err(format!(
            "it nests `for` expressions {deepest} deep; rulegate evaluates at most {MAX_FOR_NESTING}"
        ));
    }
    Ok(())
}

/// Refuses a value larger than [`MAX_VALUE_UNITS`] (elements plus string bytes), so doubling
/// locals or `concat` cannot exhaust memory.
pub(super) fn check_size(v: &Value) -> Result<(), String> {
    fn units(v: &Value, budget: &mut usize) -> bool {
        let own = match v {
            Value::String(s) => s.len(),
            _ => 1,
        };
        if *budget < own {
            return false;
        }
        *budget -= own;
        match v {
            Value::Array(a) => a.iter().all(|x| units(x, budget)),
            Value::Object(o) => o.values().all(|x| units(x, budget)),
            _ => true,
        }
    }
    let mut budget = MAX_VALUE_UNITS;
    if units(v, &mut budget) {
        Ok(())
    } else {
        Err(format!(
            "its value is larger than the {MAX_VALUE_UNITS} elements and string bytes rulegate evaluates"
        ))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Reads `main.tf` in a fresh directory; the rendered report when it fails.
    fn load(tf: &str) -> Result<Found, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), tf).unwrap();
        let confine = crate::confine::Confine::at(dir.path());
        let mut report = Report::default();
        read(dir.path(), &BTreeMap::new(), &[], &confine, &mut report)
            .ok_or_else(|| report.render())
    }

    fn ruleset(expr: &str) -> String {
        format!(
            "resource \"cloudflare_ruleset\" \"r\" {{\n  zone_id = \"z\"\n  name = \"r\"\n  kind = \"zone\"\n  phase = \"http_request_firewall_custom\"\n  rules = [{{ action = \"block\", expression = {expr} }}]\n}}\n"
        )
    }

    #[test]
    fn locals_resolve_in_dependency_order_and_cycles_are_named() {
        // Declared last-first: each refers to the next one down.
        let mut tf = String::from("locals {\n");
        for i in (0..800).rev() {
            if i == 0 {
                tf.push_str("  l0 = \"true\"\n");
            } else {
                tf.push_str(&format!("  l{i} = local.l{}\n", i - 1));
            }
        }
        tf.push_str("}\n");
        tf.push_str(&ruleset("local.l799"));
        let found = load(&tf).unwrap();
        assert_eq!(found.rulesets[0].value["rules"][0]["expression"], "true");
        // Locals nothing uses never matter; one a rule uses is an error at the local.
        load(&format!(
            "locals {{\n  a = local.b\n  b = local.a\n}}\n{}",
            ruleset("\"true\"")
        ))
        .unwrap();
        let err = load(&format!(
            "locals {{\n  a = local.b\n  b = local.a\n}}\n{}",
            ruleset("local.a")
        ))
        .unwrap_err();
        assert!(err.contains("a cycle"), "{err}");
        assert!(
            err.contains("main.tf:2:3") || err.contains("main.tf:3:3"),
            "{err}"
        );
    }

    #[test]
    fn a_block_at_the_first_byte_has_a_position() {
        let err = load(&ruleset("var.nope")).unwrap_err();
        assert!(err.contains("main.tf:6:"), "{err}");
    }

    #[test]
    fn doubling_and_nesting_stop_with_an_error() {
        let mut tf = String::from("locals {\n  d0 = [\"x\"]\n");
        for i in 1..40 {
            tf.push_str(&format!("  d{i} = concat(local.d{0}, local.d{0})\n", i - 1));
        }
        tf.push_str("}\n");
        tf.push_str(&ruleset("length(local.d39) > 0 ? \"true\" : \"false\""));
        let err = load(&tf).unwrap_err();
        assert!(err.contains("more than the 1000000"), "{err}");
        let mut tf = String::from("locals {\n  s0 = \"xx\"\n");
        for i in 1..40 {
            tf.push_str(&format!(
                "  s{i} = \"${{local.s{0}}}${{local.s{0}}}\"\n",
                i - 1
            ));
        }
        tf.push_str("}\n");
        tf.push_str(&ruleset("local.s39"));
        let err = load(&tf).unwrap_err();
        assert!(err.contains("larger than the 1000000"), "{err}");
        let fors = "[for a in [1,2,3,4,5,6,7,8,9,10] : [for b in [1,2,3,4,5,6,7,8,9,10] : [for c in [1,2,3,4,5,6,7,8,9,10] : [for d in [1,2,3,4,5,6,7,8,9,10] : [for e in [1,2,3,4,5,6,7,8,9,10] : [for f in [1,2,3,4,5,6,7,8,9,10] : [for g in [1,2,3,4,5,6,7,8,9,10] : [for h in [1,2,3,4,5,6,7,8,9,10] : h]]]]]]]]";
        let err = load(&format!(
            "locals {{\n  big = {fors}\n}}\n{}",
            ruleset("length(local.big) > 0 ? \"true\" : \"false\"")
        ))
        .unwrap_err();
        assert!(err.contains("nests `for` expressions 8 deep"), "{err}");
        let err = load(&ruleset("length([for a in [1] : [for b in [1] : [for c in [1] : [for d in [1] : d]]]]) > 0 ? \"true\" : \"false\"")).unwrap_err();
        assert!(err.contains("nests `for` expressions 4 deep"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever the counts, nesting and doubling, reading ends with rulesets or errors,
        /// within the limits: never a panic, never more instances than allowed.
        #[test]
        fn limits_hold_for_any_shape(
            count in prop_oneof![0u64..4, Just(MAX_INSTANCES + 1), Just(u64::MAX >> 12)],
            nesting in 0usize..6,
            doublings in 0usize..22,
        ) {
            let mut inner = String::from("\"x\"");
            for _ in 0..nesting {
                inner = format!("[for i in [1, 2] : {inner}]");
            }
            let mut tf = format!("locals {{\n  n = {inner}\n  d0 = [\"x\"]\n");
            for i in 1..=doublings {
                tf.push_str(&format!("  d{i} = concat(local.d{0}, local.d{0})\n", i - 1));
            }
            tf.push_str("}\n");
            tf.push_str(&format!(
                "resource \"cloudflare_ruleset\" \"r\" {{\n  count = {count}\n  zone_id = \"z\"\n  name = \"r${{length(local.n)}}-${{length(local.d{doublings})}}\"\n  kind = \"zone\"\n  phase = \"http_request_firewall_custom\"\n  rules = []\n}}\n"
            ));
            match load(&tf) {
                // With no instance, the locals it would use are never evaluated.
                Ok(found) => {
                    prop_assert!(count <= MAX_INSTANCES);
                    prop_assert!(count == 0 || nesting <= MAX_FOR_NESTING);
                    prop_assert_eq!(found.rulesets.len() as u64, count);
                }
                Err(e) => {
                    prop_assert!(
                        count > MAX_INSTANCES
                            || (count > 0 && (nesting > MAX_FOR_NESTING || (1usize << doublings) > MAX_VALUE_UNITS)),
                        "{}", e
                    );
                }
            }
        }
    }
}

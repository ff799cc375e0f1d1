//! A resource's instances (`count`, `for_each`) and its body as JSON (attributes evaluated,
//! blocks grouped, `dynamic` blocks expanded).

use hcl::eval::Context;
use hcl::{Block, Body, Expression, Value};
use serde_json::Value as J;

use super::super::eval::{eval, unknown_in, why_unknown};
use super::super::functions::to_json;
use super::*;

/// A body as JSON: attributes evaluated, blocks grouped by name into lists (as v4's JSON
/// has them), `dynamic` blocks expanded over their `for_each`.
pub(super) fn body_json(body: &Body, ctx: &Context) -> Result<J, String> {
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

pub(super) fn push_block(out: &mut serde_json::Map<String, J>, name: &str, v: J) {
    match out
        .entry(name.to_string())
        .or_insert_with(|| J::Array(Vec::new()))
    {
        J::Array(a) => a.push(v),
        other => *other = J::Array(vec![v]),
    }
}

/// The blocks a `dynamic "NAME" { for_each = …; content { … } }` stands for.
pub(super) fn dynamic_items(b: &Block, name: &str, ctx: &Context) -> Result<Vec<J>, String> {
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
pub(super) fn entries(v: &Value) -> Vec<(Value, Value)> {
    match v {
        Value::Object(o) => super::super::eval::map_entries(o),
        Value::Array(a) => a.iter().map(|x| (x.clone(), x.clone())).collect(),
        _ => Vec::new(),
    }
}

/// The `count` or `each` variable an instance sees.
pub(super) type Each = (&'static str, Value);

/// A module instance's key (none, a `count` index, a `for_each` key) and the variable it sees.
pub(super) type ModuleKey = (Option<Value>, Option<Each>);

/// The instances a module call makes: one (no key), `count` indexes, or `for_each` keys,
/// each with the `count` / `each` variable its arguments see. An error names the attribute.
pub(super) fn module_keys(
    body: &Body,
    ctx: &Context,
) -> Result<Vec<ModuleKey>, (&'static str, String)> {
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
pub(super) fn known(what: &str, v: Result<Value, String>) -> Result<Value, String> {
    let v = v.map_err(|e| format!("{what}: {e}"))?;
    if super::super::eval::is_unknown(&v) {
        return Err(format!(
            "{what} depends on a value rulegate cannot know: {}; the instances depend on it (give it with --var or a literal, or use the plan route)",
            why_unknown(&v)
        ));
    }
    Ok(v)
}

/// A `count` value: a whole number from 0 to [`MAX_INSTANCES`] (a string of digits converts,
/// as Terraform converts it).
pub(super) fn count_of(expr: &Expression, ctx: &Context) -> Result<u64, String> {
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
pub(super) fn for_each_entries(v: &Value) -> Result<Vec<(Value, Value)>, String> {
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

/// One instance of a resource: its address and the `each` / `count` variable it sees.
pub(super) type Instance = (String, Option<(&'static str, Value)>);

/// Instances of a resource (`for_each`, `count`, or just one).
pub(super) fn instances(r: &Resource, ctx: &Context) -> Result<Vec<Instance>, String> {
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

//! What references evaluate to: data sources and other resources' attributes unknown,
//! Cloudflare resources' ids their addresses; and the check of a resource's JSON for unknown
//! values where a verdict needs them.

use std::collections::BTreeMap;

use hcl::{Expression, Value};
use serde_json::Value as J;

use super::super::eval::{NO_VALUE, UNKNOWN, why_unknown};
use super::*;

/// `data.TYPE.NAME.ATTR…` references in an expression's text, as their chains of names.
pub(super) fn data_refs(text: &str) -> Vec<Vec<&str>> {
    refs_after(text, "data.", 2)
}

/// References starting with `head` (`data.`, `KIND.`) in a text, as the chains of names
/// after it (at least `min` of them).
pub(super) fn refs_after<'t>(text: &'t str, head: &str, min: usize) -> Vec<Vec<&'t str>> {
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
pub(super) fn resource_object(
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
pub(super) fn overlay(base: &mut Value, known: Value) {
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

pub(super) fn insert_unknown(node: &mut hcl::Map<String, Value>, chain: &[&str], full: &str) {
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
pub(super) fn data_object(texts: &[String]) -> Value {
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
pub(super) fn resource_refs(resources: &[Resource]) -> BTreeMap<String, hcl::Map<String, Value>> {
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
pub(super) fn unknowns(v: &mut J, key: &str, out: &mut Vec<(String, String, String)>) {
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
                        super::super::eval::unknown_in(&Value::from(x.as_str().unwrap_or_default()))
                {
                    *x = J::from(format!("({})", super::super::eval::why_unknown(&u)));
                }
            }
            for (k, x) in o.iter_mut() {
                unknowns(x, k, out);
            }
        }
        _ => {}
    }
}

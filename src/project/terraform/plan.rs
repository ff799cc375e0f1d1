//! The plan/state route: `terraform show -json PLANFILE` (`planned_values`) or
//! `terraform show -json` (`values`), every value resolved by Terraform itself, read
//! recursively through `child_modules`. Ids not known before apply (an `execute` of a ruleset
//! created in the same plan, a `cloudflare_list_item`'s `list_id`) are resolved through the
//! plan's `configuration` section (its `references`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Found, normalize};

/// A resource of the plan or state: its full address and its values.
struct Resource<'a> {
    address: String,
    kind: &'a str,
    values: &'a Value,
}

fn resources<'a>(module: &'a Value, out: &mut Vec<Resource<'a>>) {
    for r in module["resources"].as_array().into_iter().flatten() {
        if r["mode"].as_str().unwrap_or("managed") != "managed" {
            continue;
        }
        out.push(Resource {
            address: r["address"].as_str().unwrap_or_default().to_string(),
            kind: r["type"].as_str().unwrap_or_default(),
            values: &r["values"],
        });
    }
    for child in module["child_modules"].as_array().into_iter().flatten() {
        resources(child, out);
    }
}

/// `configuration` resources by full address (`module.a.cloudflare_ruleset.x`), with their
/// `expressions`.
fn configuration(plan: &Value) -> BTreeMap<String, &Value> {
    fn walk<'a>(module: &'a Value, prefix: &str, out: &mut BTreeMap<String, &'a Value>) {
        for r in module["resources"].as_array().into_iter().flatten() {
            if let Some(a) = r["address"].as_str() {
                out.insert(format!("{prefix}{a}"), &r["expressions"]);
            }
        }
        for (name, call) in module["module_calls"].as_object().into_iter().flatten() {
            walk(&call["module"], &format!("{prefix}module.{name}."), out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&plan["configuration"]["root_module"], "", &mut out);
    out
}

/// A resource's configuration address: its address without instance keys
/// (`cloudflare_ruleset.x["a"]` → `cloudflare_ruleset.x`).
fn config_address(address: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in address.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The configuration of the module at `prefix` (`""` for the root, `module.a.module.b.`).
fn module_config<'a>(plan: &'a Value, prefix: &str) -> &'a Value {
    let mut m = &plan["configuration"]["root_module"];
    for name in prefix.split("module.").filter(|p| !p.is_empty()) {
        m = &m["module_calls"][name.trim_end_matches('.')]["module"];
    }
    m
}

/// The module prefix of an address (`module.a.cloudflare_x.y` → `module.a.`).
fn prefix_of(address: &str) -> &str {
    address.rfind("cloudflare_").map_or("", |i| &address[..i])
}

/// The first resource of type `kind` that `refs` point at, from the module at `prefix`,
/// following module outputs (`module.m.out` → the output's own references in module `m`).
fn referenced(
    plan: &Value,
    refs: &Value,
    kind: &str,
    prefix: &str,
    depth: usize,
) -> Option<String> {
    if depth > 16 {
        return None;
    }
    for r in refs.as_array()?.iter().filter_map(Value::as_str) {
        if let Some(rest) = r.strip_prefix(&format!("{kind}.")) {
            let name = rest.split('.').next().unwrap_or(rest);
            return Some(format!("{prefix}{kind}.{name}"));
        }
        if let Some(rest) = r.strip_prefix("module.")
            && let Some((module, output)) = rest.split_once('.')
        {
            let inner = format!("{prefix}module.{module}.");
            let out_refs =
                &module_config(plan, &inner)["outputs"][output]["expression"]["references"];
            if let Some(found) = referenced(plan, out_refs, kind, &inner, depth + 1) {
                return Some(found);
            }
        }
    }
    None
}

/// A JSON value's kind, in words.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null or missing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a plan or state; rulesets and lists in the API's shape, each with its address.
pub(super) fn read(plan: &Value) -> Result<Found, String> {
    let root = if plan.get("planned_values").is_some() {
        &plan["planned_values"]["root_module"]
    } else if plan.get("values").is_some() {
        &plan["values"]["root_module"]
    } else {
        return Err(
            "not a Terraform plan or state in JSON: it has neither `planned_values` nor `values` (make it with `terraform show -json`)"
                .into(),
        );
    };
    let config = configuration(plan);
    let mut all = Vec::new();
    resources(root, &mut all);
    let mut found = Found::default();
    // Lists first: list items attach to them.
    let mut list_by_addr: BTreeMap<String, usize> = BTreeMap::new();
    for r in all
        .iter()
        .filter(|r| r.kind.starts_with("cloudflare_list") && !r.values.is_object())
    {
        found.problems.push((
            r.address.clone(),
            format!("its `values` is {}, not an object", kind_of(r.values)),
        ));
    }
    all.retain(|r| !r.kind.starts_with("cloudflare_list") || r.values.is_object());
    for r in all.iter().filter(|r| r.kind == "cloudflare_list") {
        list_by_addr.insert(config_address(&r.address), found.lists.len());
        found.lists.push(super::list(&r.address, r.values));
    }
    for r in all.iter().filter(|r| r.kind == "cloudflare_list_item") {
        let target = r.values["list_id"]
            .as_str()
            .and_then(|id| {
                found
                    .lists
                    .iter()
                    .position(|(_, l)| l.get("id").and_then(Value::as_str) == Some(id))
            })
            .or_else(|| {
                let refs = &config.get(&config_address(&r.address))?["list_id"]["references"];
                let target = referenced(plan, refs, "cloudflare_list", prefix_of(&r.address), 0)?;
                list_by_addr.get(&target).copied()
            });
        match target {
            Some(i) => {
                let item = super::list_item(r.values);
                if let Some(items) = found.lists[i]
                    .1
                    .get_mut("items")
                    .and_then(Value::as_array_mut)
                {
                    items.push(item);
                }
            }
            None => found.problems.push((
                r.address.clone(),
                "its list_id names no cloudflare_list of the plan".into(),
            )),
        }
    }
    let mut ruleset_ids: BTreeMap<String, String> = BTreeMap::new();
    let rulesets: Vec<&Resource> = all
        .iter()
        .filter(|r| r.kind == "cloudflare_ruleset")
        .collect();
    for r in &rulesets {
        let id = r.values["id"]
            .as_str()
            .map_or_else(|| r.address.clone(), String::from);
        ruleset_ids.insert(config_address(&r.address), id);
    }
    for r in rulesets {
        let mut rs = normalize(r.values);
        let Some(obj) = rs.as_object_mut() else {
            found.problems.push((
                r.address.clone(),
                format!(
                    "its `values` is {}, not an object: the plan is not what `terraform show -json` writes",
                    kind_of(r.values)
                ),
            ));
            continue;
        };
        let id = ruleset_ids[&config_address(&r.address)].clone();
        obj.insert("id".into(), Value::String(id));
        let exprs = config.get(&config_address(&r.address));
        let zone_refs: Vec<String> = exprs
            .and_then(|e| e["zone_id"]["references"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        // Executes whose target id is unknown until apply: the configuration's references.
        if let Some(rules) = obj.get_mut("rules").and_then(Value::as_array_mut) {
            for (i, rule) in rules.iter_mut().enumerate() {
                super::rule_identity(rule, &r.address, i);
                if rule["action"] != "execute" || rule["action_parameters"]["id"].is_string() {
                    continue;
                }
                let refs = exprs.map(|e| {
                    let per_rule = &e["rules"][i]["action_parameters"][0]["id"]["references"];
                    if per_rule.is_array() {
                        per_rule.clone()
                    } else {
                        e["rules"]["references"].clone()
                    }
                });
                let target = refs
                    .as_ref()
                    .and_then(|refs| {
                        referenced(plan, refs, "cloudflare_ruleset", prefix_of(&r.address), 0)
                    })
                    .and_then(|a| ruleset_ids.get(&a).cloned());
                match target {
                    Some(t) => {
                        if let Some(p) = rule.get_mut("action_parameters").and_then(Value::as_object_mut) {
                            p.insert("id".into(), Value::String(t));
                        }
                    }
                    None => found.problems.push((
                        format!("{}.rules[{i}].action_parameters.id", r.address),
                        "the executed ruleset's id is unknown in the plan and no cloudflare_ruleset of the plan is referenced".into(),
                    )),
                }
            }
        }
        found.rulesets.push(super::FoundRuleset {
            address: r.address.clone(),
            file: None,
            zone_refs,
            value: rs,
        });
    }
    Ok(found)
}

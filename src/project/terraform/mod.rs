//! Terraform as a ruleset source: `cloudflare_ruleset`, `cloudflare_list` and
//! `cloudflare_list_item` resources read into the Rulesets and Lists APIs' shapes, so the
//! rest of the project loader treats them like JSON files. Both provider generations: v5
//! attributes (objects) and v4 blocks (single-element lists in JSON, `headers` as a list of
//! named blocks) normalize to the same shape.
//!
//! Routes: a plan or state as JSON ([`plan`]), or the `*.tf` files of a directory ([`hcl`]);
//! both produce a [`Found`] of API-shaped values with their addresses.
//!
//! Identity: a rule without an `id` (none has one before apply) is named
//! `ADDRESS#N`, its resource address and 1-based position (`cloudflare_ruleset.waf#2`,
//! `module.edge.cloudflare_ruleset.custom["shop"]#1`); a ruleset without an `id` is named by
//! its address. Both are stable between runs; selectors may also use the rule's `ref` or
//! description.

mod eval;
mod functions;
mod hcl;
mod plan;

use std::path::Path;

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Report};

/// What a Terraform source holds, in API shapes, each with its resource address.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) rulesets: Vec<FoundRuleset>,
    /// `cloudflare_list_item`s waiting for their list (the HCL route).
    pub(super) items: Vec<(String, Value)>,
    pub(super) lists: Vec<(String, Value)>,
    /// Problems at a resource address.
    pub(super) problems: Vec<(String, String)>,
}

/// A ruleset a Terraform source declares, in the API's shape.
#[derive(Debug)]
pub(super) struct FoundRuleset {
    /// Its resource address (`module.edge.cloudflare_ruleset.waf`).
    pub(super) address: String,
    /// The `.tf` file that declares it (the HCL route); the plan's own file otherwise.
    pub(super) file: Option<std::path::PathBuf>,
    /// The texts its `zone_id` is written with (`cloudflare_zone.shop.id`, `var.zone_id`), by
    /// which rulegate.yaml's `zone_id:` may name its zone.
    pub(super) zone_refs: Vec<String>,
    pub(super) value: Value,
}

/// Blocks that v4 writes as lists of one object.
const SINGLE_BLOCKS: &[&str] = &[
    "action_parameters",
    "response",
    "overrides",
    "from_value",
    "from_list",
    "target_url",
    "uri",
    "path",
    "query",
    "ratelimit",
    "logging",
    "exposed_credential_check",
    "matched_data",
    "origin",
    "sni",
    "edge_ttl",
    "browser_ttl",
    "serve_stale",
    "cache_key",
    "cache_reserve",
    "custom_key",
    "algorithms",
];

/// Attributes the provider's schema types as strings, numbers or booleans: Terraform converts
/// a value of another primitive type to the attribute's (`expression = true` is `"true"`,
/// `status_code = "302"` is 302), so rulegate does too, rather than misreading it.
const STRING_KEYS: &[&str] = &[
    "expression",
    "action",
    "description",
    "ref",
    "name",
    "kind",
    "phase",
    "content",
    "content_type",
    "value",
    "url",
    "operation",
    "mitigation_expression",
    "counting_expression",
    "score_response_header_name",
    "host_header",
    "sensitivity_level",
    "ruleset",
];
const NUMBER_KEYS: &[&str] = &[
    "status_code",
    "period",
    "requests_per_period",
    "mitigation_timeout",
    "score_per_period",
    "score_threshold",
    "port",
    "default",
];
const BOOL_KEYS: &[&str] = &[
    "enabled",
    "requests_to_origin",
    "preserve_query_string",
    "include_subdomains",
    "subpath_matching",
    "preserve_path_suffix",
    "cache",
    "origin_error_page_passthru",
    "respect_strong_etags",
    "origin_cache_control",
    "read_timeout",
];

/// `v` converted to the primitive type the schema gives `key`, as Terraform converts it; a
/// value that does not convert stays as it is (the ruleset check then names the key).
fn convert(key: &str, v: Value) -> Value {
    match v {
        Value::Bool(b) if STRING_KEYS.contains(&key) => Value::String(b.to_string()),
        Value::Number(n) if STRING_KEYS.contains(&key) => Value::String(n.to_string()),
        Value::String(s) if NUMBER_KEYS.contains(&key) => match s.trim().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Value::from(f),
                _ => Value::String(s),
            },
        },
        Value::String(s) if BOOL_KEYS.contains(&key) && (s == "true" || s == "false") => {
            Value::Bool(s == "true")
        }
        other => other,
    }
}

/// A Terraform value in the API's shape: nulls and empty collections dropped, v4 single
/// blocks unwrapped, v4 `headers` blocks keyed by name, primitives converted to the schema's
/// types ([`convert`]).
pub(super) fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, x) in o {
                let x = match (k.as_str(), x) {
                    (k, Value::Array(a)) if SINGLE_BLOCKS.contains(&k) && a.len() == 1 => {
                        normalize(&a[0])
                    }
                    ("headers", Value::Array(a)) if a.iter().all(|h| h.get("name").is_some()) => {
                        let mut m = Map::new();
                        for h in a {
                            let mut h = normalize(h);
                            if let Some(name) = h
                                .as_object_mut()
                                .and_then(|o| o.remove("name"))
                                .and_then(|n| n.as_str().map(String::from))
                            {
                                m.insert(name, h);
                            }
                        }
                        Value::Object(m)
                    }
                    _ => normalize(x),
                };
                let x = convert(k, x);
                // v4's skip `rules`: a map of ruleset id to comma-separated rule ids.
                let x = match (k.as_str(), x) {
                    ("rules", Value::Object(m)) if m.values().all(Value::is_string) => {
                        Value::Object(
                            m.into_iter()
                                .map(|(id, list)| {
                                    let ids = list
                                        .as_str()
                                        .unwrap_or_default()
                                        .split(',')
                                        .map(str::trim)
                                        .filter(|s| !s.is_empty())
                                        .map(|s| Value::String(s.to_string()))
                                        .collect();
                                    (id, Value::Array(ids))
                                })
                                .collect(),
                        )
                    }
                    (_, x) => x,
                };
                let empty = match &x {
                    Value::Null => true,
                    Value::Array(a) => a.is_empty() && k != "rules" && k != "items",
                    Value::Object(m) => m.is_empty() && k != "action_parameters",
                    _ => false,
                };
                if !empty {
                    out.insert(k.clone(), x);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Names a rule that has no `id`: `ADDRESS#N` (1-based).
pub(super) fn rule_identity(rule: &mut Value, address: &str, index: usize) {
    if let Some(o) = rule.as_object_mut()
        && !o.get("id").is_some_and(Value::is_string)
    {
        o.insert(
            "id".into(),
            Value::String(format!("{address}#{}", index + 1)),
        );
    }
}

/// One list item in the Lists API shape, from v5 (`ip`, `asn`, `hostname {url_hostname}`,
/// `redirect {…}`) or v4 (`value { ip | asn | hostname {…} | redirect {…} }`).
pub(super) fn list_item(v: &Value) -> Value {
    let v = normalize(v);
    let inner = match v.get("value") {
        Some(Value::Array(a)) if a.len() == 1 => normalize(&a[0]),
        Some(x @ Value::Object(_)) => x.clone(),
        _ => v.clone(),
    };
    let mut out = Map::new();
    for key in ["ip", "asn", "comment"] {
        if let Some(x) = inner.get(key).or_else(|| v.get(key)) {
            out.insert(key.into(), x.clone());
        }
    }
    for key in ["hostname", "redirect"] {
        if let Some(x) = inner.get(key) {
            let x = match x {
                Value::Array(a) if a.len() == 1 => normalize(&a[0]),
                other => other.clone(),
            };
            out.insert(key.into(), x);
        }
    }
    Value::Object(out)
}

/// A `cloudflare_list` in the Lists API shape (inline `item` blocks (v4) or `items` (v5)).
pub(super) fn list(address: &str, v: &Value) -> (String, Value) {
    let mut out = Map::new();
    for key in ["id", "name", "kind", "description"] {
        if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
            out.insert(key.into(), x.clone());
        }
    }
    let items: Vec<Value> = v["items"]
        .as_array()
        .or_else(|| v["item"].as_array())
        .into_iter()
        .flatten()
        .map(list_item)
        .collect();
    out.insert("items".into(), Value::Array(items));
    (address.to_string(), Value::Object(out))
}

/// The rulesets of the zone under test, and account-level ones. When the configuration holds
/// zone rulesets of several zones, rulegate.yaml's `zone_id` says which; without it that is
/// an error listing the zones found.
pub(super) fn select_zone(
    path: &Path,
    rulesets: Vec<FoundRuleset>,
    config: &crate::project::ProjectConfig,
    report: &mut Report,
) -> Vec<(std::path::PathBuf, crate::ruleset::model::Ruleset)> {
    let entry = |v: &Value| v.get("kind").and_then(Value::as_str) == Some("zone");
    let zone_of = |v: &Value| v.get("zone_id").and_then(Value::as_str).map(String::from);
    let zones: std::collections::BTreeSet<String> = rulesets
        .iter()
        .filter(|r| entry(&r.value))
        .filter_map(|r| zone_of(&r.value))
        .collect();
    if config.zone_id.is_none() && zones.len() > 1 {
        report.push(
            Diagnostic::new(
                path,
                None,
                format!(
                    "the Terraform configuration holds zone entry points of {} zones: {}",
                    zones.len(),
                    zones.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
            .hint("say which one this project tests with `zone_id:` in rulegate.yaml: the zone's id, or the reference its rulesets use (`cloudflare_zone.shop.id`, `var.zone_id`)"),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for r in rulesets {
        let file = r.file.unwrap_or_else(|| path.to_path_buf());
        let address = r.address;
        // Only zone entry points are per zone; custom rulesets run where they are executed.
        if let Some(w) = &config.zone_id
            && entry(&r.value)
            && zone_of(&r.value).as_deref() != Some(w.as_str())
            && !r.zone_refs.contains(w)
        {
            continue;
        }
        match serde_json::from_value(r.value) {
            Ok(rs) => out.push((file, rs)),
            Err(e) => {
                let at = report
                    .sources
                    .get(path)
                    .and_then(|t| address_pos(t, &address));
                report.push(Diagnostic::new(
                    path,
                    at,
                    format!("{address}: not a ruleset: {e}"),
                ));
            }
        }
    }
    out
}

/// The resource type and name of an address (`module.a.cloudflare_list_item.x["k"]` →
/// `("cloudflare_list_item", "x")`).
fn address_block(address: &str) -> Option<(String, String)> {
    let plain = address.split('[').next()?;
    let mut parts = plain.rsplit('.');
    let name = parts.next()?;
    let kind = parts.next()?;
    Some((kind.to_string(), name.to_string()))
}

/// Where the resource `address` stands in a plan's text (its `"address": "…"` member), for
/// problems found on the parsed value; a nested address (`….rules[0]….`) is placed at its
/// resource.
pub(super) fn address_pos(text: &str, address: &str) -> Option<crate::diag::Pos> {
    let resource = address.split(".rules[").next().unwrap_or(address);
    let quoted = serde_json::to_string(resource).ok()?;
    let mut from = 0;
    while let Some(i) = text[from..].find(&quoted) {
        let at = from + i;
        let before = text[..at].trim_end();
        if let Some(b) = before.strip_suffix(':')
            && b.trim_end().ends_with("\"address\"")
        {
            return Some(crate::diag::Pos::at(text, at + 1, resource.chars().count()));
        }
        from = at + quoted.len();
    }
    None
}

/// Reads the Terraform source at `path` (a plan or state JSON file), recording its text in
/// `report`'s sources; problems become diagnostics at the file, naming the address.
pub(super) fn load(
    path: &Path,
    cli_vars: &std::collections::BTreeMap<String, String>,
    var_files: &[std::path::PathBuf],
    confine: &crate::confine::Confine,
    report: &mut Report,
) -> Option<Found> {
    if path.is_dir() {
        let found = hcl::read(path, cli_vars, var_files, confine, report)?;
        for (address, problem) in &found.problems {
            // At the resource's block, in whichever file of the source declares it.
            let placed = address_block(address).and_then(|(kind, name)| {
                let header = format!("resource \"{kind}\" \"{name}\"");
                report.sources.iter().find_map(|(file, text)| {
                    text.find(&header)
                        .map(|i| (file.clone(), crate::diag::Pos::at(text, i, header.len())))
                })
            });
            let d = match placed {
                Some((file, pos)) => {
                    Diagnostic::new(&file, Some(pos), format!("{address}: {problem}"))
                }
                None => Diagnostic::new(path, None, format!("{address}: {problem}")),
            };
            report.push(d);
        }
        return Some(found);
    }
    let text = match crate::diag::read_text(path) {
        Ok(t) => t,
        Err(d) => {
            report.push(d);
            return None;
        }
    };
    let parsed: Result<Value, _> = serde_json::from_str(&text);
    report.sources.insert(path.to_path_buf(), text);
    let plan = match parsed {
        Ok(v) => v,
        Err(e) => {
            report.push(Diagnostic::new(
                path,
                Some(crate::diag::Pos::new(e.line(), e.column(), 1)),
                format!("invalid JSON: {e}"),
            ));
            return None;
        }
    };
    match plan::read(&plan) {
        Ok(found) => {
            let text = report.sources.get(path).cloned().unwrap_or_default();
            for (address, problem) in &found.problems {
                report.push(Diagnostic::new(
                    path,
                    address_pos(&text, address),
                    format!("{address}: {problem}"),
                ));
            }
            Some(found)
        }
        Err(e) => {
            report.push(Diagnostic::new(path, None, e));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn v4_blocks_and_v5_attributes_normalize_alike() {
        let v4 = json!({"kind": "zone", "rules": [{"action": "block", "expression": "true", "enabled": true,
            "action_parameters": [{"response": [{"status_code": 429, "content": "x", "content_type": "text/plain"}], "id": null}],
            "ratelimit": []}]});
        let v5 = json!({"kind": "zone", "rules": [{"action": "block", "expression": "true", "enabled": true,
            "action_parameters": {"response": {"status_code": 429, "content": "x", "content_type": "text/plain"}, "id": null},
            "ratelimit": null}]});
        assert_eq!(normalize(&v4), normalize(&v5));
        let headers = json!({"action_parameters": [{"headers": [{"name": "x-a", "operation": "set", "value": "1", "expression": null}]}]});
        assert_eq!(
            normalize(&headers),
            json!({"action_parameters": {"headers": {"x-a": {"operation": "set", "value": "1"}}}})
        );
    }

    #[test]
    fn list_items_of_both_generations() {
        let v4 = json!({"value": [{"ip": "192.0.2.1", "asn": null, "hostname": [], "redirect": []}], "comment": "office"});
        assert_eq!(
            list_item(&v4),
            json!({"ip": "192.0.2.1", "comment": "office"})
        );
        let v5 = json!({"redirect": {"source_url": "a.example/x", "target_url": "https://b.example/", "status_code": 301, "include_subdomains": null}});
        assert_eq!(
            list_item(&v5),
            json!({"redirect": {"source_url": "a.example/x", "target_url": "https://b.example/", "status_code": 301}})
        );
    }
}

//! Variables in Terraform's order (defaults, `TF_VAR_`, tfvars files, `--var-file`, `--var`)
//! with their type constraints applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::Context;
use hcl::{Expression, Value};
use serde_json::Value as J;

use super::super::eval::{NO_VALUE, eval};
use super::super::functions::{context_with_functions, s};
use super::*;
use crate::diag::{Diagnostic, Pos, Report};

/// Variable values: defaults, then terraform.tfvars and *.auto.tfvars, `TF_VAR_name` and
/// `--var` (root module only, in that order, as Terraform reads them), then a module call's
/// inputs.
pub(super) fn variables(
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
pub(super) fn sort_maps(v: &mut Value) {
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
pub(super) fn apply_type(v: &mut Value, t: &Expression, ctx: &Context) {
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

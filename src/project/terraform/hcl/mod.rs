//! The HCL route: the `*.tf` files of a root module (and of local modules it calls with
//! `source = "./…"`), read with hcl-rs and evaluated statically: string literals and heredocs,
//! `var.*` (defaults, `terraform.tfvars`, `*.auto.tfvars`, `TF_VAR_name`), `local.*`, the
//! common functions, `dynamic` blocks, and `for_each` / `count` over known collections.
//! References to `cloudflare_ruleset` and `cloudflare_list` resources resolve to their
//! addresses (their ids before apply). Anything else (data sources, other providers'
//! attributes, unknown functions) is an error at the resource that names the plan route.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::{Body, Expression, Value};
use serde_json::Value as J;

use super::Found;
use super::eval::{UNKNOWN, eval};
use super::functions::{context_with_functions, s, to_json};
use crate::diag::{Diagnostic, Pos, Report};

mod instances;
mod locals;
mod parse;
mod refs;
mod scope;
mod variables;

use instances::*;
use locals::*;
pub(super) use locals::{MAX_VALUE_UNITS, check_size};
use parse::*;
use refs::*;
use scope::*;
use variables::*;

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
/// What reading a configuration's modules gives: every resource, the calls of modules neither
/// local nor installed, each module instance's scope values and outputs, the locals that
/// failed, and how many module arguments waited for another module's output.
struct ModulesRead {
    resources: Vec<Resource>,
    remote: Vec<(String, String)>,
    contexts: BTreeMap<String, BTreeMap<String, Value>>,
    outputs: Vec<(ModuleInstance, Vec<(String, Expression)>)>,
    failed_locals: BTreeMap<String, BTreeMap<String, Diagnostic>>,
    deferred: usize,
}

/// Reads the root module and, breadth first, every module instance it calls (`count`,
/// `for_each`, arguments evaluated with the outputs `known` so far; on the `last` pass an
/// argument still waiting is an error).
fn read_modules(
    dir: &Path,
    (cli_vars, var_files): (&BTreeMap<String, String>, &[PathBuf]),
    confine: &crate::confine::Confine,
    report: &mut Report,
    known: &ModuleValues,
    last: bool,
) -> ModulesRead {
    let mut deferred = 0usize;
    let installed = installed_modules(dir, confine);
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
                && installed_module(&installed, prefix, name).is_none()
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
                installed_module(&installed, prefix, name)
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
            let child = installed.unwrap_or_else(|| crate::confine::folded(&mdir.join(&src)));
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
    ModulesRead {
        resources: all_resources,
        remote,
        contexts,
        outputs,
        failed_locals,
        deferred,
    }
}

fn read_pass(
    dir: &Path,
    (cli_vars, var_files): (&BTreeMap<String, String>, &[PathBuf]),
    confine: &crate::confine::Confine,
    report: &mut Report,
    known: &ModuleValues,
    last: bool,
) -> (Option<Found>, ModuleValues, usize) {
    let mut found = Found::default();
    let before = report.diagnostics.len();
    let ModulesRead {
        resources: all_resources,
        remote,
        contexts,
        outputs,
        mut failed_locals,
        deferred,
    } = read_modules(dir, (cli_vars, var_files), confine, report, known, last);
    let module_values = module_outputs(&outputs, &remote, &contexts);
    evaluate_resources(
        &all_resources,
        &contexts,
        &module_values,
        &mut failed_locals,
        report,
        &mut found,
    );
    join_list_items(&mut found);
    let ok = report.diagnostics.len() == before;
    (ok.then_some(found), module_values, deferred)
}

/// Each Cloudflare ruleset, list and list item, instance by instance: its body evaluated in
/// its module's scope, unknown values refused where a verdict needs them, into `found`. A
/// failing local a resource uses is reported once, as the root cause.
fn evaluate_resources(
    all_resources: &[Resource],
    contexts: &BTreeMap<String, BTreeMap<String, Value>>,
    module_values: &ModuleValues,
    failed_locals: &mut BTreeMap<String, BTreeMap<String, Diagnostic>>,
    report: &mut Report,
    found: &mut Found,
) {
    let mut reported: std::collections::BTreeSet<(String, String)> =
        std::collections::BTreeSet::new();
    for r in all_resources {
        if !matches!(
            r.kind.as_str(),
            "cloudflare_ruleset" | "cloudflare_list" | "cloudflare_list_item"
        ) {
            continue;
        }
        let ctx = module_context(&r.prefix, contexts, module_values);
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
}

/// Module outputs, children first (they were found after their parents): a module with
/// `count` is a list of instances, one with `for_each` a map, as Terraform has them; a module
/// neither local nor installed (`remote`) is unknown.
fn module_outputs(
    outputs: &[(ModuleInstance, Vec<(String, Expression)>)],
    remote: &[(String, String)],
    contexts: &BTreeMap<String, BTreeMap<String, Value>>,
) -> ModuleValues {
    let mut module_values: ModuleValues = BTreeMap::new();
    for (parent, name) in remote {
        module_values.entry(parent.clone()).or_default().insert(
            name.clone(),
            Value::from(format!("{UNKNOWN}{parent}module.{name}")),
        );
    }
    for (inst, outs) in outputs.iter().rev() {
        let ctx = module_context(&inst.prefix, contexts, &module_values);
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
    module_values
}

/// `cloudflare_list_item`s join their list (a list's id is its address here); an item whose
/// list the configuration does not hold is a problem at its address.
fn join_list_items(found: &mut Found) {
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

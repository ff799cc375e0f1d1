//! A module's evaluation scope (`var`, `local`, `data`, resources, `module`, `path`,
//! `terraform`), where registry modules are installed, and the diagnostics of values that
//! cannot be resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::Value;
use hcl::eval::Context;
use serde_json::Value as J;

use super::super::functions::context_with_functions;
use super::*;
use crate::diag::{Diagnostic, Pos, Report};

/// The evaluation context of the module at `prefix`: functions, `var`, `local`, references
/// to its resources, and its module calls' outputs.
pub(super) fn module_context<'a>(
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
pub(super) fn path_object(root: &Path, module: &Path) -> Value {
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

/// The modules `terraform init` installed (`.terraform/modules/modules.json` in the root
/// module's directory): each call's key with its directory. Read once per pass.
pub(super) fn installed_modules(
    root: &Path,
    confine: &crate::confine::Confine,
) -> BTreeMap<String, PathBuf> {
    let manifest = root.join(".terraform/modules/modules.json");
    // Like every file the configuration leads to, the manifest stays inside the repository
    // (the directory it names is checked where the module is read).
    if confine.check(&manifest).is_err() {
        return BTreeMap::new();
    }
    let Some(json) = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|t| serde_json::from_str::<J>(&t).ok())
    else {
        return BTreeMap::new();
    };
    json.get("Modules")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let key = m.get("Key")?.as_str()?;
            let dir = m.get("Dir")?.as_str()?;
            Some((key.to_string(), root.join(dir)))
        })
        .collect()
}

/// Where `terraform init` installed the module `name` called from the module at `prefix`,
/// if it did.
pub(super) fn installed_module(
    installed: &BTreeMap<String, PathBuf>,
    prefix: &str,
    name: &str,
) -> Option<PathBuf> {
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
    installed.get(&key.join(".")).cloned()
}

/// `terraform.workspace`: rulegate reads the default workspace.
pub(super) fn terraform_object() -> Value {
    let mut o = hcl::Map::new();
    o.insert("workspace".to_string(), Value::from("default"));
    Value::Object(o)
}

pub(super) fn report_text<'a>(report: &'a Report, file: &Path) -> &'a str {
    report.sources.get(file).map_or("", String::as_str)
}

/// An expression that cannot be evaluated, placed on its attribute when the reason names one
/// (`` `expression`: … ``, `count: …`, `for_each: …`), else on the block at `at`.
pub(super) fn unresolved(
    report: &Report,
    file: &Path,
    at: usize,
    address: &str,
    why: &str,
) -> Diagnostic {
    unresolved_in(report_text(report, file), file, at, address, why)
}

/// [`unresolved`] with the file's text at hand.
pub(super) fn unresolved_in(
    text: &str,
    file: &Path,
    at: usize,
    address: &str,
    why: &str,
) -> Diagnostic {
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

//! Locals in dependency order (a failing one is an error only where a resource uses it), and
//! the bounds on nesting and value size.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hcl::Value;
use hcl::eval::Context;

use super::super::eval::eval;
use super::*;
use crate::diag::Diagnostic;

/// The `local.NAME`s an expression's text refers to.
pub(super) fn local_refs(text: &str) -> Vec<&str> {
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
pub(super) fn locals(
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
pub(super) const MAX_FOR_NESTING: usize = 3;

/// The largest value one expression may make: elements and string bytes together.
pub(in crate::project::terraform) const MAX_VALUE_UNITS: usize = 1_000_000;

/// Refuses an expression (as text) whose `for` expressions nest deeper than
/// [`MAX_FOR_NESTING`]: eight levels over small lists already take minutes.
pub(super) fn check_nesting(text: &str) -> Result<(), String> {
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
pub(in crate::project::terraform) fn check_size(v: &Value) -> Result<(), String> {
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

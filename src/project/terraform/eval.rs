//! Evaluation of Terraform expressions over partly unknown values, as `terraform plan` does.
//!
//! hcl-rs evaluates an expression all at once and knows nothing of unknowns. Here the
//! expressions whose results depend on their operands' values (conditionals, operations,
//! function calls, `for` expressions, templates, object keys, index expressions) are
//! evaluated node by node: an operand that is unknown (a data source, a module output known
//! only at apply, a root variable without a value: a string holding [`UNKNOWN`] or
//! [`NO_VALUE`]) makes the result unknown, named after that first unknown value, instead of a
//! comparison with the placeholder's text. Leaves (variables, traversals, literals) are left to
//! hcl-rs; an error there that names a placeholder is that placeholder's unknown.
//!
//! Also here, because they need lazily evaluated arguments or the module's directory: `try`,
//! `can`, and the filesystem functions (`file`, `fileexists`, `filebase64`, `templatefile`),
//! which read only inside the confinement [`FileAccess::enter`] sets.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hcl::Value;
use hcl::eval::{Context, Evaluate};
use hcl::expr::{
    BinaryOp, Expression, ForExpr, FuncCall, ObjectKey, Operation, TemplateExpr, Traversal,
    TraversalOperator, UnaryOp,
};
use hcl::template::{Directive, Element, Template};

use super::functions::{s, to_json};
use super::hcl::MAX_VALUE_UNITS;

/// A value known only after apply: a string holding this prefix and the reference's text
/// (`data.cloudflare_zone.main.id`). A `zone_id` or `account_id` that is unknown is still one
/// zone or account, named by its reference text; anywhere else it is an error at the attribute.
pub(super) const UNKNOWN: &str = "\u{1}unknown:";

/// A root-module variable nobody gave a value (Terraform would prompt for it): the prefix and
/// `var.NAME`.
pub(super) const NO_VALUE: &str = "\u{1}novalue:";

/// Functions that only move values around: an unknown argument flows into the result (where
/// its use is checked) rather than making the whole result unknown.
const STRUCTURAL: &[&str] = &[
    "concat",
    "merge",
    "flatten",
    "tolist",
    "toset",
    "tomap",
    "values",
    "lookup",
    "element",
    "slice",
    "reverse",
    "coalescelist",
    "one",
    "zipmap",
    "sensitive",
    "nonsensitive",
];

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The placeholder a text holds first (raw, or escaped as hcl-rs prints values in errors),
/// as a value of its own.
fn placeholder_in(text: &str) -> Option<Value> {
    let mut best: Option<(usize, &str, usize)> = None;
    for prefix in [UNKNOWN, NO_VALUE] {
        let word = &prefix[1..];
        for (marker, skip) in [
            (prefix.to_string(), prefix.len()),
            (format!("\\u0001{word}"), 6 + word.len()),
        ] {
            if let Some(i) = text.find(&marker)
                && best.is_none_or(|(b, ..)| i < b)
            {
                best = Some((i, prefix, i + skip));
            }
        }
    }
    let (_, prefix, from) = best?;
    let reference: String = text[from..]
        .chars()
        .take_while(|&c| is_ident_char(c))
        .collect();
    Some(Value::from(format!(
        "{prefix}{}",
        reference.trim_end_matches('.')
    )))
}

/// Whether `v` is itself an unknown value (not merely holding one).
pub(super) fn is_unknown(v: &Value) -> bool {
    matches!(v, Value::String(t) if t.starts_with(UNKNOWN) || t.starts_with(NO_VALUE))
}

/// The first unknown value `v` holds anywhere (as an element, a field, or inside a string).
pub(super) fn unknown_in(v: &Value) -> Option<Value> {
    match v {
        Value::String(t) if t.contains('\u{1}') => placeholder_in(t),
        Value::Array(a) => a.iter().find_map(unknown_in),
        Value::Object(o) => o.values().find_map(unknown_in),
        _ => None,
    }
}

/// Why an unknown value is unknown, for messages: "`data.x.y` is known only after apply" or
/// "variable `name` has no value".
pub(super) fn why_unknown(v: &Value) -> String {
    let t = v.as_str().unwrap_or_default();
    if let Some(r) = t.strip_prefix(NO_VALUE) {
        format!("variable `{}` has no value", r.trim_start_matches("var."))
    } else {
        let r = t.strip_prefix(UNKNOWN).unwrap_or(t);
        if r.starts_with("data.") {
            format!("`{r}` is read when Terraform plans, which rulegate does not do offline")
        } else if r.starts_with("module.") {
            format!(
                "`{r}` comes from a module that is neither local nor installed (run `terraform init`: rulegate reads .terraform/modules)"
            )
        } else {
            format!("`{r}` is known only after apply")
        }
    }
}

/// An error from hcl-rs: the unknown value it names, if any, else its first line.
fn from_hcl(e: &hcl::eval::Error) -> Result<Value, String> {
    let text = e.to_string();
    match placeholder_in(&text) {
        Some(u) => Ok(u),
        None => Err(text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(&text)
            .to_string()),
    }
}

fn hcl_eval<T: Evaluate<Output = Value>>(x: &T, ctx: &Context) -> Result<Value, String> {
    x.evaluate(ctx).or_else(|e| from_hcl(&e))
}

/// Whether evaluating `e` needs this module's own evaluation (anything whose result depends
/// on its operands' values, or a function hcl-rs does not have).
fn needs_own(e: &Expression) -> bool {
    match e {
        Expression::Null
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_)
        | Expression::Variable(_) => false,
        Expression::Traversal(t) => {
            needs_own(&t.expr)
                || t.operators.iter().any(|op| match op {
                    TraversalOperator::Index(i) => needs_own(i),
                    _ => false,
                })
        }
        Expression::Parenthesis(inner) => needs_own(inner),
        Expression::Array(items) => items.iter().any(needs_own),
        Expression::Object(o) => o.iter().any(|(k, v)| {
            needs_own(v)
                || match k {
                    ObjectKey::Expression(k) => needs_own(k),
                    _ => false,
                }
        }),
        _ => true,
    }
}

/// Evaluates `e` in `ctx`: its value (possibly unknown, or holding unknowns), or an error.
pub(super) fn eval(e: &Expression, ctx: &Context) -> Result<Value, String> {
    match e {
        Expression::Parenthesis(inner) => eval(inner, ctx),
        Expression::Array(items) if items.iter().any(needs_own) => items
            .iter()
            .map(|i| eval(i, ctx))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Expression::Object(o)
            if o.iter().any(|(k, v)| {
                needs_own(v) || matches!(k, ObjectKey::Expression(k) if needs_own(k))
            }) =>
        {
            let mut out = hcl::Map::new();
            for (k, v) in o {
                let key = match k {
                    ObjectKey::Identifier(id) => id.to_string(),
                    ObjectKey::Expression(k) => {
                        let kv = eval(k, ctx)?;
                        if let Some(u) = unknown_in(&kv) {
                            return Ok(u);
                        }
                        key_string(&kv)?
                    }
                    other => return Err(format!("an object key rulegate cannot read: {other:?}")),
                };
                out.insert(key, eval(v, ctx)?);
            }
            Ok(Value::Object(out))
        }
        Expression::Conditional(c) => {
            let cond = eval(&c.cond_expr, ctx)?;
            if let Some(u) = unknown_in(&cond) {
                return Ok(u);
            }
            if truth(&cond, "the condition of `? :`")? {
                eval(&c.true_expr, ctx)
            } else {
                eval(&c.false_expr, ctx)
            }
        }
        Expression::Operation(op) => operation(op, ctx),
        Expression::FuncCall(f) => call(f, ctx),
        Expression::ForExpr(f) => for_expr(f, ctx),
        Expression::TemplateExpr(t) => template_expr(t, ctx),
        Expression::Traversal(t) if needs_own(e) => traversal(t, ctx),
        _ => hcl_eval(e, ctx),
    }
}

fn key_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(s(v)),
        other => Err(format!(
            "an object key must be a string, not {}",
            to_json(other)
        )),
    }
}

/// A condition's truth: a bool, or the strings "true"/"false" (as Terraform converts).
fn truth(v: &Value, what: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(t) if t == "true" || t == "false" => Ok(t == "true"),
        Value::Null => Err(format!("{what} is null")),
        other => Err(format!("{what} is {}, not a bool", to_json(other))),
    }
}

fn operation(op: &Operation, ctx: &Context) -> Result<Value, String> {
    match op {
        Operation::Unary(u) => {
            let v = eval(&u.expr, ctx)?;
            if let Some(u) = unknown_in(&v) {
                return Ok(u);
            }
            hcl_eval(
                &Operation::Unary(UnaryOp::new(u.operator, Expression::from(v))),
                ctx,
            )
        }
        Operation::Binary(b) => {
            let l = eval(&b.lhs_expr, ctx)?;
            if let Some(u) = unknown_in(&l) {
                return Ok(u);
            }
            let r = eval(&b.rhs_expr, ctx)?;
            if let Some(u) = unknown_in(&r) {
                return Ok(u);
            }
            hcl_eval(
                &Operation::Binary(BinaryOp::new(
                    Expression::from(l),
                    b.operator,
                    Expression::from(r),
                )),
                ctx,
            )
        }
    }
}

fn traversal(t: &Traversal, ctx: &Context) -> Result<Value, String> {
    let base = eval(&t.expr, ctx)?;
    if is_unknown(&base) {
        return Ok(base);
    }
    let mut operators = Vec::with_capacity(t.operators.len());
    for op in &t.operators {
        operators.push(match op {
            TraversalOperator::Index(i) if needs_own(i) => {
                let iv = eval(i, ctx)?;
                if let Some(u) = unknown_in(&iv) {
                    return Ok(u);
                }
                TraversalOperator::Index(Expression::from(iv))
            }
            other => other.clone(),
        });
    }
    hcl_eval(&Traversal::new(Expression::from(base), operators), ctx)
}

/// A map's (key, value) entries in lexical order of the keys, as Terraform walks a map.
pub(super) fn map_entries(o: &hcl::Map<String, Value>) -> Vec<(Value, Value)> {
    let mut e: Vec<(Value, Value)> = o
        .iter()
        .map(|(k, v)| (Value::from(k.clone()), v.clone()))
        .collect();
    e.sort_by_key(|(k, _)| s(k));
    e
}

/// A collection's (key, value) pairs for `for`: a map's entries in lexical key order (as
/// Terraform walks them), a list's or set's (index, element).
fn for_entries(v: &Value) -> Result<Vec<(Value, Value)>, String> {
    match v {
        Value::Object(o) => Ok(map_entries(o)),
        Value::Array(a) => Ok(a
            .iter()
            .enumerate()
            .map(|(i, x)| (Value::from(i), x.clone()))
            .collect()),
        Value::Null => Err("a `for` expression over null".to_string()),
        other => Err(format!(
            "a `for` expression needs a list, set, map or object, not {}",
            to_json(other)
        )),
    }
}

fn for_expr(f: &ForExpr, ctx: &Context) -> Result<Value, String> {
    let collection = eval(&f.collection_expr, ctx)?;
    if is_unknown(&collection) {
        return Ok(collection);
    }
    charge(units(&collection))?;
    let simple = !needs_own(&f.value_expr)
        && !f.key_expr.as_ref().is_some_and(needs_own)
        && !f.cond_expr.as_ref().is_some_and(needs_own);
    if simple {
        // Nothing in the body depends on values: hcl-rs walks it in a child scope.
        let mut literal = f.clone();
        literal.collection_expr = Expression::from(collection);
        return hcl_eval(&literal, ctx);
    }
    let entries = for_entries(&collection)?;
    // hcl-rs keeps child scopes private: a fresh scope holding only what the body reads
    // (copying the whole scope per `for` would make nested loops quadratic in its size).
    let mut inner = scope_for(f, ctx)?;
    let mut list = Vec::new();
    let mut map: hcl::Map<String, Value> = hcl::Map::new();
    for (k, v) in entries {
        if let Some(kv) = &f.key_var {
            inner.declare_var(kv.clone(), k);
        }
        inner.declare_var(f.value_var.clone(), v);
        if let Some(c) = &f.cond_expr {
            let cv = eval(c, &inner)?;
            if let Some(u) = unknown_in(&cv) {
                return Ok(u);
            }
            if !truth(&cv, "the `if` of a `for` expression")? {
                continue;
            }
        }
        let value = eval(&f.value_expr, &inner)?;
        match &f.key_expr {
            None => list.push(value),
            Some(ke) => {
                let kv = eval(ke, &inner)?;
                if let Some(u) = unknown_in(&kv) {
                    return Ok(u);
                }
                let key = key_string(&kv)?;
                if f.grouping {
                    match map.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                        Value::Array(a) => a.push(value),
                        _ => unreachable!("grouped entries are lists"),
                    }
                } else if map.contains_key(&key) {
                    return Err(format!(
                        "a `for` expression makes the key \"{key}\" twice (add `...` after the value to group them)"
                    ));
                } else {
                    map.insert(key, value);
                }
            }
        }
        if list.len() + map.len() > MAX_VALUE_UNITS {
            return Err(format!(
                "a `for` expression makes more than the {MAX_VALUE_UNITS} elements rulegate evaluates"
            ));
        }
    }
    Ok(if f.key_expr.is_some() {
        Value::Object(map)
    } else {
        Value::Array(list)
    })
}

/// A scope with the functions and the variables `f`'s body reads from `ctx`: of a root read
/// only as `root.attr…`, just those attributes.
fn scope_for<'c>(f: &ForExpr, ctx: &Context) -> Result<Context<'c>, String> {
    let mut roots: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    for e in [
        Some(&f.value_expr),
        f.key_expr.as_ref(),
        f.cond_expr.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        free_roots(e, &mut roots);
    }
    let mut scope = super::functions::context_with_functions();
    for (root, attrs) in roots {
        if f.key_var.as_ref().is_some_and(|k| k.as_str() == root) || f.value_var.as_str() == root {
            continue;
        }
        let var = Expression::Variable(hcl::expr::Variable::unchecked(root.clone()));
        match attrs {
            None => {
                if let Ok(v) = var.evaluate(ctx) {
                    charge(units(&v))?;
                    scope.declare_var(hcl::Identifier::unchecked(root), v);
                }
            }
            Some(attrs) => {
                let mut o = hcl::Map::new();
                for a in attrs {
                    let get = Traversal::new(
                        var.clone(),
                        [TraversalOperator::GetAttr(hcl::Identifier::unchecked(
                            a.clone(),
                        ))],
                    );
                    if let Ok(v) = get.evaluate(ctx) {
                        charge(units(&v))?;
                        o.insert(a, v);
                    }
                }
                scope.declare_var(hcl::Identifier::unchecked(root), Value::Object(o));
            }
        }
    }
    Ok(scope)
}

/// The variables an expression reads: each root, with the attributes it is read through
/// (`None`: the whole value).
fn free_roots(e: &Expression, out: &mut BTreeMap<String, Option<BTreeSet<String>>>) {
    match e {
        Expression::Variable(v) => {
            out.insert(v.as_str().to_string(), None);
        }
        Expression::Traversal(t) => {
            match (&t.expr, t.operators.first()) {
                (Expression::Variable(v), Some(TraversalOperator::GetAttr(a))) => {
                    // A root also read whole stays whole (`None`).
                    if let Some(set) = out
                        .entry(v.as_str().to_string())
                        .or_insert_with(|| Some(BTreeSet::new()))
                    {
                        set.insert(a.as_str().to_string());
                    }
                }
                _ => free_roots(&t.expr, out),
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    free_roots(i, out);
                }
            }
        }
        Expression::Parenthesis(inner) => free_roots(inner, out),
        Expression::Array(items) => items.iter().for_each(|i| free_roots(i, out)),
        Expression::Object(o) => {
            for (k, v) in o {
                if let ObjectKey::Expression(k) = k {
                    free_roots(k, out);
                }
                free_roots(v, out);
            }
        }
        Expression::Conditional(c) => {
            free_roots(&c.cond_expr, out);
            free_roots(&c.true_expr, out);
            free_roots(&c.false_expr, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => free_roots(&u.expr, out),
            Operation::Binary(b) => {
                free_roots(&b.lhs_expr, out);
                free_roots(&b.rhs_expr, out);
            }
        },
        Expression::FuncCall(c) => c.args.iter().for_each(|a| free_roots(a, out)),
        Expression::ForExpr(f) => {
            for e in [
                Some(&f.collection_expr),
                Some(&f.value_expr),
                f.key_expr.as_ref(),
                f.cond_expr.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                free_roots(e, out);
            }
        }
        Expression::TemplateExpr(t) => {
            if let Ok(tpl) = Template::from_expr(t) {
                template_roots(&tpl, out);
            }
        }
        _ => {}
    }
}

fn template_roots(t: &Template, out: &mut BTreeMap<String, Option<BTreeSet<String>>>) {
    for el in t.elements() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => free_roots(&i.expr, out),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    free_roots(&d.cond_expr, out);
                    template_roots(&d.true_template, out);
                    if let Some(f) = &d.false_template {
                        template_roots(f, out);
                    }
                }
                Directive::For(d) => {
                    free_roots(&d.collection_expr, out);
                    template_roots(&d.template, out);
                }
            },
        }
    }
}

fn template_expr(t: &TemplateExpr, ctx: &Context) -> Result<Value, String> {
    let template = Template::from_expr(t).map_err(|e| e.to_string())?;
    if let [Element::Interpolation(i)] = template.elements() {
        return eval(&i.expr, ctx);
    }
    template_value(template, ctx)
}

/// A template's string: its interpolations and directive conditions evaluated here (an
/// unknown one makes the whole string unknown), the rest by hcl-rs.
fn template_value(mut template: Template, ctx: &Context) -> Result<Value, String> {
    if let Some(u) = resolve_template(&mut template, ctx)? {
        return Ok(u);
    }
    template
        .evaluate(ctx)
        .map(Value::String)
        .or_else(|e| from_hcl(&e))
}

/// Replaces a template's interpolations (outside `for` directives, whose bodies see the loop
/// variables) by their values; an unknown one is returned instead.
fn resolve_template(t: &mut Template, ctx: &Context) -> Result<Option<Value>, String> {
    for el in t.elements_mut() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => {
                let v = eval(&i.expr, ctx)?;
                if let Some(u) = unknown_in(&v) {
                    return Ok(Some(u));
                }
                i.expr = Expression::from(v);
            }
            Element::Directive(d) => match d.as_mut() {
                Directive::If(d) => {
                    let v = eval(&d.cond_expr, ctx)?;
                    if let Some(u) = unknown_in(&v) {
                        return Ok(Some(u));
                    }
                    d.cond_expr = Expression::from(v);
                    if let Some(u) = resolve_template(&mut d.true_template, ctx)? {
                        return Ok(Some(u));
                    }
                    if let Some(f) = &mut d.false_template
                        && let Some(u) = resolve_template(f, ctx)?
                    {
                        return Ok(Some(u));
                    }
                }
                Directive::For(d) => {
                    let v = eval(&d.collection_expr, ctx)?;
                    if let Some(u) = unknown_in(&v) {
                        return Ok(Some(u));
                    }
                    d.collection_expr = Expression::from(v);
                }
            },
        }
    }
    Ok(None)
}

/// The most value units (elements and string bytes) one configuration's evaluation may copy
/// into function calls and loop scopes: a bound on the time a hostile configuration can take
/// (Terraform has none; real configurations copy far less).
pub(super) const MAX_WORK: u64 = 200_000_000;

thread_local! {
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static WORK_LIMIT: std::cell::Cell<u64> = const { std::cell::Cell::new(MAX_WORK) };
}

fn units(v: &Value) -> u64 {
    match v {
        Value::String(s) => 1 + s.len() as u64,
        Value::Array(a) => 1 + a.iter().map(units).sum::<u64>(),
        Value::Object(o) => {
            1 + o
                .iter()
                .map(|(k, v)| k.len() as u64 + units(v))
                .sum::<u64>()
        }
        _ => 1,
    }
}

/// Counts `n` units of copying against [`MAX_WORK`].
fn charge(n: u64) -> Result<(), String> {
    let total = WORK.with(|w| {
        let t = w.get().saturating_add(n);
        w.set(t);
        t
    });
    let limit = WORK_LIMIT.with(std::cell::Cell::get);
    if total > limit {
        return Err(format!(
            "evaluating the configuration copies more than the {limit} values and string bytes rulegate evaluates (loops over large collections)"
        ));
    }
    Ok(())
}

fn call(f: &FuncCall, ctx: &Context) -> Result<Value, String> {
    let name = f.name.name.as_str();
    if !f.name.namespace.is_empty() {
        return Err(format!(
            "`{}` is a provider-defined function, which rulegate does not evaluate offline; use the plan route (terraform show -json)",
            f.name
        ));
    }
    match name {
        "try" => {
            let mut last = String::from("try needs at least one argument");
            for a in &f.args {
                match eval(a, ctx) {
                    Ok(v) => return Ok(v),
                    Err(e) => last = e,
                }
            }
            return Err(format!(
                "no argument of `try` could be evaluated; the last: {last}"
            ));
        }
        "can" => {
            let [a] = f.args.as_slice() else {
                return Err("can takes one argument".to_string());
            };
            return Ok(match eval(a, ctx) {
                Ok(v) if is_unknown(&v) => v,
                Ok(_) => Value::Bool(true),
                Err(_) => Value::Bool(false),
            });
        }
        _ => {}
    }
    let mut args = Vec::with_capacity(f.args.len());
    for a in &f.args {
        args.push(eval(a, ctx)?);
    }
    if f.expand_final {
        match args.pop() {
            Some(Value::Array(rest)) => args.extend(rest),
            Some(u) if is_unknown(&u) => return Ok(u),
            Some(other) => {
                return Err(format!(
                    "`...` after the last argument of `{name}` needs a list, not {}",
                    to_json(&other)
                ));
            }
            None => {}
        }
    }
    charge(args.iter().map(units).sum())?;
    if !STRUCTURAL.contains(&name)
        && let Some(u) = args.iter().find_map(unknown_in)
    {
        return Ok(u);
    }
    match name {
        "file" | "fileexists" | "filebase64" | "templatefile" => return file_function(name, &args),
        _ => {}
    }
    let literal = FuncCall {
        name: f.name.clone(),
        args: args.into_iter().map(Expression::from).collect(),
        expand_final: false,
    };
    hcl_eval(&literal, ctx)
}

// ---- filesystem functions -----------------------------------------------------------------

thread_local! {
    static FILES: RefCell<Option<(PathBuf, crate::confine::Confine)>> = const { RefCell::new(None) };
}

/// While alive, the filesystem functions read relative paths from `root` (the root module's
/// directory, Terraform's working directory) and only files `confine` allows.
pub(super) struct FileAccess(());

impl FileAccess {
    pub(super) fn enter(root: &Path, confine: &crate::confine::Confine) -> FileAccess {
        FILES.with(|f| *f.borrow_mut() = Some((root.to_path_buf(), confine.clone())));
        WORK.with(|w| w.set(0));
        FileAccess(())
    }
}

impl Drop for FileAccess {
    fn drop(&mut self) {
        FILES.with(|f| *f.borrow_mut() = None);
    }
}

fn file_function(name: &str, args: &[Value]) -> Result<Value, String> {
    let path = match args.first() {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(format!("{name}: the first argument must be a path")),
    };
    let (root, confine) = FILES
        .with(|f| f.borrow().clone())
        .ok_or_else(|| format!("{name}: files cannot be read here"))?;
    let full = if Path::new(&path).is_absolute() {
        PathBuf::from(&path)
    } else {
        root.join(&path)
    };
    if name == "fileexists" {
        return Ok(Value::Bool(confine.check(&full).is_ok() && full.is_file()));
    }
    confine
        .check(&full)
        .map_err(|why| format!("{name}(\"{path}\"): {why}"))?;
    let meta = std::fs::metadata(&full).map_err(|e| format!("{name}(\"{path}\"): {e}"))?;
    if meta.len() > MAX_VALUE_UNITS as u64 {
        return Err(format!(
            "{name}(\"{path}\"): the file is larger than the {MAX_VALUE_UNITS} bytes rulegate reads"
        ));
    }
    let bytes = std::fs::read(&full).map_err(|e| format!("{name}(\"{path}\"): {e}"))?;
    if name == "filebase64" {
        return Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(&bytes),
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{name}(\"{path}\"): the file is not UTF-8 text"))?;
    if name == "file" {
        return Ok(Value::from(text));
    }
    // templatefile(path, vars): the file as a template that sees only `vars` (and functions).
    let vars = match args.get(1) {
        Some(Value::Object(o)) => o.clone(),
        Some(Value::Null) | None => hcl::Map::new(),
        Some(other) => {
            return Err(format!(
                "templatefile: the variables must be an object, not {}",
                to_json(other)
            ));
        }
    };
    let template: Template = text
        .parse()
        .map_err(|e: hcl::Error| format!("templatefile(\"{path}\"): {e}"))?;
    let mut ctx = super::functions::context_with_functions();
    for (k, v) in vars {
        ctx.declare_var(k, v);
    }
    template_value(template, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str, vars: &[(&str, Value)]) -> Result<Value, String> {
        let body = hcl::parse(&format!("v = {expr}")).map_err(|e| e.to_string())?;
        let a = body.attributes().next().ok_or("no attribute")?;
        let mut ctx = super::super::functions::context_with_functions();
        for (k, v) in vars {
            ctx.declare_var(*k, v.clone());
        }
        eval(&a.expr, &ctx)
    }

    fn data() -> Value {
        let mut zone = hcl::Map::new();
        zone.insert(
            "result".to_string(),
            Value::from(format!("{UNKNOWN}data.cloudflare_zones.z.result")),
        );
        zone.insert(
            "id".to_string(),
            Value::from(format!("{UNKNOWN}data.cloudflare_zones.z.id")),
        );
        let mut z = hcl::Map::new();
        z.insert("z".to_string(), Value::Object(zone));
        let mut d = hcl::Map::new();
        d.insert("cloudflare_zones".to_string(), Value::Object(z));
        Value::Object(d)
    }

    #[test]
    fn an_unknown_operand_makes_the_result_unknown_never_a_comparison_with_its_text() {
        let vars = [("data", data())];
        let u = Value::from(format!("{UNKNOWN}data.cloudflare_zones.z.result"));
        for e in [
            "data.cloudflare_zones.z.result[0].id",
            "lookup(data.cloudflare_zones.z.result[0], \"id\", \"\")",
            "length(data.cloudflare_zones.z.result) > 0 ? \"a\" : \"b\"",
            "data.cloudflare_zones.z.result == \"x\"",
            "!(data.cloudflare_zones.z.result == \"x\")",
            "[for r in data.cloudflare_zones.z.result : r.id]",
            "\"zone ${data.cloudflare_zones.z.result}\"",
            "upper(data.cloudflare_zones.z.result)",
            "try(data.cloudflare_zones.z.result[0], \"fallback\")",
            "can(data.cloudflare_zones.z.result)",
        ] {
            assert_eq!(run(e, &vars), Ok(u.clone()), "{e}");
        }
        // Values that do not depend on it stay known.
        assert_eq!(
            run("true ? \"a\" : data.cloudflare_zones.z.result", &vars),
            Ok(Value::from("a"))
        );
        assert_eq!(
            run("length([data.cloudflare_zones.z.id, \"b\"])", &vars).map(|v| v.is_number()),
            Ok(false),
            "an argument holding an unknown makes a non-structural function unknown"
        );
        assert_eq!(
            run("concat([data.cloudflare_zones.z.id], [\"b\"])", &vars),
            Ok(Value::Array(vec![
                Value::from(format!("{UNKNOWN}data.cloudflare_zones.z.id")),
                Value::from("b")
            ]))
        );
    }

    #[test]
    fn a_variable_without_value_keeps_its_name() {
        let mut var = hcl::Map::new();
        var.insert("env".to_string(), Value::from(format!("{NO_VALUE}var.env")));
        let r = run(
            "var.env == \"prod\" ? 1 : 2",
            &[("var", Value::Object(var))],
        )
        .unwrap();
        assert_eq!(why_unknown(&r), "variable `env` has no value");
    }

    #[test]
    fn try_and_can_as_terraform_documents_them() {
        let mut m = hcl::Map::new();
        m.insert("a".to_string(), Value::from("x"));
        let vars = [("local", Value::Object(m))];
        assert_eq!(
            run("try(local.b, \"fallback\")", &vars),
            Ok(Value::from("fallback"))
        );
        assert_eq!(
            run("try(local.a, \"fallback\")", &vars),
            Ok(Value::from("x"))
        );
        assert_eq!(run("can(local.b)", &vars), Ok(Value::Bool(false)));
        assert_eq!(run("can(local.a)", &vars), Ok(Value::Bool(true)));
        assert!(run("try(local.b, local.c)", &vars).is_err());
        assert_eq!(
            run("[for k, v in {b = 1, a = 2} : \"${k}=${v}\" if v > 0]", &[]),
            Ok(Value::Array(vec![Value::from("a=2"), Value::from("b=1")]))
        );
        assert_eq!(
            run(
                "{for s in [\"a\", \"bb\", \"cc\"] : length(s) => s...}",
                &[]
            )
            .map(|v| to_json(&v)),
            Ok(serde_json::json!({"1": ["a"], "2": ["bb", "cc"]}))
        );
        assert!(run("{for s in [\"a\", \"a\"] : s => s}", &[]).is_err());
        assert_eq!(
            run(
                "\"%{ if try(local.b, false) }yes%{ else }no%{ endif }\"",
                &vars
            ),
            Ok(Value::from("no"))
        );
    }

    #[test]
    fn copying_is_bounded_so_nested_loops_over_large_values_stop_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let confine = crate::confine::Confine::at(dir.path());
        let _files = FileAccess::enter(dir.path(), &confine);
        WORK_LIMIT.with(|l| l.set(100_000));
        let mut big = hcl::Map::new();
        big.insert(
            "big".to_string(),
            Value::Array((0..1000).map(|i| Value::from(format!("v{i}"))).collect()),
        );
        let vars = [("local", Value::Object(big))];
        // One pass over it is fine; a loop that copies it per element is not.
        assert!(run("length(local.big)", &vars).is_ok());
        let e = run(
            "[for i in range(1000) : [for x in local.big : x if x != \"\"]]",
            &vars,
        )
        .unwrap_err();
        assert!(e.contains("copies more than the 100000"), "{e}");
        WORK_LIMIT.with(|l| l.set(MAX_WORK));
    }

    #[test]
    fn files_are_read_relative_to_the_root_and_only_inside_the_confinement() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
        std::fs::write(
            dir.path().join("t.tpl"),
            "Hi ${name}%{ if loud }!%{ endif }",
        )
        .unwrap();
        let confine = crate::confine::Confine::at(dir.path());
        let _files = FileAccess::enter(dir.path(), &confine);
        assert_eq!(run("file(\"a.txt\")", &[]), Ok(Value::from("hello")));
        assert_eq!(run("fileexists(\"a.txt\")", &[]), Ok(Value::Bool(true)));
        assert_eq!(
            run("fileexists(\"/etc/passwd\")", &[]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            run("filebase64(\"a.txt\")", &[]),
            Ok(Value::from("aGVsbG8="))
        );
        assert_eq!(
            run("templatefile(\"t.tpl\", {name = \"x\", loud = true})", &[]),
            Ok(Value::from("Hi x!"))
        );
        let e = run("file(\"/etc/passwd\")", &[]).unwrap_err();
        assert!(e.contains("outside"), "{e}");
    }
}

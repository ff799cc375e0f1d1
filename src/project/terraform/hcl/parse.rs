//! Reading a module's `*.tf` files: the blocks it declares, where each stands, and the
//! rewrite of hcl-rs's reading into Terraform's (template escapes, literal keys in lexical
//! order).

use std::path::{Path, PathBuf};

use hcl::{Body, Expression};

use super::*;
use crate::diag::{Diagnostic, Pos, Report};

pub(super) fn tf_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
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
pub(super) const NOT_FOUND: usize = usize::MAX;

/// Where the block `kind "a" "b"` starts in `text` (for positions); [`NOT_FOUND`] when not
/// found (a block at byte 0 is found at 0).
pub(super) fn header_offset(text: &str, kind: &str, labels: &[&str]) -> usize {
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
pub(super) fn read_as_terraform(body: &mut Body) {
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
pub(super) fn sort_literal_keys(o: &mut hcl::expr::Object<hcl::expr::ObjectKey, Expression>) {
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

pub(super) fn parse_module(
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

pub(super) fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s)
}

// ---- evaluation ------------------------------------------------------------------------

/// Where attribute `key` of the block starting at byte `at` is written (its name), else `at`.
pub(super) fn attribute_offset(text: &str, at: usize, key: &str) -> usize {
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
pub(super) fn body_text(body: &Body) -> String {
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

//! The Cloudflare Rules language (wirefilter-compatible): parse and type-check
//! ([`parse`]), compile ([`compile`]) and evaluate against a [`Context`] built once per request
//! ([`request`]). Cloudflare's documented rule applies: a comparison on a missing value is false.
//!
//! ```
//! use rulegate::rules::{self, Context, Lists, Value};
//! let f = rules::compile_filter(r#"http.host wildcard "*.example.com" and not ssl"#, &Lists::new()).unwrap();
//! let mut ctx = Context::new();
//! ctx.set("http.host", Value::bytes("www.Example.com")).unwrap();
//! ctx.set("ssl", Value::Bool(false)).unwrap();
//! assert!(f.execute(&ctx));
//! ```

mod answer;
pub(crate) mod ast;
pub(crate) mod availability;
mod compile;
mod context;
pub(crate) mod cost;
mod error;
pub(crate) mod explain;
pub(crate) mod functions;
mod lists;
pub(crate) mod parse;
pub mod request;
pub(crate) mod sample;
pub(crate) mod scheme;
mod types;
pub(crate) mod wildcard;

#[cfg(test)]
pub(crate) use answer::Answer;
pub(crate) use answer::evaluate;
pub use compile::{Filter, ValueProgram};
pub use context::Context;
pub use error::{ErrorKind, FieldError, RequestError, RuleError, ValueError};
pub use lists::{IpSet, List, Lists, RedirectItem};
pub(crate) use lists::{item_holds, parse_ip_item};
pub(crate) use parse::{ParseLimits, parse_filter, parse_value};
pub use scheme::FieldId;
pub use types::{Type, Value};

/// Parses and compiles a filter with the default settings.
pub fn compile_filter(src: &str, lists: &Lists) -> Result<Filter, RuleError> {
    parse_filter(src, lists, &ParseLimits::default()).map(|e| Filter::new(&e))
}

/// Compiles the expressions of one project against its lists, building each distinct regex
/// once: rules that use the same regex share its compiled program and its search cache.
#[derive(Debug)]
pub struct Compiler<'l> {
    lists: &'l Lists,
    settings: ParseLimits,
    regexes: parse::RegexCache,
}

impl<'l> Compiler<'l> {
    pub fn new(lists: &'l Lists) -> Self {
        Compiler {
            lists,
            settings: ParseLimits::default(),
            regexes: parse::RegexCache::default(),
        }
    }

    pub fn lists(&self) -> &'l Lists {
        self.lists
    }

    /// Parses and compiles a filter.
    pub fn filter(&self, src: &str) -> Result<Filter, RuleError> {
        self.parse_filter(src).map(|e| Filter::new(&e))
    }

    /// Parses and compiles a value expression.
    pub fn value(&self, src: &str) -> Result<ValueProgram, RuleError> {
        self.parse_value(src).map(|v| ValueProgram::new(&v))
    }

    /// How many distinct regexes it has built.
    pub fn regexes(&self) -> usize {
        self.regexes.len()
    }

    pub(crate) fn parse_filter(&self, src: &str) -> Result<ast::Expr, RuleError> {
        parse::parse_filter_with(src, self.lists, &self.settings, &self.regexes)
    }

    pub(crate) fn parse_value(&self, src: &str) -> Result<ast::ValueExpr, RuleError> {
        parse::parse_value_with(src, self.lists, &self.settings, &self.regexes)
    }
}

/// The lists (`$name`) a filter uses, each with the kind its comparison implies (`ip`, `asn`,
/// `hostname`, or `redirect` for `http.request.full_uri`), read from its syntax tree; the
/// lists need not exist yet (`rulegate pull` finds them this way before downloading them).
pub fn lists_used(
    expr: &str,
) -> Result<std::collections::BTreeMap<String, &'static str>, RuleError> {
    struct Names(std::collections::BTreeMap<String, &'static str>);
    impl ast::Visitor for Names {
        fn visit_expr(&mut self, e: &ast::Expr) {
            if let ast::ExprKind::Cmp(lhs, _, ast::Rhs::List(l)) = &e.kind {
                let kind = match l.list.kind() {
                    "hostname" if lhs.to_string() == "http.request.full_uri" => "redirect",
                    k => k,
                };
                self.0.entry(l.name.clone()).or_insert(kind);
            }
            ast::walk_expr(self, e);
        }
    }
    let e = parse_filter(expr, &Lists::open(), &ParseLimits::default())?;
    let mut names = Names(std::collections::BTreeMap::new());
    ast::Visitor::visit_expr(&mut names, &e);
    Ok(names.0)
}

/// The fields a filter or value expression reads, by name (a parse error is the caller's to
/// report).
pub fn fields_used(expr: &str) -> Result<std::collections::BTreeSet<&'static str>, RuleError> {
    struct Names(std::collections::BTreeSet<&'static str>);
    impl ast::Visitor for Names {
        fn visit_lhs(&mut self, l: &ast::Lhs) {
            if let ast::Base::Field(id) = &l.base {
                self.0.insert(id.name());
            }
            ast::walk_lhs(self, l);
        }
    }
    let mut names = Names(std::collections::BTreeSet::new());
    match parse_filter(expr, &Lists::open(), &ParseLimits::default()) {
        Ok(e) => ast::Visitor::visit_expr(&mut names, &e),
        // A value expression (a rewrite's or a redirect's).
        Err(err) => match parse_value(expr, &Lists::open(), &ParseLimits::default()) {
            Ok(ast::ValueExpr::Lhs(l)) => ast::Visitor::visit_lhs(&mut names, &l),
            Ok(ast::ValueExpr::Bool(e)) => ast::Visitor::visit_expr(&mut names, &e),
            Err(_) => return Err(err),
        },
    }
    Ok(names.0)
}

/// Parses and compiles a value expression with the default settings.
pub fn compile_value(src: &str, lists: &Lists) -> Result<ValueProgram, RuleError> {
    parse_value(src, lists, &ParseLimits::default()).map(|v| ValueProgram::new(&v))
}

#[cfg(test)]
mod tests;

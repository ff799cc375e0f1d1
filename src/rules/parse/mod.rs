//! The parser: scannerless recursive descent with type-directed lexing of right-hand sides,
//! as wirefilter does (reference §1–2). It type-checks as it goes, so every type error is a
//! parse error with a span. The grammar is here; the cursor ([`cursor`]), the literal lexers
//! ([`literals`]) and the typing of fields, indexes and calls ([`calls`]) are beside it.

mod calls;
mod cursor;
mod literals;

pub(crate) use literals::RegexCache;

use super::ast::*;
use super::error::{ErrorKind as K, RuleError};
use super::functions::FuncDef;
use super::lists::Lists;
use super::scheme::Scheme;
use super::types::Type;
use crate::text::suggestion;

/// Parser limits, in one place.
#[derive(Debug, Clone)]
pub(crate) struct ParseLimits {
    /// Maximum expression length in bytes (Cloudflare: 4096).
    pub max_len: usize,
    /// Maximum nesting of parentheses, `not`, calls and quantifiers (wirefilter: 128).
    pub max_depth: usize,
    /// Compiled regex size limit (wirefilter: 10 MiB).
    pub regex_size_limit: usize,
    /// Lazy DFA cache per regex (wirefilter: 2 MiB).
    pub regex_dfa_limit: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_len: 4096,
            max_depth: 128,
            regex_size_limit: 10 << 20,
            regex_dfa_limit: 2 << 20,
        }
    }
}

type R<T> = Result<T, RuleError>;

#[derive(Debug)]
pub(crate) struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    depth: usize,
    settings: &'a ParseLimits,
    regexes: &'a RegexCache,
    lists: &'a Lists,
    scheme: &'static Scheme,
    replace_calls: usize,
}

/// Parses a filter expression; its root must be Bool.
pub(crate) fn parse_filter(src: &str, lists: &Lists, settings: &ParseLimits) -> R<Expr> {
    parse_filter_with(src, lists, settings, &RegexCache::default())
}

/// [`parse_filter`] with regexes from (and into) `regexes`.
pub(crate) fn parse_filter_with(
    src: &str,
    lists: &Lists,
    settings: &ParseLimits,
    regexes: &RegexCache,
) -> R<Expr> {
    let mut p = Parser::new(src, lists, settings, regexes)?;
    let e = p.or()?;
    p.finish()?;
    if e.shape != Shape::Bool {
        return Err(RuleError::new(
            K::Type,
            e.span,
            "a filter must be Bool, but this is Array<Bool>",
        )
        .hint("wrap the comparison with [*] in any(…) or all(…)"));
    }
    Ok(e)
}

/// Parses a value expression: one field or call, optionally indexed, of any type; or a Bool
/// expression, whose value is `true` or `false`.
pub(crate) fn parse_value(src: &str, lists: &Lists, settings: &ParseLimits) -> R<ValueExpr> {
    parse_value_with(src, lists, settings, &RegexCache::default())
}

/// [`parse_value`] with regexes from (and into) `regexes`.
pub(crate) fn parse_value_with(
    src: &str,
    lists: &Lists,
    settings: &ParseLimits,
    regexes: &RegexCache,
) -> R<ValueExpr> {
    let mut p = Parser::new(src, lists, settings, regexes)?;
    p.ws();
    let mut lone = false;
    if p.at_ident_start() {
        let lhs = match p.lhs() {
            Ok(l) => l,
            Err(e) => {
                // `not …` starts like a field: a Bool expression, if it parses as one.
                return parse_filter_with(src, lists, settings, regexes)
                    .map(ValueExpr::Bool)
                    .map_err(|_| e);
            }
        };
        lone = true;
        p.ws();
        if p.pos >= p.b.len() {
            if lhs.each {
                return Err(RuleError::new(
                    K::BadIndex,
                    lhs.span,
                    "a value expression cannot end in a `[*]` element list",
                )
                .hint("pass the list to a function such as join(…, \",\"), or index one element"));
            }
            return Ok(ValueExpr::Lhs(lhs));
        }
    }
    // More than one field or call: a Bool expression, whose value is `true` or `false`.
    match parse_filter_with(src, lists, settings, regexes) {
        Ok(e) => return Ok(ValueExpr::Bool(e)),
        Err(e) if lone => return Err(e),
        Err(_) => {}
    }
    Err(RuleError::new(
        K::Syntax,
        Span::new(p.pos, p.pos + 1),
        "a value expression is a field or a function call",
    )
    .hint(
        "e.g. concat(\"/new\", http.request.uri.path); static values are set without an expression",
    ))
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

const OPS: &[&str] = &[
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "contains",
    "matches",
    "wildcard",
    "strict wildcard",
    "in",
    "bitwise_and",
];

impl<'a> Parser<'a> {
    fn new(
        src: &'a str,
        lists: &'a Lists,
        settings: &'a ParseLimits,
        regexes: &'a RegexCache,
    ) -> R<Self> {
        if src.len() > settings.max_len {
            return Err(RuleError::new(
                K::TooLong,
                Span::new(settings.max_len, src.len()),
                format!(
                    "the expression is {} bytes; the limit is {}",
                    src.len(),
                    settings.max_len
                ),
            )
            .hint("split the rule, or move long value sets into a list ($name)"));
        }
        let end = src.trim_end().len();
        let start = src.len() - src.trim_start().len();
        if start >= end {
            return Err(RuleError::new(
                K::Empty,
                Span::new(0, src.len()),
                "the expression is empty",
            )
            .hint("write a condition, e.g. http.host eq \"example.com\", or `true`"));
        }
        Ok(Parser {
            b: &src.as_bytes()[..end],
            pos: start,
            depth: 0,
            settings,
            regexes,
            lists,
            scheme: Scheme::http(),
            replace_calls: 0,
        })
    }
}

impl<'a> Parser<'a> {
    /// A whole logical expression: `or` binds loosest, then `xor`, then `and`.
    pub(crate) fn or(&mut self) -> R<Expr> {
        self.level(LogicOp::Or)
    }

    /// One precedence level: operands of the next tighter level joined by `op`, flattened.
    pub(super) fn level(&mut self, op: LogicOp) -> R<Expr> {
        let (word, symbol, tighter) = match op {
            LogicOp::Or => ("or", "||", Some(LogicOp::Xor)),
            LogicOp::Xor => ("xor", "^^", Some(LogicOp::And)),
            LogicOp::And => ("and", "&&", None),
        };
        let operand = |p: &mut Self| match tighter {
            Some(t) => p.level(t),
            None => p.simple(),
        };
        let mut items = vec![operand(self)?];
        loop {
            self.ws();
            if self.eat_word(word) || self.eat(symbol) {
                items.push(operand(self)?);
            } else {
                return self.combine(op, items);
            }
        }
    }

    pub(super) fn combine(&self, op: LogicOp, mut items: Vec<Expr>) -> R<Expr> {
        if items.len() == 1 {
            return Ok(items.pop().expect("one item"));
        }
        let shape = items[0].shape;
        if let Some(bad) = items.iter().find(|e| e.shape != shape) {
            return self
                .err(
                    K::Type,
                    bad.span,
                    "cannot combine Bool and Array<Bool> in one logical expression",
                )
                .map_err(|e: RuleError| {
                    e.hint("wrap the comparison with [*] in any(…) or all(…)")
                });
        }
        let span = items[0].span.to(items[items.len() - 1].span);
        Ok(Expr {
            kind: ExprKind::Logical(op, items),
            shape,
            span,
        })
    }

    pub(super) fn simple(&mut self) -> R<Expr> {
        self.ws();
        let start = self.pos;
        if self.pos >= self.b.len() {
            return self.err(
                K::Syntax,
                Span::new(start, start),
                "the expression ends where a condition was expected",
            );
        }
        if self.eat("(") {
            self.enter(start)?;
            let mut e = self.or()?;
            self.ws();
            if !self.eat(")") {
                return Err(RuleError::new(K::Syntax, self.span_here(), "expected `)`")
                    .hint(format!("the `(` at byte {start} is not closed")));
            }
            self.leave();
            e.span = Span::new(start, self.pos);
            return Ok(e);
        }
        if self.eat_word("not") || (self.at("!") && !self.at("!=") && self.eat("!")) {
            self.enter(start)?;
            let inner = self.simple()?;
            self.leave();
            let shape = inner.shape;
            return Ok(Expr {
                span: Span::new(start, inner.span.end),
                kind: ExprKind::Not(Box::new(inner)),
                shape,
            });
        }
        for (kw, all) in [("any", false), ("all", true)] {
            if self.at_kw(kw) {
                let save = self.pos;
                self.pos += kw.len();
                self.ws();
                if self.eat("(") {
                    self.enter(start)?;
                    let arg = self.or()?;
                    self.ws();
                    if !self.eat(")") {
                        return self.err(
                            K::Syntax,
                            self.span_here(),
                            format!("expected `)` to close {kw}("),
                        );
                    }
                    self.leave();
                    if arg.shape != Shape::ArrayBool {
                        return Err(RuleError::new(K::Type, arg.span, format!("{kw}() takes an Array<Bool>, but this is Bool"))
                            .hint(format!("use [*] in the comparison, e.g. {kw}(http.request.headers[\"accept\"][*] contains \"json\")")));
                    }
                    return Ok(Expr {
                        kind: ExprKind::Quant {
                            all,
                            arg: Box::new(arg),
                        },
                        shape: Shape::Bool,
                        span: Span::new(start, self.pos),
                    });
                }
                self.pos = save;
            }
        }
        for (kw, v) in [("true", true), ("false", false)] {
            if self.at_kw(kw) && self.b.get(self.pos + kw.len()).is_none_or(|c| *c != b'(') {
                self.pos += kw.len();
                return Ok(Expr {
                    kind: ExprKind::Lit(v),
                    shape: Shape::Bool,
                    span: Span::new(start, self.pos),
                });
            }
        }
        self.comparison()
    }

    pub(super) fn comparison(&mut self) -> R<Expr> {
        if !self.at_ident_start() {
            let hint = match self.b[self.pos] {
                b'"' => Some(
                    "a string must follow a field and an operator, e.g. http.host eq \"example.com\"",
                ),
                b'0'..=b'9' => {
                    Some("a number must follow a field and an operator, e.g. cf.threat_score gt 10")
                }
                _ => None,
            };
            return Err(RuleError::new(
                K::Syntax,
                self.span_here(),
                format!(
                    "expected a field, a function call or `(`, found `{}`",
                    self.b[self.pos] as char
                ),
            )
            .maybe_hint(hint.map(String::from)));
        }
        for kw in ["and", "or", "xor"] {
            if self.at_kw(kw) {
                return Err(RuleError::new(
                    K::Syntax,
                    Span::new(self.pos, self.pos + kw.len()),
                    format!("expected a condition before `{kw}`"),
                ));
            }
        }
        let lhs = self.lhs()?;
        match self.cmp_after(lhs)? {
            Ok(cmp) => Ok(cmp),
            Err(lhs) => {
                let shape = match (&lhs.ty, lhs.each) {
                    (Type::Bool, false) => Shape::Bool,
                    (Type::Bool, true) => Shape::ArrayBool,
                    (Type::Array(t), false) if **t == Type::Bool => Shape::ArrayBool,
                    (ty, _) => {
                        self.ws();
                        if self.at_ident_start() {
                            let end = self
                                .rest()
                                .iter()
                                .position(|c| !is_ident(*c))
                                .map_or(self.b.len(), |i| self.pos + i);
                            let word = String::from_utf8_lossy(&self.b[self.pos..end]).into_owned();
                            // `x not in {…}` is written in real configurations, but the
                            // language negates the whole condition (wirefilter refuses it too).
                            let after =
                                String::from_utf8_lossy(self.b.get(end..).unwrap_or_default())
                                    .trim_start()
                                    .to_string();
                            if word == "not"
                                && (after.starts_with("in ") || after.starts_with("in{"))
                            {
                                return Err(RuleError::new(
                                    K::Syntax,
                                    Span::new(self.pos, end),
                                    "`not` cannot stand between a field and `in`",
                                )
                                .hint(format!(
                                    "negate the whole condition: `not {lhs} in {{…}}`"
                                )));
                            }
                            if !["and", "or", "xor", "not"].contains(&word.as_str()) {
                                return Err(RuleError::new(
                                    K::Syntax,
                                    Span::new(self.pos, end),
                                    format!("unknown operator `{word}`"),
                                )
                                .hint(
                                    suggestion(&word, OPS.iter().copied()).unwrap_or_else(|| {
                                        format!("operators: {}", OPS.join(", "))
                                    }),
                                ));
                            }
                        }
                        return Err(RuleError::new(
                            K::NotCondition,
                            lhs.span,
                            format!("`{lhs}` is {ty}, not a condition"),
                        )
                        .hint(bare_hint(ty)));
                    }
                };
                Ok(Expr {
                    span: lhs.span,
                    kind: ExprKind::Bare(lhs),
                    shape,
                })
            }
        }
    }

    pub(super) fn cmp_op(&mut self) -> Option<CmpOp> {
        let table: &[(&str, bool, CmpOp)] = &[
            ("in", true, CmpOp::In),
            ("eq", true, CmpOp::Eq),
            ("==", false, CmpOp::Eq),
            ("ne", true, CmpOp::Ne),
            ("!=", false, CmpOp::Ne),
            ("ge", true, CmpOp::Ge),
            (">=", false, CmpOp::Ge),
            ("le", true, CmpOp::Le),
            ("<=", false, CmpOp::Le),
            ("gt", true, CmpOp::Gt),
            (">", false, CmpOp::Gt),
            ("lt", true, CmpOp::Lt),
            ("<", false, CmpOp::Lt),
            ("bitwise_and", true, CmpOp::BitAnd),
            ("contains", true, CmpOp::Contains),
            ("~", false, CmpOp::Matches),
            ("matches", true, CmpOp::Matches),
            ("wildcard", true, CmpOp::Wildcard),
            ("strict wildcard", true, CmpOp::StrictWildcard),
        ];
        // English and symbolic spellings alike match as prefixes, as in wirefilter.
        for (text, _, op) in table {
            if self.eat_word(text) {
                return Some(*op);
            }
        }
        if self.at("&") && !self.at("&&") {
            self.pos += 1;
            return Some(CmpOp::BitAnd);
        }
        None
    }

    // ---- right-hand sides -----------------------------------------------------------

    pub(super) fn rhs(&mut self, lhs: &Lhs, op: CmpOp, op_span: Span) -> R<Rhs> {
        use CmpOp::*;
        let ty = &lhs.ty;
        match (ty, op) {
            (Type::Bytes, Eq | Ne | Lt | Le | Gt | Ge | Contains) => Ok(Rhs::Bytes(self.bytes_lit()?)),
            (Type::Bytes, Matches) => Ok(Rhs::Regex(self.regex_lit()?)),
            (Type::Bytes, Wildcard | StrictWildcard) => Ok(Rhs::Wildcard(self.wildcard_lit()?)),
            (Type::Bytes | Type::Int | Type::Ip, In) if self.at("$") => Ok(Rhs::List(self.list_ref(ty)?)),
            (Type::Bytes, In) => self.set(Parser::bytes_lit).map(Rhs::BytesSet),
            (Type::Int, Eq | Ne | Lt | Le | Gt | Ge | BitAnd) => Ok(Rhs::Int(self.int_lit()?)),
            (Type::Int, In) => {
                let items = self.set(|p| {
                    let a = p.int_lit_at()?;
                    if p.eat("..") {
                        let b = p.int_lit_at()?;
                        if a.0 > b.0 {
                            return p.err(K::BadRange, Span::new(a.1.start, b.1.end), format!("range {}..{} runs backwards", a.0, b.0));
                        }
                        Ok((a.0, b.0))
                    } else {
                        Ok((a.0, a.0))
                    }
                })?;
                Ok(Rhs::IntSet(items))
            }
            (Type::Ip, Eq | Ne) => Ok(Rhs::Ip(self.ip_single()?)),
            (Type::Ip, In) => self.set(Parser::ip_item).map(Rhs::IpSet),
            (Type::Ip, Lt | Le | Gt | Ge) => Err(RuleError::new(K::Type, op_span, "IP addresses cannot be ordered")
                .hint("use a set with a CIDR or a range: ip.src in {192.0.2.0/24 198.51.100.1..198.51.100.9}")),
            _ => Err(RuleError::new(K::Type, op_span, format!("`{}` cannot be used on {ty}", op.as_str())).hint(op_hint(ty, op))),
        }
    }

    pub(super) fn set<T>(&mut self, mut item: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        if !self.eat("{") {
            return Err(RuleError::new(
                K::Syntax,
                self.span_here(),
                "expected `{` to start a set, or `$name` for a list",
            )
            .hint("e.g. http.request.method in {\"GET\" \"HEAD\"}"));
        }
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.eat("}") {
                return Ok(out);
            }
            if self.pos >= self.b.len() {
                return self.err(K::Syntax, self.span_here(), "expected `}` to close the set");
            }
            if self.at(",") {
                return Err(RuleError::new(
                    K::Syntax,
                    self.span_here(),
                    "set items are separated by spaces, not commas",
                )
                .hint("write {\"a\" \"b\"}"));
            }
            out.push(item(self)?);
        }
    }
}

fn signature(def: &FuncDef) -> String {
    let mut parts = Vec::new();
    for (i, p) in def.params.iter().enumerate() {
        let mut s = p.name.to_string();
        if i >= def.min_args() {
            s = format!("[{s}]");
        }
        parts.push(s);
    }
    if def.variadic {
        parts.push("…".into());
    }
    format!("{}({})", def.name, parts.join(", "))
}

fn bare_hint(ty: &Type) -> String {
    match ty {
        Type::Bytes => "compare it, e.g. http.host eq \"example.com\"".into(),
        Type::Int => "compare it, e.g. cf.threat_score gt 10".into(),
        Type::Ip => "compare it, e.g. ip.src in {192.0.2.0/24}".into(),
        Type::Array(_) | Type::Map(_) => {
            "index it ([0], [\"key\"]) or use [*] inside any(…) / all(…)".into()
        }
        Type::Bool => String::new(),
    }
}

fn op_hint(ty: &Type, op: CmpOp) -> String {
    match ty {
        Type::Bool => "a Bool is a condition by itself: write `ssl` or `not ssl`".into(),
        Type::Array(_) | Type::Map(_) => {
            "index it ([0], [\"key\"]) or use [*] inside any(…) / all(…)".into()
        }
        Type::Bytes => format!(
            "`{}` needs an Int; on Bytes use eq, ne, lt, le, gt, ge, contains, matches, wildcard, strict wildcard, in",
            op.as_str()
        ),
        Type::Int => format!(
            "`{}` needs Bytes; on Int use eq, ne, lt, le, gt, ge, in, &",
            op.as_str()
        ),
        Type::Ip => "on Ip use eq, ne, in".into(),
    }
}

/// A hint for a name that is the prefix of known fields (`http.request`).
fn prefix_hint(name: &str) -> Option<String> {
    let dotted = format!("{name}.");
    let under: Vec<&str> = Scheme::http()
        .names()
        .filter(|n| n.starts_with(&dotted))
        .take(4)
        .collect();
    (!under.is_empty()).then(|| format!("fields under it include {}", under.join(", ")))
}

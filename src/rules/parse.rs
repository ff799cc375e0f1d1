//! The parser: scannerless recursive descent with type-directed lexing of right-hand sides,
//! as wirefilter does (reference §1–2). It type-checks as it goes, so every type error is a
//! parse error with a span.

use std::net::IpAddr;

use super::ast::*;
use super::error::{ErrorKind as K, RuleError};
use super::functions::{self, F, FuncDef, Kind, PTy};
use super::lists::{List, Lists};
use super::scheme::Scheme;
use super::types::Type;
use super::wildcard::Pattern;
use crate::text::suggestion;

/// Parser limits, in one place.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Maximum expression length in bytes (Cloudflare: 4096).
    pub max_len: usize,
    /// Maximum nesting of parentheses, `not`, calls and quantifiers (wirefilter: 128).
    pub max_depth: usize,
    /// Compiled regex size limit (wirefilter: 10 MiB).
    pub regex_size_limit: usize,
    /// Lazy DFA cache per regex (wirefilter: 2 MiB).
    pub regex_dfa_limit: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
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
    settings: &'a Settings,
    lists: &'a Lists,
    scheme: &'static Scheme,
    replace_calls: usize,
}

/// Parses a filter expression; its root must be Bool.
pub(crate) fn parse_filter(src: &str, lists: &Lists, settings: &Settings) -> R<Expr> {
    let mut p = Parser::new(src, lists, settings)?;
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

/// Parses a value expression: one field or call, optionally indexed, of any type.
pub(crate) fn parse_value(src: &str, lists: &Lists, settings: &Settings) -> R<ValueExpr> {
    let mut p = Parser::new(src, lists, settings)?;
    p.ws();
    if p.at_ident_start() {
        let lhs = p.lhs()?;
        p.finish()?;
        if lhs.each {
            return Err(RuleError::new(
                K::BadIndex,
                lhs.span,
                "a value expression cannot end in a `[*]` element list",
            )
            .hint("pass the list to a function such as join(…, \",\"), or index one element"));
        }
        return Ok(ValueExpr { lhs });
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
    fn new(src: &'a str, lists: &'a Lists, settings: &'a Settings) -> R<Self> {
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
            lists,
            scheme: Scheme::http(),
            replace_calls: 0,
        })
    }

    // ---- cursor ---------------------------------------------------------------------

    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\r' | b'\n' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn rest(&self) -> &[u8] {
        &self.b[self.pos..]
    }

    fn at(&self, s: &str) -> bool {
        self.rest().starts_with(s.as_bytes())
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.at(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// A keyword followed by a non-identifier byte.
    fn at_kw(&self, kw: &str) -> bool {
        self.at(kw)
            && !self
                .b
                .get(self.pos + kw.len())
                .is_some_and(|c| is_ident(*c) || *c == b'.')
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn at_ident_start(&self) -> bool {
        self.b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    }

    fn span_here(&self) -> Span {
        let end = (self.pos + 1).min(self.b.len().max(self.pos));
        Span::new(self.pos, end.max(self.pos))
    }

    fn err<T>(&self, kind: K, span: Span, msg: impl Into<String>) -> R<T> {
        Err(RuleError::new(kind, span, msg))
    }

    fn finish(&mut self) -> R<()> {
        self.ws();
        if self.pos < self.b.len() {
            let word_end = self
                .rest()
                .iter()
                .position(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
                .map_or(self.b.len(), |i| self.pos + i);
            let word = String::from_utf8_lossy(&self.b[self.pos..word_end]).into_owned();
            let hint = if word == ")" {
                Some("this `)` has no matching `(`".to_string())
            } else {
                suggestion(&word, ["and", "or", "xor", "not"])
            };
            return Err(RuleError::new(
                K::Syntax,
                Span::new(self.pos, word_end),
                format!("unexpected `{word}`"),
            )
            .maybe_hint(hint.or_else(|| Some("join conditions with and, or, xor".into()))));
        }
        Ok(())
    }

    fn enter(&mut self, at: usize) -> R<()> {
        self.depth += 1;
        if self.depth > self.settings.max_depth {
            return self.err(
                K::TooDeep,
                Span::new(at, at + 1),
                format!("nesting deeper than {} levels", self.settings.max_depth),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- logical --------------------------------------------------------------------

    /// A whole logical expression: `or` binds loosest, then `xor`, then `and`.
    pub(crate) fn or(&mut self) -> R<Expr> {
        self.level(LogicOp::Or)
    }

    /// One precedence level: operands of the next tighter level joined by `op`, flattened.
    fn level(&mut self, op: LogicOp) -> R<Expr> {
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
            if self.eat_kw(word) || self.eat(symbol) {
                items.push(operand(self)?);
            } else {
                return self.combine(op, items);
            }
        }
    }

    fn combine(&self, op: LogicOp, mut items: Vec<Expr>) -> R<Expr> {
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

    fn simple(&mut self) -> R<Expr> {
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
        if self.eat_kw("not") || (self.at("!") && !self.at("!=") && self.eat("!")) {
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

    fn comparison(&mut self) -> R<Expr> {
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
        let save = self.pos;
        self.ws();
        let op_start = self.pos;
        match self.cmp_op() {
            Some(op) => {
                let op_span = Span::new(op_start, self.pos);
                self.ws();
                let rhs = self.rhs(&lhs, op, op_span)?;
                let shape = if lhs.each {
                    Shape::ArrayBool
                } else {
                    Shape::Bool
                };
                let span = lhs.span.to(Span::new(op_start, self.pos));
                Ok(Expr {
                    kind: ExprKind::Cmp(lhs, op, rhs),
                    shape,
                    span,
                })
            }
            None => {
                self.pos = save;
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

    fn cmp_op(&mut self) -> Option<CmpOp> {
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
        for (text, kw, op) in table {
            if if *kw { self.at_kw(text) } else { self.at(text) } {
                self.pos += text.len();
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

    fn rhs(&mut self, lhs: &Lhs, op: CmpOp, op_span: Span) -> R<Rhs> {
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

    fn set<T>(&mut self, mut item: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
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

    fn bytes_lit(&mut self) -> R<Vec<u8>> {
        if self.at("\"") {
            self.quoted()
        } else if self.at("r\"") || self.at("r#") {
            self.raw().map(|(b, _)| b)
        } else if self.b.get(self.pos).is_some_and(u8::is_ascii_hexdigit) {
            self.hex_bytes()
        } else {
            Err(
                RuleError::new(K::Syntax, self.span_here(), "expected a string")
                    .hint("quote it: \"…\", or use a raw string r\"…\""),
            )
        }
    }

    /// A `"…"` string with `\"`, `\\`, `\xHH` and `\OOO` escapes.
    fn quoted(&mut self) -> R<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(RuleError::new(
                    K::BadString,
                    Span::new(start, self.b.len()),
                    "missing closing `\"`",
                ));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let esc = self.pos;
                    match self.b.get(self.pos + 1) {
                        Some(b'"') => out.push(b'"'),
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'x') => {
                            let h = self
                                .b
                                .get(self.pos + 2..self.pos + 4)
                                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                            let Some(h) = h else {
                                return self.err(
                                    K::BadString,
                                    Span::new(esc, (esc + 4).min(self.b.len())),
                                    "`\\x` needs two hex digits",
                                );
                            };
                            out.push(
                                u8::from_str_radix(std::str::from_utf8(h).expect("hex"), 16)
                                    .expect("hex"),
                            );
                            self.pos += 2;
                        }
                        Some(b'0'..=b'7') => {
                            let o = self
                                .b
                                .get(self.pos + 1..self.pos + 4)
                                .filter(|o| o.iter().all(|d| (b'0'..=b'7').contains(d)));
                            let v =
                                o.map(|o| o.iter().fold(0u32, |a, d| a * 8 + (d - b'0') as u32));
                            match v {
                                Some(v) if v <= 0o377 => out.push(v as u8),
                                _ => {
                                    return self.err(
                                        K::BadString,
                                        Span::new(esc, (esc + 4).min(self.b.len())),
                                        "an octal escape is `\\` and three digits up to \\377",
                                    );
                                }
                            }
                            self.pos += 2;
                        }
                        Some(&other) => {
                            return Err(RuleError::new(K::BadString, Span::new(esc, esc + 2), format!("invalid escape `\\{}`", other as char))
                                .hint("only \\\", \\\\, \\xHH and \\OOO are escapes; use a raw string r\"…\" for backslashes"));
                        }
                        None => {
                            return self.err(
                                K::BadString,
                                Span::new(start, self.b.len()),
                                "missing closing `\"`",
                            );
                        }
                    }
                    self.pos += 2;
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `r"…"`, `r#"…"#` …: no escapes. Returns the bytes and the number of `#`.
    fn raw(&mut self) -> R<(Vec<u8>, usize)> {
        let start = self.pos;
        self.pos += 1;
        let mut hashes = 0;
        while self.eat("#") {
            hashes += 1;
        }
        if hashes > 255 {
            return self.err(
                K::BadString,
                Span::new(start, self.pos),
                "a raw string may have at most 255 `#`",
            );
        }
        if !self.eat("\"") {
            return self.err(
                K::BadString,
                Span::new(start, self.pos),
                "expected `\"` after `r` and the `#`s",
            );
        }
        let close: Vec<u8> = std::iter::once(b'"')
            .chain(std::iter::repeat_n(b'#', hashes))
            .collect();
        match memchr::memmem::find(self.rest(), &close) {
            Some(i) => {
                let out = self.rest()[..i].to_vec();
                self.pos += i + close.len();
                Ok((out, hashes))
            }
            None => self.err(
                K::BadString,
                Span::new(start, self.b.len()),
                "missing ending quote of the raw string",
            ),
        }
    }

    /// `12:ab:ff`, `12-ab`, `12.ab`: at least two bytes.
    fn hex_bytes(&mut self) -> R<Vec<u8>> {
        let start = self.pos;
        let hex2 = |p: &Self, at: usize| -> Option<u8> {
            let h = p.b.get(at..at + 2)?;
            if h.iter().all(u8::is_ascii_hexdigit) {
                u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
            } else {
                None
            }
        };
        let mut out = Vec::new();
        let Some(first) = hex2(self, self.pos) else {
            return self.err(K::Syntax, self.span_here(), "expected a string");
        };
        out.push(first);
        self.pos += 2;
        while let Some(&sep) = self.b.get(self.pos) {
            if !matches!(sep, b':' | b'-' | b'.') {
                break;
            }
            match hex2(self, self.pos + 1) {
                Some(v) => {
                    out.push(v);
                    self.pos += 3;
                }
                None => break,
            }
        }
        if out.len() < 2 {
            return Err(
                RuleError::new(K::Syntax, Span::new(start, self.pos), "expected a string").hint(
                    "quote strings: \"…\"; a bare byte string needs two or more bytes, e.g. 12:ab",
                ),
            );
        }
        Ok(out)
    }

    /// A regex after `matches`: raw strings verbatim; in quoted ones a backslash and the next
    /// character pass through, except `\"` outside a class, and `"` inside `[…]` is literal.
    fn regex_lit(&mut self) -> R<RegexLit> {
        let start = self.pos;
        let src = if self.at("r\"") || self.at("r#") {
            let (b, _) = self.raw()?;
            String::from_utf8(b).map_err(|_| {
                RuleError::new(
                    K::BadRegex,
                    Span::new(start, self.pos),
                    "a regex must be valid UTF-8",
                )
            })?
        } else if self.at("\"") {
            self.pos += 1;
            let mut out = Vec::new();
            let mut class = false;
            loop {
                let Some(&c) = self.b.get(self.pos) else {
                    return self.err(
                        K::BadString,
                        Span::new(start, self.b.len()),
                        "missing closing `\"`",
                    );
                };
                match c {
                    b'\\' => {
                        let Some(&n) = self.b.get(self.pos + 1) else {
                            return self.err(
                                K::BadString,
                                Span::new(start, self.b.len()),
                                "missing closing `\"`",
                            );
                        };
                        if n == b'"' && !class {
                            out.push(b'"');
                        } else {
                            out.push(b'\\');
                            out.push(n);
                        }
                        self.pos += 2;
                        continue;
                    }
                    b'"' if !class => {
                        self.pos += 1;
                        break;
                    }
                    b'[' if !class => {
                        class = true;
                        out.push(c);
                        self.pos += 1;
                        // A `]` first in the class (or after `^`) is literal.
                        if self.b.get(self.pos) == Some(&b'^') {
                            out.push(b'^');
                            self.pos += 1;
                        }
                        if self.b.get(self.pos) == Some(&b']') {
                            out.push(b']');
                            self.pos += 1;
                        }
                        continue;
                    }
                    b']' if class => class = false,
                    _ => {}
                }
                out.push(c);
                self.pos += 1;
            }
            String::from_utf8(out).map_err(|_| {
                RuleError::new(
                    K::BadRegex,
                    Span::new(start, self.pos),
                    "a regex must be valid UTF-8",
                )
            })?
        } else {
            return Err(RuleError::new(
                K::Syntax,
                self.span_here(),
                "expected a regex string after `matches`",
            )
            .hint("e.g. matches r\"^/api/v[0-9]+/\""));
        };
        let re = self.compile_regex(&src, Span::new(start, self.pos))?;
        Ok(RegexLit { src, re })
    }

    fn compile_regex(&self, src: &str, span: Span) -> R<regex::bytes::Regex> {
        regex::bytes::RegexBuilder::new(src)
            .unicode(false)
            .size_limit(self.settings.regex_size_limit)
            .dfa_size_limit(self.settings.regex_dfa_limit)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(limit) => RuleError::new(
                    K::BadRegex,
                    span,
                    format!("the regex compiles to more than {limit} bytes"),
                )
                .hint("simplify it, e.g. fewer or smaller repetitions"),
                other => {
                    let text = other.to_string();
                    let last = text
                        .lines()
                        .rev()
                        .find(|l| l.starts_with("error:"))
                        .unwrap_or_else(|| text.lines().next().unwrap_or("invalid regex"));
                    RuleError::new(
                        K::BadRegex,
                        span,
                        format!("invalid regex: {}", last.trim_start_matches("error: ")),
                    )
                    .hint("the syntax is Rust's regex crate: no look-around, no back-references")
                }
            })
    }

    fn wildcard_lit(&mut self) -> R<Pattern> {
        let start = self.pos;
        let bytes = if self.at("\"") {
            self.quoted()?
        } else if self.at("r\"") || self.at("r#") {
            self.raw()?.0
        } else {
            return Err(RuleError::new(
                K::Syntax,
                self.span_here(),
                "expected a wildcard pattern string",
            )
            .hint("e.g. wildcard \"*.example.com\""));
        };
        Pattern::parse(&bytes).map_err(|e| {
            RuleError::new(K::BadWildcard, Span::new(start, self.pos), e.message)
                .hint("in a quoted string write \"\\\\*\" (or r\"\\*\") for a literal `*`")
        })
    }

    fn int_lit(&mut self) -> R<i64> {
        self.int_lit_at().map(|(v, _)| v)
    }

    /// Decimal (optionally negative), `0x` hex, or `0`-prefixed octal.
    fn int_lit_at(&mut self) -> R<(i64, Span)> {
        let start = self.pos;
        let neg = self.eat("-");
        if neg && self.at("0x") {
            return Err(RuleError::new(
                K::BadInt,
                Span::new(start, self.pos + 2),
                "a hex integer cannot be negative",
            )
            .hint("write the value in decimal"));
        }
        let hex = !neg && self.eat("0x");
        let digits_start = self.pos;
        while self.b.get(self.pos).is_some_and(u8::is_ascii_hexdigit) {
            self.pos += 1;
        }
        let span = Span::new(start, self.pos);
        let digits = std::str::from_utf8(&self.b[digits_start..self.pos]).expect("ascii");
        if digits.is_empty() {
            return Err(RuleError::new(
                K::BadInt,
                Span::new(start, start + 1),
                "expected an integer",
            )
            .hint("e.g. 443, -1, 0x1bb"));
        }
        let (radix, text) = if hex {
            (16, digits)
        } else if digits.len() > 1 && digits.starts_with('0') {
            (8, &digits[1..])
        } else {
            (10, digits)
        };
        let bad = |msg: String| Err(RuleError::new(K::BadInt, span, msg));
        if !text.chars().all(|c| c.is_digit(radix)) {
            return match radix {
                8 => bad(format!("`{digits}` is not an octal number")).map_err(|e: RuleError| {
                    e.hint("a leading 0 makes an integer octal; drop the 0")
                }),
                _ => bad(format!("`{digits}` is not a number")),
            };
        }
        let mag = i128::from_str_radix(text, radix).unwrap_or(i128::MAX);
        let v = if neg { -mag } else { mag };
        match i64::try_from(v) {
            Ok(v) => Ok((v, span)),
            Err(_) => bad(format!(
                "{} is out of range for a 64-bit integer",
                &String::from_utf8_lossy(&self.b[start..self.pos])
            )),
        }
    }

    /// The maximal run of IP-literal bytes.
    fn ip_run(&mut self) -> (String, Span) {
        let start = self.pos;
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.' | b'/'))
        {
            self.pos += 1;
        }
        (
            String::from_utf8_lossy(&self.b[start..self.pos]).into_owned(),
            Span::new(start, self.pos),
        )
    }

    fn parse_ip(&self, text: &str, span: Span) -> R<IpAddr> {
        text.parse::<IpAddr>()
            .map_err(|_| RuleError::new(K::BadIp, span, format!("`{text}` is not an IP address")))
    }

    fn ip_single(&mut self) -> R<IpAddr> {
        let (text, span) = self.ip_run();
        if text.is_empty() {
            return Err(
                RuleError::new(K::BadIp, self.span_here(), "expected an IP address")
                    .hint("IP addresses are not quoted: ip.src eq 192.0.2.1"),
            );
        }
        if text.contains('/') || text.contains("..") {
            return Err(RuleError::new(
                K::BadIp,
                span,
                "a CIDR or range is only allowed inside a set",
            )
            .hint(format!("write `in {{{text}}}`")));
        }
        self.parse_ip(&text, span)
    }

    fn ip_item(&mut self) -> R<IpItem> {
        let (text, span) = self.ip_run();
        if text.is_empty() {
            return Err(RuleError::new(
                K::BadIp,
                self.span_here(),
                "expected an IP address, CIDR or range",
            ));
        }
        if let Some((a, b)) = text.split_once("..") {
            let a = self.parse_ip(a, span)?;
            let b = self.parse_ip(b, span)?;
            let ok = match (a, b) {
                (IpAddr::V4(x), IpAddr::V4(y)) => x <= y,
                (IpAddr::V6(x), IpAddr::V6(y)) => x <= y,
                _ => {
                    return self.err(
                        K::BadRange,
                        span,
                        "a range's ends must be of the same family",
                    );
                }
            };
            if !ok {
                return self.err(K::BadRange, span, format!("range {a}..{b} runs backwards"));
            }
            return Ok(IpItem::Range(a, b));
        }
        if let Some((a, n)) = text.split_once('/') {
            let addr = self.parse_ip(a, span)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = n.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
                RuleError::new(
                    K::BadIp,
                    span,
                    format!("`/{n}` is not a prefix length for this address (0–{max})"),
                )
            })?;
            let (net, _) = super::lists::cidr_bounds(addr, prefix);
            if net != addr {
                return Err(
                    RuleError::new(K::BadIp, span, format!("`{text}` has host bits set"))
                        .hint(format!("did you mean {net}/{prefix}?")),
                );
            }
            return Ok(IpItem::Cidr(addr, prefix));
        }
        self.parse_ip(&text, span).map(IpItem::Addr)
    }

    fn list_ref(&mut self, ty: &Type) -> R<ListRef> {
        let start = self.pos;
        self.pos += 1;
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| is_ident(*c) || *c == b'.')
        {
            self.pos += 1;
        }
        let span = Span::new(start, self.pos);
        let name = String::from_utf8_lossy(&self.b[start + 1..self.pos]).into_owned();
        if name.is_empty() || name.starts_with('.') || name.ends_with('.') {
            return self.err(K::Syntax, span, "expected a list name after `$`");
        }
        if name.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(RuleError::new(
                K::UnknownList,
                span,
                format!("list names are lower case: `${name}`"),
            )
            .hint(format!("write ${}", name.to_ascii_lowercase())));
        }
        let Some(list) = self.lists.get(&name) else {
            return Err(
                RuleError::new(K::UnknownList, span, format!("unknown list `${name}`")).hint(
                    suggestion(&name, self.lists.names()).unwrap_or_else(|| {
                        "lists are supplied by name (the project's lists directory)".into()
                    }),
                ),
            );
        };
        if list.value_type() != *ty {
            let want = match &*list {
                List::Ip(_) => "an IP field such as ip.src",
                List::Hostname { .. } => "http.host",
                List::Asn(_) => "ip.src.asnum",
            };
            return Err(RuleError::new(
                K::Type,
                span,
                format!(
                    "`${name}` is a {} list and cannot hold {ty} values",
                    list.kind()
                ),
            )
            .hint(format!("compare it with {want}")));
        }
        Ok(ListRef { name, list })
    }

    // ---- left-hand sides ------------------------------------------------------------

    fn ident(&mut self) -> Option<(String, Span)> {
        if !self.at_ident_start() {
            return None;
        }
        let start = self.pos;
        loop {
            while self.b.get(self.pos).is_some_and(|c| is_ident(*c)) {
                self.pos += 1;
            }
            if self.b.get(self.pos) == Some(&b'.')
                && self.b.get(self.pos + 1).is_some_and(|c| is_ident(*c))
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.b.get(self.pos) == Some(&b'.') {
            return None;
        }
        Some((
            String::from_utf8_lossy(&self.b[start..self.pos]).into_owned(),
            Span::new(start, self.pos),
        ))
    }

    fn lhs(&mut self) -> R<Lhs> {
        let start = self.pos;
        let Some((name, name_span)) = self.ident() else {
            if self.b.get(self.pos) == Some(&b'.') {
                return self.err(
                    K::Syntax,
                    Span::new(start, self.pos + 1),
                    "a name cannot end with `.`",
                );
            }
            return self.err(
                K::Syntax,
                self.span_here(),
                "expected a field or a function call",
            );
        };
        let after = self.pos;
        self.ws();
        let base = if self.at("(") {
            let Some(def) = functions::lookup(&name) else {
                if self.scheme.field(&name).is_some() {
                    return self.err(
                        K::Syntax,
                        name_span,
                        format!("`{name}` is a field, not a function"),
                    );
                }
                let names = functions::FUNCTIONS
                    .iter()
                    .map(|d| d.name)
                    .chain(["any", "all"]);
                return Err(RuleError::new(
                    K::UnknownFunction,
                    name_span,
                    format!("unknown function `{name}`"),
                )
                .maybe_hint(suggestion(&name, names)));
            };
            Base::Call(Box::new(self.call(def, start)?))
        } else {
            self.pos = after;
            match self.scheme.field(&name) {
                Some(id) => Base::Field(id),
                None if functions::lookup(&name).is_some() => {
                    return Err(RuleError::new(
                        K::Syntax,
                        name_span,
                        format!("`{name}` is a function"),
                    )
                    .hint(format!("call it: {name}(…)")));
                }
                None => {
                    return Err(RuleError::new(
                        K::UnknownField,
                        name_span,
                        format!("unknown field `{name}`"),
                    )
                    .maybe_hint(
                        suggestion(&name, self.scheme.names()).or_else(|| prefix_hint(&name)),
                    ));
                }
            }
        };
        let mut ty = match &base {
            Base::Field(id) => id.ty(),
            Base::Call(c) => c.ty.clone(),
        };
        let mut index = Vec::new();
        let mut each = false;
        loop {
            if self.at("[") {
                let istart = self.pos;
                let idx = self.index()?;
                let ispan = Span::new(istart, self.pos);
                ty = match (&idx, &ty) {
                    (Index::Key(_), Type::Map(t))
                    | (Index::Pos(_), Type::Array(t))
                    | (Index::Each, Type::Array(t) | Type::Map(t)) => (**t).clone(),
                    (Index::Key(_), Type::Array(_)) => {
                        return Err(RuleError::new(
                            K::BadIndex,
                            ispan,
                            format!("{ty} is indexed by position, not by key"),
                        )
                        .hint("e.g. [0], or [*] for every element"));
                    }
                    (Index::Pos(_), Type::Map(_)) => {
                        return Err(RuleError::new(
                            K::BadIndex,
                            ispan,
                            format!("{ty} is indexed by a quoted key, not a position"),
                        )
                        .hint("e.g. [\"name\"], or [*] for every value"));
                    }
                    _ => return self.err(K::BadIndex, ispan, format!("{ty} cannot be indexed")),
                };
                if idx == Index::Each {
                    each = true;
                }
                index.push(idx);
            } else {
                let save = self.pos;
                self.ws();
                if self.at("[") && self.pos > save {
                    return Err(RuleError::new(
                        K::Syntax,
                        Span::new(save, self.pos + 1),
                        "no space is allowed before `[`",
                    )
                    .hint("write field[\"key\"]"));
                }
                self.pos = save;
                break;
            }
        }
        if each && matches!(&ty, Type::Array(t) if **t == Type::Bool) {
            return self.err(
                K::Type,
                Span::new(start, self.pos),
                "Array<Array<Bool>> is not allowed",
            );
        }
        Ok(Lhs {
            base,
            index,
            ty,
            each,
            span: Span::new(start, self.pos),
        })
    }

    fn index(&mut self) -> R<Index> {
        self.pos += 1;
        self.ws();
        let idx = if self.eat("*") {
            Index::Each
        } else if self.at("\"") {
            let s = self.pos;
            let key = self.quoted()?;
            if std::str::from_utf8(&key).is_err() {
                return self.err(
                    K::BadIndex,
                    Span::new(s, self.pos),
                    "a map key must be valid UTF-8",
                );
            }
            Index::Key(key)
        } else if self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            let (v, span) = self.int_lit_at()?;
            let n = u32::try_from(v).map_err(|_| {
                RuleError::new(K::BadIndex, span, "an array index must fit in 32 bits")
            })?;
            Index::Pos(n)
        } else {
            return Err(RuleError::new(
                K::Syntax,
                self.span_here(),
                "expected `*`, a quoted key or a position inside `[…]`",
            )
            .hint("map keys are double-quoted: [\"name\"]"));
        };
        self.ws();
        if !self.eat("]") {
            return self.err(K::Syntax, self.span_here(), "expected `]`");
        }
        Ok(idx)
    }

    fn call(&mut self, def: &'static FuncDef, start: usize) -> R<Call> {
        self.pos += 1;
        self.enter(start)?;
        let is_replace = matches!(def.f, F::RegexReplace | F::WildcardReplace);
        if is_replace {
            self.replace_calls += 1;
            if self.replace_calls > 1 {
                return Err(RuleError::new(
                    K::BadArgument,
                    Span::new(start, self.pos),
                    format!(
                        "{} cannot be combined with another regex_replace or wildcard_replace",
                        def.name
                    ),
                )
                .hint("each may be used once per expression, and not nested in the other"));
            }
        }
        let mut args: Vec<(Arg, Span)> = Vec::new();
        self.ws();
        if !self.eat(")") {
            loop {
                self.ws();
                let a_start = self.pos;
                let arg = self.arg()?;
                args.push((arg, Span::new(a_start, self.pos)));
                self.ws();
                if self.eat(",") {
                    continue;
                }
                if self.eat(")") {
                    break;
                }
                return Err(RuleError::new(
                    K::Syntax,
                    self.span_here(),
                    "expected `,` or `)` in the argument list",
                ));
            }
        }
        self.leave();
        let span = Span::new(start, self.pos);
        let signature = signature(def);
        let n = args.len();
        if n < def.min_args() || def.max_args().is_some_and(|m| n > m) {
            let want = match def.max_args() {
                Some(m) if m == def.min_args() => format!("{m}"),
                Some(m) => format!("{} to {m}", def.min_args()),
                None => format!("at least {}", def.min_args()),
            };
            return Err(RuleError::new(
                K::BadArgument,
                span,
                format!(
                    "{} takes {want} argument{}, got {n}",
                    def.name,
                    if want == "1" { "" } else { "s" }
                ),
            )
            .hint(signature));
        }
        let mut first: Option<Type> = None;
        let mut mapped = false;
        for (i, (arg, aspan)) in args.iter().enumerate() {
            let param = def.param(i).expect("arity checked");
            let ty = match arg {
                Arg::Lhs(l) => {
                    if l.each {
                        if i > 0 {
                            return Err(RuleError::new(
                                K::BadIndex,
                                *aspan,
                                "[*] is only allowed in a function's first argument",
                            ));
                        }
                        mapped = true;
                    }
                    l.ty.clone()
                }
                Arg::Expr(e) => {
                    if e.shape != Shape::Bool {
                        return self.err(
                            K::Type,
                            *aspan,
                            "an Array<Bool> cannot be a function argument",
                        );
                    }
                    Type::Bool
                }
                Arg::Bytes(_) => Type::Bytes,
                Arg::Int(_) => Type::Int,
                Arg::Ip(_) => Type::Ip,
            };
            match (param.kind, arg.is_literal()) {
                (Kind::Field, true) => {
                    return Err(RuleError::new(
                        K::BadArgument,
                        *aspan,
                        format!(
                            "argument `{}` of {} cannot be a literal",
                            param.name, def.name
                        ),
                    )
                    .hint(format!("pass a field or function; {signature}")));
                }
                (Kind::Literal, false) => {
                    return Err(RuleError::new(
                        K::BadArgument,
                        *aspan,
                        format!(
                            "argument `{}` of {} must be a literal",
                            param.name, def.name
                        ),
                    )
                    .hint(signature.clone()));
                }
                _ => {}
            }
            if !param.ty.accepts(&ty, first.as_ref()) {
                let want = if param.ty == PTy::First {
                    first.as_ref().map_or(
                        "the first argument's type".to_string(),
                        std::string::ToString::to_string,
                    )
                } else {
                    param.ty.describe().to_string()
                };
                return Err(RuleError::new(
                    K::BadArgument,
                    *aspan,
                    format!(
                        "argument `{}` of {} must be {want}, got {ty}",
                        param.name, def.name
                    ),
                )
                .hint(signature.clone()));
            }
            if i == 0 {
                first = Some(ty);
            }
        }
        self.check_constants(def, &args)?;
        let ret = def.return_type(first.as_ref());
        let ty = if mapped { Type::array(ret) } else { ret };
        Ok(Call {
            func: def,
            args: args.into_iter().map(|(a, _)| a).collect(),
            ty,
            mapped,
        })
    }

    fn check_constants(&self, def: &FuncDef, args: &[(Arg, Span)]) -> R<()> {
        let int = |i: usize| match args.get(i) {
            Some((Arg::Int(v), s)) => Some((*v, *s)),
            _ => None,
        };
        let bytes = |i: usize| match args.get(i) {
            Some((Arg::Bytes(v), s)) => Some((v.as_slice(), *s)),
            _ => None,
        };
        let range = |i: usize, lo: i64, hi: i64, what: &str| -> R<()> {
            match int(i) {
                Some((v, s)) if !(lo..=hi).contains(&v) => Err(RuleError::new(
                    K::BadArgument,
                    s,
                    format!("{what} must be {lo} to {hi}, got {v}"),
                )),
                _ => Ok(()),
            }
        };
        let flags = |i: usize, allowed: &str| -> R<()> {
            match bytes(i) {
                Some((v, s)) if !v.iter().all(|c| allowed.as_bytes().contains(c)) => {
                    Err(RuleError::new(
                        K::BadArgument,
                        s,
                        format!(
                            "unknown flag in {:?}; allowed: {allowed}",
                            String::from_utf8_lossy(v)
                        ),
                    ))
                }
                _ => Ok(()),
            }
        };
        match def.f {
            F::Split => {
                if let Some((v, s)) = bytes(1)
                    && v.is_empty()
                {
                    return self.err(
                        K::BadArgument,
                        s,
                        "the separator of split must not be empty",
                    );
                }
                range(2, 1, 128, "the limit of split")
            }
            F::Cidr => {
                range(1, 1, 32, "the IPv4 network bits")?;
                range(2, 1, 128, "the IPv6 network bits")
            }
            F::Cidr6 => range(1, 1, 128, "the IPv6 network bits"),
            F::UrlDecode => flags(1, "ru"),
            F::EncodeBase64 => flags(1, "up"),
            F::IsTimedHmacValidV0 => {
                range(4, 0, i64::MAX, "the separator length")?;
                flags(5, "s")
            }
            F::RegexReplace => {
                let (re_src, rs) = bytes(1).expect("checked literal");
                let re_text = std::str::from_utf8(re_src)
                    .map_err(|_| RuleError::new(K::BadRegex, rs, "a regex must be valid UTF-8"))?;
                let re = self.compile_regex(re_text, rs)?;
                let (rep, ps) = bytes(2).expect("checked literal");
                let refs = functions::replacement_refs(rep)
                    .map_err(|m| RuleError::new(K::BadArgument, ps, m))?;
                if let Some(n) = refs.iter().find(|n| **n >= re.captures_len()) {
                    return self.err(
                        K::BadArgument,
                        ps,
                        format!("${{{n}}} refers to a group the regex does not have"),
                    );
                }
                Ok(())
            }
            F::WildcardReplace => {
                let (pat, s) = bytes(1).expect("checked literal");
                let p = Pattern::parse(pat)
                    .map_err(|e| RuleError::new(K::BadWildcard, s, e.message))?;
                flags(3, "s")?;
                let (rep, ps) = bytes(2).expect("checked literal");
                let refs = functions::replacement_refs(rep)
                    .map_err(|m| RuleError::new(K::BadArgument, ps, m))?;
                if let Some(n) = refs.iter().find(|n| **n > p.stars()) {
                    return self.err(
                        K::BadArgument,
                        ps,
                        format!("${{{n}}} refers to a `*` the pattern does not have"),
                    );
                }
                Ok(())
            }
            F::RemoveQueryArgs => match &args[0].0 {
                Arg::Lhs(Lhs {
                    base: Base::Field(id),
                    index,
                    ..
                }) if index.is_empty()
                    && matches!(
                        id.name(),
                        "http.request.uri.query" | "raw.http.request.uri.query"
                    ) =>
                {
                    Ok(())
                }
                _ => self.err(
                    K::BadArgument,
                    args[0].1,
                    "remove_query_args takes http.request.uri.query or raw.http.request.uri.query",
                ),
            },
            _ => Ok(()),
        }
    }

    /// A function argument (reference §2.5 heuristics).
    fn arg(&mut self) -> R<Arg> {
        let start = self.pos;
        if self.at("\"") {
            return self.quoted().map(Arg::Bytes);
        }
        if self.at("r\"") || self.at("r#") {
            return self.raw().map(|(b, _)| Arg::Bytes(b));
        }
        let quant = (self.at_kw("any") || self.at_kw("all")) && {
            let mut p = self.pos + 3;
            while self
                .b
                .get(p)
                .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
            {
                p += 1;
            }
            self.b.get(p) == Some(&b'(')
        };
        if self.at("(") || self.at_kw("not") || (self.at("!") && !self.at("!=")) || quant {
            return self.or().map(Arg::Expr);
        }
        if self.at_ident_start() {
            let lhs = self.lhs()?;
            let save = self.pos;
            self.ws();
            let op_start = self.pos;
            if let Some(op) = self.cmp_op() {
                let op_span = Span::new(op_start, self.pos);
                self.ws();
                let rhs = self.rhs(&lhs, op, op_span)?;
                let shape = if lhs.each {
                    Shape::ArrayBool
                } else {
                    Shape::Bool
                };
                let span = Span::new(start, self.pos);
                return Ok(Arg::Expr(Expr {
                    kind: ExprKind::Cmp(lhs, op, rhs),
                    shape,
                    span,
                }));
            }
            self.pos = save;
            return Ok(Arg::Lhs(lhs));
        }
        // A bare literal: IP, integer, or hex bytes.
        let mut end = self.pos;
        while self
            .b
            .get(end)
            .is_some_and(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.' | b'-' | b'x' | b'/'))
        {
            end += 1;
        }
        let text = String::from_utf8_lossy(&self.b[self.pos..end]).into_owned();
        if text.is_empty() {
            return Err(RuleError::new(
                K::Syntax,
                self.span_here(),
                "expected an argument",
            ));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            self.pos = end;
            return Ok(Arg::Ip(ip));
        }
        if !text.contains(':') && !text.contains('.') {
            return self.int_lit().map(Arg::Int);
        }
        self.hex_bytes().map(Arg::Bytes)
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

/// Every function call in `e` that is not available for `usage` in `phase` (reference §4.3),
/// as errors on the call's span. The parser accepts every function everywhere; this is the
/// separate check a ruleset's phase calls for.
pub(crate) fn availability(
    e: &Expr,
    usage: functions::Usage,
    phase: Option<&str>,
) -> Vec<RuleError> {
    unavailable_calls(|f| walk_calls_expr(e, f), usage, phase)
}

/// [`availability`] for a value expression.
pub(crate) fn value_availability(
    v: &ValueExpr,
    usage: functions::Usage,
    phase: Option<&str>,
) -> Vec<RuleError> {
    unavailable_calls(|f| walk_calls_lhs(&v.lhs, f), usage, phase)
}

fn unavailable_calls(
    walk: impl FnOnce(&mut dyn FnMut(&Lhs, &Call)),
    usage: functions::Usage,
    phase: Option<&str>,
) -> Vec<RuleError> {
    let mut out = Vec::new();
    walk(&mut |l, c| {
        if let Some(why) = c.func.unavailable(usage, phase) {
            out.push(RuleError::new(K::NotAvailable, l.span, why));
        }
    });
    out
}

fn walk_calls_lhs(l: &Lhs, f: &mut dyn FnMut(&Lhs, &Call)) {
    if let Base::Call(c) = &l.base {
        f(l, c);
        for a in &c.args {
            match a {
                Arg::Lhs(x) => walk_calls_lhs(x, f),
                Arg::Expr(e) => walk_calls_expr(e, f),
                _ => {}
            }
        }
    }
}

fn walk_calls_expr(e: &Expr, f: &mut dyn FnMut(&Lhs, &Call)) {
    match &e.kind {
        ExprKind::Logical(_, items) => items.iter().for_each(|i| walk_calls_expr(i, f)),
        ExprKind::Not(i) | ExprKind::Quant { arg: i, .. } => walk_calls_expr(i, f),
        ExprKind::Cmp(l, _, _) | ExprKind::Bare(l) => walk_calls_lhs(l, f),
        ExprKind::Lit(_) => {}
    }
}

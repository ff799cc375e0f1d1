//! The typed syntax tree. Every node knows its type (checked while parsing). Spans are kept for
//! errors but ignored by equality, so `parse(print(ast)) == ast` can be tested. `Display`
//! prints the canonical form of an expression.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::Arc;

use super::functions::FuncDef;
use super::lists::List;
use super::scheme::FieldId;
use super::types::Type;
use super::wildcard::Pattern;

pub(crate) use super::error::Span;

/// Whether a logical expression yields one Bool or a Bool per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Bool,
    ArrayBool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub shape: Shape,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Xor,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// n-ary, flattened
    Logical(LogicOp, Vec<Expr>),
    Not(Box<Expr>),
    /// `any(…)` (false) or `all(…)` (true)
    Quant {
        all: bool,
        arg: Box<Expr>,
    },
    Cmp(Lhs, CmpOp, Rhs),
    Bare(Lhs),
    Lit(bool),
}

/// A field or call with indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Lhs {
    pub base: Base,
    pub index: Vec<Index>,
    /// The type after indexing; with `[*]`, the element type.
    pub ty: Type,
    /// True when the index chain contains `[*]`.
    pub each: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    Field(FieldId),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    Key(Vec<u8>),
    Pos(u32),
    Each,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: &'static FuncDef,
    pub args: Vec<Arg>,
    /// Return type; `Array<…>` when the first argument maps with `[*]`.
    pub ty: Type,
    pub mapped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Lhs(Lhs),
    Expr(Expr),
    Bytes(Vec<u8>),
    Int(i64),
    Ip(IpAddr),
}

impl Arg {
    pub fn is_literal(&self) -> bool {
        matches!(self, Arg::Bytes(_) | Arg::Int(_) | Arg::Ip(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    Matches,
    Wildcard,
    StrictWildcard,
    In,
    BitAnd,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Contains => "contains",
            CmpOp::Matches => "matches",
            CmpOp::Wildcard => "wildcard",
            CmpOp::StrictWildcard => "strict wildcard",
            CmpOp::In => "in",
            CmpOp::BitAnd => "&",
        }
    }
}

/// A compiled regex that compares by its source. The compiled program is shared by every rule
/// of a [`Compiler`](crate::rules::Compiler) that uses the same source, and so is its search
/// cache.
#[derive(Debug, Clone)]
pub struct RegexLit {
    pub src: String,
    pub re: Arc<regex::bytes::Regex>,
    /// Whether it compiles to more than [`HEAVY_REGEX_BYTES`](crate::rules::cost::HEAVY_REGEX_BYTES).
    pub heavy: bool,
}

impl PartialEq for RegexLit {
    fn eq(&self, o: &Self) -> bool {
        self.src == o.src
    }
}

/// A named list, resolved at parse time; compares by name.
#[derive(Debug, Clone)]
pub struct ListRef {
    pub name: String,
    pub list: Arc<List>,
}

impl PartialEq for ListRef {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpItem {
    Addr(IpAddr),
    Cidr(IpAddr, u8),
    Range(IpAddr, IpAddr),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    Bytes(Vec<u8>),
    Int(i64),
    Ip(IpAddr),
    Regex(RegexLit),
    Wildcard(Pattern),
    BytesSet(Vec<Vec<u8>>),
    IntSet(Vec<(i64, i64)>),
    IpSet(Vec<IpItem>),
    List(ListRef),
}

/// A value expression (rewrites, redirect targets): one field or call, indexed.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueExpr {
    /// A field or call, optionally indexed: its value.
    Lhs(Lhs),
    /// A Bool expression (`ip.geoip.continent eq "EU"`): `true` or `false`. UNCERTAIN: the
    /// API takes it (cf-terraforming's fixtures set a header so); the header text is taken
    /// to be the Bool's `true`/`false`, as `to_string` writes it.
    Bool(Expr),
}

// ---- printing -------------------------------------------------------------------------

/// Writes `b` as a quoted string literal that lexes back to the same bytes.
pub(crate) fn write_bytes(f: &mut impl fmt::Write, b: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for &c in b {
        match c {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            0x20..=0x7e => f.write_char(c as char)?,
            _ => write!(f, "\\x{c:02x}")?,
        }
    }
    f.write_char('"')
}

/// A raw string literal holding `s` verbatim.
fn write_raw(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut hashes = 0;
    while s.contains(&format!("\"{}", "#".repeat(hashes))) && hashes < 255 {
        hashes += 1;
    }
    let h = "#".repeat(hashes);
    write!(f, "r{h}\"{s}\"{h}")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Logical(op, items) => {
                let sep = match op {
                    LogicOp::And => " and ",
                    LogicOp::Xor => " xor ",
                    LogicOp::Or => " or ",
                };
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    if matches!(e.kind, ExprKind::Logical(..)) {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
            ExprKind::Not(e) => match e.kind {
                ExprKind::Logical(..) => write!(f, "not ({e})"),
                _ => write!(f, "not {e}"),
            },
            ExprKind::Quant { all, arg } => {
                write!(f, "{}({arg})", if *all { "all" } else { "any" })
            }
            ExprKind::Cmp(l, op, r) => write!(f, "{l} {} {r}", op.as_str()),
            ExprKind::Bare(l) => write!(f, "{l}"),
            ExprKind::Lit(b) => write!(f, "{b}"),
        }
    }
}

impl fmt::Display for Lhs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.base {
            Base::Field(id) => f.write_str(id.name())?,
            Base::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match a {
                        Arg::Lhs(l) => write!(f, "{l}")?,
                        Arg::Expr(e) => write!(f, "({e})")?,
                        Arg::Bytes(b) => write_bytes(f, b)?,
                        Arg::Int(i) => write!(f, "{i}")?,
                        Arg::Ip(ip) => write!(f, "{ip}")?,
                    }
                }
                f.write_str(")")?;
            }
        }
        for i in &self.index {
            match i {
                Index::Key(k) => {
                    f.write_char('[')?;
                    write_bytes(f, k)?;
                    f.write_char(']')?;
                }
                Index::Pos(n) => write!(f, "[{n}]")?,
                Index::Each => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Rhs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rhs::Bytes(b) => write_bytes(f, b),
            Rhs::Int(i) => write!(f, "{i}"),
            Rhs::Ip(ip) => write!(f, "{ip}"),
            Rhs::Regex(r) => write_raw(f, &r.src),
            Rhs::Wildcard(p) => write_bytes(f, &p.src),
            Rhs::BytesSet(items) => {
                f.write_char('{')?;
                for (i, b) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write_bytes(f, b)?;
                }
                f.write_char('}')
            }
            Rhs::IntSet(items) => {
                f.write_char('{')?;
                for (i, (a, b)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    if a == b {
                        write!(f, "{a}")?;
                    } else {
                        write!(f, "{a}..{b}")?;
                    }
                }
                f.write_char('}')
            }
            Rhs::IpSet(items) => {
                f.write_char('{')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    match item {
                        IpItem::Addr(a) => write!(f, "{a}")?,
                        IpItem::Cidr(a, n) => write!(f, "{a}/{n}")?,
                        IpItem::Range(a, b) => write!(f, "{a}..{b}")?,
                    }
                }
                f.write_char('}')
            }
            Rhs::List(l) => write!(f, "${}", l.name),
        }
    }
}

impl fmt::Display for ValueExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueExpr::Lhs(l) => write!(f, "{l}"),
            ValueExpr::Bool(e) => write!(f, "{e}"),
        }
    }
}

/// A read-only walk over an expression tree (as wirefilter's visitor): override the `visit_*`
/// methods that matter and call the `walk_*` functions to go on into the children.
pub(crate) trait Visitor {
    fn visit_expr(&mut self, e: &Expr) {
        walk_expr(self, e);
    }

    fn visit_lhs(&mut self, l: &Lhs) {
        walk_lhs(self, l);
    }

    /// A function call; `at` is the left side that holds it (its span covers any index).
    fn visit_call(&mut self, _at: &Lhs, call: &Call) {
        walk_call(self, call);
    }
}

/// Visits the children of `e`.
pub(crate) fn walk_expr<V: Visitor + ?Sized>(v: &mut V, e: &Expr) {
    match &e.kind {
        ExprKind::Logical(_, items) => items.iter().for_each(|i| v.visit_expr(i)),
        ExprKind::Not(i) | ExprKind::Quant { arg: i, .. } => v.visit_expr(i),
        ExprKind::Cmp(l, _, _) | ExprKind::Bare(l) => v.visit_lhs(l),
        ExprKind::Lit(_) => {}
    }
}

/// Visits the call `l` holds, if any.
pub(crate) fn walk_lhs<V: Visitor + ?Sized>(v: &mut V, l: &Lhs) {
    if let Base::Call(c) = &l.base {
        v.visit_call(l, c);
    }
}

/// Visits the arguments of `call` that are expressions or left sides.
pub(crate) fn walk_call<V: Visitor + ?Sized>(v: &mut V, call: &Call) {
    for a in &call.args {
        match a {
            Arg::Lhs(x) => v.visit_lhs(x),
            Arg::Expr(e) => v.visit_expr(e),
            _ => {}
        }
    }
}

//! Lowering a checked AST to compiled nodes: `and`/`or` operands ordered cheapest first,
//! `lower(field)` and `starts_with`/`ends_with` on a field turned into tests on the field,
//! comparisons into [`Test`]s, element-wise logic into [`ANode`]s.

use memchr::memmem;

use super::super::ast::*;
use super::super::functions::{F, Prepared};
use super::super::lists::{self, IpSet};
use super::super::types::Value;
use super::super::wildcard::Pattern;
use super::*;

/// A Bool node as compiled, before it is laid out as a [`Filter`]: the groups, whose operands
/// are ordered and then laid out after them, and the leaves, already in their final form.
#[derive(Debug, Clone)]
pub(super) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Xor(Box<[Node]>),
    Not(Box<Node>),
    /// `Const`, `Field`, `Flag`, `Cmp`, `Bare`, `Any` or `All`.
    Leaf(Op),
}

pub(super) fn node(e: &Expr) -> Node {
    if e.shape == Shape::ArrayBool {
        // Only reachable inside a quantifier; kept total for safety.
        return Node::Leaf(Op::Any(Box::new(anode(e))));
    }
    match &e.kind {
        ExprKind::Logical(op, items) => {
            let mut v: Vec<Node> = items.iter().map(node).collect();
            match op {
                LogicOp::And => Node::And(cheap_first(v)),
                LogicOp::Or => Node::Or(cheap_first(v)),
                LogicOp::Xor => {
                    v.shrink_to_fit();
                    Node::Xor(v.into())
                }
            }
        }
        ExprKind::Not(i) => Node::Not(Box::new(node(i))),
        ExprKind::Quant { all, arg } => {
            let a = Box::new(anode(arg));
            Node::Leaf(if *all { Op::All(a) } else { Op::Any(a) })
        }
        ExprKind::Cmp(l, op, r) => {
            if let Some((slot, t)) = caseless(l, *op, r) {
                return Node::Leaf(Op::Field(slot, t));
            }
            let a = access(l);
            let t = test(*op, r);
            match a.field() {
                Some(i) => Node::Leaf(Op::Field(i, t)),
                None => Node::Leaf(Op::Cmp(Box::new((a, t)))),
            }
        }
        ExprKind::Bare(l) => {
            if let Some((slot, t)) = affix(l) {
                return Node::Leaf(Op::Field(slot, t));
            }
            let a = access(l);
            match a.field() {
                Some(i) => Node::Leaf(Op::Flag(i)),
                None => Node::Leaf(Op::Bare(Box::new(a))),
            }
        }
        ExprKind::Lit(b) => Node::Leaf(Op::Const(*b)),
    }
}

/// A call whose first argument is a plain Bytes field, not mapped and not indexed: the
/// function, the field's slot and the other arguments.
pub(super) fn call_on_field(l: &Lhs) -> Option<(F, u16, &[Arg])> {
    let Base::Call(c) = &l.base else {
        return None;
    };
    if c.mapped || !l.index.is_empty() {
        return None;
    }
    let (Arg::Lhs(inner), rest) = c.args.split_first()? else {
        return None;
    };
    let Base::Field(id) = inner.base else {
        return None;
    };
    if !inner.index.is_empty() || inner.ty != super::super::types::Type::Bytes {
        return None;
    }
    Some((c.func.f, id.0, rest))
}

/// `lower(field) op "literal"` where the literal has no ASCII capitals, as a test on the field
/// that ignores ASCII case: `lower` changes ASCII letters only, so the answer is the same, and no
/// lowered copy is built per evaluation. The common way rules compare paths and agents.
pub(super) fn caseless(l: &Lhs, op: CmpOp, r: &Rhs) -> Option<(u16, Test)> {
    let (f, slot, []) = call_on_field(l)? else {
        return None;
    };
    if f != F::Lower {
        return None;
    }
    let lower = |b: &[u8]| !b.iter().any(u8::is_ascii_uppercase);
    let test = match (op, r) {
        (CmpOp::Eq, Rhs::Bytes(b)) if lower(b) => Test::CaselessEq(Short::new(b)?),
        (CmpOp::Ne, Rhs::Bytes(b)) if lower(b) => Test::CaselessNe(Short::new(b)?),
        (CmpOp::Contains, Rhs::Bytes(b)) if lower(b) && !b.is_empty() => {
            Test::CaselessContains(Short::new(b)?)
        }
        (CmpOp::In, Rhs::BytesSet(items))
            if items.len() <= SMALL_SET && items.iter().all(|b| lower(b)) =>
        {
            Test::CaselessIn(items.iter().map(|b| b.clone().into()).collect())
        }
        _ => return None,
    };
    Some((slot, test))
}

/// `starts_with(field, "literal")` / `ends_with(…)` on a plain Bytes field, as a test on the
/// field: no call, no argument list.
pub(super) fn affix(l: &Lhs) -> Option<(u16, Test)> {
    let (f, slot, [Arg::Bytes(lit)]) = call_on_field(l)? else {
        return None;
    };
    let test = match f {
        F::StartsWith => Test::StartsWith(Short::new(lit)?),
        F::EndsWith => Test::EndsWith(Short::new(lit)?),
        _ => return None,
    };
    Some((slot, test))
}

/// The operands of an `and`/`or` ordered cheapest first (stable). Evaluation has no side
/// effects and a missing value is just false, so the order cannot change the answer; it only
/// decides how often an expensive operand (a regex, a function call) is reached before the
/// short circuit.
pub(super) fn cheap_first(mut v: Vec<Node>) -> Box<[Node]> {
    v.sort_by_cached_key(Node::cost);
    v.into()
}

impl Node {
    /// A rough, relative cost of evaluating the node once.
    pub(super) fn cost(&self) -> u32 {
        match self {
            Node::Leaf(Op::Const(_)) => 0,
            Node::Leaf(Op::Flag(_)) => 1,
            Node::Leaf(Op::Field(_, t)) => t.cost(),
            Node::Leaf(Op::Cmp(b)) => 20 + b.1.cost(),
            Node::Leaf(Op::Bare(_)) => 20,
            // Quantifiers, and (never built) groups as leaves.
            Node::Leaf(_) => 40,
            Node::Not(n) => n.cost(),
            Node::And(v) | Node::Or(v) | Node::Xor(v) => {
                v.iter().map(Node::cost).fold(0, u32::saturating_add)
            }
        }
    }
}

pub(super) fn anode(e: &Expr) -> ANode {
    match &e.kind {
        ExprKind::Logical(op, items) => {
            let v: Box<[ANode]> = items.iter().map(anode).collect();
            match op {
                LogicOp::And => ANode::And(v),
                LogicOp::Or => ANode::Or(v),
                LogicOp::Xor => ANode::Xor(v),
            }
        }
        ExprKind::Not(i) => ANode::Not(Box::new(anode(i))),
        ExprKind::Cmp(l, op, r) => ANode::Cmp(access(l), test(*op, r)),
        ExprKind::Bare(l) if l.each => ANode::BareEach(access(l)),
        ExprKind::Bare(l) => ANode::BareArray(access(l)),
        // Bool-shaped nodes never reach here (the parser checks shapes).
        ExprKind::Quant { .. } | ExprKind::Lit(_) => ANode::And(Box::new([])),
    }
}

pub(super) fn access(l: &Lhs) -> Access {
    let base = match &l.base {
        Base::Field(id) => AccessBase::Field(id.0 as usize),
        Base::Call(c) => AccessBase::Call(Box::new(call(c))),
    };
    let steps = l
        .index
        .iter()
        .map(|i| match i {
            Index::Key(k) => Step::Key(k.clone().into_boxed_slice()),
            Index::Pos(n) => Step::Pos(*n as usize),
            Index::Each => Step::Each,
        })
        .collect();
    Access { base, steps }
}

pub(super) fn call(c: &Call) -> CCall {
    let lit = |i: usize| match c.args.get(i) {
        Some(Arg::Bytes(b)) => b.clone(),
        _ => Vec::new(),
    };
    let prep = match c.func.f {
        F::RegexReplace => {
            regex::bytes::RegexBuilder::new(std::str::from_utf8(&lit(1)).unwrap_or(""))
                .unicode(false)
                .build()
                .map(Prepared::Regex)
                .unwrap_or(Prepared::None)
        }
        F::WildcardReplace => match Pattern::parse(&lit(1)) {
            Ok(p) => Prepared::Wildcard(p, !lit(3).contains(&b's')),
            Err(_) => Prepared::None,
        },
        _ => Prepared::None,
    };
    let args = c
        .args
        .iter()
        .map(|a| match a {
            Arg::Lhs(l) => CArg::Access(access(l)),
            Arg::Expr(e) => CArg::Filter(program(node(e))),
            Arg::Bytes(b) => CArg::Const(Value::Bytes(b.clone())),
            Arg::Int(i) => CArg::Const(Value::Int(*i)),
            Arg::Ip(ip) => CArg::Const(Value::Ip(*ip)),
        })
        .collect();
    CCall {
        f: c.func.f,
        args,
        prep,
        mapped: c.mapped,
    }
}

pub(super) fn test(op: CmpOp, r: &Rhs) -> Test {
    match (op, r) {
        (CmpOp::Eq, Rhs::Bytes(b)) => match Short::new(b) {
            Some(s) => Test::EqShort(s),
            None => Test::BytesEq(b.clone().into()),
        },
        (CmpOp::Ne, Rhs::Bytes(b)) => match Short::new(b) {
            Some(s) => Test::NeShort(s),
            None => Test::BytesNe(b.clone().into()),
        },
        (CmpOp::Contains, Rhs::Bytes(b)) => match Short::new(b) {
            Some(s) if b.len() <= 8 => Test::ContainsShort(s),
            _ => Test::Contains(Box::new(memmem::Finder::new(b).into_owned())),
        },
        (op, Rhs::Bytes(b)) => Test::BytesOrd(op, b.clone().into()),
        (_, Rhs::Regex(r)) => Test::Matches(r.re.clone()),
        (op, Rhs::Wildcard(p)) => Test::Wildcard(Box::new(p.clone()), op == CmpOp::Wildcard),
        (_, Rhs::BytesSet(items)) => {
            let mut v: Vec<Box<[u8]>> = items.iter().map(|b| b.clone().into()).collect();
            v.sort();
            v.dedup();
            Test::BytesIn(v.into())
        }
        (CmpOp::BitAnd, Rhs::Int(i)) => Test::BitAnd(*i),
        (op, Rhs::Int(i)) => Test::IntOrd(op, *i),
        (_, Rhs::IntSet(items)) => Test::IntIn(lists::int_ranges(items.clone()).into()),
        (CmpOp::Ne, Rhs::Ip(ip)) => Test::IpNe(*ip),
        (_, Rhs::Ip(ip)) => Test::IpEq(*ip),
        (_, Rhs::IpSet(items)) => {
            let mut s = IpSet::new();
            for item in items {
                match item {
                    IpItem::Addr(a) => s.add_range(*a, *a),
                    IpItem::Cidr(a, n) => s.add_cidr(*a, *n),
                    IpItem::Range(a, b) => s.add_range(*a, *b),
                }
            }
            Test::IpIn(Box::new(s.finish()))
        }
        (_, Rhs::List(l)) => Test::List(l.list.clone()),
    }
}

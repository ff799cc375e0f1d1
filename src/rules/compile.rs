//! Compiles a checked AST into a tree that evaluates without re-parsing or re-resolving
//! names: fields are vector indexes, literals are pre-built matchers (memmem finders,
//! compiled regexes, sorted sets), and evaluation allocates only inside functions and
//! element-wise (`[*]`) logic that is not a plain quantified comparison.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use memchr::memmem;

use super::ast::*;
use super::context::{Context, Ref};
use super::functions::{self, F, Prepared};
use super::lists::{self, IpSet, List};
use super::types::Value;
use super::wildcard::Pattern;

/// A compiled filter: its nodes in one block, in prefix order, so that evaluating a rule reads
/// one run of memory instead of following a pointer per level.
#[derive(Debug, Clone)]
pub struct Filter {
    ops: Box<[Op]>,
}

impl Filter {
    pub fn new(e: &Expr) -> Filter {
        Filter {
            ops: program(node(e)),
        }
    }

    /// Evaluates against a context. Missing values make comparisons false.
    pub fn execute(&self, ctx: &Context) -> bool {
        run(&self.ops, 0, ctx)
    }
}

/// The tree in prefix order.
fn program(n: Node) -> Box<[Op]> {
    let mut out = Vec::new();
    flatten(n, &mut out);
    out.into()
}

fn flatten(n: Node, out: &mut Vec<Op>) {
    let group = |out: &mut Vec<Op>, items: Box<[Node]>, make: fn(u32, u32) -> Op| {
        let at = out.len();
        out.push(Op::Const(false));
        let n = items.len() as u32;
        for item in items {
            flatten(item, out);
        }
        out[at] = make(n, out.len() as u32);
    };
    match n {
        Node::And(items) => group(out, items, |n, end| Op::And { n, end }),
        Node::Or(items) => group(out, items, |n, end| Op::Or { n, end }),
        Node::Xor(items) => group(out, items, |n, end| Op::Xor { n, end }),
        Node::Not(item) => group(out, Box::new([*item]), |_, end| Op::Not { end }),
        Node::Leaf(op) => out.push(op),
    }
}

/// One node of a [`Filter`]. A group (`and`, `or`, `xor`, `not`) is followed by its `n`
/// operands, each a whole subtree; `end` is the index just past the group's last operand.
#[derive(Debug, Clone)]
enum Op {
    And {
        n: u32,
        end: u32,
    },
    Or {
        n: u32,
        end: u32,
    },
    Xor {
        n: u32,
        end: u32,
    },
    Not {
        end: u32,
    },
    Const(bool),
    /// `field op literal`: one slot read (the common shape).
    Field(u16, Test),
    /// A Bool field alone.
    Flag(u16),
    /// A comparison on an indexed field or a call (boxed, so that an op stays small).
    Cmp(Box<(Access, Test)>),
    Bare(Box<Access>),
    Any(Box<ANode>),
    All(Box<ANode>),
}

/// The index just past the subtree at `i`.
#[inline]
fn next(ops: &[Op], i: usize) -> usize {
    match ops.get(i) {
        Some(Op::And { end, .. } | Op::Or { end, .. } | Op::Xor { end, .. } | Op::Not { end }) => {
            *end as usize
        }
        _ => i + 1,
    }
}

/// Evaluates the subtree at `i`.
fn run(ops: &[Op], i: usize, ctx: &Context) -> bool {
    let Some(op) = ops.get(i) else {
        return false;
    };
    match op {
        Op::And { n, .. } => {
            let mut j = i + 1;
            for _ in 0..*n {
                if !run(ops, j, ctx) {
                    return false;
                }
                j = next(ops, j);
            }
            true
        }
        Op::Or { n, .. } => {
            let mut j = i + 1;
            for _ in 0..*n {
                if run(ops, j, ctx) {
                    return true;
                }
                j = next(ops, j);
            }
            false
        }
        Op::Xor { n, .. } => {
            let (mut j, mut acc) = (i + 1, false);
            for _ in 0..*n {
                acc ^= run(ops, j, ctx);
                j = next(ops, j);
            }
            acc
        }
        Op::Not { .. } => !run(ops, i + 1, ctx),
        Op::Const(b) => *b,
        Op::Field(f, t) => match ctx.slot_ref(usize::from(*f)) {
            Some(Ref::Bytes(b)) => t.eval_bytes(b),
            Some(Ref::Value(v)) => t.eval(v),
            None => false,
        },
        Op::Flag(f) => matches!(ctx.slot(usize::from(*f)), Some(Value::Bool(true))),
        Op::Cmp(b) => b.0.with(ctx, |v| b.1.eval(v)).unwrap_or(false),
        Op::Bare(a) => a
            .with(ctx, |v| matches!(v, Value::Bool(true)))
            .unwrap_or(false),
        Op::Any(a) => a.any(ctx),
        Op::All(a) => a.all(ctx),
    }
}

/// A compiled value expression.
#[derive(Debug, Clone)]
pub struct ValueProgram {
    kind: ValueKind,
}

#[derive(Debug, Clone)]
enum ValueKind {
    Access(Access),
    Bool(Box<Filter>),
}

impl ValueProgram {
    pub fn new(v: &ValueExpr) -> ValueProgram {
        ValueProgram {
            kind: match v {
                ValueExpr::Lhs(l) => ValueKind::Access(access(l)),
                ValueExpr::Bool(e) => ValueKind::Bool(Box::new(Filter::new(e))),
            },
        }
    }

    /// The value, or `None` when it is missing.
    pub fn eval(&self, ctx: &Context) -> Option<Value> {
        match &self.kind {
            ValueKind::Access(a) => a.get(ctx).map(Cow::into_owned),
            ValueKind::Bool(f) => Some(Value::Bool(f.execute(ctx))),
        }
    }
}

/// A Bool node as compiled, before it is laid out as a [`Filter`]: the groups, whose operands
/// are ordered and then laid out after them, and the leaves, already in their final form.
#[derive(Debug, Clone)]
enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Xor(Box<[Node]>),
    Not(Box<Node>),
    /// `Const`, `Field`, `Flag`, `Cmp`, `Bare`, `Any` or `All`.
    Leaf(Op),
}

/// Array<Bool> expressions.
#[derive(Debug, Clone)]
enum ANode {
    And(Box<[ANode]>),
    Or(Box<[ANode]>),
    Xor(Box<[ANode]>),
    Not(Box<ANode>),
    /// A comparison whose left side iterates with `[*]`.
    Cmp(Access, Test),
    /// `x[*]` of Bool elements.
    BareEach(Access),
    /// A plain Array<Bool> value.
    BareArray(Access),
}

#[derive(Debug, Clone)]
enum Step {
    Key(Box<[u8]>),
    Pos(usize),
    Each,
}

#[derive(Debug, Clone)]
enum AccessBase {
    Field(usize),
    Call(Box<CCall>),
}

#[derive(Debug, Clone)]
struct Access {
    base: AccessBase,
    steps: Box<[Step]>,
}

#[derive(Debug, Clone)]
struct CCall {
    f: F,
    args: Box<[CArg]>,
    prep: Prepared,
    mapped: bool,
}

#[derive(Debug, Clone)]
enum CArg {
    Access(Access),
    Filter(Box<[Op]>),
    Const(Value),
}

/// A byte literal short enough to live in the node itself, so that comparing with it reads
/// no other memory.
#[derive(Debug, Clone, Copy)]
struct Short {
    len: u8,
    bytes: [u8; Short::MAX],
}

impl Short {
    const MAX: usize = 21;

    fn new(b: &[u8]) -> Option<Short> {
        let mut bytes = [0; Short::MAX];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Short {
            len: b.len() as u8,
            bytes,
        })
    }

    #[inline]
    fn get(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Equality, deciding most unequal pairs by length and first byte without a call.
    #[inline]
    fn is(&self, v: &[u8]) -> bool {
        v.len() == usize::from(self.len)
            && v.first().is_none_or(|b| *b == self.bytes[0])
            && same_short(self.get(), v)
    }
}

/// Equality of two slices of the same, short length, in at most three word compares instead
/// of a call to `memcmp`.
#[inline]
fn same_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let w4 = |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        17..=24 => w8(a, 0) == w8(b, 0) && w8(a, 8) == w8(b, 8) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

/// Whether `needle` (short) occurs in `hay`: candidates by its first byte, then compared. With
/// `caseless`, `needle` is lowercase and `hay` is compared ignoring ASCII case.
#[inline]
fn contains_short(hay: &[u8], needle: &[u8], caseless: bool) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    let upper = if caseless {
        first.to_ascii_uppercase()
    } else {
        first
    };
    let mut at = 0;
    let find = |h: &[u8]| {
        if upper == first {
            memchr::memchr(first, h)
        } else {
            memchr::memchr2(first, upper, h)
        }
    };
    while let Some(i) = find(&hay[at..=last]) {
        let p = at + i;
        let candidate = &hay[p + 1..p + needle.len()];
        if caseless {
            if candidate.eq_ignore_ascii_case(rest) {
                return true;
            }
        } else if same_short(candidate, rest) {
            return true;
        }
        at = p + 1;
        if at > last {
            break;
        }
    }
    false
}

#[derive(Debug, Clone)]
enum Test {
    /// `lower(field) eq/ne/contains/in` literals without capitals (see [`caseless`]).
    CaselessEq(Short),
    CaselessNe(Short),
    CaselessContains(Short),
    CaselessIn(Box<[Box<[u8]>]>),
    /// `starts_with(field, …)` / `ends_with(field, …)` (see [`affix`]).
    StartsWith(Short),
    EndsWith(Short),
    EqShort(Short),
    NeShort(Short),
    ContainsShort(Short),
    BytesEq(Box<[u8]>),
    BytesNe(Box<[u8]>),
    BytesOrd(CmpOp, Box<[u8]>),
    Contains(Box<memmem::Finder<'static>>),
    Matches(Arc<regex::bytes::Regex>),
    Wildcard(Box<Pattern>, bool),
    BytesIn(Box<[Box<[u8]>]>),
    IntOrd(CmpOp, i64),
    IntIn(Box<[(i64, i64)]>),
    BitAnd(i64),
    IpEq(IpAddr),
    IpNe(IpAddr),
    IpIn(Box<IpSet>),
    List(Arc<List>),
}

fn node(e: &Expr) -> Node {
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
fn call_on_field(l: &Lhs) -> Option<(F, u16, &[Arg])> {
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
    if !inner.index.is_empty() || inner.ty != super::types::Type::Bytes {
        return None;
    }
    Some((c.func.f, id.0, rest))
}

/// `lower(field) op "literal"` where the literal has no ASCII capitals, as a test on the field
/// that ignores ASCII case: `lower` changes ASCII letters only, so the answer is the same, and no
/// lowered copy is built per evaluation. The common way rules compare paths and agents.
fn caseless(l: &Lhs, op: CmpOp, r: &Rhs) -> Option<(u16, Test)> {
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
fn affix(l: &Lhs) -> Option<(u16, Test)> {
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
fn cheap_first(mut v: Vec<Node>) -> Box<[Node]> {
    v.sort_by_cached_key(Node::cost);
    v.into()
}

impl Node {
    /// A rough, relative cost of evaluating the node once.
    fn cost(&self) -> u32 {
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

fn anode(e: &Expr) -> ANode {
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

fn access(l: &Lhs) -> Access {
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

fn call(c: &Call) -> CCall {
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

fn test(op: CmpOp, r: &Rhs) -> Test {
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

/// Sets of strings this small are scanned; larger ones are searched.
const SMALL_SET: usize = 8;

fn ord<T: Ord + ?Sized>(op: CmpOp, a: &T, b: &T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        _ => false,
    }
}

impl Test {
    fn cost(&self) -> u32 {
        match self {
            Test::IntOrd(..) | Test::IntIn(_) | Test::BitAnd(_) | Test::IpEq(_) | Test::IpNe(_) => {
                2
            }
            Test::EqShort(_) | Test::NeShort(_) | Test::CaselessEq(_) | Test::CaselessNe(_) => 2,
            Test::CaselessIn(_) => 5,
            Test::StartsWith(_) | Test::EndsWith(_) => 3,
            Test::CaselessContains(_) => 9,
            Test::BytesEq(_) | Test::BytesNe(_) | Test::BytesOrd(..) => 3,
            Test::ContainsShort(_) => 7,
            Test::IpIn(_) => 4,
            Test::BytesIn(set) if set.len() <= SMALL_SET => 4,
            Test::BytesIn(_) | Test::List(_) => 6,
            Test::Contains(_) => 8,
            Test::Wildcard(..) => 12,
            Test::Matches(_) => 50,
        }
    }

    #[inline]
    fn eval(&self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Bytes(v)) => self.eval_bytes(v),
            (Test::IntOrd(op, i), Value::Int(v)) => ord(*op, v, i),
            (Test::IntIn(r), Value::Int(v)) => lists::int_ranges_contain(r, *v),
            (Test::BitAnd(i), Value::Int(v)) => v & i != 0,
            (Test::IpEq(ip), Value::Ip(v)) => ip == v,
            (Test::IpNe(ip), Value::Ip(v)) => ip != v,
            (Test::IpIn(s), Value::Ip(v)) => s.contains(v),
            (Test::List(l), Value::Ip(v)) => l.contains_ip(v),
            (Test::List(l), Value::Int(v)) => l.contains_int(*v),
            _ => false,
        }
    }

    /// The test on a Bytes value.
    #[inline]
    fn eval_bytes(&self, v: &[u8]) -> bool {
        match self {
            Test::StartsWith(s) => v.starts_with(s.get()),
            Test::EndsWith(s) => v.ends_with(s.get()),
            Test::CaselessEq(s) => s.get().eq_ignore_ascii_case(v),
            Test::CaselessNe(s) => !s.get().eq_ignore_ascii_case(v),
            Test::CaselessContains(s) => contains_short(v, s.get(), true),
            Test::CaselessIn(set) => set.iter().any(|x| x.eq_ignore_ascii_case(v)),
            Test::EqShort(s) => s.is(v),
            Test::NeShort(s) => !s.is(v),
            Test::ContainsShort(s) => contains_short(v, s.get(), false),
            Test::BytesEq(b) => **b == *v,
            Test::BytesNe(b) => **b != *v,
            Test::BytesOrd(op, b) => ord(*op, v, b),
            Test::Contains(f) => f.find(v).is_some(),
            Test::Matches(re) => re.is_match(v),
            Test::Wildcard(p, ci) => p.is_match(v, *ci),
            Test::BytesIn(set) if set.len() <= SMALL_SET => {
                set.iter().any(|x| x.len() == v.len() && same_short(x, v))
            }
            Test::BytesIn(set) => set.binary_search_by(|x| (**x).cmp(v)).is_ok(),
            Test::List(l) => l.contains_host(v),
            _ => false,
        }
    }
}

fn zip(items: &[ANode], ctx: &Context, f: fn(bool, bool) -> bool) -> Vec<bool> {
    let mut it = items.iter();
    let mut acc = it.next().map(|n| n.vec(ctx)).unwrap_or_default();
    for n in it {
        let next = n.vec(ctx);
        acc.truncate(next.len());
        for (a, b) in acc.iter_mut().zip(next) {
            *a = f(*a, b);
        }
    }
    acc
}

impl ANode {
    fn vec(&self, ctx: &Context) -> Vec<bool> {
        match self {
            ANode::And(items) => zip(items, ctx, |a, b| a && b),
            ANode::Or(items) => zip(items, ctx, |a, b| a || b),
            ANode::Xor(items) => zip(items, ctx, |a, b| a ^ b),
            ANode::Not(n) => n.vec(ctx).into_iter().map(|b| !b).collect(),
            ANode::Cmp(a, t) => {
                let mut out = Vec::new();
                a.for_each(ctx, &mut |v| {
                    out.push(t.eval(v));
                    true
                });
                out
            }
            ANode::BareEach(a) => {
                let mut out = Vec::new();
                a.for_each(ctx, &mut |v| {
                    out.push(matches!(v, Value::Bool(true)));
                    true
                });
                out
            }
            ANode::BareArray(a) => match a.get(ctx).as_deref() {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| matches!(v, Value::Bool(true)))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    fn any(&self, ctx: &Context) -> bool {
        match self {
            ANode::Cmp(a, t) => {
                let mut found = false;
                a.for_each(ctx, &mut |v| {
                    found = t.eval(v);
                    !found
                });
                found
            }
            _ => self.vec(ctx).into_iter().any(|b| b),
        }
    }

    fn all(&self, ctx: &Context) -> bool {
        match self {
            ANode::Cmp(a, t) => {
                let mut ok = true;
                a.for_each(ctx, &mut |v| {
                    ok = t.eval(v);
                    ok
                });
                ok
            }
            // A missing plain array is false for both quantifiers (reference §2.6).
            ANode::BareArray(a) if a.get(ctx).is_none() => false,
            _ => self.vec(ctx).into_iter().all(|b| b),
        }
    }
}

fn index_ref<'a>(v: &'a Value, s: &Step) -> Option<&'a Value> {
    match (v, s) {
        (Value::Map(m), Step::Key(k)) => m.get(&**k),
        (Value::Array(a), Step::Pos(i)) => a.get(*i),
        _ => None,
    }
}

fn index_owned(v: Value, s: &Step) -> Option<Value> {
    match (v, s) {
        (Value::Map(mut m), Step::Key(k)) => m.remove(&**k),
        (Value::Array(mut a), Step::Pos(i)) if *i < a.len() => Some(a.swap_remove(*i)),
        _ => None,
    }
}

/// Visits the values at `steps` below `v`; `[*]` fans out. Returns false when `f` stopped.
fn walk(v: &Value, steps: &[Step], f: &mut dyn FnMut(&Value) -> bool) -> bool {
    match steps.split_first() {
        None => f(v),
        Some((Step::Each, rest)) => match v {
            Value::Array(a) => a.iter().all(|x| walk(x, rest, f)),
            Value::Map(m) => m.values().all(|x| walk(x, rest, f)),
            _ => true,
        },
        Some((s, rest)) => match index_ref(v, s) {
            Some(x) => walk(x, rest, f),
            None => true,
        },
    }
}

impl Access {
    /// The field, when this is a plain field with no index.
    fn field(&self) -> Option<u16> {
        match (&self.base, &*self.steps) {
            (AccessBase::Field(i), []) => u16::try_from(*i).ok(),
            _ => None,
        }
    }

    fn base<'a>(&'a self, ctx: &'a Context) -> Option<Cow<'a, Value>> {
        match &self.base {
            AccessBase::Field(i) => ctx.slot(*i).map(Cow::Borrowed),
            AccessBase::Call(c) => c.eval(ctx).map(Cow::Owned),
        }
    }

    /// Calls `f` with the value (no `[*]` in the steps), or returns `None` if it is missing.
    #[inline]
    fn with<R>(&self, ctx: &Context, f: impl FnOnce(&Value) -> R) -> Option<R> {
        if let (AccessBase::Field(i), []) = (&self.base, &*self.steps) {
            return ctx.slot(*i).map(f);
        }
        self.get(ctx).map(|v| f(&v))
    }

    fn get<'a>(&'a self, ctx: &'a Context) -> Option<Cow<'a, Value>> {
        let mut cur = self.base(ctx)?;
        for s in &self.steps {
            cur = match cur {
                Cow::Borrowed(b) => Cow::Borrowed(index_ref(b, s)?),
                Cow::Owned(o) => Cow::Owned(index_owned(o, s)?),
            };
        }
        Some(cur)
    }

    fn for_each(&self, ctx: &Context, f: &mut dyn FnMut(&Value) -> bool) {
        if let Some(base) = self.base(ctx) {
            walk(&base, &self.steps, f);
        }
    }
}

impl CArg {
    fn eval<'a>(&'a self, ctx: &'a Context) -> Option<Cow<'a, Value>> {
        match self {
            CArg::Access(a) => a.get(ctx),
            CArg::Filter(ops) => Some(Cow::Owned(Value::Bool(run(ops, 0, ctx)))),
            CArg::Const(v) => Some(Cow::Borrowed(v)),
        }
    }
}

impl CCall {
    fn eval(&self, ctx: &Context) -> Option<Value> {
        if self.mapped
            && let Some((CArg::Access(first), rest)) = self.args.split_first()
        {
            let rest: Vec<Option<Cow<'_, Value>>> = rest.iter().map(|a| a.eval(ctx)).collect();
            let mut out = Vec::new();
            first.for_each(ctx, &mut |v| {
                let mut args: Vec<Option<Cow<'_, Value>>> = Vec::with_capacity(rest.len() + 1);
                args.push(Some(Cow::Borrowed(v)));
                args.extend(rest.iter().map(|a| a.as_deref().map(Cow::Borrowed)));
                if let Some(r) = functions::call(self.f, &args, &self.prep) {
                    out.push(r);
                }
                true
            });
            return Some(Value::Array(out));
        }
        // Most calls have a few arguments: gathered on the stack.
        let mut few: [Option<Cow<'_, Value>>; 4] = Default::default();
        if self.args.len() <= few.len() {
            for (slot, a) in few.iter_mut().zip(&self.args) {
                *slot = a.eval(ctx);
            }
            return functions::call(self.f, &few[..self.args.len()], &self.prep);
        }
        let args: Vec<Option<Cow<'_, Value>>> = self.args.iter().map(|a| a.eval(ctx)).collect();
        functions::call(self.f, &args, &self.prep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_stay_small() {
        assert!(size_of::<Test>() <= 24, "{}", size_of::<Test>());
        assert!(size_of::<Op>() <= 32, "{}", size_of::<Op>());
    }

    #[test]
    fn short_equality_agrees_with_slices() {
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=30 {
            for at in 0..n {
                let a = &text[..n];
                let mut b = a.to_vec();
                assert!(same_short(a, &b), "{n}");
                b[at] ^= 1;
                assert!(!same_short(a, &b), "{n} {at}");
            }
            assert!(!same_short(&text[..n], &text[..n + 1]));
        }
    }

    #[test]
    fn lower_with_a_lowercase_literal_is_a_caseless_test_with_the_same_answers() {
        use crate::rules::{Context, Lists, compile_filter};
        let lists = Lists::new();
        let agents: &[&str] = &[
            "",
            "curl/8",
            "CURL/8",
            "Mozilla Googlebot",
            "BOT",
            "xbo",
            "b",
        ];
        let exprs = [
            r#"lower(http.user_agent) eq "curl/8""#,
            r#"lower(http.user_agent) ne "curl/8""#,
            r#"lower(http.user_agent) contains "bot""#,
            r#"lower(http.user_agent) contains "b""#,
            r#"lower(http.user_agent) in {"bot" "curl/8"}"#,
            r#"lower(http.user_agent) eq "CURL/8""#,
        ];
        for e in exprs {
            let f = compile_filter(e, &lists).unwrap();
            // The same comparison through the general path: the lowered value as a field.
            let general =
                compile_filter(&e.replace("lower(http.user_agent)", "http.host"), &lists).unwrap();
            for ua in agents {
                let mut ctx = Context::new();
                ctx.set("http.user_agent", Value::bytes(*ua)).unwrap();
                let mut lowered = Context::new();
                lowered
                    .set("http.host", Value::bytes(ua.to_ascii_lowercase()))
                    .unwrap();
                assert_eq!(f.execute(&ctx), general.execute(&lowered), "{e} on {ua:?}");
            }
        }
        let f = compile_filter(r#"lower(http.user_agent) contains "bot""#, &lists).unwrap();
        assert!(matches!(f.ops[0], Op::Field(_, Test::CaselessContains(_))));
    }

    #[test]
    fn starts_and_ends_with_on_a_field_are_field_tests_with_the_same_answers() {
        use crate::rules::{Context, Lists, compile_filter};
        let lists = Lists::new();
        for (e, path, want) in [
            (
                r#"starts_with(http.request.uri.path, "/api/")"#,
                "/api/v1",
                true,
            ),
            (
                r#"starts_with(http.request.uri.path, "/api/")"#,
                "/ap",
                false,
            ),
            (
                r#"ends_with(http.request.uri.path, ".php")"#,
                "/x.php",
                true,
            ),
            (
                r#"ends_with(http.request.uri.path, ".php")"#,
                "/x.phpx",
                false,
            ),
            (r#"not ends_with(http.request.uri.path, "")"#, "/", false),
        ] {
            let f = compile_filter(e, &lists).unwrap();
            assert!(
                matches!(
                    f.ops.last(),
                    Some(Op::Field(_, Test::StartsWith(_) | Test::EndsWith(_)))
                ),
                "{e}"
            );
            let mut ctx = Context::new();
            ctx.set("http.request.uri.path", Value::bytes(path))
                .unwrap();
            assert_eq!(f.execute(&ctx), want, "{e} on {path}");
            // Missing field: false, as the call on a missing value is.
            assert_eq!(f.execute(&Context::new()), e.starts_with("not "), "{e}");
        }
    }

    #[test]
    fn short_contains_agrees_with_memmem() {
        let hays: &[&[u8]] = &[b"", b"a", b"aaab", b"/admin/users", b"xadmixadmin", b"admi"];
        let needles: &[&[u8]] = &[b"", b"a", b"ab", b"admin", b"min", b"users", b"x"];
        for h in hays {
            for n in needles {
                assert_eq!(
                    contains_short(h, n, false),
                    memmem::find(h, n).is_some(),
                    "{h:?} {n:?}"
                );
            }
        }
    }
}

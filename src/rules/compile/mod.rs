//! Compiles a checked AST into a tree that evaluates without re-parsing or re-resolving
//! names: fields are vector indexes, literals are pre-built matchers (memmem finders,
//! compiled regexes, sorted sets), and evaluation allocates only inside functions and
//! element-wise (`[*]`) logic that is not a plain quantified comparison.

mod access;
mod array;
mod cmp;
mod lower;

use std::borrow::Cow;

use super::ast::*;
use super::context::{Context, Ref};
use super::types::Value;

use access::*;
use array::*;
use cmp::*;
use lower::*;

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

#[cfg(test)]
mod tests;

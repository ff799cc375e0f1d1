//! `Array<Bool>` nodes: element-wise logic over `[*]`, evaluated to one Bool per element.

use super::super::context::Context;
use super::super::types::Value;
use super::*;

/// Array<Bool> expressions.
#[derive(Debug, Clone)]
pub(super) enum ANode {
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

pub(super) fn zip(items: &[ANode], ctx: &Context, f: fn(bool, bool) -> bool) -> Vec<bool> {
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
    pub(super) fn vec(&self, ctx: &Context) -> Vec<bool> {
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

    pub(super) fn any(&self, ctx: &Context) -> bool {
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

    pub(super) fn all(&self, ctx: &Context) -> bool {
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

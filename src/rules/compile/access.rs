//! Field access and calls: a field's slot or a call, then indexes (`[*]` fans out).

use std::borrow::Cow;

use super::super::context::Context;
use super::super::functions::{self, F, Prepared};
use super::super::types::Value;
use super::*;

#[derive(Debug, Clone)]
pub(super) enum Step {
    Key(Box<[u8]>),
    Pos(usize),
    Each,
}

#[derive(Debug, Clone)]
pub(super) enum AccessBase {
    Field(usize),
    Call(Box<CCall>),
}

#[derive(Debug, Clone)]
pub(super) struct Access {
    pub(super) base: AccessBase,
    pub(super) steps: Box<[Step]>,
}

#[derive(Debug, Clone)]
pub(super) struct CCall {
    pub(super) f: F,
    pub(super) args: Box<[CArg]>,
    pub(super) prep: Prepared,
    pub(super) mapped: bool,
}

#[derive(Debug, Clone)]
pub(super) enum CArg {
    Access(Access),
    Filter(Box<[Op]>),
    Const(Value),
}

pub(super) fn index_ref<'a>(v: &'a Value, s: &Step) -> Option<&'a Value> {
    match (v, s) {
        (Value::Map(m), Step::Key(k)) => m.get(&**k),
        (Value::Array(a), Step::Pos(i)) => a.get(*i),
        _ => None,
    }
}

pub(super) fn index_owned(v: Value, s: &Step) -> Option<Value> {
    match (v, s) {
        (Value::Map(mut m), Step::Key(k)) => m.remove(&**k),
        (Value::Array(mut a), Step::Pos(i)) if *i < a.len() => Some(a.swap_remove(*i)),
        _ => None,
    }
}

/// Visits the values at `steps` below `v`; `[*]` fans out. Returns false when `f` stopped.
pub(super) fn walk(v: &Value, steps: &[Step], f: &mut dyn FnMut(&Value) -> bool) -> bool {
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
    pub(super) fn field(&self) -> Option<u16> {
        match (&self.base, &*self.steps) {
            (AccessBase::Field(i), []) => u16::try_from(*i).ok(),
            _ => None,
        }
    }

    pub(super) fn base<'a>(&'a self, ctx: &'a Context) -> Option<Cow<'a, Value>> {
        match &self.base {
            AccessBase::Field(i) => ctx.slot(*i).map(Cow::Borrowed),
            AccessBase::Call(c) => c.eval(ctx).map(Cow::Owned),
        }
    }

    /// Calls `f` with the value (no `[*]` in the steps), or returns `None` if it is missing.
    #[inline]
    pub(super) fn with<R>(&self, ctx: &Context, f: impl FnOnce(&Value) -> R) -> Option<R> {
        if let (AccessBase::Field(i), []) = (&self.base, &*self.steps) {
            return ctx.slot(*i).map(f);
        }
        self.get(ctx).map(|v| f(&v))
    }

    pub(super) fn get<'a>(&'a self, ctx: &'a Context) -> Option<Cow<'a, Value>> {
        let mut cur = self.base(ctx)?;
        for s in &self.steps {
            cur = match cur {
                Cow::Borrowed(b) => Cow::Borrowed(index_ref(b, s)?),
                Cow::Owned(o) => Cow::Owned(index_owned(o, s)?),
            };
        }
        Some(cur)
    }

    pub(super) fn for_each(&self, ctx: &Context, f: &mut dyn FnMut(&Value) -> bool) {
        if let Some(base) = self.base(ctx) {
            walk(&base, &self.steps, f);
        }
    }
}

impl CArg {
    pub(super) fn eval<'a>(&'a self, ctx: &'a Context) -> Option<Cow<'a, Value>> {
        match self {
            CArg::Access(a) => a.get(ctx),
            CArg::Filter(ops) => Some(Cow::Owned(Value::Bool(run(ops, 0, ctx)))),
            CArg::Const(v) => Some(Cow::Borrowed(v)),
        }
    }
}

impl CCall {
    pub(super) fn eval(&self, ctx: &Context) -> Option<Value> {
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

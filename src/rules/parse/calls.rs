//! Left-hand sides: fields, indexes and function calls, with each call typed against its
//! definition (argument kinds, count, types, constant arguments).

use std::net::IpAddr;

use super::*;
use crate::rules::ast::*;
use crate::rules::error::{ErrorKind as K, RuleError};
use crate::rules::functions::{self, F, FuncDef, Kind, PTy};
use crate::rules::types::Type;
use crate::rules::wildcard::Pattern;
use crate::text::suggestion;

impl Parser<'_> {
    pub(super) fn lhs(&mut self) -> R<Lhs> {
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

    pub(super) fn index(&mut self) -> R<Index> {
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

    pub(super) fn call(&mut self, def: &'static FuncDef, start: usize) -> R<Call> {
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

    pub(super) fn check_constants(&self, def: &FuncDef, args: &[(Arg, Span)]) -> R<()> {
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
                let (re, _) = self.compile_regex(re_text, rs)?;
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

    /// `lhs op rhs` when a comparison operator follows `lhs`; otherwise `lhs` back, with the
    /// position where `lhs` ended.
    pub(super) fn cmp_after(&mut self, lhs: Lhs) -> R<Result<Expr, Lhs>> {
        let save = self.pos;
        self.ws();
        let op_start = self.pos;
        let Some(op) = self.cmp_op() else {
            self.pos = save;
            return Ok(Err(lhs));
        };
        let op_span = Span::new(op_start, self.pos);
        self.ws();
        let rhs = self.rhs(&lhs, op, op_span)?;
        let shape = if lhs.each {
            Shape::ArrayBool
        } else {
            Shape::Bool
        };
        let span = lhs.span.to(Span::new(op_start, self.pos));
        Ok(Ok(Expr {
            kind: ExprKind::Cmp(lhs, op, rhs),
            shape,
            span,
        }))
    }

    /// A function argument (reference §2.5 heuristics).
    pub(super) fn arg(&mut self) -> R<Arg> {
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
        if self.at("(") || self.at("not") || (self.at("!") && !self.at("!=")) || quant {
            return self.or().map(Arg::Expr);
        }
        if self.at_ident_start() {
            let lhs = self.lhs()?;
            return Ok(match self.cmp_after(lhs)? {
                Ok(cmp) => Arg::Expr(cmp),
                Err(lhs) => Arg::Lhs(lhs),
            });
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

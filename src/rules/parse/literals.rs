//! Right-hand-side literals, lexed by the type the left side expects: strings (quoted, raw,
//! hex), regexes, wildcards, integers, IP addresses and ranges, sets, and `$list` references.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::*;
use crate::rules::ast::*;
use crate::rules::cost::HEAVY_REGEX_BYTES;
use crate::rules::error::{ErrorKind as K, RuleError};
use crate::rules::lists::List;
use crate::rules::types::Type;
use crate::rules::wildcard::Pattern;
use crate::text::suggestion;

/// The regexes a [`Compiler`](crate::rules::Compiler) has built, by source: a project's rules
/// share one compiled program (and its lazy DFA cache) per distinct regex. Keyed by source alone,
/// so one cache serves one [`ParseLimits`].
#[derive(Debug, Default)]
pub(crate) struct RegexCache(RefCell<HashMap<String, (Arc<regex::bytes::Regex>, bool)>>);

impl RegexCache {
    /// How many distinct regexes it holds.
    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

impl Parser<'_> {
    pub(super) fn bytes_lit(&mut self) -> R<Vec<u8>> {
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
    pub(super) fn quoted(&mut self) -> R<Vec<u8>> {
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
    pub(super) fn raw(&mut self) -> R<(Vec<u8>, usize)> {
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
    pub(super) fn hex_bytes(&mut self) -> R<Vec<u8>> {
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
    pub(super) fn regex_lit(&mut self) -> R<RegexLit> {
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
        let (re, heavy) = self.compile_regex(&src, Span::new(start, self.pos))?;
        Ok(RegexLit { src, re, heavy })
    }

    /// The regex, compiled once per [`RegexCache`], and whether it is heavy.
    pub(super) fn compile_regex(
        &self,
        src: &str,
        span: Span,
    ) -> R<(Arc<regex::bytes::Regex>, bool)> {
        if let Some(hit) = self.regexes.0.borrow().get(src) {
            return Ok(hit.clone());
        }
        let build = |limit: usize| {
            regex::bytes::RegexBuilder::new(src)
                .unicode(false)
                .size_limit(limit)
                .dfa_size_limit(self.settings.regex_dfa_limit)
                .build()
        };
        // Built once at the heavy limit: almost every regex fits, and then it is not heavy.
        let light = HEAVY_REGEX_BYTES.min(self.settings.regex_size_limit);
        let built = match build(light) {
            Ok(re) => Ok((re, false)),
            Err(regex::Error::CompiledTooBig(_)) if light < self.settings.regex_size_limit => {
                build(self.settings.regex_size_limit).map(|re| (re, true))
            }
            Err(e) => Err(e),
        };
        let (re, heavy) = built.map_err(|e| match e {
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
        })?;
        let compiled = (Arc::new(re), heavy);
        self.regexes
            .0
            .borrow_mut()
            .insert(src.to_string(), compiled.clone());
        Ok(compiled)
    }

    pub(super) fn wildcard_lit(&mut self) -> R<Pattern> {
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

    pub(super) fn int_lit(&mut self) -> R<i64> {
        self.int_lit_at().map(|(v, _)| v)
    }

    /// Decimal (optionally negative), `0x` hex, or `0`-prefixed octal.
    pub(super) fn int_lit_at(&mut self) -> R<(i64, Span)> {
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
    pub(super) fn ip_run(&mut self) -> (String, Span) {
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

    pub(super) fn parse_ip(&self, text: &str, span: Span) -> R<IpAddr> {
        text.parse::<IpAddr>()
            .map_err(|_| RuleError::new(K::BadIp, span, format!("`{text}` is not an IP address")))
    }

    pub(super) fn ip_single(&mut self) -> R<IpAddr> {
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

    pub(super) fn ip_item(&mut self) -> R<IpItem> {
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
            let (net, _) = crate::rules::lists::cidr_bounds(addr, prefix);
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

    pub(super) fn list_ref(&mut self, ty: &Type) -> R<ListRef> {
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
        let Some(list) = self.lists.get(&name).or_else(|| self.lists.open_list(ty)) else {
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
                List::Redirect(_) => "http.request.full_uri",
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
}

//! The cursor: whitespace, keywords, spans, nesting depth, identifiers.

use super::*;
use crate::rules::ast::*;
use crate::rules::error::{ErrorKind as K, RuleError};
use crate::text::suggestion;

impl Parser<'_> {
    pub(super) fn ws(&mut self) {
        while let Some(c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\r' | b'\n' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    pub(super) fn rest(&self) -> &[u8] {
        &self.b[self.pos..]
    }

    pub(super) fn at(&self, s: &str) -> bool {
        self.rest().starts_with(s.as_bytes())
    }

    pub(super) fn eat(&mut self, s: &str) -> bool {
        if self.at(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// A keyword followed by a non-identifier byte.
    pub(super) fn at_kw(&self, kw: &str) -> bool {
        self.at(kw)
            && !self
                .b
                .get(self.pos + kw.len())
                .is_some_and(|c| is_ident(*c) || *c == b'.')
    }

    /// An English operator (`not`, `and`, `eq`, `contains`, …), matched as wirefilter's
    /// lexer matches it: as a prefix, so `notssl` is `not ssl` and `port eq443` is
    /// `port eq 443` (README "Grammar edge cases").
    pub(super) fn eat_word(&mut self, word: &str) -> bool {
        if self.at(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    pub(super) fn at_ident_start(&self) -> bool {
        self.b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    }

    pub(super) fn span_here(&self) -> Span {
        let end = (self.pos + 1).min(self.b.len().max(self.pos));
        Span::new(self.pos, end.max(self.pos))
    }

    pub(super) fn err<T>(&self, kind: K, span: Span, msg: impl Into<String>) -> R<T> {
        Err(RuleError::new(kind, span, msg))
    }

    pub(super) fn finish(&mut self) -> R<()> {
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

    pub(super) fn enter(&mut self, at: usize) -> R<()> {
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

    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- logical --------------------------------------------------------------------

    pub(super) fn ident(&mut self) -> Option<(String, Span)> {
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
}

//! Expression errors: a kind (stable code for tests and `eval --batch`), a span, a title and a
//! hint. [`RuleError::render`] shows the expression with a caret under the span.

use std::fmt;

use super::ast::Span;

/// What went wrong, coarse enough to test against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Unexpected or missing token.
    Syntax,
    Empty,
    TooLong,
    TooDeep,
    UnknownField,
    UnknownFunction,
    UnknownList,
    /// A string literal: bad escape, missing quote, bad raw string.
    BadString,
    /// An integer literal: not a number, out of range, bad octal digit.
    BadInt,
    /// An IP literal, CIDR or IP range.
    BadIp,
    /// A range whose bounds are reversed or of different families.
    BadRange,
    BadRegex,
    BadWildcard,
    /// An operator or operand of the wrong type, or a non-Bool root.
    Type,
    /// A function argument: count, type, kind (literal vs field) or constant.
    BadArgument,
    /// An index that does not fit the value (`[0]` on a map, `[*]` outside a first argument).
    BadIndex,
    /// A function used where it is not available (value-only function in a filter).
    NotAvailable,
}

impl ErrorKind {
    /// A stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::Empty => "empty",
            ErrorKind::TooLong => "too_long",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::UnknownField => "unknown_field",
            ErrorKind::UnknownFunction => "unknown_function",
            ErrorKind::UnknownList => "unknown_list",
            ErrorKind::BadString => "bad_string",
            ErrorKind::BadInt => "bad_int",
            ErrorKind::BadIp => "bad_ip",
            ErrorKind::BadRange => "bad_range",
            ErrorKind::BadRegex => "bad_regex",
            ErrorKind::BadWildcard => "bad_wildcard",
            ErrorKind::Type => "type",
            ErrorKind::BadArgument => "bad_argument",
            ErrorKind::BadIndex => "bad_index",
            ErrorKind::NotAvailable => "not_available",
        }
    }
}

/// An error in an expression, with the byte span it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub kind: ErrorKind,
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

impl RuleError {
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> Self {
        RuleError {
            kind,
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// 1-based line and column (in chars) of the span's start within `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        crate::diag::line_col(src, self.span.start)
    }

    /// The expression's line with a caret under the span, then the hint.
    pub fn render(&self, src: &str) -> String {
        let (line_no, col) = self.line_col(src);
        let line = src.lines().nth(line_no - 1).unwrap_or("");
        let len = src
            .get(self.span.start.min(src.len())..self.span.end.min(src.len()))
            .map_or(1, |s| s.split('\n').next().unwrap_or("").chars().count())
            .max(1);
        let num = line_no.to_string();
        let pad = " ".repeat(num.len());
        let mut out = format!(
            "error: {}\n{pad} |\n{num} | {line}\n{pad} | {}{}\n",
            self.message,
            " ".repeat(col - 1),
            "^".repeat(len)
        );
        if let Some(h) = &self.hint {
            out.push_str(&format!("{pad} = hint: {h}\n"));
        }
        out
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at {}..{})",
            self.message, self.span.start, self.span.end
        )?;
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleError {}

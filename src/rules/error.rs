//! Expression errors: a kind (stable code for tests and `eval --batch`), a span, a title and a
//! hint. [`RuleError::render`] shows the expression with a caret under the span.

use std::fmt;

/// A byte range in the source. Always equal to every other span (see `ast`'s module doc).
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

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
    /// An operator or operand of the wrong type.
    Type,
    /// A lone value that is not a condition (`http.host` alone): a Type error whose whole
    /// expression may still be a value expression. Its code is `type`.
    NotCondition,
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
            ErrorKind::Type | ErrorKind::NotCondition => "type",
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

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// A field value that cannot be set: unknown name, wrong type, unreadable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("unknown field `{name}`{}", did_you_mean(.suggestion))]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    #[error("field `{name}` is {ty}")]
    WrongType { name: String, ty: String },
    #[error("field `{name}`: {reason}")]
    BadValue { name: String, reason: ValueError },
}

/// Why a JSON value is not a value of a field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0} is not a 64-bit integer")]
    NotI64(String),
    #[error("`{0}` is not an IP address")]
    NotIp(String),
    #[error("expected {expected}, got {got}")]
    Expected { expected: String, got: &'static str },
}

/// A Trace API request the engine cannot build a context from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("`{0}` is not an absolute URL")]
    NotAbsolute(String),
    #[error("`{0}` is not an http(s) URL")]
    NotHttp(String),
    #[error("bad IPv6 host in `{0}`")]
    BadIpv6Host(String),
    #[error("bad port in `{0}`")]
    BadPort(String),
    #[error("`{0}` has no host")]
    NoHost(String),
    #[error("body.base64: {0}")]
    Base64(String),
    #[error("body.json: {0}")]
    Json(String),
    #[error(transparent)]
    Field(#[from] FieldError),
}

//! What a Trace API request may hold, checked in one place for every way a request comes in:
//! suite files (the loader adds positions), `rulegate serve`'s request bodies, and
//! `--request` on the command line.

use base64::Engine as _;

use super::TraceRequest;
use crate::text::suggestion;

/// Methods rulegate knows; any other all-caps token is accepted too (custom methods exist).
pub(crate) const KNOWN_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PURGE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
];

/// Protocol strings accepted in `request.protocol`. UNCERTAIN: the API documents only the
/// example "HTTP/1.1"; widen this list once the live API's accepted values are known.
pub(crate) const PROTOCOLS: &[&str] = &["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"];

/// One problem with a request: what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

fn problem(message: impl Into<String>, hint: Option<String>) -> Problem {
    Problem {
        message: message.into(),
        hint,
    }
}

/// An upper-case method: a known one, or an extension token far from every known one.
pub(crate) fn method(v: &str) -> Result<(), Problem> {
    if KNOWN_METHODS.contains(&v) {
        return Ok(());
    }
    let token = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
    let upper = v.to_ascii_uppercase();
    let hint = if KNOWN_METHODS.contains(&upper.as_str()) {
        Some(format!("methods are upper case: did you mean `{upper}`?"))
    } else {
        suggestion(&upper, KNOWN_METHODS.iter().copied())
    };
    if token && hint.is_none() {
        return Ok(());
    }
    Err(problem(
        format!("invalid HTTP method `{v}`"),
        Some(hint.unwrap_or_else(|| format!("use one of {}", KNOWN_METHODS.join(", ")))),
    ))
}

pub(crate) fn protocol(v: &str) -> Result<(), Problem> {
    if PROTOCOLS.contains(&v) {
        return Ok(());
    }
    let hint = suggestion(&v.to_ascii_uppercase(), PROTOCOLS.iter().copied());
    Err(problem(
        format!("unknown protocol `{v}`"),
        Some(hint.unwrap_or_else(|| format!("use one of {}", PROTOCOLS.join(", ")))),
    ))
}

/// A body gives exactly one of its `forms` forms.
pub(crate) fn body_forms(forms: usize) -> Result<(), Problem> {
    match forms {
        1 => Ok(()),
        n => Err(problem(
            if n == 0 {
                "the body is empty"
            } else {
                "the body has more than one form"
            },
            Some("give exactly one of `plain_text`, `json` or `base64`".into()),
        )),
    }
}

pub(crate) fn base64(v: &str) -> Result<(), Problem> {
    base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map(drop)
        .map_err(|e| {
            problem(
                format!("invalid base64: {e}"),
                Some("use the standard alphabet with `=` padding, or `plain_text:`".into()),
            )
        })
}

fn score(what: &str, v: i64, range: std::ops::RangeInclusive<i64>) -> Result<(), Problem> {
    if range.contains(&v) {
        Ok(())
    } else {
        Err(problem(
            format!("{what} {v} is out of range"),
            Some(format!("use {}..={}", range.start(), range.end())),
        ))
    }
}

pub(crate) fn bot_score(v: i64) -> Result<(), Problem> {
    score("bot_score", v, 1..=99)
}

pub(crate) fn threat_score(v: i64) -> Result<(), Problem> {
    score("threat_score", v, 0..=100)
}

/// The origin's status of an offline case (`origin.status`): an HTTP status.
pub(crate) fn origin_status(v: i64) -> Result<(), Problem> {
    if (100..=599).contains(&v) {
        Ok(())
    } else {
        Err(problem(
            format!("origin status {v} is not an HTTP status"),
            Some("use 100..=599".into()),
        ))
    }
}

/// An absolute http(s) URL.
pub(crate) fn url(v: &str) -> Result<(), Problem> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(_) => Err(problem(
            format!("unsupported URL `{v}`"),
            Some("the Trace API takes http:// or https:// URLs".into()),
        )),
        Err(e) => Err(problem(format!("invalid URL `{v}`: {e}"), None)),
    }
}

/// Every problem of a whole request, each prefixed with the key it concerns.
pub(crate) fn request(r: &TraceRequest) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |key: &str, res: Result<(), Problem>| {
        if let Err(p) = res {
            out.push(Problem {
                message: format!("{key}: {}", p.message),
                hint: p.hint,
            });
        }
    };
    check("method", method(&r.method));
    check("url", url(&r.url));
    if let Some(p) = &r.protocol {
        check("protocol", protocol(p));
    }
    if let Some(b) = &r.body {
        let forms = [b.plain_text.is_some(), b.json.is_some(), b.base64.is_some()];
        check("body", body_forms(forms.iter().filter(|f| **f).count()));
        if let Some(s) = &b.base64 {
            check("body.base64", base64(s));
        }
    }
    if let Some(c) = &r.context {
        if let Some(v) = c.bot_score {
            check("context", bot_score(v));
        }
        if let Some(v) = c.threat_score {
            check("context", threat_score(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_the_loader_makes_apply_to_any_request() {
        let r: TraceRequest = serde_json::from_value(serde_json::json!({
            "method": "get", "url": "ftp://x/", "protocol": "HTTP/9",
            "body": {"plain_text": "a", "base64": "!!"},
            "context": {"bot_score": 0, "threat_score": 101}
        }))
        .unwrap();
        let msgs: Vec<String> = request(&r).into_iter().map(|p| p.message).collect();
        assert_eq!(
            msgs,
            [
                "method: invalid HTTP method `get`",
                "url: unsupported URL `ftp://x/`",
                "protocol: unknown protocol `HTTP/9`",
                "body: the body has more than one form",
                "body.base64: invalid base64: Invalid symbol 33, offset 0.",
                "context: bot_score 0 is out of range",
                "context: threat_score 101 is out of range",
            ]
        );
        assert!(method("MYMETHOD").is_ok(), "extension methods are accepted");
    }
}

//! Redaction of sample requests: header, cookie and query-argument names matching a pattern
//! (`redact:` in rulegate.yaml, `--redact`, and always `authorization`, `cookie`,
//! `set-cookie`, `proxy-authorization`) have their values replaced before a request is kept
//! as a sample, so no report, summary or emitted case holds them. Cookies are all redacted
//! unless `--keep-cookies`.

use crate::rules::wildcard::Pattern;
use crate::trace::TraceRequest;

/// What a redacted value is replaced with.
pub(crate) const REDACTED: &str = "REDACTED";

/// Header names always redacted.
pub(crate) const ALWAYS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    patterns: Vec<Pattern>,
    keep_cookies: bool,
}

impl Redactor {
    /// The redactor of `patterns` (glob: `*` any run, case-insensitive); a pattern that does
    /// not parse is an error naming it.
    pub(crate) fn new(patterns: &[String], keep_cookies: bool) -> Result<Redactor, String> {
        let mut out = Vec::new();
        for p in ALWAYS
            .iter()
            .map(|s| (*s).to_string())
            .chain(patterns.iter().cloned())
        {
            let pat = Pattern::parse(p.as_bytes())
                .map_err(|e| format!("redact pattern `{p}`: {}", e.message))?;
            out.push(pat);
        }
        Ok(Redactor {
            patterns: out,
            keep_cookies,
        })
    }

    fn hides(&self, name: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.is_match(name.as_bytes(), true))
    }

    /// `req` with redacted values replaced.
    pub(crate) fn request(&self, req: &TraceRequest) -> TraceRequest {
        let mut r = req.clone();
        for (name, value) in &mut r.headers {
            if self.hides(name) && !(self.keep_cookies && name.eq_ignore_ascii_case("cookie")) {
                *value = REDACTED.into();
            }
        }
        for (name, value) in &mut r.cookies {
            if !self.keep_cookies || self.hides(name) {
                *value = REDACTED.into();
            }
        }
        r.url = self.url(&r.url);
        r
    }

    /// `url` with the values of redacted query arguments replaced.
    fn url(&self, url: &str) -> String {
        let Some((head, query)) = url.split_once('?') else {
            return url.to_string();
        };
        let (query, frag) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        let parts: Vec<String> = query
            .split('&')
            .map(|part| match part.split_once('=') {
                Some((n, _)) if self.hides(&decode(n)) => format!("{n}={REDACTED}"),
                _ => part.to_string(),
            })
            .collect();
        let mut out = format!("{head}?{}", parts.join("&"));
        if let Some(f) = frag {
            out.push('#');
            out.push_str(f);
        }
        out
    }
}

fn decode(s: &str) -> String {
    String::from_utf8_lossy(&crate::rules::functions::url_decode(
        s.as_bytes(),
        true,
        false,
    ))
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_matching_a_pattern_lose_their_values() {
        let r = Redactor::new(&["x-api-*".into(), "token".into()], false).unwrap();
        let mut req = TraceRequest {
            url: "https://a.example/p?token=s3cret&q=1&TOKEN=x".into(),
            ..TraceRequest::default()
        };
        req.headers
            .insert("authorization".into(), "Bearer abc".into());
        req.headers.insert("x-api-key".into(), "k".into());
        req.headers.insert("user-agent".into(), "ua".into());
        req.cookies.insert("sid".into(), "c".into());
        let out = r.request(&req);
        assert_eq!(
            out.url,
            "https://a.example/p?token=REDACTED&q=1&TOKEN=REDACTED"
        );
        assert_eq!(out.headers["authorization"], REDACTED);
        assert_eq!(out.headers["x-api-key"], REDACTED);
        assert_eq!(out.headers["user-agent"], "ua");
        assert_eq!(out.cookies["sid"], REDACTED);
        let keep = Redactor::new(&[], true).unwrap().request(&req);
        assert_eq!(keep.cookies["sid"], "c");
    }
}

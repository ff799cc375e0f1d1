//! API credentials. A [`Secret`] has no `Display`, a redacting `Debug`, and is only read when
//! a header is built, so tokens and keys cannot reach output, logs or reports by accident.

use std::fmt;

/// A credential value. `Debug` prints `Secret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for building a request header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How requests authenticate (reference §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// `Authorization: Bearer <token>` (`CLOUDFLARE_API_TOKEN`).
    Token(Secret),
    /// `X-Auth-Email` + `X-Auth-Key` (`CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`).
    EmailKey { email: String, key: Secret },
}

impl Credentials {
    /// Which scheme, in words, for messages.
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Credentials::Token(_) => "API token (CLOUDFLARE_API_TOKEN)",
            Credentials::EmailKey { .. } => {
                "email + Global API key (CLOUDFLARE_EMAIL, CLOUDFLARE_API_KEY)"
            }
        }
    }

    /// Secret strings to scrub from any text that came from the network.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::Token(t) => vec![t.expose()],
            Credentials::EmailKey { key, .. } => vec![key.expose()],
        }
    }

    /// Replaces every occurrence of a secret in `text` with `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets() {
            if s.len() >= 4 {
                out = out.replace(s, "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::EmailKey {
            email: "a@b.example".into(),
            key: Secret::new("0123456789abcdef"),
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
        assert_eq!(
            format!("{:?}", Credentials::Token(Secret::new("tok-123456"))),
            "Token(Secret(***))"
        );
    }

    #[test]
    fn redact_scrubs_echoed_secrets() {
        let c = Credentials::Token(Secret::new("tok-123456"));
        assert_eq!(c.redact("bad token tok-123456!"), "bad token ***!");
    }
}

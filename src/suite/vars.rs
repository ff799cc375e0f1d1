//! `${NAME}` substitution in suite strings. Values come from `--var NAME=VALUE` first, then the
//! environment. `$${` writes a literal `${`.

use std::collections::BTreeMap;

/// Where variable values come from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vars {
    cli: BTreeMap<String, String>,
    use_env: bool,
    defaults: BTreeMap<String, String>,
    /// `${matrix.KEY}`: one combination of a matrix case's values (and nothing else).
    matrix: BTreeMap<String, String>,
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VarError {
    /// `${NAME}` with NAME set nowhere; `offset` is the byte offset of `$` in the string.
    Unset { name: String, offset: usize },
    /// `${` without a valid name and closing `}`.
    Malformed { offset: usize },
    /// `${NAME}` names a credential (an API token or key): never expanded into a suite,
    /// whose values are printed and written to reports.
    Credential { name: String, offset: usize },
}

impl Vars {
    /// `cli` are `--var` values; `use_env` lets the environment fill the rest.
    pub(crate) fn new(cli: BTreeMap<String, String>, use_env: bool) -> Self {
        Vars {
            cli,
            use_env,
            defaults: BTreeMap::new(),
            matrix: BTreeMap::new(),
        }
    }

    /// These values and one matrix combination, for `${matrix.KEY}`.
    pub(crate) fn with_matrix(&self, values: &[(String, String)]) -> Self {
        let mut v = self.clone();
        v.matrix = values.iter().cloned().collect();
        v
    }

    /// Values used when neither `--var` nor the environment sets a name (rulegate.yaml `vars`).
    pub(crate) fn with_defaults(mut self, defaults: BTreeMap<String, String>) -> Self {
        self.defaults = defaults;
        self
    }

    fn get(&self, name: &str) -> Option<String> {
        if let Some(key) = name.strip_prefix("matrix.") {
            return self.matrix.get(key).cloned();
        }
        if let Some(v) = self.cli.get(name) {
            return Some(v.clone());
        }
        if self.use_env
            && let Ok(v) = std::env::var(name)
        {
            return Some(v);
        }
        self.defaults.get(name).cloned()
    }

    /// Replaces every `${NAME}`; reports every unset name, not just the first.
    pub(crate) fn expand(&self, text: &str) -> Result<String, Vec<VarError>> {
        if !text.contains('$') {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut errors = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
                offset += i + 3;
            } else if let Some(body) = after.strip_prefix("${") {
                let end = body.find('}');
                let name = end.map(|e| &body[..e]);
                match name {
                    Some(n) if is_name(n) && crate::escape::is_credential(n) => {
                        errors.push(VarError::Credential {
                            name: n.to_string(),
                            offset: offset + i,
                        });
                        let used = 2 + n.len() + 1;
                        rest = &after[used..];
                        offset += i + used;
                    }
                    Some(n) if is_name(n) => {
                        match self.get(n) {
                            Some(v) => out.push_str(&v),
                            None => errors.push(VarError::Unset {
                                name: n.to_string(),
                                offset: offset + i,
                            }),
                        }
                        let used = 2 + n.len() + 1;
                        rest = &after[used..];
                        offset += i + used;
                    }
                    _ => {
                        errors.push(VarError::Malformed { offset: offset + i });
                        out.push_str("${");
                        rest = &after[2..];
                        offset += i + 2;
                    }
                }
            } else {
                out.push('$');
                rest = &after[1..];
                offset += i + 1;
            }
        }
        out.push_str(rest);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

fn is_name(n: &str) -> bool {
    if let Some(key) = n.strip_prefix("matrix.") {
        return is_matrix_key(key);
    }
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A matrix key: a name, with `-` allowed after the first character.
pub(crate) fn is_matrix_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::new(
            BTreeMap::from([("HOST".into(), "shop.example".into())]),
            false,
        )
    }

    #[test]
    fn expands_and_escapes() {
        assert_eq!(
            vars().expand("https://${HOST}/a").unwrap(),
            "https://shop.example/a"
        );
        assert_eq!(
            vars().expand("cost: $5 $${HOST}").unwrap(),
            "cost: $5 ${HOST}"
        );
    }

    #[test]
    fn matrix_values_only_as_matrix_dot_key() {
        let v = vars().with_matrix(&[("path".into(), "/admin".into())]);
        assert_eq!(
            v.expand("${HOST}${matrix.path}").unwrap(),
            "shop.example/admin"
        );
        assert_eq!(
            v.expand("${matrix.nope}").unwrap_err(),
            vec![VarError::Unset {
                name: "matrix.nope".into(),
                offset: 0
            }]
        );
        assert!(
            vars().expand("${matrix.path}").is_err(),
            "outside a matrix case"
        );
    }

    #[test]
    fn credentials_never_expand() {
        let v = Vars::new(
            BTreeMap::from([("CLOUDFLARE_API_TOKEN".into(), "tok".into())]),
            true,
        );
        for name in [
            "CLOUDFLARE_API_TOKEN",
            "CLOUDFLARE_API_KEY",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
        ] {
            let err = v.expand(&format!("Bearer ${{{name}}}")).unwrap_err();
            assert_eq!(
                err,
                vec![VarError::Credential {
                    name: name.into(),
                    offset: 7
                }]
            );
        }
    }

    #[test]
    fn reports_every_unset_and_malformed() {
        let err = vars().expand("${A}/${HOST}/${B}/${9x}").unwrap_err();
        assert_eq!(
            err,
            vec![
                VarError::Unset {
                    name: "A".into(),
                    offset: 0
                },
                VarError::Unset {
                    name: "B".into(),
                    offset: 13
                },
                VarError::Malformed { offset: 18 },
            ]
        );
    }
}

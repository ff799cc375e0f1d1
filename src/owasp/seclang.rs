//! Reading ModSecurity configuration files (SecLang) into directives: lines joined at a
//! trailing backslash, comments dropped, arguments split the way Apache's configuration
//! reader splits them (a double-quoted argument loses only the backslash before an escaped
//! quote, so regular expressions keep theirs).

use std::path::{Path, PathBuf};

/// One directive with its arguments, where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Directive {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) name: String,
    pub(crate) args: Vec<String>,
}

/// A problem in a CRS file, placed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub(crate) struct SecLangError {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// The directives of `text` (read from `file`).
pub(crate) fn directives(file: &Path, text: &str) -> Result<Vec<Directive>, SecLangError> {
    let mut out = Vec::new();
    let mut joined = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if joined.is_empty() {
            start = i + 1;
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        if let Some(body) = line.strip_suffix('\\') {
            joined.push_str(body);
            continue;
        }
        joined.push_str(line);
        let logical = std::mem::take(&mut joined);
        if let Some(d) = split(file, start, &logical)? {
            out.push(d);
        }
    }
    if !joined.is_empty()
        && let Some(d) = split(file, start, &joined)?
    {
        out.push(d);
    }
    Ok(out)
}

fn split(file: &Path, line: usize, logical: &str) -> Result<Option<Directive>, SecLangError> {
    let mut words = Vec::new();
    let b = logical.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let quote = b[i];
        if quote == b'"' || quote == b'\'' {
            i += 1;
            let mut word = Vec::new();
            let mut closed = false;
            while i < b.len() {
                if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == quote {
                    word.push(quote);
                    i += 2;
                    continue;
                }
                if b[i] == quote {
                    closed = true;
                    i += 1;
                    break;
                }
                word.push(b[i]);
                i += 1;
            }
            if !closed {
                return Err(SecLangError {
                    file: file.to_path_buf(),
                    line,
                    message: "an argument's quote is never closed".into(),
                });
            }
            words.push(String::from_utf8_lossy(&word).into_owned());
        } else {
            let s = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            words.push(String::from_utf8_lossy(&b[s..i]).into_owned());
        }
    }
    if words.is_empty() {
        return Ok(None);
    }
    let name = words.remove(0);
    Ok(Some(Directive {
        file: file.to_path_buf(),
        line,
        name,
        args: words,
    }))
}

/// A rule's action list split into `(name, value)`: commas separate actions except inside
/// single quotes; a value's surrounding quotes are removed.
pub(crate) fn actions(list: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut parts = Vec::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted && chars.peek() == Some(&'\'') => {
                cur.push('\'');
                chars.next();
            }
            '\'' => quoted = !quoted,
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        match p.split_once(':') {
            Some((k, v)) => out.push((k.trim().to_string(), Some(v.trim().to_string()))),
            None => out.push((p.to_string(), None)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continued_lines_quotes_and_comments() {
        let text = "# c\nSecRule ARGS \"@rx a\\\"b\\s\" \\\n    \"id:1,\\\n    msg:'x, y',t:none\"\n\nSecMarker END\n";
        let d = directives(Path::new("f.conf"), text).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].line, 2);
        assert_eq!(
            d[0].args,
            ["ARGS", "@rx a\"b\\s", "id:1,    msg:'x, y',t:none"]
        );
        assert_eq!(d[1].name, "SecMarker");
        let a = actions(&d[0].args[2]);
        assert_eq!(a[1], ("msg".to_string(), Some("x, y".to_string())));
        assert_eq!(a[2], ("t".to_string(), Some("none".to_string())));
    }

    #[test]
    fn an_unclosed_quote_is_an_error_with_its_line() {
        let e = directives(Path::new("f.conf"), "\nSecRule ARGS \"@rx a").unwrap_err();
        assert_eq!(e.line, 2);
    }
}

//! Diagnostics: an error that points at its source. A [`Diagnostic`] is data (file, line,
//! column, span length, title, label, hint); [`Diagnostic::render`] turns it into the
//! `error: … --> file:line:col` block with the offending line and a caret, as rustc does.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A 1-based position in a source file, with the length of the span it covers (in chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Pos {
    pub fn new(line: usize, col: usize, len: usize) -> Self {
        Pos { line, col, len }
    }
}

/// One user-facing error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub title: String,
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub label: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, pos: Option<Pos>, title: impl Into<String>) -> Self {
        Diagnostic {
            title: title.into(),
            file: file.to_path_buf(),
            pos,
            label: String::new(),
            hint: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets `hint` unless a hint is already set.
    pub fn hint_or(mut self, hint: impl Into<String>) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.into());
        }
        self
    }

    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:col`, or just the file when the position is unknown.
    pub fn location(&self) -> String {
        match self.pos {
            Some(p) => format!("{}:{}:{}", self.file.display(), p.line, p.col),
            None => self.file.display().to_string(),
        }
    }

    /// Renders the diagnostic against `source` (the file's text, if it could be read).
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.title);
        let _ = writeln!(out, "  --> {}", self.location());
        if let (Some(p), Some(src)) = (self.pos, source)
            && let Some(line) = src.lines().nth(p.line.saturating_sub(1))
        {
            let num = p.line.to_string();
            let pad = " ".repeat(num.len());
            let shown: String = line.replace('\t', " ");
            let col = p.col.max(1);
            let avail = shown.chars().count().saturating_sub(col - 1).max(1);
            let carets = "^".repeat(p.len.clamp(1, avail));
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{num} | {shown}");
            let _ = writeln!(
                out,
                "{pad} | {}{carets}{}{}",
                " ".repeat(col - 1),
                if self.label.is_empty() { "" } else { " " },
                self.label
            );
        } else if !self.label.is_empty() {
            let _ = writeln!(out, "   = {}", self.label);
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "   = hint: {h}");
        }
        out
    }
}

/// 1-based line and column (in chars) of byte `offset` in `text` (clamped to a char boundary).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Every diagnostic rendered against its file's source, then the count.
pub fn render_all(
    diags: &[Diagnostic],
    sources: &std::collections::BTreeMap<PathBuf, String>,
) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(sources.get(&d.file).map(String::as_str)));
        out.push('\n');
    }
    let n = diags.len();
    out.push_str(&format!(
        "error: {n} problem{} found; nothing was run\n",
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= limit || c.eq_ignore_ascii_case(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` when a candidate is close to `word`.
pub fn suggestion<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let d = Diagnostic::new(
            Path::new("a.yaml"),
            Some(Pos::new(2, 3, 5)),
            "unknown field `expct`",
        )
        .label("unknown field")
        .hint("did you mean `expect`?");
        let text = d.render(Some("cases:\n  expct: 1\n"));
        assert_eq!(
            text,
            "error: unknown field `expct`\n  --> a.yaml:2:3\n  |\n2 |   expct: 1\n  |   ^^^^^ unknown field\n   = hint: did you mean `expect`?\n"
        );
    }

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(did_you_mean("expct", ["expect", "request"]), Some("expect"));
        assert_eq!(did_you_mean("zzzzzz", ["expect", "request"]), None);
        assert_eq!(did_you_mean("GET", ["get"]), Some("get"));
    }
}

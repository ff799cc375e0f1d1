//! Diagnostics: the one error type of the middle layers. A [`Diagnostic`] is data: a [`Kind`]
//! (which decides the exit code), a title, where it points (a file, or an expression given
//! inline, with a 1-based position and span length), a label under the caret and a hint.
//! [`Diagnostic::render`] is the only caret renderer: `error: … --> file:line:col`, the
//! offending line, a caret under the span, the hint, as rustc does. Engine errors
//! ([`crate::rules::RuleError`], request and field errors) convert into it here.

mod convert;
mod yaml;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::exit::Exit;

pub(crate) use convert::expression;
pub(crate) use yaml::yaml_diagnostic;

/// A 1-based position in a source text, with the length of the span it covers (in chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) len: usize,
}

impl Pos {
    pub(crate) fn new(line: usize, col: usize, len: usize) -> Self {
        Pos { line, col, len }
    }

    /// The position of byte `offset` (spanning `len` chars) in `text`.
    pub(crate) fn at(text: &str, offset: usize, len: usize) -> Self {
        let (line, col) = crate::text::line_col(text, offset);
        Pos::new(line, col, len.max(1))
    }
}

/// What kind of problem a diagnostic reports; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A flag, an environment variable or a combination of them (exit 2).
    Usage,
    /// A file the user wrote: suite, rulegate.yaml, ruleset, list (exit 2).
    Input,
    /// A Rules-language expression (exit 2); the engine's own error kind is kept.
    Expression(crate::rules::ErrorKind),
    /// The tool could not do its work: network, API, file system (exit 3).
    CouldNotRun,
}

/// Where a diagnostic's caret is drawn when it is not in a file's text: an expression given
/// on the command line, or one that could not be located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snippet {
    /// What the text is, e.g. `expression` or `rule r1's expression`.
    pub(crate) what: String,
    pub(crate) text: String,
}

/// One user-facing error with its location (boxed: errors travel in `Result`s, and a small
/// `Err` keeps the happy path cheap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic(Box<Data>);

/// What a [`Diagnostic`] holds; reached through `Deref`, so `d.title` reads as a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Data {
    pub(crate) kind: Kind,
    pub(crate) title: String,
    pub(crate) file: Option<PathBuf>,
    pub(crate) pos: Option<Pos>,
    /// The text `pos` points into, when it is not the file's own text.
    pub(crate) snippet: Option<Snippet>,
    pub(crate) label: String,
    pub(crate) hint: Option<String>,
}

impl std::ops::Deref for Diagnostic {
    type Target = Data;

    fn deref(&self) -> &Data {
        &self.0
    }
}

impl std::ops::DerefMut for Diagnostic {
    fn deref_mut(&mut self) -> &mut Data {
        &mut self.0
    }
}

impl Diagnostic {
    pub(crate) fn from_data(data: Data) -> Self {
        Diagnostic(Box::new(data))
    }

    /// A problem in `file` (at `pos` when known).
    pub(crate) fn new(file: &Path, pos: Option<Pos>, title: impl Into<String>) -> Self {
        Diagnostic::from_data(Data {
            kind: Kind::Input,
            title: title.into(),
            file: Some(file.to_path_buf()),
            pos,
            snippet: None,
            label: String::new(),
            hint: None,
        })
    }

    /// A problem with no file: flags, environment, the network.
    pub(crate) fn plain(kind: Kind, title: impl Into<String>) -> Self {
        Diagnostic::from_data(Data {
            kind,
            title: title.into(),
            file: None,
            pos: None,
            snippet: None,
            label: String::new(),
            hint: None,
        })
    }

    /// A usage error (exit 2).
    pub(crate) fn usage(title: impl Into<String>) -> Self {
        Diagnostic::plain(Kind::Usage, title)
    }

    /// A could-not-run error (exit 3).
    pub(crate) fn could_not_run(title: impl Into<String>) -> Self {
        Diagnostic::plain(Kind::CouldNotRun, title)
    }

    pub(crate) fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets `hint` unless a hint is already set.
    pub(crate) fn hint_or(mut self, hint: impl Into<String>) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.into());
        }
        self
    }

    pub(crate) fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:col`, or just the file when the position is unknown.
    pub(crate) fn location(&self) -> String {
        let file = self
            .file
            .as_ref()
            .map_or_else(String::new, |f| f.display().to_string());
        match (self.pos, &self.snippet) {
            (Some(p), None) => format!("{file}:{}:{}", p.line, p.col),
            (Some(p), Some(s)) if file.is_empty() => format!("{}:{}:{}", s.what, p.line, p.col),
            (Some(p), Some(s)) => format!("{file} ({} {}:{})", s.what, p.line, p.col),
            (None, _) => file,
        }
    }

    /// The exit code this problem leads to.
    pub(crate) fn exit(&self) -> Exit {
        match self.kind {
            Kind::CouldNotRun => Exit::CouldNotRun,
            Kind::Usage | Kind::Input | Kind::Expression(_) => Exit::Invalid,
        }
    }

    /// Renders the diagnostic; `source` is its file's text, if it could be read.
    pub(crate) fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        // Titles, labels, hints and source lines may quote a hostile file: one line each,
        // control characters visible.
        let v = |s: &str| crate::escape::visible(s).into_owned();
        let _ = writeln!(out, "error: {}", v(&self.title));
        let location = self.location();
        if !location.is_empty() {
            let _ = writeln!(out, "  --> {}", v(&location));
        }
        let text = self.snippet.as_ref().map(|s| s.text.as_str()).or(source);
        if let (Some(p), Some(src)) = (self.pos, text)
            && let Some(line) = src.lines().nth(p.line.saturating_sub(1))
        {
            let num = p.line.to_string();
            let pad = " ".repeat(num.len());
            let shown: String = v(&line.replace('\t', " "));
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
                v(&self.label)
            );
        } else if !self.label.is_empty() {
            let _ = writeln!(out, "   = {}", v(&self.label));
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "   = hint: {}", v(h));
        }
        out
    }
}

/// Reads a text file; a file that is not UTF-8 is an error at the line and column of its first
/// invalid byte, and any other failure an error naming the file.
pub(crate) fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::new(path, None, format!("cannot read the file: {e}")))?;
    // A NUL or another control character (but tab, line breaks and form feed) means the file
    // is not text the project wrote: say where, and never print its lines.
    if let Some(at) = bytes
        .iter()
        .position(|b| b.is_ascii_control() && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
    {
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(Diagnostic::new(
            path,
            None,
            format!(
                "the file is not text: a control byte 0x{:02x} on line {line} (byte {at})",
                bytes[at]
            ),
        )
        .hint("rulegate reads suites, rulesets and Terraform as UTF-8 text"));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let valid = String::from_utf8_lossy(&e.as_bytes()[..good]).into_owned();
        Diagnostic::new(
            path,
            Some(Pos::at(&valid, valid.len(), 1)),
            format!("the file is not valid UTF-8 (byte {good})"),
        )
        .hint("save it as UTF-8")
    })
}

/// Every problem found before giving up, with the source texts to render them against.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) sources: BTreeMap<PathBuf, String>,
}

impl Report {
    pub(crate) fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Takes in another report's problems and sources.
    pub(crate) fn merge(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
        self.sources.extend(other.sources);
    }

    /// The exit code: could-not-run wins over invalid input.
    pub(crate) fn exit(&self) -> Exit {
        if self
            .diagnostics
            .iter()
            .any(|d| d.exit() == Exit::CouldNotRun)
        {
            Exit::CouldNotRun
        } else {
            Exit::Invalid
        }
    }

    /// Every diagnostic rendered against its file's source, then a count for input problems.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            let source = d.file.as_ref().and_then(|f| self.sources.get(f));
            out.push_str(&d.render(source.map(String::as_str)));
            if self.diagnostics.len() > 1 || d.file.is_some() {
                out.push('\n');
            }
        }
        let n = self.diagnostics.len();
        if self.diagnostics.iter().any(|d| d.file.is_some()) {
            let _ = writeln!(
                out,
                "error: {n} problem{} found; nothing was run",
                if n == 1 { "" } else { "s" }
            );
        }
        out
    }
}

impl From<Diagnostic> for Report {
    fn from(d: Diagnostic) -> Self {
        Report {
            diagnostics: vec![d],
            sources: BTreeMap::new(),
        }
    }
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
    fn usage_errors_render_one_line_and_exit_2() {
        let r = Report::from(Diagnostic::usage("--timeout is too large"));
        assert_eq!(r.render(), "error: --timeout is too large\n");
        assert_eq!(r.exit(), Exit::Invalid);
        let r = Report::from(Diagnostic::could_not_run("no route"));
        assert_eq!(r.exit(), Exit::CouldNotRun);
    }
}

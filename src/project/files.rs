//! Reading a project's JSON files and placing problems in them: an error about a value finds
//! that value's text in the file, and an expression error is mapped through JSON string
//! escaping onto the offending token as it stands in the file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::confine::Confine;
use crate::diag::{self, Diagnostic, Pos, Report};
use crate::rules::RuleError;

/// The `*.json` files of `dir`, sorted; a missing directory has none. A file (or a link)
/// that leads outside the repository is an error, not read.
pub(super) fn json_files(dir: &Path, confine: &Confine, report: &mut Report) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.retain(|p| match confine.check(p) {
        Ok(()) => true,
        Err(why) => {
            report.push(Diagnostic::new(p, None, why).hint(crate::confine::HINT));
            false
        }
    });
    out
}

/// Reads a JSON file into `report`'s sources; `result` is unwrapped when the file is a whole
/// API envelope.
pub(super) fn read_json(path: &Path, report: &mut Report) -> Option<Value> {
    let text = match diag::read_text(path) {
        Ok(t) => t,
        Err(d) => {
            report.push(d);
            return None;
        }
    };
    let parsed = serde_json::from_str::<Value>(&text);
    report.sources.insert(path.to_path_buf(), text);
    match parsed {
        Ok(mut v) => {
            if v.get("success").is_some() && v.get("result").is_some() {
                v = v["result"].take();
            }
            Some(v)
        }
        Err(e) => {
            report.push(Diagnostic::new(
                path,
                Some(Pos::new(e.line(), e.column(), 1)),
                format!("invalid JSON: {e}"),
            ));
            None
        }
    }
}

/// `T` read from a JSON file's text (or from the `result` of a whole API envelope), for the
/// position of a type error: the value-based read that found the error has no position.
pub(super) fn typed<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        result: T,
    }
    let envelope = serde_json::from_str::<Value>(text)
        .is_ok_and(|v| v.get("success").is_some() && v.get("result").is_some());
    if envelope {
        serde_json::from_str::<Envelope<T>>(text).map(|e| e.result)
    } else {
        serde_json::from_str::<T>(text)
    }
}

/// One file being checked: its text, and where its problems go.
pub(super) struct FileCtx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

impl FileCtx<'_> {
    /// Where `needle` (a JSON string value) first appears after `from` in the file.
    pub(super) fn find(&self, needle: &str, from: usize) -> Option<usize> {
        let encoded = serde_json::to_string(needle).ok()?;
        self.text.get(from..)?.find(&encoded).map(|i| from + i + 1)
    }

    /// A problem at byte `at` (0: the file as a whole) spanning `len` chars.
    pub(super) fn error(&mut self, at: usize, len: usize, title: String) -> &mut Diagnostic {
        let pos = (at != 0).then(|| Pos::at(self.text, at, len));
        self.diags.push(Diagnostic::new(self.file, pos, title));
        self.diags.last_mut().expect("pushed")
    }

    /// An expression error, placed on the offending token inside the file; when the
    /// expression cannot be found in the file, the caret is drawn in the expression itself.
    pub(super) fn expr_error(
        &mut self,
        rule_label: &str,
        anchor: usize,
        expr: &str,
        e: &RuleError,
    ) {
        let escaped_len = |s: &str| serde_json::to_string(s).map_or(s.len(), |j| j.len() - 2);
        let start = e.span.start.min(expr.len());
        let end = e.span.end.clamp(start, expr.len());
        let title = format!("in rule {rule_label}: {}", e.message);
        let label = e.kind.code().replace('_', " ");
        let hcl = self.file.extension().is_some_and(|e| e == "tf");
        let placed = if hcl {
            hcl_locate(self.text, anchor, expr, start, end)
        } else {
            match (
                self.find(expr, anchor),
                expr.get(..start),
                expr.get(start..end),
            ) {
                (Some(at), Some(before), Some(token)) => {
                    Some((at + escaped_len(before), escaped_len(token)))
                }
                (Some(at), _, _) => Some((at, 1)),
                (None, _, _) => None,
            }
        };
        let mut d = match placed {
            Some((offset, len)) => {
                Diagnostic::new(self.file, Some(Pos::at(self.text, offset, len)), title)
                    .kind(diag::Kind::Expression(e.kind))
            }
            None => {
                let mut d = diag::expression(Some(self.file), "expression", expr, e);
                d.title = title;
                d
            }
        };
        d.label = label;
        d.hint = e.hint.clone();
        self.diags.push(d);
    }
}

/// Where bytes `start..end` of `expr` stand in an HCL file, searching after `anchor`: in a
/// quoted string (HCL escapes `"` and `\\` as JSON does) or, line by line, in a heredoc
/// (whose `<<-` form strips the common indentation: the line is found by its text and the
/// caret keeps its column in the file).
fn hcl_locate(
    text: &str,
    anchor: usize,
    expr: &str,
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let region = text.get(anchor..)?;
    // One line, in quotes.
    if !expr.contains('\n')
        && let Some(i) = region.find(&format!("\"{}\"", escape(expr)))
    {
        let before = escape(expr.get(..start)?);
        let token = escape(expr.get(start..end)?);
        return Some((anchor + i + 1 + before.len(), token.chars().count().max(1)));
    }
    // A heredoc: find each line of the expression in order; the token's line gives the place.
    let line_of = expr[..start].matches('\n').count();
    let line_start = expr[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut from = anchor;
    let mut at = None;
    for (k, line) in expr.split('\n').enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let indent = line.len() - trimmed.len();
        // An interpolation (`${var.x}`) changed the line's text after evaluation: find the
        // longest part of it that stands in the file, from its start (for the token's line,
        // at least up to the token's end).
        let must = if k == line_of {
            (end.min(line_start + line.len()) - line_start)
                .saturating_sub(indent)
                .max(1)
        } else {
            trimmed.len().min(8)
        };
        let rest = text.get(from..)?;
        let mut cut = trimmed.len();
        let i = loop {
            if let Some(i) = trimmed.get(..cut).and_then(|p| rest.find(p)) {
                break i + from;
            }
            if cut <= must {
                return None;
            }
            cut = (cut - 1).max(must);
            while !trimmed.is_char_boundary(cut) {
                cut -= 1;
            }
        };
        from = i + cut;
        if k == line_of {
            let col = (start - line_start).saturating_sub(indent);
            at = Some(i + col);
            break;
        }
    }
    let len = expr.get(start..end).map_or(1, |t| {
        t.split('\n').next().unwrap_or("").chars().count().max(1)
    });
    at.map(|a| (a, len))
}

//! YAML parse errors (serde-saphyr) as diagnostics in the user's words, for suites and
//! `rulegate.yaml` alike.

use std::path::Path;

use super::{Diagnostic, Pos};
use crate::text::suggestion;

/// The diagnostic for a YAML error in `file`.
pub(crate) fn yaml_diagnostic(file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let inner = e.without_snippet();
    let pos = inner.location().map(|l| {
        Pos::new(
            l.line() as usize,
            l.column() as usize,
            l.span().len().max(1) as usize,
        )
    });
    if let serde_saphyr::Error::SerdeUnknownField {
        field, expected, ..
    } = inner
    {
        let allowed = expected
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let pos = pos.map(|p| Pos::new(p.line, p.col, field.chars().count()));
        return Diagnostic::new(file, pos, format!("unknown key `{field}`"))
            .label("not a key here")
            .hint(match suggestion(field, expected.iter().copied()) {
                Some(s) => format!("{s} (allowed here: {allowed})"),
                None => format!("allowed here: {allowed}"),
            });
    }
    let text = inner.to_string();
    let msg = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let hint = if msg.contains("did not match any variant") || msg.contains("invalid type") {
        Some("see README \"Suite format\" for the type of each key".to_string())
    } else {
        None
    };
    Diagnostic::new(file, pos, msg).maybe_hint(hint)
}

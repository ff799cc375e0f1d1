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
    // The library's wording names its own options and types; say it in the user's words.
    let plain = match inner {
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => Some((
            match key {
                Some(k) => format!("duplicate key `{k}`"),
                None => "duplicate key".to_string(),
            },
            "a key appears once in a mapping; remove or rename one",
        )),
        serde_saphyr::Error::NullIntoString { .. }
        | serde_saphyr::Error::InvalidCharNull { .. } => Some((
            "a value is missing here (null)".to_string(),
            "write a value, or remove the key",
        )),
        serde_saphyr::Error::Budget { .. } => Some((
            "the YAML document is too large or expands too much through aliases".to_string(),
            "limits on nodes, depth and alias expansion guard against YAML bombs; split the file or remove the aliases",
        )),
        serde_saphyr::Error::InvalidUtf8Input => Some((
            "the file is not valid UTF-8".to_string(),
            "save it as UTF-8",
        )),
        _ => None,
    };
    if let Some((msg, hint)) = plain {
        return Diagnostic::new(file, pos, msg).hint(hint);
    }
    let text = inner.to_string();
    // The same errors reached through an alias are wrapped in another variant.
    if text.contains("budget breached") {
        return Diagnostic::new(
            file,
            pos,
            "the YAML document is too large or expands too much through aliases",
        )
        .hint("limits on nodes, depth and alias expansion guard against YAML bombs; split the file or remove the aliases");
    }
    if text.contains("DuplicateKeyPolicy") {
        return Diagnostic::new(file, pos, "duplicate key")
            .hint("a key appears once in a mapping; remove or rename one");
    }
    if text.contains("multiple YAML documents") {
        return Diagnostic::new(file, pos, "the file holds more than one YAML document (`---`)")
            .hint("a suite or project file is one document: remove the `---` separator, or split the file in two");
    }
    if text.contains("use Option<") {
        return Diagnostic::new(file, pos, "a value is missing here (null)")
            .hint("write a value, or remove the key");
    }
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

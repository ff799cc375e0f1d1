//! Engine errors into diagnostics: an expression error becomes a diagnostic whose caret is
//! drawn in the expression itself (when the expression could not be placed in a file).

use std::path::Path;

use super::{Data, Diagnostic, Kind, Pos, Snippet};
use crate::rules::RuleError;

/// A diagnostic for an error in `expr`, drawn against the expression's own text. `file` is
/// where the expression came from, when it came from a file; `what` names the expression.
pub(crate) fn expression(file: Option<&Path>, what: &str, expr: &str, e: &RuleError) -> Diagnostic {
    let start = e.span.start.min(expr.len());
    let len = expr
        .get(start..e.span.end.clamp(start, expr.len()))
        .map_or(1, |s| s.split('\n').next().unwrap_or("").chars().count());
    Diagnostic::from_data(Data {
        kind: Kind::Expression(e.kind),
        title: e.message.clone(),
        file: file.map(Path::to_path_buf),
        pos: Some(Pos::at(expr, start, len)),
        snippet: Some(Snippet {
            what: what.to_string(),
            text: expr.to_string(),
        }),
        label: String::new(),
        hint: e.hint.clone(),
    })
}

impl From<crate::trace::TraceError> for Diagnostic {
    /// An API or network failure: could not run (exit 3), with the client's advice.
    fn from(e: crate::trace::TraceError) -> Self {
        let mut title = e.message;
        if e.attempts > 1 {
            title.push_str(&format!(" (after {} attempts)", e.attempts));
        }
        Diagnostic::could_not_run(title).maybe_hint(e.hint)
    }
}

impl From<crate::rules::RequestError> for Diagnostic {
    /// A request the engine cannot build: invalid input (exit 2).
    fn from(e: crate::rules::RequestError) -> Self {
        Diagnostic::usage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Lists, ParseLimits, parse_filter};

    #[test]
    fn expression_errors_have_a_caret_under_the_token() {
        let src = "http.host eq \"a\" and http.request.uri.pth eq \"/\"";
        let e = parse_filter(src, &Lists::new(), &ParseLimits::default()).unwrap_err();
        let text = expression(None, "expression", src, &e).render(None);
        assert_eq!(
            text,
            "error: unknown field `http.request.uri.pth`\n  --> expression:1:22\n  |\n1 | http.host eq \"a\" and http.request.uri.pth eq \"/\"\n  |                      ^^^^^^^^^^^^^^^^^^^^\n   = hint: did you mean `http.request.uri.path`?\n"
        );
    }

    #[test]
    fn an_expression_from_a_file_names_the_file() {
        let src = "ssl and\n  http.hots eq \"x\"";
        let e = parse_filter(src, &Lists::new(), &ParseLimits::default()).unwrap_err();
        let d = expression(Some(Path::new("r.json")), "rule `a`", src, &e);
        assert_eq!(d.location(), "r.json (rule `a` 2:3)");
        assert!(
            d.render(None)
                .contains("2 |   http.hots eq \"x\"\n  |   ^^^^^^^^^")
        );
    }
}

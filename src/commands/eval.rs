//! `rulegate eval`: the Rules-language playground. One expression against field values or a
//! Trace API request, or a JSONL batch with one JSON answer per input line.

use std::io::{BufRead, Write};

use serde_json::{Value as J, json};

use super::{say, settings};
use crate::cli::EvalArgs;
use crate::diag::{self, Diagnostic, Report};
use crate::exit::Exit;
use crate::project::load_project;
use crate::rules::{self, Context, Lists, RequestError, evaluate};
use crate::settings::Flags;
use crate::trace::TraceRequest;

/// Why a line's input is not usable.
#[derive(Debug, thiserror::Error)]
enum InputError {
    #[error("request: {0}")]
    Request(serde_json::Error),
    #[error(transparent)]
    Build(#[from] RequestError),
    #[error("fields must be a JSON object of field name to value")]
    FieldsShape,
}

fn context(fields: Option<&J>, request: Option<&J>) -> Result<Context, InputError> {
    if let Some(r) = request {
        let req: TraceRequest = serde_json::from_value(r.clone()).map_err(InputError::Request)?;
        return Ok(rules::request::context(
            &req,
            fields.and_then(J::as_object),
        )?);
    }
    let mut ctx = Context::new();
    match fields {
        None | Some(J::Null) => {}
        Some(J::Object(m)) => ctx.set_json(m).map_err(RequestError::from)?,
        Some(_) => return Err(InputError::FieldsShape),
    }
    Ok(ctx)
}

fn parse_json(what: &str, text: Option<&str>) -> Result<Option<J>, Diagnostic> {
    text.map(serde_json::from_str)
        .transpose()
        .map_err(|e| Diagnostic::usage(format!("--{what} is not JSON: {e}")))
}

pub(super) fn run(a: &EvalArgs) -> Result<Exit, Report> {
    let lists = match &a.project {
        Some(dir) => {
            let s = settings(Flags {
                dir: dir.clone(),
                ..Flags::default()
            })?;
            let p = load_project(&s.dir, &s.config).map_err(|mut r| {
                r.sources.extend(s.sources());
                r
            })?;
            p.book.lists.clone()
        }
        None => Lists::new(),
    };
    if let Some(path) = &a.batch {
        return batch(path, &lists);
    }
    let expr = a.expr.as_deref().unwrap_or_default();
    let fields = parse_json("fields", a.fields.as_deref())?;
    let request = parse_json("request", a.request.as_deref())?;
    let ctx =
        context(fields.as_ref(), request.as_ref()).map_err(|e| Diagnostic::usage(e.to_string()))?;
    match evaluate(expr, &ctx, &lists) {
        Ok(answer) => {
            say(&format!("{}\n", answer.to_json()))?;
            Ok(Exit::Success)
        }
        Err(e) => Err(diag::expression(None, "expression", expr, &e).into()),
    }
}

/// One answer line for one input line.
fn batch_line(line: &str, lists: &Lists) -> J {
    let input: J = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return json!({"error": format!("not JSON: {e}")}),
    };
    let Some(obj) = input.as_object() else {
        return json!({"error": "each line is an object {\"expr\": …, \"fields\": {…}}"});
    };
    let Some(expr) = obj.get("expr").and_then(J::as_str) else {
        return json!({"error": "missing \"expr\" string"});
    };
    let ctx = match context(obj.get("fields"), obj.get("request")) {
        Ok(c) => c,
        Err(e) => return json!({"error": e.to_string()}),
    };
    match evaluate(expr, &ctx, lists) {
        Ok(a) => json!({"result": a.to_json()}),
        Err(e) => json!({"error": e.message, "kind": e.kind.code()}),
    }
}

fn batch(path: &std::path::Path, lists: &Lists) -> Result<Exit, Report> {
    let cannot_read =
        |e: std::io::Error| Diagnostic::usage(format!("cannot read {}: {e}", path.display()));
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(cannot_read)?,
        ))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Lines are read as bytes: a line that is not UTF-8 gets an error answer of its own, and
    // the lines after it are still answered.
    let mut reader = reader;
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(cannot_read)? == 0 {
            break;
        }
        number += 1;
        let answer = match std::str::from_utf8(&buf) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => batch_line(line, lists),
            Err(e) => json!({"error": format!("line {number} is not UTF-8 ({e})")}),
        };
        if writeln!(out, "{answer}").is_err() {
            return Ok(Exit::CouldNotRun);
        }
    }
    let _ = out.flush();
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Answer;

    #[test]
    fn a_lone_value_evaluates_as_a_value() {
        let mut ctx = Context::new();
        ctx.set("http.host", rules::Value::bytes("a.example"))
            .unwrap();
        assert_eq!(
            evaluate("lower(http.host)", &ctx, &Lists::new())
                .unwrap()
                .to_json(),
            json!("a.example")
        );
        assert_eq!(
            evaluate("http.host eq \"a.example\"", &ctx, &Lists::new()).unwrap(),
            Answer::Filter(true)
        );
    }

    #[test]
    fn batch_lines_answer_errors_as_objects() {
        let l = Lists::new();
        assert_eq!(
            batch_line("{", &l)["error"]
                .as_str()
                .map(|s| s.starts_with("not JSON")),
            Some(true)
        );
        assert_eq!(
            batch_line(r#"{"expr": "http.hots eq \"x\""}"#, &l)["kind"],
            "unknown_field"
        );
        assert_eq!(
            batch_line(r#"{"expr": "ssl", "fields": {"ssl": "yes"}}"#, &l)["error"],
            "field `ssl`: expected Bool, got a string"
        );
    }
}

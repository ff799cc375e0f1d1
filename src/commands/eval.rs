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
    let budget = crate::limits::trace_budget(a.budget.trace_budget)
        .map_err(|s| Diagnostic::usage(format!("--trace-budget {s} is not a number of seconds")))?;
    let lists = match &a.project {
        Some(dir) => {
            let s = settings(Flags {
                dir: dir.clone(),
                ..Flags::default()
            })?;
            let p = load_project(&s.dir, &s.config, &s.source).map_err(|mut r| {
                r.sources.extend(s.sources());
                r
            })?;
            p.book.lists.clone()
        }
        None => Lists::new(),
    };
    let lists = std::sync::Arc::new(lists);
    if let Some(path) = &a.batch {
        return batch(path, lists, budget);
    }
    let expr = a.expr.as_deref().unwrap_or_default();
    let fields = parse_json("fields", a.fields.as_deref())?;
    let request = parse_json("request", a.request.as_deref())?;
    let ctx =
        context(fields.as_ref(), request.as_ref()).map_err(|e| Diagnostic::usage(e.to_string()))?;
    let owned = expr.to_string();
    let answer = Evaluator::start(lists)
        .answer(budget, move |lists| evaluate(&owned, &ctx, lists))
        .ok_or_else(|| over_budget(budget))?;
    match answer {
        Ok(answer) => {
            say(&format!("{}\n", answer.to_json()))?;
            Ok(Exit::Success)
        }
        Err(e) => Err(diag::expression(None, "expression", expr, &e).into()),
    }
}

fn over_budget(budget: std::time::Duration) -> Diagnostic {
    Diagnostic::could_not_run(format!(
        "the evaluation took longer than its budget of {budget:?}"
    ))
    .hint("an expression is too costly for this input (a regex that backtracks over a long value?); raise --trace-budget or simplify it")
}

/// Evaluations on a worker thread, each awaited within a time budget: an expression that
/// runs too long is abandoned (the command then ends, and the worker with it).
struct Evaluator {
    jobs: std::sync::mpsc::Sender<Job>,
}

/// One evaluation handed to the worker.
type Job = Box<dyn FnOnce(&Lists) + Send>;

impl Evaluator {
    fn start(lists: std::sync::Arc<Lists>) -> Evaluator {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for job in rx {
                job(&lists);
            }
        });
        Evaluator { jobs }
    }

    /// `f`'s answer, or `None` when it does not come within `budget`.
    fn answer<T: Send + 'static>(
        &self,
        budget: std::time::Duration,
        f: impl FnOnce(&Lists) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.jobs
            .send(Box::new(move |lists| {
                let _ = tx.send(f(lists));
            }))
            .ok()?;
        rx.recv_timeout(budget).ok()
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

fn batch(
    path: &std::path::Path,
    lists: std::sync::Arc<Lists>,
    budget: std::time::Duration,
) -> Result<Exit, Report> {
    let worker = Evaluator::start(lists);
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
            Ok(line) => {
                let line = line.to_string();
                match worker.answer(budget, move |lists| batch_line(&line, lists)) {
                    Some(a) => a,
                    None => {
                        // The worker is still busy with this line: answer it, then stop.
                        let _ = writeln!(
                            out,
                            "{}",
                            json!({"error": format!("line {number}: the evaluation took longer than its budget of {budget:?}"), "kind": "budget"})
                        );
                        let _ = out.flush();
                        return Err(over_budget(budget).into());
                    }
                }
            }
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

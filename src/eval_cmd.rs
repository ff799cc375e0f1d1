//! `rulegate eval`: the Rules-language playground. One expression against field values or a
//! Trace API request, or a JSONL batch with one JSON answer per input line.

use std::io::{BufRead, Write};

use serde_json::{Map, Value as J, json};

use crate::cli::EvalArgs;
use crate::exit::Exit;
use crate::rules::{self, Context, Lists, RuleError, Settings};
use crate::trace::TraceRequest;

/// What an expression evaluated to.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Filter(bool),
    /// A value expression's value; `None` when it is missing.
    Value(Option<rules::Value>),
}

impl Answer {
    pub fn to_json(&self) -> J {
        match self {
            Answer::Filter(b) => J::Bool(*b),
            Answer::Value(Some(v)) => v.to_json(),
            Answer::Value(None) => J::Null,
        }
    }
}

/// Parses `expr` as a filter, or, if it is not Bool-typed, as a value expression.
pub fn evaluate(expr: &str, ctx: &Context, lists: &Lists) -> Result<Answer, RuleError> {
    let settings = Settings::default();
    match rules::parse_filter(expr, lists, &settings) {
        Ok(e) => Ok(Answer::Filter(rules::Filter::new(&e).execute(ctx))),
        Err(filter_err) => match rules::parse_value(expr, lists, &settings) {
            Ok(v) if !matches!(v.lhs.ty, rules::Type::Bool) => {
                Ok(Answer::Value(rules::ValueProgram::new(&v).eval(ctx)))
            }
            // A lone field or call that is not a condition: the value parser's error says more.
            Err(value_err)
                if filter_err.message.ends_with("not a condition")
                    && value_err.kind == rules::ErrorKind::BadIndex =>
            {
                Err(value_err)
            }
            _ => Err(filter_err),
        },
    }
}

fn context(fields: Option<&J>, request: Option<&J>) -> Result<Context, String> {
    if let Some(r) = request {
        let req: TraceRequest =
            serde_json::from_value(r.clone()).map_err(|e| format!("request: {e}"))?;
        return rules::request::context(&req, fields.and_then(J::as_object));
    }
    let mut ctx = Context::new();
    match fields {
        None | Some(J::Null) => {}
        Some(J::Object(m)) => ctx.set_json(m)?,
        Some(_) => return Err("fields must be a JSON object of field name to value".into()),
    }
    Ok(ctx)
}

fn parse_json(what: &str, text: &str) -> Result<J, String> {
    serde_json::from_str(text).map_err(|e| format!("--{what} is not JSON: {e}"))
}

pub fn run(a: &EvalArgs) -> Exit {
    let lists = match &a.project {
        Some(dir) => match crate::cmd::load_project_dir(dir) {
            Ok(p) => p.lists,
            Err(exit) => return exit,
        },
        None => Lists::new(),
    };
    if let Some(path) = &a.batch {
        return batch(path, &lists);
    }
    let expr = a.expr.as_deref().unwrap_or_default();
    let fields = match a
        .fields
        .as_deref()
        .map(|f| parse_json("fields", f))
        .transpose()
    {
        Ok(f) => f,
        Err(e) => return usage(&e),
    };
    let request = match a
        .request
        .as_deref()
        .map(|f| parse_json("request", f))
        .transpose()
    {
        Ok(f) => f,
        Err(e) => return usage(&e),
    };
    let ctx = match context(fields.as_ref(), request.as_ref()) {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    match evaluate(expr, &ctx, &lists) {
        Ok(answer) => {
            println!("{}", answer.to_json());
            Exit::Success
        }
        Err(e) => {
            eprint!("{}", e.render(expr));
            Exit::Invalid
        }
    }
}

fn usage(msg: &str) -> Exit {
    eprintln!("error: {msg}");
    Exit::Invalid
}

/// One answer line for one input line.
pub fn batch_line(line: &str, lists: &Lists) -> J {
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
        Err(e) => return json!({"error": e}),
    };
    match evaluate(expr, &ctx, lists) {
        Ok(a) => json!({"result": a.to_json()}),
        Err(e) => {
            let mut m = Map::new();
            m.insert("error".into(), J::String(e.message.clone()));
            m.insert("kind".into(), J::String(e.kind.code().into()));
            J::Object(m)
        }
    }
}

fn batch(path: &std::path::Path, lists: &Lists) -> Exit {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => return usage(&format!("cannot read {}: {e}", path.display())),
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in reader.lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => return usage(&format!("cannot read {}: {e}", path.display())),
        };
        if line.trim().is_empty() {
            continue;
        }
        if writeln!(out, "{}", batch_line(&line, lists)).is_err() {
            return Exit::CouldNotRun;
        }
    }
    let _ = out.flush();
    Exit::Success
}

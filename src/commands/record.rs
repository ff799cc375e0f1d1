//! `rulegate record`: a suite from requests. Reads URLs (one per line) or anything `replay`
//! reads (Trace API JSONL, HAR, Logpush NDJSON, access logs: the same readers), traces each
//! request through the configured backend and writes one case per distinct request whose
//! expectation is today's behaviour (status, action, the terminating rule by `ref` when the
//! project has one). The quickest way to pin a zone's behaviour before changing it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use super::{runtime, say};
use crate::cli::RecordArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::replay::emit::{flow, path_of};
use crate::replay::{Format, Record, combined, har, input, logpush};
use crate::trace::{Behaviour, Extras, TraceRequest, TraceView};

/// Requests one recording reads at most.
const MAX_REQUESTS: usize = 10_000;

/// A request read from an input, with where it was.
struct Read {
    at: String,
    rec: Record,
}

fn bad(at: &str, why: impl Into<String>) -> Diagnostic {
    Diagnostic::usage(format!("{at}: {}", why.into()))
}

/// A line that is a URL: a GET of it.
fn url_record(line: &str) -> Result<Record, String> {
    if !(line.starts_with("http://") || line.starts_with("https://")) {
        return Err(format!(
            "`{}` is not an http:// or https:// URL (a URL list holds one per line)",
            crate::escape::visible(line)
        ));
    }
    url::Url::parse(line).map_err(|e| format!("not a URL: {e}"))?;
    crate::rules::request::split_url(line).map_err(|e| e.to_string())?;
    Ok(Record {
        req: TraceRequest {
            method: "GET".into(),
            url: line.to_string(),
            ..Default::default()
        },
        fields: Vec::new(),
        logged: None,
    })
}

/// Every request of the inputs, in order; the first bad line is the error.
fn read(a: &RecordArgs) -> Result<Vec<Read>, Report> {
    let sources = input::sources(&a.inputs).map_err(|e| Diagnostic::usage(e.to_string()))?;
    let mut out = Vec::new();
    for src in &sources {
        let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let opened = input::open(src, bytes).map_err(|e| Diagnostic::usage(e.to_string()))?;
        let mut reader = opened.reader;
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        // `None` until the first line: URL lines, or a replay format.
        let mut format: Option<Option<Format>> = None;
        loop {
            let line = input::next_line(&mut *reader, &mut buf, &src.name, opened.gzip, line_no)
                .map_err(|e| Diagnostic::usage(e.to_string()))?;
            let Some(line) = line else { break };
            line_no += 1;
            let at = format!("{}:{line_no}", crate::escape::visible(&src.name));
            let input::Line::Text(text) = line else {
                return Err(bad(&at, "the line is too long").into());
            };
            let Ok(text) = String::from_utf8(text) else {
                return Err(bad(&at, "not UTF-8 text").into());
            };
            let trimmed = text.trim();
            if trimmed.is_empty()
                || (trimmed.starts_with('#') && format != Some(Some(Format::Combined)))
            {
                continue;
            }
            let fmt = match format {
                Some(f) => f,
                None => {
                    let f = if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                        None
                    } else {
                        Some(
                            input::detect(trimmed.as_bytes(), &src.name)
                                .map_err(|e| Diagnostic::usage(e.to_string()))?,
                        )
                    };
                    format = Some(f);
                    f
                }
            };
            if fmt == Some(Format::Har) {
                let mut doc = text.into_bytes();
                doc.push(b'\n');
                doc.extend(
                    input::read_all(&mut *reader, &src.name, opened.gzip)
                        .map_err(|e| Diagnostic::usage(e.to_string()))?,
                );
                let entries = har::entries(&doc).map_err(|e| bad(&at, e))?;
                for (i, entry) in entries.iter().enumerate() {
                    let entry_at = format!("{} entry {}", crate::escape::visible(&src.name), i + 1);
                    let rec = har::parse(entry).map_err(|e| bad(&entry_at, e))?;
                    out.push(Read { at: entry_at, rec });
                }
                break;
            }
            let rec = match fmt {
                None => url_record(trimmed),
                Some(Format::Logpush) => logpush::parse(trimmed),
                Some(Format::Jsonl) => combined::parse_jsonl(trimmed),
                Some(Format::Combined) => combined::parse(trimmed, a.host.as_deref()),
                Some(Format::Har) => unreachable!("read whole above"),
            }
            .map_err(|e| bad(&at, e))?;
            out.push(Read { at, rec });
            if out.len() > MAX_REQUESTS {
                return Err(Diagnostic::usage(format!(
                    "more than {MAX_REQUESTS} requests: a suite that large is not reviewable"
                ))
                .hint("record a sample (head -n 500, or replay --emit-cases)")
                .into());
            }
        }
    }
    if out.is_empty() {
        return Err(Diagnostic::usage("the inputs hold no request").into());
    }
    Ok(out)
}

pub(super) fn run(a: &RecordArgs) -> Result<Exit, Report> {
    if a.output.exists() && !a.force {
        return Err(Diagnostic::usage(format!("{} exists", a.output.display()))
            .hint("pass --force to overwrite it, or -o another file")
            .into());
    }
    let reads = read(a)?;
    let (loaded, backend) = super::engine_backend(a.project.clone(), &a.engine)?;
    // Rule ids → refs, so the suite names rules as the project does.
    let refs: std::collections::HashMap<String, String> = loaded
        .project
        .as_ref()
        .map(|p| {
            p.book
                .refs
                .iter()
                .map(|(r, id)| (id.clone(), r.clone()))
                .collect()
        })
        .unwrap_or_default();
    let rt = runtime(0)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Recorded by `rulegate record` against {}: each case expects what the rules do with\n# its request today. Review the expectations before committing.",
        crate::escape::visible(&backend.describe())
    );
    let _ = writeln!(out, "name: {}\ncases:", flow(&a.name));
    let (mut seen, mut names) = (BTreeSet::new(), BTreeSet::new());
    let mut n = 0;
    for r in &reads {
        let fields: serde_json::Map<String, serde_json::Value> = r
            .rec
            .fields
            .iter()
            .map(|(id, v)| (id.name().to_string(), v.to_json()))
            .collect();
        if !seen.insert(flow(&(&r.rec.req, &fields))) {
            continue;
        }
        let extras = Extras {
            fields: (!fields.is_empty()).then(|| fields.clone()),
            origin: None,
        };
        let result = rt
            .block_on(backend.trace(&r.rec.req, &extras))
            .map_err(|e| Diagnostic::could_not_run(format!("{}: the trace failed: {e}", r.at)))?;
        let b = Behaviour::of(&TraceView::from_result(result));
        let mut expect = serde_json::Map::new();
        if let Some(s) = b.status {
            expect.insert("status".into(), s.into());
        }
        expect.insert("action".into(), b.action.clone().into());
        if let Some(rule) = &b.rule {
            let named = refs.get(rule).unwrap_or(rule);
            expect.insert("matched".into(), serde_json::json!([named]));
        }
        let mut name = format!("{} {}", r.rec.req.method, path_of(&r.rec.req.url));
        let mut i = 2;
        while !names.insert(name.clone()) {
            name = format!("{} {} #{i}", r.rec.req.method, path_of(&r.rec.req.url));
            i += 1;
        }
        let _ = writeln!(out, "  - name: {}", flow(&name));
        let _ = writeln!(out, "    # from {}", r.at);
        let _ = writeln!(out, "    request: {}", flow(&r.rec.req));
        if !fields.is_empty() {
            let _ = writeln!(out, "    fields: {}", flow(&fields));
        }
        let _ = writeln!(out, "    expect: {}", flow(&expect));
        n += 1;
    }
    rt.shutdown_background();
    for w in backend.warnings() {
        super::warn(&w);
    }
    let text = crate::escape::scrub(&out);
    if let Some(dir) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Diagnostic::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&a.output, text.as_bytes()).map_err(|e| {
        Diagnostic::could_not_run(format!("cannot write {}: {e}", a.output.display()))
    })?;
    say(&format!(
        "recorded {n} case(s) from {} request(s) into {}\n",
        reads.len(),
        crate::escape::visible(&a.output.display().to_string())
    ))?;
    Ok(Exit::Success)
}

//! `rulegate replay`: request logs through the offline engine, compared with a baseline (the
//! project at a git revision, or the outcome the log recorded), tallied into transitions and
//! per-rule counts that merge exactly across partitions.
//!
//! The pipeline: `input` opens each source (gzip by magic bytes) and yields lines (or HAR
//! entries); the reading thread keeps the lines of this partition and hands them in batches to
//! `--jobs` workers over a bounded channel (so memory stays flat whatever the input size);
//! each worker parses a line with its format's reader (`logpush`, `combined`, `har`), builds
//! the context with the fields the log carried (the rest missing), evaluates it through each
//! side, and adds the outcome to its own [`Tally`]; the tallies merge at the end, as
//! `--merge` merges the JSON of several runs.

pub(crate) mod combined;
pub(crate) mod emit;
pub(crate) mod har;
pub(crate) mod input;
pub(crate) mod logpush;
pub(crate) mod redact;
pub(crate) mod report;
mod tally;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::rules::request::{Defaults, context_with};
use crate::rules::{Context, FieldId, Value};
use crate::ruleset::Rulebook;
use crate::trace::{Behaviour, TraceRequest};

pub(crate) use input::{Format, InputError, Source};
pub(crate) use tally::{Sample, Tally};

/// One request read from a log, ready to replay.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The request as the Trace API would take it.
    pub(crate) req: TraceRequest,
    /// Fields the log carried that a Trace request cannot set (client IP, ASN, scores, …).
    pub(crate) fields: Vec<(FieldId, Value)>,
    /// What Cloudflare did, when the log says.
    pub(crate) logged: Option<Logged>,
}

/// The outcome a log line recorded.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    /// As `expect.action` names it; `none` when no security rule ended the request.
    pub(crate) action: String,
    pub(crate) rule: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) status: Option<i64>,
    /// Every security rule that matched (`SecurityRuleIDs`).
    pub(crate) rules: Vec<String>,
}

/// What the candidate is compared with.
#[derive(Debug, Clone)]
pub(crate) enum Base {
    /// Nothing: the report is the candidate's outcomes.
    None,
    /// The project at another revision.
    Book(Arc<Rulebook>),
    /// The outcome recorded in each log line.
    Logged,
}

/// The actions a security product takes, as `SecurityAction` reports them. Anything else
/// (a redirect, a rewrite) is `none` when compared with the log.
const SECURITY_ACTIONS: &[&str] = &["block", "challenge", "js_challenge", "managed_challenge"];

/// Everything a worker needs, shared read-only.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) candidate: Arc<Rulebook>,
    pub(crate) base: Base,
    /// Sample requests kept per transition.
    pub(crate) samples: usize,
    pub(crate) redact: redact::Redactor,
    /// For access logs, which carry none.
    pub(crate) host: Option<String>,
    /// The fields the rules of either side read, to report those the logs never carry.
    read_fields: Vec<FieldId>,
    /// How long one request may evaluate (`--trace-budget`).
    pub(crate) budget: std::time::Duration,
    /// When the engine was made: the watchdog's clock.
    epoch: std::time::Instant,
}

impl Engine {
    pub(crate) fn new(
        candidate: Arc<Rulebook>,
        base: Base,
        samples: usize,
        redact: redact::Redactor,
        host: Option<String>,
        budget: std::time::Duration,
    ) -> Engine {
        let mut read = BTreeSet::new();
        let books = std::iter::once(&candidate).chain(match &base {
            Base::Book(b) => Some(b),
            _ => None,
        });
        for book in books {
            read.extend(fields_read(book));
        }
        let read_fields: Vec<FieldId> = read
            .into_iter()
            .filter_map(|n| Context::field(n).ok())
            .collect();
        Engine {
            candidate,
            base,
            samples,
            redact,
            host,
            read_fields,
            budget,
            epoch: std::time::Instant::now(),
        }
    }

    /// The fields the rules of either side read.
    pub(crate) fn fields_read(&self) -> Vec<&'static str> {
        self.read_fields.iter().map(|id| id.name()).collect()
    }

    /// Replays one line (or HAR entry) into `tally`.
    pub(crate) fn line(&self, tally: &mut Tally, guard: &Guard, at: &At<'_>, text: &[u8]) {
        let Ok(text) = std::str::from_utf8(text) else {
            tally.bad(at, "not UTF-8 text".into());
            return;
        };
        if text.trim().is_empty() {
            return;
        }
        let parsed = match at.format {
            Format::Logpush => logpush::parse(text),
            Format::Jsonl => combined::parse_jsonl(text),
            Format::Combined => combined::parse(text, self.host.as_deref()),
            Format::Har => har::parse(text),
        };
        let rec = match parsed {
            Ok(r) => r,
            Err(why) => {
                tally.bad(at, why);
                return;
            }
        };
        guard.cancel.store(false, Ordering::Relaxed);
        guard.started.store(
            self.epoch.elapsed().as_nanos().max(1) as u64,
            Ordering::Relaxed,
        );
        let done = self.record(tally, &guard.cancel, at, text, &rec);
        guard.started.store(0, Ordering::Relaxed);
        // Checked after the evaluation too: a single slow expression is not interrupted (the
        // evaluator stops between rules), but its answer is not trusted either.
        if guard.cancel.load(Ordering::Relaxed) {
            tally.over_budget += 1;
            tally.bad(
                at,
                format!(
                    "the request took longer than the trace budget of {:?} to evaluate",
                    self.budget
                ),
            );
            return;
        }
        if let Err(why) = done {
            tally.bad(at, why);
        }
    }

    fn record(
        &self,
        tally: &mut Tally,
        cancel: &AtomicBool,
        at: &At<'_>,
        text: &str,
        rec: &Record,
    ) -> Result<(), String> {
        let mut ctx = context_with(&rec.req, None, Defaults::Missing).map_err(|e| e.to_string())?;
        for (id, v) in &rec.fields {
            match v {
                // Into the context's arena: no allocation of its own.
                Value::Bytes(b) => ctx.set_bytes(*id, b),
                v => ctx.set_field(*id, v.clone()),
            }
            .map_err(|e| e.to_string())?;
        }
        for id in &self.read_fields {
            let (word, bit) = (usize::from(id.0 / 64), 1u64 << (id.0 % 64));
            if tally.carried_ids[word] & bit == 0 && ctx.is_set(*id) {
                tally.carried_ids[word] |= bit;
                tally.carried.insert(id.name().to_string());
            }
        }
        let before = match &self.base {
            Base::None => None,
            Base::Book(book) => Some(evaluate(book, ctx.clone(), &rec.req, cancel, tally)?),
            Base::Logged => rec.logged.as_ref().map(|l| Behaviour {
                status: l.status,
                action: l.action.clone(),
                rule: l.rule.clone(),
                description: l.description.clone(),
                redirect: None,
                matched: l.rules.iter().cloned().chain(l.rule.clone()).collect(),
            }),
        };
        let mut after = evaluate(&self.candidate, ctx, &rec.req, cancel, tally)?;
        if matches!(self.base, Base::Logged) && !SECURITY_ACTIONS.contains(&after.action.as_str()) {
            // The log records security actions only: a redirect is "none" there.
            after.action = "none".into();
            after.rule = None;
            after.description = None;
        }
        // A request past its budget counts only as that (the caller sees the flag).
        if cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
        if matches!(self.base, Base::Logged) && rec.logged.is_none() {
            tally.no_logged += 1;
        }
        let key = line_hash(text.as_bytes());
        let sample = |redact: &redact::Redactor| Sample::new(key, at, rec, redact);
        tally.add(
            before.as_ref(),
            &after,
            matches!(self.base, Base::Logged),
            key,
            self.samples,
            || sample(&self.redact),
        );
        Ok(())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`):
/// the one date conversion both log timestamp formats need.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// One worker's evaluation, watched: when it started (nanoseconds since the run began, 0 when
/// idle), and the flag the watchdog sets once it has run longer than the trace budget (the
/// evaluator stops at its next rule). A pathological expression ends as an error, not a hang.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    started: AtomicU64,
    cancel: AtomicBool,
}

/// Starts the watchdog over `guards`; it stops when `done` is set.
fn watchdog(
    guards: Vec<Arc<Guard>>,
    budget: std::time::Duration,
    epoch: std::time::Instant,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let tick = (budget / 4).clamp(
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(250),
        );
        while !done.load(Ordering::Relaxed) {
            // Woken early (unpark) when the run ends: its end is not delayed by a tick.
            std::thread::park_timeout(tick);
            let now = epoch.elapsed().as_nanos() as u64;
            for g in &guards {
                let started = g.started.load(Ordering::Relaxed);
                if started != 0 && now.saturating_sub(started) > budget.as_nanos() as u64 {
                    g.cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    })
}

/// Where a line came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    pub(crate) source: &'a str,
    pub(crate) line: u64,
    pub(crate) format: Format,
}

/// One side's behaviour for a context.
fn evaluate(
    book: &Rulebook,
    ctx: Context,
    req: &TraceRequest,
    cancel: &AtomicBool,
    tally: &mut Tally,
) -> Result<Behaviour, String> {
    let (result, warnings) = crate::ruleset::evaluate_lean(book, ctx, req, cancel)
        .map_err(|e| format!("cannot evaluate the request: {e}"))?;
    for w in warnings {
        if tally.warnings.len() < 50 {
            tally.warnings.insert(w);
        }
    }
    Ok(Behaviour::of_result(&result))
}

/// The fields the rules of `book` read, by name: their expressions and the value
/// expressions of their action parameters (rewrites, redirect targets).
pub(crate) fn fields_read(book: &Rulebook) -> BTreeSet<&'static str> {
    fn expressions<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    match x {
                        serde_json::Value::String(e) if k == "expression" => out.push(e),
                        x => expressions(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| expressions(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for rs in &book.rulesets {
        for cr in &rs.rules {
            let mut all: Vec<&str> = cr.rule.expression.as_deref().into_iter().collect();
            if let Some(p) = &cr.rule.action_parameters {
                expressions(p, &mut all);
            }
            for e in all {
                if let Ok(f) = crate::rules::fields_used(e) {
                    out.extend(f);
                }
            }
        }
    }
    out
}

/// The stable hash of a line's bytes that picks samples and partitions (the same line lands
/// in the same partition and is the same sample on every machine): FNV-1a's constants over
/// 64-bit little-endian words (then the remaining bytes), finished with MurmurHash3's 64-bit
/// mix so every bit of the line reaches the low bits a modulo reads.
pub(crate) fn line_hash(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(PRIME);
    }
    for b in words.remainder() {
        h = (h ^ u64::from(*b)).wrapping_mul(PRIME);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// `--partition K/N`: the lines whose hash is K-1 modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Partition {
    pub(crate) k: u64,
    pub(crate) n: u64,
}

impl Partition {
    pub(crate) fn parse(s: &str) -> Result<Partition, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not K/N (e.g. 2/3)"))?;
        let (k, n) = (
            k.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{k}` in `{s}` is not a number"))?,
            n.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{n}` in `{s}` is not a number"))?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(format!("`{s}`: K must be 1..=N and N at least 1"));
        }
        Ok(Partition { k, n })
    }

    pub(crate) fn holds(self, line: &[u8]) -> bool {
        self.n == 1 || line_hash(trim_eol(line)) % self.n == self.k - 1
    }
}

fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// How a replay reads and where it reports progress.
#[derive(Debug)]
pub(crate) struct ReadOptions {
    pub(crate) format: Option<Format>,
    pub(crate) partition: Option<Partition>,
    pub(crate) jobs: usize,
    pub(crate) progress: bool,
}

/// Lines handed to a worker at once.
const BATCH: usize = 256;

struct Batch {
    source: Arc<str>,
    format: Format,
    lines: Vec<(u64, Vec<u8>)>,
}

impl Batch {
    /// Replays every line into `tally`, on this thread.
    fn replay(&self, engine: &Engine, tally: &mut Tally, guard: &Guard) {
        for (line, text) in &self.lines {
            let at = At {
                source: &self.source,
                line: *line,
                format: self.format,
            };
            engine.line(tally, guard, &at, text);
        }
    }
}

/// Replays every source; the merged tally, or the first source that could not be read.
pub(crate) fn run(
    engine: &Arc<Engine>,
    sources: &[Source],
    opts: &ReadOptions,
) -> Result<Tally, InputError> {
    let bytes = Arc::new(AtomicU64::new(0));
    let total: Option<u64> = sources.iter().map(Source::size).sum();
    let bar = opts.progress.then(|| progress_bar(total));
    let jobs = opts.jobs.max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(jobs * 4);
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let mut workers = Vec::new();
    // With one job, lines are replayed on this thread: nothing to hand over.
    let inline = jobs == 1;
    let guards: Vec<Arc<Guard>> = (0..jobs).map(|_| Arc::new(Guard::default())).collect();
    let done = Arc::new(AtomicBool::new(false));
    let dog = watchdog(guards.clone(), engine.budget, engine.epoch, done.clone());
    let own_guard = guards[0].clone();
    if !inline {
        for guard in guards {
            let (engine, rx) = (engine.clone(), rx.clone());
            workers.push(std::thread::spawn(move || {
                let mut tally = Tally::default();
                loop {
                    let next = rx
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    let Ok(batch) = next else { break };
                    batch.replay(&engine, &mut tally, &guard);
                }
                tally
            }));
        }
    }
    let mut own = Tally::default();
    let mut read_error = None;
    let mut seen: u64 = 0;
    'sources: for src in sources {
        let name: Arc<str> = Arc::from(src.name.as_str());
        let opened = match input::open(src, bytes.clone()) {
            Ok(o) => o,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        let mut reader = opened.reader;
        let mut buf = Vec::new();
        let mut line_no: u64 = 0;
        let mut format = opts.format;
        let mut batch = Vec::with_capacity(BATCH);
        let send = |lines: Vec<(u64, Vec<u8>)>, format: Format, own: &mut Tally| {
            let batch = Batch {
                source: name.clone(),
                format,
                lines,
            };
            if inline {
                batch.replay(engine, own, &own_guard);
                true
            } else {
                tx.send(batch).is_ok()
            }
        };
        loop {
            let line =
                match input::next_line(&mut *reader, &mut buf, &src.name, opened.gzip, line_no) {
                    Ok(Some(l)) => l,
                    Ok(None) => break,
                    Err(e) => {
                        read_error = Some(e);
                        break 'sources;
                    }
                };
            line_no += 1;
            let text = match line {
                input::Line::Text(t) => t,
                input::Line::TooLong(n) => {
                    let at = At {
                        source: &name,
                        line: line_no,
                        format: format.unwrap_or(Format::Logpush),
                    };
                    own.bad(
                        &at,
                        format!(
                            "the line is {n} bytes, longer than the limit of {} bytes",
                            input::MAX_LINE
                        ),
                    );
                    continue;
                }
            };
            let fmt = match format {
                Some(f) => f,
                None => {
                    if text.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match input::detect(&text, &src.name) {
                        Ok(f) => {
                            format = Some(f);
                            if opts.progress {
                                let gz = if opened.gzip { ", gzip" } else { "" };
                                eprintln!(
                                    "{}: {}{gz}",
                                    crate::escape::visible(&src.name),
                                    f.name()
                                );
                            }
                            f
                        }
                        Err(e) => {
                            read_error = Some(e);
                            break 'sources;
                        }
                    }
                }
            };
            if fmt == Format::Har {
                // A HAR is one document: read it whole and replay its entries.
                let mut doc = text;
                doc.push(b'\n');
                match input::read_all(&mut *reader, &src.name, opened.gzip) {
                    Ok(rest) => doc.extend_from_slice(&rest),
                    Err(e) => {
                        read_error = Some(e);
                        break 'sources;
                    }
                }
                let entries = match har::entries(&doc) {
                    Ok(e) => e,
                    Err(why) => {
                        read_error = Some(InputError {
                            file: src.name.clone(),
                            message: why,
                            hint: None,
                        });
                        break 'sources;
                    }
                };
                for (i, e) in entries.into_iter().enumerate() {
                    if opts.partition.is_none_or(|p| p.holds(e.as_bytes())) {
                        batch.push((i as u64 + 1, e.into_bytes()));
                    }
                    if batch.len() == BATCH && !send(std::mem::take(&mut batch), fmt, &mut own) {
                        break 'sources;
                    }
                }
                break;
            }
            if opts.partition.is_some_and(|p| !p.holds(&text)) {
                continue;
            }
            batch.push((line_no, text));
            seen += 1;
            if batch.len() == BATCH {
                if !send(
                    std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                    fmt,
                    &mut own,
                ) {
                    break 'sources;
                }
                if let Some(b) = &bar {
                    b.set_position(bytes.load(Ordering::Relaxed));
                    let secs = b.elapsed().as_secs_f64().max(0.001);
                    b.set_message(format!(
                        "{seen} lines, {:.0} requests/s",
                        seen as f64 / secs
                    ));
                }
            }
        }
        if !batch.is_empty() {
            let f = format.unwrap_or(Format::Logpush);
            if !send(batch, f, &mut own) {
                break;
            }
        }
        if format.is_none() && read_error.is_none() {
            read_error = Some(InputError {
                file: src.name.clone(),
                message: "the input holds no line but blank ones".into(),
                hint: None,
            });
            break;
        }
    }
    drop(tx);
    let joined: Vec<_> = workers
        .into_iter()
        .map(std::thread::JoinHandle::join)
        .collect();
    done.store(true, Ordering::Relaxed);
    dog.thread().unpark();
    let _ = dog.join();
    for w in joined {
        match w {
            Ok(t) => own.merge(t),
            Err(_) => {
                return Err(InputError {
                    file: String::new(),
                    message: "a replay worker stopped unexpectedly".into(),
                    hint: None,
                });
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = read_error {
        return Err(e);
    }
    own.finish(engine.samples);
    Ok(own)
}

fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t),
        None => indicatif::ProgressBar::no_length(),
    };
    let style = if total.is_some() {
        "{spinner} replaying [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}) {msg}"
    } else {
        "{spinner} replaying [{elapsed_precise}] {bytes} ({bytes_per_sec}) {msg}"
    };
    if let Ok(s) = indicatif::ProgressStyle::with_template(style) {
        bar.set_style(s);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    bar
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Log text is hostile: no line, whatever it holds, panics a reader or the detection.
    fn never_panics(line: &str) {
        let _ = logpush::parse(line);
        let _ = combined::parse(line, Some("h.example"));
        let _ = combined::parse_jsonl(line);
        let _ = har::parse(line);
        let _ = har::entries(line.as_bytes());
        let _ = input::detect(line.as_bytes(), "x");
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(line in "\\PC{0,200}") {
            never_panics(&line);
        }

        #[test]
        fn logpush_shaped_lines_with_any_values(
            host in "\\PC{0,20}",
            uri in "\\PC{0,40}",
            ip in "\\PC{0,20}",
            ts in "\\PC{0,30}",
            action in "\\PC{0,20}",
        ) {
            let line = serde_json::json!({
                "ClientRequestHost": host, "ClientRequestURI": uri, "ClientIP": ip,
                "EdgeStartTimestamp": ts, "SecurityAction": action,
            })
            .to_string();
            never_panics(&line);
        }

        #[test]
        fn access_log_shaped_lines_with_any_parts(
            who in "\\PC{0,20}",
            time in "\\PC{0,30}",
            req in "\\PC{0,40}",
            rest in "\\PC{0,40}",
        ) {
            never_panics(&format!("{who} - - [{time}] \"{req}\" {rest}"));
        }
    }

    #[test]
    fn partitions_split_every_line_exactly_once() {
        let parts: Vec<Partition> = (1..=3).map(|k| Partition { k, n: 3 }).collect();
        for i in 0..300 {
            let line = format!("{{\"ClientRequestURI\":\"/p/{i}\"}}");
            let holders = parts.iter().filter(|p| p.holds(line.as_bytes())).count();
            assert_eq!(holders, 1, "{line}");
        }
        assert!(Partition::parse("0/3").is_err());
        assert!(Partition::parse("4/3").is_err());
        assert!(Partition::parse("a/3").is_err());
        assert_eq!(Partition::parse(" 2/3 ").unwrap(), Partition { k: 2, n: 3 });
    }
}

//! Reading request logs: files, directories and `-` (stdin), gzip detected by its magic bytes,
//! one record per line (NDJSON, JSONL, access logs) or per HAR entry. Memory stays bounded
//! whatever the input size: lines are read one at a time, a line longer than [`MAX_LINE`] is
//! a bad line (its bytes skipped, not kept), and only a HAR document is read whole.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The longest line read; a longer one is a bad line.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// The largest HAR document read (a HAR is one JSON document, read whole).
pub(crate) const MAX_HAR: u64 = 512 << 20;

/// The formats `replay` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// Cloudflare Logpush `http_requests` NDJSON.
    Logpush,
    /// Trace API request bodies, one JSON object per line (what suites send).
    Jsonl,
    /// nginx/Apache combined (or common) access log lines.
    Combined,
    /// An HTTP Archive (HAR 1.2) from a browser or proxy.
    Har,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Logpush => "Logpush NDJSON",
            Format::Jsonl => "Trace API JSONL",
            Format::Combined => "combined access log",
            Format::Har => "HAR",
        }
    }
}

/// Why a source cannot be read at all (as opposed to a bad line, which is counted).
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub(crate) struct InputError {
    pub(crate) file: String,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

fn fail(file: &str, message: impl Into<String>) -> InputError {
    InputError {
        file: file.to_string(),
        message: message.into(),
        hint: None,
    }
}

/// One input as named: a file, or `-`.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// As reports name it (the path as given, or `<stdin>`).
    pub(crate) name: String,
    path: Option<PathBuf>,
}

impl Source {
    pub(crate) fn size(&self) -> Option<u64> {
        self.path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    }
}

/// The sources the arguments name: files as given, directories expanded to their files
/// (recursively, sorted, hidden entries skipped), `-` for stdin (at most once).
pub(crate) fn sources(args: &[PathBuf]) -> Result<Vec<Source>, InputError> {
    let mut out = Vec::new();
    let mut stdin = false;
    for a in args {
        if a.as_os_str() == "-" {
            if stdin {
                return Err(fail("-", "standard input is named twice"));
            }
            stdin = true;
            out.push(Source {
                name: "<stdin>".into(),
                path: None,
            });
            continue;
        }
        let shown = a.display().to_string();
        let meta = std::fs::metadata(a).map_err(|e| fail(&shown, format!("cannot read: {e}")))?;
        if meta.is_dir() {
            let before = out.len();
            walk(a, &mut out)?;
            if out.len() == before {
                return Err(fail(&shown, "the directory holds no log file"));
            }
        } else {
            out.push(Source {
                name: shown,
                path: Some(a.clone()),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Source>) -> Result<(), InputError> {
    let shown = dir.display().to_string();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(&shown, format!("cannot read the directory: {e}")))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(Source {
                name: p.display().to_string(),
                path: Some(p),
            });
        }
    }
    Ok(())
}

/// Counts the bytes read from the raw (maybe compressed) input, for the progress bar.
struct Counted<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// An open source: decompressed when it starts with gzip's magic bytes.
pub(crate) struct Opened {
    pub(crate) reader: Box<dyn BufRead + Send>,
    pub(crate) gzip: bool,
}

/// Opens `src`; `read` counts the raw bytes as they are read.
pub(crate) fn open(
    src: &Source,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<Opened, InputError> {
    let raw: Box<dyn Read + Send> = match &src.path {
        Some(p) => Box::new(
            std::fs::File::open(p).map_err(|e| fail(&src.name, format!("cannot open: {e}")))?,
        ),
        None => Box::new(std::io::stdin()),
    };
    let mut buffered = BufReader::with_capacity(256 << 10, Counted { inner: raw, read });
    let head = buffered
        .fill_buf()
        .map_err(|e| fail(&src.name, format!("cannot read: {e}")))?;
    if head.is_empty() {
        return Err(InputError {
            hint: Some("a log with no request replays nothing; check the export".into()),
            ..fail(&src.name, "the input is empty (0 bytes)")
        });
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(buffered);
        return Ok(Opened {
            reader: Box::new(BufReader::with_capacity(256 << 10, gz)),
            gzip: true,
        });
    }
    Ok(Opened {
        reader: Box::new(buffered),
        gzip: false,
    })
}

/// One line of an input: its 1-based number and bytes (without the line ending).
#[derive(Debug)]
pub(crate) enum Line {
    Text(Vec<u8>),
    /// Longer than [`MAX_LINE`]; its bytes were skipped.
    TooLong(usize),
}

/// Reads the next line into `buf` (cleared first); `None` at the end. A read error (a
/// truncated or corrupt gzip stream, an I/O error) is the source's error.
pub(crate) fn next_line(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    name: &str,
    gzip: bool,
    line_no: u64,
) -> Result<Option<Line>, InputError> {
    buf.clear();
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(name, gzip, line_no, &e)),
        };
        if chunk.is_empty() {
            if total == 0 {
                return Ok(None);
            }
            break;
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        total += take;
        if !too_long {
            if buf.len() + take > MAX_LINE + 2 {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Some(Line::TooLong(total)));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(Line::Text(std::mem::take(buf))))
}

fn read_error(name: &str, gzip: bool, line_no: u64, e: &std::io::Error) -> InputError {
    if gzip {
        InputError {
            hint: Some(
                "the file may be truncated (an interrupted download or a Logpush object still being written); the lines before it were read".into(),
            ),
            ..fail(
                name,
                format!("the gzip stream is corrupt or ends early after line {line_no}: {e}"),
            )
        }
    } else {
        fail(name, format!("cannot read after line {line_no}: {e}"))
    }
}

/// Reads a whole HAR document (bounded by [`MAX_HAR`]).
pub(crate) fn read_all(r: &mut dyn BufRead, name: &str, gzip: bool) -> Result<Vec<u8>, InputError> {
    let mut all = Vec::new();
    let n = r
        .take(MAX_HAR + 1)
        .read_to_end(&mut all)
        .map_err(|e| read_error(name, gzip, 0, &e))?;
    if n as u64 > MAX_HAR {
        return Err(fail(
            name,
            format!(
                "the HAR document is larger than {} MiB; split it or export Logpush NDJSON",
                MAX_HAR >> 20
            ),
        ));
    }
    Ok(all)
}

/// The format of a source from its first non-empty line (`first`), or an error naming what
/// it looks like instead.
pub(crate) fn detect(first: &[u8], name: &str) -> Result<Format, InputError> {
    let text = std::str::from_utf8(first).map_err(|_| InputError {
        hint: Some(
            "replay reads Logpush NDJSON (plain or gzip), JSONL Trace requests, combined access logs and HAR; name the format with --input-format".into(),
        ),
        ..fail(name, "not a request log: the first line is not text (binary data?)")
    })?;
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.starts_with('{') {
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(t) {
            if o.contains_key("log") {
                return Ok(Format::Har);
            }
            if o.keys().any(|k| super::logpush::is_logpush_key(k)) {
                return Ok(Format::Logpush);
            }
            if o.contains_key("url") {
                return Ok(Format::Jsonl);
            }
            return Err(InputError {
                hint: Some("name the format with --input-format".into()),
                ..fail(
                    name,
                    "the first line is JSON but neither a Logpush http_requests record (ClientRequestHost, ClientRequestURI, …) nor a Trace API request (url, method, …)",
                )
            });
        }
        // A pretty-printed JSON document: a HAR.
        return Ok(Format::Har);
    }
    if super::combined::looks_like(t) {
        return Ok(Format::Combined);
    }
    Err(InputError {
        hint: Some(
            "replay reads Logpush NDJSON (plain or gzip), JSONL Trace requests, combined access logs and HAR; name the format with --input-format".into(),
        ),
        // The line is not echoed: it may hold what `redact:` hides.
        ..fail(
            name,
            "not a request log: the first line is neither JSON nor an access-log line",
        )
    })
}

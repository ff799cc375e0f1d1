//! Reading go-ftw test files (the format of CRS's own regression suite): each stage's request
//! and the rule id that must, or must not, appear in the WAF's log.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use super::Request;

/// One stage of a go-ftw test, ready to evaluate.
#[derive(Debug, Clone)]
pub struct FtwCase {
    pub title: String,
    pub request: Request,
    /// The CRS rule id the log must contain (`true`) or must not (`false`); `None` when the
    /// stage checks something else (a status, an error).
    pub expect: Option<(u32, bool)>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    tests: Vec<Test>,
}

#[derive(Deserialize)]
struct Test {
    test_title: String,
    #[serde(default)]
    stages: Vec<StageW>,
}

#[derive(Deserialize)]
struct StageW {
    stage: Stage,
}

#[derive(Deserialize)]
struct Stage {
    #[serde(default)]
    input: Input,
    #[serde(default)]
    output: Output,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Input {
    method: Option<String>,
    uri: Option<String>,
    version: Option<String>,
    headers: BTreeMap<String, Scalar>,
    data: Option<Scalar>,
    stop_magic: Option<bool>,
    encoded_request: Option<String>,
    raw_request: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Output {
    log_contains: Option<String>,
    no_log_contains: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Scalar {
    S(String),
    I(i64),
    F(f64),
    B(bool),
    L(Vec<Scalar>),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::S(s) => s.clone(),
            Scalar::I(n) => n.to_string(),
            Scalar::F(f) => f.to_string(),
            Scalar::B(b) => b.to_string(),
            Scalar::L(l) => l.iter().map(Scalar::text).collect::<Vec<_>>().join("\r\n"),
        }
    }
}

/// The rule id in a go-ftw log pattern such as `id "942100"`.
fn id_in(pattern: &str) -> Option<u32> {
    let i = pattern.find("id \"")? + 4;
    pattern[i..].split('"').next()?.parse().ok()
}

/// A raw HTTP/1.x request: request line, headers, body.
fn raw(bytes: &[u8]) -> Request {
    let end = memchr::memmem::find(bytes, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| memchr::memmem::find(bytes, b"\n\n").map(|i| (i, i + 2)))
        .unwrap_or((bytes.len(), bytes.len()));
    let head = String::from_utf8_lossy(&bytes[..end.0]);
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("GET").to_string();
    let uri = parts.next().unwrap_or("/").to_string();
    let protocol = parts.next().unwrap_or("HTTP/1.1").to_string();
    let headers = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Request {
        method,
        uri,
        protocol,
        headers,
        body: bytes[end.1..].to_vec(),
        remote_addr: "127.0.0.1".into(),
    }
}

/// The stages of the go-ftw file `text`.
pub fn read(text: &str) -> Result<Vec<FtwCase>, String> {
    let file: File = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for t in file.tests {
        for (n, s) in t.stages.into_iter().enumerate() {
            let (inp, o) = (s.stage.input, s.stage.output);
            let expect = match (&o.log_contains, &o.no_log_contains) {
                (Some(l), _) => id_in(l).map(|i| (i, true)),
                (None, Some(l)) => id_in(l).map(|i| (i, false)),
                _ => None,
            };
            let request = if let Some(e) = &inp.encoded_request {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(e.trim())
                    .map_err(|e| format!("{}: encoded_request: {e}", t.test_title))?;
                raw(&bytes)
            } else if let Some(r) = &inp.raw_request {
                raw(r.as_bytes())
            } else {
                let mut headers: Vec<(String, String)> = inp
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.text()))
                    .collect();
                let body = inp.data.as_ref().map(Scalar::text).unwrap_or_default();
                let has_length = headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
                // go-ftw's "magic" (off with `stop_magic`): a body gets a Content-Length and,
                // without a Content-Type, a form's.
                let magic = !inp.stop_magic.unwrap_or(false);
                if !body.is_empty() && magic {
                    if !has_length {
                        headers.push(("Content-Length".into(), body.len().to_string()));
                    }
                    if !headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    {
                        headers.push((
                            "Content-Type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ));
                    }
                }
                Request {
                    method: inp.method.unwrap_or_else(|| "GET".into()),
                    uri: inp.uri.unwrap_or_else(|| "/".into()),
                    protocol: inp.version.unwrap_or_else(|| "HTTP/1.1".into()),
                    headers,
                    body: body.into_bytes(),
                    remote_addr: "127.0.0.1".into(),
                }
            };
            let title = if n == 0 {
                t.test_title.clone()
            } else {
                format!("{} (stage {})", t.test_title, n + 1)
            };
            out.push(FtwCase {
                title,
                request,
                expect,
            });
        }
    }
    Ok(out)
}

/// Every go-ftw file under `dir` (one directory per rule file, as CRS lays out its
/// regression tests), in name order: (the directory's name, the file, its stages).
pub fn read_tree(
    dir: &std::path::Path,
) -> Result<Vec<(String, std::path::PathBuf, Vec<FtwCase>)>, String> {
    let list = |d: &std::path::Path| -> Result<Vec<std::path::PathBuf>, String> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .map_err(|e| format!("{}: {e}", d.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        Ok(v)
    };
    let mut out = Vec::new();
    for d in list(dir)?.into_iter().filter(|p| p.is_dir()) {
        let group = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for f in list(&d)? {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let cases = read(&text).map_err(|e| format!("{}: {e}", f.display()))?;
            out.push((group.clone(), f, cases));
        }
    }
    Ok(out)
}

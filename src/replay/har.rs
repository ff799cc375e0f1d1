//! HAR 1.2 (an HTTP Archive from a browser's developer tools or a proxy) → requests: each
//! entry's request (method, URL, HTTP version, headers, cookies, postData text).

use serde::Deserialize;

use super::Record;
use crate::trace::{TraceBody, TraceRequest};

#[derive(Deserialize)]
struct Har {
    log: HarLog,
}

#[derive(Deserialize)]
struct HarLog {
    entries: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    request: Request,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    method: String,
    url: String,
    #[serde(default)]
    http_version: Option<String>,
    #[serde(default)]
    headers: Vec<Pair>,
    #[serde(default)]
    cookies: Vec<Pair>,
    #[serde(default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct Pair {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostData {
    #[serde(default)]
    text: Option<String>,
}

/// The entries of a HAR document, each as its JSON text (for partitioning and samples).
pub(crate) fn entries(doc: &[u8]) -> Result<Vec<String>, String> {
    let har: Har = serde_json::from_slice(doc).map_err(|e| {
        format!(
            "not a HAR document (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })?;
    Ok(har.log.entries.iter().map(ToString::to_string).collect())
}

/// Parses one entry.
pub(crate) fn parse(entry: &str) -> Result<Record, String> {
    let e: Entry = serde_json::from_str(entry).map_err(|e| format!("not a HAR entry: {e}"))?;
    let r = e.request;
    crate::rules::request::split_url(&r.url).map_err(|e| e.to_string())?;
    let mut req = TraceRequest {
        method: r.method.to_ascii_uppercase(),
        url: r.url,
        protocol: r
            .http_version
            .filter(|v| v.starts_with("HTTP/"))
            .map(|v| v.to_ascii_uppercase()),
        ..TraceRequest::default()
    };
    for h in r.headers {
        // HTTP/2 pseudo-headers (:authority, :path, …) are not headers.
        if h.name.starts_with(':') {
            continue;
        }
        let name = h.name.to_ascii_lowercase();
        if name == "cookie" && !r.cookies.is_empty() {
            continue;
        }
        req.headers.insert(name, h.value);
    }
    for c in r.cookies {
        req.cookies.insert(c.name, c.value);
    }
    if let Some(text) = r.post_data.and_then(|p| p.text) {
        req.body = Some(TraceBody {
            plain_text: Some(text),
            ..TraceBody::default()
        });
    }
    Ok(Record {
        req,
        fields: Vec::new(),
        logged: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_requests() {
        let doc = br#"{"log":{"version":"1.2","entries":[
          {"request":{"method":"post","url":"https://a.example/login?x=1","httpVersion":"HTTP/2",
            "headers":[{"name":":authority","value":"a.example"},{"name":"Content-Type","value":"application/json"},{"name":"Cookie","value":"sid=1"}],
            "cookies":[{"name":"sid","value":"1"}],"postData":{"mimeType":"application/json","text":"{\"u\":1}"}},
           "response":{"status":200}},
          {"request":{"method":"GET"}}]}}"#;
        let all = entries(doc).unwrap();
        assert_eq!(all.len(), 2);
        let r = parse(&all[0]).unwrap();
        assert_eq!(r.req.method, "POST");
        assert_eq!(r.req.protocol.as_deref(), Some("HTTP/2"));
        assert_eq!(r.req.headers.len(), 1);
        assert_eq!(r.req.cookies["sid"], "1");
        assert!(r.req.body.is_some());
        assert!(parse(&all[1]).unwrap_err().contains("HAR entry"));
        assert!(entries(b"{\"log\": 1}").is_err());
    }
}

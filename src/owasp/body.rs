//! The request body processors CRS relies on, as ModSecurity runs them: URL-encoded forms,
//! multipart (fields, files, part headers), JSON (flattened to `json.a.b` arguments) and XML
//! (`XML:/*` the document's text, `XML://@*` its attribute values).

/// Name-value pairs, as the engine's collections hold them.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Name-value pairs from `a=1&b=2` (names and values URL-decoded, `+` a space).
pub(crate) fn urlencoded(s: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    s.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|b| *b == b'=') {
            Some(i) => (decode(&p[..i]), decode(&p[i + 1..])),
            None => (decode(p), Vec::new()),
        })
        .collect()
}

fn decode(b: &[u8]) -> Vec<u8> {
    super::transform::Transform::UrlDecode.apply(b)
}

/// What a multipart body holds.
#[derive(Debug, Default)]
pub(crate) struct Multipart {
    pub(crate) args: Vec<(Vec<u8>, Vec<u8>)>,
    /// (field name, file name, size).
    pub(crate) files: Vec<(Vec<u8>, Vec<u8>, usize)>,
    /// Every header line of every part, by field name.
    pub(crate) part_headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) error: Option<String>,
}

/// The `boundary` parameter of a multipart Content-Type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn param(header: &[u8], name: &str) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(header);
    for p in text.split(';').skip(1) {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(name) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            return Some(v.as_bytes().to_vec());
        }
    }
    None
}

pub(crate) fn multipart(body: &[u8], boundary: &str) -> Multipart {
    let mut out = Multipart::default();
    let (parts, closed) = crate::rules::request::multipart_parts(body, boundary);
    if parts.is_empty() && !closed {
        out.error = Some("no boundary found in the multipart body".into());
        return out;
    }
    for part in parts {
        let (head, content) = match memchr::memmem::find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match memchr::memmem::find(part, b"\n\n") {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => {
                    out.error = Some("a multipart part without a header end".into());
                    (part, &b""[..])
                }
            },
        };
        let mut name = None;
        let mut filename = None;
        let mut lines = Vec::new();
        for line in head.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            lines.push(line.to_vec());
            let lower = line.to_ascii_lowercase();
            if lower.starts_with(b"content-disposition:") {
                name = param(line, "name");
                filename = param(line, "filename").or(filename);
            }
        }
        let name = name.unwrap_or_default();
        for l in lines {
            out.part_headers.push((name.clone(), l));
        }
        match filename {
            Some(f) => out.files.push((name, f, content.len())),
            None => out.args.push((name, content.to_vec())),
        }
    }
    if !closed {
        out.error
            .get_or_insert_with(|| "the multipart body has no final boundary".into());
    }
    out
}

/// JSON arguments: `json.a.b` for objects, `json.a.array_0` for arrays (ModSecurity's
/// naming), scalars as text, `null` empty. `Err` with the parser's message.
pub(crate) fn json(body: &[u8]) -> Result<Pairs, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    flatten("json", &v, &mut out, 0);
    Ok(out)
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(Vec<u8>, Vec<u8>)>, depth: u32) {
    use serde_json::Value as V;
    if depth > 64 {
        return;
    }
    match v {
        V::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, out, depth + 1);
            }
        }
        V::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}.array_{i}"), x, out, depth + 1);
            }
        }
        V::String(s) => out.push((prefix.into(), s.clone().into_bytes())),
        V::Null => out.push((prefix.into(), Vec::new())),
        other => out.push((prefix.into(), other.to_string().into_bytes())),
    }
}

/// The XML document's text (every text node in order: `XML:/*`) and its attribute values
/// (`XML://@*`). `Err` with the parser's message.
pub(crate) fn xml(body: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    let mut attrs = Vec::new();
    for n in doc.root().descendants() {
        if n.is_text()
            && let Some(t) = n.text()
        {
            all.extend_from_slice(t.as_bytes());
        }
        for a in n.attributes() {
            attrs.push(a.value().as_bytes().to_vec());
        }
    }
    Ok((all, attrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processors_read_what_modsecurity_reads() {
        assert_eq!(
            urlencoded(b"a=1+2&b&&c=%41"),
            vec![
                (b"a".to_vec(), b"1 2".to_vec()),
                (b"b".to_vec(), vec![]),
                (b"c".to_vec(), b"A".to_vec())
            ]
        );
        let body = b"--X\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--X\r\nContent-Disposition: form-data; name=\"u\"; filename=\"a.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n--X--\r\n";
        let m = multipart(body, "X");
        assert_eq!(m.args, vec![(b"f".to_vec(), b"v".to_vec())]);
        assert_eq!(m.files, vec![(b"u".to_vec(), b"a.php".to_vec(), 5)]);
        assert_eq!(m.part_headers.len(), 3);
        assert!(m.error.is_none());
        assert_eq!(
            json(br#"{"a":{"b":[1,"x"]},"n":null}"#).unwrap(),
            vec![
                (b"json.a.b.array_0".to_vec(), b"1".to_vec()),
                (b"json.a.b.array_1".to_vec(), b"x".to_vec()),
                (b"json.n".to_vec(), vec![])
            ]
        );
        let (t, a) = xml(br#"<a x="1"><b>hi</b> there</a>"#).unwrap();
        assert_eq!(t, b"hi there");
        assert_eq!(a, vec![b"1".to_vec()]);
        assert!(xml(b"<a>").is_err());
    }
}

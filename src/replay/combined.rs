//! nginx/Apache access-log lines (combined, or common without referer and user agent) and
//! Trace API JSONL → requests. An access log carries no host: it comes from `--host`, unless
//! the request target is an absolute URL (a proxy's log).

use super::Record;
use crate::rules::{Context, Value};
use crate::trace::TraceRequest;

/// Whether a line looks like an access-log line: `HOST - USER [TIME] "REQUEST" …`.
pub(crate) fn looks_like(line: &str) -> bool {
    let Some((_, rest)) = line.split_once(" [") else {
        return false;
    };
    rest.contains("] \"")
}

/// Splits the next quoted string (`"…"`, backslash escapes kept verbatim except `\"`).
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, o)) => {
                    out.push('\\');
                    out.push(o);
                }
                None => return None,
            },
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// Parses one access-log line; `host` stands in for the host the log does not carry.
pub(crate) fn parse(line: &str, host: Option<&str>) -> Result<Record, String> {
    let (client, rest) = line
        .split_once(' ')
        .ok_or("not an access-log line: no client address")?;
    let rest = rest
        .split_once(" [")
        .map(|(_, r)| r)
        .ok_or("not an access-log line: no [time]")?;
    let (time, rest) = rest
        .split_once("] ")
        .ok_or("not an access-log line: [time] is not closed")?;
    let (request, rest) = quoted(rest).ok_or("not an access-log line: no quoted request")?;
    let mut parts = rest.split_whitespace();
    let status = parts.next().and_then(|s| s.parse::<i64>().ok());
    let _size = parts.next();
    let after_size = rest.trim_start().splitn(3, ' ').nth(2).unwrap_or("");
    let (referer, rest) = quoted(after_size).unwrap_or_default();
    let (agent, _) = quoted(rest).unwrap_or_default();
    let mut it = request.split(' ');
    let (method, target) = match (it.next(), it.next()) {
        (Some(m), Some(t)) if !m.is_empty() && !t.is_empty() => (m, t),
        _ => {
            // The request line is not echoed: it may hold what `redact:` hides.
            return Err("the request is not METHOD TARGET PROTOCOL".into());
        }
    };
    let protocol = it.next().map(str::to_string);
    let url = if target.starts_with("http://") || target.starts_with("https://") {
        target.to_string()
    } else if target.starts_with('/') {
        let host = host.ok_or(
            "an access log carries no host: give it with --host (e.g. --host www.example.com)",
        )?;
        format!("https://{host}{target}")
    } else {
        return Err("the request target is neither a path nor a URL".into());
    };
    crate::rules::request::split_url(&url).map_err(|e| e.to_string())?;
    let mut req = TraceRequest {
        method: method.to_ascii_uppercase(),
        url,
        protocol,
        ..TraceRequest::default()
    };
    for (name, v) in [("referer", referer), ("user-agent", agent)] {
        if !v.is_empty() && v != "-" {
            req.headers.insert(name.into(), v);
        }
    }
    let mut fields = Vec::new();
    if let Ok(ip) = client.parse::<std::net::IpAddr>() {
        let id = Context::field("ip.src").map_err(|e| e.to_string())?;
        fields.push((id, Value::Ip(ip)));
    }
    if let Some(secs) = clf_time(time) {
        let id = Context::field("http.request.timestamp.sec").map_err(|e| e.to_string())?;
        fields.push((id, Value::Int(secs)));
    }
    let _ = status;
    Ok(Record {
        req,
        fields,
        logged: None,
    })
}

/// Seconds since the epoch of `10/Oct/2000:13:55:36 -0700`.
fn clf_time(t: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (dt, zone) = t.split_once(' ')?;
    let mut p = dt.split(['/', ':']);
    let d: i64 = p.next()?.parse().ok()?;
    let month = p.next()?;
    let mo = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let y: i64 = p.next()?.parse().ok()?;
    let h: i64 = p.next()?.parse().ok()?;
    let mi: i64 = p.next()?.parse().ok()?;
    let s: i64 = p.next()?.parse().ok()?;
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z = zone.trim_start_matches(['+', '-']);
    let off =
        sign * (z.get(..2)?.parse::<i64>().ok()? * 3600 + z.get(2..4)?.parse::<i64>().ok()? * 60);
    let days = super::days_from_civil(y, mo, d);
    Some(days * 86_400 + h * 3600 + mi * 60 + s - off)
}

/// One Trace API request body per line, exactly as suites send it.
pub(crate) fn parse_jsonl(line: &str) -> Result<Record, String> {
    let req: TraceRequest =
        serde_json::from_str(line).map_err(|e| format!("not a Trace API request: {e}"))?;
    crate::rules::request::split_url(&req.url).map_err(|e| e.to_string())?;
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
    fn combined_and_common_lines() {
        let r = parse(
            r#"203.0.113.9 - - [01/Dec/2026:10:00:01 +0100] "GET /wp-login.php?x=\"1\" HTTP/1.1" 404 153 "https://ref.example/" "Mozilla/5.0 (X11)""#,
            Some("shop.example"),
        )
        .unwrap();
        assert_eq!(r.req.url, "https://shop.example/wp-login.php?x=\"1\"");
        assert_eq!(r.req.headers["user-agent"], "Mozilla/5.0 (X11)");
        assert_eq!(r.req.headers["referer"], "https://ref.example/");
        assert_eq!(r.fields.len(), 2);
        assert_eq!(r.fields[1].1, Value::Int(1_796_115_601));
        let common = parse(
            r#"::1 - frank [10/Oct/2000:13:55:36 -0700] "POST http://a.example/x HTTP/1.0" 200 2326"#,
            None,
        )
        .unwrap();
        assert_eq!(common.req.url, "http://a.example/x");
        assert!(common.req.headers.is_empty());
        let e = parse(
            r#"1.2.3.4 - - [01/Dec/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1"#,
            None,
        )
        .unwrap_err();
        assert!(e.contains("--host"), "{e}");
        for bad in [
            "hello",
            r#"1.2.3.4 - - [x] "GET""#,
            r#"1 - - [x] "-" 400 0"#,
        ] {
            assert!(parse(bad, Some("h")).is_err(), "{bad}");
        }
    }
}

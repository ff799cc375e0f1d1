//! Builds a [`Context`] from a Trace API request: URL → host, path (normalized and raw),
//! query, args, full URI, extension; headers → maps with lower-cased names and name/value
//! arrays; cookies; body → raw, size, MIME, form and multipart; method, protocol, TLS and
//! port; `context` → bot score, threat score and geolocation.
//!
//! Fields the request does not determine get the documented defaults in [`DEFAULTS`] (or
//! their type's zero value); response fields stay missing. A caller may override any field.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;

use super::context::{ArgsPart, Context, Derive};
use super::error::RequestError;
use super::functions::url_decode;
use super::scheme::FieldId;
use super::types::Value;
use crate::trace::TraceRequest;

/// Defaults for fields a Trace request cannot set. UNCERTAIN: the live API's values are
/// undocumented; these are chosen so an unremarkable request looks like one.
pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "ip.src",
        "198.51.100.1 (TEST-NET-2; set it with the case's `fields`)",
    ),
    (
        "cf.bot_management.score",
        "99 (likely human) unless context.bot_score is given",
    ),
    ("cf.threat_score", "0, as on real traffic today"),
    ("http.request.version", "HTTP/1.1 unless protocol is given"),
    ("http.request.timestamp.sec", "the current time"),
];

/// Declares the field handles the builder sets, resolved once.
macro_rules! handles {
    ($name:ident { $($f:ident = $field:literal),* $(,)? }) => {
        struct $name {
            $($f: FieldId,)*
        }
        impl $name {
            fn resolve(prefix: &str) -> $name {
                $name { $($f: id(&format!("{prefix}{}", $field)),)* }
            }
        }
    };
}

/// A field of the scheme the builder names: a miss is a bug, found by every test that
/// builds a request.
fn id(name: &str) -> FieldId {
    Context::field(name)
        .unwrap_or_else(|_| panic!("request builder bug: `{name}` is no field of the scheme"))
}

handles!(Handles {
    cf_bot_management_score = "cf.bot_management.score",
    cf_edge_server_port = "cf.edge.server_port",
    cf_threat_score = "cf.threat_score",
    http_cookie = "http.cookie",
    http_host = "http.host",
    http_referer = "http.referer",
    http_request_accepted_languages = "http.request.accepted_languages",
    http_request_body_form = "http.request.body.form",
    http_request_body_form_names = "http.request.body.form.names",
    http_request_body_form_values = "http.request.body.form.values",
    http_request_body_mime = "http.request.body.mime",
    http_request_body_multipart = "http.request.body.multipart",
    http_request_body_multipart_content_dispositions = "http.request.body.multipart.content_dispositions",
    http_request_body_multipart_content_transfer_encodings = "http.request.body.multipart.content_transfer_encodings",
    http_request_body_multipart_content_types = "http.request.body.multipart.content_types",
    http_request_body_multipart_filenames = "http.request.body.multipart.filenames",
    http_request_body_multipart_names = "http.request.body.multipart.names",
    http_request_body_multipart_values = "http.request.body.multipart.values",
    http_request_body_raw = "http.request.body.raw",
    http_request_body_size = "http.request.body.size",
    http_request_cookies = "http.request.cookies",
    http_request_headers = "http.request.headers",
    http_request_headers_names = "http.request.headers.names",
    http_request_headers_values = "http.request.headers.values",
    http_request_method = "http.request.method",
    http_request_timestamp_msec = "http.request.timestamp.msec",
    http_request_timestamp_sec = "http.request.timestamp.sec",
    http_request_version = "http.request.version",
    http_user_agent = "http.user_agent",
    http_x_forwarded_for = "http.x_forwarded_for",
    ip_geoip_continent = "ip.geoip.continent",
    ip_geoip_country = "ip.geoip.country",
    ip_geoip_is_in_european_union = "ip.geoip.is_in_european_union",
    ip_geoip_subdivision_2_iso_code = "ip.geoip.subdivision_2_iso_code",
    ip_src = "ip.src",
    ip_src_city = "ip.src.city",
    ip_src_continent = "ip.src.continent",
    ip_src_country = "ip.src.country",
    ip_src_is_in_european_union = "ip.src.is_in_european_union",
    ip_src_lat = "ip.src.lat",
    ip_src_lon = "ip.src.lon",
    ip_src_postal_code = "ip.src.postal_code",
    ip_src_region_code = "ip.src.region_code",
    ip_src_subdivision_2_iso_code = "ip.src.subdivision_2_iso_code",
    ip_src_timezone_name = "ip.src.timezone.name",
    ssl = "ssl",
});

handles!(UriHandles {
    full_uri = "http.request.full_uri",
    uri = "http.request.uri",
    uri_path = "http.request.uri.path",
    uri_path_extension = "http.request.uri.path.extension",
    uri_query = "http.request.uri.query",
    uri_args = "http.request.uri.args",
    uri_args_names = "http.request.uri.args.names",
    uri_args_values = "http.request.uri.args.values",
});

static H: std::sync::LazyLock<Handles> = std::sync::LazyLock::new(|| Handles::resolve(""));

/// The URI fields, and their `raw.` twins.
static URI: std::sync::LazyLock<[UriHandles; 2]> =
    std::sync::LazyLock::new(|| [UriHandles::resolve(""), UriHandles::resolve("raw.")]);

pub const DEFAULT_CLIENT_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1));

/// A request's URL, split without normalizing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    pub path: String,
    pub query: Option<String>,
}

/// The request's headers as they would be sent: Host from the URL when not given, the
/// case's `cookies` folded into Cookie.
pub fn header_pairs(req: &TraceRequest, u: &UrlParts) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        let port = u.port.map(|p| format!(":{p}")).unwrap_or_default();
        pairs.insert(0, ("Host".into(), format!("{}{port}", u.host)));
    }
    if !req.cookies.is_empty() {
        let jar: Vec<String> = req
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        match pairs
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        {
            Some((_, v)) => *v = format!("{v}; {}", jar.join("; ")),
            None => pairs.push(("Cookie".into(), jar.join("; "))),
        }
    }
    pairs
}

/// Splits an absolute http(s) URL, keeping the path and query bytes as written.
pub fn split_url(url: &str) -> Result<UrlParts, RequestError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| RequestError::NotAbsolute(url.to_string()))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(RequestError::NotHttp(url.to_string()));
    }
    let rest = rest.split('#').next().unwrap_or("");
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(stripped) = host_port.strip_prefix('[') {
        let end = stripped
            .find(']')
            .ok_or_else(|| RequestError::BadIpv6Host(url.to_string()))?;
        let port = stripped[end + 1..]
            .strip_prefix(':')
            .map(str::parse::<u16>)
            .transpose()
            .map_err(|_| RequestError::BadPort(url.to_string()))?;
        (format!("[{}]", &stripped[..end]), port)
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                Some(
                    p.parse::<u16>()
                        .map_err(|_| RequestError::BadPort(url.to_string()))?,
                ),
            ),
            None => (host_port.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(RequestError::NoHost(url.to_string()));
    }
    let pq = &rest[auth_end..];
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (pq.to_string(), None),
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    Ok(UrlParts {
        scheme,
        host,
        port,
        path,
        query,
    })
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 path normalization as Cloudflare's default URL normalization does it: decode
/// percent-encoded unreserved characters, upper-case the hex of the rest, percent-encode
/// bytes that may not appear in a path, remove dot segments.
pub fn normalize_path(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let v = u8::from_str_radix(&path[i + 1..i + 3], 16).expect("hex");
            if unreserved(v) {
                out.push(v as char);
            } else {
                out.push('%');
                out.push_str(&path[i + 1..i + 3].to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        if unreserved(c) || b"!$&'()*+,;=:@/".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
        i += 1;
    }
    remove_dot_segments(&out)
}

/// RFC 3986 §5.2.4.
pub fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut out: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let trailing = path.ends_with("/.") || path.ends_with("/..") || path.ends_with('/');
    for seg in input.split('/') {
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    input = "";
    let _ = input;
    let mut joined: String = out
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    // Keep empty segments (`//`) as RFC mode does: rebuild them from the filtered list only
    // when the original had none; otherwise join the raw list.
    if path.contains("//") {
        joined = out.join("/");
        joined = joined.trim_start_matches('/').to_string();
    }
    let mut result = String::new();
    if absolute {
        result.push('/');
    }
    result.push_str(&joined);
    if trailing && !result.ends_with('/') {
        result.push('/');
    }
    if result.is_empty() {
        result.push('/');
    }
    result
}

/// Lower-cased text after the last `.` of the last segment; `""` for none or a dotfile.
pub fn extension(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rfind('.') {
        Some(0) | None => String::new(),
        Some(i) => last[i + 1..].to_ascii_lowercase(),
    }
}

/// `a=1&b&a=2` → names, values and a map of name → values, undecoded.
/// Names, values, and the name → values map.
type Args = (Vec<Vec<u8>>, Vec<Vec<u8>>, BTreeMap<Vec<u8>, Value>);

fn args(query: &str) -> Args {
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut map: BTreeMap<Vec<u8>, Vec<Value>> = BTreeMap::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (n, v) = part.split_once('=').unwrap_or((part, ""));
        names.push(n.as_bytes().to_vec());
        values.push(v.as_bytes().to_vec());
        map.entry(n.as_bytes().to_vec())
            .or_default()
            .push(Value::bytes(v));
    }
    (
        names,
        values,
        map.into_iter().map(|(k, v)| (k, Value::Array(v))).collect(),
    )
}

fn put_uri(ctx: &mut Context, raw: bool, u: &UrlParts, path: &str) {
    let u_ids = &URI[usize::from(raw)];
    let query = u.query.as_deref().unwrap_or_default();
    // Built by pushing: this runs twice per request, and `format!` costs more than the copies.
    let mut uri = String::with_capacity(path.len() + query.len() + 1);
    uri.push_str(path);
    if let Some(q) = &u.query {
        uri.push('?');
        uri.push_str(q);
    }
    let mut full = String::with_capacity(u.scheme.len() + u.host.len() + uri.len() + 9);
    full.push_str(&u.scheme);
    full.push_str("://");
    full.push_str(&u.host);
    if let Some(p) = u.port {
        full.push(':');
        full.push_str(&p.to_string());
    }
    full.push_str(&uri);
    ctx.put(u_ids.full_uri, Value::Bytes(full.into_bytes()));
    ctx.put(u_ids.uri, Value::Bytes(uri.into_bytes()));
    ctx.put(u_ids.uri_path, Value::bytes(path));
    ctx.put(u_ids.uri_path_extension, Value::bytes(extension(path)));
    ctx.put(u_ids.uri_query, Value::bytes(query));
    for (id, part) in [
        (u_ids.uri_args, ArgsPart::Map),
        (u_ids.uri_args_names, ArgsPart::Names),
        (u_ids.uri_args_values, ArgsPart::Values),
    ] {
        ctx.derive(id, Derive::Args { raw, part });
    }
}

/// The value of a derived field (see [`Derive`]), from the fields it derives from.
pub(crate) fn derive(ctx: &Context, d: Derive) -> Value {
    let text = |id: FieldId| match ctx.get(id) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b),
        _ => std::borrow::Cow::Borrowed(""),
    };
    let array = |id: FieldId| match ctx.get(id) {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    let (names, values) = (
        array(H.http_request_headers_names),
        array(H.http_request_headers_values),
    );
    match d {
        Derive::HeaderMap => {
            let mut map: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
            for (n, v) in names.iter().zip(values) {
                let key = n.as_bytes().unwrap_or_default().to_ascii_lowercase();
                if let Value::Array(a) = map.entry(key).or_insert_with(|| Value::Array(Vec::new()))
                {
                    a.push(v.clone());
                }
            }
            Value::Map(map)
        }
        Derive::Cookies => cookies(&text(H.http_cookie)),
        Derive::Languages => {
            let header = names
                .iter()
                .position(|n| {
                    n.as_bytes()
                        .is_some_and(|b| b.eq_ignore_ascii_case(b"accept-language"))
                })
                .and_then(|i| values.get(i)?.as_bytes())
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            languages(&header)
        }
        Derive::Args { raw, part } => {
            let (names, values, map) = args(&text(URI[usize::from(raw)].uri_query));
            match part {
                ArgsPart::Map => Value::Map(map),
                ArgsPart::Names => Value::strings(names),
                ArgsPart::Values => Value::strings(values),
            }
        }
    }
}

/// Sets the (non-raw) URI fields after a rewrite; `raw.*` keep the original.
pub fn set_uri(ctx: &mut Context, u: &UrlParts) {
    let path = normalize_path(&u.path);
    put_uri(ctx, false, u, &path);
}

/// Sets the request header fields from (name, value) pairs.
pub fn set_request_headers(ctx: &mut Context, pairs: &[(String, String)]) {
    ctx.derive(H.http_request_headers, Derive::HeaderMap);
    ctx.put(
        H.http_request_headers_names,
        Value::strings(pairs.iter().map(|(n, _)| n.as_str())),
    );
    ctx.put(
        H.http_request_headers_values,
        Value::strings(pairs.iter().map(|(_, v)| v.as_str())),
    );
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    ctx.put(H.http_user_agent, Value::bytes(get("user-agent")));
    ctx.put(H.http_referer, Value::bytes(get("referer")));
    ctx.put(H.http_x_forwarded_for, Value::bytes(get("x-forwarded-for")));
    ctx.put(H.http_cookie, Value::bytes(get("cookie")));
    ctx.derive(H.http_request_cookies, Derive::Cookies);
    ctx.derive(H.http_request_accepted_languages, Derive::Languages);
}

/// `http.request.cookies` from a Cookie header.
fn cookies(header: &str) -> Value {
    let mut cookies: BTreeMap<Vec<u8>, Vec<Value>> = BTreeMap::new();
    for part in header.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (n, v) = part.split_once('=').unwrap_or((part, ""));
        cookies
            .entry(url_decode(n.as_bytes(), false, false))
            .or_default()
            .push(Value::bytes(v));
    }
    Value::Map(
        cookies
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect(),
    )
}

/// `http.request.accepted_languages` from an Accept-Language header: by quality, then order.
fn languages(header: &str) -> Value {
    let mut langs: Vec<(f64, usize, String)> = Vec::new();
    for (i, item) in header.split(',').enumerate() {
        let mut it = item.split(';');
        let tag = it.next().unwrap_or("").trim().to_string();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
            })
            .unwrap_or(1.0);
        if !tag.is_empty() && tag != "*" {
            langs.push((q, i, tag));
        }
    }
    langs.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.cmp(&b.1))
    });
    Value::strings(langs.into_iter().map(|l| l.2))
}

/// Builds the context of `req`. `fields` (name → JSON value) override anything computed.
pub fn context(
    req: &TraceRequest,
    fields: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Context, RequestError> {
    context_with(req, fields, Defaults::Trace)
}

/// What a field the request does not determine holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    /// As the Trace API fills them: every request field at its type's zero value, and
    /// [`DEFAULTS`] for the client address, bot score and time.
    Trace,
    /// Missing, as in a replayed log line that did not carry it: a rule reading it does not
    /// match on a made-up value.
    Missing,
}

/// [`context`], with the fields the request does not determine as `defaults` says.
pub fn context_with(
    req: &TraceRequest,
    fields: Option<&serde_json::Map<String, serde_json::Value>>,
    defaults: Defaults,
) -> Result<Context, RequestError> {
    let trace = defaults == Defaults::Trace;
    let mut ctx = if trace {
        Context::request_defaults()
    } else {
        Context::new()
    };
    let u = split_url(&req.url)?;
    put_uri(&mut ctx, true, &u, &u.path);
    put_uri(&mut ctx, false, &u, &normalize_path(&u.path));
    ctx.put(H.ssl, Value::Bool(u.scheme == "https"));
    ctx.put(
        H.cf_edge_server_port,
        Value::Int(
            u.port
                .map_or(if u.scheme == "https" { 443 } else { 80 }, i64::from),
        ),
    );
    ctx.put(
        H.http_request_method,
        Value::bytes(req.method.to_ascii_uppercase()),
    );
    ctx.put(
        H.http_request_version,
        Value::bytes(req.protocol.clone().unwrap_or_else(|| "HTTP/1.1".into())),
    );
    if trace {
        ctx.put(H.ip_src, Value::Ip(DEFAULT_CLIENT_IP));
        ctx.put(H.cf_bot_management_score, Value::Int(99));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ctx.put(
            H.http_request_timestamp_sec,
            Value::Int(now.as_secs() as i64),
        );
        ctx.put(
            H.http_request_timestamp_msec,
            Value::Int(i64::from(now.subsec_millis())),
        );
    }

    // Headers, with Host from the URL and the suite's cookies folded into Cookie.
    let pairs = header_pairs(req, &u);
    let host_header = pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    ctx.put(
        H.http_host,
        Value::bytes(
            host_header
                .rsplit_once(':')
                .filter(|(h, p)| !h.ends_with(']') && p.parse::<u16>().is_ok() || h.ends_with(']'))
                .map_or(host_header.as_str(), |(h, _)| h),
        ),
    );
    set_request_headers(&mut ctx, &pairs);
    let content_type = pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    body(&mut ctx, req, content_type.as_deref())?;

    if let Some(c) = &req.context {
        if let Some(s) = c.bot_score {
            ctx.put(H.cf_bot_management_score, Value::Int(s));
        }
        if let Some(s) = c.threat_score {
            ctx.put(H.cf_threat_score, Value::Int(s));
        }
        if let Some(g) = &c.geoloc {
            let mut s = |names: &[FieldId], v: &Option<String>| {
                if let Some(v) = v {
                    for n in names {
                        ctx.put(*n, Value::bytes(v.as_str()));
                    }
                }
            };
            s(&[H.ip_src_country, H.ip_geoip_country], &g.iso_code);
            s(&[H.ip_src_continent, H.ip_geoip_continent], &g.continent);
            s(&[H.ip_src_city], &g.city);
            s(&[H.ip_src_postal_code], &g.postal_code);
            s(&[H.ip_src_region_code], &g.region_code);
            s(
                &[
                    H.ip_src_subdivision_2_iso_code,
                    H.ip_geoip_subdivision_2_iso_code,
                ],
                &g.subdivision_2_iso_code,
            );
            s(&[H.ip_src_timezone_name], &g.timezone);
            s(&[H.ip_src_lat], &g.latitude.map(|v| v.to_string()));
            s(&[H.ip_src_lon], &g.longitude.map(|v| v.to_string()));
            if let Some(eu) = g.is_eu_country {
                ctx.put(H.ip_src_is_in_european_union, Value::Bool(eu));
                ctx.put(H.ip_geoip_is_in_european_union, Value::Bool(eu));
            }
        }
    }
    if let Some(f) = fields {
        ctx.set_json(f)?;
    }
    Ok(ctx)
}

fn body(
    ctx: &mut Context,
    req: &TraceRequest,
    content_type: Option<&str>,
) -> Result<(), RequestError> {
    let Some(b) = &req.body else { return Ok(()) };
    let (raw, json) = if let Some(t) = &b.plain_text {
        (t.as_bytes().to_vec(), false)
    } else if let Some(j) = &b.json {
        (
            serde_json::to_vec(j).map_err(|e| RequestError::Json(e.to_string()))?,
            true,
        )
    } else if let Some(s) = &b.base64 {
        (
            base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|e| RequestError::Base64(e.to_string()))?,
            false,
        )
    } else {
        return Ok(());
    };
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let media = ct.split(';').next().unwrap_or("").trim().to_string();
    let mime = if json {
        "application/json".to_string()
    } else if !media.is_empty() {
        media.clone()
    } else if raw.first().is_some_and(|c| *c == b'{' || *c == b'[') {
        "application/json".to_string()
    } else if std::str::from_utf8(&raw).is_ok() {
        "text/plain".to_string()
    } else {
        "application/octet-stream".to_string()
    };
    ctx.put(H.http_request_body_size, Value::Int(raw.len() as i64));
    ctx.put(H.http_request_body_mime, Value::bytes(mime));
    if media == "application/x-www-form-urlencoded" {
        let (names, values, map) = args(&String::from_utf8_lossy(&raw));
        ctx.put(H.http_request_body_form, Value::Map(map));
        ctx.put(H.http_request_body_form_names, Value::strings(names));
        ctx.put(H.http_request_body_form_values, Value::strings(values));
    }
    if media == "multipart/form-data"
        && let Some(boundary) = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string())
    {
        // The boundary is matched case-sensitively against the original header text.
        let original = content_type.unwrap_or("");
        let start = original
            .to_ascii_lowercase()
            .find("boundary=")
            .map_or(0, |i| i + 9);
        let exact = original[start..]
            .split(';')
            .next()
            .unwrap_or(&boundary)
            .trim()
            .trim_matches('"');
        multipart(ctx, &raw, exact);
    }
    ctx.put(H.http_request_body_raw, Value::Bytes(raw));
    Ok(())
}

/// The parts of a multipart body (each from the line after its delimiter to the line break
/// before the next, headers and content), and whether the closing delimiter was found.
pub(crate) fn multipart_parts<'a>(raw: &'a [u8], boundary: &str) -> (Vec<&'a [u8]>, bool) {
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = raw;
    while let Some(i) = memchr::memmem::find(rest, delim.as_bytes()) {
        let after = &rest[i + delim.len()..];
        if after.starts_with(b"--") {
            return (parts, true);
        }
        let body_start = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .unwrap_or(after);
        let end = memchr::memmem::find(body_start, delim.as_bytes()).unwrap_or(body_start.len());
        let part = &body_start[..end];
        parts.push(
            part.strip_suffix(b"\r\n")
                .or_else(|| part.strip_suffix(b"\n"))
                .unwrap_or(part),
        );
        rest = &body_start[end..];
    }
    (parts, false)
}

fn multipart(ctx: &mut Context, raw: &[u8], boundary: &str) {
    let mut map: BTreeMap<Vec<u8>, Vec<Value>> = BTreeMap::new();
    let (mut names, mut values, mut types, mut dispositions, mut encodings, mut filenames) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (parts, _) = multipart_parts(raw, boundary);
    for part in parts {
        let split = memchr::memmem::find(part, b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| memchr::memmem::find(part, b"\n\n").map(|i| (i, 2)));
        let Some((h_end, sep)) = split else { continue };
        let head = String::from_utf8_lossy(&part[..h_end]);
        // The line break before the next delimiter is already off the part.
        let content = &part[h_end + sep..];
        let mut part_names = Vec::new();
        let mut part_files = Vec::new();
        let (mut ct, mut cd, mut te) = (Vec::new(), Vec::new(), Vec::new());
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in v.split(';').skip(1) {
                        if let Some((pk, pv)) = param.trim().split_once('=') {
                            let pv = pv.trim_matches('"').to_string();
                            match pk.trim() {
                                "name" => part_names.push(pv),
                                "filename" => part_files.push(pv),
                                _ => {}
                            }
                        }
                    }
                    cd.push(v);
                }
                "content-type" => ct.push(v),
                "content-transfer-encoding" => te.push(v),
                _ => {}
            }
        }
        if let Some(n) = part_names.first() {
            map.entry(n.as_bytes().to_vec())
                .or_default()
                .push(Value::Bytes(content.to_vec()));
        }
        values.push(content.to_vec());
        names.push(Value::strings(part_names));
        filenames.push(Value::strings(part_files));
        types.push(Value::strings(ct));
        dispositions.push(Value::strings(cd));
        encodings.push(Value::strings(te));
    }
    ctx.put(
        H.http_request_body_multipart,
        Value::Map(map.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()),
    );
    ctx.put(H.http_request_body_multipart_names, Value::Array(names));
    ctx.put(H.http_request_body_multipart_values, Value::strings(values));
    ctx.put(
        H.http_request_body_multipart_content_types,
        Value::Array(types),
    );
    ctx.put(
        H.http_request_body_multipart_content_dispositions,
        Value::Array(dispositions),
    );
    ctx.put(
        H.http_request_body_multipart_content_transfer_encodings,
        Value::Array(encodings),
    );
    ctx.put(
        H.http_request_body_multipart_filenames,
        Value::Array(filenames),
    );
}

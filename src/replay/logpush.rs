//! Cloudflare Logpush `http_requests` records (NDJSON) → a request to replay, following the
//! Logpush field reference (cloudflare-docs `logs/reference/log-fields/zone/http_requests`):
//! every logged field with a Rules-language counterpart is carried over; the rest of the
//! fields stay missing. The logged outcome (`SecurityAction`, `SecurityRuleID`, …) is kept for
//! `--baseline logged`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::{Logged, Record};
use crate::rules::{Context, FieldId, Value};
use crate::trace::{Geoloc, TraceContext, TraceRequest};

/// Keys that mark a JSON line as a Logpush `http_requests` record.
pub(crate) fn is_logpush_key(k: &str) -> bool {
    k.starts_with("ClientRequest")
        || matches!(
            k,
            "ClientIP" | "RayID" | "EdgeStartTimestamp" | "EdgeResponseStatus" | "SecurityAction"
        )
}

/// The fields of a record replay reads. Unknown keys are ignored (a Logpush job may carry any
/// of ~100 fields); a known key of the wrong type makes the line bad.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Line<'a> {
    #[serde(borrow)]
    client_request_method: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_host: Option<Text<'a>>,
    #[serde(borrow, rename = "ClientRequestURI")]
    client_request_uri: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_path: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_query: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_scheme: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_protocol: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_user_agent: Option<Text<'a>>,
    #[serde(borrow)]
    client_request_referer: Option<Text<'a>>,
    #[serde(borrow)]
    client_x_requested_with: Option<Text<'a>>,
    #[serde(rename = "ClientIP", borrow)]
    client_ip: Option<Text<'a>>,
    #[serde(borrow)]
    client_country: Option<Text<'a>>,
    #[serde(borrow)]
    client_city: Option<Text<'a>>,
    #[serde(borrow)]
    client_region_code: Option<Text<'a>>,
    #[serde(borrow)]
    client_latitude: Option<Text<'a>>,
    #[serde(borrow)]
    client_longitude: Option<Text<'a>>,
    #[serde(rename = "ClientASN")]
    client_asn: Option<i64>,
    #[serde(rename = "ClientSSLProtocol", borrow)]
    client_ssl_protocol: Option<Text<'a>>,
    #[serde(rename = "ClientSSLCipher", borrow)]
    client_ssl_cipher: Option<Text<'a>>,
    #[serde(rename = "ClientTCPRTTMs")]
    client_tcp_rtt_ms: Option<i64>,
    bot_score: Option<i64>,
    #[serde(rename = "BotDetectionIDs")]
    bot_detection_ids: Option<Vec<i64>>,
    #[serde(borrow)]
    verified_bot_category: Option<Text<'a>>,
    #[serde(rename = "JA3Hash", borrow)]
    ja3_hash: Option<Text<'a>>,
    #[serde(rename = "JA4", borrow)]
    ja4: Option<Text<'a>>,
    #[serde(rename = "WAFAttackScore")]
    waf_attack_score: Option<i64>,
    #[serde(rename = "WAFSQLiAttackScore")]
    waf_sqli_attack_score: Option<i64>,
    #[serde(rename = "WAFXSSAttackScore")]
    waf_xss_attack_score: Option<i64>,
    #[serde(rename = "WAFRCEAttackScore")]
    waf_rce_attack_score: Option<i64>,
    #[serde(borrow)]
    leaked_credential_check_result: Option<Text<'a>>,
    #[serde(rename = "RayID", borrow)]
    ray_id: Option<Text<'a>>,
    #[serde(borrow)]
    zone_name: Option<Text<'a>>,
    edge_start_timestamp: Option<Timestamp>,
    #[serde(borrow)]
    request_headers: Option<BTreeMap<Text<'a>, Text<'a>>>,
    #[serde(borrow)]
    cookies: Option<BTreeMap<Text<'a>, Text<'a>>>,
    // The logged outcome.
    #[serde(borrow)]
    security_action: Option<Text<'a>>,
    #[serde(rename = "SecurityRuleID", borrow)]
    security_rule_id: Option<Text<'a>>,
    #[serde(borrow)]
    security_rule_description: Option<Text<'a>>,
    #[serde(rename = "SecurityRuleIDs")]
    security_rule_ids: Option<Vec<String>>,
    edge_response_status: Option<i64>,
}

/// A JSON string, borrowed from the line when it holds no escape (serde's `Cow` does not
/// borrow inside an `Option`, and an allocation per field per line is most of the parse).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(std::borrow::Cow<'a, str>);

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `EdgeStartTimestamp`: nanoseconds, seconds, milliseconds (by magnitude) or RFC 3339 text,
/// as the job's `timestamp_format` chose.
#[derive(Debug)]
enum Timestamp {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or an RFC 3339 timestamp")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp::Int)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Ok(Timestamp::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Timestamp {
    /// Milliseconds since the epoch.
    fn millis(&self) -> Option<i64> {
        match self {
            Timestamp::Int(n) if *n > 100_000_000_000_000 => Some(n / 1_000_000),
            Timestamp::Int(n) if *n > 100_000_000_000 => Some(*n),
            Timestamp::Int(n) => Some(n * 1000),
            Timestamp::Text(t) => httpdate_rfc3339(t),
        }
    }
}

/// Milliseconds of an RFC 3339 UTC timestamp (`2026-12-01T10:00:00Z`, fractions allowed).
fn httpdate_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = t.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(f) => {
            let end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
            (&f[..end], &f[end..])
        }
        None => ("", rest),
    };
    if zone != "Z" {
        return None;
    }
    let ms = frac
        .get(..3.min(frac.len()))
        .map_or(0, |f| format!("{f:0<3}").parse::<i64>().unwrap_or(0));
    let days = super::days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// Field handles resolved once.
struct Handles {
    ip: FieldId,
    asnum: [FieldId; 2],
    lat: FieldId,
    lon: FieldId,
    tls_version: FieldId,
    tls_cipher: FieldId,
    rtt: FieldId,
    detection_ids: FieldId,
    verified_bot_category: FieldId,
    ja3: FieldId,
    ja4: FieldId,
    waf: [FieldId; 4],
    leaked: [FieldId; 4],
    ray_id: FieldId,
    zone_name: FieldId,
    ts_sec: FieldId,
    ts_msec: FieldId,
}

static HANDLES: LazyLock<Handles> = LazyLock::new(|| {
    let f = |n: &str| Context::field(n).unwrap_or_else(|e| panic!("replay field table: {e}"));
    Handles {
        ip: f("ip.src"),
        asnum: [f("ip.src.asnum"), f("ip.geoip.asnum")],
        lat: f("ip.src.lat"),
        lon: f("ip.src.lon"),
        tls_version: f("cf.tls_version"),
        tls_cipher: f("cf.tls_cipher"),
        rtt: f("cf.timings.client_tcp_rtt_msec"),
        detection_ids: f("cf.bot_management.detection_ids"),
        verified_bot_category: f("cf.verified_bot_category"),
        ja3: f("cf.bot_management.ja3_hash"),
        ja4: f("cf.bot_management.ja4"),
        waf: [
            f("cf.waf.score"),
            f("cf.waf.score.sqli"),
            f("cf.waf.score.xss"),
            f("cf.waf.score.rce"),
        ],
        leaked: [
            f("cf.waf.credential_check.password_leaked"),
            f("cf.waf.credential_check.username_leaked"),
            f("cf.waf.credential_check.username_and_password_leaked"),
            f("cf.waf.credential_check.username_password_similar"),
        ],
        ray_id: f("cf.ray_id"),
        zone_name: f("cf.zone.name"),
        ts_sec: f("http.request.timestamp.sec"),
        ts_msec: f("http.request.timestamp.msec"),
    }
});

/// A Logpush `SecurityAction` as `expect.action` names actions; `none` for an action that
/// did not end the request. UNCERTAIN: the log's action names are documented as a list
/// (`managedChallenge`, `jschallenge`, …), their exact spelling on every product is not.
pub(crate) fn logged_action(a: &str) -> String {
    let lower = a.to_ascii_lowercase();
    match lower.as_str() {
        "" | "unknown" | "allow" | "log" | "skip" | "bypass" | "rewrite" => "none".into(),
        "block" | "connectionclose" | "forceconnectionclose" => "block".into(),
        s if s.starts_with("managedchallenge") => "managed_challenge".into(),
        s if s.starts_with("jschallenge") => "js_challenge".into(),
        s if s.starts_with("challenge") => "challenge".into(),
        s => s.to_string(),
    }
}

/// Parses one Logpush line.
pub(crate) fn parse(line: &str) -> Result<Record, String> {
    let l: Line = serde_json::from_str(line).map_err(|e| format!("not a Logpush record: {e}"))?;
    let host = l
        .client_request_host
        .as_deref()
        .filter(|h| !h.is_empty())
        .ok_or("no ClientRequestHost")?;
    let scheme = l
        .client_request_scheme
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("https")
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("ClientRequestScheme `{scheme}` is not http(s)"));
    }
    let uri = match (&l.client_request_uri, &l.client_request_path) {
        (Some(u), _) if !u.is_empty() => u.to_string(),
        (_, Some(p)) if !p.is_empty() => match l.client_request_query.as_deref() {
            Some(q) if !q.is_empty() => format!("{p}?{}", q.trim_start_matches('?')),
            _ => p.to_string(),
        },
        _ => return Err("no ClientRequestURI or ClientRequestPath".into()),
    };
    if !uri.starts_with('/') {
        // The value is not echoed: it may hold what `redact:` hides.
        return Err("ClientRequestURI does not start with /".into());
    }
    let mut req = TraceRequest {
        method: l
            .client_request_method
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or("GET")
            .to_ascii_uppercase(),
        url: {
            let mut url = String::with_capacity(scheme.len() + host.len() + uri.len() + 3);
            url.push_str(&scheme);
            url.push_str("://");
            url.push_str(host);
            url.push_str(&uri);
            url
        },
        protocol: l
            .client_request_protocol
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        ..TraceRequest::default()
    };
    if let Some(h) = &l.request_headers {
        for (k, v) in h {
            req.headers.insert(k.to_ascii_lowercase(), v.to_string());
        }
    }
    let mut header = |name: &str, v: &Option<Text>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            req.headers
                .entry(name.to_string())
                .or_insert_with(|| v.to_string());
        }
    };
    header("user-agent", &l.client_request_user_agent);
    header("referer", &l.client_request_referer);
    header("x-requested-with", &l.client_x_requested_with);
    if let Some(c) = &l.cookies {
        for (k, v) in c {
            req.cookies.insert(k.to_string(), v.to_string());
        }
    }
    let text = |v: &Option<Text>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
    let geoloc = Geoloc {
        iso_code: text(&l.client_country).map(|c| c.to_ascii_uppercase()),
        city: text(&l.client_city),
        region_code: text(&l.client_region_code),
        ..Geoloc::default()
    };
    let has_geo = geoloc != Geoloc::default();
    if l.bot_score.is_some() || has_geo {
        req.context = Some(TraceContext {
            bot_score: l.bot_score,
            geoloc: has_geo.then_some(geoloc),
            ..TraceContext::default()
        });
    }

    let h = &*HANDLES;
    let mut fields: Vec<(FieldId, Value)> = Vec::new();
    if let Some(ip) = l.client_ip.as_deref().filter(|v| !v.is_empty()) {
        let ip = ip.parse::<std::net::IpAddr>().map_err(|_| {
            format!(
                "ClientIP `{}` is not an IP address",
                crate::escape::visible(ip)
            )
        })?;
        fields.push((h.ip, Value::Ip(ip)));
    }
    if let Some(asn) = l.client_asn {
        fields.extend(h.asnum.iter().map(|id| (*id, Value::Int(asn))));
    }
    let mut bytes = |id: FieldId, v: &Option<Text>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            fields.push((id, Value::bytes(v)));
        }
    };
    bytes(h.lat, &l.client_latitude);
    bytes(h.lon, &l.client_longitude);
    bytes(h.verified_bot_category, &l.verified_bot_category);
    bytes(h.ja3, &l.ja3_hash);
    bytes(h.ja4, &l.ja4);
    bytes(h.tls_cipher, &l.client_ssl_cipher);
    bytes(h.ray_id, &l.ray_id);
    bytes(h.zone_name, &l.zone_name);
    // "none": no TLS; the field is then empty, as on a plain-HTTP request.
    match l.client_ssl_protocol.as_deref() {
        Some("none") => fields.push((h.tls_version, Value::bytes(""))),
        Some(v) if !v.is_empty() => fields.push((h.tls_version, Value::bytes(v))),
        _ => {}
    }
    if let Some(r) = l.client_tcp_rtt_ms {
        fields.push((h.rtt, Value::Int(r)));
    }
    if let Some(ids) = &l.bot_detection_ids {
        fields.push((
            h.detection_ids,
            Value::Array(ids.iter().map(|i| Value::Int(*i)).collect()),
        ));
    }
    for (id, v) in h.waf.iter().zip([
        l.waf_attack_score,
        l.waf_sqli_attack_score,
        l.waf_xss_attack_score,
        l.waf_rce_attack_score,
    ]) {
        if let Some(v) = v.filter(|v| *v > 0) {
            fields.push((*id, Value::Int(v)));
        }
    }
    if let Some(r) = l
        .leaked_credential_check_result
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        let which = [
            "password_leaked",
            "username_leaked",
            "username_and_password_leaked",
            "username_password_similar",
        ];
        for (id, name) in h.leaked.iter().zip(which) {
            fields.push((*id, Value::Bool(r == name)));
        }
    }
    if let Some(ms) = l.edge_start_timestamp.as_ref().and_then(Timestamp::millis) {
        fields.push((h.ts_sec, Value::Int(ms.div_euclid(1000))));
        fields.push((h.ts_msec, Value::Int(ms.rem_euclid(1000))));
    }

    let logged = (l.security_action.is_some()
        || l.security_rule_id.is_some()
        || l.edge_response_status.is_some())
    .then(|| Logged {
        action: logged_action(l.security_action.as_deref().unwrap_or("")),
        rule: text(&l.security_rule_id),
        description: text(&l.security_rule_description),
        status: l.edge_response_status,
        rules: l.security_rule_ids.clone().unwrap_or_default(),
    });
    Ok(Record {
        req,
        fields,
        logged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_maps_to_a_request_and_its_fields() {
        let r = parse(
            r#"{"ClientRequestMethod":"post","ClientRequestHost":"shop.example","ClientRequestURI":"/login?next=%2F","ClientRequestScheme":"https","ClientRequestProtocol":"HTTP/2","ClientRequestUserAgent":"curl/8","ClientIP":"203.0.113.7","ClientCountry":"fr","ClientASN":64500,"BotScore":12,"WAFAttackScore":17,"JA4":"t13d","RequestHeaders":{"X-Api":"1"},"Cookies":{"sid":"abc"},"EdgeStartTimestamp":"2026-12-01T10:00:01.250Z","SecurityAction":"managedChallenge","SecurityRuleID":"r1","EdgeResponseStatus":403,"Unknown":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(r.req.method, "POST");
        assert_eq!(r.req.url, "https://shop.example/login?next=%2F");
        assert_eq!(r.req.headers["x-api"], "1");
        assert_eq!(r.req.headers["user-agent"], "curl/8");
        assert_eq!(r.req.cookies["sid"], "abc");
        let ctx = r.req.context.as_ref().unwrap();
        assert_eq!(ctx.bot_score, Some(12));
        assert_eq!(ctx.geoloc.as_ref().unwrap().iso_code.as_deref(), Some("FR"));
        let names: Vec<&str> = r.fields.iter().map(|(id, _)| id.name()).collect();
        for n in [
            "ip.src",
            "ip.src.asnum",
            "cf.waf.score",
            "cf.bot_management.ja4",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let sec = r
            .fields
            .iter()
            .find(|(id, _)| id.name() == "http.request.timestamp.sec")
            .unwrap();
        assert_eq!(sec.1, Value::Int(1_796_119_201));
        let logged = r.logged.unwrap();
        assert_eq!(logged.action, "managed_challenge");
        assert_eq!(logged.rule.as_deref(), Some("r1"));
    }

    #[test]
    fn bad_records_say_why() {
        for (line, why) in [
            ("{}", "ClientRequestHost"),
            (r#"{"ClientRequestHost":"a"}"#, "ClientRequestURI"),
            (
                r#"{"ClientRequestHost":"a","ClientRequestURI":"x"}"#,
                "start with /",
            ),
            (
                r#"{"ClientRequestHost":"a","ClientRequestURI":"/","ClientIP":"nope"}"#,
                "ClientIP",
            ),
            (r#"{"ClientRequestHost":1}"#, "not a Logpush record"),
            ("[1]", "not a Logpush record"),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn actions_read_as_expect_names_them() {
        assert_eq!(
            logged_action("managedChallengeInteractiveSolved"),
            "managed_challenge"
        );
        assert_eq!(logged_action("jschallenge"), "js_challenge");
        assert_eq!(logged_action("block"), "block");
        assert_eq!(logged_action("log"), "none");
        assert_eq!(logged_action(""), "none");
    }

    #[test]
    fn timestamps_in_every_format() {
        let t = |s: &str| serde_json::from_str::<Timestamp>(s).unwrap().millis();
        assert_eq!(t("1796119201250000000"), Some(1_796_119_201_250));
        assert_eq!(t("1796119201"), Some(1_796_119_201_000));
        assert_eq!(t("\"2026-12-01T10:00:01.25Z\""), Some(1_796_119_201_250));
        assert_eq!(t("\"yesterday\""), None);
    }
}

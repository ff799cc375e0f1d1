//! What the wirefilter comparison shares with its differential test: deterministic requests
//! and WAF-style expressions, and the two engines set up alike (see benches/versus_wirefilter.rs).

#![allow(dead_code)]

use std::net::IpAddr;

use rulegate::rules::{self, Context, FieldId, Lists, Value};

/// xorshift64*: the same inputs on every run.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Bytes,
    Int,
    Bool,
    Ip,
}

/// The 25 fields both engines register, with Cloudflare's types.
pub(crate) const FIELDS: &[(&str, Kind)] = &[
    ("http.host", Kind::Bytes),
    ("http.request.method", Kind::Bytes),
    ("http.request.uri", Kind::Bytes),
    ("http.request.uri.path", Kind::Bytes),
    ("http.request.uri.query", Kind::Bytes),
    ("http.request.full_uri", Kind::Bytes),
    ("http.request.uri.path.extension", Kind::Bytes),
    ("http.user_agent", Kind::Bytes),
    ("http.referer", Kind::Bytes),
    ("http.cookie", Kind::Bytes),
    ("http.x_forwarded_for", Kind::Bytes),
    ("http.request.version", Kind::Bytes),
    ("ip.src", Kind::Ip),
    ("ip.src.asnum", Kind::Int),
    ("ip.src.country", Kind::Bytes),
    ("ip.src.continent", Kind::Bytes),
    ("cf.threat_score", Kind::Int),
    ("cf.bot_management.score", Kind::Int),
    ("cf.bot_management.verified_bot", Kind::Bool),
    ("cf.client.bot", Kind::Bool),
    ("ssl", Kind::Bool),
    ("cf.edge.server_port", Kind::Int),
    ("http.request.timestamp.sec", Kind::Int),
    ("ip.src.is_in_european_union", Kind::Bool),
    ("http.request.body.size", Kind::Int),
];

/// One field's value in a generated request, borrowed by wirefilter, copied by rulegate.
pub(crate) enum Raw {
    Bytes(String),
    Int(i32),
    Bool(bool),
    Ip(IpAddr),
}

pub(crate) struct Request {
    /// In the order of [`FIELDS`].
    pub(crate) fields: Vec<Raw>,
    /// Lowercased header names and their values, in arrival order (full mix only).
    pub(crate) headers: Vec<(String, String)>,
    /// Query arguments, in order (full mix only).
    pub(crate) args: Vec<(String, String)>,
}

pub(crate) const HOSTS: &[&str] = &[
    "www.example.com",
    "shop.example.com",
    "api.example.com",
    "admin.example.org",
    "static.example.net",
    "blog.example.io",
    "example.com",
];
pub(crate) const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Firefox/121.0",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 (compatible; Nikto/2.5.0)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0)",
    "",
];
pub(crate) const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD"];
pub(crate) const VERSIONS: &[&str] = &["HTTP/1.1", "HTTP/2", "HTTP/2", "HTTP/3", "HTTP/1.0"];
pub(crate) const PLACES: &[(&str, &str, bool)] = &[
    ("US", "NA", false),
    ("FR", "EU", true),
    ("DE", "EU", true),
    ("GB", "EU", false),
    ("CN", "AS", false),
    ("RU", "EU", false),
    ("BR", "SA", false),
    ("JP", "AS", false),
    ("IN", "AS", false),
    ("T1", "T1", false),
];
pub(crate) const ASNS: &[i32] = &[13335, 15169, 16509, 14061, 4134, 7922, 64512, 64513, 3320];

pub(crate) fn path(r: &mut Rng) -> String {
    match r.below(16) {
        0 => "/".into(),
        1 => "/login".into(),
        2 => "/admin".into(),
        3 => format!("/admin/users/{}", r.below(50)),
        4 => "/wp-login.php".into(),
        5 => "/wp-admin/admin-ajax.php".into(),
        6 => format!("/api/v1/users/{}", r.below(500)),
        7 => format!("/api/v{}/orders/{}", 1 + r.below(3), r.below(500)),
        8 => "/api/v2/products".into(),
        9 => "/static/app.js".into(),
        10 => "/images/logo.png".into(),
        11 => "/search".into(),
        12 => "/cart/checkout".into(),
        13 => "/../../etc/passwd".into(),
        14 => "/xmlrpc.php".into(),
        _ => "/index.php".into(),
    }
}

pub(crate) fn query(r: &mut Rng) -> Vec<(String, String)> {
    match r.below(9) {
        0 | 1 => vec![],
        2 => vec![("q".into(), r.pick(&["shoes", "red hat", "bag"]).into())],
        3 => vec![("id".into(), r.below(1000).to_string())],
        4 => vec![("id".into(), "1' union select password from users".into())],
        5 => vec![("redirect".into(), "https://evil.example/".into())],
        6 => vec![
            ("debug".into(), "1".into()),
            ("id".into(), r.below(100).to_string()),
        ],
        7 => vec![("q".into(), "<script>alert(1)</script>".into())],
        _ => vec![
            ("page".into(), r.below(20).to_string()),
            ("sort".into(), "asc".into()),
        ],
    }
}

pub(crate) fn request(r: &mut Rng, i: u64) -> Request {
    let host = r.pick(HOSTS).to_string();
    let path = path(r);
    let args = query(r);
    let query = args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let uri = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let ssl = r.chance(85);
    let full_uri = format!("{}://{host}{uri}", if ssl { "https" } else { "http" });
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|last| last.rsplit_once('.'))
        .map(|(_, e)| e.to_string())
        .unwrap_or_default();
    let ua = r.pick(AGENTS);
    let referer = if r.chance(40) {
        format!("https://{}/", r.pick(HOSTS))
    } else {
        String::new()
    };
    let cookie = match r.below(4) {
        0 => String::new(),
        1 => format!("session={:x}", r.next()),
        2 => format!("session={:x}; admin=1", r.next()),
        _ => format!("_ga=GA1.2.{}; theme=dark", r.below(100_000)),
    };
    let ip: IpAddr = if r.chance(20) {
        let prefix = [0x2001_0db8u32, 0x2606_4700, 0x2a00_1450][r.below(3) as usize];
        let v = (u128::from(prefix) << 96) | u128::from(r.next() & 0xffff_ffff);
        IpAddr::from(v.to_be_bytes())
    } else {
        let a = [10u8, 192, 203, 198, 185, 45, 104][r.below(7) as usize];
        let b = if a == 192 {
            168
        } else if a == 203 {
            0
        } else {
            r.below(256) as u8
        };
        let c = if a == 203 { 113 } else { r.below(256) as u8 };
        IpAddr::from([a, b, c, r.below(256) as u8])
    };
    let xff = match r.below(4) {
        0 | 1 => String::new(),
        2 => format!("203.0.113.{}", r.below(256)),
        _ => format!("10.0.{}.{}, 198.51.100.7", r.below(256), r.below(256)),
    };
    let (country, continent, eu) = PLACES[r.below(PLACES.len() as u64) as usize];
    let bot = ua.contains("bot");
    let method = r.pick(METHODS);
    let body = if method == "POST" || method == "PUT" {
        r.below(20_000) as i32
    } else {
        0
    };
    let mut headers = vec![
        ("host".to_string(), host.clone()),
        ("user-agent".to_string(), ua.to_string()),
        ("accept".to_string(), "*/*".to_string()),
    ];
    if !referer.is_empty() {
        headers.push(("referer".into(), referer.clone()));
    }
    if !cookie.is_empty() {
        headers.push(("cookie".into(), cookie.clone()));
    }
    for part in xff.split(", ").filter(|p| !p.is_empty()) {
        headers.push(("x-forwarded-for".into(), part.to_string()));
    }
    if r.chance(25) {
        headers.push(("x-api-key".into(), format!("Key-{}", r.below(1000))));
    }
    if body > 0 {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let fields = vec![
        Raw::Bytes(host),
        Raw::Bytes(method.into()),
        Raw::Bytes(uri),
        Raw::Bytes(path),
        Raw::Bytes(query),
        Raw::Bytes(full_uri),
        Raw::Bytes(ext),
        Raw::Bytes(ua.into()),
        Raw::Bytes(referer),
        Raw::Bytes(cookie),
        Raw::Bytes(xff),
        Raw::Bytes(r.pick(VERSIONS).into()),
        Raw::Ip(ip),
        Raw::Int(ASNS[r.below(ASNS.len() as u64) as usize]),
        Raw::Bytes(country.into()),
        Raw::Bytes(continent.into()),
        Raw::Int(r.below(100) as i32),
        Raw::Int(1 + r.below(99) as i32),
        Raw::Bool(bot && r.chance(70)),
        Raw::Bool(bot),
        Raw::Bool(ssl),
        Raw::Int([80, 443, 443, 443, 8080, 8443][r.below(6) as usize]),
        Raw::Int(1_767_225_600 + (i as i32) * 7),
        Raw::Bool(eu),
        Raw::Int(body),
    ];
    Request {
        fields,
        headers,
        args,
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions

/// Regexes as WAF rules write them: a shared pool, and templates with a parameter.
pub(crate) const REGEXES: &[&str] = &[
    "(?i)(union|select|insert|drop|update|delete)[^a-z]",
    "(?i)<script[^>]*>",
    "(?i)(sqlmap|nikto|nmap|masscan|zgrab)",
    "^/api/v[0-9]+/users/[0-9]+$",
    "[.](php|asp|aspx|jsp|cgi)$",
    "^/wp-(admin|login|content)",
    "[.][.]/",
    "(?i)(curl|wget|python-requests|go-http-client)/",
    "^/admin(/|$)",
    "(?i)(bot|crawler|spider)",
    "(^|&)debug=1(&|$)",
    "^[a-z0-9-]+[.]example[.](com|net|org)$",
    "%(27|22|3c|3e)",
    "(?i)(etc/passwd|win[.]ini|boot[.]ini)",
    "^(GET|HEAD)$",
    "session=[0-9a-f]{8,}",
];

pub(crate) fn regex_condition(r: &mut Rng) -> String {
    if r.chance(55) {
        let fields = [
            "http.request.uri.path",
            "http.request.uri.query",
            "http.user_agent",
            "http.request.uri",
            "http.host",
            "http.cookie",
            "http.request.full_uri",
        ];
        return format!(
            r#"{} matches "{}""#,
            r.pick(&fields),
            REGEXES[r.below(REGEXES.len() as u64) as usize]
        );
    }
    match r.below(4) {
        0 => format!(
            r#"http.request.uri.path matches "^/api/v[0-9]+/(users|orders)/{}$""#,
            r.below(500)
        ),
        1 => format!(
            r#"http.request.uri.query matches "(^|&)id=({}|{})(&|$)""#,
            r.below(1000),
            r.below(1000)
        ),
        2 => format!(
            r#"http.user_agent matches "(?i)(scanner|probe)-{}""#,
            r.below(300)
        ),
        _ => format!(
            r#"http.x_forwarded_for matches "^10[.]0[.]{}[.]""#,
            r.below(256)
        ),
    }
}

pub(crate) fn condition(r: &mut Rng) -> String {
    match r.below(29) {
        0 => format!(r#"http.host eq "{}""#, r.pick(HOSTS)),
        1 => format!(
            r#"http.host in {{"{}" "{}" "{}"}}"#,
            r.pick(HOSTS),
            r.pick(HOSTS),
            r.pick(HOSTS)
        ),
        2 => format!(
            r#"http.request.uri.path eq "{}""#,
            r.pick(&["/login", "/admin", "/wp-login.php", "/xmlrpc.php", "/"])
        ),
        3 => format!(
            r#"http.request.uri.path contains "{}""#,
            r.pick(&["admin", "login", "wp-", "../", ".php", "/api/"])
        ),
        4 => format!(
            r#"http.request.uri.query contains "{}""#,
            r.pick(&["union", "select", "<script", "debug", "redirect="])
        ),
        5 => format!(
            r#"http.request.uri contains "{}""#,
            r.pick(&["passwd", "?id=", "checkout"])
        ),
        6 => format!(
            r#"http.request.full_uri contains "{}""#,
            r.pick(&["https://api.", "http://", "example.org/"])
        ),
        7 => r#"http.request.uri.path.extension in {"php" "asp" "jsp" "cgi"}"#.into(),
        8 => format!(
            r#"http.user_agent contains "{}""#,
            r.pick(&["curl", "bot", "python", "sqlmap", "Nikto"])
        ),
        9 => r#"http.user_agent eq """#.into(),
        10 => format!(r#"http.referer contains "{}""#, r.pick(HOSTS)),
        11 => format!(
            r#"http.cookie contains "{}""#,
            r.pick(&["session=", "admin=1", "theme="])
        ),
        12 => format!(
            r#"http.request.method in {{"{}" "{}"}}"#,
            r.pick(METHODS),
            r.pick(METHODS)
        ),
        13 => r#"http.x_forwarded_for ne """#.into(),
        14 => r#"http.request.version in {"HTTP/1.0" "HTTP/1.1"}"#.into(),
        15 => format!(
            "ip.src in {{10.0.0.0/8 192.168.{}.0/24 203.0.113.0/24 2001:db8::/32}}",
            r.below(256)
        ),
        16 => format!(
            "ip.src in {{198.51.100.0/24 185.{}.0.0/16 2606:4700::/32}}",
            r.below(256)
        ),
        17 => format!(
            "ip.src.asnum in {{{} {} {}}}",
            ASNS[r.below(ASNS.len() as u64) as usize],
            ASNS[r.below(ASNS.len() as u64) as usize],
            64_500 + r.below(100)
        ),
        18 => format!(
            r#"ip.src.country in {{"{}" "{}" "{}"}}"#,
            PLACES[r.below(PLACES.len() as u64) as usize].0,
            PLACES[r.below(PLACES.len() as u64) as usize].0,
            PLACES[r.below(PLACES.len() as u64) as usize].0
        ),
        19 => format!(
            r#"ip.src.continent eq "{}""#,
            r.pick(&["EU", "AS", "NA", "T1"])
        ),
        20 => format!("cf.threat_score gt {}", r.below(60)),
        21 => format!("cf.bot_management.score lt {}", 1 + r.below(40)),
        22 => "cf.bot_management.verified_bot".into(),
        23 => "cf.client.bot".into(),
        24 => "ssl".into(),
        25 => format!(
            "cf.edge.server_port in {{80 {}}}",
            r.pick(&["8080", "8443"])
        ),
        26 => format!(
            "http.request.timestamp.sec ge {}",
            1_767_225_600 + r.below(70_000)
        ),
        27 => "ip.src.is_in_european_union".into(),
        _ => format!("http.request.body.size gt {}", r.below(20_000)),
    }
}

/// Conditions wirefilter 0.6.1 cannot parse: maps, arrays, `any()`, functions, `wildcard`.
pub(crate) fn rich_condition(r: &mut Rng) -> String {
    match r.below(11) {
        0 => format!(
            r#"any(http.request.headers["x-forwarded-for"][*] contains "{}")"#,
            r.pick(&["203.0.113.", "10.0.", "198.51.100.7"])
        ),
        1 => format!(
            r#"http.request.headers["user-agent"][0] contains "{}""#,
            r.pick(&["curl", "bot", "python"])
        ),
        2 => format!(
            r#"any(http.request.uri.args.names[*] eq "{}")"#,
            r.pick(&["debug", "id", "redirect", "q"])
        ),
        3 => r#"any(http.request.uri.args["id"][*] matches "[^0-9]")"#.into(),
        4 => format!(
            r#"http.host wildcard "*.example.{}""#,
            r.pick(&["com", "net", "org"])
        ),
        5 => format!(
            r#"starts_with(http.request.uri.path, "{}")"#,
            r.pick(&["/api/", "/admin", "/wp-", "/static/"])
        ),
        6 => format!(
            r#"lower(http.user_agent) contains "{}""#,
            r.pick(&["bot", "curl", "nikto"])
        ),
        7 => r#"any(http.request.headers.names[*] eq "x-api-key")"#.into(),
        8 => format!("len(http.request.headers.names) gt {}", 3 + r.below(4)),
        9 => format!(
            r#"ends_with(http.request.uri.path, "{}")"#,
            r.pick(&[".php", ".js", "/"])
        ),
        _ => format!(
            r#"any(lower(http.request.headers["x-api-key"][*])[*] eq "key-{}")"#,
            r.below(1000)
        ),
    }
}

/// `n` expressions; with `rich`, 40% of the conditions use what only rulegate supports.
pub(crate) fn expressions(n: usize, seed: u64, rich: bool) -> Vec<String> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let k = match r.below(20) {
                0 | 1 => 1,
                2..=8 => 2,
                9..=14 => 3,
                15..=17 => 4,
                _ => 5,
            };
            let mut parts: Vec<String> = (0..k)
                .map(|_| {
                    let c = if rich && r.chance(40) {
                        rich_condition(&mut r)
                    } else {
                        condition(&mut r)
                    };
                    if r.chance(15) { format!("not {c}") } else { c }
                })
                .collect();
            if r.chance(30) {
                let at = r.below(k as u64) as usize;
                parts[at] = regex_condition(&mut r);
            }
            match (k, r.below(5)) {
                (1, _) => parts.remove(0),
                (_, 0 | 1) => parts.join(" and "),
                (_, 2) => parts.join(" or "),
                (2, _) => format!("{} xor {}", parts[0], parts[1]),
                (_, 3) => format!("{} and ({})", parts[0], parts[1..].join(" or ")),
                _ => format!(
                    "({}) or not ({})",
                    parts[..k / 2].join(" and "),
                    parts[k / 2..].join(" and ")
                ),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The two engines

/// wirefilter's side: its scheme, and its filters compiled against it.
pub(crate) struct Wire {
    scheme: wirefilter::Scheme,
}

impl Wire {
    pub(crate) fn new() -> Wire {
        let mut scheme = wirefilter::Scheme::default();
        for (name, kind) in FIELDS {
            let ty = match kind {
                Kind::Bytes => wirefilter::Type::Bytes,
                Kind::Int => wirefilter::Type::Int,
                Kind::Bool => wirefilter::Type::Bool,
                Kind::Ip => wirefilter::Type::Ip,
            };
            scheme.add_field((*name).to_string(), ty).unwrap();
        }
        Wire { scheme }
    }

    pub(crate) fn compile<'s>(&'s self, exprs: &[String]) -> Vec<wirefilter::Filter<'s>> {
        exprs
            .iter()
            .map(|e| match self.scheme.parse(e) {
                Ok(ast) => ast.compile(),
                Err(err) => panic!("wirefilter cannot parse `{e}`: {err}"),
            })
            .collect()
    }

    pub(crate) fn context<'e>(&'e self, req: &'e Request) -> wirefilter::ExecutionContext<'e> {
        let mut ctx = wirefilter::ExecutionContext::new(&self.scheme);
        for ((name, _), raw) in FIELDS.iter().zip(&req.fields) {
            let set = match raw {
                Raw::Bytes(s) => ctx.set_field_value(name, s.as_str()),
                Raw::Int(i) => ctx.set_field_value(name, *i),
                Raw::Bool(b) => ctx.set_field_value(name, *b),
                Raw::Ip(ip) => ctx.set_field_value(name, *ip),
            };
            set.unwrap();
        }
        ctx
    }
}

/// rulegate's side: field handles resolved once.
pub(crate) struct Gate {
    fields: Vec<FieldId>,
    /// http.request.headers, .headers.names, .uri.args, .uri.args.names (full mix).
    rich: Option<[FieldId; 4]>,
    pub(crate) lists: Lists,
}

impl Gate {
    pub(crate) fn new(rich: bool) -> Gate {
        let id = |name: &str| Context::field(name).unwrap();
        Gate {
            fields: FIELDS.iter().map(|(name, _)| id(name)).collect(),
            rich: rich.then(|| {
                [
                    id("http.request.headers"),
                    id("http.request.headers.names"),
                    id("http.request.uri.args"),
                    id("http.request.uri.args.names"),
                ]
            }),
            lists: Lists::new(),
        }
    }

    pub(crate) fn compile(&self, exprs: &[String]) -> Vec<rules::Filter> {
        self.compile_with(&rules::Compiler::new(&self.lists), exprs)
    }

    pub(crate) fn compile_with(
        &self,
        compiler: &rules::Compiler,
        exprs: &[String],
    ) -> Vec<rules::Filter> {
        exprs
            .iter()
            .map(|e| {
                compiler
                    .filter(e)
                    .unwrap_or_else(|err| panic!("rulegate cannot compile `{e}`: {err}"))
            })
            .collect()
    }

    pub(crate) fn context(&self, req: &Request) -> Context {
        let mut ctx = Context::new();
        for (id, raw) in self.fields.iter().zip(&req.fields) {
            match raw {
                Raw::Bytes(s) => ctx.set_bytes(*id, s.as_bytes()),
                Raw::Int(i) => ctx.set_field(*id, Value::Int(i64::from(*i))),
                Raw::Bool(b) => ctx.set_field(*id, Value::Bool(*b)),
                Raw::Ip(ip) => ctx.set_field(*id, Value::Ip(*ip)),
            }
            .unwrap();
        }
        if let Some([headers, header_names, args, arg_names]) = self.rich {
            let (map, names) = pairs(&req.headers);
            ctx.set_field(headers, map).unwrap();
            ctx.set_field(header_names, names).unwrap();
            let (map, names) = pairs(&req.args);
            ctx.set_field(args, map).unwrap();
            ctx.set_field(arg_names, names).unwrap();
        }
        ctx
    }
}

impl Gate {
    /// The same context, each field named (looked up by name for every request).
    pub(crate) fn context_by_name(&self, req: &Request) -> Context {
        let mut ctx = Context::new();
        for ((name, _), raw) in FIELDS.iter().zip(&req.fields) {
            match raw {
                Raw::Bytes(s) => ctx.set_bytes_named(name, s.as_bytes()),
                Raw::Int(i) => ctx.set(name, Value::Int(i64::from(*i))),
                Raw::Bool(b) => ctx.set(name, Value::Bool(*b)),
                Raw::Ip(ip) => ctx.set(name, Value::Ip(*ip)),
            }
            .unwrap();
        }
        ctx
    }
}

/// A `Map<Array<Bytes>>` and the `Array<Bytes>` of names, from ordered pairs.
pub(crate) fn pairs(items: &[(String, String)]) -> (Value, Value) {
    let mut map = std::collections::BTreeMap::<Vec<u8>, Value>::new();
    for (k, v) in items {
        let slot = map
            .entry(k.as_bytes().to_vec())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = slot {
            a.push(Value::Bytes(v.as_bytes().to_vec()));
        }
    }
    let names = Value::strings(items.iter().map(|(k, _)| k.as_bytes().to_vec()));
    (Value::Map(map), names)
}

/// Every (request, expression) pair through both engines: how many matched, or the pairs whose
/// answers differ (the first 20, with the expression and the request).
pub(crate) fn same_matrix(
    wire: &Wire,
    gate: &Gate,
    exprs: &[String],
    reqs: &[Request],
) -> Result<u64, String> {
    let wf = wire.compile(exprs);
    let gf = gate.compile(exprs);
    let mut differ = Vec::new();
    let mut matched = 0u64;
    for (ri, req) in reqs.iter().enumerate() {
        let wc = wire.context(req);
        let gc = gate.context(req);
        for (ei, (w, g)) in wf.iter().zip(&gf).enumerate() {
            let (a, b) = (w.execute(&wc).unwrap(), g.execute(&gc));
            matched += u64::from(a);
            if a != b {
                differ.push((ri, ei, a, b));
            }
        }
    }
    if !differ.is_empty() {
        let mut out = format!(
            "the engines disagree on {} of {} pairs; the first ones:\n",
            differ.len(),
            exprs.len() * reqs.len()
        );
        for (ri, ei, a, b) in differ.iter().take(20) {
            let fields: Vec<String> = FIELDS
                .iter()
                .zip(&reqs[*ri].fields)
                .map(|((n, _), v)| match v {
                    Raw::Bytes(s) => format!("{n}={s:?}"),
                    Raw::Int(i) => format!("{n}={i}"),
                    Raw::Bool(b) => format!("{n}={b}"),
                    Raw::Ip(ip) => format!("{n}={ip}"),
                })
                .collect();
            out += &format!(
                "  request {ri}, expression {ei}: wirefilter {a}, rulegate {b}\n    `{}`\n    {}\n",
                exprs[*ei],
                fields.join(" ")
            );
        }
        return Err(out);
    }
    Ok(matched)
}

/// `n` requests from `seed`.
pub(crate) fn requests(n: usize, seed: u64) -> Vec<Request> {
    let mut r = Rng(seed);
    (0..n as u64).map(|i| request(&mut r, i)).collect()
}

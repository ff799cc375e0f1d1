//! CRS rules compiled from directives: targets (collection, selector, count, exclusions),
//! one operator, transformations and the actions the engine acts on (`setvar`, `ctl`,
//! `capture`, `chain`, `skipAfter`, metadata). Anything this emulation does not know fails
//! the load with the file and line, so a newer CRS is refused rather than half-read.

use std::path::{Path, PathBuf};

use aho_corasick::AhoCorasick;

use super::seclang::{self, Directive, SecLangError};
use super::transform::Transform;

/// The request collections and variables CRS reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Coll {
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    ArgsCombinedSize,
    RequestHeaders,
    RequestHeadersNames,
    RequestCookies,
    RequestCookiesNames,
    RequestFilename,
    RequestBasename,
    RequestUri,
    RequestUriRaw,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    QueryString,
    RequestBody,
    RequestBodyLength,
    Files,
    FilesNames,
    FilesSizes,
    FilesCombinedSize,
    MultipartPartHeaders,
    MultipartStrictError,
    MultipartUnmatchedBoundary,
    ReqbodyError,
    ReqbodyErrorMsg,
    ReqbodyProcessor,
    Xml,
    Tx,
    Ip,
    Global,
    Session,
    User,
    Resource,
    Geo,
    Env,
    RemoteAddr,
    RemoteHost,
    RemotePort,
    ServerName,
    ServerPort,
    UniqueId,
    Duration,
    MatchedVar,
    MatchedVars,
    MatchedVarName,
    MatchedVarsNames,
    FullRequest,
    FullRequestLength,
    AuthType,
}

impl Coll {
    pub(crate) fn parse(name: &str) -> Option<Coll> {
        use Coll::*;
        Some(match name.to_ascii_uppercase().as_str() {
            "ARGS" => Args,
            "ARGS_GET" => ArgsGet,
            "ARGS_POST" => ArgsPost,
            "ARGS_NAMES" => ArgsNames,
            "ARGS_GET_NAMES" => ArgsGetNames,
            "ARGS_POST_NAMES" => ArgsPostNames,
            "ARGS_COMBINED_SIZE" => ArgsCombinedSize,
            "REQUEST_HEADERS" => RequestHeaders,
            "REQUEST_HEADERS_NAMES" => RequestHeadersNames,
            "REQUEST_COOKIES" => RequestCookies,
            "REQUEST_COOKIES_NAMES" => RequestCookiesNames,
            "REQUEST_FILENAME" => RequestFilename,
            "REQUEST_BASENAME" => RequestBasename,
            "REQUEST_URI" => RequestUri,
            "REQUEST_URI_RAW" => RequestUriRaw,
            "REQUEST_LINE" => RequestLine,
            "REQUEST_METHOD" => RequestMethod,
            "REQUEST_PROTOCOL" => RequestProtocol,
            "QUERY_STRING" => QueryString,
            "REQUEST_BODY" => RequestBody,
            "REQUEST_BODY_LENGTH" => RequestBodyLength,
            "FILES" => Files,
            "FILES_NAMES" => FilesNames,
            "FILES_SIZES" => FilesSizes,
            "FILES_COMBINED_SIZE" => FilesCombinedSize,
            "MULTIPART_PART_HEADERS" => MultipartPartHeaders,
            "MULTIPART_STRICT_ERROR" => MultipartStrictError,
            "MULTIPART_UNMATCHED_BOUNDARY" => MultipartUnmatchedBoundary,
            "REQBODY_ERROR" => ReqbodyError,
            "REQBODY_ERROR_MSG" => ReqbodyErrorMsg,
            "REQBODY_PROCESSOR" => ReqbodyProcessor,
            "XML" => Xml,
            "TX" => Tx,
            "IP" => Ip,
            "GLOBAL" => Global,
            "SESSION" => Session,
            "USER" => User,
            "RESOURCE" => Resource,
            "GEO" => Geo,
            "ENV" => Env,
            "REMOTE_ADDR" => RemoteAddr,
            "REMOTE_HOST" => RemoteHost,
            "REMOTE_PORT" => RemotePort,
            "SERVER_NAME" => ServerName,
            "SERVER_PORT" => ServerPort,
            "UNIQUE_ID" => UniqueId,
            "DURATION" => Duration,
            "MATCHED_VAR" => MatchedVar,
            "MATCHED_VARS" => MatchedVars,
            "MATCHED_VAR_NAME" => MatchedVarName,
            "MATCHED_VARS_NAMES" => MatchedVarsNames,
            "FULL_REQUEST" => FullRequest,
            "FULL_REQUEST_LENGTH" => FullRequestLength,
            "AUTH_TYPE" => AuthType,
            _ => return None,
        })
    }

    /// The name ModSecurity prints (MATCHED_VAR_NAME's prefix).
    pub(crate) fn name(self) -> &'static str {
        use Coll::*;
        match self {
            Args => "ARGS",
            ArgsGet => "ARGS_GET",
            ArgsPost => "ARGS_POST",
            ArgsNames => "ARGS_NAMES",
            ArgsGetNames => "ARGS_GET_NAMES",
            ArgsPostNames => "ARGS_POST_NAMES",
            ArgsCombinedSize => "ARGS_COMBINED_SIZE",
            RequestHeaders => "REQUEST_HEADERS",
            RequestHeadersNames => "REQUEST_HEADERS_NAMES",
            RequestCookies => "REQUEST_COOKIES",
            RequestCookiesNames => "REQUEST_COOKIES_NAMES",
            RequestFilename => "REQUEST_FILENAME",
            RequestBasename => "REQUEST_BASENAME",
            RequestUri => "REQUEST_URI",
            RequestUriRaw => "REQUEST_URI_RAW",
            RequestLine => "REQUEST_LINE",
            RequestMethod => "REQUEST_METHOD",
            RequestProtocol => "REQUEST_PROTOCOL",
            QueryString => "QUERY_STRING",
            RequestBody => "REQUEST_BODY",
            RequestBodyLength => "REQUEST_BODY_LENGTH",
            Files => "FILES",
            FilesNames => "FILES_NAMES",
            FilesSizes => "FILES_SIZES",
            FilesCombinedSize => "FILES_COMBINED_SIZE",
            MultipartPartHeaders => "MULTIPART_PART_HEADERS",
            MultipartStrictError => "MULTIPART_STRICT_ERROR",
            MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY",
            ReqbodyError => "REQBODY_ERROR",
            ReqbodyErrorMsg => "REQBODY_ERROR_MSG",
            ReqbodyProcessor => "REQBODY_PROCESSOR",
            Xml => "XML",
            Tx => "TX",
            Ip => "IP",
            Global => "GLOBAL",
            Session => "SESSION",
            User => "USER",
            Resource => "RESOURCE",
            Geo => "GEO",
            Env => "ENV",
            RemoteAddr => "REMOTE_ADDR",
            RemoteHost => "REMOTE_HOST",
            RemotePort => "REMOTE_PORT",
            ServerName => "SERVER_NAME",
            ServerPort => "SERVER_PORT",
            UniqueId => "UNIQUE_ID",
            Duration => "DURATION",
            MatchedVar => "MATCHED_VAR",
            MatchedVars => "MATCHED_VARS",
            MatchedVarName => "MATCHED_VAR_NAME",
            MatchedVarsNames => "MATCHED_VARS_NAMES",
            FullRequest => "FULL_REQUEST",
            FullRequestLength => "FULL_REQUEST_LENGTH",
            AuthType => "AUTH_TYPE",
        }
    }
}

/// Which members of a collection: all, one key (case-insensitive), or keys matching a regex.
#[derive(Debug, Clone)]
pub(crate) enum Sel {
    All,
    Key(String),
    Regex(regex::bytes::Regex),
}

impl Sel {
    fn parse(s: Option<&str>) -> Result<Sel, String> {
        let Some(s) = s else { return Ok(Sel::All) };
        if let Some(p) = s.strip_prefix('/').and_then(|x| x.strip_suffix('/'))
            && !p.is_empty()
        {
            let re = regex::bytes::RegexBuilder::new(p)
                .case_insensitive(true)
                .unicode(false)
                .build()
                .map_err(|e| format!("selector /{p}/: {e}"))?;
            return Ok(Sel::Regex(re));
        }
        Ok(Sel::Key(s.trim_matches('\'').to_ascii_lowercase()))
    }

    pub(crate) fn matches(&self, key: &[u8]) -> bool {
        match self {
            Sel::All => true,
            Sel::Key(k) => key.eq_ignore_ascii_case(k.as_bytes()),
            Sel::Regex(r) => r.is_match(key),
        }
    }
}

/// One target of a rule: `COLL`, `COLL:key`, `COLL:/re/`, `&COLL…` (a count).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) coll: Coll,
    pub(crate) sel: Sel,
    pub(crate) count: bool,
}

/// A target excluded from a rule (`!COLL:key`, or `ctl:ruleRemoveTarget…`).
#[derive(Debug, Clone)]
pub(crate) struct Exclusion {
    pub(crate) coll: Coll,
    pub(crate) sel: Sel,
}

/// Parses a `|`-separated target list into targets and exclusions.
pub(crate) fn targets(list: &str) -> Result<(Vec<Target>, Vec<Exclusion>), String> {
    let mut t = Vec::new();
    let mut x = Vec::new();
    for part in split_targets(list) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (neg, rest) = match part.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, part),
        };
        let (count, rest) = match rest.strip_prefix('&') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let (name, sel) = match rest.split_once(':') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let coll = Coll::parse(name).ok_or_else(|| format!("unknown variable {name}"))?;
        let sel = Sel::parse(sel)?;
        if neg {
            x.push(Exclusion { coll, sel });
        } else {
            t.push(Target { coll, sel, count });
        }
    }
    Ok((t, x))
}

/// Splits on `|` outside a `/regex/` selector (which runs from `:/` to a `/` followed by
/// `|` or the end).
fn split_targets(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let mut end = rest.find('|').unwrap_or(rest.len());
        if let Some(c) = rest.find(":/")
            && c < end
        {
            let after = &rest[c + 2..];
            let close = after
                .match_indices('/')
                .map(|(i, _)| i)
                .find(|i| after[i + 1..].is_empty() || after[i + 1..].starts_with('|'));
            if let Some(i) = close {
                end = c + 2 + i + 1;
            }
        }
        out.push(rest[..end].to_string());
        rest = rest.get(end + 1..).unwrap_or("");
    }
    out
}

/// A text with `%{collection.key}` macros, expanded per transaction.
#[derive(Debug, Clone)]
pub(crate) struct Macro {
    pub(crate) parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Lit(Vec<u8>),
    /// Collection (upper case) and key (lower case, may be empty).
    Var(String, String),
}

impl Macro {
    pub(crate) fn parse(s: &str) -> Macro {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find("%{") {
            let Some(j) = rest[i..].find('}') else { break };
            if i > 0 {
                parts.push(Part::Lit(rest.as_bytes()[..i].to_vec()));
            }
            let inner = &rest[i + 2..i + j];
            let (c, k) = match inner.split_once('.') {
                Some((c, k)) => (c, k),
                None => (inner, ""),
            };
            parts.push(Part::Var(c.to_ascii_uppercase(), k.to_ascii_lowercase()));
            rest = &rest[i + j + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.as_bytes().to_vec()));
        }
        Macro { parts }
    }

    pub(crate) fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    pub(crate) fn literal(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Lit(l) = p {
                out.extend_from_slice(l);
            }
        }
        out
    }
}

/// A regular expression as ModSecurity compiles it (PCRE with DOTALL and DOLLAR_ENDONLY, on
/// bytes): with the regex crate, or fancy-regex for the lookarounds and backreferences the
/// regex crate lacks.
#[derive(Debug, Clone)]
pub(crate) enum Rx {
    Bytes(regex::bytes::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// A PCRE pattern in the regex crate's syntax: inside a class `[`, `&` and `~` are literal
/// in PCRE (the regex crate reads nested classes and set operations there), and a possessive
/// quantifier (`*+`, `++`, `?+`, `}+`) matches what the greedy one matches, for a yes/no
/// answer, so its `+` is dropped.
pub(crate) fn pcre_to_regex(p: &str) -> String {
    let b: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut class = false;
    while i < b.len() {
        let c = b[i];
        if c == '\\' {
            out.push(c);
            if let Some(n) = b.get(i + 1) {
                out.push(*n);
            }
            i += 2;
            continue;
        }
        if class {
            match c {
                ']' => {
                    class = false;
                    out.push(c);
                }
                '[' if b.get(i + 1) == Some(&':') => {
                    // A POSIX class such as [:alpha:] stays as it is.
                    let end = b[i..].iter().collect::<String>().find(":]");
                    match end {
                        Some(e) => {
                            out.extend(&b[i..i + e + 2]);
                            i += e + 2;
                            continue;
                        }
                        None => out.push_str("\\["),
                    }
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                class = true;
                out.push(c);
                // `]` first in a class (after an optional `^`) is literal.
                if b.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if b.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            '*' | '+' | '?' | '}' if b.get(i + 1) == Some(&'+') => {
                let prev_is_quantifier = c != '?' || (i > 0 && b[i - 1] != '(');
                out.push(c);
                if prev_is_quantifier {
                    i += 1;
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

impl Rx {
    pub(crate) fn new(p: &str) -> Result<Rx, String> {
        let p = &pcre_to_regex(p);
        match regex::bytes::RegexBuilder::new(p)
            .unicode(false)
            .dot_matches_new_line(true)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
        {
            Ok(r) => Ok(Rx::Bytes(r)),
            Err(first) => fancy_regex::RegexBuilder::new(&format!("(?s){p}"))
                .backtrack_limit(200_000)
                .build()
                .map(|r| Rx::Fancy(Box::new(r)))
                .map_err(|e| format!("{first}; {e}")),
        }
    }

    /// Whether `v` matches, with the capture groups 0–9 when `want` (as texts).
    pub(crate) fn find(&self, v: &[u8], want: bool) -> Option<Vec<Vec<u8>>> {
        match self {
            Rx::Bytes(r) => {
                // Most inputs do not match: answer that with the DFA before any captures.
                if !r.is_match(v) {
                    return None;
                }
                if !want {
                    return Some(Vec::new());
                }
                let c = r.captures(v)?;
                Some(
                    (0..c.len().min(10))
                        .map(|i| c.get(i).map(|m| m.as_bytes().to_vec()).unwrap_or_default())
                        .collect(),
                )
            }
            Rx::Fancy(r) => {
                let s = String::from_utf8_lossy(v);
                let c = r.captures(s.as_ref()).ok()??;
                Some(
                    (0..c.len().min(10))
                        .map(|i| {
                            c.get(i)
                                .map(|m| m.as_str().as_bytes().to_vec())
                                .unwrap_or_default()
                        })
                        .collect(),
                )
            }
        }
    }
}

/// An operator and its parameter.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Rx(Rx),
    /// A pattern with macros, compiled per transaction.
    RxMacro(Macro),
    Pm(AhoCorasick),
    Within(Macro),
    Contains(Macro),
    ContainsWord(Macro),
    BeginsWith(Macro),
    EndsWith(Macro),
    StrEq(Macro),
    Eq(Macro),
    Ge(Macro),
    Gt(Macro),
    Le(Macro),
    Lt(Macro),
    IpMatch(crate::rules::IpSet),
    ValidateByteRange(Box<[bool; 256]>),
    ValidateUrlEncoding,
    ValidateUtf8,
    DetectSqli,
    DetectXss,
    Unconditional,
    /// Never matches offline (`@rbl`, `@geoLookup`: no network, no database).
    Never,
}

/// `setvar`.
#[derive(Debug, Clone)]
pub(crate) struct SetVar {
    pub(crate) coll: String,
    pub(crate) key: Macro,
    pub(crate) op: SetOp,
}

#[derive(Debug, Clone)]
pub(crate) enum SetOp {
    Set(Macro),
    Add(Macro),
    Sub(Macro),
    Delete,
}

/// `ctl` actions the request phases act on.
#[derive(Debug, Clone)]
pub(crate) enum Ctl {
    RuleRemoveById(Vec<(u32, u32)>),
    RuleRemoveByTag(String),
    RuleRemoveTargetById(Vec<(u32, u32)>, Vec<Exclusion>),
    RuleRemoveTargetByTag(String, Vec<Exclusion>),
    EngineOff,
    BodyProcessor(String),
    ForceBodyVariable,
    BodyAccessOff,
}

/// One rule of a chain (the first one carries the metadata).
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) targets: Vec<Target>,
    pub(crate) exclusions: Vec<Exclusion>,
    pub(crate) op: Op,
    pub(crate) negated: bool,
    pub(crate) transforms: Vec<Transform>,
    pub(crate) multi_match: bool,
    pub(crate) capture: bool,
    pub(crate) setvars: Vec<SetVar>,
    pub(crate) ctls: Vec<Ctl>,
    /// Links with the same transformation list share this number (the engine memoizes
    /// transformed values by it).
    pub(crate) chain_id: u32,
}

/// A rule: its chain, metadata and flow.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: u32,
    pub(crate) phase: u8,
    pub(crate) chain: Vec<Link>,
    pub(crate) msg: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) severity: Option<String>,
    pub(crate) log: bool,
    pub(crate) skip_after: Option<String>,
    pub(crate) skip: u32,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    /// The anomaly score this rule adds when it matches (its `setvar` on an
    /// `anomaly_score_plN` variable, e.g. `+%{tx.critical_anomaly_score}`).
    pub(crate) score: Option<Macro>,
    /// Its paranoia level (`tag:'paranoia-level/N'`).
    pub(crate) paranoia: Option<u8>,
}

/// An entry of a phase's list.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Rule(usize),
    Marker(String),
}

/// What a CRS release compiles to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub(crate) rules: Vec<Rule>,
    /// Phases 1 and 2, in order, with markers.
    pub(crate) phases: [Vec<Entry>; 2],
    /// Per phase and entry: where a rule's `skipAfter` lands (the entry after its marker;
    /// the phase's end when the marker does not follow).
    pub(crate) jumps: [Vec<usize>; 2],
    pub(crate) version: Option<String>,
}

fn err(d: &Directive, message: impl Into<String>) -> SecLangError {
    SecLangError {
        file: d.file.clone(),
        line: d.line,
        message: message.into(),
    }
}

fn ranges(s: &str) -> Vec<(u32, u32)> {
    s.split([',', ' '])
        .filter_map(|p| {
            let p = p.trim();
            match p.split_once('-') {
                Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
                None => p.parse().ok().map(|v| (v, v)),
            }
        })
        .collect()
}

/// Adds the addresses and CIDR ranges of `s` (comma, space or line separated; `#` comments)
/// to `set`, the Rules engine's IP set.
fn ip_list(s: &str, set: &mut crate::rules::IpSet) {
    for p in s.split([',', ' ', '\n']) {
        let p = p.trim();
        if p.is_empty() || p.starts_with('#') {
            continue;
        }
        let (a, bits) = match p.split_once('/') {
            Some((a, b)) => (a, b.parse().ok()),
            None => (p, Some(if p.contains(':') { 128 } else { 32 })),
        };
        if let (Ok(addr), Some(bits)) = (a.parse(), bits) {
            set.add_cidr(addr, bits);
        }
    }
}

fn byte_ranges(s: &str) -> [bool; 256] {
    let mut ok = [false; 256];
    for (a, b) in ranges(s) {
        for v in a.min(255)..=b.min(255) {
            ok[v as usize] = true;
        }
    }
    ok
}

/// A data file a rule names: beside the rule files, never elsewhere (a CRS inside the
/// repository comes from pull requests like everything else).
fn data_file(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let p = Path::new(name);
    let plain = p
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain {
        return Err(format!(
            "{name}: a data file must be a plain name inside the rules directory"
        ));
    }
    Ok(dir.join(p))
}

fn phrases_from_files(dir: &Path, names: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for n in names.split_whitespace() {
        let path = data_file(dir, n)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for line in text.lines() {
            let l = line.trim();
            if !l.is_empty() && !l.starts_with('#') {
                out.push(l.to_string());
            }
        }
    }
    Ok(out)
}

fn pm(phrases: &[String]) -> Result<AhoCorasick, String> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(phrases)
        .map_err(|e| e.to_string())
}

fn operator(d: &Directive, text: &str) -> Result<(Op, bool), SecLangError> {
    let (negated, t) = match text.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (name, param) = match t.strip_prefix('@') {
        Some(r) => match r.split_once(char::is_whitespace) {
            Some((n, p)) => (n.to_ascii_lowercase(), p.trim_start().to_string()),
            None => (r.to_ascii_lowercase(), String::new()),
        },
        None => ("rx".to_string(), t.to_string()),
    };
    let dir = d.file.parent().unwrap_or(Path::new("."));
    let m = || Macro::parse(&param);
    let op = match name.as_str() {
        "rx" => {
            let mac = Macro::parse(&param);
            if mac.is_static() {
                Op::Rx(Rx::new(&param).map_err(|e| err(d, format!("@rx: {e}")))?)
            } else {
                Op::RxMacro(mac)
            }
        }
        "pm" => Op::Pm(
            pm(&param
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>())
            .map_err(|e| err(d, e))?,
        ),
        "pmfromfile" | "pmf" => {
            let p = phrases_from_files(dir, &param).map_err(|e| err(d, e))?;
            Op::Pm(pm(&p).map_err(|e| err(d, e))?)
        }
        "within" => Op::Within(m()),
        "contains" => Op::Contains(m()),
        "containsword" => Op::ContainsWord(m()),
        "beginswith" => Op::BeginsWith(m()),
        "endswith" => Op::EndsWith(m()),
        "streq" => Op::StrEq(m()),
        "eq" => Op::Eq(m()),
        "ge" => Op::Ge(m()),
        "gt" => Op::Gt(m()),
        "le" => Op::Le(m()),
        "lt" => Op::Lt(m()),
        "ipmatch" => {
            let mut set = crate::rules::IpSet::new();
            ip_list(&param, &mut set);
            Op::IpMatch(set.finish())
        }
        "ipmatchfromfile" | "ipmatchf" => {
            let mut set = crate::rules::IpSet::new();
            for n in param.split_whitespace() {
                let path = data_file(dir, n).map_err(|e| err(d, e))?;
                // A missing IP list matches nothing (CRS ships none by default).
                if let Ok(t) = std::fs::read_to_string(&path) {
                    ip_list(&t, &mut set);
                }
            }
            Op::IpMatch(set.finish())
        }
        "validatebyterange" => Op::ValidateByteRange(Box::new(byte_ranges(&param))),
        "validateurlencoding" => Op::ValidateUrlEncoding,
        "validateutf8encoding" => Op::ValidateUtf8,
        "detectsqli" => Op::DetectSqli,
        "detectxss" => Op::DetectXss,
        "unconditionalmatch" => Op::Unconditional,
        "nomatch" | "rbl" | "geolookup" => Op::Never,
        other => return Err(err(d, format!("operator @{other} is not emulated"))),
    };
    Ok((op, negated))
}

fn setvar(v: &str) -> Option<SetVar> {
    let (del, v) = match v.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (name, value) = match v.split_once('=') {
        Some((n, val)) => (n, Some(val)),
        None => (v, None),
    };
    let (coll, key) = name.split_once('.')?;
    let op = if del {
        SetOp::Delete
    } else {
        match value {
            None => SetOp::Set(Macro::parse("1")),
            Some(x) => match x.as_bytes().first() {
                Some(b'+') => SetOp::Add(Macro::parse(&x[1..])),
                Some(b'-') => SetOp::Sub(Macro::parse(&x[1..])),
                _ => SetOp::Set(Macro::parse(x)),
            },
        }
    };
    Some(SetVar {
        coll: coll.trim().to_ascii_uppercase(),
        key: Macro::parse(&key.trim().to_ascii_lowercase()),
        op,
    })
}

fn ctl(d: &Directive, v: &str) -> Result<Option<Ctl>, SecLangError> {
    let Some((k, val)) = v.split_once('=') else {
        return Ok(None);
    };
    let target_list = |s: &str| -> Result<Vec<Exclusion>, SecLangError> {
        let (t, _) = targets(s).map_err(|e| err(d, e))?;
        Ok(t.into_iter()
            .map(|t| Exclusion {
                coll: t.coll,
                sel: t.sel,
            })
            .collect())
    };
    Ok(Some(match k.to_ascii_lowercase().as_str() {
        "ruleremovebyid" => Ctl::RuleRemoveById(ranges(val)),
        "ruleremovebytag" => Ctl::RuleRemoveByTag(val.to_string()),
        "ruleremovetargetbyid" => {
            let (ids, t) = val.split_once(';').unwrap_or((val, ""));
            Ctl::RuleRemoveTargetById(ranges(ids), target_list(t)?)
        }
        "ruleremovetargetbytag" => {
            let (tag, t) = val.split_once(';').unwrap_or((val, ""));
            Ctl::RuleRemoveTargetByTag(tag.to_string(), target_list(t)?)
        }
        "ruleengine" if val.eq_ignore_ascii_case("off") => Ctl::EngineOff,
        "requestbodyprocessor" => Ctl::BodyProcessor(val.to_ascii_uppercase()),
        "forcerequestbodyvariable" if val.eq_ignore_ascii_case("on") => Ctl::ForceBodyVariable,
        "requestbodyaccess" if val.eq_ignore_ascii_case("off") => Ctl::BodyAccessOff,
        _ => return Ok(None),
    }))
}

struct Meta {
    id: Option<u32>,
    phase: u8,
    msg: Option<String>,
    tags: Vec<String>,
    severity: Option<String>,
    log: bool,
    chain: bool,
    skip_after: Option<String>,
    skip: u32,
}

fn link(
    d: &Directive,
    vars: Option<&str>,
    op: Option<&str>,
    acts: &str,
) -> Result<(Link, Meta), SecLangError> {
    let (targets, exclusions) = match vars {
        Some(v) => targets(v).map_err(|e| err(d, e))?,
        None => (Vec::new(), Vec::new()),
    };
    let (op, negated) = match op {
        Some(o) => operator(d, o)?,
        None => (Op::Unconditional, false),
    };
    let mut l = Link {
        targets,
        exclusions,
        op,
        negated,
        transforms: Vec::new(),
        multi_match: false,
        capture: false,
        setvars: Vec::new(),
        ctls: Vec::new(),
        chain_id: 0,
    };
    let mut m = Meta {
        id: None,
        phase: 2,
        msg: None,
        tags: Vec::new(),
        severity: None,
        log: true,
        chain: false,
        skip_after: None,
        skip: 0,
    };
    for (k, v) in seclang::actions(acts) {
        let v = v.unwrap_or_default();
        match k.to_ascii_lowercase().as_str() {
            "id" => m.id = v.parse().ok(),
            "phase" => {
                m.phase = match v.as_str() {
                    "request" => 2,
                    "response" => 4,
                    "logging" => 5,
                    n => n.parse().unwrap_or(2),
                }
            }
            "msg" => m.msg = Some(v),
            "tag" => m.tags.push(v),
            "severity" => m.severity = Some(v),
            "log" => m.log = true,
            "nolog" => m.log = false,
            "chain" => m.chain = true,
            "skipafter" => m.skip_after = Some(v),
            "skip" => m.skip = v.parse().unwrap_or(0),
            "t" => match Transform::parse(&v) {
                Ok(Some(t)) => l.transforms.push(t),
                Ok(None) => l.transforms.clear(),
                Err(()) => return Err(err(d, format!("transformation t:{v} is not emulated"))),
            },
            "multimatch" => l.multi_match = true,
            "capture" => l.capture = true,
            "setvar" => {
                if let Some(s) = setvar(&v) {
                    l.setvars.push(s);
                }
            }
            "ctl" => {
                if let Some(c) = ctl(d, &v)? {
                    l.ctls.push(c);
                }
            }
            _ => {}
        }
    }
    Ok((l, m))
}

/// Compiles the directives of a CRS release's request rule files, in order.
pub(crate) fn compile(directives: &[Directive]) -> Result<Compiled, SecLangError> {
    let mut out = Compiled::default();
    // Rules are numbered in order; entries refer to them.
    let mut pending: Option<(Rule, usize)> = None;
    let mut markers: Vec<(usize, String)> = Vec::new();
    let mut order: Vec<(usize, usize)> = Vec::new(); // (directive index, rule index)
    for (di, d) in directives.iter().enumerate() {
        let name = d.name.to_ascii_lowercase();
        match name.as_str() {
            "secrule" | "secaction" => {
                let (vars, op, acts) = if name == "secrule" {
                    if d.args.len() < 2 {
                        return Err(err(d, "SecRule needs variables and an operator"));
                    }
                    (
                        Some(d.args[0].as_str()),
                        Some(d.args[1].as_str()),
                        d.args.get(2).map(String::as_str).unwrap_or(""),
                    )
                } else {
                    (None, None, d.args.first().map(String::as_str).unwrap_or(""))
                };
                let (l, m) = link(d, vars, op, acts)?;
                if let Some((mut rule, start)) = pending.take() {
                    rule.chain.push(l);
                    if m.chain {
                        pending = Some((rule, start));
                    } else {
                        order.push((start, out.rules.len()));
                        out.rules.push(rule);
                    }
                    continue;
                }
                let Some(id) = m.id else {
                    return Err(err(d, "a rule without an id"));
                };
                let paranoia = m
                    .tags
                    .iter()
                    .find_map(|t| t.strip_prefix("paranoia-level/")?.parse().ok());
                let rule = Rule {
                    id,
                    phase: m.phase,
                    chain: vec![l],
                    msg: m.msg,
                    tags: m.tags,
                    severity: m.severity,
                    log: m.log,
                    skip_after: m.skip_after,
                    skip: m.skip,
                    file: d.file.clone(),
                    line: d.line,
                    score: None,
                    paranoia,
                };
                if m.chain {
                    pending = Some((rule, di));
                } else {
                    order.push((di, out.rules.len()));
                    out.rules.push(rule);
                }
            }
            "secmarker" => {
                let m = d.args.first().cloned().unwrap_or_default();
                markers.push((di, m));
            }
            "seccomponentsignature" => {
                if let Some(v) = d.args.first() {
                    out.version = Some(v.clone());
                }
            }
            "secruleremovebyid" => {
                let r: Vec<(u32, u32)> = d.args.iter().flat_map(|a| ranges(a)).collect();
                let keep: Vec<bool> = out
                    .rules
                    .iter()
                    .map(|x| !r.iter().any(|(a, b)| (*a..=*b).contains(&x.id)))
                    .collect();
                order.retain(|(_, i)| keep[*i]);
            }
            "secruleupdatetargetbyid" => {
                let ids: Vec<(u32, u32)> = d.args.first().map(|a| ranges(a)).unwrap_or_default();
                let (t, x) = targets(d.args.get(1).map(String::as_str).unwrap_or(""))
                    .map_err(|e| err(d, e))?;
                for r in out
                    .rules
                    .iter_mut()
                    .filter(|r| ids.iter().any(|(a, b)| (*a..=*b).contains(&r.id)))
                {
                    r.chain[0].targets.extend(t.iter().cloned());
                    r.chain[0].exclusions.extend(x.iter().cloned());
                }
            }
            // Engine settings, audit logging, collections on disk: nothing the emulation
            // evaluates (it always inspects the request body, in detection mode).
            _ => {}
        }
    }
    if let Some((rule, _)) = pending {
        return Err(SecLangError {
            file: rule.file.clone(),
            line: rule.line,
            message: format!("rule {} ends its chain without a next rule", rule.id),
        });
    }
    let mut chains: std::collections::HashMap<Vec<Transform>, u32> =
        std::collections::HashMap::new();
    for l in out.rules.iter_mut().flat_map(|r| r.chain.iter_mut()) {
        let n = chains.len() as u32;
        l.chain_id = *chains.entry(l.transforms.clone()).or_insert(n);
    }
    for r in &mut out.rules {
        r.score = r.chain.iter().flat_map(|l| &l.setvars).find_map(|s| {
            let key = String::from_utf8_lossy(&s.key.literal()).into_owned();
            let is_score = s.coll == "TX"
                && (key.starts_with("anomaly_score_pl")
                    || key.starts_with("inbound_anomaly_score_pl"));
            match (&s.op, is_score) {
                (SetOp::Add(m), true) => Some(m.clone()),
                _ => None,
            }
        });
    }
    // Phase lists: rules and markers by source order; a marker belongs to every phase.
    let mut entries: Vec<(usize, Entry)> = order
        .iter()
        .map(|(di, ri)| (*di, Entry::Rule(*ri)))
        .chain(markers.into_iter().map(|(di, m)| (di, Entry::Marker(m))))
        .collect();
    entries.sort_by_key(|(di, _)| *di);
    for (_, e) in entries {
        match &e {
            Entry::Rule(i) => match out.rules[*i].phase {
                1 => out.phases[0].push(e),
                2 => out.phases[1].push(e),
                _ => {}
            },
            Entry::Marker(_) => {
                out.phases[0].push(e.clone());
                out.phases[1].push(e);
            }
        }
    }
    for p in 0..2 {
        let list = &out.phases[p];
        out.jumps[p] = (0..list.len())
            .map(|i| {
                let Entry::Rule(r) = &list[i] else { return 0 };
                let Some(m) = &out.rules[*r].skip_after else {
                    return 0;
                };
                list[i + 1..]
                    .iter()
                    .position(|e| matches!(e, Entry::Marker(x) if x == m))
                    .map_or(list.len(), |k| i + 1 + k + 1)
            })
            .collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_with_counts_exclusions_and_regex_selectors() {
        let (t, x) =
            targets("REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS|ARGS:foo|XML:/*").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(x.len(), 1);
        assert!(t[1].count);
        assert!(matches!(&t[2].sel, Sel::Key(k) if k == "foo"));
        assert!(matches!(&t[3].sel, Sel::Key(k) if k == "/*"));
        assert!(x[0].sel.matches(b"__utmz"));
        assert!(targets("NOPE").is_err());
    }

    #[test]
    fn data_files_stay_beside_the_rules() {
        assert!(data_file(Path::new("/r"), "a.data").is_ok());
        assert!(data_file(Path::new("/r"), "../../etc/passwd").is_err());
        assert!(data_file(Path::new("/r"), "/etc/passwd").is_err());
    }

    #[test]
    fn macros_split_into_literals_and_variables() {
        let m = Macro::parse("a %{tx.0} b %{MATCHED_VAR}");
        assert_eq!(m.parts.len(), 4);
        assert!(matches!(&m.parts[1], Part::Var(c, k) if c == "TX" && k == "0"));
        assert!(matches!(&m.parts[3], Part::Var(c, k) if c == "MATCHED_VAR" && k.is_empty()));
    }
}

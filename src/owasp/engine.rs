//! One request through the compiled CRS rules, the way ModSecurity runs the request phases in
//! detection mode: phase 1 (headers), the body processor, phase 2 (body); each rule's targets
//! collected (minus exclusions), transformed, tested; on each match the rule's non-disruptive
//! actions (`capture`, `setvar`, `ctl`) run and, when a chain is complete, `skipAfter` jumps
//! to its marker. Disruptive actions are never taken (detection mode, anomaly scoring): the
//! caller decides from the score.

use rustc_hash::FxHashMap;

use super::body;
use super::rules::{Coll, Compiled, Ctl, Entry, Exclusion, Link, Macro, Op, Part, Rule, SetOp};

/// The request as the WAF saw it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query, not decoded).
    pub uri: String,
    /// `HTTP/1.1`.
    pub protocol: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote_addr: String,
}

/// One evaluated rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluated {
    /// Index into the release's rules.
    pub rule: usize,
    pub matched: bool,
}

/// Values of one collection: (key, value).
type Values = Vec<(Vec<u8>, Vec<u8>)>;

/// A value a link inspects: a member of a request collection (read in place, its
/// transformations memoized), or a value made for the link (TX, counts, MATCHED_*).
enum Val {
    Data { coll: Coll, idx: u32, keyed: bool },
    Owned(Vec<u8>, Vec<u8>),
}

const COLLS: usize = 64;

pub(crate) struct Transaction<'c> {
    crs: &'c Compiled,
    data: Vec<Values>,
    tx: FxHashMap<String, Vec<u8>>,
    /// IP, GLOBAL, SESSION… keyed `COLL.key`: per transaction (nothing persists offline).
    other: FxHashMap<String, Vec<u8>>,
    matched_var: (Vec<u8>, Vec<u8>),
    matched_vars: Values,
    removed_ids: Vec<(u32, u32)>,
    removed_tags: Vec<String>,
    removed_targets_id: Vec<((u32, u32), Exclusion)>,
    removed_targets_tag: Vec<(String, Exclusion)>,
    engine_off: bool,
    processor: Option<String>,
    force_body: bool,
    body_access: bool,
    body: Vec<u8>,
    content_type: String,
    /// Regexes built from macros, by their expanded text.
    rx_cache: std::cell::RefCell<FxHashMap<Vec<u8>, Option<super::rules::Rx>>>,
    /// Transformed request values by (collection, member, transformation chain): CRS applies
    /// the same few chains to the same values in rule after rule.
    memo: FxHashMap<(u8, u32, u32), Vec<u8>>,
    pub(crate) evaluated: Vec<Evaluated>,
}

fn set(data: &mut [Values], c: Coll, v: Values) {
    data[c as usize] = v;
}

fn one(name: &str, value: impl Into<Vec<u8>>) -> Values {
    vec![(name.as_bytes().to_vec(), value.into())]
}

fn names(v: &Values) -> Values {
    v.iter().map(|(k, _)| (k.clone(), k.clone())).collect()
}

impl<'c> Transaction<'c> {
    pub(crate) fn new(crs: &'c Compiled, req: &Request, tx: &[(&str, String)]) -> Self {
        let mut data: Vec<Values> = vec![Vec::new(); COLLS];
        let (path, query) = match req.uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (req.uri.as_str(), None),
        };
        // An absolute-form target: the path is what follows the authority.
        let path = match path.find("://") {
            Some(i) => path[i + 3..]
                .find('/')
                .map(|j| &path[i + 3 + j..])
                .unwrap_or("/"),
            None => path,
        };
        let get = query
            .map(|q| body::urlencoded(q.as_bytes()))
            .unwrap_or_default();
        set(&mut data, Coll::ArgsGet, get.clone());
        set(&mut data, Coll::ArgsGetNames, names(&get));
        set(&mut data, Coll::Args, get);
        set(
            &mut data,
            Coll::QueryString,
            one("QUERY_STRING", query.unwrap_or("")),
        );
        set(
            &mut data,
            Coll::RequestFilename,
            one("REQUEST_FILENAME", path),
        );
        let base = path.rsplit('/').next().unwrap_or(path);
        set(
            &mut data,
            Coll::RequestBasename,
            one("REQUEST_BASENAME", base),
        );
        set(
            &mut data,
            Coll::RequestUri,
            one("REQUEST_URI", req.uri.as_str()),
        );
        set(
            &mut data,
            Coll::RequestUriRaw,
            one("REQUEST_URI_RAW", req.uri.as_str()),
        );
        let line = format!("{} {} {}", req.method, req.uri, req.protocol);
        set(
            &mut data,
            Coll::RequestLine,
            one("REQUEST_LINE", line.as_str()),
        );
        set(
            &mut data,
            Coll::RequestMethod,
            one("REQUEST_METHOD", req.method.as_str()),
        );
        set(
            &mut data,
            Coll::RequestProtocol,
            one("REQUEST_PROTOCOL", req.protocol.as_str()),
        );
        let headers: Values = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let mut cookies = Values::new();
        for (k, v) in &req.headers {
            if k.eq_ignore_ascii_case("cookie") {
                for c in v.split(';') {
                    let c = c.trim_start();
                    if c.is_empty() {
                        continue;
                    }
                    match c.split_once('=') {
                        Some((n, val)) => {
                            cookies.push((n.as_bytes().to_vec(), val.as_bytes().to_vec()));
                        }
                        None => cookies.push((c.as_bytes().to_vec(), Vec::new())),
                    }
                }
            }
        }
        let content_type = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        set(&mut data, Coll::RequestHeadersNames, names(&headers));
        set(&mut data, Coll::RequestHeaders, headers);
        set(&mut data, Coll::RequestCookiesNames, names(&cookies));
        set(&mut data, Coll::RequestCookies, cookies);
        set(
            &mut data,
            Coll::RemoteAddr,
            one("REMOTE_ADDR", req.remote_addr.as_str()),
        );
        set(
            &mut data,
            Coll::RemoteHost,
            one("REMOTE_HOST", req.remote_addr.as_str()),
        );
        set(&mut data, Coll::RemotePort, one("REMOTE_PORT", "40000"));
        let host = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("localhost");
        set(&mut data, Coll::ServerName, one("SERVER_NAME", host));
        set(&mut data, Coll::ServerPort, one("SERVER_PORT", "80"));
        set(&mut data, Coll::UniqueId, one("UNIQUE_ID", "rulegate"));
        set(&mut data, Coll::Duration, one("DURATION", "0"));
        set(&mut data, Coll::ReqbodyError, one("REQBODY_ERROR", "0"));
        set(
            &mut data,
            Coll::MultipartStrictError,
            one("MULTIPART_STRICT_ERROR", "0"),
        );
        set(
            &mut data,
            Coll::MultipartUnmatchedBoundary,
            one("MULTIPART_UNMATCHED_BOUNDARY", "0"),
        );
        let ct = content_type.to_ascii_lowercase();
        let mt = ct.split(';').next().unwrap_or("").trim();
        // The processor ModSecurity picks from the Content-Type (URL-encoded and multipart
        // itself; XML and JSON by the recommended configuration's rules 200000 and 200001).
        let processor = if mt == "application/x-www-form-urlencoded" {
            Some("URLENCODED")
        } else if mt == "multipart/form-data" {
            Some("MULTIPART")
        } else if mt == "application/json"
            || (mt.starts_with("application/") && mt.ends_with("+json"))
        {
            Some("JSON")
        } else if mt.ends_with("/xml") || mt.ends_with("+xml") {
            Some("XML")
        } else {
            None
        };
        // Empty without a processor: CRS's rule 901340 forces the body variable when the
        // processor is none of the four, which needs a value to test.
        set(
            &mut data,
            Coll::ReqbodyProcessor,
            one("REQBODY_PROCESSOR", processor.unwrap_or("")),
        );
        let full = {
            let mut f = line.clone().into_bytes();
            f.extend_from_slice(b"\r\n");
            for (k, v) in &req.headers {
                f.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            f.extend_from_slice(b"\r\n");
            f.extend_from_slice(&req.body);
            f
        };
        set(
            &mut data,
            Coll::FullRequestLength,
            one("FULL_REQUEST_LENGTH", full.len().to_string()),
        );
        set(&mut data, Coll::FullRequest, one("FULL_REQUEST", full));
        let mut t = Transaction {
            crs,
            data,
            tx: FxHashMap::default(),
            other: FxHashMap::default(),
            matched_var: (Vec::new(), Vec::new()),
            matched_vars: Vec::new(),
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets_id: Vec::new(),
            removed_targets_tag: Vec::new(),
            engine_off: false,
            processor: processor.map(String::from),
            force_body: false,
            body_access: true,
            body: req.body.clone(),
            content_type,
            rx_cache: std::cell::RefCell::new(FxHashMap::default()),
            memo: FxHashMap::default(),
            evaluated: Vec::new(),
        };
        for (k, v) in tx {
            t.tx.insert(k.to_ascii_lowercase(), v.as_bytes().to_vec());
        }
        t.update_args_size();
        t
    }

    fn update_args_size(&mut self) {
        let n: usize = self.data[Coll::Args as usize]
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        set(
            &mut self.data,
            Coll::ArgsCombinedSize,
            one("ARGS_COMBINED_SIZE", n.to_string()),
        );
    }

    /// The TX value of `key` (lower case).
    pub(crate) fn tx(&self, key: &str) -> Option<&[u8]> {
        self.tx.get(key).map(Vec::as_slice)
    }

    /// Runs phases 1 and 2; `skip(rule)` leaves a rule out (disabled by the caller).
    pub(crate) fn run(&mut self, skip: &dyn Fn(usize) -> bool) {
        self.run_phase(0, skip);
        if !self.engine_off {
            self.process_body();
            self.run_phase(1, skip);
        }
    }

    fn process_body(&mut self) {
        self.memo.clear();
        let body = std::mem::take(&mut self.body);
        let mut post = Values::new();
        let mut error: Option<String> = None;
        if self.body_access && !body.is_empty() {
            match self.processor.as_deref() {
                Some("URLENCODED") => post = body::urlencoded(&body),
                Some("MULTIPART") => match body::boundary(&self.content_type) {
                    Some(b) => {
                        let m = body::multipart(&body, &b);
                        post = m.args;
                        let files: Values = m
                            .files
                            .iter()
                            .map(|(n, f, _)| (n.clone(), f.clone()))
                            .collect();
                        let sizes: Values = m
                            .files
                            .iter()
                            .map(|(n, _, s)| (n.clone(), s.to_string().into_bytes()))
                            .collect();
                        let total: usize = m.files.iter().map(|(_, _, s)| s).sum();
                        set(&mut self.data, Coll::FilesNames, names(&files));
                        set(&mut self.data, Coll::Files, files);
                        set(&mut self.data, Coll::FilesSizes, sizes);
                        set(
                            &mut self.data,
                            Coll::FilesCombinedSize,
                            one("FILES_COMBINED_SIZE", total.to_string()),
                        );
                        set(&mut self.data, Coll::MultipartPartHeaders, m.part_headers);
                        if m.error.is_some() {
                            set(
                                &mut self.data,
                                Coll::MultipartStrictError,
                                one("MULTIPART_STRICT_ERROR", "1"),
                            );
                        }
                        error = m.error;
                    }
                    None => error = Some("multipart without a boundary".into()),
                },
                Some("JSON") => match body::json(&body) {
                    Ok(a) => post = a,
                    Err(e) => error = Some(format!("JSON parsing error: {e}")),
                },
                Some("XML") => match body::xml(&body) {
                    Ok((text, attrs)) => {
                        let mut x = one("/*", text);
                        x.extend(attrs.into_iter().map(|a| (b"//@*".to_vec(), a)));
                        set(&mut self.data, Coll::Xml, x);
                    }
                    Err(e) => error = Some(format!("XML parsing error: {e}")),
                },
                _ => {}
            }
        }
        if let Some(e) = error {
            set(
                &mut self.data,
                Coll::ReqbodyError,
                one("REQBODY_ERROR", "1"),
            );
            set(
                &mut self.data,
                Coll::ReqbodyErrorMsg,
                one("REQBODY_ERROR_MSG", e),
            );
        }
        let raw_body = self.force_body || self.processor.as_deref() == Some("URLENCODED");
        if raw_body && self.body_access {
            set(
                &mut self.data,
                Coll::RequestBodyLength,
                one("REQUEST_BODY_LENGTH", body.len().to_string()),
            );
            set(&mut self.data, Coll::RequestBody, one("REQUEST_BODY", body));
        } else {
            set(
                &mut self.data,
                Coll::RequestBodyLength,
                one("REQUEST_BODY_LENGTH", body.len().to_string()),
            );
        }
        set(&mut self.data, Coll::ArgsPostNames, names(&post));
        self.data[Coll::Args as usize].extend(post.iter().cloned());
        self.data[Coll::ArgsNames as usize] = names(&self.data[Coll::Args as usize]);
        set(&mut self.data, Coll::ArgsPost, post);
        self.update_args_size();
    }

    fn removed(&self, rule: &Rule) -> bool {
        self.removed_ids
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&rule.id))
            || self
                .removed_tags
                .iter()
                .any(|t| rule.tags.iter().any(|x| x == t))
    }

    fn run_phase(&mut self, phase: usize, skip: &dyn Fn(usize) -> bool) {
        let crs = self.crs;
        let list = &crs.phases[phase];
        // ARGS_NAMES before the body is read: the query's.
        if phase == 0 {
            self.data[Coll::ArgsNames as usize] = names(&self.data[Coll::Args as usize]);
        }
        let mut i = 0;
        while i < list.len() {
            if self.engine_off {
                return;
            }
            let Entry::Rule(r) = &list[i] else {
                i += 1;
                continue;
            };
            let rule = &crs.rules[*r];
            if skip(*r) || self.removed(rule) {
                i += 1;
                continue;
            }
            let matched = self.eval_rule(rule);
            self.evaluated.push(Evaluated { rule: *r, matched });
            if matched {
                if rule.skip_after.is_some() {
                    // No such marker later in the phase: ModSecurity skips to its end.
                    i = crs.jumps[phase][i];
                    continue;
                }
                if rule.skip > 0 {
                    let mut left = rule.skip;
                    i += 1;
                    while i < list.len() && left > 0 {
                        if matches!(list[i], Entry::Rule(_)) {
                            left -= 1;
                        }
                        i += 1;
                    }
                    continue;
                }
            }
            i += 1;
        }
    }

    fn eval_rule(&mut self, rule: &Rule) -> bool {
        for link in &rule.chain {
            if !self.eval_link(rule, link) {
                return false;
            }
        }
        true
    }

    /// The values a link inspects: (MATCHED_VAR_NAME, value).
    fn values(&self, rule: &Rule, link: &Link) -> Vec<Val> {
        let mut out: Vec<Val> = Vec::new();
        for t in &link.targets {
            let excluded = |key: &[u8]| {
                link.exclusions
                    .iter()
                    .any(|x| x.coll == t.coll && x.sel.matches(key))
                    || self.removed_targets_id.iter().any(|((a, b), x)| {
                        (*a..=*b).contains(&rule.id) && x.coll == t.coll && x.sel.matches(key)
                    })
                    || self.removed_targets_tag.iter().any(|(tag, x)| {
                        rule.tags.iter().any(|g| g == tag) && x.coll == t.coll && x.sel.matches(key)
                    })
            };
            let name = t.coll.name();
            let mut push = |key: &[u8], value: &[u8], keyed: bool| {
                let full = if keyed {
                    let mut n = Vec::with_capacity(name.len() + 1 + key.len());
                    n.extend_from_slice(name.as_bytes());
                    n.push(b':');
                    n.extend_from_slice(key);
                    n
                } else {
                    name.as_bytes().to_vec()
                };
                out.push(Val::Owned(full, value.to_vec()));
            };
            let mut count = 0usize;
            match t.coll {
                Coll::Tx
                | Coll::Ip
                | Coll::Global
                | Coll::Session
                | Coll::User
                | Coll::Resource
                | Coll::Geo
                | Coll::Env => {
                    // One key: a lookup (most TX targets are one variable).
                    if let super::rules::Sel::Key(k) = &t.sel {
                        let v = if t.coll == Coll::Tx {
                            self.tx.get(k.as_str())
                        } else {
                            self.other.get(&format!("{name}.{k}"))
                        };
                        if let Some(v) = v
                            && !excluded(k.as_bytes())
                        {
                            count += 1;
                            if !t.count {
                                push(k.as_bytes(), v, true);
                            }
                        }
                        if t.count {
                            out.push(Val::Owned(
                                format!("&{name}").into_bytes(),
                                count.to_string().into_bytes(),
                            ));
                        }
                        continue;
                    }
                    let mut items: Vec<(&[u8], &[u8])> = if t.coll == Coll::Tx {
                        self.tx
                            .iter()
                            .map(|(k, v)| (k.as_bytes(), v.as_slice()))
                            .collect()
                    } else {
                        let prefix = format!("{name}.");
                        self.other
                            .iter()
                            .filter_map(|(k, v)| {
                                Some((k.strip_prefix(&prefix)?.as_bytes(), v.as_slice()))
                            })
                            .collect()
                    };
                    items.sort();
                    for (k, v) in items {
                        if t.sel.matches(k) && !excluded(k) {
                            count += 1;
                            if !t.count {
                                push(k, v, true);
                            }
                        }
                    }
                }
                Coll::MatchedVar => {
                    count = 1;
                    if !t.count {
                        out.push(Val::Owned(
                            b"MATCHED_VAR".to_vec(),
                            self.matched_var.1.clone(),
                        ));
                    }
                }
                Coll::MatchedVarName => {
                    count = 1;
                    if !t.count {
                        out.push(Val::Owned(
                            b"MATCHED_VAR_NAME".to_vec(),
                            self.matched_var.0.clone(),
                        ));
                    }
                }
                Coll::MatchedVars | Coll::MatchedVarsNames => {
                    for (k, v) in &self.matched_vars {
                        count += 1;
                        if !t.count {
                            let value = if t.coll == Coll::MatchedVars { v } else { k };
                            out.push(Val::Owned(k.clone(), value.clone()));
                        }
                    }
                }
                c => {
                    let keyed = !matches!(
                        c,
                        Coll::RequestFilename
                            | Coll::RequestBasename
                            | Coll::RequestUri
                            | Coll::RequestUriRaw
                            | Coll::RequestLine
                            | Coll::RequestMethod
                            | Coll::RequestProtocol
                            | Coll::QueryString
                            | Coll::RequestBody
                            | Coll::RequestBodyLength
                            | Coll::ArgsCombinedSize
                            | Coll::FilesCombinedSize
                            | Coll::ReqbodyError
                            | Coll::ReqbodyErrorMsg
                            | Coll::ReqbodyProcessor
                            | Coll::RemoteAddr
                            | Coll::RemoteHost
                            | Coll::RemotePort
                            | Coll::ServerName
                            | Coll::ServerPort
                            | Coll::UniqueId
                            | Coll::Duration
                            | Coll::MultipartStrictError
                            | Coll::MultipartUnmatchedBoundary
                            | Coll::FullRequest
                            | Coll::FullRequestLength
                            | Coll::AuthType
                    );
                    for (i, (k, _)) in self.data[c as usize].iter().enumerate() {
                        let sel_key: &[u8] = if keyed { k } else { b"" };
                        if keyed && !t.sel.matches(sel_key) {
                            continue;
                        }
                        if excluded(sel_key) {
                            continue;
                        }
                        count += 1;
                        if !t.count {
                            out.push(Val::Data {
                                coll: c,
                                idx: i as u32,
                                keyed,
                            });
                        }
                    }
                }
            }
            if t.count {
                out.push(Val::Owned(
                    format!("&{name}").into_bytes(),
                    count.to_string().into_bytes(),
                ));
            }
        }
        out
    }

    /// The MATCHED_VAR_NAME of a value (built only for a match).
    fn val_name(&self, v: &Val) -> Vec<u8> {
        match v {
            Val::Owned(n, _) => n.clone(),
            Val::Data { coll, idx, keyed } => {
                let name = coll.name();
                if !*keyed {
                    return name.as_bytes().to_vec();
                }
                let key = &self.data[*coll as usize][*idx as usize].0;
                let mut n = Vec::with_capacity(name.len() + 1 + key.len());
                n.extend_from_slice(name.as_bytes());
                n.push(b':');
                n.extend_from_slice(key);
                n
            }
        }
    }

    fn raw<'a>(&'a self, v: &'a Val) -> &'a [u8] {
        match v {
            Val::Owned(_, value) => value,
            Val::Data { coll, idx, .. } => &self.data[*coll as usize][*idx as usize].1,
        }
    }

    /// Whether the operator matches `val` (after the link's transformations, at each stage
    /// with multiMatch): its captures.
    fn test(&mut self, link: &Link, val: &Val) -> Option<Vec<Vec<u8>>> {
        let outcome = |hit: Option<Vec<Vec<u8>>>| match (hit, link.negated) {
            (Some(c), false) => Some(c),
            (None, true) => Some(Vec::new()),
            _ => None,
        };
        if link.multi_match {
            let mut cur = self.raw(val).to_vec();
            if let Some(c) = outcome(self.operate(&link.op, &cur, link.capture)) {
                return Some(c);
            }
            for t in &link.transforms {
                cur = t.apply(&cur);
                if let Some(c) = outcome(self.operate(&link.op, &cur, link.capture)) {
                    return Some(c);
                }
            }
            return None;
        }
        if link.transforms.is_empty() {
            return outcome(self.operate(&link.op, self.raw(val), link.capture));
        }
        match val {
            Val::Data { coll, idx, .. } => {
                let key = (*coll as u8, *idx, link.chain_id);
                if !self.memo.contains_key(&key) {
                    let out = apply_all(
                        &link.transforms,
                        &self.data[*coll as usize][*idx as usize].1,
                    );
                    self.memo.insert(key, out);
                }
                let v = &self.memo[&key];
                outcome(self.operate(&link.op, v, link.capture))
            }
            Val::Owned(_, raw) => {
                let v = apply_all(&link.transforms, raw);
                outcome(self.operate(&link.op, &v, link.capture))
            }
        }
    }

    fn eval_link(&mut self, rule: &Rule, link: &Link) -> bool {
        let values = if link.targets.is_empty() {
            // SecAction: one unconditional evaluation.
            vec![Val::Owned(Vec::new(), Vec::new())]
        } else {
            self.values(rule, link)
        };
        let mut matched: Values = Vec::new();
        for val in &values {
            let Some(caps) = self.test(link, val) else {
                continue;
            };
            if link.capture && !caps.is_empty() {
                for i in 0..10 {
                    self.tx.remove(&i.to_string());
                }
                for (i, c) in caps.into_iter().enumerate() {
                    self.tx.insert(i.to_string(), c);
                }
            }
            let name = self.val_name(val);
            let value = self.raw(val).to_vec();
            self.matched_var = (name.clone(), value.clone());
            matched.push((name, value));
            self.actions(rule, link);
        }
        if matched.is_empty() {
            return false;
        }
        self.matched_vars = matched;
        true
    }

    fn actions(&mut self, rule: &Rule, link: &Link) {
        for s in &link.setvars {
            let key = String::from_utf8_lossy(&self.expand(&s.key, rule)).to_ascii_lowercase();
            let current = |t: &Self| -> i64 {
                let v = if s.coll == "TX" {
                    t.tx.get(&key)
                } else {
                    t.other.get(&format!("{}.{key}", s.coll))
                };
                v.map(|v| atoi(v)).unwrap_or(0)
            };
            let new = match &s.op {
                SetOp::Delete => None,
                SetOp::Set(m) => Some(self.expand(m, rule)),
                SetOp::Add(m) => {
                    let n = atoi(&self.expand(m, rule));
                    Some((current(self).saturating_add(n)).to_string().into_bytes())
                }
                SetOp::Sub(m) => {
                    let n = atoi(&self.expand(m, rule));
                    Some((current(self).saturating_sub(n)).to_string().into_bytes())
                }
            };
            let map = if s.coll == "TX" {
                &mut self.tx
            } else {
                &mut self.other
            };
            let k = if s.coll == "TX" {
                key
            } else {
                format!("{}.{key}", s.coll)
            };
            match new {
                Some(v) => {
                    map.insert(k, v);
                }
                None => {
                    map.remove(&k);
                }
            }
        }
        for c in &link.ctls {
            match c {
                Ctl::RuleRemoveById(r) => self.removed_ids.extend(r.iter().copied()),
                Ctl::RuleRemoveByTag(t) => self.removed_tags.push(t.clone()),
                Ctl::RuleRemoveTargetById(ids, xs) => {
                    for id in ids {
                        for x in xs {
                            self.removed_targets_id.push((*id, x.clone()));
                        }
                    }
                }
                Ctl::RuleRemoveTargetByTag(tag, xs) => {
                    for x in xs {
                        self.removed_targets_tag.push((tag.clone(), x.clone()));
                    }
                }
                Ctl::EngineOff => self.engine_off = true,
                Ctl::BodyProcessor(p) => {
                    self.memo.clear();
                    self.processor = Some(p.clone());
                    set(
                        &mut self.data,
                        Coll::ReqbodyProcessor,
                        one("REQBODY_PROCESSOR", p.as_str()),
                    );
                }
                Ctl::ForceBodyVariable => self.force_body = true,
                Ctl::BodyAccessOff => self.body_access = false,
            }
        }
    }

    /// A macro's text in this transaction.
    pub(crate) fn expand(&self, m: &Macro, rule: &Rule) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &m.parts {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Var(c, k) => match c.as_str() {
                    "TX" => {
                        if let Some(v) = self.tx.get(k) {
                            out.extend_from_slice(v);
                        }
                    }
                    "MATCHED_VAR" => out.extend_from_slice(&self.matched_var.1),
                    "MATCHED_VAR_NAME" => out.extend_from_slice(&self.matched_var.0),
                    "RULE" => match k.as_str() {
                        "id" => out.extend_from_slice(rule.id.to_string().as_bytes()),
                        "msg" => {
                            out.extend_from_slice(rule.msg.as_deref().unwrap_or("").as_bytes());
                        }
                        _ => {}
                    },
                    other => {
                        if let Some(coll) = Coll::parse(other) {
                            let vals = &self.data[coll as usize];
                            let v = if k.is_empty() {
                                vals.first()
                            } else {
                                vals.iter()
                                    .find(|(n, _)| n.eq_ignore_ascii_case(k.as_bytes()))
                            };
                            if let Some((_, v)) = v {
                                out.extend_from_slice(v);
                            } else if let Some(v) = self.other.get(&format!("{other}.{k}")) {
                                out.extend_from_slice(v);
                            }
                        }
                    }
                },
            }
        }
        out
    }

    fn param(&self, m: &Macro) -> Vec<u8> {
        if m.is_static() {
            return m.literal();
        }
        // Operator parameters expand against the transaction; rule-scoped macros are rare.
        static EMPTY: std::sync::LazyLock<Rule> = std::sync::LazyLock::new(|| Rule {
            id: 0,
            phase: 0,
            chain: Vec::new(),
            msg: None,
            tags: Vec::new(),
            severity: None,
            log: false,
            skip_after: None,
            skip: 0,
            file: Default::default(),
            line: 0,
            score: None,
            paranoia: None,
        });
        self.expand(m, &EMPTY)
    }

    /// The operator's answer: `Some(captures)` on a match.
    fn operate(&self, op: &Op, v: &[u8], capture: bool) -> Option<Vec<Vec<u8>>> {
        let yes = |b: bool| b.then(Vec::new);
        match op {
            Op::Rx(r) => r.find(v, capture),
            Op::RxMacro(m) => {
                let p = self.param(m);
                let mut cache = self.rx_cache.borrow_mut();
                let r = cache
                    .entry(p.clone())
                    .or_insert_with(|| super::rules::Rx::new(&String::from_utf8_lossy(&p)).ok());
                r.as_ref()?.find(v, capture)
            }
            Op::Pm(ac) => {
                let m = ac.find(v)?;
                Some(if capture {
                    vec![v[m.start()..m.end()].to_vec()]
                } else {
                    Vec::new()
                })
            }
            Op::Within(m) => {
                let p = self.param(m);
                yes(!v.is_empty() && memchr::memmem::find(&p, v).is_some())
                    .map(|_| vec![v.to_vec()])
            }
            Op::Contains(m) => {
                let p = self.param(m);
                memchr::memmem::find(v, &p).map(|_| vec![p.clone()])
            }
            Op::ContainsWord(m) => {
                let p = self.param(m);
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                let found = memchr::memmem::find_iter(v, &p).any(|i| {
                    (i == 0 || !word(v[i - 1])) && v.get(i + p.len()).is_none_or(|c| !word(*c))
                });
                yes(found).map(|_| vec![p.clone()])
            }
            Op::BeginsWith(m) => {
                let p = self.param(m);
                yes(v.starts_with(&p)).map(|_| vec![p.clone()])
            }
            Op::EndsWith(m) => {
                let p = self.param(m);
                yes(v.ends_with(&p)).map(|_| vec![p.clone()])
            }
            Op::StrEq(m) => yes(v == self.param(m).as_slice()),
            Op::Eq(m) => yes(atoi(v) == atoi(&self.param(m))),
            Op::Ge(m) => yes(atoi(v) >= atoi(&self.param(m))),
            Op::Gt(m) => yes(atoi(v) > atoi(&self.param(m))),
            Op::Le(m) => yes(atoi(v) <= atoi(&self.param(m))),
            Op::Lt(m) => yes(atoi(v) < atoi(&self.param(m))),
            Op::IpMatch(nets) => {
                let ip: std::net::IpAddr = std::str::from_utf8(v).ok()?.trim().parse().ok()?;
                yes(nets.contains(&ip))
            }
            Op::ValidateByteRange(ok) => {
                let bad = v.iter().find(|b| !ok[**b as usize])?;
                Some(vec![vec![*bad]])
            }
            Op::ValidateUrlEncoding => yes(invalid_url_encoding(v)),
            Op::ValidateUtf8 => yes(std::str::from_utf8(v).is_err()),
            Op::DetectSqli => {
                let r = libinjectionrs::detect_sqli(v);
                r.is_injection().then(|| {
                    vec![
                        r.fingerprint
                            .map(|f| f.to_string().into_bytes())
                            .unwrap_or_default(),
                    ]
                })
            }
            Op::DetectXss => yes(libinjectionrs::detect_xss(v).is_injection()),
            Op::Unconditional => Some(Vec::new()),
            Op::Never => None,
        }
    }
}

fn apply_all(ts: &[super::transform::Transform], v: &[u8]) -> Vec<u8> {
    let mut cur = ts[0].apply(v);
    for t in &ts[1..] {
        cur = t.apply(&cur);
    }
    cur
}

/// ModSecurity's integer reading: optional space and sign, then digits; anything else 0.
pub(crate) fn atoi(v: &[u8]) -> i64 {
    let s = std::str::from_utf8(v).unwrap_or("").trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = s
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    let n: i64 = digits.parse().unwrap_or(0);
    if neg { -n } else { n }
}

fn invalid_url_encoding(v: &[u8]) -> bool {
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' {
            if i + 2 >= v.len() || !v[i + 1].is_ascii_hexdigit() || !v[i + 2].is_ascii_hexdigit() {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

//! Turns a parsed [`SuiteFile`] into [`Suite`]: merges `defaults` into each request, expands
//! `${VARS}`, joins relative URLs to `base_url` and validates every value. Each problem becomes
//! a [`Diagnostic`] at the value's position; building goes on so that all problems are reported.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

use crate::diag::{Diagnostic, Pos};
use crate::text::suggestion;
use crate::trace::validate::{self, Problem};
use crate::trace::view::KNOWN_ACTIONS;
use crate::trace::{Geoloc, TraceBody, TraceContext, TraceItem, TraceRequest};

use super::model::IgnoreSpec;
use super::model::{
    BodySpec, CaseSpec, ContextSpec, ExpectSpec, GeolocSpec, MatrixSpec, RequestSpec, S, StepSpec,
    StringList, SuiteFile,
};
use super::vars::VarError;
use super::{Case, Expectations, Selector, Suite, Vars};

pub(crate) struct Builder<'a> {
    file: PathBuf,
    /// The suite's variables; a matrix case's trials each see theirs with one combination.
    vars: std::borrow::Cow<'a, Vars>,
    /// The suite's `snapshot:` (cases without their own take it).
    suite_snapshot: bool,
    pub diagnostics: Vec<Diagnostic>,
}

fn pos(loc: &Location) -> Option<Pos> {
    (loc.line() > 0).then(|| {
        Pos::new(
            loc.line() as usize,
            loc.column() as usize,
            loc.span().len().max(1) as usize,
        )
    })
}

fn spos<T>(s: &Spanned<T>) -> Option<Pos> {
    pos(&s.referenced)
}

impl<'a> Builder<'a> {
    pub(crate) fn new(file: &Path, vars: &'a Vars) -> Self {
        Builder {
            file: file.to_path_buf(),
            vars: std::borrow::Cow::Borrowed(vars),
            suite_snapshot: false,
            diagnostics: Vec::new(),
        }
    }

    fn error(&mut self, at: Option<Pos>, title: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::new(&self.file, at, title));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Expands `${VARS}` in a spanned string; reports each unset variable at the value.
    fn text(&mut self, s: &S<String>) -> Option<String> {
        self.expand(&s.value, spos(s))
    }

    fn expand(&mut self, text: &str, at: Option<Pos>) -> Option<String> {
        match self.vars.expand(text) {
            Ok(v) => Some(v),
            Err(errors) => {
                for e in errors {
                    match e {
                        VarError::Unset { name, .. } => {
                            let d = self.error(at, format!("variable `{name}` is not set"));
                            d.label = format!("`${{{name}}}` is used here");
                            d.hint = Some(format!(
                                "set the environment variable {name} or pass --var {name}=VALUE"
                            ));
                        }
                        VarError::Credential { name, .. } => {
                            let d = self.error(
                                at,
                                format!(
                                    "`${{{name}}}` names a credential, which suites cannot use"
                                ),
                            );
                            d.label = "a credential variable is never expanded".into();
                            d.hint = Some(
                                "suite values are printed and written to JUnit and summaries; write a placeholder value for the request instead".into(),
                            );
                        }
                        VarError::Malformed { .. } => {
                            let d = self.error(at, "malformed variable reference");
                            d.label = "`${` must be followed by NAME and `}`".into();
                            d.hint = Some("write `$${` for a literal `${`".into());
                        }
                    }
                }
                None
            }
        }
    }

    pub(crate) fn suite(&mut self, model: SuiteFile, id: &str) -> Option<Suite> {
        // `name:` (its variables expanded): reports show it beside the suite's path.
        let name = model.name.as_ref().and_then(|n| self.text(n));
        // `Some(None)`: a base_url was given but is broken (already reported).
        let base_url = model.base_url.as_ref().map(|b| {
            let text = self.text(b)?;
            match url::Url::parse(&text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                Ok(u) => {
                    let scheme = u.scheme().to_string();
                    let d = self.error(spos(b), format!("base_url has scheme `{scheme}`"));
                    d.hint = Some("use an http:// or https:// URL".into());
                    None
                }
                Err(e) => {
                    let d = self.error(spos(b), format!("base_url is not a URL: {e}"));
                    d.hint = Some("write it as https://host.example.com".into());
                    None
                }
            }
        });
        let defaults = model.defaults.unwrap_or_default();
        self.suite_snapshot = model.snapshot.as_ref().is_some_and(|s| s.value);
        let suite_fields = model.fields.as_ref().and_then(|f| self.fields(f));
        if model.cases.is_empty() {
            self.error(None, "the suite has no cases").hint = Some("add a `cases:` list".into());
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut cases = Vec::new();
        for case in &model.cases {
            let line = case.referenced.line() as usize;
            let cname = case.value.name.value.trim().to_string();
            if cname.is_empty() {
                self.error(spos(&case.value.name), "a case name must not be empty");
            } else if cname.chars().any(char::is_control) {
                self.error(
                    spos(&case.value.name),
                    format!(
                        "the case name `{}` holds a control character",
                        crate::escape::visible(&cname)
                    ),
                )
                .hint = Some(
                    "case names are printed in logs and reports: write them on one line, without tabs or escapes".into(),
                );
            } else if cname.chars().count() > crate::limits::MAX_CASE_NAME_CHARS {
                self.error(
                    spos(&case.value.name),
                    format!(
                        "the case name is {} characters long; the limit is {}",
                        cname.chars().count(),
                        crate::limits::MAX_CASE_NAME_CHARS
                    ),
                )
                .hint = Some("name the case in a sentence; put details in the request".into());
            } else if let Some(first) = seen.get(&cname) {
                let d = self.error(
                    spos(&case.value.name),
                    format!("duplicate case name `{cname}`"),
                );
                d.label = format!("first used on line {first}");
                d.hint = Some("case names must be unique within a suite".into());
            } else {
                seen.insert(cname.clone(), case.value.name.referenced.line() as usize);
            }
            let base = base_url.as_ref().map(Option::as_ref);
            // A matrix case is one trial per combination, named `case [key=value, …]`, each
            // with its values as `${matrix.KEY}`; a plain case is the one empty combination.
            let combos = match &case.value.matrix {
                Some(m) => self.combinations(m),
                None => vec![Vec::new()],
            };
            for combo in combos {
                let outer = self.vars.clone();
                if !combo.is_empty() {
                    self.vars = std::borrow::Cow::Owned(outer.with_matrix(&combo));
                }
                let built = self.case(
                    &case.value,
                    suite_fields.as_ref(),
                    &defaults,
                    base,
                    id,
                    line,
                );
                self.vars = outer;
                if let Some(mut c) = built {
                    if !combo.is_empty() {
                        let suffix: Vec<String> =
                            combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        c.name = format!("{} [{}]", c.name, suffix.join(", "));
                        c.full_name = format!("{id}::{}", c.name);
                    }
                    cases.push(c);
                }
            }
        }
        self.diagnostics.is_empty().then(|| Suite {
            file: self.file.clone(),
            id: id.to_string(),
            name,
            cases,
        })
    }

    /// A matrix's combinations in the order written (the last key varies fastest), without
    /// the excluded ones; problems are reported at the key or the exclusion.
    fn combinations(&mut self, m: &S<MatrixSpec>) -> Vec<Vec<(String, String)>> {
        let mut axes: Vec<(String, Vec<String>)> = Vec::new();
        let errors_before = self.diagnostics.len();
        if m.value.axes.is_empty() {
            self.error(spos(m), "the matrix has no keys").hint =
                Some("write `matrix: { path: [/a, /b] }` and use `${matrix.path}`".into());
            return Vec::new();
        }
        for (key, values) in &m.value.axes {
            if !super::vars::is_matrix_key(&key.value) {
                self.error(
                    spos(key),
                    format!(
                        "`{}` is not a matrix key",
                        crate::escape::visible(&key.value)
                    ),
                )
                .hint =
                    Some("a key is letters, digits, `_` and `-`, starting with a letter".into());
                continue;
            }
            if values.is_empty() {
                self.error(
                    spos(key),
                    format!("matrix key `{}` has no values", key.value),
                )
                .hint = Some("give it a list of at least one value".into());
                continue;
            }
            if axes.iter().any(|(k, _)| k == &key.value) {
                self.error(spos(key), format!("matrix key `{}` is repeated", key.value));
                continue;
            }
            axes.push((
                key.value.clone(),
                values.iter().map(|v| v.value.to_string()).collect(),
            ));
        }
        for ex in &m.value.exclude {
            for k in ex.value.keys() {
                if !axes.iter().any(|(a, _)| a == k) {
                    let known: Vec<&str> = axes.iter().map(|(a, _)| a.as_str()).collect();
                    self.error(
                        spos(ex),
                        format!(
                            "`exclude` names `{}`, which is not a matrix key",
                            crate::escape::visible(k)
                        ),
                    )
                    .hint = Some(format!("the keys are {}", known.join(", ")));
                }
            }
        }
        if self.diagnostics.len() > errors_before {
            return Vec::new();
        }
        let total = axes
            .iter()
            .map(|(_, v)| v.len())
            .try_fold(1usize, usize::checked_mul);
        if total.is_none_or(|t| t > crate::limits::MAX_MATRIX_TRIALS) {
            self.error(
                spos(m),
                format!(
                    "the matrix makes more than {} trials",
                    crate::limits::MAX_MATRIX_TRIALS
                ),
            )
            .hint = Some("split the case, or use fewer values".into());
            return Vec::new();
        }
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (key, values) in &axes {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((key.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        combos.retain(|c| {
            !m.value.exclude.iter().any(|ex| {
                ex.value
                    .iter()
                    .all(|(k, v)| c.iter().any(|(ck, cv)| ck == k && *cv == v.to_string()))
            })
        });
        if combos.is_empty() {
            self.error(spos(m), "`exclude` leaves the matrix no combination");
        }
        combos
    }

    /// `ignore: true` or a reason ignores the case, `ignore: false` does not; anything that
    /// only looks like a no (`no`, `off`, `0`, an empty string) is an error, not a guess.
    fn ignore(&mut self, spec: &S<IgnoreSpec>) -> Option<Option<String>> {
        let refused = |b: &mut Self, shown: String| {
            let d = b.error(spos(spec), format!("`ignore: {shown}` is ambiguous"));
            d.hint = Some(
                "`ignore` takes `true` or a reason (`ignore: \"flaky upstream, #123\"`); to run the case, remove the key or write `ignore: false`".into(),
            );
            None
        };
        match &spec.value {
            IgnoreSpec::Flag(true) => Some(Some("ignored".to_string())),
            IgnoreSpec::Flag(false) => Some(None),
            IgnoreSpec::Number(n) => refused(self, n.to_string()),
            IgnoreSpec::Reason(r) => {
                let t = r.trim();
                let lower = t.to_ascii_lowercase();
                if t.is_empty()
                    || [
                        "no", "n", "off", "false", "0", "yes", "y", "on", "true", "1",
                    ]
                    .contains(&lower.as_str())
                {
                    refused(self, format!("{r:?}"))
                } else {
                    Some(Some(crate::escape::visible(t).into_owned()))
                }
            }
        }
    }

    fn case(
        &mut self,
        c: &CaseSpec,
        suite_fields: Option<&serde_json::Map<String, serde_json::Value>>,
        defaults: &RequestSpec,
        base: Option<Option<&url::Url>>,
        suite_id: &str,
        line: usize,
    ) -> Option<Case> {
        let name = c.name.value.trim().to_string();
        let merged = merge(defaults, &c.request.value);
        let request = self.request(&merged, base, spos(&c.request));
        let snapshot = c.snapshot.as_ref().map_or(self.suite_snapshot, |s| s.value);
        let expect = match &c.expect {
            Some(e) => self.expect(e),
            // A snapshot is the expectation.
            None if snapshot => Some(Expectations::default()),
            None => {
                let d = self.error(spos(&c.name), format!("case `{name}` has no `expect`"));
                d.hint =
                    Some("add `expect:` with status, action, matched, not_matched or trace, or `snapshot: true`".into());
                None
            }
        };
        let ignore = match &c.ignore {
            None => None,
            Some(spec) => self.ignore(spec)?,
        };
        let extras = self.extras(c, suite_fields);
        // A credential's value never reaches a test name (printed by the harness itself).
        let name = crate::escape::scrub(&name).into_owned();
        Some(Case {
            full_name: format!("{suite_id}::{name}"),
            name,
            line,
            request: request?,
            expect: expect?,
            ignore,
            tags: c.tags.iter().map(|t| t.value.clone()).collect(),
            extras: extras?,
            snapshot,
        })
    }

    /// `fields` (each name checked against the scheme, each value against its type) and
    /// `origin`.
    /// `fields`: each name checked against the scheme, each value against its type.
    fn fields(
        &mut self,
        f: &S<serde_json::Map<String, serde_json::Value>>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut fields = serde_json::Map::new();
        let mut ctx = crate::rules::Context::new();
        for (name, value) in &f.value {
            let value = self.json(value, spos(f))?;
            let mut one = serde_json::Map::new();
            one.insert(name.clone(), value.clone());
            if let Err(e) = ctx.set_json(&one) {
                let d = self.error(spos(f), format!("in `fields`: {e}"));
                d.hint = Some("fields are Rules-language fields with JSON values, e.g. {\"ip.src\": \"192.0.2.1\"}".into());
                continue;
            }
            fields.insert(name.clone(), value);
        }
        Some(fields)
    }

    /// The suite's `fields` with the case's over them, and `origin`.
    fn extras(
        &mut self,
        c: &CaseSpec,
        suite_fields: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Option<crate::trace::Extras> {
        let mut out = crate::trace::Extras::default();
        let before = self.diagnostics.len();
        let case_fields = match &c.fields {
            Some(f) => self.fields(f),
            None => None,
        };
        if suite_fields.is_some() || case_fields.is_some() {
            let mut merged = suite_fields.cloned().unwrap_or_default();
            merged.extend(case_fields.unwrap_or_default());
            out.fields = Some(merged);
        }
        if let Some(o) = &c.origin {
            if let Some(s) = o.value.status
                && let Err(p) = crate::trace::validate::origin_status(s)
            {
                self.error(spos(o), p.message).hint = p.hint;
            }
            out.origin = Some(crate::trace::Origin {
                status: o.value.status,
                headers: o.value.headers.clone(),
            });
        }
        (self.diagnostics.len() == before).then_some(out)
    }

    fn request(
        &mut self,
        r: &RequestSpec,
        base: Option<Option<&url::Url>>,
        at: Option<Pos>,
    ) -> Option<TraceRequest> {
        let before = self.diagnostics.len();
        let method = match &r.method {
            Some(m) => self.method(m),
            None => Some("GET".to_string()),
        };
        let url = match &r.url {
            Some(u) => self.url(u, base),
            None => {
                self.error(at, "the request has no `url`").hint =
                    Some("set `url:` in the case or in `defaults`".into());
                None
            }
        };
        let mut headers = BTreeMap::new();
        for (k, v) in &r.headers {
            let key = self.expand(k, spos(v));
            if let (Some(k), Some(v)) = (key, self.text(v)) {
                headers.insert(k, v);
            }
        }
        let mut cookies = BTreeMap::new();
        for (k, v) in &r.cookies {
            let key = self.expand(k, spos(v));
            if let (Some(k), Some(v)) = (key, self.text(v)) {
                cookies.insert(k, v);
            }
        }
        let body = r.body.as_ref().and_then(|b| self.body(b));
        let protocol = r.protocol.as_ref().and_then(|p| {
            let v = self.text(p)?;
            match validate::protocol(&v) {
                Ok(()) => Some(v),
                Err(e) => {
                    self.error(spos(p), e.message).hint = e.hint;
                    None
                }
            }
        });
        let context = r.context.as_ref().map(|c| self.context(c));
        if self.diagnostics.len() > before {
            return None;
        }
        Some(TraceRequest {
            method: method?,
            url: url?,
            headers,
            cookies,
            body,
            protocol,
            context,
            skip_response: r.skip_response,
        })
    }

    fn method(&mut self, m: &S<String>) -> Option<String> {
        let v = self.text(m)?;
        match validate::method(&v) {
            Ok(()) => Some(v),
            Err(p) => {
                let d = self.error(spos(m), p.message);
                d.label = "not an HTTP method".into();
                d.hint = p.hint;
                None
            }
        }
    }

    /// The URL as written (never normalized: `raw.*` fields must see what the user wrote),
    /// checked with the `url` crate; a relative one is appended to `base_url`.
    fn url(&mut self, u: &S<String>, base: Option<Option<&url::Url>>) -> Option<String> {
        let v = self.text(u)?;
        if v.starts_with("http://") || v.starts_with("https://") {
            return match url::Url::parse(&v) {
                Ok(_) => Some(v),
                Err(e) => {
                    self.error(spos(u), format!("invalid URL: {e}"));
                    None
                }
            };
        }
        if v.contains("://") {
            let d = self.error(spos(u), format!("unsupported URL `{v}`"));
            d.hint = Some("the Trace API takes http:// or https:// URLs".into());
            return None;
        }
        match base {
            Some(None) => None,
            Some(Some(b)) => {
                let origin = b.as_str().trim_end_matches('/');
                let joined = if v.starts_with('/') || v.starts_with('?') {
                    format!("{origin}{v}")
                } else {
                    format!("{origin}/{v}")
                };
                match url::Url::parse(&joined) {
                    Ok(_) => Some(joined),
                    Err(e) => {
                        self.error(spos(u), format!("cannot join `{v}` to base_url: {e}"));
                        None
                    }
                }
            }
            None => {
                let d = self.error(
                    spos(u),
                    format!("relative url `{v}` but the suite has no `base_url`"),
                );
                d.label = "relative URL".into();
                d.hint = Some("add `base_url: https://your.zone` at the top of the suite, or write an absolute URL".into());
                None
            }
        }
    }

    fn body(&mut self, b: &S<BodySpec>) -> Option<TraceBody> {
        let spec = &b.value;
        let forms = [
            spec.plain_text.is_some(),
            spec.json.is_some(),
            spec.base64.is_some(),
        ];
        if let Err(p) = validate::body_forms(forms.iter().filter(|f| **f).count()) {
            self.error(spos(b), p.message).hint = p.hint;
            return None;
        }
        let mut body = TraceBody::default();
        if let Some(t) = &spec.plain_text {
            body.plain_text = Some(self.text(t)?);
        }
        if let Some(j) = &spec.json {
            body.json = Some(self.json(j, spos(b))?);
        }
        if let Some(s) = &spec.base64 {
            let v = self.text(s)?;
            if let Err(p) = validate::base64(&v) {
                let d = self.error(spos(s), p.message);
                d.label = "not standard base64".into();
                d.hint = p.hint;
                return None;
            }
            body.base64 = Some(v.trim().to_string());
        }
        Some(body)
    }

    fn json(&mut self, v: &serde_json::Value, at: Option<Pos>) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match v {
            Value::String(s) => Value::String(self.expand(s, at)?),
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.json(x, at)).collect::<Option<_>>()?)
            }
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Some((k.clone(), self.json(x, at)?)))
                    .collect::<Option<_>>()?,
            ),
            other => other.clone(),
        })
    }

    fn context(&mut self, c: &ContextSpec) -> TraceContext {
        let score = |b: &mut Self, s: &Option<S<i64>>, check: fn(i64) -> Result<(), Problem>| {
            s.as_ref().and_then(|v| match check(v.value) {
                Ok(()) => Some(v.value),
                Err(p) => {
                    b.error(spos(v), p.message).hint = p.hint;
                    None
                }
            })
        };
        TraceContext {
            bot_score: score(self, &c.bot_score, validate::bot_score),
            threat_score: score(self, &c.threat_score, validate::threat_score),
            skip_challenge: c.skip_challenge,
            geoloc: c.geoloc.as_ref().map(|g| self.geoloc(g)),
        }
    }

    fn geoloc(&mut self, g: &GeolocSpec) -> Geoloc {
        let mut t = |s: &Option<S<String>>| s.as_ref().and_then(|v| self.text(v));
        Geoloc {
            city: t(&g.city),
            continent: t(&g.continent),
            is_eu_country: g.is_eu_country,
            iso_code: t(&g.iso_code),
            latitude: g.latitude,
            longitude: g.longitude,
            postal_code: t(&g.postal_code),
            region_code: t(&g.region_code),
            subdivision_2_iso_code: t(&g.subdivision_2_iso_code),
            timezone: t(&g.timezone),
        }
    }

    fn expect(&mut self, e: &S<ExpectSpec>) -> Option<Expectations> {
        let before = self.diagnostics.len();
        let spec = &e.value;
        let status = spec.status.as_ref().map(|s| {
            if s.value.0.is_empty() {
                self.error(spos(s), "`status` lists no status code");
            }
            for code in &s.value.0 {
                if !(100..=999).contains(code) {
                    let d = self.error(spos(s), format!("{code} is not an HTTP status code"));
                    d.hint = Some("status codes are 100..=999".into());
                }
            }
            s.value.0.clone()
        });
        let location = spec.location.as_ref().and_then(|l| self.text(l));
        let action = spec.action.as_ref().and_then(|a| self.action(a));
        let matched = self.selectors(spec.matched.as_ref());
        let not_matched = self.selectors(spec.not_matched.as_ref());
        let trace = spec
            .trace
            .iter()
            .filter_map(|s| self.step(s))
            .collect::<Vec<_>>();
        let out = Expectations {
            status,
            location,
            action,
            matched,
            not_matched,
            trace,
        };
        if out.is_empty() && self.diagnostics.len() == before {
            self.error(spos(e), "`expect` is empty").hint = Some(
                "expect at least one of status, location, action, matched, not_matched, trace"
                    .into(),
            );
        }
        (self.diagnostics.len() == before).then_some(out)
    }

    fn action(&mut self, a: &S<String>) -> Option<String> {
        let v = self.text(a)?;
        if v == "none" || KNOWN_ACTIONS.contains(&v.as_str()) {
            return Some(v);
        }
        let valid = !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let near = suggestion(&v, KNOWN_ACTIONS.iter().copied().chain(["none"]));
        if valid && near.is_none() {
            // A new action Cloudflare added: accept it rather than block the user.
            return Some(v);
        }
        let d = self.error(spos(a), format!("unknown action `{v}`"));
        d.hint = Some(near.unwrap_or_else(|| {
            "actions are lower case, e.g. block, managed_challenge, none".into()
        }));
        None
    }

    fn selectors(&mut self, list: Option<&S<StringList>>) -> Vec<Selector> {
        let Some(list) = list else { return Vec::new() };
        let mut out = Vec::new();
        let at = |pos: Option<Pos>, name: &str| {
            pos.map(|p| Pos::new(p.line, p.col, name.chars().count().max(1)))
        };
        if let Some(one) = &list.value.1
            && let Some(name) = self.expand(one, spos(list))
        {
            out.push(Selector {
                pos: at(spos(list), &name),
                name,
                rule_id: None,
            });
        }
        for s in &list.value.0 {
            if s.value.is_empty() {
                self.error(spos(s), "a rule selector must not be empty");
                continue;
            }
            if let Some(name) = self.text(s) {
                out.push(Selector {
                    pos: at(spos(s), &s.value),
                    name,
                    rule_id: None,
                });
            }
        }
        out
    }

    fn step(&mut self, s: &S<StepSpec>) -> Option<TraceItem> {
        let v = &s.value;
        let mut t = |x: &Option<S<String>>| x.as_ref().and_then(|y| self.text(y));
        let item = TraceItem {
            kind_of_step: t(&v.kind_of_step),
            step_name: t(&v.step_name),
            matched: v.matched,
            name: t(&v.name),
            kind: t(&v.kind),
            description: t(&v.description),
            expression: t(&v.expression),
            action: t(&v.action),
            action_parameters: v.action_parameters.clone().map(std::sync::Arc::new),
            target_url: t(&v.target_url),
            score: v.score,
            score_threshold: v.score_threshold,
            emulated: None,
            trace: Vec::new(),
        };
        if item == TraceItem::default() {
            self.error(spos(s), "a trace step pattern needs at least one key").hint =
                Some("keys: type, step_name, matched, name, kind, description, expression, action, action_parameters, target_url, score, score_threshold".into());
            return None;
        }
        Some(item)
    }
}

/// `defaults` merged under a case's request: maps key by key (header names compared without
/// case), scalars and the body replaced whole; the case's value wins.
fn merge(d: &RequestSpec, c: &RequestSpec) -> RequestSpec {
    // Header names compare without case: a case header replaces every default of that name,
    // and of case headers differing only in case the last (in key order) wins. Linear: one
    // map from lower-cased name to the winning case key.
    let winner: HashMap<String, &String> = c
        .headers
        .keys()
        .map(|k| (k.to_ascii_lowercase(), k))
        .collect();
    let mut headers: BTreeMap<_, _> = d
        .headers
        .iter()
        .filter(|(k, _)| !winner.contains_key(&k.to_ascii_lowercase()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &c.headers {
        if winner.get(&k.to_ascii_lowercase()) == Some(&k) {
            headers.insert(k.clone(), v.clone());
        }
    }
    let mut cookies = d.cookies.clone();
    cookies.extend(c.cookies.iter().map(|(k, v)| (k.clone(), v.clone())));
    let context = match (&d.context, &c.context) {
        (Some(dc), Some(cc)) => Some(ContextSpec {
            bot_score: cc.bot_score.clone().or_else(|| dc.bot_score.clone()),
            threat_score: cc.threat_score.clone().or_else(|| dc.threat_score.clone()),
            skip_challenge: cc.skip_challenge.or(dc.skip_challenge),
            geoloc: match (&dc.geoloc, &cc.geoloc) {
                (Some(dg), Some(cg)) => Some(merge_geoloc(dg, cg)),
                (dg, cg) => cg.clone().or_else(|| dg.clone()),
            },
        }),
        (dc, cc) => cc.clone().or_else(|| dc.clone()),
    };
    RequestSpec {
        method: c.method.clone().or_else(|| d.method.clone()),
        url: c.url.clone().or_else(|| d.url.clone()),
        headers,
        cookies,
        body: c.body.clone().or_else(|| d.body.clone()),
        protocol: c.protocol.clone().or_else(|| d.protocol.clone()),
        context,
        skip_response: c.skip_response.or(d.skip_response),
    }
}

fn merge_geoloc(d: &GeolocSpec, c: &GeolocSpec) -> GeolocSpec {
    GeolocSpec {
        city: c.city.clone().or_else(|| d.city.clone()),
        continent: c.continent.clone().or_else(|| d.continent.clone()),
        is_eu_country: c.is_eu_country.or(d.is_eu_country),
        iso_code: c.iso_code.clone().or_else(|| d.iso_code.clone()),
        latitude: c.latitude.or(d.latitude),
        longitude: c.longitude.or(d.longitude),
        postal_code: c.postal_code.clone().or_else(|| d.postal_code.clone()),
        region_code: c.region_code.clone().or_else(|| d.region_code.clone()),
        subdivision_2_iso_code: c
            .subdivision_2_iso_code
            .clone()
            .or_else(|| d.subdivision_2_iso_code.clone()),
        timezone: c.timezone.clone().or_else(|| d.timezone.clone()),
    }
}

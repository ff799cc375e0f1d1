//! Loads and checks rulesets and lists: every expression parses and type-checks, phases are
//! known, actions are allowed in their phase, execute targets and lists exist, action
//! parameters have the documented shape. Every problem becomes a [`Diagnostic`] naming the
//! file, the rule and, for expressions, the position of the offending token in the file.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::config::ProjectConfig;
use crate::diag::{Diagnostic, Pos, suggestion};
use crate::rules::functions::Usage;
use crate::rules::{self, Filter, IpSet, List, Lists, RuleError, ValueProgram};
use crate::ruleset::model::{ListFile, Rule, Ruleset};
use crate::ruleset::phases;

/// Where an entry point sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Account,
    Zone,
}

/// A header operation of a `rewrite` rule.
#[derive(Debug, Clone)]
pub struct HeaderOp {
    pub name: String,
    pub operation: String,
    pub value: Option<String>,
    pub expression: Option<ValueProgram>,
}

/// A compiled `rewrite` action.
#[derive(Debug, Clone, Default)]
pub struct Rewrite {
    pub path_value: Option<String>,
    pub path_expr: Option<ValueProgram>,
    pub query_value: Option<String>,
    pub query_expr: Option<ValueProgram>,
    pub headers: Vec<HeaderOp>,
}

/// A compiled `redirect` (`from_value`) action.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub value: Option<String>,
    pub expression: Option<ValueProgram>,
    pub status: i64,
    pub preserve_query: bool,
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub rule: Rule,
    /// `None`: no expression (a managed rule whose expression is not public): never matches.
    pub filter: Option<Filter>,
    pub rewrite: Option<Rewrite>,
    pub redirect: Option<Redirect>,
}

#[derive(Debug, Clone)]
pub struct CompiledRuleset {
    pub file: PathBuf,
    pub ruleset: Ruleset,
    pub rules: Vec<CompiledRule>,
}

/// A loaded project.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub dir: PathBuf,
    pub config: ProjectConfig,
    pub rulesets: Vec<CompiledRuleset>,
    pub by_id: HashMap<String, usize>,
    pub entry: HashMap<(Level, String), usize>,
    pub lists: Lists,
    pub list_files: Vec<ListFile>,
    /// Rule `ref` → rule id, so suites may name rules by ref.
    pub refs: HashMap<String, String>,
    pub sources: BTreeMap<PathBuf, String>,
}

impl Project {
    pub fn ruleset(&self, id: &str) -> Option<&CompiledRuleset> {
        self.by_id.get(id).map(|i| &self.rulesets[*i])
    }

    pub fn entry_point(&self, level: Level, phase: &str) -> Option<&CompiledRuleset> {
        self.entry
            .get(&(level, phase.to_string()))
            .map(|i| &self.rulesets[*i])
    }

    /// A one-line description of the ruleset source, for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} ruleset(s) and {} list(s) from {}",
            self.rulesets.len(),
            self.list_files.len(),
            self.dir.display()
        )
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Position of byte `offset` of `text` as 1-based line and column.
fn pos_at(text: &str, offset: usize, len: usize) -> Pos {
    let (line, col) = crate::diag::line_col(text, offset);
    Pos::new(line, col, len.max(1))
}

/// Reads a JSON file; `result` is unwrapped when the file is a whole API envelope.
fn read_json(
    path: &Path,
    diags: &mut Vec<Diagnostic>,
    sources: &mut BTreeMap<PathBuf, String>,
) -> Option<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::new(
                path,
                None,
                format!("cannot read the file: {e}"),
            ));
            return None;
        }
    };
    sources.insert(path.to_path_buf(), text.clone());
    match serde_json::from_str::<Value>(&text) {
        Ok(mut v) => {
            if v.get("success").is_some() && v.get("result").is_some() {
                v = v["result"].take();
            }
            Some(v)
        }
        Err(e) => {
            diags.push(Diagnostic::new(
                path,
                Some(Pos::new(e.line(), e.column(), 1)),
                format!("invalid JSON: {e}"),
            ));
            None
        }
    }
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    /// Where `needle` (a JSON string value) first appears after `from` in the file.
    fn find(&self, needle: &str, from: usize) -> Option<usize> {
        let encoded = serde_json::to_string(needle).ok()?;
        self.text.get(from..)?.find(&encoded).map(|i| from + i + 1)
    }

    fn rule_anchor(&self, rule: &Rule) -> usize {
        rule.id
            .as_ref()
            .or(rule.reference.as_ref())
            .and_then(|id| self.find(id, 0))
            .unwrap_or(0)
    }

    fn error(&mut self, at: usize, len: usize, title: String) -> &mut Diagnostic {
        let pos = if at == 0 {
            None
        } else {
            Some(pos_at(self.text, at, len))
        };
        self.diags.push(Diagnostic::new(self.file, pos, title));
        self.diags.last_mut().expect("pushed")
    }

    /// An expression error, placed on the offending token inside the file: the span is mapped
    /// through JSON string escaping to the bytes as they stand in the file.
    fn expr_error(&mut self, rule_label: &str, anchor: usize, expr: &str, e: &RuleError) {
        let escaped_len = |s: &str| serde_json::to_string(s).map_or(s.len(), |j| j.len() - 2);
        let start = e.span.start.min(expr.len());
        let end = e.span.end.clamp(start, expr.len());
        let (offset, len) = match (
            self.find(expr, anchor),
            expr.get(..start),
            expr.get(start..end),
        ) {
            (Some(at), Some(before), Some(token)) => (at + escaped_len(before), escaped_len(token)),
            (Some(at), _, _) => (at, 1),
            (None, _, _) => (0, 1),
        };
        let d = self.error(offset, len, format!("in rule {rule_label}: {}", e.message));
        d.label = e.kind.code().replace('_', " ");
        d.hint = e.hint.clone();
        if offset == 0 {
            d.hint = Some(
                format!(
                    "{}\n{}",
                    e.render(expr).trim_end(),
                    d.hint.clone().unwrap_or_default()
                )
                .trim_end()
                .to_string(),
            );
        }
    }
}

/// Loads `dir`'s rulesets and lists per `config`. Missing directories are empty.
pub fn load_project(
    dir: &Path,
    config: &ProjectConfig,
) -> Result<Project, (Vec<Diagnostic>, BTreeMap<PathBuf, String>)> {
    let mut diags = Vec::new();
    let mut sources = BTreeMap::new();
    let mut project = Project {
        dir: dir.to_path_buf(),
        config: config.clone(),
        ..Default::default()
    };

    // Lists first: expressions need them.
    for path in json_files(&dir.join(config.lists_dir())) {
        let Some(v) = read_json(&path, &mut diags, &mut sources) else {
            continue;
        };
        match serde_json::from_value::<ListFile>(v) {
            Ok(l) => {
                let text = sources.get(&path).cloned().unwrap_or_default();
                let mut c = Ctx {
                    file: &path,
                    text: &text,
                    diags: &mut diags,
                };
                if let Some(list) = list_contents(&l, &mut c) {
                    project.lists.insert(l.name.clone(), list);
                    project.list_files.push(l);
                }
            }
            Err(e) => diags.push(
                Diagnostic::new(&path, None, format!("not a list: {e}"))
                    .hint("a list file is {\"name\", \"kind\": ip|hostname|asn, \"items\": [...]}"),
            ),
        }
    }

    let mut raw: Vec<(PathBuf, Ruleset)> = Vec::new();
    for path in json_files(&dir.join(config.rulesets_dir())) {
        let Some(v) = read_json(&path, &mut diags, &mut sources) else {
            continue;
        };
        match serde_json::from_value::<Ruleset>(v) {
            Ok(r) => raw.push((path, r)),
            Err(e) => diags.push(
                Diagnostic::new(&path, None, format!("not a ruleset: {e}")).hint(
                    "a ruleset is the object GET …/rulesets/{id} returns, or that whole response",
                ),
            ),
        }
    }
    let ids: HashMap<String, PathBuf> =
        raw.iter().map(|(p, r)| (r.id.clone(), p.clone())).collect();
    for (path, rs) in raw {
        let text = sources.get(&path).cloned().unwrap_or_default();
        let mut c = Ctx {
            file: &path,
            text: &text,
            diags: &mut diags,
        };
        if let Some(first) = project.by_id.get(&rs.id) {
            let other = project.rulesets[*first].file.display().to_string();
            c.error(
                c.find(&rs.id, 0).unwrap_or(0),
                rs.id.len(),
                format!("ruleset id `{}` is also used by {other}", rs.id),
            );
            continue;
        }
        let compiled = compile_ruleset(&path, rs, &project.lists, &ids, &mut c);
        let idx = project.rulesets.len();
        if let Some(phase) = compiled.ruleset.phase.clone() {
            let level = match compiled.ruleset.kind.as_str() {
                "zone" => Some(Level::Zone),
                "root" => Some(Level::Account),
                _ => None,
            };
            if let Some(level) = level {
                if let Some(prev) = project.entry.get(&(level, phase.clone())) {
                    let other = project.rulesets[*prev].file.display().to_string();
                    c.error(
                        0,
                        1,
                        format!(
                            "a second {} entry point for phase {phase} (the first is {other})",
                            compiled.ruleset.kind
                        ),
                    )
                    .hint = Some("each phase has at most one entry point per level".into());
                } else {
                    project.entry.insert((level, phase), idx);
                }
            }
        }
        for r in &compiled.rules {
            if let (Some(rf), Some(id)) = (&r.rule.reference, &r.rule.id) {
                project.refs.insert(rf.clone(), id.clone());
            }
        }
        project.by_id.insert(compiled.ruleset.id.clone(), idx);
        project.rulesets.push(compiled);
    }
    project.sources = sources.clone();
    if diags.is_empty() {
        Ok(project)
    } else {
        Err((diags, sources))
    }
}

fn list_contents(l: &ListFile, c: &mut Ctx) -> Option<List> {
    let name_ok = !l.name.is_empty()
        && l.name.len() <= 50
        && l.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        let at = c.find(&l.name, 0).unwrap_or(0);
        c.error(
            at,
            l.name.len(),
            format!("list name `{}` is not valid", l.name),
        )
        .hint = Some("list names are lower-case letters, digits and _ (at most 50)".into());
        return None;
    }
    let before = c.diags.len();
    let list = match l.kind.as_str() {
        "ip" => {
            let mut s = IpSet::new();
            for item in &l.items {
                let Some(text) = &item.ip else {
                    c.error(0, 1, format!("an item of ip list `{}` has no `ip`", l.name));
                    continue;
                };
                match parse_ip_item(text) {
                    Some((a, p)) => s.add_cidr(a, p),
                    None => {
                        let at = c.find(text, 0).unwrap_or(0);
                        c.error(
                            at,
                            text.len(),
                            format!("`{text}` is not an IP address or CIDR"),
                        )
                        .hint = Some("e.g. 192.0.2.1, 192.0.2.0/24, 2001:db8::/64".into());
                    }
                }
            }
            List::Ip(s.finish())
        }
        "hostname" => List::hostnames(
            l.items
                .iter()
                .filter_map(|i| i.hostname.as_ref().map(|h| h.url_hostname.clone())),
        ),
        "asn" => List::asns(l.items.iter().filter_map(|i| i.asn)),
        "redirect" => return None,
        other => {
            let at = c.find(other, 0).unwrap_or(0);
            c.error(at, other.len(), format!("unknown list kind `{other}`"))
                .hint = Some("use ip, hostname, asn or redirect".into());
            return None;
        }
    };
    (c.diags.len() == before).then_some(list)
}

fn parse_ip_item(text: &str) -> Option<(IpAddr, u8)> {
    match text.split_once('/') {
        Some((a, p)) => {
            let a: IpAddr = a.parse().ok()?;
            let p: u8 = p.parse().ok()?;
            (p <= if a.is_ipv4() { 32 } else { 128 }).then_some((a, p))
        }
        None => {
            let a: IpAddr = text.parse().ok()?;
            Some((a, if a.is_ipv4() { 32 } else { 128 }))
        }
    }
}

const KINDS: &[&str] = &["zone", "root", "custom", "managed"];
const PRODUCTS: &[&str] = &[
    "zoneLockdown",
    "uaBlock",
    "bic",
    "hot",
    "securityLevel",
    "rateLimit",
    "waf",
];

fn compile_ruleset(
    path: &Path,
    rs: Ruleset,
    lists: &Lists,
    ids: &HashMap<String, PathBuf>,
    c: &mut Ctx,
) -> CompiledRuleset {
    if !KINDS.contains(&rs.kind.as_str()) {
        let at = c.find(&rs.kind, 0).unwrap_or(0);
        c.error(
            at,
            rs.kind.len(),
            format!("unknown ruleset kind `{}`", rs.kind),
        )
        .hint = Some("kind is zone, root (account entry point), custom or managed".into());
    }
    match &rs.phase {
        Some(p) if !phases::is_known(p) => {
            let at = c.find(p, 0).unwrap_or(0);
            let hint = suggestion(p, phases::all());
            c.error(at, p.len(), format!("unknown phase `{p}`")).hint = hint;
        }
        None if matches!(rs.kind.as_str(), "zone" | "root") => {
            c.error(
                0,
                1,
                format!("{} ruleset `{}` has no phase", rs.kind, rs.id),
            )
            .hint = Some("an entry point names its phase".into());
        }
        _ => {}
    }
    let managed = rs.kind == "managed";
    let phase = rs.phase.clone().unwrap_or_default();
    let mut rules = Vec::new();
    for (i, rule) in rs.rules.iter().enumerate() {
        let label = format!("`{}`", rule.step_name(i));
        let anchor = c.rule_anchor(rule);
        if !managed
            && let Some(allowed) = phases::allowed_actions(&phase)
            && !allowed.contains(&rule.action.as_str())
        {
            let at = c.find(&rule.action, anchor).unwrap_or(anchor);
            let hint = suggestion(&rule.action, allowed.iter().copied())
                .unwrap_or_else(|| format!("allowed in {phase}: {}", allowed.join(", ")));
            c.error(
                at,
                rule.action.len(),
                format!(
                    "in rule {label}: action `{}` is not allowed in phase {phase}",
                    rule.action
                ),
            )
            .hint = Some(hint);
        }
        let filter = match &rule.expression {
            Some(e) => match rules::parse_filter(e, lists, &rules::Settings::default()) {
                Ok(ast) => {
                    if !managed {
                        for err in
                            rules::parse::availability(&ast, Usage::Filter, rs.phase.as_deref())
                        {
                            c.expr_error(&label, anchor, e, &err);
                        }
                    }
                    Some(Filter::new(&ast))
                }
                Err(err) => {
                    c.expr_error(&label, anchor, e, &err);
                    None
                }
            },
            None if managed => None,
            None => {
                c.error(anchor, 1, format!("in rule {label}: no `expression`"))
                    .hint = Some("use \"true\" to match every request".into());
                None
            }
        };
        let params = rule.action_parameters.clone().unwrap_or(Value::Null);
        let mut out = CompiledRule {
            rule: rule.clone(),
            filter,
            rewrite: None,
            redirect: None,
        };
        let phase_checked = if managed { None } else { rs.phase.as_deref() };
        check_params(
            &label,
            anchor,
            rule,
            &params,
            lists,
            ids,
            phase_checked,
            c,
            &mut out,
        );
        if phase == "http_ratelimit" && !managed {
            match rule.ratelimit.as_ref() {
                Some(rl)
                    if rl.get("characteristics").is_some_and(Value::is_array)
                        && rl.get("period").is_some_and(Value::is_i64) => {}
                _ => {
                    c.error(anchor, 1, format!("in rule {label}: a rate limiting rule needs `ratelimit` with `characteristics` and `period`")).hint =
                        Some("e.g. \"ratelimit\": {\"characteristics\": [\"ip.src\", \"cf.colo.id\"], \"period\": 60, \"requests_per_period\": 100, \"mitigation_timeout\": 600}".into());
                }
            }
        }
        rules.push(out);
    }
    CompiledRuleset {
        file: path.to_path_buf(),
        ruleset: rs,
        rules,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_params(
    label: &str,
    anchor: usize,
    rule: &Rule,
    p: &Value,
    lists: &Lists,
    ids: &HashMap<String, PathBuf>,
    phase: Option<&str>,
    c: &mut Ctx,
    out: &mut CompiledRule,
) {
    let bad = |c: &mut Ctx, msg: String, hint: &str| {
        let d = c.error(anchor, 1, format!("in rule {label}: {msg}"));
        if !hint.is_empty() {
            d.hint = Some(hint.to_string());
        }
    };
    let value_expr = |c: &mut Ctx, what: &str, e: &str| -> Option<ValueProgram> {
        match rules::parse_value(e, lists, &rules::Settings::default()) {
            Ok(v) => {
                for err in rules::parse::value_availability(&v, Usage::Value, phase) {
                    c.expr_error(&format!("{label} ({what})"), anchor, e, &err);
                }
                Some(ValueProgram::new(&v))
            }
            Err(err) => {
                c.expr_error(&format!("{label} ({what})"), anchor, e, &err);
                None
            }
        }
    };
    match rule.action.as_str() {
        "execute" => match p.get("id").and_then(Value::as_str) {
            Some(id) if ids.contains_key(id) || super::managed_name(id).is_some() => {}
            Some(id) => bad(
                c,
                format!("execute target `{id}` is not in the project"),
                "add the ruleset's JSON to the rulesets directory (rulegate pull fetches them)",
            ),
            None => bad(
                c,
                "execute needs action_parameters.id".into(),
                "the id of the ruleset to run",
            ),
        },
        "block" => {
            if let Some(r) = p.get("response") {
                let status = r.get("status_code").and_then(Value::as_i64);
                if !status.is_some_and(|s| (400..=499).contains(&s)) {
                    bad(c, "block response.status_code must be 400..=499".into(), "");
                }
                let ct = r.get("content_type").and_then(Value::as_str).unwrap_or("");
                if !["text/html", "text/plain", "application/json", "text/xml"].contains(&ct) {
                    bad(
                        c,
                        format!("block response.content_type `{ct}` is not allowed"),
                        "use text/html, text/plain, application/json or text/xml",
                    );
                }
            }
        }
        "skip" => {
            let obj = p.as_object().cloned().unwrap_or_default();
            if obj.is_empty() {
                bad(
                    c,
                    "skip needs action_parameters".into(),
                    "one of ruleset, phase, phases, products, rulesets, rules",
                );
            }
            for (k, v) in &obj {
                let ok = match k.as_str() {
                    "ruleset" | "phase" => v == "current",
                    "phases" => v.as_array().is_some_and(|a| {
                        a.iter().all(|x| x.as_str().is_some_and(phases::is_known))
                    }),
                    "products" => v.as_array().is_some_and(|a| {
                        a.iter()
                            .all(|x| x.as_str().is_some_and(|s| PRODUCTS.contains(&s)))
                    }),
                    "rulesets" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                    "rules" => v.as_object().is_some_and(|o| {
                        o.values()
                            .all(|x| x.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
                    }),
                    _ => {
                        let hint = suggestion(
                            k,
                            [
                                "ruleset", "phase", "phases", "products", "rulesets", "rules",
                            ],
                        )
                        .unwrap_or_default();
                        bad(c, format!("unknown skip parameter `{k}`"), &hint);
                        true
                    }
                };
                if !ok {
                    bad(
                        c,
                        format!("skip parameter `{k}` has the wrong shape"),
                        "ruleset/phase: \"current\"; phases, products, rulesets: arrays of names; rules: {ruleset_id: [rule_id]}",
                    );
                }
            }
            if obj.contains_key("ruleset")
                && (obj.contains_key("rulesets") || obj.contains_key("rules"))
            {
                bad(
                    c,
                    "skip `ruleset` cannot be combined with `rulesets` or `rules`".into(),
                    "",
                );
            }
        }
        "redirect" => {
            if let Some(fv) = p.get("from_value") {
                let target = fv.get("target_url");
                let value = target
                    .and_then(|t| t.get("value"))
                    .and_then(Value::as_str)
                    .map(String::from);
                let expr = target
                    .and_then(|t| t.get("expression"))
                    .and_then(Value::as_str);
                if value.is_some() == expr.is_some() {
                    bad(
                        c,
                        "redirect from_value.target_url needs exactly one of value and expression"
                            .into(),
                        "",
                    );
                }
                let expression = expr.and_then(|e| value_expr(c, "target_url", e));
                let status = fv.get("status_code").and_then(Value::as_i64).unwrap_or(301);
                if ![301, 302, 303, 307, 308].contains(&status) {
                    bad(
                        c,
                        format!(
                            "redirect status_code {status} is not one of 301, 302, 303, 307, 308"
                        ),
                        "",
                    );
                }
                let preserve = fv
                    .get("preserve_query_string")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                out.redirect = Some(Redirect {
                    value,
                    expression,
                    status,
                    preserve_query: preserve,
                });
            } else if p.get("from_list").is_none() {
                bad(c, "redirect needs from_value or from_list".into(), "");
            }
        }
        "serve_error" => {
            if let Some(s) = p.get("status_code").and_then(Value::as_i64)
                && !(400..=999).contains(&s)
            {
                bad(
                    c,
                    format!("serve_error status_code {s} must be 400..=999"),
                    "",
                );
            }
        }
        "rewrite" => {
            let mut rw = Rewrite::default();
            let part = |c: &mut Ctx, key: &str| -> (Option<String>, Option<ValueProgram>) {
                let Some(x) = p.get("uri").and_then(|u| u.get(key)) else {
                    return (None, None);
                };
                let value = x.get("value").and_then(Value::as_str).map(String::from);
                let expr = x.get("expression").and_then(Value::as_str);
                if value.is_some() == expr.is_some() {
                    let d = c.error(anchor, 1, format!("in rule {label}: rewrite uri.{key} needs exactly one of value and expression"));
                    d.hint = None;
                }
                (value, expr.and_then(|e| value_expr(c, key, e)))
            };
            (rw.path_value, rw.path_expr) = part(c, "path");
            (rw.query_value, rw.query_expr) = part(c, "query");
            if let Some(h) = p.get("headers").and_then(Value::as_object) {
                for (name, spec) in h {
                    let operation = spec
                        .get("operation")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if !["set", "add", "remove"].contains(&operation.as_str()) {
                        bad(
                            c,
                            format!(
                                "header `{name}`: operation `{operation}` is not set, add or remove"
                            ),
                            "",
                        );
                    }
                    let value = spec.get("value").and_then(Value::as_str).map(String::from);
                    let expression = spec
                        .get("expression")
                        .and_then(Value::as_str)
                        .and_then(|e| value_expr(c, name, e));
                    rw.headers.push(HeaderOp {
                        name: name.clone(),
                        operation,
                        value,
                        expression,
                    });
                }
            }
            if p.get("uri").is_none() && p.get("headers").is_none() {
                bad(c, "rewrite needs uri or headers".into(), "");
            }
            out.rewrite = Some(rw);
        }
        _ => {}
    }
}

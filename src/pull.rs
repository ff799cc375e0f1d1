//! `rulegate pull`: downloads a zone's entry points (and the account's), every ruleset they
//! `execute`, and every list their expressions use, into a project directory, in the shapes
//! the local engine reads. Uses only the read endpoints of the Rulesets and Lists APIs.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::cli::PullArgs;
use crate::cloudflare::Credentials;
use crate::exit::Exit;
use crate::project::load_config;
use crate::ruleset::model::{ListFile, ListItem, Ruleset};

struct Api {
    http: reqwest::Client,
    base: String,
    creds: Option<Credentials>,
}

impl Api {
    /// GETs `path`; `Ok(None)` on 404.
    async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut req = self.http.get(&url);
        match &self.creds {
            Some(Credentials::Token(t)) => req = req.bearer_auth(t.expose()),
            Some(Credentials::EmailKey { email, key }) => {
                req = req
                    .header("X-Auth-Email", email)
                    .header("X-Auth-Key", key.expose())
            }
            None => {}
        }
        let resp = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| format!("GET {url}: not JSON: {e}"))?;
        if status == 404 {
            return Ok(None);
        }
        if body.get("success") != Some(&Value::Bool(true)) {
            let errors = body.get("errors").map(Value::to_string).unwrap_or_default();
            let msg = format!("GET {url}: HTTP {status}: {errors}");
            return Err(self.creds.as_ref().map_or(msg.clone(), |c| c.redact(&msg)));
        }
        Ok(body.get("result").cloned())
    }
}

fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn file_name(r: &Ruleset) -> String {
    match (r.kind.as_str(), &r.phase) {
        ("zone" | "root", Some(p)) => format!("{}-{p}.json", r.kind),
        _ => match r.name.as_deref().map(slug).filter(|s| !s.is_empty()) {
            Some(n) => format!("{}-{n}.json", r.kind),
            None => format!("{}.json", r.id),
        },
    }
}

fn list_names(expr: &str, out: &mut BTreeSet<String>) {
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(off) = expr[i..].find('$') {
        let start = i + off + 1;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b'.')
        {
            end += 1;
        }
        let name = &expr[start..end];
        if !name.is_empty() && !name.starts_with("cf.") {
            out.insert(name.trim_end_matches('.').to_string());
        }
        i = end.max(start);
    }
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())? + "\n";
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn run(a: &PullArgs) -> Exit {
    let (config, _) = match load_config(&a.dir) {
        Ok(c) => c,
        Err(d) => {
            eprint!("{}", crate::diag::render_all(&d, &Default::default()));
            return Exit::Invalid;
        }
    };
    let Some(zone) = a.zone.clone().or_else(|| config.zone_id.clone()) else {
        eprintln!("error: no zone: pass --zone ZONE_ID or set zone_id in rulegate.yaml");
        return Exit::Invalid;
    };
    let Some(account) = a.account_id.clone().or_else(|| config.account_id.clone()) else {
        eprintln!("error: no account id: pass --account-id or set CLOUDFLARE_ACCOUNT_ID");
        return Exit::Invalid;
    };
    let base = crate::config::api_url(a.api_url.as_ref(), &config);
    let creds = crate::config::credentials_from_env().ok();
    let http = match reqwest::Client::builder()
        .user_agent(concat!("rulegate/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs_f64(a.timeout.max(0.001)))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot build the HTTP client: {e}");
            return Exit::CouldNotRun;
        }
    };
    let api = Api { http, base, creds };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    match rt.block_on(pull(&api, &zone, &account, &a.dir, &config)) {
        Ok(summary) => {
            println!("{summary}");
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CouldNotRun
        }
    }
}

async fn pull(
    api: &Api,
    zone: &str,
    account: &str,
    dir: &Path,
    config: &crate::project::ProjectConfig,
) -> Result<String, String> {
    let mut fetched: HashMap<String, Ruleset> = HashMap::new();
    let mut queue: Vec<(String, bool)> = Vec::new();
    for (scope, kind) in [
        (format!("/zones/{zone}"), "zone"),
        (format!("/accounts/{account}"), "root"),
    ] {
        let list = api
            .get(&format!("{scope}/rulesets"))
            .await?
            .unwrap_or(Value::Array(Vec::new()));
        for r in list.as_array().into_iter().flatten() {
            if r.get("kind").and_then(Value::as_str) == Some(kind)
                && let Some(id) = r.get("id").and_then(Value::as_str)
            {
                queue.push((id.to_string(), kind == "zone"));
            }
        }
    }
    let mut skipped = Vec::new();
    while let Some((id, zone_scope)) = queue.pop() {
        if fetched.contains_key(&id) {
            continue;
        }
        let path = if zone_scope {
            format!("/zones/{zone}/rulesets/{id}")
        } else {
            format!("/accounts/{account}/rulesets/{id}")
        };
        let Some(v) = api.get(&path).await? else {
            skipped.push(id);
            continue;
        };
        let rs: Ruleset =
            serde_json::from_value(v).map_err(|e| format!("{path}: not a ruleset: {e}"))?;
        for rule in &rs.rules {
            if rule.action == "execute"
                && let Some(t) = rule
                    .action_parameters
                    .as_ref()
                    .and_then(|p| p.get("id"))
                    .and_then(Value::as_str)
            {
                queue.push((t.to_string(), false));
            }
        }
        fetched.insert(id, rs);
    }
    let mut names = BTreeSet::new();
    for rs in fetched.values() {
        for r in &rs.rules {
            if let Some(e) = &r.expression {
                list_names(e, &mut names);
            }
        }
    }
    let rs_dir = dir.join(config.rulesets_dir());
    let list_dir = dir.join(config.lists_dir());
    std::fs::create_dir_all(&rs_dir)
        .map_err(|e| format!("cannot create {}: {e}", rs_dir.display()))?;
    let mut used = BTreeSet::new();
    let mut ordered: Vec<&Ruleset> = fetched.values().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    for rs in &ordered {
        let mut name = file_name(rs);
        if !used.insert(name.clone()) {
            name = format!("{}.json", rs.id);
            used.insert(name.clone());
        }
        write_json(&rs_dir.join(name), rs)?;
    }
    let mut n_lists = 0;
    if !names.is_empty() {
        let all = api
            .get(&format!("/accounts/{account}/rules/lists"))
            .await?
            .unwrap_or(Value::Array(Vec::new()));
        std::fs::create_dir_all(&list_dir)
            .map_err(|e| format!("cannot create {}: {e}", list_dir.display()))?;
        for meta in all.as_array().into_iter().flatten() {
            let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
            if !names.remove(name) {
                continue;
            }
            let id = meta.get("id").and_then(Value::as_str).unwrap_or("");
            let items = api
                .get(&format!("/accounts/{account}/rules/lists/{id}/items"))
                .await?
                .unwrap_or(Value::Array(Vec::new()));
            let items: Vec<ListItem> =
                serde_json::from_value(items).map_err(|e| format!("list {name}: {e}"))?;
            let file = ListFile {
                id: Some(id.to_string()),
                name: name.to_string(),
                kind: meta
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("ip")
                    .to_string(),
                description: meta
                    .get("description")
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                    .map(String::from),
                items,
            };
            write_json(&list_dir.join(format!("{name}.json")), &file)?;
            n_lists += 1;
        }
    }
    let mut summary = format!(
        "pulled {} ruleset(s) into {} and {n_lists} list(s) into {}",
        ordered.len(),
        rs_dir.display(),
        list_dir.display()
    );
    for id in skipped {
        summary.push_str(&format!("\nnote: ruleset {id} was not found (a managed ruleset is not downloadable); add a stand-in to model it"));
    }
    for name in names {
        summary.push_str(&format!("\nnote: list ${name} is used but was not found"));
    }
    Ok(summary)
}

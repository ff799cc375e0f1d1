//! `rulegate pull`: downloads a zone's entry points (and the account's), every ruleset they
//! `execute`, and every list their expressions use, into a project directory, in the shapes
//! the local engine reads. Uses only the read endpoints of the Rulesets and Lists APIs.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::{runtime, say, settings};
use crate::cli::PullArgs;
use crate::cloudflare::{Client, Scope};
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::project::ProjectConfig;
use crate::ruleset::model::{ListFile, Ruleset};
use crate::settings::Flags;

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
enum PullError {
    #[error("{0}")]
    Api(#[from] crate::cloudflare::ApiError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
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

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<(), PullError> {
    let write = |source| PullError::Write {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_string_pretty(v)
        .map_err(std::io::Error::other)
        .map_err(write)?
        + "\n";
    std::fs::write(path, text).map_err(write)
}

fn create_dir(dir: &Path) -> Result<(), PullError> {
    std::fs::create_dir_all(dir).map_err(|source| PullError::Write {
        path: dir.display().to_string(),
        source,
    })
}

pub(super) fn run(a: &PullArgs) -> Result<Exit, Report> {
    let settings = settings(Flags {
        dir: a.project.dir.clone(),
        api: Some(&a.api),
        ..Flags::default()
    })?;
    let zone = a
        .zone
        .clone()
        .or_else(|| settings.config.zone_id.clone())
        .ok_or_else(|| {
            Diagnostic::usage("no zone: pass --zone ZONE_ID or set zone_id in rulegate.yaml")
        })?;
    let account = settings.account_id()?;
    // Credentials are checked before the first request (Cloudflare's API needs them);
    // `rulegate serve` without --token needs none.
    let client = Client::new(settings.client_config_with(false)?)
        .map_err(|e| Diagnostic::from(crate::trace::TraceError::from(e)))?;
    let summary = runtime(0)?
        .block_on(pull(
            &client,
            &zone,
            &account,
            &a.project.dir,
            &settings.config,
        ))
        .map_err(|e| Diagnostic::could_not_run(e.to_string()))?;
    say(&format!("{summary}\n"))?;
    Ok(Exit::Success)
}

async fn pull(
    api: &Client,
    zone: &str,
    account: &str,
    dir: &Path,
    config: &ProjectConfig,
) -> Result<String, PullError> {
    let mut fetched: HashMap<String, Ruleset> = HashMap::new();
    let mut queue: Vec<(String, Scope<'_>)> = Vec::new();
    for scope in [Scope::Zone(zone), Scope::Account(account)] {
        for r in api.rulesets(scope).await? {
            if r.kind == scope.entry_kind() {
                queue.push((r.id, scope));
            }
        }
    }
    let mut skipped = Vec::new();
    while let Some((id, scope)) = queue.pop() {
        if fetched.contains_key(&id) {
            continue;
        }
        let Some(rs) = api.ruleset(scope, &id).await? else {
            skipped.push(id);
            continue;
        };
        for rule in &rs.rules {
            if rule.action == "execute"
                && let Some(t) = rule
                    .action_parameters
                    .as_ref()
                    .and_then(|p| p.get("id"))
                    .and_then(serde_json::Value::as_str)
            {
                // An executed ruleset is the account's (or Cloudflare's managed one).
                queue.push((t.to_string(), Scope::Account(account)));
            }
        }
        fetched.insert(id, rs);
    }
    // The lists the expressions use, read from their syntax trees; managed `cf.*` lists are
    // Cloudflare's and cannot be downloaded.
    let mut names = BTreeSet::new();
    let mut unreadable = Vec::new();
    for rs in fetched.values() {
        for r in &rs.rules {
            if let Some(e) = &r.expression {
                match crate::rules::lists_used(e) {
                    Ok(used) => names.extend(used.into_keys().filter(|n| !n.starts_with("cf."))),
                    Err(err) => unreadable.push(format!(
                        "rule {} of ruleset {}: {}",
                        r.id.as_deref().unwrap_or("?"),
                        rs.id,
                        err.message
                    )),
                }
            }
        }
    }
    let rs_dir = dir.join(config.rulesets_dir());
    let list_dir = dir.join(config.lists_dir());
    create_dir(&rs_dir)?;
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
        create_dir(&list_dir)?;
        for meta in api.lists(account).await? {
            if !names.remove(&meta.name) {
                continue;
            }
            let items = api.list_items(account, &meta.id).await?;
            let file = ListFile {
                id: Some(meta.id.clone()),
                kind: meta.kind.unwrap_or_else(|| "ip".to_string()),
                description: meta.description.filter(|d| !d.is_empty()),
                name: meta.name.clone(),
                items,
            };
            write_json(&list_dir.join(format!("{}.json", meta.name)), &file)?;
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
    for why in unreadable {
        summary.push_str(&format!(
            "\nnote: {why}; the lists it uses, if any, were not looked for"
        ));
    }
    Ok(summary)
}

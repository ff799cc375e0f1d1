//! `rulegate init`: sets a repository up. Finds its rules (a Terraform root module with
//! `cloudflare_ruleset` resources, a directory of ruleset JSON, or nothing, for which it
//! writes a starter ruleset), writes `rulegate.yaml` pointing at them, a first suite with one
//! case per phase (a request built from a rule's expression by [`crate::rules::sample`],
//! traced by the local engine, its outcome recorded as the expectation and tagged `review`),
//! and a GitHub workflow that runs the Action. `--dry-run` prints; nothing is overwritten
//! without `--force`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::{backend, load, runtime, say, settings};
use crate::backend::BackendKind;
use crate::cli::InitArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::rules::sample::{Sample, Want};
use crate::ruleset::compiled::{Level, Rulebook};
use crate::settings::Flags;
use crate::trace::{Extras, TraceContext, TraceRequest, TraceView};

/// Directories never searched for rules.
const SKIP_DIRS: &[&str] = &["target", "node_modules", "vendor", "dist", "build"];
/// How much of a repository the search reads before it stops.
const MAX_FILES: usize = 20_000;
const MAX_DEPTH: usize = 12;
/// The largest `.tf` file the search reads.
const MAX_TF_BYTES: u64 = 4 << 20;
/// Rules tried per phase before the phase gets a case that matches none.
const TRIES_PER_PHASE: usize = 20;
/// Hosts tried for a rule that does not test the host.
const MAX_HOSTS: usize = 4;

/// What the repository holds.
#[derive(Debug, Default)]
struct Found {
    /// Directories with `.tf` files that declare `cloudflare_ruleset` resources or call a
    /// local module that does, not called by another: the root modules.
    terraform_roots: Vec<PathBuf>,
    /// Directories of ruleset JSON, with how many rulesets each holds.
    ruleset_dirs: Vec<(PathBuf, usize)>,
    /// Directories of list JSON.
    list_dirs: Vec<(PathBuf, usize)>,
}

fn is_skipped(name: &str) -> bool {
    name.starts_with('.') || SKIP_DIRS.contains(&name)
}

/// Walks the repository (no symlinks followed, hidden and build directories left out).
fn search(repo: &Path, project: &Path) -> Found {
    let mut tf: BTreeMap<PathBuf, (bool, Vec<PathBuf>)> = BTreeMap::new();
    let mut rulesets: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut lists: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut stack = vec![(repo.to_path_buf(), 0usize)];
    let mut files = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if ft.is_dir() {
                if depth < MAX_DEPTH && !is_skipped(&name) && path != project {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            files += 1;
            if files > MAX_FILES {
                return found(tf, rulesets, lists);
            }
            if name.ends_with(".tf") {
                // A generated or vendored giant is not a root module worth reading whole.
                if e.metadata().map_or(true, |m| m.len() > MAX_TF_BYTES) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let entry = tf.entry(dir.clone()).or_default();
                entry.0 |= declares_ruleset(&text);
                for src in local_module_sources(&text) {
                    entry.1.push(normalize(&dir.join(src)));
                }
            } else if name.ends_with(".json") {
                match json_kind(&path) {
                    Some(JsonKind::Ruleset) => *rulesets.entry(dir.clone()).or_default() += 1,
                    Some(JsonKind::List) => *lists.entry(dir.clone()).or_default() += 1,
                    None => {}
                }
            }
        }
    }
    found(tf, rulesets, lists)
}

fn found(
    tf: BTreeMap<PathBuf, (bool, Vec<PathBuf>)>,
    rulesets: BTreeMap<PathBuf, usize>,
    lists: BTreeMap<PathBuf, usize>,
) -> Found {
    // A module reaches rules when it declares a ruleset or calls a module that does.
    let mut reaches: BTreeSet<PathBuf> = tf
        .iter()
        .filter(|(_, (declares, _))| *declares)
        .map(|(d, _)| d.clone())
        .collect();
    loop {
        let more: Vec<PathBuf> = tf
            .iter()
            .filter(|(d, (_, calls))| {
                !reaches.contains(*d) && calls.iter().any(|c| reaches.contains(c))
            })
            .map(|(d, _)| d.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        reaches.extend(more);
    }
    let called: BTreeSet<&PathBuf> = tf.values().flat_map(|(_, calls)| calls).collect();
    let terraform_roots = reaches
        .iter()
        .filter(|d| !called.contains(d))
        .cloned()
        .collect();
    let by_count = |m: BTreeMap<PathBuf, usize>| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    Found {
        terraform_roots,
        ruleset_dirs: by_count(rulesets),
        list_dirs: by_count(lists),
    }
}

fn declares_ruleset(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("resource") && l.contains("\"cloudflare_ruleset\"")
    })
}

/// `source = "./…"` or `"../…"` in a `.tf` file: the local modules it calls.
fn local_module_sources(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once('=')?;
            if k.trim() != "source" {
                return None;
            }
            let v = v.trim().strip_prefix('"')?;
            let v = &v[..v.find('"')?];
            (v.starts_with("./") || v.starts_with("../")).then(|| v.to_string())
        })
        .collect()
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

enum JsonKind {
    Ruleset,
    List,
}

fn json_kind(path: &Path) -> Option<JsonKind> {
    if std::fs::metadata(path).ok()?.len() > 16 << 20 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let v = v.get("result").filter(|r| r.is_object()).unwrap_or(&v);
    if v.get("rules").is_some_and(serde_json::Value::is_array)
        && v.get("phase").is_some_and(serde_json::Value::is_string)
    {
        return Some(JsonKind::Ruleset);
    }
    let list_kind = v.get("kind").and_then(serde_json::Value::as_str);
    (matches!(list_kind, Some("ip" | "hostname" | "asn" | "redirect"))
        && v.get("items").is_some_and(serde_json::Value::is_array)
        && v.get("name").is_some())
    .then_some(JsonKind::List)
}

/// `to` relative to `from` (both absolute, normalized), with `/` separators.
fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// A YAML scalar: JSON's double-quoted form is valid YAML and keeps any text one line.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The source the project will read.
enum Source {
    Terraform(PathBuf),
    Rulesets {
        rulesets: PathBuf,
        lists: Option<PathBuf>,
    },
    Starter,
}

const STARTER_RULESET: &str = r#"{
  "id": "starter-zone-custom",
  "name": "zone custom rules",
  "kind": "zone",
  "phase": "http_request_firewall_custom",
  "rules": [
    {
      "ref": "block-wp-login",
      "description": "Block WordPress login probes (this site runs no WordPress)",
      "expression": "http.request.uri.path eq \"/wp-login.php\"",
      "action": "block"
    }
  ]
}
"#;

fn config_text(source: &Source, project: &Path, others: &[String]) -> String {
    let mut out = String::from(
        "# rulegate's project settings (every key is optional; command-line flags win).\n\
         # Written by `rulegate init`; see the docs' \"Project\" chapter for every key.\n\
         backend: local               # the offline engine; --backend cloudflare for the live API\n",
    );
    match source {
        Source::Terraform(dir) => {
            let _ = writeln!(
                out,
                "terraform: {}   # the root module whose cloudflare_ruleset resources are tested",
                q(&relative(project, dir))
            );
        }
        Source::Rulesets { rulesets, lists } => {
            let _ = writeln!(
                out,
                "rulesets: {}   # ruleset JSON, as GET …/rulesets/{{id}} returns it",
                q(&relative(project, rulesets))
            );
            if let Some(l) = lists {
                let _ = writeln!(out, "lists: {}", q(&relative(project, l)));
            }
        }
        Source::Starter => {
            out.push_str("rulesets: rulesets        # a starter ruleset: replace it with yours\n");
        }
    }
    for o in others {
        let _ = writeln!(out, "# also found: {o}");
    }
    out
}

fn workflow_text(project_rel: &str, branch: &str) -> String {
    format!(
        "# Runs the rulegate suites on every pull request (offline, against the candidate rules)\n\
         # and reports what the change does against the base branch. Written by `rulegate init`.\n\
         name: rulegate\n\
         on:\n  pull_request:\n  push:\n    branches: [{branch}]\n\
         permissions:\n  contents: read\n\
         jobs:\n  rules:\n    runs-on: ubuntu-latest\n    steps:\n\
         \x20     - uses: actions/checkout@v4\n\
         \x20       with:\n\
         \x20         fetch-depth: 0          # the baseline reads the base branch from git\n\
         \x20     - uses: {action}@v1\n\
         \x20       with:\n\
         \x20         path: {path}\n",
        action = crate::ACTION,
        path = q(project_rel),
    )
}

/// The repository's default branch, as far as git says; `main` otherwise.
fn default_branch(repo: &Path) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["symbolic-ref", "--quiet", "--short", "HEAD"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let b = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if b == "master" { b } else { "main".into() }
        }
        _ => "main".into(),
    }
}

pub(super) fn run(a: &InitArgs) -> Result<Exit, Report> {
    let repo = std::path::absolute(&a.repo)
        .map_err(|e| Diagnostic::usage(format!("{}: {e}", a.repo.display())))?;
    if !repo.is_dir() {
        return Err(Diagnostic::usage(format!("{} is not a directory", a.repo.display())).into());
    }
    if a.project.is_absolute() || a.project.components().any(|c| c == Component::ParentDir) {
        return Err(Diagnostic::usage(format!(
            "--project {} must be a directory inside the repository",
            a.project.display()
        ))
        .into());
    }
    let project = normalize(&repo.join(&a.project));
    let project_rel = relative(&repo, &project);
    let found = search(&repo, &project);

    let mut others = Vec::new();
    let source = if let Some(tf) = &a.terraform {
        Source::Terraform(normalize(
            &std::path::absolute(tf).unwrap_or_else(|_| tf.clone()),
        ))
    } else if let Some(root) = found.terraform_roots.first() {
        others.extend(
            found.terraform_roots[1..]
                .iter()
                .map(|d| format!("Terraform root module {}", relative(&repo, d))),
        );
        others.extend(
            found
                .ruleset_dirs
                .iter()
                .map(|(d, n)| format!("{n} ruleset JSON file(s) in {}", relative(&repo, d))),
        );
        Source::Terraform(root.clone())
    } else if let Some((dir, _)) = found.ruleset_dirs.first() {
        others.extend(
            found.ruleset_dirs[1..]
                .iter()
                .map(|(d, n)| format!("{n} ruleset JSON file(s) in {}", relative(&repo, d))),
        );
        Source::Rulesets {
            rulesets: dir.clone(),
            lists: found.list_dirs.first().map(|(d, _)| d.clone()),
        }
    } else {
        Source::Starter
    };

    let config = config_text(&source, &project, &others);
    let mut files: Vec<(PathBuf, String)> = vec![(project.join("rulegate.yaml"), config.clone())];
    if matches!(source, Source::Starter) {
        files.push((
            project.join("rulesets/zone-http_request_firewall_custom.json"),
            STARTER_RULESET.to_string(),
        ));
    }
    if !a.no_workflow {
        files.push((
            repo.join(".github/workflows/rulegate.yml"),
            workflow_text(&project_rel, &default_branch(&repo)),
        ));
    }
    let suite_path = project.join("first.yaml");
    // The other spelling of the project file counts too: two would disagree.
    let other_config = project.join("rulegate.yml");
    let exists: Vec<String> = files
        .iter()
        .map(|(p, _)| p)
        .chain([&suite_path, &other_config])
        .filter(|p| p.exists())
        .map(|p| relative(&repo, p))
        .collect();
    if !exists.is_empty() && !a.force {
        return Err(Diagnostic::usage(format!(
            "rulegate init would overwrite {}",
            exists.join(", ")
        ))
        .hint("pass --force to overwrite them, or --project DIR for a project elsewhere")
        .into());
    }

    // The first cases: the project as configured, traced by the local engine.
    let mut parsed: crate::project::ProjectConfig = serde_saphyr::from_str(&config)
        .map_err(|e| Diagnostic::usage(format!("internal: the written rulegate.yaml: {e}")))?;
    // The project directory may not exist yet (or, with --dry-run, ever): its paths are
    // given to the loader as the absolute paths they name.
    match &source {
        Source::Terraform(d) => parsed.terraform = Some(d.clone()),
        Source::Rulesets { rulesets, lists } => {
            parsed.rulesets = Some(rulesets.clone());
            parsed.lists = lists.clone();
        }
        Source::Starter => {}
    }
    let cases = match &source {
        Source::Starter => Ok(starter_cases()),
        _ => first_cases(&project, parsed, a),
    };
    let (suite, note) = match cases {
        Ok(text) => (text, None),
        Err(why) => (
            format!(
                "# Written by `rulegate init`, which could not trace the rules: {}\n\
                 # Fix that (or pass --var NAME=VALUE), then write cases like this one.\n\
                 name: first cases\ncases:\n  - name: the home page is served\n    tags: [review]\n\
                 \x20   request: {{ url: \"https://example.com/\" }}\n    expect: {{ status: 200 }}\n",
                crate::escape::visible(why.lines().next().unwrap_or_default())
            ),
            Some(why),
        ),
    };
    files.push((suite_path, suite));

    let mut out = String::new();
    for (path, text) in &files {
        let rel = relative(&repo, path);
        if a.dry_run {
            let _ = writeln!(out, "would write {rel}:");
            for line in text.lines() {
                let _ = writeln!(out, "  | {}", crate::escape::visible(line));
            }
        } else {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Diagnostic::usage(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            std::fs::write(path, text)
                .map_err(|e| Diagnostic::usage(format!("cannot write {rel}: {e}")))?;
            let _ = writeln!(out, "wrote {rel}");
        }
    }
    let what = match &source {
        Source::Terraform(d) => format!("Terraform in {}", relative(&repo, d)),
        Source::Rulesets { rulesets, .. } => {
            format!("ruleset JSON in {}", relative(&repo, rulesets))
        }
        Source::Starter => "no rules: a starter ruleset to replace with yours".to_string(),
    };
    let _ = writeln!(out, "rules: {}", crate::escape::visible(&what));
    if let Some(why) = note {
        let _ = writeln!(
            out,
            "warning: the rules could not be traced, so first.yaml holds a placeholder case:"
        );
        out.push_str(&why);
        if !why.ends_with('\n') {
            out.push('\n');
        }
    }
    if !a.vars.is_empty() && matches!(source, Source::Terraform(_)) {
        let names: Vec<&str> = a.vars.iter().map(|(k, _)| k.as_str()).collect();
        let _ = writeln!(
            out,
            "note: the --var values were used for these cases only: give {} to `rulegate test` too (--var, TF_VAR_name, or a .tfvars file beside the module)",
            crate::escape::visible(&names.join(", "))
        );
    }
    let _ = writeln!(
        out,
        "next: review {0}/first.yaml (each case records what the rules do today, tagged review), then run `rulegate test {0}`",
        crate::escape::visible(&project_rel)
    );
    say(&out)?;
    Ok(Exit::Success)
}

fn starter_cases() -> String {
    "# First cases, written by `rulegate init` for the starter ruleset in rulesets/.\n\
     name: first cases\n\
     cases:\n\
     \x20 - name: a WordPress login probe is blocked\n\
     \x20   tags: [review]\n\
     \x20   request: { url: \"https://example.com/wp-login.php\" }\n\
     \x20   expect: { status: 403, action: block, matched: [block-wp-login] }\n\
     \x20 - name: the home page is served\n\
     \x20   tags: [review]\n\
     \x20   request: { url: \"https://example.com/\" }\n\
     \x20   expect: { status: 200, action: none, not_matched: [block-wp-login] }\n"
        .to_string()
}

/// One case per phase with an entry point, as YAML; `Err` says why the rules could not be
/// loaded or traced.
fn first_cases(
    project: &Path,
    config: crate::project::ProjectConfig,
    a: &InitArgs,
) -> Result<String, String> {
    let mut s = settings(Flags {
        dir: project.to_path_buf(),
        backend: Some(BackendKind::Local),
        vars: &a.vars,
        ..Flags::default()
    })
    .map_err(|r| r.render())?;
    s.config = config;
    s.config_file = None;
    let loaded = load(&s, None, true).map_err(|r| r.render())?;
    let project = loaded.project.ok_or("no rulesets were loaded")?;
    let book = project.book.clone();
    let backend = backend(&s, Some(&project)).map_err(|r| r.render())?;
    let rt = runtime(0).map_err(|d| Report::from(d).render())?;

    let mut out = String::from(
        "# First cases, written by `rulegate init`: one per phase, each a request built from a\n\
         # rule's expression, with what the rules do with it today as the expectation.\n\
         # Review each one (is that what should happen?), rename it, and drop its `review` tag.\n\
         name: first cases\ncases:\n",
    );
    let mut any = false;
    let phases = phases(&book);
    // A rule that does not test the host is tried on each host the rules name (a redirect
    // from the apex would otherwise end every request to it first).
    let mut hosts: Vec<String> = Vec::new();
    for (_, candidates) in &phases {
        for (_, _, expr) in candidates {
            for w in crate::rules::sample::sample(expr, &book.lists).unwrap_or_default() {
                if let ("http.host", Sample::Bytes(b)) = (w.field, &w.value) {
                    let h = String::from_utf8_lossy(b).to_ascii_lowercase();
                    if !h.is_empty() && !hosts.contains(&h) && hosts.len() < MAX_HOSTS {
                        hosts.push(h);
                    }
                }
            }
        }
    }
    for h in ["www.example.com", "example.com"] {
        if !hosts.iter().any(|x| x == h) {
            hosts.push(h.to_string());
        }
    }
    for (phase, candidates) in phases {
        let mut chosen = None;
        let tries = candidates.iter().take(TRIES_PER_PHASE).flat_map(|c| {
            let wants = crate::rules::sample::sample(&c.2, &book.lists);
            let has_host = wants
                .as_ref()
                .is_some_and(|w| w.iter().any(|w| w.field == "http.host"));
            let n = if has_host { 1 } else { hosts.len() };
            hosts.iter().take(n).map(move |h| (c, wants.clone(), h))
        });
        for ((rule_id, label, _), wants, host) in tries {
            let Some(wants) = wants else {
                continue;
            };
            let (req, fields) = request_for(&wants, host);
            let extras = Extras {
                fields: (!fields.is_empty()).then(|| fields.clone()),
                origin: None,
            };
            let Ok(result) = rt.block_on(backend.trace(&req, &extras)) else {
                continue;
            };
            let view = TraceView::new(&result);
            let matched = view
                .rule_hits()
                .iter()
                .any(|h| h.matched && &h.rule == rule_id);
            let entry = (rule_id.clone(), label.clone(), req, fields, result, matched);
            if matched {
                chosen = Some(entry);
                break;
            }
            if chosen.is_none() {
                chosen = Some(entry);
            }
        }
        let Some((rule_id, label, req, fields, result, matched)) = chosen else {
            continue;
        };
        any = true;
        let view = TraceView::new(&result);
        let selector = book_selector(&book, &rule_id).unwrap_or(rule_id);
        // A case name is one printable line: a description's control characters are shown.
        let name = crate::escape::visible(&format!("{phase}: {label}")).into_owned();
        let _ = writeln!(out, "  - name: {}", q(&name));
        if !matched {
            let _ = writeln!(
                out,
                "    # review: built to match rule {} but it does not: adjust the request",
                q(&selector)
            );
        }
        out.push_str("    tags: [review]\n");
        let _ = writeln!(
            out,
            "    request: {}",
            serde_json::to_string(&req).unwrap_or_default()
        );
        if !fields.is_empty() {
            let _ = writeln!(
                out,
                "    fields: {}     # offline only: the live Trace API cannot set these",
                serde_json::to_string(&fields).unwrap_or_default()
            );
        }
        out.push_str("    expect:\n");
        if let Some(st) = result.status_code {
            let _ = writeln!(out, "      status: {st}");
        }
        let _ = writeln!(out, "      action: {}", q(view.action()));
        let key = if matched { "matched" } else { "not_matched" };
        let _ = writeln!(out, "      {key}: [{}]", q(&selector));
    }
    rt.shutdown_background();
    if any {
        Ok(out)
    } else {
        Err("no phase has a rule with an expression to exercise".into())
    }
}

/// How suites name a rule: its `ref` when it has one, else its id.
fn book_selector(book: &Rulebook, id: &str) -> Option<String> {
    book.refs
        .iter()
        .filter(|(_, v)| v.as_str() == id)
        .map(|(k, _)| k.clone())
        .min()
}

/// A rule to build a case from: (id, label, expression).
type Candidate = (String, String, String);

/// Per phase with an entry point (account first, then zone; phases in Cloudflare's order):
/// the enabled rules with an expression that could end or shape a request, entry point
/// first, then the custom rulesets it executes: (id, label, expression).
fn phases(book: &Rulebook) -> Vec<(String, Vec<Candidate>)> {
    let mut out: Vec<(String, Vec<Candidate>)> = Vec::new();
    for phase in crate::ruleset::phases::all() {
        let mut rules = Vec::new();
        for level in [Level::Account, Level::Zone] {
            let Some(&i) = book.entry.get(&level).and_then(|m| m.get(phase)) else {
                continue;
            };
            let mut sets = vec![i];
            for r in &book.rulesets[i].rules {
                if r.rule.action == "execute" {
                    let target = r
                        .rule
                        .action_parameters
                        .as_deref()
                        .and_then(|p| p.get("id"))
                        .and_then(serde_json::Value::as_str)
                        .and_then(|id| book.by_id.get(id));
                    if let Some(&t) = target
                        && book.rulesets[t].ruleset.kind != "managed"
                    {
                        sets.push(t);
                    }
                }
            }
            for s in sets {
                for r in &book.rulesets[s].rules {
                    let (Some(id), Some(expr)) = (&r.rule.id, &r.rule.expression) else {
                        continue;
                    };
                    if r.rule.enabled == Some(false) || r.filter.is_none() {
                        continue;
                    }
                    if matches!(r.rule.action.as_str(), "execute" | "skip") {
                        continue;
                    }
                    let label = r
                        .rule
                        .description
                        .clone()
                        .filter(|d| !d.trim().is_empty())
                        .unwrap_or_else(|| id.clone());
                    rules.push((id.clone(), label, expr.clone()));
                }
            }
        }
        if !rules.is_empty() {
            // Rules that end the request first: their cases say the most.
            rules.sort_by_key(|(id, _, _)| {
                let action = rule_action(book, id);
                !crate::trace::view::TERMINATING_ACTIONS.contains(&action.as_str())
            });
            out.push((phase.to_string(), rules));
        }
    }
    out
}

fn rule_action(book: &Rulebook, id: &str) -> String {
    book.rulesets
        .iter()
        .flat_map(|s| &s.rules)
        .find(|r| r.rule.id.as_deref() == Some(id))
        .map(|r| r.rule.action.clone())
        .unwrap_or_default()
}

fn text(v: &Sample) -> String {
    match v {
        Sample::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Sample::Int(n) => n.to_string(),
        Sample::Ip(ip) => ip.to_string(),
        Sample::Bool(b) => b.to_string(),
    }
}

fn json(v: &Sample) -> serde_json::Value {
    match v {
        Sample::Bytes(b) => String::from_utf8_lossy(b).into_owned().into(),
        Sample::Int(n) => (*n).into(),
        Sample::Ip(ip) => ip.to_string().into(),
        Sample::Bool(b) => (*b).into(),
    }
}

/// The Trace API request that gives the wanted values, and the `fields:` it cannot give.
fn request_for(
    wants: &[Want],
    host: &str,
) -> (TraceRequest, serde_json::Map<String, serde_json::Value>) {
    let mut scheme = "https".to_string();
    let mut host = host.to_string();
    let mut path = "/".to_string();
    let mut query: Option<String> = None;
    let mut args: Vec<(String, String)> = Vec::new();
    let mut full: Option<String> = None;
    let mut req = TraceRequest {
        method: "GET".into(),
        ..Default::default()
    };
    let mut ctx = TraceContext::default();
    let mut fields = serde_json::Map::new();
    for w in wants {
        let t = text(&w.value);
        match (w.field, w.key.as_deref()) {
            ("http.host", None) if !t.is_empty() => host = t.to_ascii_lowercase(),
            ("http.request.uri.path", None) => {
                path = if t.starts_with('/') {
                    t
                } else {
                    format!("/{t}")
                };
            }
            ("http.request.uri.query", None) => query = Some(t),
            ("http.request.uri.args", Some(k)) => args.push((k.to_string(), t)),
            ("http.request.uri", None) => {
                let (p, qs) = t.split_once('?').unwrap_or((&t, ""));
                path = if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("/{p}")
                };
                if !qs.is_empty() {
                    query = Some(qs.to_string());
                }
            }
            ("http.request.full_uri", None) if t.contains("://") => full = Some(t),
            // A redirect list's source URL is written without its scheme.
            ("http.request.full_uri", None) if t.contains('/') => {
                full = Some(format!("https://{t}"));
            }
            ("http.request.method", None) => req.method = t.to_ascii_uppercase(),
            ("ssl", None) => {
                scheme = if w.value == Sample::Bool(false) {
                    "http"
                } else {
                    "https"
                }
                .into();
            }
            ("http.user_agent", None) => {
                req.headers.insert("user-agent".into(), t);
            }
            ("http.referer", None) => {
                req.headers.insert("referer".into(), t);
            }
            ("http.x_forwarded_for", None) => {
                req.headers.insert("x-forwarded-for".into(), t);
            }
            ("http.cookie", None) => {
                req.headers.insert("cookie".into(), t);
            }
            ("http.request.cookies", Some(k)) => {
                req.cookies.insert(k.to_string(), t);
            }
            ("http.request.headers", Some(k)) => {
                req.headers.insert(k.to_ascii_lowercase(), t);
            }
            ("http.request.headers.names", None) => {
                req.headers.insert(t.to_ascii_lowercase(), "1".into());
            }
            ("http.request.body.raw", None) => {
                req.body = Some(crate::trace::TraceBody {
                    plain_text: Some(t),
                    ..Default::default()
                });
            }
            ("ip.src.country" | "ip.geoip.country", None) => {
                ctx.geoloc.get_or_insert_with(Default::default).iso_code = Some(t);
            }
            ("cf.bot_management.score", None) => ctx.bot_score = t.parse().ok(),
            ("cf.threat_score", None) => ctx.threat_score = t.parse().ok(),
            (field, None) => {
                fields.insert(field.to_string(), json(&w.value));
            }
            // A map key the request cannot carry: left to review.
            (_, Some(_)) => {}
        }
    }
    if !args.is_empty() && query.is_none() {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &args {
            ser.append_pair(k, v);
        }
        query = Some(ser.finish());
    }
    req.url = full.unwrap_or_else(|| {
        let mut u = format!("{scheme}://{host}{path}");
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            u.push('?');
            u.push_str(&q);
        }
        u
    });
    if ctx != TraceContext::default() {
        req.context = Some(ctx);
    }
    (req, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_project_and_rules() {
        assert_eq!(
            relative(Path::new("/r/suites"), Path::new("/r/infra/cf")),
            "../infra/cf"
        );
        assert_eq!(
            relative(Path::new("/r/suites"), Path::new("/r/suites/rulesets")),
            "rulesets"
        );
        assert_eq!(relative(Path::new("/r"), Path::new("/r")), ".");
    }

    #[test]
    fn local_module_calls_and_ruleset_resources_are_recognised() {
        let tf = "module \"waf\" {\n  source = \"../modules/waf\"\n}\nmodule \"x\" {\n  source = \"hashicorp/x\"\n}\nresource \"cloudflare_ruleset\" \"a\" {}\n";
        assert_eq!(local_module_sources(tf), vec!["../modules/waf"]);
        assert!(declares_ruleset(tf));
        assert!(!declares_ruleset("resource \"cloudflare_record\" \"a\" {}"));
    }

    #[test]
    fn wanted_values_become_a_request_and_fields() {
        let w = |field: &'static str, key: Option<&str>, value: Sample| Want {
            field,
            key: key.map(str::to_string),
            value,
        };
        let (req, fields) = request_for(
            &[
                w("http.host", None, Sample::Bytes(b"Shop.example".to_vec())),
                w(
                    "http.request.uri.path",
                    None,
                    Sample::Bytes(b"/login".to_vec()),
                ),
                w("http.request.method", None, Sample::Bytes(b"post".to_vec())),
                w("cf.bot_management.score", None, Sample::Int(29)),
                w(
                    "http.request.headers",
                    Some("X-Debug"),
                    Sample::Bytes(b"1".to_vec()),
                ),
                w("ip.src", None, Sample::Ip("203.0.113.7".parse().unwrap())),
                w("ip.src.country", None, Sample::Bytes(b"CN".to_vec())),
            ],
            "example.com",
        );
        assert_eq!(req.url, "https://shop.example/login");
        assert_eq!(req.method, "POST");
        assert_eq!(req.headers["x-debug"], "1");
        let ctx = req.context.unwrap();
        assert_eq!(ctx.bot_score, Some(29));
        assert_eq!(ctx.geoloc.unwrap().iso_code.as_deref(), Some("CN"));
        assert_eq!(fields["ip.src"], "203.0.113.7");
    }
}

//! `rulegate init` on the repositories a team has: Terraform with Cloudflare rulesets (the
//! Terraform example), ruleset JSON (the example project's rulesets and lists), or nothing;
//! then `rulegate test` on what it wrote.

use std::path::Path;

use crate::common::{bin, copy_dir, git, outcome, stdout, tempdir, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn repo_with(parts: &[(&str, &str)]) -> tempfile::TempDir {
    let repo = tempdir();
    git(repo.path(), &["init", "-q"]);
    for (from, to) in parts {
        copy_dir(&Path::new(ROOT).join(from), &repo.path().join(to));
    }
    repo
}

fn init(repo: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .arg("init")
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap()
}

fn test_passes(repo: &Path) -> String {
    let o = bin()
        .args(["test", "suites"])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "rulegate test after init: {}",
        outcome(&o)
    );
    stdout(&o)
}

fn suite(repo: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(repo.join("suites/first.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn init_on_terraform_points_at_the_root_module_and_its_cases_pass() {
    let repo = repo_with(&[("examples/terraform/tf", "infra/cloudflare")]);
    let r = repo.path();
    let o = init(r, &[]);
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(
        stdout(&o).contains("Terraform in infra/cloudflare"),
        "{}",
        stdout(&o)
    );

    let config = std::fs::read_to_string(r.join("suites/rulegate.yaml")).unwrap();
    assert!(
        config.contains("terraform: \"../infra/cloudflare\""),
        "{config}"
    );
    // The module the root calls (baseline/) is not taken for a root.
    assert!(!config.contains("baseline"), "{config}");

    let s = suite(r);
    let cases = s["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["tags"][0], "review", "{c}");
    }
    // The custom rules' case is a request that really matches a rule.
    let waf = cases
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .starts_with("http_request_firewall_custom")
        })
        .expect("a case for the WAF custom rules");
    assert!(waf["expect"]["matched"].is_array(), "{waf}");
    assert_eq!(waf["expect"]["action"], "block");

    let workflow = std::fs::read_to_string(r.join(".github/workflows/rulegate.yml")).unwrap();
    let w: serde_json::Value = serde_saphyr::from_str(&workflow).unwrap();
    let steps = w["jobs"]["rules"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["with"]["fetch-depth"], 0);
    assert_eq!(steps[1]["uses"], "rulegate/rulegate@v1");
    assert_eq!(steps[1]["with"]["path"], "suites");

    // The workflow is the one the docs show (and .ci/run lints).
    let documented =
        std::fs::read_to_string(Path::new(ROOT).join("docs/src/ci/github-quickstart.yml")).unwrap();
    let body = |t: &str| {
        t.lines()
            .skip_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&workflow), body(&documented));

    let out = test_passes(r);
    assert!(out.contains(&format!("{} passed", cases.len())), "{out}");

    // Nothing is overwritten without --force; --force rewrites.
    let before = std::fs::read_to_string(r.join("suites/first.yaml")).unwrap();
    write(r, "suites/first.yaml", "# mine\n");
    let o = init(r, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(outcome(&o).contains("would overwrite"), "{}", outcome(&o));
    assert!(outcome(&o).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(r.join("suites/first.yaml")).unwrap(),
        "# mine\n"
    );
    let o = init(r, &["--force"]);
    assert!(o.status.success(), "{}", outcome(&o));
    assert_eq!(
        std::fs::read_to_string(r.join("suites/first.yaml")).unwrap(),
        before
    );
}

#[test]
fn init_on_ruleset_json_finds_rulesets_and_lists_and_its_cases_pass() {
    let repo = repo_with(&[
        ("suites/rulesets", "cloudflare/rulesets"),
        ("suites/lists", "cloudflare/lists"),
    ]);
    let r = repo.path();
    let o = init(r, &["--no-workflow"]);
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(!r.join(".github").exists(), "--no-workflow");
    let config = std::fs::read_to_string(r.join("suites/rulegate.yaml")).unwrap();
    assert!(
        config.contains("rulesets: \"../cloudflare/rulesets\""),
        "{config}"
    );
    assert!(
        config.contains("lists: \"../cloudflare/lists\""),
        "{config}"
    );
    let s = suite(r);
    let cases = s["cases"].as_array().unwrap();
    // One case per phase with an entry point that has a rule to exercise.
    let phases: Vec<&str> = cases
        .iter()
        .map(|c| c["name"].as_str().unwrap().split(':').next().unwrap())
        .collect();
    for p in [
        "http_request_firewall_custom",
        "http_request_dynamic_redirect",
        "http_request_transform",
        "http_ratelimit",
    ] {
        assert!(phases.contains(&p), "{p} in {phases:?}");
    }
    let matched = cases
        .iter()
        .filter(|c| c["expect"]["matched"].is_array())
        .count();
    assert!(
        matched * 4 >= cases.len() * 3,
        "most cases match their rule: {cases:?}"
    );
    test_passes(r);
}

#[test]
fn init_on_an_empty_repository_writes_a_starter_and_dry_run_writes_nothing() {
    let repo = repo_with(&[]);
    let r = repo.path();
    let o = init(r, &["--dry-run"]);
    assert!(o.status.success(), "{}", outcome(&o));
    let text = stdout(&o);
    assert!(text.contains("would write suites/rulegate.yaml"), "{text}");
    assert!(text.contains("would write suites/rulesets/"), "{text}");
    assert!(
        text.contains("would write .github/workflows/rulegate.yml"),
        "{text}"
    );
    assert!(
        !r.join("suites").exists() && !r.join(".github").exists(),
        "--dry-run wrote"
    );

    let o = init(r, &[]);
    assert!(o.status.success(), "{}", outcome(&o));
    let out = test_passes(r);
    assert!(out.contains("2 passed"), "{out}");
}

#[test]
fn init_refuses_a_project_outside_the_repository() {
    let repo = repo_with(&[]);
    let o = init(repo.path(), &["--project", "../elsewhere"]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(outcome(&o).contains("inside the repository"));
}

#[test]
fn init_on_terraform_that_needs_a_variable_says_so_and_takes_var() {
    let repo = repo_with(&[("examples/terraform/tf", "infra")]);
    let r = repo.path();
    std::fs::remove_file(r.join("infra/terraform.tfvars")).unwrap();
    let o = init(r, &["--no-workflow"]);
    assert!(o.status.success(), "{}", outcome(&o));
    let out = stdout(&o);
    assert!(out.contains("could not be traced"), "{out}");
    assert!(
        out.contains("needs variable `account_id`"),
        "the loader's error: {out}"
    );
    let placeholder = std::fs::read_to_string(r.join("suites/first.yaml")).unwrap();
    assert!(placeholder.starts_with("# Written by `rulegate init`, which could not trace"));

    let id = "account_id=01a7362d577a6c3019a474fd6f485823";
    let o = init(r, &["--no-workflow", "--force", "--var", id]);
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(stdout(&o).contains("give account_id to `rulegate test` too"));
    assert!(suite(r)["cases"][0]["expect"]["matched"].is_array());
    let o = bin()
        .args(["test", "suites", "--var", id])
        .current_dir(r)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
}

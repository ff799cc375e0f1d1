//! Terraform as a ruleset source, the plan/state route: a `terraform show -json` plan read
//! through `terraform:` in rulegate.yaml or `--terraform`, with module resources, a list item
//! attached through the plan's references, an `execute` whose target id is unknown until
//! apply (resolved through a module output), v5 attributes and v4 blocks.

use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/terraform")
        .join(name)
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rulegate"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A project directory holding the shop suite and `rulegate.yaml` naming `plan`.
fn project(plan: &str, extra_config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(plan), dir.path().join(plan)).unwrap();
    std::fs::copy(fixture("shop.yaml"), dir.path().join("shop.yaml")).unwrap();
    std::fs::write(
        dir.path().join("rulegate.yaml"),
        format!("terraform: {plan}\n{extra_config}"),
    )
    .unwrap();
    dir
}

#[test]
fn a_v5_plan_is_checked_and_tested_offline() {
    let dir = project("plan-v5.json", "");
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["check", d]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("3 ruleset(s), 2 list(s)"), "{out}");
    let (code, out, err) = run(&["test", d]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("6 passed"), "{out}");
}

#[test]
fn the_flag_wins_over_the_project_file_and_errors_name_the_address() {
    let dir = project("plan-v5.json", "");
    let broken = dir.path().join("broken.json");
    let text = std::fs::read_to_string(fixture("plan-v5.json"))
        .unwrap()
        .replace(
            "cf.bot_management.score lt 30",
            "cf.bot_management.scor lt 30",
        );
    std::fs::write(&broken, text).unwrap();
    let (code, _, err) = run(&[
        "check",
        dir.path().to_str().unwrap(),
        "--terraform",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "in rule `cloudflare_ruleset.zone_custom#3`: unknown field `cf.bot_management.scor`"
        ),
        "{err}"
    );
    assert!(
        err.contains("did you mean `cf.bot_management.score`?"),
        "{err}"
    );
    // The caret stands on the token inside the plan file.
    assert!(err.contains("broken.json:55:72"), "{err}");
}

#[test]
fn several_zones_need_the_project_to_say_which() {
    let dir = project("plan-v5.json", "");
    let text = std::fs::read_to_string(fixture("plan-v5.json")).unwrap();
    // A second zone's entry point (its rules without the execute).
    let mut plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let resources = plan["planned_values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap();
    let mut other = resources[0].clone();
    other["address"] = "cloudflare_ruleset.other_zone".into();
    other["values"]["zone_id"] = "99999999999999999999999999999999".into();
    other["values"]["rules"].as_array_mut().unwrap().remove(0);
    resources.push(other);
    std::fs::write(dir.path().join("plan-v5.json"), plan.to_string()).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds rulesets of 2 zones"), "{err}");
    // Naming the zone selects its rulesets.
    std::fs::write(
        dir.path().join("rulegate.yaml"),
        "terraform: plan-v5.json\nzone_id: 023e105f4ecef8ad9ca31a8372d0c353\n",
    )
    .unwrap();
    let (code, out, err) = run(&["test", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
}

/// A trace without ruleset ids: a plan names a ruleset not yet created by its address, a
/// state by its id.
fn without_ids(v: &mut serde_json::Value) {
    if let Some(o) = v.as_object_mut() {
        if o.get("type").and_then(|t| t.as_str()) == Some("ruleset") {
            o.remove("step_name");
        }
        if let Some(p) = o
            .get_mut("action_parameters")
            .and_then(|p| p.as_object_mut())
        {
            p.remove("id");
        }
        for x in o.values_mut() {
            without_ids(x);
        }
    } else if let Some(a) = v.as_array_mut() {
        a.iter_mut().for_each(without_ids);
    }
}

#[test]
fn a_v4_state_gives_the_same_traces_as_the_v5_plan() {
    let v5 = project("plan-v5.json", "");
    let v4 = project("state-v4.json", "");
    let trace = |d: &Path, ua: &str| {
        let (code, out, err) = run(&[
            "trace",
            d.to_str().unwrap(),
            "--url",
            "https://shop.example.com/admin",
            "-H",
            &format!("user-agent: {ua}"),
            "--json",
        ]);
        assert_eq!(code, Some(0), "{err}");
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        without_ids(&mut v);
        v
    };
    for ua in ["curl/8", "sqlmap/1.7"] {
        assert_eq!(trace(v5.path(), ua), trace(v4.path(), ua), "{ua}");
    }
    let (code, out, err) = run(&["test", v4.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn a_directory_says_the_hcl_route_is_not_built_and_names_the_plan_route() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tf")).unwrap();
    std::fs::write(dir.path().join("rulegate.yaml"), "terraform: tf\n").unwrap();
    std::fs::copy(fixture("shop.yaml"), dir.path().join("shop.yaml")).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("terraform show -json"), "{err}");
}

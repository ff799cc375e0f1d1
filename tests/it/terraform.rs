//! Terraform as a ruleset source, both routes: a `terraform show -json` plan or state, and
//! the `.tf` files themselves (the example in `examples/terraform`), through `terraform:` in
//! rulegate.yaml or `--terraform`: module resources, list items, an `execute` whose target id
//! is unknown until apply, v5 attributes and v4 blocks, positions, and errors.

use crate::common;

use common::{copy_dir, outcome as text};
use std::path::{Path, PathBuf};

/// A file of the Terraform example (`examples/terraform`) or of the test fixtures: the v5
/// plan, the suite and the v5 `.tf` files are the example's; the v4 ones are fixtures.
fn fixture(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match name {
        "plan-v5.json" => root.join("examples/terraform/plan.json"),
        "shop.yaml" => root.join("examples/terraform/shop.yaml"),
        "hcl" => root.join("examples/terraform/tf"),
        other => root.join("tests/fixtures/terraform").join(other),
    }
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = common::bin().args(args).output().unwrap();
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
    assert!(err.contains("broken.json:55:75"), "{err}");
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
    assert!(err.contains("holds zone entry points of 2 zones"), "{err}");
    // Naming the zone selects its rulesets.
    std::fs::write(
        dir.path().join("rulegate.yaml"),
        "terraform: plan-v5.json\nzone_id: 023e105f4ecef8ad9ca31a8372d0c353\n",
    )
    .unwrap();
    let (code, out, err) = run(&["test", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    // Or by the reference the configuration writes it with.
    std::fs::write(
        dir.path().join("rulegate.yaml"),
        "terraform: plan-v5.json\nzone_id: var.zone_id\n",
    )
    .unwrap();
    let (code, out, err) = run(&["test", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn the_hcl_route_names_the_zone_by_reference_too() {
    let dir = hcl_project("hcl");
    let main = dir.path().join("tf/main.tf");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str("\nresource \"cloudflare_ruleset\" \"other_zone\" {\n  zone_id = \"99999999999999999999999999999999\"\n  kind    = \"zone\"\n  name    = \"default\"\n  phase   = \"http_request_firewall_custom\"\n  rules   = []\n}\n");
    std::fs::write(&main, text).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("zone entry points of 2 zones"), "{err}");
    std::fs::write(
        dir.path().join("rulegate.yaml"),
        "terraform: tf\nzone_id: var.zone_id\n",
    )
    .unwrap();
    let (code, out, err) = run(&["test", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("6 passed"), "{out}");
}

/// A trace without ruleset ids and module prefixes: a plan names a ruleset not yet created
/// by its address, a state by its id; a rule's name keeps its resource and position.
fn without_ids(v: &mut serde_json::Value) {
    if let Some(o) = v.as_object_mut() {
        if o.get("type").and_then(|t| t.as_str()) == Some("ruleset") {
            o.remove("step_name");
        }
        if let Some(serde_json::Value::String(name)) = o.get_mut("step_name")
            && let Some(i) = name.rfind("cloudflare_ruleset.")
        {
            *name = name[i..].to_string();
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

/// A project whose `terraform:` is a copy of the fixture directory `name`.
fn hcl_project(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), &dir.path().join("tf"));
    std::fs::copy(fixture("shop.yaml"), dir.path().join("shop.yaml")).unwrap();
    std::fs::write(dir.path().join("rulegate.yaml"), "terraform: tf\n").unwrap();
    dir
}

#[test]
fn the_hcl_route_checks_and_tests_v5_and_v4_configurations() {
    for name in ["hcl", "hcl-v4"] {
        let dir = hcl_project(name);
        let d = dir.path().to_str().unwrap();
        let (code, out, err) = run(&["check", d]);
        assert_eq!(code, Some(0), "{name}: {err}");
        assert!(out.contains("3 ruleset(s), 2 list(s)"), "{name}: {out}");
        let (code, out, err) = run(&["test", d]);
        assert_eq!(code, Some(0), "{name}: {out}{err}");
        assert!(out.contains("6 passed"), "{name}: {out}");
    }
}

#[test]
fn hcl_and_plan_routes_give_identical_traces() {
    let hcl = hcl_project("hcl");
    let plan = project("plan-v5.json", "");
    let v4 = hcl_project("hcl-v4");
    for (url, ua) in [
        ("https://shop.example.com/admin", "curl/8"),
        ("https://shop.example.com/", "sqlmap/1.7"),
        ("https://shop.example.com/old-sale", "curl/8"),
    ] {
        let trace = |d: &Path| {
            let (code, out, err) = run(&[
                "trace",
                d.to_str().unwrap(),
                "--url",
                url,
                "-H",
                &format!("user-agent: {ua}"),
                "--json",
            ]);
            assert_eq!(code, Some(0), "{err}");
            serde_json::from_str::<serde_json::Value>(&out).unwrap()
        };
        // The HCL route and the plan route name everything alike: exactly the same trace.
        assert_eq!(trace(hcl.path()), trace(plan.path()), "{url} {ua}");
        // The v4 file keeps its baseline outside a module: the same trace but for ids.
        let (mut a, mut b) = (trace(hcl.path()), trace(v4.path()));
        without_ids(&mut a);
        without_ids(&mut b);
        assert_eq!(a, b, "{url} {ua}");
    }
}

#[test]
fn a_broken_expression_in_a_heredoc_points_at_its_token_in_the_tf_file() {
    let dir = hcl_project("hcl");
    let main = dir.path().join("tf/main.tf");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("cf.bot_management.score lt", "cf.bot_management.scor lt");
    std::fs::write(&main, text).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("unknown field `cf.bot_management.scor`"),
        "{err}"
    );
    // Line 61 of main.tf, column 15: the heredoc's own indentation (stripped by <<-) counted.
    assert!(err.contains("tf/main.tf:61:15"), "{err}");
    assert!(
        err.contains("61 |           and cf.bot_management.scor lt ${var.bot_threshold}"),
        "{err}"
    );
}

#[test]
fn unresolvable_values_are_errors_that_name_the_plan_route() {
    let dir = hcl_project("hcl");
    let main = dir.path().join("tf/main.tf");
    // A zone id known only after apply is still one zone: it loads.
    let text = std::fs::read_to_string(&main).unwrap().replace(
        "zone_id = var.zone_id\n  kind    = \"zone\"",
        "zone_id = data.cloudflare_zone.shop.id\n  kind    = \"zone\"",
    );
    std::fs::write(&main, &text).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    // An expression that depends on one cannot be evaluated offline: an error at the
    // attribute that names the value and the plan route.
    let text = text.replace(
        "expression  = \"true\"",
        "expression  = \"ip.src in {${data.cloudflare_ip_ranges.cf.ipv4_cidrs}}\"",
    );
    std::fs::write(&main, text).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cloudflare_ruleset.zone_custom: `expression` depends on a value rulegate cannot know: `data.cloudflare_ip_ranges.cf.ipv4_cidrs` is read when Terraform plans"),
        "{err}"
    );
    assert!(err.contains("terraform show -json"), "{err}");
    // On the attribute, not the block's header.
    assert!(err.contains("tf/main.tf:36:7"), "{err}");
}

#[test]
fn variables_come_from_defaults_tfvars_and_the_environment() {
    let dir = hcl_project("hcl");
    // TF_VAR_ wins over the default: a bot threshold of 1 lets the login case through.
    let o = common::bin()
        .args(["test", dir.path().to_str().unwrap()])
        .env("TF_VAR_bot_threshold", "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("---- shop::bots on login are challenged ----"),
        "{out}"
    );
    // --var wins over TF_VAR_, as Terraform's -var does: the threshold is back to 30.
    let o = common::bin()
        .args([
            "test",
            dir.path().to_str().unwrap(),
            "--var",
            "bot_threshold=30",
        ])
        .env("TF_VAR_bot_threshold", "1")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Without terraform.tfvars the account id has no value: an error at its use that says so.
    std::fs::remove_file(dir.path().join("tf/terraform.tfvars")).unwrap();
    let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`account_id` needs variable `account_id`, which has no value"),
        "{err}"
    );
    assert!(err.contains("--var account_id=VALUE"), "{err}");
}

mod mutated_hcl {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        /// Random edits of the v5 and v4 configurations: `check` ends with 0 or 2, never a
        /// panic.
        #[test]
        fn mutated_configurations_never_panic(
            which in 0..2usize,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        ) {
            let name = ["hcl", "hcl-v4"][which];
            let dir = hcl_project(name);
            let main = dir.path().join("tf/main.tf");
            let mut bytes = std::fs::read(&main).unwrap();
            for (at, byte) in edits {
                let i = at % bytes.len();
                bytes[i] = byte;
            }
            std::fs::write(&main, bytes).unwrap();
            let (code, _, err) = run(&["check", dir.path().to_str().unwrap()]);
            prop_assert!(matches!(code, Some(0 | 2)), "{:?}: {}", code, err);
            prop_assert!(!err.contains("panicked"), "{}", err);
        }
    }
}

/// What a reproduction of `../shared/terraform/repros/` must give.
enum Want {
    /// `trace` of (URL, headers) answers this status.
    Status(&'static str, &'static [&'static str], u16),
    /// `check` succeeds.
    Loads,
    /// `check` fails (exit 2) with a message holding each of these.
    Error(&'static [&'static str]),
}

#[test]
fn every_reproduction_gives_the_verdict_terraform_would_deploy() {
    let Some(_) = common::shared_text("terraform/README.md") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/terraform/repros");
    let table: &[(&str, &[Want])] = &[
        (
            "r01_lookup",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r02_bool_to_string",
            &[Want::Status("https://a.example/", &[], 403)],
        ),
        ("r03_v4_skip_rules_map", &[Want::Loads]),
        (
            "r04_local_refs_resource",
            &[
                Want::Status("https://a.example/", &["user-agent: sqlmap/1.7"], 403),
                Want::Status("https://a.example/", &["user-agent: Mozilla/5.0"], 200),
            ],
        ),
        (
            "r05_module_to_module",
            &[
                Want::Status("https://a.example/admin/users", &[], 403),
                Want::Status("https://a.example/", &[], 200),
            ],
        ),
        (
            "r06_module_meta_args",
            &[
                Want::Status("https://a.example/admin", &[], 403),
                Want::Status("https://www.example.com/", &[], 301),
            ],
        ),
        (
            "r06b_module_for_each",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r07_unrelated_local",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r08_optional_defaults",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r09_string_status",
            &[Want::Status("https://www.example.com/old", &[], 302)],
        ),
        (
            "r09b_string_block_status",
            &[Want::Status("https://a.example/admin", &[], 429)],
        ),
        (
            "r11_offset0",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r12_count_zero",
            &[Want::Error(&[
                "holds no ruleset",
                "no cloudflare_ruleset instance",
            ])],
        ),
        (
            "r13_splat_object",
            &[
                Want::Status("https://a.example/admin", &[], 403),
                Want::Status("https://a.example/api", &[], 200),
            ],
        ),
        ("r14_template_directive", &[Want::Loads]),
        (
            "r14b_directive_escape",
            &[
                Want::Status("https://a.example/admin", &[], 403),
                Want::Status("https://a.example/x", &[], 200),
            ],
        ),
        (
            "r15_list_item_external",
            &[Want::Error(&[
                "names no cloudflare_list of the configuration",
                "main.tf:1:1",
            ])],
        ),
        (
            "r16_tfvars_json",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r16b_tfvars_json_silent",
            &[
                Want::Status("https://a.example/admin", &[], 403),
                Want::Status("https://a.example/default", &[], 200),
            ],
        ),
        (
            "r17_data_zone",
            &[Want::Status("https://a.example/admin", &[], 403)],
        ),
        (
            "r18_var_no_default",
            &[Want::Error(&[
                "needs variable `zone_id`, which has no value",
                "--var zone_id=VALUE",
                "main.tf:3:3",
            ])],
        ),
        (
            "r20_remote_module",
            &[Want::Error(&[
                "not a local directory",
                "terraform show -json",
                "main.tf:2:3",
            ])],
        ),
        (
            "r21_expr_error",
            &[Want::Error(&[
                "unknown field `http.request.uri.pth`",
                "main.tf:8:39",
            ])],
        ),
    ];
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let named: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    assert_eq!(folders, named, "every reproduction has a row");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("rulegate.yaml"), "no_rulesets: false\n").unwrap();
    for (name, wants) in table {
        let tf = root.join(name);
        for want in *wants {
            match want {
                Want::Status(url, headers, status) => {
                    let mut cmd = common::bin();
                    cmd.arg("trace")
                        .arg(project.path())
                        .arg("--terraform")
                        .arg(&tf)
                        .args(["--url", url]);
                    for h in *headers {
                        cmd.args(["-H", h]);
                    }
                    let o = cmd.output().unwrap();
                    let out = String::from_utf8_lossy(&o.stdout);
                    assert!(
                        out.starts_with(&format!("status {status}")),
                        "{name} {url}: {}",
                        text(&o)
                    );
                }
                Want::Loads => {
                    let o = common::bin()
                        .arg("check")
                        .arg("--terraform")
                        .arg(&tf)
                        .arg(project.path())
                        .output()
                        .unwrap();
                    let err = String::from_utf8_lossy(&o.stderr);
                    // The empty project has no suite: only that may be wrong.
                    assert!(
                        !err.contains(".tf") && !err.contains("cloudflare_"),
                        "{name}: {}",
                        text(&o)
                    );
                }
                Want::Error(parts) => {
                    let o = common::bin()
                        .arg("trace")
                        .arg(project.path())
                        .arg("--terraform")
                        .arg(&tf)
                        .args(["--url", "https://a.example/"])
                        .output()
                        .unwrap();
                    assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
                    let err = String::from_utf8_lossy(&o.stderr);
                    for p in *parts {
                        assert!(err.contains(p), "{name}: no `{p}` in\n{err}");
                    }
                }
            }
        }
    }
}

#[test]
fn var_and_var_file_on_every_command_that_reads_terraform() {
    let Some(_) = common::shared_text("terraform/README.md") else {
        return;
    };
    let tf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/terraform/repros/r18_var_no_default");
    let project = tempfile::tempdir().unwrap();
    let vars = project.path().join("prod.tfvars.json");
    std::fs::write(&vars, r#"{"zone_id": "023e105f4ecef8ad9ca31a8372d0c353"}"#).unwrap();
    std::fs::write(
        project.path().join("s.yaml"),
        "cases:\n  - name: admin\n    request: { url: \"https://a.example/admin\" }\n    expect: { status: 403 }\n",
    )
    .unwrap();
    for how in [
        vec![
            "--var".to_string(),
            "zone_id=023e105f4ecef8ad9ca31a8372d0c353".to_string(),
        ],
        vec!["--var-file".to_string(), vars.display().to_string()],
    ] {
        for cmd in ["check", "test"] {
            let o = common::bin()
                .arg(cmd)
                .arg(project.path())
                .arg("--terraform")
                .arg(&tf)
                .args(&how)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{cmd} {how:?}: {}", text(&o));
        }
        let o = common::bin()
            .arg("trace")
            .arg(project.path())
            .arg("--terraform")
            .arg(&tf)
            .args(&how)
            .args(["--url", "https://a.example/admin"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&o.stdout).starts_with("status 403"),
            "trace {how:?}: {}",
            text(&o)
        );
    }
    let o = common::bin()
        .arg("check")
        .arg(project.path())
        .arg("--terraform")
        .arg(&tf)
        .args(["--var-file", "/nonexistent/x.tfvars"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--var-file /nonexistent/x.tfvars: no such file")
    );
}

#[test]
fn rules_built_from_a_map_deploy_in_lexical_order_of_its_keys() {
    let project = tempfile::tempdir().unwrap();
    let tf = project.path().join("tf");
    std::fs::create_dir(&tf).unwrap();
    std::fs::write(
        tf.join("main.tf"),
        r#"locals {
  rules = {
    z_block     = { action = "block", expression = "true" }
    a_challenge = { action = "managed_challenge", expression = "true" }
  }
}
resource "cloudflare_ruleset" "waf" {
  zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
  name    = "waf"
  kind    = "zone"
  phase   = "http_request_firewall_custom"
  rules   = [for k, r in local.rules : { action = r.action, expression = r.expression, description = k }]
}
"#,
    )
    .unwrap();
    let o = common::bin()
        .arg("trace")
        .arg(project.path())
        .arg("--terraform")
        .arg(&tf)
        .args(["--url", "https://a.example/"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("status 403, action managed_challenge"),
        "{}",
        text(&o)
    );
    // The same map written inline in the resource's own expression.
    std::fs::write(
        tf.join("main.tf"),
        r#"resource "cloudflare_ruleset" "waf" {
  zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
  name    = "waf"
  kind    = "zone"
  phase   = "http_request_firewall_custom"
  rules = [for k, r in {
    z_block     = { action = "block", expression = "true" }
    a_challenge = { action = "managed_challenge", expression = "true" }
  } : { action = r.action, expression = r.expression, description = k }]
}
"#,
    )
    .unwrap();
    let o = common::bin()
        .arg("trace")
        .arg(project.path())
        .arg("--terraform")
        .arg(&tf)
        .args(["--url", "https://a.example/"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("status 403, action managed_challenge"),
        "{}",
        text(&o)
    );
}

/// Writes `files` into `<project>/tf` and traces `url` there (`trace PROJECT --terraform tf`).
fn trace_tf(files: &[(&str, &str)], url: &str, extra: &[&str]) -> std::process::Output {
    let project = tempfile::tempdir().unwrap();
    let tf = project.path().join("tf");
    for (name, body) in files {
        let path = tf.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    common::bin()
        .arg("trace")
        .arg(project.path())
        .arg("--terraform")
        .arg(&tf)
        .args(["--url", url])
        .args(extra)
        .output()
        .unwrap()
}

const WAF_HEADER: &str = r#"resource "cloudflare_ruleset" "waf" {
  name    = "waf"
  kind    = "zone"
  phase   = "http_request_firewall_custom"
"#;

#[test]
fn data_sources_and_other_providers_are_unknown_and_fail_only_where_the_verdict_needs_them() {
    // A zone id from a data source, indexed and looked up as real configurations do; a
    // description from another provider's resource; a ref from `random_uuid`: all unknown,
    // none changes the verdict, so the configuration loads.
    let main = format!(
        r#"data "cloudflare_zones" "z" {{ name = "example.com" }}
resource "random_uuid" "ref" {{}}
locals {{
  zone_id = lookup(data.cloudflare_zones.z.result[0], "id", "")
  blocked = length(data.cloudflare_zones.z.result) > 0 ? "block" : "log"
}}
{WAF_HEADER}  zone_id = local.zone_id
  rules = [{{
    action      = "block"
    expression  = "http.request.uri.path eq \"/admin\""
    description = "owned by ${{random_uuid.ref.result}}"
    ref         = random_uuid.ref.result
  }}]
}}
"#
    );
    let o = trace_tf(&[("main.tf", &main)], "https://a.example/admin", &[]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("status 403, action block"),
        "{}",
        text(&o)
    );
    // The action from a comparison with the data source: never a comparison with a
    // placeholder's text; an error at `rules` naming the data source and the plan route.
    let main = main.replace("action      = \"block\"", "action      = local.blocked");
    let o = trace_tf(&[("main.tf", &main)], "https://a.example/admin", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("`action` depends on a value rulegate cannot know: `data.cloudflare_zones.z.result` is read when Terraform plans"),
        "{err}"
    );
    // `count` from a data source: Terraform needs it to plan; rulegate names it.
    let main = format!(
        r#"data "cloudflare_zones" "z" {{ name = "example.com" }}
{WAF_HEADER}  count   = length(data.cloudflare_zones.z.result)
  zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
  rules = [{{ action = "block", expression = "true" }}]
}}
"#
    );
    let o = trace_tf(&[("main.tf", &main)], "https://a.example/", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("count depends on a value rulegate cannot know"),
        "{err}"
    );
    assert!(
        err.contains("main.tf:6:3"),
        "names the count attribute's file, line and column: {err}"
    );
}

#[test]
fn registry_modules_are_read_where_terraform_init_installed_them() {
    let label = r#"variable "enabled" { default = true }
output "enabled" { value = var.enabled }
"#;
    let main = format!(
        r#"module "this" {{
  source  = "cloudposse/label/null"
  version = "0.25.0"
}}
module "unused" {{ source = "git::https://example.com/other.git" }}
{WAF_HEADER}  count   = module.this.enabled ? 1 : 0
  zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
  rules = [{{ action = "block", expression = "true" }}]
}}
"#
    );
    // Not installed: each is an error at its source (it may declare rulesets rulegate would
    // not test), and the `count` that needs one says so.
    let o = trace_tf(&[("main.tf", &main)], "https://a.example/", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err.contains("module `this` comes from `cloudposse/label/null`, which is not a local directory and not installed"), "{err}");
    assert!(err.contains("module `unused` comes from"), "{err}");
    assert!(err.contains("run `terraform init` first"), "{err}");
    assert!(
        err.contains("`module.this` comes from a module that is neither local nor installed"),
        "{err}"
    );
    // Installed by `terraform init` (the unused one too): read from .terraform/modules.
    let main = main.replace(
        "module \"unused\" { source = \"git::https://example.com/other.git\" }\n",
        "",
    );
    // A manifest that sends the module outside the repository is refused at the source.
    let outside =
        r#"{"Modules":[{"Key":"this","Source":"x","Dir":"../../../../../../../../etc"}]}"#;
    let o = trace_tf(
        &[
            ("main.tf", &main),
            (".terraform/modules/modules.json", outside),
        ],
        "https://a.example/",
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err.contains("leads outside the repository"), "{err}");
    let manifest = r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"this","Source":"registry.terraform.io/cloudposse/label/null","Version":"0.25.0","Dir":".terraform/modules/this"}]}"#;
    let o = trace_tf(
        &[
            ("main.tf", &main),
            (".terraform/modules/modules.json", manifest),
            (".terraform/modules/this/main.tf", label),
        ],
        "https://a.example/",
        &[],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("status 403, action block"),
        "{}",
        text(&o)
    );
}

#[test]
fn try_can_files_and_templates_evaluate_as_in_terraform() {
    let main = format!(
        r#"locals {{
  cfg   = jsondecode(file("${{path.module}}/rules.json"))
  paths = try(local.cfg.paths, ["/fallback"])
  extra = can(local.cfg.missing) ? "x" : "none"
}}
{WAF_HEADER}  zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
  rules = [{{
    action      = local.extra == "none" ? "block" : "log"
    expression  = templatefile("${{path.module}}/expr.tpl", {{ paths = local.paths }})
  }}]
}}
"#
    );
    let files = [
        ("main.tf", main.as_str()),
        ("rules.json", r#"{"paths": ["/admin", "/login"]}"#),
        (
            "expr.tpl",
            r#"http.request.uri.path in {%{ for p in paths }"${p}" %{ endfor }}"#,
        ),
    ];
    let o = trace_tf(&files, "https://a.example/login", &[]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("status 403, action block"),
        "{}",
        text(&o)
    );
    let o = trace_tf(&files, "https://a.example/other", &[]);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("action block"),
        "{}",
        text(&o)
    );
    // A file outside the repository is refused, naming the function.
    let main = main.replace("${path.module}/rules.json", "/etc/hostname");
    let o = trace_tf(&[("main.tf", &main), files[2]], "https://a.example/", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err.contains("file(\"/etc/hostname\")"), "{err}");
}

#[test]
fn an_encrypted_tfvars_file_is_skipped_and_its_variables_have_no_value() {
    let main = format!(
        r#"variable "action" {{ default = "log" }}
{WAF_HEADER}  zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
  rules = [{{ action = var.action, expression = "true" }}]
}}
"#
    );
    // git-crypt output starts with a NUL; the default must not silently stand in for it.
    let files = [
        ("main.tf", main.as_str()),
        ("secrets.auto.tfvars", "\0GITCRYPT\0binary"),
    ];
    let o = trace_tf(&files, "https://a.example/", &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err.contains("needs variable `action`"), "{err}");
    let o = trace_tf(&files, "https://a.example/", &["--var", "action=block"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("status 403, action block"),
        "{}",
        text(&o)
    );
}

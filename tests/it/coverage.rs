//! Rule coverage over the example project: the console report names the rule no case reaches
//! with its file and line; `--require-coverage` and rulegate.yaml's `coverage:` decide the
//! exit code; LCOV and Cobertura are checked by parsing them (and by `lcov --summary` when
//! lcov is installed, as `.ci/run` does).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, copy_dir, outcome as text};

/// The example's one rule no case reaches (a managed stand-in's "Web shell upload").
const UNREACHED: &str = "c19906c6557513f8efde80d06f2e4ce0";
const MANAGED: &str = "rulesets/managed-cloudflare-managed-ruleset.json";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("suites")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(["test", ".", "-q"])
        .args(args)
        .output()
        .unwrap()
}

/// The line of `file` that holds `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn the_report_names_the_rule_no_case_reaches_with_file_and_line() {
    let o = run(&example(), &["--coverage"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = line_of(&example().join(MANAGED), UNREACHED);
    assert!(
        out.contains(&format!(
            "rules no case reaches:\n  {MANAGED}:{line}  `{UNREACHED}` (Web shell upload)"
        )),
        "{out}"
    );
    assert!(
        out.contains("24 of 25 rules matched by some case (96.0%); not counted: 1 disabled"),
        "{out}"
    );
    // Per rule: evaluated and matched counts.
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("country-block "))
        .unwrap();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells[1], "Sanctioned countries");
    assert!(cells[2].parse::<usize>().unwrap() >= cells[3].parse::<usize>().unwrap());
    assert!(cells[3].parse::<usize>().unwrap() >= 1);
}

#[test]
fn require_coverage_fails_on_an_uncovered_rule_and_passes_when_it_is_exempt() {
    let o = run(&example(), &["--require-coverage"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rule coverage 96.0% (24 of 25 rules matched) is below the required all"),
        "{err}"
    );
    assert!(err.contains(UNREACHED), "{err}");
    let o = run(&example(), &["--require-coverage", "90%"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&example(), &["--require-coverage", "lots"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`lots` is not a coverage requirement"),
        "{}",
        text(&o)
    );

    // rulegate.yaml: require all, with the rule exempt.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example(), dir.path());
    let cfg = dir.path().join("rulegate.yaml");
    let mut yaml = std::fs::read_to_string(&cfg).unwrap();
    yaml.push_str("coverage:\n  require: all\n");
    std::fs::write(&cfg, &yaml).unwrap();
    let o = run(dir.path(), &["--coverage"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the file's requirement applies: {}",
        text(&o)
    );
    yaml.push_str(&format!("  exempt: [\"{UNREACHED}\"]\n"));
    std::fs::write(&cfg, &yaml).unwrap();
    let o = run(dir.path(), &["--require-coverage"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 exempt"));
    // The file's requirement holds on every unfiltered run, without a coverage flag.
    let o = run(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("rule coverage"));
}

#[test]
fn lcov_records_are_consistent_and_lcov_accepts_them() {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("rules.info");
    let o = run(&example(), &["--coverage-lcov", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let info = std::fs::read_to_string(&path).unwrap();
    let mut files = 0;
    let mut unreached_hits = None;
    let unreached_line = line_of(&example().join(MANAGED), UNREACHED);
    for record in info.split_terminator("end_of_record\n") {
        files += 1;
        let mut sf = None;
        let (mut da, mut hit, mut lf, mut lh) = (0, 0, None, None);
        for l in record.lines() {
            let (k, v) = l.split_once(':').unwrap();
            match k {
                "TN" => {}
                "SF" => sf = Some(v.to_string()),
                "DA" => {
                    let (line, hits) = v.split_once(',').unwrap();
                    let (line, hits): (usize, usize) =
                        (line.parse().unwrap(), hits.parse().unwrap());
                    assert!(line >= 1);
                    da += 1;
                    hit += usize::from(hits > 0);
                    if sf.as_deref() == Some(MANAGED) && line == unreached_line {
                        unreached_hits = Some(hits);
                    }
                }
                "LF" => lf = Some(v.parse::<usize>().unwrap()),
                "LH" => lh = Some(v.parse::<usize>().unwrap()),
                other => panic!("unexpected record {other}"),
            }
        }
        let sf = sf.expect("SF");
        assert!(example().join(&sf).is_file(), "{sf}");
        assert_eq!(lf, Some(da), "{record}");
        assert_eq!(lh, Some(hit), "{record}");
    }
    assert_eq!(files, 10, "{info}");
    assert_eq!(unreached_hits, Some(0), "{info}");
    if std::process::Command::new("lcov")
        .arg("--version")
        .output()
        .is_ok()
    {
        let o = std::process::Command::new("lcov")
            .arg("--summary")
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "lcov --summary: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("96.0%")
                || String::from_utf8_lossy(&o.stderr).contains("96.0%"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn cobertura_has_what_gitlab_and_jenkins_read() {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("coverage.xml");
    let o = run(
        &example(),
        &["--coverage-cobertura", path.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let xml = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "coverage");
    for a in [
        "line-rate",
        "branch-rate",
        "lines-covered",
        "lines-valid",
        "version",
        "timestamp",
    ] {
        assert!(root.attribute(a).is_some(), "coverage@{a}");
    }
    assert_eq!(root.attribute("lines-valid"), Some("25"));
    assert_eq!(root.attribute("lines-covered"), Some("24"));
    assert_eq!(root.attribute("line-rate"), Some("0.9600"));
    let source = root
        .descendants()
        .find(|n| n.has_tag_name("source"))
        .and_then(|n| n.text())
        .unwrap();
    let (mut lines, mut covered) = (0, 0);
    let mut unreached = None;
    let unreached_line = line_of(&example().join(MANAGED), UNREACHED).to_string();
    for class in root
        .children()
        .filter(|n| n.has_tag_name("packages"))
        .flat_map(|p| p.children().filter(|n| n.has_tag_name("package")))
        .flat_map(|p| p.children().filter(|n| n.has_tag_name("classes")))
        .flat_map(|c| c.children().filter(|n| n.has_tag_name("class")))
    {
        let filename = class.attribute("filename").unwrap();
        assert!(Path::new(source).join(filename).is_file(), "{filename}");
        assert!(class.attribute("line-rate").is_some());
        for line in class
            .children()
            .filter(|n| n.has_tag_name("lines"))
            .flat_map(|l| l.children().filter(|n| n.has_tag_name("line")))
        {
            let hits: usize = line.attribute("hits").unwrap().parse().unwrap();
            let number = line.attribute("number").unwrap();
            lines += 1;
            covered += usize::from(hits > 0);
            if filename.ends_with(MANAGED) && number == unreached_line {
                unreached = Some(hits);
            }
        }
    }
    assert_eq!((lines, covered), (25, 24));
    assert_eq!(unreached, Some(0));
}

#[test]
fn coverage_needs_the_local_engine() {
    let o = bin()
        .current_dir(example())
        .env("CLOUDFLARE_API_TOKEN", "t")
        .args(["test", ".", "--coverage", "--backend", "cloudflare"])
        .args(["--api-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("rule coverage is measured by the local engine"),
        "{}",
        text(&o)
    );
}

#[test]
fn uncovered_rules_are_github_warnings_at_their_line() {
    let o = run(&example(), &["--coverage", "--annotations", "github"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let warnings: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("::warning "))
        .collect();
    let line = line_of(&example().join(MANAGED), UNREACHED);
    assert_eq!(
        warnings,
        [format!(
            "::warning file={MANAGED},line={line},title=uncovered rule%3A {UNREACHED}::no case reaches this rule of ruleset efb7b8c949ac4650a09736fc376e9aee"
        )
        .as_str()]
        .as_slice(),
        "{out}"
    );
}

#[test]
fn terraform_rules_are_placed_at_their_own_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("tf.info");
    let o = bin()
        .current_dir(root)
        .args(["test", "examples/terraform", "-q", "--coverage-lcov"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let info = std::fs::read_to_string(&path).unwrap();
    let mut file = String::new();
    let mut placed = 0;
    for l in info.lines() {
        if let Some(sf) = l.strip_prefix("SF:") {
            assert!(!sf.contains("/./"), "{sf}");
            file = std::fs::read_to_string(root.join(sf)).unwrap();
        } else if let Some(da) = l.strip_prefix("DA:") {
            let line: usize = da.split(',').next().unwrap().parse().unwrap();
            let at = file.lines().nth(line - 1).unwrap().trim_start();
            assert!(
                at.starts_with("ref ")
                    || at.starts_with("description ")
                    || at.starts_with("expression "),
                "line {line} is not inside a rule: {at}"
            );
            placed += 1;
        }
    }
    assert_eq!(placed, 5, "{info}");
}

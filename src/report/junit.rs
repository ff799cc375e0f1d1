//! JUnit XML (design §7): one `<testsuite>` per suite file, one `<testcase>` per selected or
//! ignored case; `<failure>` for unmet expectations (mismatches and diff as its text),
//! `<error>` for cases that could not run, `<skipped>` for ignored ones. The suite's
//! `<system-out>` records the backend, the tool version and the ruleset source. Validates
//! against the Jenkins xUnit junit-10.xsd; written atomically.

use std::io::Write;
use std::path::Path;

use junit_report::{Duration, OffsetDateTime, ReportBuilder, TestCaseBuilder, TestSuiteBuilder};

use crate::escape::{cdata, scrub, visible, xml_text};
use crate::runner::{Outcome, RunResult};
use crate::suite::Suite;

/// Run facts written into each suite's `<system-out>`, and the run's start time.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) backend: String,
    pub(crate) rulesets: String,
    /// Written as each suite's `timestamp`; passed in so a report is reproducible.
    pub(crate) timestamp: OffsetDateTime,
}

/// The current time to the second, for [`Meta::timestamp`].
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JunitError {
    #[error("cannot write JUnit XML: {0}")]
    Xml(String),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JunitError {
    let path = path.display().to_string();
    move |source| JunitError::Io { what, path, source }
}

/// Writes the report for `suites` and `run` to `out`.
pub(crate) fn write(
    suites: &[Suite],
    run: &RunResult,
    meta: &Meta,
    out: impl Write,
) -> Result<(), JunitError> {
    // Names and messages are attributes (the writer escapes markup; the characters XML forbids
    // are made visible here); failure bodies and system-out are CDATA, which cannot hold `]]>`.
    let x = |s: &str| xml_text(s).into_owned();
    let mut report = ReportBuilder::new();
    for suite in suites {
        let mut ts = TestSuiteBuilder::new(&x(&suite.id));
        ts.set_timestamp(meta.timestamp);
        let mut any = false;
        for (case, r) in run.in_suite(suite) {
            any = true;
            let time = Duration::try_from(r.duration).unwrap_or(Duration::ZERO);
            let name = x(&case.name);
            let mut tc = match &r.outcome {
                Outcome::Passed => TestCaseBuilder::success(&name, time),
                Outcome::Failed { mismatches, diff } => {
                    let first = mismatches
                        .first()
                        .map(|m| m.message.as_str())
                        .unwrap_or("failed");
                    let mut text: String = mismatches
                        .iter()
                        .map(|m| format!("{}\n", m.message))
                        .collect();
                    text.push('\n');
                    text.push_str(diff);
                    let mut b = TestCaseBuilder::failure(&name, time, "expectation", &x(first));
                    b.set_trace(&cdata(&text));
                    b
                }
                Outcome::Error { error } => {
                    let message = error.to_string();
                    let first = message.lines().next().unwrap_or("could not run");
                    let mut b = TestCaseBuilder::error(&name, time, "could_not_run", &x(first));
                    b.set_trace(&cdata(&message));
                    b
                }
                Outcome::Skipped { reason } => {
                    let kind = if reason == crate::runner::OFFLINE_ONLY {
                        "offline_only"
                    } else {
                        "ignored"
                    };
                    TestCaseBuilder::skipped_with_cause(&name, kind, &x(reason))
                }
            };
            tc.set_classname(&x(&suite.id));
            if !case.tags.is_empty() {
                let tags: Vec<String> = case.tags.iter().map(|t| visible(t).into_owned()).collect();
                tc.set_system_out(&cdata(&format!("tags: {}\n", tags.join(", "))));
            }
            ts.add_testcase(tc.build());
        }
        if any {
            ts.set_system_out(&cdata(&format!(
                "{}file: {}\nbackend: {}\nrulegate: {}\nrulesets: {}\n",
                suite
                    .name
                    .as_deref()
                    .map(|n| format!("name: {}\n", visible(n)))
                    .unwrap_or_default(),
                visible(&suite.file.display().to_string()),
                meta.backend,
                env!("CARGO_PKG_VERSION"),
                meta.rulesets
            )));
            report.add_testsuite(ts.build());
        }
    }
    let mut buf = Vec::new();
    report
        .build()
        .write_xml(&mut buf)
        .map_err(|e| JunitError::Xml(e.to_string()))?;
    // Known secrets never reach the report (they hold no markup, so the XML stays valid).
    let text = String::from_utf8_lossy(&buf);
    let mut out = out;
    out.write_all(scrub(&text).as_bytes())
        .map_err(|e| JunitError::Xml(e.to_string()))
}

fn parent_dir(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "junit.xml".into())
}

/// Checks, before anything runs, that a report can be written to `path`: its directory
/// exists (or is created) and takes a file. A run must not trace every case and then fail to
/// report. Also removes temporary files that an interrupted run left beside the report.
pub(crate) fn check_writable(path: &Path) -> Result<(), JunitError> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    if path.is_dir() {
        return Err(JunitError::Io {
            what: "write the report to",
            path: path.display().to_string(),
            source: std::io::Error::other("it is a directory"),
        });
    }
    let name = file_name(path);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let stale = format!(".{name}.");
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&stale) && n.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let probe = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::File::create(&probe).map_err(io("create", &probe))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes the report to `path` atomically: a temporary file beside it, then a rename.
pub(crate) fn write_file(
    path: &Path,
    suites: &[Suite],
    run: &RunResult,
    meta: &Meta,
) -> Result<(), JunitError> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    }
    let tmp = dir.join(format!(".{}.{}.tmp", file_name(path), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
        let mut buf = Vec::new();
        write(suites, run, meta, &mut buf)?;
        f.write_all(&buf)
            .and_then(|_| f.sync_all())
            .map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("move the report to", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration as StdDuration;

    use super::*;
    use crate::runner::CaseResult;
    use crate::suite::{Case, Expectations};

    fn case(name: &str) -> Case {
        Case {
            full_name: format!("s::{name}"),
            name: name.into(),
            line: 3,
            request: crate::trace::TraceRequest::default(),
            expect: Expectations {
                status: Some(vec![200]),
                ..Expectations::default()
            },
            ignore: None,
            tags: Vec::new(),
            extras: crate::trace::Extras::default(),
            snapshot: false,
        }
    }

    #[test]
    fn a_report_is_reproducible_byte_for_byte() {
        let suites = [Suite {
            file: PathBuf::from("s.yaml"),
            id: "s".into(),
            name: None,
            cases: vec![case("a"), case("b")],
        }];
        let run = RunResult {
            results: BTreeMap::from([
                (
                    "s::a".to_string(),
                    CaseResult {
                        behaviour: None,
                        rules: Vec::new(),
                        outcome: Outcome::Passed,
                        duration: StdDuration::from_millis(5),
                    },
                ),
                (
                    "s::b".to_string(),
                    CaseResult {
                        behaviour: None,
                        rules: Vec::new(),
                        outcome: Outcome::Skipped {
                            reason: "later".into(),
                        },
                        duration: StdDuration::ZERO,
                    },
                ),
            ]),
            unexplained_failures: 0,
        };
        let meta = Meta {
            backend: "local (suites)".into(),
            rulesets: "1 ruleset(s)".into(),
            timestamp: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write(&suites, &run, &meta, &mut a).unwrap();
        write(&suites, &run, &meta, &mut b).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("timestamp"), Some("2023-11-14T22:13:20Z"));
        assert_eq!(suite.attribute("tests"), Some("2"));
        let skipped = suite
            .children()
            .filter(|c| c.descendants().any(|d| d.has_tag_name("skipped")))
            .count();
        assert_eq!(skipped, 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever a name, a message or a reason holds, the report parses, keeps exactly its
        /// testcases, and gives back the text (controls made visible) as it was written.
        #[test]
        fn any_text_keeps_the_report_whole(
            name in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
            text in "\\PC{0,80}|[\\x00-\\x7f]{0,80}|.*\\]\\]>.*",
            reason in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
        ) {
            let suites = [Suite {
                file: PathBuf::from("s.yaml"),
                id: "s".into(),
                name: None,
                cases: vec![case(&name), case("other")],
            }];
            let failed = CaseResult {
                behaviour: None,
                rules: Vec::new(),
                outcome: Outcome::Failed {
                    mismatches: vec![crate::expect::Mismatch { key: "status", message: text.clone() }],
                    diff: text.clone(),
                },
                duration: StdDuration::ZERO,
            };
            let skipped = CaseResult {
                behaviour: None,
                rules: Vec::new(),
                outcome: Outcome::Skipped { reason: reason.clone() },
                duration: StdDuration::ZERO,
            };
            let mut results = BTreeMap::from([("s::other".to_string(), skipped)]);
            results.insert(format!("s::{name}"), failed);
            let run = RunResult { results, unexplained_failures: 0 };
            let meta = Meta {
                backend: "local".into(),
                rulesets: "r".into(),
                timestamp: OffsetDateTime::from_unix_timestamp(0).unwrap(),
            };
            let mut buf = Vec::new();
            write(&suites, &run, &meta, &mut buf).unwrap();
            let xml = String::from_utf8(buf).unwrap();
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
            proptest::prop_assert_eq!(cases.len(), if name == "other" { 1 } else { 2 });
            if name != "other" {
                let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
                let body: String = failure.descendants().filter_map(|n| n.text()).collect();
                proptest::prop_assert!(body.contains(xml_text(&text).as_ref()));
            }
        }
    }
}

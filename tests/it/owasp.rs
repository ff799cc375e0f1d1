//! The CRS emulation measured against CRS v3.3.4's own regression tests (two thirds of them,
//! in `../shared/owasp/`), with the rules from a CRS release on this machine (Debian's
//! `modsecurity-crs` package in CI). Prints the pass rate per rule file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rulegate::owasp::{Crs, Settings, ftw};

/// The CRS on this machine: `RULEGATE_CRS`, else Debian's package. `None` (and a printed
/// reason) when absent, unless `RULEGATE_REQUIRE_SHARED` makes it a failure.
pub(crate) fn crs() -> Option<Crs> {
    let path = std::env::var_os("RULEGATE_CRS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(rulegate::owasp::DEBIAN_RULES));
    match Crs::load(&path) {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(
                std::env::var_os("RULEGATE_REQUIRE_SHARED").is_none(),
                "{e}; RULEGATE_REQUIRE_SHARED is set, so a CRS release must be installed (apt-get install modsecurity-crs)"
            );
            eprintln!("skipped: no CRS release ({e}); install modsecurity-crs or set RULEGATE_CRS");
            None
        }
    }
}

fn regression_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/owasp/crs-3.3.4-regression");
    if d.is_dir() {
        return Some(d);
    }
    assert!(
        std::env::var_os("RULEGATE_REQUIRE_SHARED").is_none(),
        "{} is absent; RULEGATE_REQUIRE_SHARED is set, so shared/ must be beside the checkout",
        d.display()
    );
    eprintln!("skipped: {} is absent", d.display());
    None
}

#[test]
fn crs_regression_suite_passes_at_paranoia_level_4() {
    let Some(dir) = regression_dir() else { return };
    let Some(crs) = crs() else { return };
    let settings = Settings {
        paranoia: 4,
        without_blocking: false,
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    // Per rule file: (passed, total, passed among must-match, must-match total).
    let mut by_file: BTreeMap<String, [u32; 4]> = BTreeMap::new();
    let mut failures = Vec::new();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let cases = ftw::read(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            for c in cases {
                let Some((id, must)) = c.expect else { continue };
                let out = crs.evaluate(&c.request, &settings, &|_| false);
                let logged = out
                    .evaluated
                    .iter()
                    .any(|e| e.matched && crs.rule(e.rule).id == id && crs.rule(e.rule).logs);
                let ok = logged == must;
                let e = by_file.entry(name.clone()).or_default();
                e[1] += 1;
                if must {
                    e[3] += 1;
                }
                if ok {
                    e[0] += 1;
                    if must {
                        e[2] += 1;
                    }
                } else {
                    failures.push(format!(
                        "{} ({}{id})",
                        c.title,
                        if must { "" } else { "not " }
                    ));
                }
            }
        }
    }
    let sum = |k: usize| by_file.values().map(|v| v[k]).sum::<u32>();
    let (pass, total, mpass, mtotal) = (sum(0), sum(1), sum(2), sum(3));
    println!(
        "CRS regression suite ({}), paranoia level 4:",
        crs.version()
    );
    for (f, v) in &by_file {
        println!(
            "  {f:<45} {:>4}/{:<4} ({:.1}%)",
            v[0],
            v[1],
            f64::from(v[0]) * 100.0 / f64::from(v[1])
        );
    }
    let all = f64::from(pass) * 100.0 / f64::from(total);
    let must = f64::from(mpass) * 100.0 / f64::from(mtotal);
    println!("  all: {pass}/{total} ({all:.1}%); rule must match: {mpass}/{mtotal} ({must:.1}%)");
    if std::env::var_os("SHOW_FAILURES").is_some() {
        for f in &failures {
            println!("  FAIL {f}");
        }
    }
    assert!(
        all >= 97.0 && must >= 97.0,
        "below 97%: {} failures, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}

/// `OWASP_FILE=…/941130.yaml OWASP_TITLE=941130-2 cargo test --test it debug_one_case -- --ignored --nocapture`:
/// the rules a regression case matched, for working on the emulation.
#[test]
#[ignore = "a tool for working on the emulation"]
fn debug_one_case() {
    let Some(crs) = crs() else { return };
    let file = std::env::var("OWASP_FILE").expect("OWASP_FILE");
    let title = std::env::var("OWASP_TITLE").unwrap_or_default();
    let settings = Settings {
        paranoia: 4,
        without_blocking: false,
    };
    for c in ftw::read(&std::fs::read_to_string(file).unwrap()).unwrap() {
        if !title.is_empty() && c.title != title {
            continue;
        }
        println!("{}: {:?}\n  expect {:?}", c.title, c.request, c.expect);
        let out = crs.evaluate(&c.request, &settings, &|_| false);
        let hits: Vec<u32> = out
            .evaluated
            .iter()
            .filter(|e| e.matched)
            .map(|e| crs.rule(e.rule).id)
            .collect();
        println!(
            "  matched {hits:?}; evaluated {}; score {}",
            out.evaluated.len(),
            out.anomaly_score
        );
    }
}

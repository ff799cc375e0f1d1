//! Which cases a run traces, decided once: each case of each suite with its [`Pick`], from the
//! libtest arguments (name filter, `--skip`, `--exact`, `--ignored`, `--include-ignored`) and
//! the backend's policy (offline-only cases against the live API). Listing, the zero-case
//! check, the run, the baseline's run and the reports all read the same plan.

use libtest_mimic::{Arguments, Trial};

use crate::diag::Diagnostic;
use crate::suite::{Case, Suite};

/// Why a case runs or does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Traced and checked.
    Run,
    /// `--ignored` runs only cases marked `ignore:`; this one is not.
    NotIgnored,
    /// Left out by the name filter or `--skip`.
    FilteredOut,
    /// Left out by `--tag` / `--skip-tag`: not even listed (libtest knows nothing of tags).
    TagFilteredOut,
    /// Marked `ignore:` (the reason); `--ignored` or `--include-ignored` runs it.
    Ignored(String),
    /// Sets `fields` or `origin`, which the live API cannot take: never traced there.
    OfflineOnly,
}

/// `test --tag` / `--skip-tag`: which cases their tags select.
#[derive(Debug, Clone, Default)]
pub(crate) struct TagFilter {
    /// A case runs only with one of these (when any are given).
    pub(crate) only: Vec<String>,
    /// A case with one of these is left out (wins over `only`).
    pub(crate) skip: Vec<String>,
}

impl TagFilter {
    fn leaves_out(&self, tags: &[String]) -> bool {
        tags.iter().any(|t| self.skip.contains(t))
            || (!self.only.is_empty() && !tags.iter().any(|t| self.only.contains(t)))
    }
}

/// Why a case with offline-only parts is skipped against the live API.
pub(crate) const OFFLINE_ONLY: &str = "sets `fields` or `origin`, which the live API cannot take (offline only; --strict-live makes this an error)";

/// One case in the plan: where it is (indexes into the suites), its id (its full name, unique
/// in a run) and its pick.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub suite: usize,
    pub case: usize,
    pub id: String,
    pub pick: Pick,
}

impl Planned {
    /// Why it is reported as skipped (`ignore:` reason, offline-only), if it is.
    pub(crate) fn skip_reason(&self) -> Option<&str> {
        match &self.pick {
            Pick::Ignored(r) => Some(r),
            Pick::OfflineOnly => Some(OFFLINE_ONLY),
            _ => None,
        }
    }
}

/// Every case of a run with its pick, in suite order.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub entries: Vec<Planned>,
}

fn probe(case: &Case, ignored: bool) -> Trial {
    Trial::test(case.full_name.clone(), || Ok(())).with_ignored_flag(ignored)
}

impl Plan {
    /// The plan for `suites` under `args`; `skip_offline_only`: the backend is the live API
    /// and `--strict-live` is off.
    pub(crate) fn new(
        suites: &[Suite],
        args: &Arguments,
        skip_offline_only: bool,
        tags: &TagFilter,
    ) -> Plan {
        let mut entries = Vec::new();
        for (si, suite) in suites.iter().enumerate() {
            for (ci, case) in suite.cases.iter().enumerate() {
                let p = probe(case, case.ignore.is_some());
                let pick = if args.ignored && case.ignore.is_none() {
                    Pick::NotIgnored
                } else if tags.leaves_out(&case.tags) {
                    Pick::TagFilteredOut
                } else if args.is_filtered_out(&p) {
                    Pick::FilteredOut
                } else if args.is_ignored(&p) {
                    Pick::Ignored(case.ignore.clone().unwrap_or_default())
                } else if skip_offline_only && !case.extras.is_empty() {
                    Pick::OfflineOnly
                } else {
                    Pick::Run
                };
                entries.push(Planned {
                    suite: si,
                    case: ci,
                    id: case.full_name.clone(),
                    pick,
                });
            }
        }
        Plan { entries }
    }

    /// The same selection against another backend: offline-only cases are left out when
    /// `skip_offline_only` (a live baseline), never added back.
    pub(crate) fn against(&self, suites: &[Suite], skip_offline_only: bool) -> Plan {
        let mut plan = self.clone();
        for p in &mut plan.entries {
            if p.pick == Pick::Run
                && skip_offline_only
                && !suites[p.suite].cases[p.case].extras.is_empty()
            {
                p.pick = Pick::OfflineOnly;
            }
        }
        plan
    }

    /// The cases to trace.
    pub(crate) fn to_run(&self) -> impl Iterator<Item = &Planned> {
        self.entries.iter().filter(|p| p.pick == Pick::Run)
    }

    /// The suite and case of a planned entry.
    pub(crate) fn case<'s>(suites: &'s [Suite], p: &Planned) -> (&'s Suite, &'s Case) {
        let suite = &suites[p.suite];
        (suite, &suite.cases[p.case])
    }

    /// Placeholder trials for libtest's listing and counts: each case under its name, flagged
    /// ignored when it is not run by default.
    pub(crate) fn list_trials(&self, suites: &[Suite]) -> Vec<Trial> {
        self.entries
            .iter()
            .filter(|p| p.pick != Pick::TagFilteredOut)
            .map(|p| {
                let (_, case) = Plan::case(suites, p);
                probe(case, case.ignore.is_some() || p.pick == Pick::OfflineOnly)
            })
            .collect()
    }

    /// A run that selects no case gates nothing: the error that says why each was left out,
    /// when none runs.
    pub(crate) fn nothing_selected(&self, args: &Arguments) -> Option<Diagnostic> {
        if self.to_run().next().is_some() {
            return None;
        }
        let count = |f: fn(&Pick) -> bool| self.entries.iter().filter(|p| f(&p.pick)).count();
        let total = self.entries.len();
        let not_ignored = count(|p| *p == Pick::NotIgnored);
        let filtered = count(|p| matches!(p, Pick::FilteredOut | Pick::TagFilteredOut));
        let ignored = count(|p| matches!(p, Pick::Ignored(_)));
        let offline = count(|p| *p == Pick::OfflineOnly);
        let mut why = Vec::new();
        if not_ignored > 0 {
            why.push(format!(
                "{not_ignored} not ignored (--ignored runs only cases marked `ignore:`)"
            ));
        }
        if filtered > 0 {
            let by = match (&args.filter, args.skip.is_empty()) {
                (Some(f), true) => format!("the filter `{f}`"),
                (Some(f), false) => format!("the filter `{f}` and --skip"),
                (None, _) => "--skip".to_string(),
            };
            why.push(format!("{filtered} filtered out by {by}"));
        }
        if ignored > 0 {
            why.push(format!(
                "{ignored} ignored (`ignore:`; --ignored or --include-ignored runs them)"
            ));
        }
        if offline > 0 {
            why.push(format!(
                "{offline} skipped as offline-only (`fields`/`origin`, which the live API cannot take)"
            ));
        }
        Some(
            Diagnostic::usage(format!(
                "no case selected: 0 of {total} case(s) would run{}{}",
                if why.is_empty() { "" } else { ": " },
                why.join(", ")
            ))
            .hint("a gate that runs nothing passes nothing; check the filter and paths, or pass --allow-no-cases"),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::suite::{Vars, load_source};

    const SUITE: &str = "base_url: https://a.example\ncases:\n  - name: plain\n    request: { url: / }\n    expect: { status: 200 }\n  - name: offline\n    request: { url: / }\n    fields: { ip.src.asnum: 64500 }\n    expect: { status: 200 }\n  - name: parked\n    ignore: flaky upstream\n    request: { url: / }\n    expect: { status: 200 }\n  - name: parked_offline\n    ignore: later\n    request: { url: / }\n    fields: { ip.src.asnum: 64500 }\n    expect: { status: 200 }\n";

    fn suites() -> Vec<Suite> {
        let vars = Vars::new(std::collections::BTreeMap::new(), false);
        vec![load_source(Path::new("s.yaml"), "s", SUITE, &vars).unwrap()]
    }

    fn picks(args: &Arguments, live: bool) -> Vec<(String, Pick)> {
        Plan::new(&suites(), args, live, &TagFilter::default())
            .entries
            .into_iter()
            .map(|p| (p.id.rsplit("::").next().unwrap_or("").to_string(), p.pick))
            .collect()
    }

    fn args(f: impl FnOnce(&mut Arguments)) -> Arguments {
        let mut a = Arguments::default();
        f(&mut a);
        a
    }

    #[test]
    fn each_case_is_picked_once_with_the_reason_it_is_left_out() {
        let ignored = |r: &str| Pick::Ignored(r.to_string());
        let p = |n: &str, pick: Pick| (n.to_string(), pick);
        assert_eq!(
            picks(&Arguments::default(), false),
            [
                p("plain", Pick::Run),
                p("offline", Pick::Run),
                p("parked", ignored("flaky upstream")),
                p("parked_offline", ignored("later")),
            ]
        );
        // Against the live API, offline-only cases never run, not even ignored ones asked for.
        assert_eq!(
            picks(&args(|a| a.include_ignored = true), true),
            [
                p("plain", Pick::Run),
                p("offline", Pick::OfflineOnly),
                p("parked", Pick::Run),
                p("parked_offline", Pick::OfflineOnly),
            ]
        );
        assert_eq!(
            picks(&args(|a| a.ignored = true), false),
            [
                p("plain", Pick::NotIgnored),
                p("offline", Pick::NotIgnored),
                p("parked", Pick::Run),
                p("parked_offline", Pick::Run),
            ]
        );
        assert_eq!(
            picks(&args(|a| a.filter = Some("plain".into())), false),
            [
                p("plain", Pick::Run),
                p("offline", Pick::FilteredOut),
                p("parked", Pick::FilteredOut),
                p("parked_offline", Pick::FilteredOut),
            ]
        );
    }

    #[test]
    fn a_live_baseline_leaves_out_offline_only_cases_and_adds_none() {
        let s = suites();
        let plan = Plan::new(&s, &Arguments::default(), false, &TagFilter::default());
        let base = plan.against(&s, true);
        let run: Vec<&str> = base.to_run().map(|p| p.id.as_str()).collect();
        assert_eq!(run.len(), 1, "{run:?}");
        assert!(run[0].ends_with("plain"));
        assert_eq!(plan.against(&s, false).to_run().count(), 2);
    }

    #[test]
    fn nothing_selected_says_why_each_case_was_left_out() {
        let s = suites();
        let a = args(|a| {
            a.filter = Some("nope".into());
        });
        let d = Plan::new(&s, &a, false, &TagFilter::default())
            .nothing_selected(&a)
            .unwrap();
        assert_eq!(
            d.title,
            "no case selected: 0 of 4 case(s) would run: 4 filtered out by the filter `nope`"
        );
        let d = Plan::new(&s, &Arguments::default(), true, &TagFilter::default())
            .nothing_selected(&Arguments::default());
        assert!(d.is_none(), "`plain` runs");
    }
}

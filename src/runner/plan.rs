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
    /// In another shard of `--partition`: not listed either (each case is in one shard).
    OtherPartition,
    /// Marked `ignore:` (the reason); `--ignored` or `--include-ignored` runs it.
    Ignored(String),
    /// Sets `fields` or `origin`, which the live API cannot take: never traced there.
    OfflineOnly,
}

/// What a run selects beyond libtest's name filters: `--tag` / `--skip-tag` and
/// `--partition`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    /// A case runs only with one of these (when any are given).
    pub(crate) only: Vec<String>,
    /// A case with one of these is left out (wins over `only`).
    pub(crate) skip: Vec<String>,
    /// `--partition`: this run's shard of what the filters select.
    pub(crate) partition: Option<Partition>,
}

/// `--partition hash:K/N` or `count:K/N` (nextest's two kinds), shard K of N, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Partition {
    pub(crate) kind: PartitionKind,
    pub(crate) shard: u64,
    pub(crate) of: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionKind {
    /// By a hash of the case's full name: a case stays in its shard as others come and go.
    Hash,
    /// Round robin over the selected cases sorted by full name: shards of equal size.
    Count,
}

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Partition, String> {
        let bad = || format!("`{s}` is not hash:K/N or count:K/N (shard K of N, 1 ≤ K ≤ N)");
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "hash" => PartitionKind::Hash,
            "count" => PartitionKind::Count,
            _ => return Err(bad()),
        };
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let (shard, of): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if shard == 0 || of == 0 || shard > of || of > 10_000 {
            return Err(bad());
        }
        Ok(Partition { kind, shard, of })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            PartitionKind::Hash => "hash",
            PartitionKind::Count => "count",
        };
        write!(f, "{kind}:{}/{}", self.shard, self.of)
    }
}

impl Partition {
    /// The shard (from 0) a case's full name hashes to: the first 8 bytes of its SHA-256,
    /// the same on every machine and release.
    fn hash_shard(&self, id: &str) -> u64 {
        use sha2::Digest;
        let d = sha2::Sha256::digest(id.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_be_bytes(b) % self.of
    }

    /// Moves the entries that belong to other shards out: of the entries the filters left
    /// listed (run, ignored, offline-only), each is in exactly one shard.
    fn apply(&self, entries: &mut [Planned]) {
        let mut listed: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.pick, Pick::Run | Pick::Ignored(_) | Pick::OfflineOnly))
            .map(|(i, _)| i)
            .collect();
        let mine = self.shard - 1;
        match self.kind {
            PartitionKind::Hash => {
                for i in listed {
                    if self.hash_shard(&entries[i].id) != mine {
                        entries[i].pick = Pick::OtherPartition;
                    }
                }
            }
            PartitionKind::Count => {
                listed.sort_by(|a, b| entries[*a].id.cmp(&entries[*b].id));
                for (n, i) in listed.into_iter().enumerate() {
                    if n as u64 % self.of != mine {
                        entries[i].pick = Pick::OtherPartition;
                    }
                }
            }
        }
    }
}

impl Selection {
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
        tags: &Selection,
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
        if let Some(p) = &tags.partition {
            p.apply(&mut entries);
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
            .filter(|p| !matches!(p.pick, Pick::TagFilteredOut | Pick::OtherPartition))
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
        let elsewhere = count(|p| *p == Pick::OtherPartition);
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
        if elsewhere > 0 {
            why.push(format!("{elsewhere} in other shards of --partition"));
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
        Plan::new(&suites(), args, live, &Selection::default())
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
    fn partitions_are_disjoint_and_together_the_whole_selection() {
        let s = suites();
        let all: Vec<String> = Plan::new(&s, &Arguments::default(), false, &Selection::default())
            .list_trials(&s)
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        for kind in ["hash", "count"] {
            for of in 1..=5u64 {
                let mut union: Vec<String> = Vec::new();
                for shard in 1..=of {
                    let sel = Selection {
                        partition: Some(format!("{kind}:{shard}/{of}").parse().unwrap()),
                        ..Selection::default()
                    };
                    let plan = Plan::new(&s, &Arguments::default(), false, &sel);
                    union.extend(plan.list_trials(&s).iter().map(|t| t.name().to_string()));
                }
                let mut sorted = union.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), union.len(), "{kind} {of}: shards overlap");
                let mut want = all.clone();
                want.sort();
                assert_eq!(sorted, want, "{kind} {of}: the union is the whole run");
            }
        }
        // count: equal shards (4 cases in 2 shards: 2 and 2).
        for shard in 1..=2 {
            let sel = Selection {
                partition: Some(format!("count:{shard}/2").parse().unwrap()),
                ..Selection::default()
            };
            assert_eq!(
                Plan::new(&s, &Arguments::default(), false, &sel)
                    .list_trials(&s)
                    .len(),
                2
            );
        }
    }

    #[test]
    fn partition_syntax() {
        let p: Partition = "hash:2/3".parse().unwrap();
        assert_eq!((p.kind, p.shard, p.of), (PartitionKind::Hash, 2, 3));
        assert_eq!(p.to_string(), "hash:2/3");
        assert_eq!(
            "count:1/1".parse::<Partition>().unwrap().kind,
            PartitionKind::Count
        );
        for bad in [
            "hash:0/3",
            "hash:4/3",
            "count:1/0",
            "slice:1/2",
            "hash:1",
            "hash:a/b",
            "1/2",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_live_baseline_leaves_out_offline_only_cases_and_adds_none() {
        let s = suites();
        let plan = Plan::new(&s, &Arguments::default(), false, &Selection::default());
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
        let d = Plan::new(&s, &a, false, &Selection::default())
            .nothing_selected(&a)
            .unwrap();
        assert_eq!(
            d.title,
            "no case selected: 0 of 4 case(s) would run: 4 filtered out by the filter `nope`"
        );
        let d = Plan::new(&s, &Arguments::default(), true, &Selection::default())
            .nothing_selected(&Arguments::default());
        assert!(d.is_none(), "`plain` runs");
    }
}

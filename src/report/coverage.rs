//! Rule coverage of a local run: per rule, how many cases evaluated it and how many matched it;
//! the rules no case matches or even reaches, with their file and line; the requirement check;
//! and the LCOV and Cobertura reports coverage tools read (a rule's line is the "line", the
//! number of cases that matched it the hits).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::escape::{one_line, visible};
use crate::ruleset::Rulebook;
use crate::runner::{Outcome, RunResult};
use crate::text::cut;

pub(crate) use crate::project::config::Require;

/// Why a rule is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Apart {
    Disabled,
    /// A managed rule whose expression is not public: it cannot be evaluated offline.
    Opaque,
    /// Named in the allow-list.
    Exempt,
    /// A CRS rule the OWASP emulation evaluated: listed with its counts, not counted (the
    /// project's own rules are what coverage gates on).
    Emulated,
}

/// One rule's counts.
#[derive(Debug, Clone)]
pub(crate) struct RuleCov {
    /// What the trace calls it (id, else ref, else `rule-N`).
    pub(crate) step: String,
    pub(crate) reference: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) line: usize,
    pub(crate) evaluated: usize,
    pub(crate) matched: usize,
    pub(crate) apart: Option<Apart>,
}

impl RuleCov {
    /// How people name it: its ref, else its step name.
    pub(crate) fn label(&self) -> &str {
        self.reference.as_deref().unwrap_or(&self.step)
    }
}

/// One ruleset's rules.
#[derive(Debug, Clone)]
pub(crate) struct RulesetCov {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) file: PathBuf,
    pub(crate) rules: Vec<RuleCov>,
}

/// The coverage of a run.
#[derive(Debug, Clone)]
pub(crate) struct Coverage {
    pub(crate) rulesets: Vec<RulesetCov>,
    /// Cases traced.
    pub(crate) cases: usize,
}

/// A rule no case matches, with where it is: for reports and annotations.
#[derive(Debug, Clone)]
pub(crate) struct Uncovered<'a> {
    pub(crate) file: &'a Path,
    pub(crate) ruleset: &'a str,
    pub(crate) rule: &'a RuleCov,
    /// Evaluated by some case (but never matched), or never reached.
    pub(crate) reached: bool,
}

/// Counts `run`'s rule steps against every rule of `book`; `exempt` names rules by ref, id or
/// description.
pub(crate) fn measure(book: &Rulebook, run: &RunResult, exempt: &[String]) -> Coverage {
    let mut counts: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
    let mut cases = 0;
    for r in run.results.values() {
        if matches!(r.outcome, Outcome::Passed | Outcome::Failed { .. }) {
            cases += 1;
        }
        // A rule evaluated twice in one trace counts once for that case.
        let mut seen: HashMap<(&str, &str), bool> = HashMap::new();
        for hit in &r.rules {
            let e = seen
                .entry((hit.ruleset.as_str(), hit.rule.as_str()))
                .or_default();
            *e |= hit.matched;
        }
        for (key, matched) in seen {
            let c = counts.entry(key).or_default();
            c.0 += 1;
            if matched {
                c.1 += 1;
            }
        }
    }
    let rulesets = book
        .rulesets
        .iter()
        .map(|rs| RulesetCov {
            id: rs.ruleset.id.clone(),
            name: rs.ruleset.name.clone(),
            file: rs.file.clone(),
            rules: rs
                .rules
                .iter()
                .enumerate()
                .map(|(i, cr)| {
                    let step = cr.rule.step_name(i);
                    let (evaluated, matched) = counts
                        .get(&(rs.ruleset.id.as_str(), step.as_str()))
                        .copied()
                        .unwrap_or_default();
                    let named = |x: &Option<String>| {
                        x.as_ref().is_some_and(|v| exempt.iter().any(|e| e == v))
                    };
                    let apart = if !cr.rule.is_enabled() {
                        Some(Apart::Disabled)
                    } else if cr.filter.is_none() {
                        Some(Apart::Opaque)
                    } else if named(&cr.rule.id)
                        || named(&cr.rule.reference)
                        || named(&cr.rule.description)
                    {
                        Some(Apart::Exempt)
                    } else {
                        None
                    };
                    RuleCov {
                        step,
                        reference: cr.rule.reference.clone(),
                        description: cr.rule.description.clone().filter(|d| !d.is_empty()),
                        line: cr.line,
                        evaluated,
                        matched,
                        apart,
                    }
                })
                .collect(),
        })
        .collect();
    let mut rulesets: Vec<RulesetCov> = rulesets;
    rulesets.extend(emulated(book, &counts));
    Coverage { rulesets, cases }
}

/// The emulated OWASP rules some case evaluated (the ones the project's configuration
/// enables), one group per CRS file.
fn emulated(book: &Rulebook, counts: &HashMap<(&str, &str), (usize, usize)>) -> Vec<RulesetCov> {
    let Some(crs) = &book.crs else {
        return Vec::new();
    };
    let owasp = crate::ruleset::owasp::OWASP_ID;
    let mut by_file: Vec<RulesetCov> = Vec::new();
    for i in 0..crs.len() {
        let r = crs.rule(i);
        if !r.scored {
            continue;
        }
        let step = r.id.to_string();
        let Some((evaluated, matched)) = counts.get(&(owasp, step.as_str())).copied() else {
            continue;
        };
        if by_file.last().is_none_or(|g| g.file != r.file) {
            by_file.push(RulesetCov {
                id: owasp.to_string(),
                name: Some(format!(
                    "Cloudflare OWASP Core Ruleset, emulated: {}",
                    crs.version()
                )),
                file: r.file.to_path_buf(),
                rules: Vec::new(),
            });
        }
        if let Some(g) = by_file.last_mut() {
            g.rules.push(RuleCov {
                description: r.msg.map(String::from),
                step,
                reference: None,
                line: r.line,
                evaluated,
                matched,
                apart: Some(Apart::Emulated),
            });
        }
    }
    by_file
}

impl Coverage {
    /// Counted rules, and those matched by some case.
    pub(crate) fn totals(&self) -> (usize, usize) {
        let counted = self.counted().count();
        let covered = self.counted().filter(|(_, r)| r.matched > 0).count();
        (counted, covered)
    }

    fn counted(&self) -> impl Iterator<Item = (&RulesetCov, &RuleCov)> {
        self.rulesets
            .iter()
            .flat_map(|rs| rs.rules.iter().map(move |r| (rs, r)))
            .filter(|(_, r)| r.apart.is_none())
    }

    /// The counted rules no case matches, in file order.
    pub(crate) fn uncovered(&self) -> Vec<Uncovered<'_>> {
        self.counted()
            .filter(|(_, r)| r.matched == 0)
            .map(|(rs, r)| Uncovered {
                file: &rs.file,
                ruleset: &rs.id,
                rule: r,
                reached: r.evaluated > 0,
            })
            .collect()
    }

    /// The matched share of counted rules, in percent (100 with nothing to count).
    pub(crate) fn percent(&self) -> f64 {
        let (counted, covered) = self.totals();
        if counted == 0 {
            100.0
        } else {
            #[expect(clippy::cast_precision_loss, reason = "rule counts are small")]
            let p = covered as f64 * 100.0 / counted as f64;
            p
        }
    }

    /// `None` when `require` is met, else why not.
    pub(crate) fn unmet(&self, require: Require) -> Option<String> {
        let (counted, covered) = self.totals();
        let ok = match require {
            Require::All => covered == counted,
            Require::Percent(p) => self.percent() + 1e-9 >= p,
        };
        if ok {
            return None;
        }
        let want = match require {
            Require::All => "all".to_string(),
            Require::Percent(p) => format!("{p}%"),
        };
        let names: Vec<String> = self
            .uncovered()
            .iter()
            .map(|u| format!("{}:{} `{}`", show(u.file), u.rule.line, u.rule.label()))
            .collect();
        Some(format!(
            "rule coverage {:.1}% ({covered} of {counted} rules matched) is below the required {want}; uncovered: {}",
            self.percent(),
            names.join(", ")
        ))
    }

    /// The console report.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "rule coverage ({} case(s) traced by the local engine):\n",
            self.cases
        );
        for rs in &self.rulesets {
            if rs.rules.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "ruleset {}{} ({})",
                visible(&rs.id),
                rs.name
                    .as_deref()
                    .map(|n| format!(" \"{}\"", visible(n)))
                    .unwrap_or_default(),
                visible(&show(&rs.file))
            );
            let rows: Vec<[String; 4]> = rs
                .rules
                .iter()
                .map(|r| {
                    [
                        cut(&visible(r.label()), 34),
                        cut(&visible(r.description.as_deref().unwrap_or("")), 44),
                        match r.apart {
                            Some(Apart::Disabled) => "disabled".into(),
                            Some(Apart::Opaque) => "opaque".into(),
                            _ => r.evaluated.to_string(),
                        },
                        match r.apart {
                            Some(Apart::Exempt) => format!("{} (exempt)", r.matched),
                            Some(Apart::Emulated) => format!("{} (emulated)", r.matched),
                            Some(Apart::Disabled | Apart::Opaque) => "-".into(),
                            None => r.matched.to_string(),
                        },
                    ]
                })
                .collect();
            let head = ["rule", "description", "evaluated", "matched"];
            let mut w = head.map(str::len);
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            let line = |c: [&str; 4]| {
                format!(
                    "  {:<w0$} | {:<w1$} | {:>w2$} | {:>w3$}\n",
                    c[0],
                    c[1],
                    c[2],
                    c[3],
                    w0 = w[0],
                    w1 = w[1],
                    w2 = w[2],
                    w3 = w[3]
                )
            };
            out.push_str(&line(head));
            for r in &rows {
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
            }
            out.push('\n');
        }
        let uncovered = self.uncovered();
        for (title, reached) in [
            ("rules no case matches (evaluated, never matched)", true),
            ("rules no case reaches", false),
        ] {
            let list: Vec<&Uncovered> = uncovered.iter().filter(|u| u.reached == reached).collect();
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}:");
            for u in list {
                let _ = writeln!(
                    out,
                    "  {}:{}  `{}`{}",
                    visible(&show(u.file)),
                    u.rule.line,
                    visible(u.rule.label()),
                    u.rule
                        .description
                        .as_deref()
                        .map(|d| format!(" ({})", visible(d)))
                        .unwrap_or_default()
                );
            }
            out.push('\n');
        }
        let apart = |a: Apart| {
            self.rulesets
                .iter()
                .flat_map(|rs| &rs.rules)
                .filter(|r| r.apart == Some(a))
                .count()
        };
        let (counted, covered) = self.totals();
        let _ = writeln!(
            out,
            "{covered} of {counted} rules matched by some case ({:.1}%); not counted: {} disabled, {} opaque managed, {} exempt{}",
            self.percent(),
            apart(Apart::Disabled),
            apart(Apart::Opaque),
            apart(Apart::Exempt),
            match apart(Apart::Emulated) {
                0 => String::new(),
                n => format!(", {n} emulated OWASP (listed above)"),
            }
        );
        out
    }

    /// Per file, per line: the hits (summed when rules share a line).
    fn lines(&self) -> BTreeMap<String, BTreeMap<usize, usize>> {
        let mut out: BTreeMap<String, BTreeMap<usize, usize>> = BTreeMap::new();
        for (rs, r) in self.counted() {
            *out.entry(show(&rs.file))
                .or_default()
                .entry(r.line.max(1))
                .or_default() += r.matched;
        }
        out
    }

    /// The LCOV tracefile.
    pub(crate) fn lcov(&self) -> String {
        let mut out = String::new();
        for (file, lines) in self.lines() {
            // A file name is one line: a line break in it cannot start a record.
            let _ = writeln!(out, "TN:rulegate\nSF:{}", one_line(&file));
            for (line, hits) in &lines {
                let _ = writeln!(out, "DA:{line},{hits}");
            }
            let hit = lines.values().filter(|h| **h > 0).count();
            let _ = writeln!(out, "LF:{}\nLH:{hit}\nend_of_record", lines.len());
        }
        out
    }

    /// The Cobertura XML report; `source` is the directory file names are relative to.
    pub(crate) fn cobertura(&self, source: &Path, timestamp_ms: u128) -> String {
        let files = self.lines();
        let rate = |lines: &BTreeMap<usize, usize>| {
            let hit = lines.values().filter(|h| **h > 0).count();
            ratio(hit, lines.len())
        };
        let all_valid: usize = files.values().map(BTreeMap::len).sum();
        let all_hit: usize = files
            .values()
            .map(|l| l.values().filter(|h| **h > 0).count())
            .sum();
        let mut out = String::from(
            "<?xml version=\"1.0\" ?>\n<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n",
        );
        let _ = writeln!(
            out,
            "<coverage line-rate=\"{}\" branch-rate=\"0\" lines-covered=\"{all_hit}\" lines-valid=\"{all_valid}\" branches-covered=\"0\" branches-valid=\"0\" complexity=\"0\" version=\"rulegate {}\" timestamp=\"{timestamp_ms}\">",
            ratio(all_hit, all_valid),
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "  <sources>\n    <source>{}</source>\n  </sources>\n  <packages>",
            xml(&source.to_string_lossy())
        );
        // One package per directory, one class per ruleset file.
        let mut packages: BTreeMap<String, Vec<(&String, &Hits)>> = BTreeMap::new();
        for (file, lines) in &files {
            let dir = Path::new(file)
                .parent()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| ".".into());
            packages.entry(dir).or_default().push((file, lines));
        }
        for (name, classes) in &packages {
            let (hit, valid) = classes.iter().fold((0, 0), |(h, v), (_, l)| {
                (h + l.values().filter(|x| **x > 0).count(), v + l.len())
            });
            let _ = writeln!(
                out,
                "    <package name=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n      <classes>",
                xml(name),
                ratio(hit, valid)
            );
            for (file, lines) in classes {
                let class = Path::new(file.as_str())
                    .file_stem()
                    .map_or_else(|| (*file).clone(), |s| s.to_string_lossy().into_owned());
                let _ = writeln!(
                    out,
                    "        <class name=\"{}\" filename=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n          <methods/>\n          <lines>",
                    xml(&class),
                    xml(file),
                    rate(lines)
                );
                for (line, hits) in *lines {
                    let _ = writeln!(
                        out,
                        "            <line number=\"{line}\" hits=\"{hits}\" branch=\"false\"/>"
                    );
                }
                out.push_str("          </lines>\n        </class>\n");
            }
            out.push_str("      </classes>\n    </package>\n");
        }
        out.push_str("  </packages>\n</coverage>\n");
        out
    }
}

/// Line → hits, in one file.
type Hits = BTreeMap<usize, usize>;

fn ratio(hit: usize, valid: usize) -> String {
    if valid == 0 {
        "1".into()
    } else {
        #[expect(clippy::cast_precision_loss, reason = "line counts are small")]
        let r = hit as f64 / valid as f64;
        format!("{r:.4}")
    }
}

fn xml(s: &str) -> String {
    crate::escape::xml_escaped(s)
}

/// A path as reports show it: `/`-separated, without `.` components, `dir/..` folded
/// (GitHub attaches annotations only to normalized paths).
pub(crate) fn show(p: &Path) -> String {
    let folded = crate::confine::fold(p);
    let parts: Vec<String> = folded
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let joined = parts.join("/");
    if p.has_root() {
        joined.replacen("//", "/", 1)
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_parse() {
        assert_eq!(Require::parse("all"), Ok(Require::All));
        assert_eq!(Require::parse("90%"), Ok(Require::Percent(90.0)));
        assert_eq!(Require::parse(" 87.5 "), Ok(Require::Percent(87.5)));
        assert!(Require::parse("101%").is_err());
        assert!(Require::parse("most").is_err());
    }
}

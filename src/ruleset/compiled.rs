//! Rulesets compiled for evaluation: each rule's filter and typed [`Action`], and the
//! [`Rulebook`] the evaluator runs a request through (entry points per phase and level,
//! rulesets by id, lists). Built by the project loader; knows nothing of files.

use std::collections::HashMap;
use std::path::PathBuf;

use super::action::Action;
use super::model::{Rule, Ruleset};
use crate::rules::{Filter, Lists};

/// Where an entry point sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Level {
    Account,
    Zone,
}

impl Level {
    /// The level of an entry point of this ruleset kind; `None` for custom and managed.
    pub(crate) fn of_kind(kind: &str) -> Option<Level> {
        match kind {
            "zone" => Some(Level::Zone),
            "root" => Some(Level::Account),
            _ => None,
        }
    }
}

/// A rule ready to evaluate. `rule` is kept as read, for the trace.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) rule: Rule,
    /// `None`: no expression (a managed rule whose expression is not public): never matches.
    pub(crate) filter: Option<Filter>,
    pub(crate) action: Action,
    /// The rule's line in its ruleset file (JSON or `.tf`); 0 when it cannot be placed.
    pub(crate) line: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRuleset {
    pub(crate) file: PathBuf,
    pub(crate) ruleset: Ruleset,
    pub(crate) rules: Vec<CompiledRule>,
}

/// Everything the evaluator needs of a project.
#[derive(Debug, Clone)]
pub(crate) struct Rulebook {
    pub(crate) rulesets: Vec<CompiledRuleset>,
    pub(crate) by_id: HashMap<String, usize>,
    /// Entry points by level, then phase.
    pub(crate) entry: HashMap<Level, HashMap<String, usize>>,
    pub(crate) lists: Lists,
    /// Each list as read, with its file: what an explanation names the matching item from.
    pub(crate) list_sources: HashMap<String, (PathBuf, super::model::ListFile)>,
    /// Rule `ref` → rule id, so suites may name rules by ref.
    pub(crate) refs: HashMap<String, String>,
    /// The origin's status when no rule ends the request.
    pub(crate) origin_status: i64,
    /// What the expressions may cost (`rules::cost`): which traces need a time budget.
    pub(crate) cost: crate::rules::cost::Cost,
    /// The phases with an entry point at some level, found once on the first evaluation (the
    /// book does not change after loading): most of the ~20 phases have none.
    pub(crate) phases_with_entries: std::sync::OnceLock<Vec<String>>,
    /// The CRS release that emulates Cloudflare's OWASP ruleset, when the project executes
    /// it without a stand-in and a release was found.
    pub(crate) crs: Option<std::sync::Arc<crate::owasp::Crs>>,
    /// Cloudflare rule id → CRS id from the OWASP ruleset's listing, read once.
    pub(crate) owasp_ids: std::sync::OnceLock<HashMap<String, String>>,
}

impl Default for Rulebook {
    fn default() -> Self {
        Rulebook {
            rulesets: Vec::new(),
            by_id: HashMap::new(),
            entry: HashMap::new(),
            lists: Lists::new(),
            list_sources: HashMap::new(),
            refs: HashMap::new(),
            origin_status: 200,
            cost: crate::rules::cost::Cost::default(),
            phases_with_entries: std::sync::OnceLock::new(),
            crs: None,
            owasp_ids: std::sync::OnceLock::new(),
        }
    }
}

impl Rulebook {
    pub(crate) fn ruleset(&self, id: &str) -> Option<&CompiledRuleset> {
        self.by_id.get(id).map(|i| &self.rulesets[*i])
    }

    /// Whether any level has an entry point for `phase`.
    pub(crate) fn has_entry_in(&self, phase: &str) -> bool {
        self.phases_with_entries
            .get_or_init(|| {
                let mut all: Vec<String> = self
                    .entry
                    .values()
                    .flat_map(|m| m.keys().cloned())
                    .collect();
                all.sort();
                all.dedup();
                all
            })
            .iter()
            .any(|p| p == phase)
    }

    pub(crate) fn entry_point(&self, level: Level, phase: &str) -> Option<&CompiledRuleset> {
        // A zone has a few entry points: comparing names beats hashing one per phase.
        self.entry
            .iter()
            .find(|(l, _)| **l == level)
            .and_then(|(_, m)| m.iter().find(|(p, _)| p.as_str() == phase))
            .map(|(_, i)| &self.rulesets[*i])
    }
}

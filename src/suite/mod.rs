//! Suites: the YAML model ([`model`]), discovery and loading with spans ([`load`]), and the
//! expansion of a parsed file into runnable [`Case`]s: defaults merged, `${VARS}` replaced,
//! every value validated ([`build`]). Nothing past this module sees YAML.

pub(crate) mod build;
pub(crate) mod load;
pub(crate) mod model;
mod vars;

use std::path::PathBuf;

use crate::trace::{TraceItem, TraceRequest};

#[cfg(test)]
pub(crate) use load::load_source;
pub(crate) use load::{Skip, load_suites};
pub(crate) use vars::Vars;

/// A loaded, validated suite file.
#[derive(Debug, Clone)]
pub(crate) struct Suite {
    /// The file as given on the command line (relative or absolute).
    pub file: PathBuf,
    /// Path relative to its root, without extension, `/`-separated: the trial name prefix.
    pub id: String,
    /// `name:`, when the suite gives one.
    pub name: Option<String>,
    pub cases: Vec<Case>,
}

/// One runnable case.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// `<suite id>::<case name>`: unique per run.
    pub full_name: String,
    pub name: String,
    /// The case's line in its suite file.
    pub line: usize,
    pub request: TraceRequest,
    pub expect: Expectations,
    pub ignore: Option<String>,
    /// `tags:`, for `--tag` / `--skip-tag`.
    pub tags: Vec<String>,
    /// Offline-only additions: `fields` and `origin`.
    pub extras: crate::trace::Extras,
    /// Compared with its snapshot (`snapshot: true`, or the suite's).
    pub snapshot: bool,
}

/// A rule selector of `matched` / `not_matched`: a rule id, ref or exact description, with
/// where it stands in the suite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    pub name: String,
    pub pos: Option<crate::diag::Pos>,
    /// The rule id `name` refers to as a rule's `ref`, resolved once at load against the
    /// project (`project::validate::resolve_selectors`); a trace names rules by id.
    pub rule_id: Option<String>,
}

impl From<&str> for Selector {
    fn from(name: &str) -> Self {
        Selector {
            name: name.to_string(),
            pos: None,
            rule_id: None,
        }
    }
}

impl PartialEq<&str> for Selector {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a case expects of the trace. Every part is optional; at least one is set.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Expectations {
    /// Allowed status codes.
    pub status: Option<Vec<i64>>,
    /// Where the terminating redirect sends the visitor.
    pub location: Option<String>,
    /// The terminating action, or `none`.
    pub action: Option<String>,
    pub matched: Vec<Selector>,
    pub not_matched: Vec<Selector>,
    /// Partial steps that must occur in order (a subsequence of the depth-first steps).
    pub trace: Vec<TraceItem>,
}

impl Expectations {
    pub(crate) fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.location.is_none()
            && self.action.is_none()
            && self.matched.is_empty()
            && self.not_matched.is_empty()
            && self.trace.is_empty()
    }
}

#[cfg(test)]
mod tests;

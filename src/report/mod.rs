//! Reports: pure functions from a run's outcomes to a writer: JUnit XML ([`junit`]) and the
//! behaviour changes against a baseline ([`changes`]), rule [`coverage`] (console, LCOV,
//! Cobertura), GitHub annotations and the Markdown
//! summary ([`github`]).

pub(crate) mod changes;
pub(crate) mod coverage;
pub(crate) mod github;
pub(crate) mod junit;

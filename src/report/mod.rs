//! Reports: pure functions from a run's outcomes to a writer: JUnit XML ([`junit`]) and the
//! behaviour changes against a baseline ([`changes`]).

pub(crate) mod changes;
pub(crate) mod junit;

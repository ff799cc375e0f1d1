//! Reports: pure functions from a run's outcomes to a writer. Today: JUnit XML ([`junit`]).

pub(crate) mod junit;

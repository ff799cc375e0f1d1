//! The process exit codes, named in one place. `main` turns a run's result into one of these;
//! CI reads them to tell "a rule regressed" apart from "the gate could not run".

/// How a `rulegate` invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every selected case passed (or nothing needed running, e.g. `--list`).
    Success,
    /// At least one case ran and failed an expectation; every case could be run.
    Failed,
    /// Invalid input or usage: a suite, flag or variable is wrong. Nothing was traced.
    Invalid,
    /// At least one case could not be run (backend, network or API error). This wins over
    /// `Failed`: an incomplete run must not look like an ordinary regression.
    CouldNotRun,
}

impl Exit {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Invalid => 2,
            Exit::CouldNotRun => 3,
        }
    }
}

impl Exit {
    /// The worse of two verdicts: could not run, then invalid, then failed, then success.
    #[must_use]
    pub(crate) fn worst(self, other: Exit) -> Exit {
        if other.code() > self.code() {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

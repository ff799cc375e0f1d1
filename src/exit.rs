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

// ---- temporary files that must not outlive an interrupted run ----------------------------

use std::path::PathBuf;
use std::sync::Mutex;

/// Temporary directories to remove if the process ends early (a signal, a closed pipe):
/// their owners' destructors would not run then.
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary directory for [`remove_temps`]; [`forget_temp`] when its owner
/// removes it.
pub(crate) fn register_temp(path: PathBuf) {
    if let Ok(mut t) = TEMPS.lock() {
        t.push(path);
    }
}

pub(crate) fn forget_temp(path: &std::path::Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.retain(|p| p != path);
    }
}

/// Removes every registered temporary directory (on an early end).
pub(crate) fn remove_temps() {
    let paths = TEMPS
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    for p in paths {
        // A child still writing into it (git, interrupted with us) can make one pass fail.
        for _ in 0..5 {
            if std::fs::remove_dir_all(&p).is_ok() || !p.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// From now on, SIGINT, SIGTERM, SIGHUP and SIGPIPE remove the registered temporary
/// directories before the process ends (exit 128 + the signal's number; a closed pipe ends
/// through the output error as well). Started once, by commands that make temporary trees.
pub(crate) fn watch_signals() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(|| {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut int), Ok(mut term), Ok(mut hup), Ok(mut pipe)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                        signal(SignalKind::hangup()),
                        signal(SignalKind::pipe()),
                    ) else {
                        return;
                    };
                    let number = tokio::select! {
                        _ = int.recv() => 2,
                        _ = term.recv() => 15,
                        _ = hup.recv() => 1,
                        _ = pipe.recv() => 13,
                    };
                    remove_temps();
                    std::process::exit(128 + number);
                });
            });
    });
}

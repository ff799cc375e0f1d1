//! `rulegate serve`: the project's rulesets behind the Trace, Rulesets and Lists APIs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{load, runtime, settings};
use crate::cli::ServeArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::server::{self, Faults, Options};
use crate::settings::Flags;

pub(super) fn run(a: &ServeArgs) -> Result<Exit, Report> {
    for (what, v) in [("--fail-429", a.fail_429), ("--fail-5xx", a.fail_5xx)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Diagnostic::usage(format!("{what} is a share from 0.0 to 1.0")).into());
        }
    }
    let listen: SocketAddr = a.listen.parse().map_err(|_| {
        Diagnostic::usage(format!(
            "--listen `{}` is not an address like 127.0.0.1:8787",
            a.listen
        ))
    })?;
    let settings = settings(Flags {
        terraform: a.tf.terraform.as_deref(),
        var_files: &a.tf.var_files,
        crs: a.tf.crs.as_deref(),
        vars: &a.vars,
        dir: a.project.dir.clone(),
        trace_budget: a.budget.trace_budget,
        ..Flags::default()
    })?;
    let project = load(&settings, None, true)?
        .project
        .expect("loaded with the project");
    let opts = Options {
        listen,
        trace_budget: settings.trace_budget,
        token: a.token.clone(),
        faults: Faults::new(
            Duration::from_millis(a.latency_ms),
            a.fail_429,
            a.fail_5xx,
            a.retry_after,
            a.seed,
        ),
    };
    let rt = runtime(2)?;
    let served = rt.block_on(server::run(Arc::new(project), opts));
    // Traces past their budget may still run on blocking threads: do not wait for them.
    rt.shutdown_background();
    served?;
    Ok(Exit::Success)
}

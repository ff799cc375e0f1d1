//! The commands, wired from the pieces: load → plan → run → report → exit code.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::Backend;
use crate::cli::{CheckArgs, EvalArgs, SuiteArgs, TestArgs};
use crate::cloudflare::Client;
use crate::config;
use crate::exit::Exit;
use crate::report::junit;
use crate::runner::{self, Outcome, RunOptions, RunResult};
use crate::suite::{Loaded, Vars, load_suites};

fn load(args: &SuiteArgs) -> Result<Loaded, Exit> {
    let vars = Vars::new(args.vars.iter().cloned().collect::<BTreeMap<_, _>>(), true);
    load_suites(&args.paths, &vars, &[]).map_err(|e| {
        eprint!("{}", e.render());
        Exit::Invalid
    })
}

/// `rulegate check`: load and validate, run nothing.
pub fn check(args: &CheckArgs) -> Exit {
    match load(&args.suites) {
        Ok(loaded) => {
            let cases: usize = loaded.suites.iter().map(|s| s.cases.len()).sum();
            println!("ok: {} suite(s), {cases} case(s)", loaded.suites.len());
            Exit::Success
        }
        Err(exit) => exit,
    }
}

/// `rulegate test`.
pub fn test(args: &TestArgs) -> Exit {
    let largs = match config::libtest_arguments(args) {
        Ok(a) => a,
        Err(e) => return usage(&e.to_string()),
    };
    let loaded = match load(&args.suites) {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    if args.list {
        // Listing traces nothing, so it needs no backend and no credentials.
        let _ = libtest_mimic::run(&largs, list_trials(&loaded));
        return Exit::Success;
    }
    let backend = match config::client_config(args)
        .and_then(|c| Client::new(c).map_err(|message| config::ConfigError { message }))
    {
        Ok(client) => Backend::Cloudflare(Arc::new(client)),
        Err(e) => return usage(&e.to_string()),
    };
    let opts = RunOptions {
        concurrency: args.concurrency as usize,
        color: config::use_color(args),
    };
    let run = runner::run(&loaded.suites, &backend, &largs, &opts);
    if let Some(path) = &args.junit
        && !run.listed_only
    {
        let meta = junit::Meta {
            backend: backend.describe(),
            rulesets: "the live configuration of the zones under test".into(),
        };
        if let Err(e) = junit::write_file(path, &loaded.suites, &run, &meta) {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    }
    exit_for(&run)
}

fn list_trials(loaded: &Loaded) -> Vec<libtest_mimic::Trial> {
    loaded
        .suites
        .iter()
        .flat_map(|s| s.cases.iter())
        .map(|c| {
            libtest_mimic::Trial::test(c.full_name.clone(), || Ok(()))
                .with_ignored_flag(c.ignore.is_some())
        })
        .collect()
}

fn usage(message: &str) -> Exit {
    eprintln!("error: {message}");
    Exit::Invalid
}

/// The exit code for a finished run: could-not-run wins over failed.
pub fn exit_for(run: &RunResult) -> Exit {
    if run.listed_only {
        return Exit::Success;
    }
    let errors = run
        .results
        .values()
        .any(|r| matches!(r.outcome, Outcome::Error { .. }));
    let failures = run
        .results
        .values()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    if errors || run.unexplained_failures > 0 {
        Exit::CouldNotRun
    } else if failures {
        Exit::Failed
    } else {
        Exit::Success
    }
}

/// `rulegate eval`.
pub fn eval(args: &EvalArgs) -> Exit {
    crate::eval_cmd::run(args)
}

//! rulegate: regression tests for Cloudflare rulesets.
//!
//! ```text
//!  suites/*.yaml ─load─▶ Suite model ─build─▶ Cases ─plan─▶ libtest-mimic trials
//!                                                              │ each selected case
//!                                                              ▼
//!                               Backend::trace(TraceRequest) -> TraceResult
//!                                                              │
//!  TraceResult ─▶ TraceView ─check─▶ Outcome {pass | fail | error | skip} ─▶ console · JUnit · exit code
//! ```
//!
//! Modules, in pipeline order: [`cli`] and [`config`] (flags and environment), [`suite`]
//! (YAML → cases, with [`diag`] diagnostics), [`trace`] (wire types and the view),
//! [`backend`] and [`cloudflare`] (where traces come from), [`expect`] (checks and diffs),
//! [`runner`] (trials), [`report`] (JUnit), [`exit`] (exit codes), [`cmd`] (the commands).

pub mod backend;
pub mod cli;
pub mod cloudflare;
pub mod cmd;
pub mod config;
pub mod diag;
pub mod eval_cmd;
pub mod exit;
pub mod expect;
pub mod project;
pub mod pull;
pub mod report;
pub mod rules;
pub mod ruleset;
pub mod runner;
pub mod serve;
pub mod suite;
pub mod trace;
pub mod trace_cmd;

use exit::Exit;

/// Runs the parsed command line and returns the exit code.
pub fn main_with(cli: cli::Cli) -> Exit {
    match &cli.command {
        cli::Command::Test(a) => cmd::test(a),
        cli::Command::Check(a) => cmd::check(a),
        cli::Command::Eval(a) => cmd::eval(a),
        cli::Command::Trace(a) => trace_cmd::run(a),
        cli::Command::Serve(a) => cmd::serve(a),
        cli::Command::Pull(a) => cmd::pull(a),
    }
}

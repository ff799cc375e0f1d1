//! rulegate: regression tests for Cloudflare rulesets.
//!
//! ```text
//!  argv ─▶ cli ─▶ settings (flags + env + rulegate.yaml, once) ─▶ commands/<name>
//!  suites/*.yaml ─load─▶ Suite model ─build─▶ Cases ─plan─▶ libtest-mimic trials
//!                                                              │ each selected case
//!                                                              ▼
//!                               Backend::trace(TraceRequest) -> TraceResult
//!                                                              │
//!  TraceResult ─▶ TraceView ─check─▶ Outcome {pass | fail | error | skip} ─▶ console · JUnit · exit code
//! ```
//!
//! ARCHITECTURE.md at the repository's top describes each module. The library's public API
//! is what the benches use: the Rules-language engine ([`rules`]) and the Trace API's wire
//! types ([`trace`]); the binary calls [`commands::main`].

/// The GitHub Action's repository (`uses: ACTION@v1`), as `init`'s workflow names it.
pub(crate) const ACTION: &str = "rulegate/rulegate";

mod backend;
mod cli;
mod cloudflare;
pub mod commands;
mod confine;
mod diag;
mod escape;
mod exit;
mod expect;
mod limits;
pub mod owasp;
mod project;
mod replay;
mod report;
pub mod rules;
mod ruleset;
mod runner;
mod server;
mod settings;
mod suite;
mod text;
pub mod trace;

//! The command line (clap derive). Flags only; `config` turns them into a run configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use libtest_mimic::{ColorSetting, FormatSetting};

#[derive(Debug, Parser)]
#[command(
    name = "rulegate",
    version,
    about = "Regression tests for Cloudflare rulesets: trace requests, check rules, gate deploys"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run suites: each case is traced and its expectations checked.
    Test(TestArgs),
    /// Validate suites without running anything.
    Check(CheckArgs),
    /// Evaluate one Rules-language expression (or a JSONL batch) against field values or a
    /// Trace API request.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The expression: a filter (prints true/false) or a value expression (prints JSON).
    #[arg(
        value_name = "EXPR",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    pub expr: Option<String>,

    /// Field values as a JSON object: {"http.host": "a.example", "ip.src": "192.0.2.1"}.
    #[arg(long, value_name = "JSON", conflicts_with = "request")]
    pub fields: Option<String>,

    /// A Trace API request body (JSON) to build every field from.
    #[arg(long, value_name = "JSON")]
    pub request: Option<String>,

    /// Evaluate each line {"expr": …, "fields": {…}} of a JSONL file ("-" for stdin).
    #[arg(long, value_name = "FILE.jsonl")]
    pub batch: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The live Request Trace API.
    Cloudflare,
}

#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Suite files or directories (searched for *.yaml / *.yml).
    #[arg(value_name = "PATHS", default_value = "suites")]
    pub paths: Vec<PathBuf>,

    /// Set a variable for `${NAME}` in suites (wins over the environment). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub suites: SuiteArgs,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub suites: SuiteArgs,

    /// Only run cases whose name contains FILTER (after `--`, as in `cargo test -- FILTER`).
    #[arg(last = true, value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Where traces come from.
    #[arg(long, value_enum, default_value_t = BackendKind::Cloudflare)]
    pub backend: BackendKind,

    /// Cloudflare API base URL.
    #[arg(long, value_name = "URL", env = "CLOUDFLARE_API_BASE_URL")]
    pub api_url: Option<String>,

    /// Account that owns the zones under test.
    #[arg(long, value_name = "ID", env = "CLOUDFLARE_ACCOUNT_ID")]
    pub account_id: Option<String>,

    /// Client-side rate limit, REQUESTS/SECONDS.
    #[arg(long, value_name = "N/SECONDS", default_value = "1200/300")]
    pub rate_limit: crate::cloudflare::RateLimit,

    /// Retries on 429, 5xx, timeouts and connection errors.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,

    /// First retry backoff in seconds (doubles each retry, with jitter, capped at 30 s).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_seconds)]
    pub retry_delay: f64,

    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub timeout: f64,

    /// Traces in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Filters match names exactly.
    #[arg(long)]
    pub exact: bool,

    /// Skip cases whose name contains SKIP. Repeatable.
    #[arg(long, value_name = "SKIP")]
    pub skip: Vec<String>,

    /// List the cases instead of running them.
    #[arg(long)]
    pub list: bool,

    /// Run only ignored cases.
    #[arg(long)]
    pub ignored: bool,

    /// Run ignored cases too.
    #[arg(long)]
    pub include_ignored: bool,

    /// One character per case.
    #[arg(short, long)]
    pub quiet: bool,

    /// Output format.
    #[arg(long, value_enum, value_name = "pretty|terse|json")]
    pub format: Option<FormatSetting>,

    /// Colour.
    #[arg(long, value_enum, value_name = "auto|always|never")]
    pub color: Option<ColorSetting>,

    /// Threads that check results (traces use --concurrency).
    #[arg(long, value_name = "N")]
    pub test_threads: Option<usize>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    let ok = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!("`{k}` is not a variable name (letters, digits, _)"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds")),
    }
}

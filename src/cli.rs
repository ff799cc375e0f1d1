//! The command line (clap derive). Flags only; `settings` merges them with the environment
//! and `rulegate.yaml`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use libtest_mimic::{ColorSetting, FormatSetting};

pub(crate) use crate::backend::BackendKind;

#[derive(Debug, Parser)]
#[command(
    name = "rulegate",
    version,
    about = "Regression tests for Cloudflare rulesets: trace requests, check rules, gate deploys"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run suites: each case is traced and its expectations checked.
    Test(TestArgs),
    /// Validate suites without running anything.
    Check(CheckArgs),
    /// Evaluate one Rules-language expression (or a JSONL batch) against field values or a
    /// Trace API request.
    Eval(EvalArgs),
    /// Trace one request and print the trace as a tree.
    Trace(TraceArgs),
    /// Serve the local engine as the Request Trace API (and the Rulesets and Lists read APIs).
    Serve(ServeArgs),
    /// Download a zone's entry points, the rulesets they execute and the lists they use.
    Pull(PullArgs),
    /// Replay request logs (Logpush NDJSON, access logs, HAR, JSONL) through the offline
    /// engine, compared with a git revision or with the outcome the logs recorded.
    Replay(ReplayArgs),
    /// Set up rulegate in this repository: rulegate.yaml pointing at the rules found (Terraform,
    /// ruleset JSON, or a starter ruleset), a first suite with one case per phase, and a
    /// GitHub workflow.
    Init(InitArgs),
    /// Explain a case's (or a request's) verdict: the walk through the phases, and for the
    /// rules that matter each condition's value and the field values it read.
    Explain(ExplainArgs),
    /// Record a suite from requests (URLs one per line, Trace API JSONL, HAR, Logpush,
    /// access logs): each case expects what the rules do with its request today.
    Record(RecordArgs),
    /// Show the pending snapshots (.snap.new) with their diffs; accept or reject them.
    Review(ReviewArgs),
    /// Print the JSON Schema of suites or of rulegate.yaml (for editors and validators).
    Schema(SchemaArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print rulegate's man page (roff), or write one page per command into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    pub suites: SuiteArgs,

    /// Explain this Trace API request (JSON, as `trace --request` takes it) instead of cases.
    #[arg(long, value_name = "JSON")]
    pub request: Option<String>,

    /// Explain a GET of this URL instead of cases.
    #[arg(long, value_name = "URL", conflicts_with = "request")]
    pub url: Option<String>,

    /// Field values (JSON object) for --request or --url, as a case's `fields:`.
    #[arg(long, value_name = "JSON")]
    pub fields: Option<String>,

    /// Explain every rule the trace evaluated, not only the rules that matter (the one that
    /// ended the request and those the case's expectations name).
    #[arg(long)]
    pub all: bool,

    /// Print the walk and the trees as JSON.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub engine: BackendArgs,

    #[command(flatten)]
    pub budget: BudgetArgs,

    #[command(flatten)]
    pub api: ApiArgs,

    /// Explain the cases whose name contains FILTER (after `--`, as for `test`).
    #[arg(last = true, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// Files of requests, or `-` for standard input: URLs one per line, Trace API bodies as
    /// JSONL, a HAR, Logpush NDJSON or an access log (the formats `replay` reads).
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,

    /// The suite file to write.
    #[arg(short, long, value_name = "FILE.yaml")]
    pub output: PathBuf,

    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// The project directory (rulegate.yaml, rulesets/, lists/, or its Terraform).
    #[arg(long, value_name = "DIR", default_value = "suites")]
    pub project: PathBuf,

    /// The host of access-log requests (their lines carry none).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// The suite's `name:`.
    #[arg(long, value_name = "NAME", default_value = "recorded")]
    pub name: String,

    #[command(flatten)]
    pub engine: EngineFlags,
}

/// The project's Terraform source and variables, the backend, its budget and the API
/// options: what `trace` and `record` need to trace requests without suites.
#[derive(Debug, Args)]
pub(crate) struct EngineFlags {
    #[command(flatten)]
    pub tf: TerraformArgs,

    /// Set a Terraform root-module variable (as Terraform's `-var`; wins over tfvars files
    /// and TF_VAR_). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    #[command(flatten)]
    pub engine: BackendArgs,

    #[command(flatten)]
    pub budget: BudgetArgs,

    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    /// Directories (or .snap.new files) to look in.
    #[arg(value_name = "PATHS", default_value = "suites")]
    pub paths: Vec<PathBuf>,

    /// Accept every pending snapshot.
    #[arg(long)]
    pub accept: bool,

    /// Drop every pending snapshot.
    #[arg(long)]
    pub reject: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Which schema: `suite` (suite files) or `project` (rulegate.yaml).
    #[arg(value_name = "WHICH")]
    pub which: SchemaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExplainWhen {
    /// On every failure about the outcome or the rules, with the local backend.
    Auto,
    /// Never.
    Never,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum SchemaKind {
    /// A suite file.
    Suite,
    /// rulegate.yaml.
    Project,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write rulegate.1 and one rulegate-COMMAND.1 per command into DIR instead of printing
    /// the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The repository to set up (searched for Terraform and ruleset JSON).
    #[arg(value_name = "REPO_DIR", default_value = ".")]
    pub repo: PathBuf,

    /// Where the project goes, relative to the repository.
    #[arg(long, value_name = "DIR", default_value = "suites")]
    pub project: PathBuf,

    /// Print what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,

    /// Use this Terraform root module (or plan JSON) instead of the one found.
    #[arg(long, value_name = "DIR|PLAN.json")]
    pub terraform: Option<PathBuf>,

    /// Set a Terraform root-module variable (as Terraform's `-var`) for the first cases.
    /// Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Do not write the GitHub workflow.
    #[arg(long)]
    pub no_workflow: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Log files or directories (gzip or plain), `-` for standard input; with --merge, the
    /// `--json` reports to merge.
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,

    /// The project directory (rulegate.yaml, rulesets/, lists/, or its Terraform).
    #[arg(long, value_name = "DIR", default_value = "suites")]
    pub project: PathBuf,

    #[command(flatten)]
    pub tf: TerraformArgs,

    /// Set a Terraform root-module variable (as Terraform's `-var`). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// The format of every input [default: detected from each input's first line].
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<crate::replay::Format>,

    /// The host of access-log requests (their lines carry only the path).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Compare with the project as of a git revision (e.g. `HEAD~1`, `origin/main`), or with
    /// the outcome Cloudflare recorded in each Logpush line (`logged`).
    #[arg(long, value_name = "REV|logged")]
    pub baseline: Option<String>,

    /// Write the report as JSON (the shape `--merge` reads).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write a Markdown summary (also appended to GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE.md")]
    pub summary: Option<PathBuf>,

    /// Exit 1 when a threshold is exceeded: `changed>0`, `block>0.1%`, `managed_challenge>=50`
    /// (an action counts requests newly ending with it). Comma-separated or repeated.
    #[arg(long, value_name = "KIND>LIMIT")]
    pub fail_on: Vec<String>,

    /// Write a suite of the sampled requests, each expecting the candidate's outcome.
    #[arg(long, value_name = "FILE.yaml")]
    pub emit_cases: Option<PathBuf>,

    /// Sample requests kept per transition (shown, written to --json and --emit-cases).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=100))]
    pub samples: u16,

    /// Keep cookie values in samples (redacted by default).
    #[arg(long)]
    pub keep_cookies: bool,

    /// Also redact the values of headers, cookies and query arguments with this name (a glob:
    /// `x-api-*`). Repeatable; adds to rulegate.yaml's `redact:`.
    #[arg(long = "redact", value_name = "GLOB")]
    pub redact: Vec<String>,

    /// Worker threads evaluating requests [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,

    /// Replay only partition K of N (the lines whose hash is K-1 modulo N, so a line always
    /// lands in the same partition); merge the
    /// partitions' --json reports with --merge.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<crate::replay::Partition>,

    /// Merge the --json reports named as LOG into one report, as one run would have written.
    #[arg(long, conflicts_with_all = ["baseline", "partition", "emit_cases", "input_format", "host"])]
    pub merge: bool,

    /// Fail (exit 3) when more lines than this cannot be read as requests [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_bad_lines: Option<u64>,

    /// No progress bar (it shows only on a terminal, never when CI is set).
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub budget: BudgetArgs,
}

fn parse_partition(s: &str) -> Result<crate::replay::Partition, String> {
    crate::replay::Partition::parse(s)
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    #[command(flatten)]
    pub project: ProjectDirArg,

    /// The URL to trace.
    #[arg(long, value_name = "URL", required_unless_present = "request")]
    pub url: Option<String>,

    /// HTTP method.
    #[arg(long, value_name = "METHOD", default_value = "GET")]
    pub method: String,

    /// A request header; repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// A plain-text body.
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,

    /// A whole Trace API request body (JSON) instead of --url, --method, --header, --body.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["url", "body", "headers"])]
    pub request: Option<String>,

    /// Offline only: field values as JSON, e.g. '{"ip.src": "192.0.2.1"}'.
    #[arg(long, value_name = "JSON")]
    pub fields: Option<String>,

    /// Print the result as JSON (the API's `result`) instead of a tree.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub engine: EngineFlags,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub project: ProjectDirArg,

    /// Address to listen on; port 0 picks a free one (printed on start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: String,

    #[command(flatten)]
    pub tf: TerraformArgs,

    /// Set a Terraform root-module variable (as Terraform's `-var`; wins over tfvars files
    /// and TF_VAR_). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Demand `Authorization: Bearer TOKEN` (403, code 10000 otherwise).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "RULEGATE_SERVE_TOKEN",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub token: Option<crate::cloudflare::Secret>,

    /// Added latency per request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Share of trace requests answered 429 with Retry-After (0.0–1.0).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub fail_429: f64,

    /// Share of trace requests answered 503 (0.0–1.0).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub fail_5xx: f64,

    /// Retry-After seconds on injected 429s.
    #[arg(long, value_name = "SECONDS", default_value_t = 1)]
    pub retry_after: u64,

    /// Seed for fault injection, so a run is reproducible.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    #[command(flatten)]
    pub budget: BudgetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    #[command(flatten)]
    pub project: ProjectDirArg,

    /// The zone whose configuration to download [default: rulegate.yaml's zone_id].
    #[arg(long, value_name = "ZONE_ID")]
    pub zone: Option<String>,

    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// The expression: a filter (prints true/false) or a value expression (prints JSON).
    #[arg(
        value_name = "EXPR",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    pub expr: Option<String>,

    /// Field values as a JSON object: {"http.host": "a.example", "ip.src": "192.0.2.1"}; with
    /// --request, they override what the request gives (as a case's `fields:` do).
    #[arg(long, value_name = "JSON")]
    pub fields: Option<String>,

    /// A Trace API request body (JSON) to build every field from (--fields overrides some).
    #[arg(long, value_name = "JSON")]
    pub request: Option<String>,

    /// Evaluate each line {"expr": …, "fields": {…}} of a JSONL file ("-" for stdin).
    #[arg(long, value_name = "FILE.jsonl")]
    pub batch: Option<PathBuf>,

    /// A project directory whose lists expressions may use as `$name`.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,

    #[command(flatten)]
    pub budget: BudgetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SuiteArgs {
    /// Suite files or directories (searched for *.yaml / *.yml).
    #[arg(value_name = "PATHS", default_value = "suites")]
    pub paths: Vec<PathBuf>,

    /// Set a variable for `${NAME}` in suites (wins over the environment) and for the
    /// Terraform root module (as Terraform's `-var`). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    #[command(flatten)]
    pub tf: TerraformArgs,
}

/// Where rulesets and lists come from when Terraform holds them.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct TerraformArgs {
    /// Rulesets and lists from Terraform: a root module's directory (its `*.tf` files,
    /// evaluated offline with its local modules, tfvars and `--var`), or a plan or state as
    /// JSON (`terraform show -json`) [default: rulegate.yaml's `terraform`].
    #[arg(long, value_name = "DIR|PLAN.json")]
    pub terraform: Option<PathBuf>,

    /// A Terraform variables file (`.tfvars` or `.tfvars.json`) for the directory route, read
    /// after terraform.tfvars and *.auto.tfvars, before `--var` (as Terraform's `-var-file`).
    /// Repeatable.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,

    /// An OWASP Core Rule Set release (a checkout with rules/, or a rules directory) for the
    /// offline emulation of Cloudflare's OWASP ruleset [default: rulegate.yaml's `owasp.crs`,
    /// else Debian's /usr/share/modsecurity-crs when installed].
    #[arg(long, value_name = "PATH", env = "RULEGATE_CRS")]
    pub crs: Option<PathBuf>,
}

/// The project directory: shared by the commands that take one (`trace`, `serve`, `pull`;
/// `test` and `check` find it from their suite paths).
#[derive(Debug, Args, Clone)]
pub(crate) struct ProjectDirArg {
    /// The project directory (rulegate.yaml, rulesets/, lists/; `pull` writes into it).
    #[arg(value_name = "PROJECT_DIR", default_value = "suites")]
    pub dir: PathBuf,
}

/// How long one offline trace may run: shared by every command that evaluates rules.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct BudgetArgs {
    /// Seconds one offline trace (or evaluation) may take before it is an error, which ends
    /// the run with exit 3 [default: 10, or rulegate.yaml's `trace_budget` where a project
    /// is read].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub trace_budget: Option<f64>,
}

/// Where traces come from: shared by `trace` and `test`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct BackendArgs {
    /// Where traces come from [default: rulegate.yaml's `backend`, else local].
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
}

/// How the live API is reached.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ApiArgs {
    /// Cloudflare API base URL [env: CLOUDFLARE_API_BASE_URL, then CLOUDFLARE_BASE_URL; then
    /// rulegate.yaml's `api_url`]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,

    /// Account that owns the zones under test.
    #[arg(long, value_name = "ID", env = "CLOUDFLARE_ACCOUNT_ID")]
    pub account_id: Option<String>,

    /// Client-side rate limit, REQUESTS/SECONDS [default: 1200/300].
    #[arg(long, value_name = "N/SECONDS")]
    pub rate_limit: Option<crate::cloudflare::RateLimit>,

    /// Retries on 429, 5xx, timeouts and connection errors [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::limits::MAX_RETRIES)))]
    pub retries: Option<u32>,

    /// First retry backoff in seconds (doubles each retry, with jitter, capped at 30 s) [default: 1].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub retry_delay: Option<f64>,

    /// Per-request timeout in seconds [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<f64>,

    /// Send credentials to an `http://` API URL that is not on this machine (they travel
    /// unencrypted). Without it, plain HTTP is refused except on loopback.
    #[arg(long)]
    pub allow_plain_http: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub suites: SuiteArgs,
}

/// Which CI's inline annotations a run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Annotations {
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
    /// None, even on GitHub Actions.
    None,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    #[command(flatten)]
    pub suites: SuiteArgs,

    /// Only run cases whose name contains FILTER (after `--`, as in `cargo test -- FILTER`).
    #[arg(last = true, value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Only run cases tagged TAG (a case's `tags:`); repeatable: a case with any of them runs.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Leave out cases tagged TAG; repeatable. Wins over --tag.
    #[arg(long = "skip-tag", value_name = "TAG")]
    pub skip_tags: Vec<String>,

    /// Run shard K of N of the selected cases: `hash:K/N` (by a hash of each case's name: a
    /// case keeps its shard as others are added) or `count:K/N` (round robin over the cases
    /// sorted by name: equal shards). Applied after the filters and tags; the shards are
    /// disjoint and together the whole run.
    #[arg(long, value_name = "hash:K/N|count:K/N")]
    pub partition: Option<crate::runner::Partition>,

    /// Whether a failing case's message ends with why its rules did what they did (offline).
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub explain: ExplainWhen,

    /// Accept every new or changed snapshot as the run goes (writes the .snap files; the
    /// cases pass). Without it: RULEGATE_UPDATE (always, new, auto, no), else `no` when CI
    /// is set (nothing written) and `auto` elsewhere (pending snapshots to .snap.new).
    #[arg(long)]
    pub accept: bool,

    #[command(flatten)]
    pub engine: BackendArgs,

    #[command(flatten)]
    pub api: ApiArgs,

    /// Traces in flight at once [default: 8].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,

    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also run every selected case against the rulesets as of git revision REV (`main`,
    /// `origin/main`, a SHA, `HEAD~1`), or against the live API (`live`), and report each case
    /// whose behaviour differs.
    #[arg(long, value_name = "REV|live")]
    pub baseline: Option<String>,

    /// Inline annotations for a CI [default: github when GITHUB_ACTIONS=true, else none].
    #[arg(long, value_enum, value_name = "github|none")]
    pub annotations: Option<Annotations>,

    /// Write a Markdown summary (totals, failures with diffs, behaviour changes) to FILE; on
    /// GitHub Actions it is also appended to GITHUB_STEP_SUMMARY.
    #[arg(long, value_name = "FILE.md")]
    pub summary: Option<PathBuf>,

    /// Print rule coverage: per ruleset, the cases that evaluated and matched each rule; the
    /// rules no case matches or reaches, with file and line (local backend).
    #[arg(long)]
    pub coverage: bool,

    /// Fail (exit 1) unless coverage meets REQ: `all` or a percentage [default: rulegate.yaml's
    /// `coverage.require`, else all]. Implies --coverage.
    #[arg(long, value_name = "REQ", num_args = 0..=1, default_missing_value = "")]
    pub require_coverage: Option<String>,

    /// Write rule coverage as an LCOV tracefile (Codecov, Coveralls, editors). Implies
    /// --coverage.
    #[arg(long, value_name = "FILE")]
    pub coverage_lcov: Option<PathBuf>,

    /// Write rule coverage as Cobertura XML (GitLab, Azure DevOps, Jenkins). Implies
    /// --coverage.
    #[arg(long, value_name = "FILE")]
    pub coverage_cobertura: Option<PathBuf>,

    /// With the live API: make cases with offline-only `fields`/`origin` errors instead of
    /// skipping them.
    #[arg(long)]
    pub strict_live: bool,

    /// With --baseline: write the behaviour changes as JSON to FILE.
    #[arg(long, value_name = "FILE", requires = "baseline")]
    pub changes: Option<PathBuf>,

    /// With --baseline REV: fail when a rule changed against the baseline and no case
    /// matches it on either side (the change is untested).
    #[arg(long, requires = "baseline")]
    pub require_changed_covered: bool,

    #[command(flatten)]
    pub budget: BudgetArgs,

    /// Filters match names exactly.
    #[arg(long)]
    pub exact: bool,

    /// Skip cases whose name contains SKIP. Repeatable.
    #[arg(long, value_name = "SKIP")]
    pub skip: Vec<String>,

    /// List the cases instead of running them.
    #[arg(long)]
    pub list: bool,

    /// Exit 0 when the filters select no case (by default that is an error, exit 2).
    #[arg(long)]
    pub allow_no_cases: bool,

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
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub test_threads: Option<usize>,
}

// The value parsers below return `String` errors because clap prints them as they are, after
// naming the flag; a typed error would add nothing there.

fn parse_secret(s: &str) -> Result<crate::cloudflare::Secret, String> {
    Ok(crate::cloudflare::Secret::new(s))
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
        Ok(v) if crate::limits::seconds(v).is_some() => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds (0 to {})",
            crate::limits::MAX_SECONDS
        )),
    }
}

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a number of threads (1 or more)")),
    }
}

//! rulegate's Rules engine side by side with Cloudflare's open-source engine, `wirefilter`
//! (crates.io `wirefilter-engine` 0.6.1), in one run, on the same work.
//!
//! Both engines get the same 25 fields with Cloudflare's types, the same 10,000 generated
//! requests (fixed seed) and the same 1,000 WAF-style expressions (about 30% with a regex).
//! The expressions stay inside what wirefilter 0.6.1 understands (scalar fields, `eq`/`ne`/
//! ordering, `contains`, `matches`, sets of strings, integers, addresses and CIDRs, `and`/`or`/
//! `xor`/`not`); before timing anything both engines evaluate every pair and must produce the
//! same match matrix, or the bench stops and lists the pairs that differ. The engines then take
//! turns over several rounds: within a round every phase goes chunk by chunk (100 expressions,
//! 500 requests) and the engines alternate on each chunk, the first one alternating between
//! rounds, so that the rest of the machine's load falls on both alike. Printed: each round, the
//! medians, and the median of the per-round ratios:
//!
//! - compile: ms to parse and compile the 1,000 expressions (shortest of 3 passes);
//! - context: µs to build one request's execution context from the request, 25 fields set
//!   (shortest of 3 passes over the 10,000 requests), rulegate through field handles resolved
//!   once; "context by name": both engines naming each field (wirefilter's only path,
//!   rulegate's `Context::set_bytes_named`/`Context::set`);
//! - evaluate: evaluations per second against contexts built beforehand;
//! - evaluate+context: evaluations per second when each request's context is built first.
//!
//! A second part runs rulegate alone on the full mix, which wirefilter 0.6.1 cannot parse: the
//! same shapes with header maps, argument arrays, `any(…[*] …)`, indexing, `wildcard` and
//! functions in 40% of the conditions, with four more fields in each context.
//!
//!     cargo bench --bench versus_wirefilter
//!     cargo bench --bench versus_wirefilter -- --rounds 9 --requests 2000 --exprs 500
//!     cargo bench --bench versus_wirefilter -- --full-only    # the second part alone

mod versus;

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use rulegate::rules;
use versus::{FIELDS, Gate, Request, Wire, expressions, requests, same_matrix};

// Both engines allocate through the allocator the rulegate binary uses.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// ---------------------------------------------------------------------------------------------
// Measuring

#[derive(Default, Clone, Copy)]
struct Figures {
    compile_ms: f64,
    context_us: f64,
    context_by_name_us: f64,
    evals_per_s: f64,
    evals_with_context_per_s: f64,
    matched: u64,
}

fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

const PASSES: usize = 3;
const EXPR_CHUNK: usize = 100;
const REQ_CHUNK: usize = 500;

/// One round of both engines on the same work. Each phase goes chunk by chunk (100
/// expressions, 500 requests) and within a chunk the engines take turns, `wire_first` deciding
/// who starts, so that whatever else the machine does in the meantime falls on both alike.
/// Compile and context passes are short: the shortest of three passes counts.
fn round(
    wire: &Wire,
    gate: &Gate,
    exprs: &[String],
    reqs: &[Request],
    wire_first: bool,
) -> (Figures, Figures) {
    let order: [usize; 2] = if wire_first { [0, 1] } else { [1, 0] };
    let mut best_compile = [f64::MAX; 2];
    let mut filters = (Vec::new(), Vec::new());
    for _ in 0..PASSES {
        let mut t = [0.0; 2];
        let compiler = rules::Compiler::new(&gate.lists);
        let (mut wf, mut gf) = (Vec::new(), Vec::new());
        for chunk in exprs.chunks(EXPR_CHUNK) {
            for e in order {
                let start = Instant::now();
                if e == 0 {
                    wf.extend(wire.compile(chunk));
                } else {
                    gf.extend(gate.compile_with(&compiler, chunk));
                }
                t[e] += secs(start);
            }
        }
        for e in 0..2 {
            best_compile[e] = best_compile[e].min(t[e]);
        }
        filters = (wf, gf);
    }
    let (wf, gf) = filters;

    // [wirefilter by name, rulegate by handle, rulegate by name]
    let mut best_context = [f64::MAX; 3];
    for _ in 0..PASSES {
        let mut t = [0.0; 3];
        for chunk in reqs.chunks(REQ_CHUNK) {
            for e in order.into_iter().chain([2]) {
                let start = Instant::now();
                for req in chunk {
                    match e {
                        0 => drop(black_box(wire.context(black_box(req)))),
                        1 => drop(black_box(gate.context(black_box(req)))),
                        _ => drop(black_box(gate.context_by_name(black_box(req)))),
                    }
                }
                t[e] += secs(start);
            }
        }
        for e in 0..3 {
            best_context[e] = best_context[e].min(t[e]);
        }
    }

    let wc: Vec<_> = reqs.iter().map(|r| wire.context(r)).collect();
    let gc: Vec<_> = reqs.iter().map(|r| gate.context(r)).collect();
    let mut evaluate = [0.0; 2];
    let mut matched = [0u64; 2];
    for (wchunk, gchunk) in wc.chunks(REQ_CHUNK).zip(gc.chunks(REQ_CHUNK)) {
        for e in order {
            let start = Instant::now();
            if e == 0 {
                for ctx in wchunk {
                    for f in &wf {
                        matched[0] += u64::from(black_box(f).execute(black_box(ctx)).unwrap());
                    }
                }
            } else {
                for ctx in gchunk {
                    for f in &gf {
                        matched[1] += u64::from(black_box(f).execute(black_box(ctx)));
                    }
                }
            }
            evaluate[e] += secs(start);
        }
    }
    drop((wc, gc));

    let mut with_context = [0.0; 2];
    for chunk in reqs.chunks(REQ_CHUNK) {
        for e in order {
            let start = Instant::now();
            for req in chunk {
                if e == 0 {
                    let ctx = wire.context(black_box(req));
                    for f in &wf {
                        black_box(black_box(f).execute(&ctx).unwrap());
                    }
                } else {
                    let ctx = gate.context(black_box(req));
                    for f in &gf {
                        black_box(black_box(f).execute(&ctx));
                    }
                }
            }
            with_context[e] += secs(start);
        }
    }

    let evals = (exprs.len() * reqs.len()) as f64;
    let figures = |e: usize| Figures {
        compile_ms: best_compile[e] * 1e3,
        context_us: best_context[e] * 1e6 / reqs.len() as f64,
        // wirefilter sets fields by name only.
        context_by_name_us: best_context[if e == 0 { 0 } else { 2 }] * 1e6 / reqs.len() as f64,
        evals_per_s: evals / evaluate[e],
        evals_with_context_per_s: evals / with_context[e],
        matched: matched[e],
    };
    (figures(0), figures(1))
}

/// rulegate alone (the full mix), phase by phase.
fn run_gate(gate: &Gate, exprs: &[String], reqs: &[Request]) -> Figures {
    let mut compile = f64::MAX;
    let mut filters = Vec::new();
    for _ in 0..PASSES {
        let start = Instant::now();
        filters = gate.compile(exprs);
        compile = compile.min(secs(start));
    }
    let mut context = f64::MAX;
    for _ in 0..PASSES {
        let start = Instant::now();
        for req in reqs {
            black_box(gate.context(black_box(req)));
        }
        context = context.min(secs(start));
    }

    let contexts: Vec<_> = reqs.iter().map(|r| gate.context(r)).collect();
    let evals = (filters.len() * reqs.len()) as f64;
    let mut matched = 0u64;
    let start = Instant::now();
    for ctx in &contexts {
        for f in &filters {
            matched += u64::from(black_box(f).execute(black_box(ctx)));
        }
    }
    let evals_per_s = evals / secs(start);
    drop(contexts);

    let start = Instant::now();
    for req in reqs {
        let ctx = gate.context(black_box(req));
        for f in &filters {
            black_box(black_box(f).execute(&ctx));
        }
    }
    Figures {
        compile_ms: compile * 1e3,
        context_us: context * 1e6 / reqs.len() as f64,
        context_by_name_us: f64::NAN,
        evals_per_s,
        evals_with_context_per_s: evals / secs(start),
        matched,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::MAX, f64::min);
    let hi = v.iter().copied().fold(f64::MIN, f64::max);
    (lo, hi)
}

fn print_figures(label: &str, f: &Figures) {
    println!(
        "  {label:<10} compile {:7.1} ms | context {:5.2} µs (by name {:5.2}) | evaluate {:6.2} M/s | evaluate+context {:6.2} M/s",
        f.compile_ms,
        f.context_us,
        f.context_by_name_us,
        f.evals_per_s / 1e6,
        f.evals_with_context_per_s / 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = arg("--rounds", 7).max(1);
    let n_req = arg("--requests", 10_000).max(1);
    let n_expr = arg("--exprs", 1_000).max(1);

    let reqs = requests(n_req, 0x5eed_cafe_f00d_0001);
    let shared = expressions(n_expr, 0x9e37_79b9_7f4a_7c15, false);
    let rich = expressions(n_expr, 0x9e37_79b9_7f4a_7c15, true);
    let count = |exprs: &[String]| {
        let with = exprs.iter().filter(|e| e.contains(" matches ")).count();
        let distinct: HashSet<&str> = exprs
            .iter()
            .flat_map(|e| e.split(" matches \"").skip(1))
            .map(|rest| rest.split('"').next().unwrap_or(""))
            .collect();
        (with, distinct.len())
    };

    // --full-only: rulegate alone on the full mix (for profiling those paths).
    if !args.iter().any(|a| a == "--full-only") {
        let wire = Wire::new();
        let gate = Gate::new(false);
        let (with, distinct) = count(&shared);
        println!(
            "shared subset: {} expressions ({with} with a regex, {distinct} distinct regexes) x {} requests, {} fields",
            shared.len(),
            reqs.len(),
            FIELDS.len()
        );
        let matched = same_matrix(&wire, &gate, &shared, &reqs).unwrap_or_else(|differ| {
            eprintln!("{differ}");
            panic!("the match matrices differ")
        });
        println!(
            "match matrices identical: {matched} matches in {} pairs ({:.1}%)",
            shared.len() * reqs.len(),
            matched as f64 * 100.0 / (shared.len() * reqs.len()) as f64
        );

        let mut w_runs = Vec::new();
        let mut g_runs = Vec::new();
        for r in 0..rounds {
            println!("round {}:", r + 1);
            let (w, g) = round(&wire, &gate, &shared, &reqs, r % 2 == 0);
            assert_eq!(w.matched, g.matched, "match counts differ in round {r}");
            print_figures("wirefilter", &w);
            print_figures("rulegate", &g);
            w_runs.push(w);
            g_runs.push(g);
        }

        println!(
            "\nmedians over {rounds} rounds (ratio = rulegate / wirefilter, range over rounds):"
        );
        let row = |name: &str, unit: &str, get: fn(&Figures) -> f64, better: &str| {
            let w: Vec<f64> = w_runs.iter().map(get).collect();
            let g: Vec<f64> = g_runs.iter().map(get).collect();
            let ratios: Vec<f64> = g.iter().zip(&w).map(|(g, w)| g / w).collect();
            let (lo, hi) = range(&ratios);
            println!(
                "  {name:<17} wirefilter {:9.2} {unit:<4} rulegate {:9.2} {unit:<4} ratio {:.2}x ({lo:.2}-{hi:.2}; {better})",
                median(w),
                median(g),
                median(ratios.clone()),
            );
        };
        row("compile", "ms", |f| f.compile_ms, "below 1 is faster");
        row("context", "µs", |f| f.context_us, "below 1 is faster");
        row(
            "context by name",
            "µs",
            |f| f.context_by_name_us,
            "below 1 is faster",
        );
        row(
            "evaluate",
            "M/s",
            |f| f.evals_per_s / 1e6,
            "above 1 is faster",
        );
        row(
            "evaluate+context",
            "M/s",
            |f| f.evals_with_context_per_s / 1e6,
            "above 1 is faster",
        );
    }

    let gate = Gate::new(true);
    let (with, distinct) = count(&rich);
    println!(
        "\nfull mix, rulegate alone: {} expressions ({with} with a regex, {distinct} distinct regexes), 40% of conditions on maps, arrays, any(), functions, wildcard; 29 fields",
        rich.len()
    );
    let runs: Vec<Figures> = (0..rounds.min(5))
        .map(|_| run_gate(&gate, &rich, &reqs))
        .collect();
    let m = Figures {
        compile_ms: median(runs.iter().map(|f| f.compile_ms).collect()),
        context_us: median(runs.iter().map(|f| f.context_us).collect()),
        context_by_name_us: median(runs.iter().map(|f| f.context_by_name_us).collect()),
        evals_per_s: median(runs.iter().map(|f| f.evals_per_s).collect()),
        evals_with_context_per_s: median(runs.iter().map(|f| f.evals_with_context_per_s).collect()),
        matched: runs[0].matched,
    };
    print_figures("rulegate", &m);
    println!(
        "  {:.1}% of pairs matched",
        m.matched as f64 * 100.0 / (rich.len() * reqs.len()) as f64
    );
}

//! Differential test against Cloudflare's open-source engine: rulegate and `wirefilter-engine`
//! 0.6.1 evaluate the same generated WAF-style expressions against the same generated requests
//! (the generator of `cargo bench --bench versus_wirefilter`, other seeds) and must agree on
//! every pair. Speed work on the engine (operand order, inline literals, shared regexes) is
//! held to this.

#[path = "../../benches/versus/mod.rs"]
mod versus;

use rulegate::rules::{Compiler, Lists};
use versus::{Gate, Wire, expressions, requests, same_matrix};

#[test]
fn rulegate_and_wirefilter_agree_on_every_pair() {
    let wire = Wire::new();
    let gate = Gate::new(false);
    for seed in [1_u64, 0xfeed, 0x1234_5678] {
        let reqs = requests(600, seed);
        let exprs = expressions(300, seed ^ 0x9e37_79b9, false);
        let matched = same_matrix(&wire, &gate, &exprs, &reqs).unwrap_or_else(|d| panic!("{d}"));
        let pairs = (reqs.len() * exprs.len()) as u64;
        // Both answers occur often: a matrix of all false (or all true) would prove nothing.
        assert!(
            matched > pairs / 10 && matched < pairs * 9 / 10,
            "{matched} of {pairs}"
        );
    }
}

#[test]
fn the_full_mix_compiles_and_each_distinct_regex_is_built_once() {
    let exprs = expressions(500, 7, true);
    let lists = Lists::new();
    let compiler = Compiler::new(&lists);
    for e in &exprs {
        compiler
            .filter(e)
            .unwrap_or_else(|err| panic!("`{e}`: {err}"));
    }
    let distinct: std::collections::HashSet<&str> = exprs
        .iter()
        .flat_map(|e| e.split(" matches \"").skip(1))
        .map(|rest| rest.split('"').next().unwrap_or(""))
        .collect();
    assert!(distinct.len() > 20, "{}", distinct.len());
    assert_eq!(compiler.regexes(), distinct.len());
}

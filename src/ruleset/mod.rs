//! Rulesets: the API's JSON model ([`model`]), phases and their actions ([`phases`]), typed
//! actions ([`action`]), the compiled form the evaluator runs ([`compiled`]), the trace shape
//! ([`shape`]) and the phase evaluator that runs a request through a [`Rulebook`] offline and
//! returns a trace in the live API's shape ([`eval`]).

pub(crate) mod action;
pub(crate) mod compiled;
pub(crate) mod diff;
pub(crate) mod eval;
pub(crate) mod model;
pub(crate) mod owasp;
pub(crate) mod phases;
pub(crate) mod shape;
pub(crate) mod walk;
pub(crate) mod why;

pub(crate) use compiled::{CompiledRule, CompiledRuleset, Level, Rulebook};
#[cfg(test)]
pub(crate) use eval::evaluate;
pub(crate) use eval::{evaluate_lean, evaluate_until, evaluate_walked};

/// Managed rulesets whose ids are public (reference cloudflare-apis §4). Executing one
/// without a stand-in traces an opaque step instead of failing `check`.
pub(crate) const MANAGED_RULESETS: &[(&str, &str)] = &[
    (
        "efb7b8c949ac4650a09736fc376e9aee",
        "Cloudflare Managed Ruleset",
    ),
    (
        "4814384a9e5d4991b9815dcfc25d2f1f",
        "Cloudflare OWASP Core Ruleset",
    ),
    (
        "c2e184081120413c86c3ab7e14069605",
        "Cloudflare Exposed Credentials Check",
    ),
    (
        "77454fe2d30c4220b5701f6fdfb893ba",
        "Cloudflare Free Managed Ruleset",
    ),
    (
        "e22d83c647c64a3eae91b71b499d988e",
        "Cloudflare Sensitive Data Detection",
    ),
    (
        "4d21379b4f9f4bb088e0729962c8b3cf",
        "HTTP DDoS Attack Protection",
    ),
    (
        "70339d97bdb34195bbf054b1ebe81f76",
        "Cloudflare Normalization Ruleset",
    ),
];

pub(crate) fn managed_name(id: &str) -> Option<&'static str> {
    MANAGED_RULESETS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
}

//! A project directory: `rulegate.yaml`, the rulesets and lists it names, loaded and
//! checked into a [`Project`] the local engine, `serve` and `check` share.

mod config;
mod load;

pub use config::{CONFIG_FILES, ProjectConfig, load_config};
pub use load::{
    CompiledRule, CompiledRuleset, HeaderOp, Level, Project, Redirect, Rewrite, load_project,
};

/// Managed rulesets whose ids are public (reference cloudflare-apis §4). Executing one
/// without a stand-in traces an opaque step instead of failing `check`.
pub const MANAGED_RULESETS: &[(&str, &str)] = &[
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

pub fn managed_name(id: &str) -> Option<&'static str> {
    MANAGED_RULESETS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
}

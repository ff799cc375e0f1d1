//! The Rulesets API's JSON shapes (reference cloudflare-apis §3.1–3.2), as `GET …/rulesets/{id}`
//! returns them. Every field the engine does not need is kept, so a ruleset round-trips.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ruleset {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Shared with every trace step the rule emits.
    pub action_parameters: Option<std::sync::Arc<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Rule {
    /// The rule's id, or its ref, or its position: what a trace step names it by.
    pub(crate) fn step_name(&self, index: usize) -> String {
        self.id
            .clone()
            .or_else(|| self.reference.clone())
            .unwrap_or_else(|| format!("rule-{}", index + 1))
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

impl Ruleset {
    /// The ruleset without its rules, as list endpoints return it.
    pub(crate) fn summary(&self) -> Ruleset {
        Ruleset {
            rules: Vec::new(),
            ..self.clone()
        }
    }
}

/// A list file: the Lists API's list object plus its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ListFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub items: Vec<ListItem>,
}

/// One item in the Lists API shape: exactly one of `ip`, `hostname`, `asn` (or `redirect`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub(crate) struct ListItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Hostname>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Hostname {
    pub url_hostname: String,
}

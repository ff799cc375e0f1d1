//! Typed reads of the Rulesets and Lists APIs: what `rulegate pull` downloads. An answer of
//! another shape is a `Malformed` error, as for traces.

use serde::Deserialize;

use super::ApiError;
use super::Client;
use crate::ruleset::model::{ListItem, Ruleset};

/// Where rulesets live: a zone or an account.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    Zone(&'a str),
    Account(&'a str),
}

impl Scope<'_> {
    fn path(self) -> String {
        match self {
            Scope::Zone(z) => format!("/zones/{z}"),
            Scope::Account(a) => format!("/accounts/{a}"),
        }
    }

    /// The kind of this scope's entry-point rulesets (`zone` or `root`).
    pub(crate) fn entry_kind(self) -> &'static str {
        match self {
            Scope::Zone(_) => "zone",
            Scope::Account(_) => "root",
        }
    }
}

/// A ruleset as the list endpoint gives it (no rules).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RulesetSummary {
    pub id: String,
    #[serde(default)]
    pub kind: String,
}

/// A list as the list endpoint gives it (no items).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListMeta {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Client {
    /// The rulesets of a scope (a missing scope: none).
    pub(crate) async fn rulesets(&self, scope: Scope<'_>) -> Result<Vec<RulesetSummary>, ApiError> {
        Ok(self
            .get(&format!("{}/rulesets", scope.path()))
            .await?
            .unwrap_or_default())
    }

    /// One ruleset with its rules; `None` when it cannot be had (a managed ruleset).
    pub(crate) async fn ruleset(
        &self,
        scope: Scope<'_>,
        id: &str,
    ) -> Result<Option<Ruleset>, ApiError> {
        self.get(&format!("{}/rulesets/{id}", scope.path())).await
    }

    /// The account's lists.
    pub(crate) async fn lists(&self, account: &str) -> Result<Vec<ListMeta>, ApiError> {
        Ok(self
            .get(&format!("/accounts/{account}/rules/lists"))
            .await?
            .unwrap_or_default())
    }

    /// A list's items.
    pub(crate) async fn list_items(
        &self,
        account: &str,
        id: &str,
    ) -> Result<Vec<ListItem>, ApiError> {
        Ok(self
            .get(&format!("/accounts/{account}/rules/lists/{id}/items"))
            .await?
            .unwrap_or_default())
    }
}

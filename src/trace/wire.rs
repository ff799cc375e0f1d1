//! Wire types of `POST /accounts/{account_id}/request-tracer/trace`
//! (reference/cloudflare-apis.md §1.2–1.4). Every response field is optional and unknown keys
//! are kept or ignored, so a change on Cloudflare's side does not break parsing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The request body of the Trace API. Only `method` and `url` are required by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cookies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<TraceBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<TraceContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_response: Option<bool>,
}

/// Exactly one of the three forms is set by the suite loader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TraceBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TraceContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_challenge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geoloc: Option<Geoloc>,
}

/// All ten keys of `context.geoloc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Geoloc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_eu_country: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision_2_iso_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// The v4 API envelope around every response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub success: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<ApiMessage>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub messages: Vec<ApiMessage>,
    /// `null` in error answers, as the API's schema requires.
    #[serde(default = "none")]
    pub result: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Envelope<T> {
    pub fn ok(result: T) -> Self {
        Envelope {
            success: true,
            errors: Vec::new(),
            messages: Vec::new(),
            result: Some(result),
        }
    }

    pub fn error(code: i64, message: impl Into<String>) -> Self {
        Envelope {
            success: false,
            errors: vec![ApiMessage::new(code, message)],
            messages: Vec::new(),
            result: None,
        }
    }
}

/// An entry of `errors` / `messages`. `error_chain` is seen on real responses (6003 → 6111).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ApiMessage {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_url: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_chain: Vec<ApiMessage>,
}

impl ApiMessage {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ApiMessage {
            code,
            message: message.into(),
            ..Default::default()
        }
    }
}

/// `result` of a successful trace. `trace` must be present (an empty list is a trace in
/// which nothing ran): an answer without it cannot be read as "nothing matched".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TraceResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i64>,
    pub trace: Vec<TraceItem>,
}

/// One step of a trace; recursive. Every key is optional; `type` and `kind` stay open strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TraceItem {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind_of_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Shared with the rule it comes from: a local trace does not copy it per case.
    pub action_parameters: Option<std::sync::Arc<serde_json::Value>>,
    /// The URL a matched redirect rule sends the visitor to. Emitted by rulegate's local engine;
    /// UNCERTAIN whether (and under which key) the live API reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// The anomaly score an emulated OWASP rule added (on the score rule: the total).
    /// rulegate's own key: the live API does not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// The emulated OWASP score rule's threshold. rulegate's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<i64>,
    /// Set on steps the OWASP emulation produced (the CRS release, e.g. `OWASP_CRS/3.3.4`):
    /// not Cloudflare's own answer. rulegate's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulated: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub trace: Vec<TraceItem>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_example_and_tolerates_nulls_and_unknown_keys() {
        let text = r#"{"success":true,"errors":[],"messages":[{"code":1,"message":"x","type":null}],
            "result":{"status_code":403,"trace":[{"type":"phase","step_name":"p","future":1,
            "trace":[{"type":"rule","step_name":"r","matched":true,"action":"block","trace":null}]}]}}"#;
        let env: Envelope<TraceResult> = serde_json::from_str(text).unwrap();
        let result = env.result.unwrap();
        assert_eq!(result.status_code, Some(403));
        assert_eq!(result.trace[0].trace[0].action.as_deref(), Some("block"));
    }

    #[test]
    fn missing_result_is_none() {
        let env: Envelope<TraceResult> =
            serde_json::from_str(r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"result":null}"#)
                .unwrap();
        assert!(env.result.is_none());
        assert_eq!(env.errors[0].code, 10000);
        assert!(env.messages.is_empty());
    }

    #[test]
    fn request_serializes_only_what_is_set() {
        let req = TraceRequest {
            method: "GET".into(),
            url: "https://a.example/".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"method":"GET","url":"https://a.example/"}"#
        );
    }
}

/// The origin's response, for response phases (offline only).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    pub status: Option<i64>,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// What a case adds for offline runs: field values the Trace API cannot set, and the origin's
/// response. Sent to `rulegate serve` as the request body's `rulegate` key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Extras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Extras {
    pub fn is_empty(&self) -> bool {
        self.fields.is_none() && self.origin.is_none()
    }
}

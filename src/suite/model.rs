//! The suite file as YAML: serde structs with spans. Unknown keys are errors
//! (`deny_unknown_fields`); the loader adds "did you mean" from serde's list of expected keys.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuiteFile {
    pub name: Option<S<String>>,
    pub base_url: Option<S<String>>,
    pub defaults: Option<RequestSpec>,
    /// Offline only: `fields` for every case (a case's own win key by key).
    pub fields: Option<S<serde_json::Map<String, serde_json::Value>>>,
    /// Every case compared with its snapshot (a case's own `snapshot:` wins).
    pub snapshot: Option<S<bool>>,
    pub cases: Vec<S<CaseSpec>>,
}

/// `ignore:` as written: `true`, `false`, a reason, or something else (an error).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum IgnoreSpec {
    Flag(bool),
    Reason(String),
    Number(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseSpec {
    pub name: S<String>,
    pub request: S<RequestSpec>,
    pub expect: Option<S<ExpectSpec>>,
    pub ignore: Option<S<IgnoreSpec>>,
    /// Labels `test --tag` / `--skip-tag` select by.
    #[serde(default)]
    pub tags: Vec<S<String>>,
    /// Offline only: field values the Trace API cannot set (`ip.src`, `ip.src.asnum`, …).
    pub fields: Option<S<serde_json::Map<String, serde_json::Value>>>,
    /// Offline only: the origin's response, which makes response phases run.
    pub origin: Option<S<OriginSpec>>,
    /// One trial per combination of these values, used as `${matrix.KEY}`.
    pub matrix: Option<S<MatrixSpec>>,
    /// Compare the trace's behaviour with the committed snapshot.
    pub snapshot: Option<S<bool>>,
}

/// `matrix:` as written: keys in order, each with its values; `exclude:` combinations.
#[derive(Debug, Default)]
pub(crate) struct MatrixSpec {
    pub axes: Vec<(S<String>, Vec<S<Scalar>>)>,
    pub exclude: Vec<S<BTreeMap<String, Scalar>>>,
}

/// A matrix value: text, a number or a Bool, used as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Text(t) => f.write_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for MatrixSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MatrixSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of keys to lists of values, and optionally `exclude:`")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<MatrixSpec, A::Error> {
                let mut m = MatrixSpec::default();
                while let Some(key) = map.next_key::<S<String>>()? {
                    if key.value == "exclude" {
                        m.exclude = map.next_value()?;
                    } else {
                        let values: Vec<S<Scalar>> = map.next_value()?;
                        m.axes.push((key, values));
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct OriginSpec {
    pub status: Option<i64>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    pub method: Option<S<String>>,
    pub url: Option<S<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub cookies: BTreeMap<String, S<String>>,
    pub body: Option<S<BodySpec>>,
    pub protocol: Option<S<String>>,
    pub context: Option<ContextSpec>,
    pub skip_response: Option<bool>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct BodySpec {
    pub plain_text: Option<S<String>>,
    pub json: Option<serde_json::Value>,
    pub base64: Option<S<String>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextSpec {
    pub bot_score: Option<S<i64>>,
    pub threat_score: Option<S<i64>>,
    pub skip_challenge: Option<bool>,
    pub geoloc: Option<GeolocSpec>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeolocSpec {
    pub city: Option<S<String>>,
    pub continent: Option<S<String>>,
    pub is_eu_country: Option<bool>,
    pub iso_code: Option<S<String>>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub postal_code: Option<S<String>>,
    pub region_code: Option<S<String>>,
    pub subdivision_2_iso_code: Option<S<String>>,
    pub timezone: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectSpec {
    pub status: Option<S<IntList>>,
    pub location: Option<S<String>>,
    pub action: Option<S<String>>,
    pub matched: Option<S<StringList>>,
    pub not_matched: Option<S<StringList>>,
    #[serde(default)]
    pub trace: Vec<S<StepSpec>>,
}

/// A partial trace step: any subset of the TraceItem keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepSpec {
    #[serde(rename = "type")]
    pub kind_of_step: Option<S<String>>,
    pub step_name: Option<S<String>>,
    pub matched: Option<bool>,
    pub name: Option<S<String>>,
    pub kind: Option<S<String>>,
    pub description: Option<S<String>>,
    pub expression: Option<S<String>>,
    pub action: Option<S<String>>,
    pub action_parameters: Option<serde_json::Value>,
    pub target_url: Option<S<String>>,
    /// An emulated OWASP rule's score (on the score rule `949110`: the total).
    pub score: Option<i64>,
    pub score_threshold: Option<i64>,
}

/// One string or a list of strings (`matched: id` or `matched: [a, b]`).
#[derive(Debug, Default)]
pub(crate) struct StringList(pub Vec<S<String>>, pub Option<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rule selector or a list of rule selectors")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringList, E> {
                Ok(StringList(Vec::new(), Some(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<S<String>>()? {
                    out.push(item);
                }
                Ok(StringList(out, None))
            }
        }
        d.deserialize_any(V)
    }
}

/// One integer or a list of integers (`status: 403` or `status: [301, 308]`).
#[derive(Debug, Default)]
pub(crate) struct IntList(pub Vec<i64>);

impl<'de> Deserialize<'de> for IntList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IntList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code or a list of status codes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntList, E> {
                Ok(IntList(vec![v]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntList, E> {
                i64::try_from(v)
                    .map(|v| IntList(vec![v]))
                    .map_err(|_| E::custom("status code out of range"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IntList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<i64>()? {
                    out.push(item);
                }
                Ok(IntList(out))
            }
        }
        d.deserialize_any(V)
    }
}

//! The scheme: every HTTP field of the reference (§5) with its type, as one table that the
//! type checker and the request-to-fields builder both use. Field ids are indexes into
//! [`FIELDS`], so a context is a plain vector indexed by field.

use std::sync::OnceLock;

use super::types::Type;

/// Compact type codes for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(
    clippy::upper_case_acronyms,
    reason = "short codes read as the type: Array<Array<Bytes>>"
)]
pub(crate) enum T {
    B,
    I,
    Bo,
    Ip,
    /// Array<Bytes>
    AB,
    /// Array<Int>
    AI,
    /// Array<Array<Bytes>>
    AAB,
    /// Map<Array<Bytes>>
    MAB,
    /// Map<Array<Int>>
    MAI,
    /// Map<Int>
    MI,
}

impl T {
    /// The zero value of this type, without building the `Type`.
    pub(crate) fn zero(self) -> crate::rules::Value {
        use crate::rules::Value;
        match self {
            T::B => Value::Bytes(Vec::new()),
            T::I => Value::Int(0),
            T::Bo => Value::Bool(false),
            T::Ip => Value::Ip(std::net::IpAddr::from([0, 0, 0, 0])),
            T::AB | T::AI | T::AAB => Value::Array(Vec::new()),
            T::MAB | T::MAI | T::MI => Value::Map(Default::default()),
        }
    }

    /// Whether `v` has this type (checked deeply), without building the `Type`.
    #[inline]
    pub(crate) fn admits(self, v: &crate::rules::Value) -> bool {
        use crate::rules::Value;
        let all = |a: &[Value], t: T| a.iter().all(|x| t.admits(x));
        match (self, v) {
            (T::B, Value::Bytes(_))
            | (T::I, Value::Int(_))
            | (T::Bo, Value::Bool(_))
            | (T::Ip, Value::Ip(_)) => true,
            (T::AB, Value::Array(a)) => all(a, T::B),
            (T::AI, Value::Array(a)) => all(a, T::I),
            (T::AAB, Value::Array(a)) => all(a, T::AB),
            (T::MAB, Value::Map(m)) => m.values().all(|x| T::AB.admits(x)),
            (T::MAI, Value::Map(m)) => m.values().all(|x| T::AI.admits(x)),
            (T::MI, Value::Map(m)) => m.values().all(|x| T::I.admits(x)),
            _ => false,
        }
    }

    pub(crate) fn ty(self) -> Type {
        match self {
            T::B => Type::Bytes,
            T::I => Type::Int,
            T::Bo => Type::Bool,
            T::Ip => Type::Ip,
            T::AB => Type::array(Type::Bytes),
            T::AI => Type::array(Type::Int),
            T::AAB => Type::array(Type::array(Type::Bytes)),
            T::MAB => Type::map(Type::array(Type::Bytes)),
            T::MAI => Type::map(Type::array(Type::Int)),
            T::MI => Type::map(Type::Int),
        }
    }
}

use T::*;

/// Every field: name and type. Order is the field id; append only.
pub(crate) const FIELDS: &[(&str, T)] = &[
    // §5.1 request line, URI, headers
    ("http.host", B),
    ("http.request.method", B),
    ("http.request.version", B),
    ("http.request.full_uri", B),
    ("http.request.uri", B),
    ("http.request.uri.path", B),
    ("http.request.uri.path.extension", B),
    ("http.request.uri.query", B),
    ("http.request.uri.args", MAB),
    ("http.request.uri.args.names", AB),
    ("http.request.uri.args.values", AB),
    ("raw.http.request.full_uri", B),
    ("raw.http.request.uri", B),
    ("raw.http.request.uri.path", B),
    ("raw.http.request.uri.path.extension", B),
    ("raw.http.request.uri.query", B),
    ("raw.http.request.uri.args", MAB),
    ("raw.http.request.uri.args.names", AB),
    ("raw.http.request.uri.args.values", AB),
    ("http.cookie", B),
    ("http.request.cookies", MAB),
    ("http.referer", B),
    ("http.user_agent", B),
    ("http.x_forwarded_for", B),
    ("http.request.headers", MAB),
    ("http.request.headers.names", AB),
    ("http.request.headers.values", AB),
    ("http.request.headers.truncated", Bo),
    ("http.request.accepted_languages", AB),
    ("http.request.timestamp.sec", I),
    ("http.request.timestamp.msec", I),
    ("ssl", Bo),
    // §5.2 body
    ("http.request.body.raw", B),
    ("http.request.body.size", I),
    ("http.request.body.truncated", Bo),
    ("http.request.body.mime", B),
    ("http.request.body.form", MAB),
    ("http.request.body.form.names", AB),
    ("http.request.body.form.values", AB),
    ("http.request.body.multipart", MAB),
    ("http.request.body.multipart.names", AAB),
    ("http.request.body.multipart.values", AB),
    ("http.request.body.multipart.content_types", AAB),
    ("http.request.body.multipart.content_dispositions", AAB),
    (
        "http.request.body.multipart.content_transfer_encodings",
        AAB,
    ),
    ("http.request.body.multipart.filenames", AAB),
    // §5.3 source IP and geolocation
    ("ip.src", Ip),
    ("ip.src.asnum", I),
    ("ip.geoip.asnum", I),
    ("ip.src.continent", B),
    ("ip.geoip.continent", B),
    ("ip.src.country", B),
    ("ip.geoip.country", B),
    ("ip.src.city", B),
    ("ip.src.lat", B),
    ("ip.src.lon", B),
    ("ip.src.postal_code", B),
    ("ip.src.metro_code", B),
    ("ip.src.region", B),
    ("ip.src.region_code", B),
    ("ip.src.subdivision_1_iso_code", B),
    ("ip.geoip.subdivision_1_iso_code", B),
    ("ip.src.subdivision_2_iso_code", B),
    ("ip.geoip.subdivision_2_iso_code", B),
    ("ip.src.is_in_european_union", Bo),
    ("ip.geoip.is_in_european_union", Bo),
    ("ip.src.timezone.name", B),
    // §5.4 Cloudflare-computed
    ("cf.bot_management.score", I),
    ("cf.bot_management.verified_bot", Bo),
    ("cf.bot_management.static_resource", Bo),
    ("cf.bot_management.corporate_proxy", Bo),
    ("cf.bot_management.signed_agent", Bo),
    ("cf.bot_management.js_detection.passed", Bo),
    ("cf.bot_management.detection_ids", AI),
    ("cf.bot_management.ja3_hash", B),
    ("cf.bot_management.ja4", B),
    ("cf.client.bot", Bo),
    ("cf.verified_bot_category", B),
    ("cf.threat_score", I),
    ("cf.waf.score", I),
    ("cf.waf.score.sqli", I),
    ("cf.waf.score.xss", I),
    ("cf.waf.score.rce", I),
    ("cf.waf.score.class", B),
    ("cf.waf.auth_detected", Bo),
    ("cf.waf.credential_check.password_leaked", Bo),
    ("cf.waf.credential_check.username_leaked", Bo),
    ("cf.waf.credential_check.username_and_password_leaked", Bo),
    ("cf.waf.credential_check.username_password_similar", Bo),
    ("cf.waf.content_scan.has_obj", Bo),
    ("cf.waf.content_scan.has_malicious_obj", Bo),
    ("cf.waf.content_scan.has_failed", Bo),
    ("cf.waf.content_scan.num_obj", I),
    ("cf.waf.content_scan.num_malicious_obj", I),
    ("cf.waf.content_scan.obj_sizes", AI),
    ("cf.waf.content_scan.obj_types", AB),
    ("cf.waf.content_scan.obj_results", AB),
    ("cf.api_gateway.auth_id_present", Bo),
    ("cf.api_gateway.request_violates_schema", Bo),
    ("cf.api_gateway.fallthrough_detected", Bo),
    ("cf.schema_validation.learned.violated", Bo),
    ("cf.schema_validation.uploaded.violated", Bo),
    ("cf.llm.prompt.detected", Bo),
    ("cf.llm.prompt.pii_detected", Bo),
    ("cf.llm.prompt.unsafe_topic_detected", Bo),
    ("cf.llm.prompt.injection_score", I),
    ("cf.llm.prompt.token_count", I),
    ("cf.llm.prompt.pii_categories", AB),
    ("cf.llm.prompt.unsafe_topic_categories", AB),
    ("cf.llm.prompt.custom_topic_categories", MI),
    ("cf.edge.server_ip", Ip),
    ("cf.edge.server_port", I),
    ("cf.edge.client_tcp", Bo),
    ("cf.edge.l4.delivery_rate", I),
    ("cf.timings.client_tcp_rtt_msec", I),
    ("cf.timings.client_quic_rtt_msec", I),
    ("cf.timings.edge_msec", I),
    ("cf.timings.origin_ttfb_msec", I),
    ("cf.timings.worker_msec", I),
    ("cf.hostname.metadata", B),
    ("cf.random_seed", B),
    ("cf.ray_id", B),
    ("cf.worker.upstream_zone", B),
    ("cf.zone.name", B),
    ("cf.zone.plan", B),
    ("cf.tls_version", B),
    ("cf.tls_cipher", B),
    ("cf.tls_ciphers_sha1", B),
    ("cf.tls_client_extensions_sha1", B),
    ("cf.tls_client_extensions_sha1_le", B),
    ("cf.tls_client_random", B),
    ("cf.tls_client_hello_length", I),
    ("cf.tls_client_auth.cert_presented", Bo),
    ("cf.tls_client_auth.cert_verified", Bo),
    ("cf.tls_client_auth.cert_revoked", Bo),
    ("cf.tls_client_auth.cert_issuer_dn", B),
    ("cf.tls_client_auth.cert_issuer_dn_rfc2253", B),
    ("cf.tls_client_auth.cert_issuer_dn_legacy", B),
    ("cf.tls_client_auth.cert_subject_dn", B),
    ("cf.tls_client_auth.cert_subject_dn_rfc2253", B),
    ("cf.tls_client_auth.cert_subject_dn_legacy", B),
    ("cf.tls_client_auth.cert_serial", B),
    ("cf.tls_client_auth.cert_issuer_serial", B),
    ("cf.tls_client_auth.cert_fingerprint_sha1", B),
    ("cf.tls_client_auth.cert_fingerprint_sha256", B),
    ("cf.tls_client_auth.cert_not_before", B),
    ("cf.tls_client_auth.cert_not_after", B),
    ("cf.tls_client_auth.cert_ski", B),
    ("cf.tls_client_auth.cert_issuer_ski", B),
    ("cf.tls_client_auth.cert_rfc9440", B),
    ("cf.tls_client_auth.cert_chain_rfc9440", B),
    ("cf.tls_client_auth.cert_rfc9440_too_large", Bo),
    ("cf.tls_client_auth.cert_chain_rfc9440_too_large", Bo),
    // §5.5 response (response phases only)
    ("http.response.code", I),
    ("http.response.headers", MAB),
    ("http.response.headers.names", AB),
    ("http.response.headers.values", AB),
    ("http.response.headers.truncated", Bo),
    ("http.response.content_type.media_type", B),
    ("raw.http.response.headers", MAB),
    ("raw.http.response.headers.names", AB),
    ("raw.http.response.headers.values", AB),
    ("cf.response.1xxx_code", I),
    ("cf.response.error_type", B),
    // JWT claims (API Shield)
    ("http.request.jwt.claims.aud", MAB),
    ("http.request.jwt.claims.aud.names", AB),
    ("http.request.jwt.claims.aud.values", AB),
    ("http.request.jwt.claims.iss", MAB),
    ("http.request.jwt.claims.iss.names", AB),
    ("http.request.jwt.claims.iss.values", AB),
    ("http.request.jwt.claims.jti", MAB),
    ("http.request.jwt.claims.jti.names", AB),
    ("http.request.jwt.claims.jti.values", AB),
    ("http.request.jwt.claims.sub", MAB),
    ("http.request.jwt.claims.sub.names", AB),
    ("http.request.jwt.claims.sub.values", AB),
    ("http.request.jwt.claims.exp.sec", MAI),
    ("http.request.jwt.claims.exp.sec.names", AB),
    ("http.request.jwt.claims.exp.sec.values", AI),
    ("http.request.jwt.claims.iat.sec", MAI),
    ("http.request.jwt.claims.iat.sec.names", AB),
    ("http.request.jwt.claims.iat.sec.values", AI),
    ("http.request.jwt.claims.nbf.sec", MAI),
    ("http.request.jwt.claims.nbf.sec.names", AB),
    ("http.request.jwt.claims.nbf.sec.values", AI),
    // Fields added from Cloudflare's field catalogue (src/rules/catalogue.tsv).
    ("cf.waf.signature.request.categories", AB),
    ("cf.waf.signature.request.confidence", AB),
    ("cf.waf.signature.request.refs", AB),
    ("cf.intel.ip.datasets", AB),
    ("cf.intel.ip.target_industries", AB),
    ("cf.intel.ip.attacker_names", AB),
    ("cf.intel.ip.attacker_countries", AB),
    ("cf.intel.ip.target_countries", AB),
    ("cf.sequence.current_op", B),
    ("cf.sequence.previous_ops", AB),
    ("cf.sequence.msec_since_op", MI),
    // Token configuration id → the JWT's claims as JSON (read with `lookup_json_string`).
    ("http.request.jwt.claims", MAB),
    // UNCERTAIN: the type (documented only as a name in field lists); Bool as its name says.
    ("cf.fraud_detection.disposable_email", Bo),
];

/// Fields only present in response phases; missing elsewhere.
pub(crate) fn is_response_field(name: &str) -> bool {
    name.starts_with("http.response.")
        || name.starts_with("raw.http.response.")
        || name.starts_with("cf.response.")
}

/// A field's index in [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u16);

impl FieldId {
    pub fn name(self) -> &'static str {
        FIELDS[self.0 as usize].0
    }

    pub fn ty(self) -> Type {
        FIELDS[self.0 as usize].1.ty()
    }

    #[inline]
    pub(crate) fn t(self) -> T {
        FIELDS[self.0 as usize].1
    }
}

/// Name lookups over the table, built once.
#[derive(Debug)]
pub(crate) struct Scheme {
    /// FxHash: a name is short, and looked up for every field set by name.
    by_name: rustc_hash::FxHashMap<&'static str, FieldId>,
}

impl Scheme {
    /// The Cloudflare HTTP scheme.
    pub(crate) fn http() -> &'static Scheme {
        static S: OnceLock<Scheme> = OnceLock::new();
        S.get_or_init(|| Scheme {
            by_name: FIELDS
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (*n, FieldId(i as u16)))
                .collect(),
        })
    }

    pub(crate) fn field(&self, name: &str) -> Option<FieldId> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> {
        FIELDS.iter().map(|(n, _)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_looked_up() {
        let s = Scheme::http();
        assert_eq!(s.by_name.len(), FIELDS.len(), "duplicate field names");
        assert!(FIELDS.len() >= 180, "{}", FIELDS.len());
        let id = s.field("http.request.uri.path").unwrap();
        assert_eq!(id.name(), "http.request.uri.path");
        assert_eq!(id.ty(), Type::Bytes);
        assert_eq!(
            s.field("http.request.headers").unwrap().ty().to_string(),
            "Map<Array<Bytes>>"
        );
        assert!(s.field("http.request.uri.pth").is_none());
    }
}

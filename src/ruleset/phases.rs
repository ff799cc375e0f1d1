//! Phases in execution order and which actions each allows (reference cloudflare-apis §3.3,
//! §3.4, §3.7). Data only, so it can follow the docs.

/// Request phases that execute, in order. UNCERTAIN: the internal, unnamed phases (Waiting
/// Room, Access, Managed Transforms) are not modelled; the API Shield phases are
/// configuration-only and do not execute at a position.
pub(crate) const REQUEST_PHASES: &[&str] = &[
    "http_request_sanitize",
    "http_request_dynamic_redirect",
    "http_request_transform",
    "http_config_settings",
    "http_request_origin",
    "ddos_l7",
    "http_request_firewall_custom",
    "http_ratelimit",
    "http_request_firewall_managed",
    "http_request_sbfm",
    "http_request_redirect",
    "http_request_late_transform",
    "http_request_cache_settings",
    "http_request_snippets",
    "http_request_cloud_connector",
];

/// Response phases, in order; they run only when a case gives an origin response.
pub(crate) const RESPONSE_PHASES: &[&str] = &[
    "http_custom_errors",
    "http_response_headers_transform",
    "http_response_cache_settings",
    "http_response_compression",
    "http_response_firewall_managed",
    "http_log_custom_fields",
];

/// Known phases that never execute in an HTTP trace (network layer, configuration only).
pub(crate) const OTHER_PHASES: &[&str] = &[
    "http_request_api_gateway_early",
    "http_request_api_gateway_late",
    "ddos_l4",
    "magic_transit",
    "magic_transit_managed",
    "magic_transit_ratelimit",
    "magic_transit_ids_managed",
];

pub(crate) fn is_known(phase: &str) -> bool {
    REQUEST_PHASES.contains(&phase)
        || RESPONSE_PHASES.contains(&phase)
        || OTHER_PHASES.contains(&phase)
}

pub(crate) fn all() -> impl Iterator<Item = &'static str> {
    REQUEST_PHASES
        .iter()
        .chain(RESPONSE_PHASES)
        .chain(OTHER_PHASES)
        .copied()
}

/// Products a `skip` may name (legacy security features).
pub(crate) const PRODUCTS: &[&str] = &[
    "zoneLockdown",
    "uaBlock",
    "bic",
    "hot",
    "securityLevel",
    "rateLimit",
    "waf",
];

/// Actions allowed in a phase; `None` when unrestricted here (managed rulesets' own rules).
pub(crate) fn allowed_actions(phase: &str) -> Option<&'static [&'static str]> {
    Some(match phase {
        "http_request_dynamic_redirect" | "http_request_redirect" => &["redirect"],
        "http_request_transform"
        | "http_request_late_transform"
        | "http_response_headers_transform" => &["rewrite"],
        "http_config_settings" => &["set_config"],
        "http_request_origin" => &["route"],
        "http_request_cache_settings" => &["set_cache_settings"],
        // UNCERTAIN: the provider's acceptance tests use set_cache_tags here.
        // The provider's acceptance fixtures use set_cache_settings here too (strip_etags, …).
        "http_response_cache_settings" => {
            &["set_cache_control", "set_cache_tags", "set_cache_settings"]
        }
        "http_response_compression" => &["compress_response"],
        "http_custom_errors" => &["serve_error"],
        "http_log_custom_fields" => &["log_custom_field"],
        "http_request_firewall_custom" => &[
            "block",
            "challenge",
            "js_challenge",
            "managed_challenge",
            "skip",
            "log",
            "execute",
            "rewrite",
            "score",
        ],
        "http_ratelimit" => &[
            "block",
            "challenge",
            "js_challenge",
            "managed_challenge",
            "log",
            "execute",
        ],
        "http_request_firewall_managed" => &[
            "execute",
            "skip",
            "block",
            "challenge",
            "js_challenge",
            "managed_challenge",
            "log",
        ],
        "http_request_sbfm" => &[
            "block",
            "challenge",
            "js_challenge",
            "managed_challenge",
            "log",
        ],
        "ddos_l7" => &[
            "execute",
            "block",
            "challenge",
            "log",
            "ddos_dynamic",
            "force_connection_close",
        ],
        "http_response_firewall_managed" => &["execute", "log"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every phase the Rulesets API accepts (the provider's schema, v5: `phase` "Available
    /// values") is known.
    #[test]
    fn every_rulesets_api_phase_is_known() {
        for p in [
            "ddos_l4",
            "ddos_l7",
            "http_config_settings",
            "http_custom_errors",
            "http_log_custom_fields",
            "http_ratelimit",
            "http_request_cache_settings",
            "http_request_dynamic_redirect",
            "http_request_firewall_custom",
            "http_request_firewall_managed",
            "http_request_late_transform",
            "http_request_origin",
            "http_request_redirect",
            "http_request_sanitize",
            "http_request_sbfm",
            "http_request_transform",
            "http_response_cache_settings",
            "http_response_compression",
            "http_response_firewall_managed",
            "http_response_headers_transform",
            "magic_transit",
            "magic_transit_ids_managed",
            "magic_transit_managed",
            "magic_transit_ratelimit",
        ] {
            assert!(is_known(p), "{p}");
        }
    }

    /// The provider's acceptance fixtures set cache settings in the response phase.
    #[test]
    fn cache_settings_are_allowed_where_the_provider_uses_them() {
        for phase in [
            "http_request_cache_settings",
            "http_response_cache_settings",
        ] {
            assert!(
                allowed_actions(phase).is_some_and(|a| a.contains(&"set_cache_settings")),
                "{phase}"
            );
        }
    }
}

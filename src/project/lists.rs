//! List files: the Lists API's list object with its items, checked and turned into the
//! engine's [`List`]s.

use super::files::FileCtx;
use serde_json::Value;

use crate::rules::parse_ip_item;
use crate::rules::{IpSet, List, RedirectItem};
use crate::ruleset::model::{ListFile, ListItem};

/// The list kinds rulegate reads.
pub(crate) const LIST_KINDS: &[&str] = &["ip", "hostname", "asn", "redirect"];

/// The engine's list for `l`, or `None` (with diagnostics) when it is invalid or not a kind
/// expressions can use.
pub(super) fn list_contents(l: &ListFile, c: &mut FileCtx) -> Option<List> {
    let name_ok = !l.name.is_empty()
        && l.name.len() <= 50
        && l.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        let at = c.find(&l.name, 0).unwrap_or(0);
        c.error(
            at,
            l.name.len(),
            format!("list name `{}` is not valid", l.name),
        )
        .hint = Some("list names are lower-case letters, digits and _ (at most 50)".into());
        return None;
    }
    let before = c.diags.len();
    let list = match l.kind.as_str() {
        "ip" => {
            let mut s = IpSet::new();
            for item in &l.items {
                let Some(text) = &item.ip else {
                    c.error(0, 1, format!("an item of ip list `{}` has no `ip`", l.name));
                    continue;
                };
                match parse_ip_item(text) {
                    Some((a, p)) => s.add_cidr(a, p),
                    None => {
                        let at = c.find(text, 0).unwrap_or(0);
                        c.error(
                            at,
                            text.len(),
                            format!("`{text}` is not an IP address or CIDR"),
                        )
                        .hint = Some("e.g. 192.0.2.1, 192.0.2.0/24, 2001:db8::/64".into());
                    }
                }
            }
            List::Ip(s.finish())
        }
        "hostname" => List::hostnames(
            l.items
                .iter()
                .filter_map(|i| i.hostname.as_ref().map(|h| h.url_hostname.clone())),
        ),
        "asn" => List::asns(l.items.iter().filter_map(|i| i.asn)),
        "redirect" => List::Redirect(
            l.items
                .iter()
                .filter_map(|item| redirect_item(&l.name, item, c))
                .collect(),
        ),
        other => {
            let at = c.find(other, 0).unwrap_or(0);
            c.error(at, other.len(), format!("unknown list kind `{other}`"))
                .hint = Some(format!("use {}", LIST_KINDS.join(", ")));
            return None;
        }
    };
    (c.diags.len() == before).then_some(list)
}

/// One Bulk Redirects item: `{"redirect": {"source_url", "target_url", "status_code",
/// "include_subdomains", "subpath_matching", "preserve_query_string", "preserve_path_suffix"}}`.
fn redirect_item(list: &str, item: &ListItem, c: &mut FileCtx) -> Option<RedirectItem> {
    let Some(r) = item.redirect.as_ref().and_then(Value::as_object) else {
        c.error(0, 1, format!("an item of redirect list `{list}` has no `redirect` object"))
            .hint = Some("{\"redirect\": {\"source_url\": \"example.com/old\", \"target_url\": \"https://example.com/new\"}}".into());
        return None;
    };
    let text = |k: &str| r.get(k).and_then(Value::as_str).map(String::from);
    let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (Some(source_url), Some(target_url)) = (text("source_url"), text("target_url")) else {
        c.error(
            0,
            1,
            format!("an item of redirect list `{list}` needs `source_url` and `target_url`"),
        );
        return None;
    };
    let status_code = r.get("status_code").and_then(Value::as_i64).unwrap_or(301);
    if ![301, 302, 307, 308].contains(&status_code) {
        let at = c.find(&source_url, 0).unwrap_or(0);
        c.error(
            at,
            source_url.len(),
            format!("redirect status_code {status_code} is not one of 301, 302, 307, 308"),
        );
        return None;
    }
    if source_url.contains('?') {
        let at = c.find(&source_url, 0).unwrap_or(0);
        c.error(
            at,
            source_url.len(),
            format!("source_url `{source_url}` has a query string"),
        )
        .hint = Some(
            "Bulk Redirects match without the query string; use preserve_query_string to keep it"
                .into(),
        );
        return None;
    }
    Some(RedirectItem {
        source_url,
        target_url,
        status_code,
        include_subdomains: flag("include_subdomains"),
        subpath_matching: flag("subpath_matching"),
        preserve_query_string: flag("preserve_query_string"),
        preserve_path_suffix: flag("preserve_path_suffix"),
    })
}

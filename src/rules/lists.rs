//! Lists for `in $name`: IP lists (addresses and CIDRs), hostname lists (exact names and
//! `*.` wildcards) and ASN lists. Supplied by the caller by name; managed lists (`$cf.*`) are
//! known names whose contents the caller may supply.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::types::Type;

/// The managed IP lists Cloudflare publishes (reference cloudflare-apis §5).
pub(super) const MANAGED_LISTS: &[&str] = &[
    "cf.open_proxies",
    "cf.anonymizer",
    "cf.vpn",
    "cf.malware",
    "cf.botnetcc",
];

/// Sorted, merged inclusive ranges per family; membership by binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSet {
    pub fn new() -> Self {
        IpSet::default()
    }

    /// Adds the inclusive range `a..=b` (same family; reversed bounds are ignored).
    pub fn add_range(&mut self, a: IpAddr, b: IpAddr) {
        match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) if u32::from(a) <= u32::from(b) => {
                self.v4.push((a.into(), b.into()));
            }
            (IpAddr::V6(a), IpAddr::V6(b)) if u128::from(a) <= u128::from(b) => {
                self.v6.push((a.into(), b.into()));
            }
            _ => {}
        }
    }

    /// Adds `addr/prefix` (the prefix must fit the family).
    pub fn add_cidr(&mut self, addr: IpAddr, prefix: u8) {
        let (lo, hi) = cidr_bounds(addr, prefix);
        self.add_range(lo, hi);
    }

    /// Sorts and merges; call after adding.
    pub fn finish(mut self) -> Self {
        merge(&mut self.v4);
        merge(&mut self.v6);
        self
    }

    /// The lowest address in the set (IPv4 first), for an example request.
    pub fn first(&self) -> Option<IpAddr> {
        self.v4
            .first()
            .map(|r| IpAddr::from(std::net::Ipv4Addr::from(r.0)))
            .or_else(|| {
                self.v6
                    .first()
                    .map(|r| IpAddr::from(std::net::Ipv6Addr::from(r.0)))
            })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(*a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(*a)),
        }
    }
}

/// First and last address of `addr/prefix`.
pub(super) fn cidr_bounds(addr: IpAddr, prefix: u8) -> (IpAddr, IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix.min(32))
            };
            (
                IpAddr::V4((bits & mask).into()),
                IpAddr::V4((bits | !mask).into()),
            )
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix.min(128))
            };
            (
                IpAddr::V6((bits & mask).into()),
                IpAddr::V6((bits | !mask).into()),
            )
        }
    }
}

fn merge<T: Ord + Copy + num_like::Succ>(v: &mut Vec<(T, T)>) {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for &(a, b) in v.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1.succ_or_max() => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *v = out;
}

fn find<T: Ord + Copy>(v: &[(T, T)], x: T) -> bool {
    let i = v.partition_point(|r| r.1 < x);
    i < v.len() && v[i].0 <= x
}

mod num_like {
    pub(super) trait Succ {
        fn succ_or_max(self) -> Self;
    }
    impl Succ for u32 {
        fn succ_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
    impl Succ for u128 {
        fn succ_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
    impl Succ for i64 {
        fn succ_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
}

/// Sorted, merged inclusive integer ranges.
pub(super) fn int_ranges(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    merge(&mut v);
    v
}

pub(super) fn int_ranges_contain(v: &[(i64, i64)], x: i64) -> bool {
    find(v, x)
}

/// A list's contents by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum List {
    Ip(IpSet),
    /// Lower-cased exact names, and lower-cased suffixes (with the leading dot) of `*.` items.
    Hostname {
        exact: Vec<Vec<u8>>,
        suffixes: Vec<Vec<u8>>,
    },
    /// Sorted ASNs.
    Asn(Vec<i64>),
    /// Bulk Redirects: source URLs with their targets, in list order.
    Redirect(Vec<RedirectItem>),
}

/// One item of a redirect list (Bulk Redirects), with its documented options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectItem {
    /// The source URL as written: `[scheme://]host[/path]`, no query string.
    pub source_url: String,
    pub target_url: String,
    /// 301 unless given (301, 302, 307 or 308).
    pub status_code: i64,
    pub include_subdomains: bool,
    pub subpath_matching: bool,
    pub preserve_query_string: bool,
    pub preserve_path_suffix: bool,
}

/// A URL split into what Bulk Redirects compares: the scheme (if written), the host (lower
/// case), the path and the query.
struct UrlParts<'a> {
    scheme: Option<&'a str>,
    host: String,
    path: &'a str,
    query: Option<&'a str>,
}

fn url_parts(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    UrlParts {
        scheme,
        host: host.to_ascii_lowercase(),
        path,
        query,
    }
}

impl RedirectItem {
    /// Whether `url` (a full URI) matches this item's source: the scheme when the source
    /// names one, the host (ASCII case-insensitive; subdomains too with `include_subdomains`),
    /// and the path exactly (or below it with `subpath_matching`). The query is not compared.
    /// UNCERTAIN: path case sensitivity and trailing-slash handling on the live edge.
    pub fn matches<'u>(&self, url: &'u str) -> Option<&'u str> {
        let src = url_parts(&self.source_url);
        let req = url_parts(url);
        if let Some(s) = src.scheme
            && req.scheme.is_some_and(|r| !r.eq_ignore_ascii_case(s))
        {
            return None;
        }
        let host_ok = req.host == src.host
            || (self.include_subdomains
                && req.host.len() > src.host.len()
                && req.host.ends_with(&src.host)
                && req.host.as_bytes()[req.host.len() - src.host.len() - 1] == b'.');
        if !host_ok {
            return None;
        }
        let src_path = if src.path.is_empty() { "/" } else { src.path };
        let req_path = if req.path.is_empty() { "/" } else { req.path };
        if req_path == src_path {
            return Some("");
        }
        if self.subpath_matching {
            let base = src_path.trim_end_matches('/');
            if let Some(rest) = req_path.strip_prefix(base)
                && (rest.starts_with('/') || base.is_empty())
            {
                return Some(rest);
            }
        }
        None
    }

    /// Where a request for `url` goes: the target, with the path suffix below the source and
    /// the request's query string appended when the options say so.
    pub fn target_for(&self, url: &str) -> Option<String> {
        let suffix = self.matches(url)?;
        let mut out = self.target_url.clone();
        if self.preserve_path_suffix && self.subpath_matching && !suffix.is_empty() {
            let base = out.trim_end_matches('/').len();
            out.truncate(base);
            out.push_str(suffix);
        }
        if self.preserve_query_string
            && let Some(q) = url_parts(url).query
            && !q.is_empty()
        {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(q);
        }
        Some(out)
    }
}

impl List {
    pub fn kind(&self) -> &'static str {
        match self {
            List::Ip(_) => "ip",
            List::Hostname { .. } => "hostname",
            List::Asn(_) => "asn",
            List::Redirect(_) => "redirect",
        }
    }

    /// The value type this list can be compared with.
    pub fn value_type(&self) -> Type {
        match self {
            List::Ip(_) => Type::Ip,
            List::Hostname { .. } | List::Redirect(_) => Type::Bytes,
            List::Asn(_) => Type::Int,
        }
    }

    pub fn hostnames<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> List {
        let mut exact = Vec::new();
        let mut suffixes = Vec::new();
        for h in items {
            let h = h.as_ref().to_ascii_lowercase();
            match h.strip_prefix('*') {
                Some(rest) if rest.starts_with('.') => suffixes.push(rest.as_bytes().to_vec()),
                _ => exact.push(h.into_bytes()),
            }
        }
        exact.sort();
        List::Hostname { exact, suffixes }
    }

    pub fn asns<I: IntoIterator<Item = i64>>(items: I) -> List {
        let mut v: Vec<i64> = items.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        List::Asn(v)
    }

    pub fn contains_ip(&self, ip: &IpAddr) -> bool {
        matches!(self, List::Ip(s) if s.contains(ip))
    }

    pub fn contains_int(&self, x: i64) -> bool {
        matches!(self, List::Asn(v) if v.binary_search(&x).is_ok())
    }

    /// The first item of a redirect list whose source matches `url`.
    pub fn redirect_for(&self, url: &[u8]) -> Option<&RedirectItem> {
        let List::Redirect(items) = self else {
            return None;
        };
        let url = std::str::from_utf8(url).ok()?;
        items.iter().find(|i| i.matches(url).is_some())
    }

    /// Membership of a Bytes value: a hostname list's names (ignoring ASCII case;
    /// `*.example.com` matches any subdomain), or a redirect list's source URLs.
    pub fn contains_host(&self, h: &[u8]) -> bool {
        if let List::Redirect(_) = self {
            return self.redirect_for(h).is_some();
        }
        let List::Hostname { exact, suffixes } = self else {
            return false;
        };
        let lower = h.to_ascii_lowercase();
        exact.binary_search(&lower).is_ok()
            || suffixes
                .iter()
                .any(|s| lower.len() > s.len() && lower.ends_with(s))
    }
}

/// Lists by name, as the caller supplies them.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    by_name: HashMap<String, Arc<List>>,
    /// Every name resolves (see [`Lists::open`]).
    open: bool,
}

impl Lists {
    pub fn new() -> Self {
        Lists::default()
    }

    /// Lists where every name resolves, to an empty list of the type its comparison needs:
    /// for reading which lists an expression uses before they exist ([`super::lists_used`]).
    pub(crate) fn open() -> Self {
        Lists {
            open: true,
            ..Lists::default()
        }
    }

    /// An empty list of the type `ty` for a name an [`Lists::open`] set does not hold.
    pub(crate) fn open_list(&self, ty: &super::Type) -> Option<Arc<List>> {
        self.open.then(|| {
            Arc::new(match ty {
                super::Type::Int => List::asns([]),
                super::Type::Bytes => List::hostnames::<[&str; 0], &str>([]),
                _ => List::Ip(IpSet::new()),
            })
        })
    }

    pub fn insert(&mut self, name: impl Into<String>, list: List) {
        self.by_name.insert(name.into(), Arc::new(list));
    }

    /// A list by name; the managed `cf.*` IP lists exist (empty) unless supplied.
    pub fn get(&self, name: &str) -> Option<Arc<List>> {
        if let Some(l) = self.by_name.get(name) {
            return Some(l.clone());
        }
        MANAGED_LISTS
            .contains(&name)
            .then(|| Arc::new(List::Ip(IpSet::new())))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name
            .keys()
            .map(String::as_str)
            .chain(MANAGED_LISTS.iter().copied())
    }
}

/// An ip list item: an address or a CIDR, as (address, prefix length).
pub(crate) fn parse_ip_item(text: &str) -> Option<(IpAddr, u8)> {
    match text.split_once('/') {
        Some((a, p)) => {
            let a: IpAddr = a.parse().ok()?;
            let p: u8 = p.parse().ok()?;
            (p <= if a.is_ipv4() { 32 } else { 128 }).then_some((a, p))
        }
        None => {
            let a: IpAddr = text.parse().ok()?;
            Some((a, if a.is_ipv4() { 32 } else { 128 }))
        }
    }
}

/// Whether one list item (`kind` ip, hostname or asn; `item` as written) holds `v`: which
/// item of a list a membership test matched, for an explanation.
pub(crate) fn item_holds(kind: &str, item: &str, v: &super::Value) -> bool {
    match (kind, v) {
        ("ip", super::Value::Ip(ip)) => parse_ip_item(item).is_some_and(|(a, p)| {
            let mut s = IpSet::new();
            s.add_cidr(a, p);
            s.finish().contains(ip)
        }),
        ("asn", super::Value::Int(n)) => item.parse::<i64>().ok() == Some(*n),
        ("hostname", super::Value::Bytes(b)) => List::hostnames([item]).contains_host(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_item_holds_a_value_of_its_kind() {
        use super::super::Value;
        let ip = |s: &str| Value::Ip(s.parse().unwrap());
        assert!(item_holds("ip", "192.0.2.0/24", &ip("192.0.2.44")));
        assert!(!item_holds("ip", "192.0.2.0/24", &ip("192.0.3.1")));
        assert!(item_holds("ip", "2001:db8::1", &ip("2001:db8::1")));
        assert!(item_holds("asn", "64501", &Value::Int(64501)));
        assert!(!item_holds("asn", "64501", &Value::Int(64500)));
        assert!(item_holds(
            "hostname",
            "*.example.com",
            &Value::bytes("A.Example.com")
        ));
        assert!(!item_holds(
            "hostname",
            "shop.example",
            &Value::bytes("example")
        ));
        // A value of another type, an item that does not parse: no match, no panic.
        assert!(!item_holds("ip", "not an ip", &ip("192.0.2.1")));
        assert!(!item_holds("asn", "64501", &Value::bytes("64501")));
    }

    #[test]
    fn ip_sets_merge_and_find() {
        let mut s = IpSet::new();
        s.add_cidr("10.0.0.0".parse().unwrap(), 8);
        s.add_range("192.0.2.5".parse().unwrap(), "192.0.2.9".parse().unwrap());
        s.add_cidr("2001:db8::".parse().unwrap(), 32);
        let s = s.finish();
        for (ip, want) in [
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("192.0.2.9", true),
            ("192.0.2.10", false),
            ("2001:db8::1", true),
            ("::ffff:10.0.0.1", false),
        ] {
            assert_eq!(s.contains(&ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn hostnames() {
        let l = List::hostnames(["Example.com", "*.shop.example"]);
        assert!(l.contains_host(b"example.COM"));
        assert!(l.contains_host(b"a.shop.example"));
        assert!(!l.contains_host(b"shop.example"));
    }

    #[test]
    fn int_ranges_merge() {
        let r = int_ranges(vec![(5, 9), (1, 3), (4, 4), (20, 30)]);
        assert_eq!(r, vec![(1, 9), (20, 30)]);
        assert!(int_ranges_contain(&r, 9) && !int_ranges_contain(&r, 10));
    }
}

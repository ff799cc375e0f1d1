//! The functions' implementations: each takes its evaluated arguments and gives a value, or
//! a missing value when a required input is missing.

use super::F;
use crate::rules::types::Value;
use crate::rules::wildcard::Pattern;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Literal arguments compiled once: a regex or a wildcard pattern.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    None,
    Regex(regex::bytes::Regex),
    Wildcard(Pattern, bool),
}

type Arg<'a> = Option<Cow<'a, Value>>;

fn bytes<'a>(a: &'a Arg<'_>) -> Option<&'a [u8]> {
    match a.as_deref()? {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn int(a: &Arg<'_>) -> Option<i64> {
    match a.as_deref()? {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// Calls `f`. A missing required input gives a missing result (except `concat`).
pub(crate) fn call(f: F, args: &[Arg<'_>], prep: &Prepared) -> Option<Value> {
    let b = |i: usize| args.get(i).and_then(bytes);
    let n = |i: usize| args.get(i).and_then(int);
    Some(match f {
        F::Concat => return concat(args),
        F::Len => match args.first()?.as_deref()? {
            Value::Bytes(v) => Value::Int(v.len() as i64),
            Value::Array(v) => Value::Int(v.len() as i64),
            _ => return None,
        },
        F::Lower => Value::Bytes(b(0)?.to_ascii_lowercase()),
        F::Upper => Value::Bytes(b(0)?.to_ascii_uppercase()),
        F::StartsWith => Value::Bool(b(0)?.starts_with(b(1)?)),
        F::EndsWith => Value::Bool(b(0)?.ends_with(b(1)?)),
        F::Substring => {
            let s = b(0)?;
            let len = s.len() as i64;
            let fix = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
            let start = fix(n(1)?);
            let end = if args.len() > 2 { fix(n(2)?) } else { len };
            Value::Bytes(if start < end {
                s[start as usize..end as usize].to_vec()
            } else {
                Vec::new()
            })
        }
        F::UrlDecode => {
            let opts = if args.len() > 1 { b(1)? } else { b"" };
            Value::Bytes(url_decode(
                b(0)?,
                opts.contains(&b'r'),
                opts.contains(&b'u'),
            ))
        }
        F::LookupJsonString => match lookup_json(b(0)?, &args[1..])? {
            serde_json::Value::String(s) => Value::Bytes(s.into_bytes()),
            _ => return None,
        },
        F::LookupJsonInteger => match lookup_json(b(0)?, &args[1..])? {
            serde_json::Value::Number(num) => Value::Int(num.as_i64()?),
            _ => return None,
        },
        F::RemoveBytes => {
            let drop = b(1)?;
            Value::Bytes(
                b(0)?
                    .iter()
                    .copied()
                    .filter(|c| !drop.contains(c))
                    .collect(),
            )
        }
        F::DecodeBase64 => Value::Bytes(decode_base64(b(0)?)?),
        F::EncodeBase64 => {
            let flags = if args.len() > 1 { b(1)? } else { b"" };
            let url = flags.contains(&b'u');
            let pad = flags.contains(&b'p');
            use base64::engine::general_purpose as g;
            let text = match (url, pad) {
                (false, false) => g::STANDARD_NO_PAD.encode(b(0)?),
                (false, true) => g::STANDARD.encode(b(0)?),
                (true, false) => g::URL_SAFE_NO_PAD.encode(b(0)?),
                (true, true) => g::URL_SAFE.encode(b(0)?),
            };
            Value::Bytes(text.into_bytes())
        }
        F::Sha256 => Value::Bytes(Sha256::digest(b(0)?).to_vec()),
        F::Cidr | F::Cidr6 => {
            let Value::Ip(ip) = args.first()?.as_deref()? else {
                return None;
            };
            let (v4, v6) = if f == F::Cidr {
                (n(1)?, n(2)?)
            } else {
                (32, n(1)?)
            };
            let bits = if ip.is_ipv4() { v4 } else { v6 };
            Value::Ip(crate::rules::lists::cidr_bounds(*ip, bits as u8).0)
        }
        F::Join => {
            let Value::Array(items) = args.first()?.as_deref()? else {
                return None;
            };
            let sep = b(1)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(sep);
                }
                out.extend_from_slice(item.as_bytes()?);
            }
            Value::Bytes(out)
        }
        F::Split => {
            let (s, sep, limit) = (b(0)?, b(1)?, n(2)?.max(1) as usize);
            let mut parts = Vec::new();
            let mut rest = s;
            while parts.len() + 1 < limit {
                match memchr::memmem::find(rest, sep) {
                    Some(i) => {
                        parts.push(Value::Bytes(rest[..i].to_vec()));
                        rest = &rest[i + sep.len()..];
                    }
                    None => break,
                }
            }
            parts.push(Value::Bytes(rest.to_vec()));
            Value::Array(parts)
        }
        F::RegexReplace => {
            let Prepared::Regex(re) = prep else {
                return None;
            };
            Value::Bytes(regex_replace(re, b(0)?, b(2)?))
        }
        F::WildcardReplace => {
            let Prepared::Wildcard(p, ci) = prep else {
                return None;
            };
            let src = b(0)?;
            match p.captures(src, *ci) {
                Some(caps) => Value::Bytes(expand(b(2)?, |i| caps.get(i.wrapping_sub(1)).copied())),
                None => Value::Bytes(src.to_vec()),
            }
        }
        F::RemoveQueryArgs => {
            let names: Vec<&[u8]> = args[1..].iter().filter_map(bytes).collect();
            let kept: Vec<&[u8]> = b(0)?
                .split(|c| *c == b'&')
                .filter(|kv| {
                    let name = kv.split(|c| *c == b'=').next().unwrap_or(kv);
                    !names.contains(&name)
                })
                .collect();
            Value::Bytes(kept.join(&b'&'))
        }
        F::ToString => Value::Bytes(match args.first()?.as_deref()? {
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Bool(v) => v.to_string().into_bytes(),
            Value::Ip(ip) => ip.to_string().into_bytes(),
            _ => return None,
        }),
        F::Uuidv4 => Value::Bytes(uuidv4(b(0)?).into_bytes()),
        F::IsTimedHmacValidV0 => {
            let sep = if args.len() > 4 { n(4)? } else { 0 };
            let flags = if args.len() > 5 { b(5)? } else { b"" };
            Value::Bool(hmac_valid(
                b(0)?,
                b(1)?,
                n(2)?,
                n(3)?,
                sep,
                flags.contains(&b's'),
            ))
        }
        F::HasKey => match args.first()?.as_deref()? {
            Value::Map(m) => Value::Bool(m.contains_key(b(1)?)),
            _ => return None,
        },
        F::HasValue => match args.first()?.as_deref()? {
            Value::Array(a) => Value::Bool(
                a.iter()
                    .any(|v| v.as_bytes() == Some(b(1).unwrap_or_default())),
            ),
            _ => return None,
        },
    })
}

fn concat(args: &[Arg<'_>]) -> Option<Value> {
    let present: Vec<&Value> = args.iter().filter_map(|a| a.as_deref()).collect();
    match present.first()? {
        Value::Bytes(_) => Some(Value::Bytes(
            present
                .iter()
                .filter_map(|v| v.as_bytes())
                .flatten()
                .copied()
                .collect(),
        )),
        Value::Array(_) => Some(Value::Array(
            present
                .iter()
                .filter_map(|v| match v {
                    Value::Array(a) => Some(a.iter().cloned()),
                    _ => None,
                })
                .flatten()
                .collect(),
        )),
        _ => None,
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `%XX` and `+` decoding; `u` also decodes `%uXXXX` to UTF-8; `r` repeats until stable.
pub(crate) fn url_decode(s: &[u8], recursive: bool, unicode: bool) -> Vec<u8> {
    let mut cur = decode_once(s, unicode);
    if recursive {
        for _ in 0..16 {
            let next = decode_once(&cur, unicode);
            if next == cur {
                break;
            }
            cur = next;
        }
    }
    cur
}

fn decode_once(s: &[u8], unicode: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if unicode && matches!(s.get(i + 1), Some(b'u' | b'U')) && i + 6 <= s.len() => {
                let code = s[i + 2..i + 6]
                    .iter()
                    .try_fold(0u32, |acc, c| Some(acc * 16 + hex(*c)? as u32));
                match code.and_then(char::from_u32) {
                    Some(ch) => {
                        let mut buf = [0; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += 6;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'%' => {
                match (
                    s.get(i + 1).copied().and_then(hex),
                    s.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn lookup_json(doc: &[u8], keys: &[Arg<'_>]) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(doc).ok()?;
    for k in keys {
        v = match (k.as_deref()?, v) {
            (Value::Bytes(name), serde_json::Value::Object(mut o)) => {
                o.remove(std::str::from_utf8(name).ok()?)?
            }
            (Value::Int(i), serde_json::Value::Array(mut a)) => {
                let i = usize::try_from(*i).ok()?;
                if i >= a.len() {
                    return None;
                }
                a.swap_remove(i)
            }
            _ => return None,
        };
    }
    Some(v)
}

fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::general_purpose as g;
    let t: Vec<u8> = s
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    g::STANDARD
        .decode(&t)
        .or_else(|_| g::STANDARD_NO_PAD.decode(&t))
        .or_else(|_| g::URL_SAFE.decode(&t))
        .or_else(|_| g::URL_SAFE_NO_PAD.decode(&t))
        .ok()
}

/// Expands `${N}` (1–9) and `$$` in a replacement; other text is copied.
pub(crate) fn expand<'v>(rep: &[u8], group: impl Fn(usize) -> Option<&'v [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(rep.len());
    let mut i = 0;
    while i < rep.len() {
        if rep[i] == b'$' {
            if rep.get(i + 1) == Some(&b'$') {
                out.push(b'$');
                i += 2;
                continue;
            }
            if rep.get(i + 1) == Some(&b'{')
                && let Some(end) = rep[i + 2..].iter().position(|c| *c == b'}')
                && let Ok(n) = std::str::from_utf8(&rep[i + 2..i + 2 + end])
                    .unwrap_or("x")
                    .parse::<usize>()
            {
                out.extend_from_slice(group(n).unwrap_or_default());
                i += 3 + end;
                continue;
            }
        }
        out.push(rep[i]);
        i += 1;
    }
    out
}

/// The `${N}` references in a replacement, or an error for a malformed one.
pub(crate) fn replacement_refs(rep: &[u8]) -> Result<Vec<usize>, &'static str> {
    let mut refs = Vec::new();
    let mut i = 0;
    while i < rep.len() {
        if rep[i] == b'$' {
            match rep.get(i + 1) {
                Some(b'$') => {
                    i += 2;
                    continue;
                }
                Some(b'{') => {
                    let end = rep[i + 2..]
                        .iter()
                        .position(|c| *c == b'}')
                        .ok_or("`${` without `}` in the replacement")?;
                    let n = std::str::from_utf8(&rep[i + 2..i + 2 + end])
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|n| (1..=8).contains(n))
                        .ok_or("replacement references are ${1} to ${8}")?;
                    refs.push(n);
                    i += 3 + end;
                    continue;
                }
                _ => {
                    return Err("a lone `$` in the replacement: write `$$` for a dollar sign");
                }
            }
        }
        i += 1;
    }
    Ok(refs)
}

fn regex_replace(re: &regex::bytes::Regex, src: &[u8], rep: &[u8]) -> Vec<u8> {
    match re.captures(src) {
        None => src.to_vec(),
        Some(c) => {
            let m = c.get(0).expect("group 0");
            let mut out = src[..m.start()].to_vec();
            out.extend(expand(rep, |i| c.get(i).map(|g| g.as_bytes())));
            out.extend_from_slice(&src[m.end()..]);
            out
        }
    }
}

/// A version-4 UUID from the first 16 bytes of `seed` (zero-padded), so the result is
/// reproducible for a given `cf.random_seed`.
fn uuidv4(seed: &[u8]) -> String {
    let mut b = [0u8; 16];
    for (i, c) in seed.iter().take(16).enumerate() {
        b[i] = *c;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `message<sep><10-digit timestamp>-<base64 MAC>`; the MAC is HMAC-SHA256(key, message ‖
/// timestamp). UNCERTAIN (reference §4.2): the exact MAC input and expiry comparison.
fn hmac_valid(key: &[u8], mm: &[u8], ttl: i64, now: i64, sep_len: i64, url_safe: bool) -> bool {
    let Some(dash) = mm.iter().rposition(|c| *c == b'-') else {
        return false;
    };
    if dash < 10 || mm.len() - dash - 1 < 43 {
        return false;
    }
    let ts_bytes = &mm[dash - 10..dash];
    if !ts_bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(msg_end) = (dash - 10).checked_sub(sep_len.max(0) as usize) else {
        return false;
    };
    if msg_end == 0 {
        return false;
    }
    let ts: i64 = std::str::from_utf8(ts_bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MAX);
    let mac_text = &mm[dash + 1..];
    use base64::engine::general_purpose as g;
    let mac = if url_safe {
        g::URL_SAFE_NO_PAD.decode(mac_text).ok()
    } else {
        g::STANDARD.decode(url_decode(mac_text, false, false)).ok()
    };
    let Some(mac) = mac else { return false };
    let mut input = mm[..msg_end].to_vec();
    input.extend_from_slice(ts_bytes);
    mac == hmac_sha256(key, &input) && now.saturating_sub(ts) <= ttl
}

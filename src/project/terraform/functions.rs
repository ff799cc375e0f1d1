//! Terraform's built-in functions for the HCL route, with Terraform's documented semantics
//! (each tested against the examples of Terraform's function reference): string, collection,
//! encoding, numeric and type-conversion functions. Not here: the impure and filesystem ones
//! (`file`, `templatefile`, `timestamp`, `uuid`), provider-defined functions, and `try`/`can`,
//! which need lazily evaluated arguments that hcl-rs's evaluator does not offer; a call to one
//! is an "undefined function" error that names the plan route. Every result is bounded by
//! [`MAX_VALUE_UNITS`], like the values of locals.

use base64::Engine as _;
use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use serde_json::Value as J;

use super::hcl::MAX_VALUE_UNITS;

pub(super) fn to_json(v: &Value) -> J {
    serde_json::to_value(v).unwrap_or(J::Null)
}

/// A value as Terraform's string conversion gives it (`tostring`, interpolation).
pub(super) fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => to_json(other).to_string(),
    }
}

fn too_big(what: &str, n: usize) -> Result<(), String> {
    if n > MAX_VALUE_UNITS {
        Err(format!(
            "{what} would make {n} elements or bytes, more than the {MAX_VALUE_UNITS} rulegate evaluates"
        ))
    } else {
        Ok(())
    }
}

fn list<'v>(v: &'v Value, f: &str) -> Result<&'v Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{f}: expected a list, got {}", to_json(v)))
}

fn map<'v>(v: &'v Value, f: &str) -> Result<&'v hcl::Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{f}: expected a map or object, got {}", to_json(v)))
}

fn string(v: &Value, f: &str) -> Result<String, String> {
    match v {
        Value::String(x) => Ok(x.clone()),
        Value::Bool(_) | Value::Number(_) => Ok(s(v)),
        other => Err(format!("{f}: expected a string, got {}", to_json(other))),
    }
}

fn number(v: &Value, f: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{f}: not a number")),
        Value::String(x) => x
            .trim()
            .parse()
            .map_err(|_| format!("{f}: `{x}` is not a number")),
        other => Err(format!("{f}: expected a number, got {}", to_json(other))),
    }
}

fn int(v: &Value, f: &str) -> Result<i64, String> {
    let n = number(v, f)?;
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(format!("{f}: {n} is not a whole number"));
    }
    #[expect(clippy::cast_possible_truncation, reason = "checked whole and finite")]
    Ok(n as i64)
}

fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        #[expect(clippy::cast_possible_truncation, reason = "checked whole and small")]
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

// ---- strings -------------------------------------------------------------------------------

fn f_join(a: FuncArgs) -> Result<Value, String> {
    let sep = string(&a[0], "join")?;
    let mut parts = Vec::new();
    for l in a.iter().skip(1) {
        for x in list(l, "join")? {
            parts.push(string(x, "join")?);
        }
    }
    too_big(
        "join",
        parts.iter().map(String::len).sum::<usize>() + sep.len() * parts.len(),
    )?;
    Ok(Value::from(parts.join(&sep)))
}

/// Terraform's `format` over `args` (the verbs `%s`, `%d`, `%v`, `%q` and `%%`).
fn format_values(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut args = args.iter();
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'd' | 'v') => out.push_str(&args.next().map(s).unwrap_or_default()),
            Some('q') => out.push_str(
                &serde_json::to_string(&args.next().map(s).unwrap_or_default()).unwrap_or_default(),
            ),
            Some(other) => return Err(format!("format verb %{other} is not supported")),
            None => out.push('%'),
        }
        too_big("format", out.len())?;
    }
    Ok(out)
}

fn f_format(a: FuncArgs) -> Result<Value, String> {
    let rest: Vec<Value> = a.iter().skip(1).cloned().collect();
    format_values(&string(&a[0], "format")?, &rest).map(Value::from)
}

fn f_formatlist(a: FuncArgs) -> Result<Value, String> {
    let fmt = string(&a[0], "formatlist")?;
    let lists: Vec<&Vec<Value>> = a.iter().skip(1).filter_map(Value::as_array).collect();
    let n = lists.iter().map(|l| l.len()).max().unwrap_or(1);
    too_big("formatlist", n)?;
    let mut out = Vec::new();
    for i in 0..n {
        let mut args = Vec::new();
        for x in a.iter().skip(1) {
            args.push(match x.as_array() {
                Some(l) => l
                    .get(i)
                    .cloned()
                    .ok_or("formatlist: lists of different lengths")?,
                None => x.clone(),
            });
        }
        out.push(Value::from(format_values(&fmt, &args)?));
    }
    Ok(Value::Array(out))
}

fn f_lower(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(string(&a[0], "lower")?.to_lowercase()))
}

fn f_upper(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(string(&a[0], "upper")?.to_uppercase()))
}

fn f_title(a: FuncArgs) -> Result<Value, String> {
    let text = string(&a[0], "title")?;
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::from(out))
}

fn f_replace(a: FuncArgs) -> Result<Value, String> {
    let (text, from, to) = (
        string(&a[0], "replace")?,
        string(&a[1], "replace")?,
        string(&a[2], "replace")?,
    );
    // `/…/` is a regular expression, as Terraform's replace has it.
    if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
        let re = regex::Regex::new(&from[1..from.len() - 1])
            .map_err(|e| format!("replace: invalid regex: {e}"))?;
        let out = re
            .replace_all(&text, to.replace("$", "$$").as_str())
            .into_owned();
        too_big("replace", out.len())?;
        return Ok(Value::from(out));
    }
    if from.is_empty() {
        return Ok(Value::from(text));
    }
    too_big(
        "replace",
        text.len() + to.len().saturating_sub(from.len()) * text.matches(from.as_str()).count(),
    )?;
    Ok(Value::from(text.replace(&from, &to)))
}

fn f_trimspace(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(string(&a[0], "trimspace")?.trim().to_string()))
}

fn f_trim(a: FuncArgs) -> Result<Value, String> {
    let cut: Vec<char> = string(&a[1], "trim")?.chars().collect();
    Ok(Value::from(
        string(&a[0], "trim")?
            .trim_matches(|c| cut.contains(&c))
            .to_string(),
    ))
}

fn f_trimprefix(a: FuncArgs) -> Result<Value, String> {
    let (t, p) = (string(&a[0], "trimprefix")?, string(&a[1], "trimprefix")?);
    Ok(Value::from(t.strip_prefix(&p).unwrap_or(&t).to_string()))
}

fn f_trimsuffix(a: FuncArgs) -> Result<Value, String> {
    let (t, p) = (string(&a[0], "trimsuffix")?, string(&a[1], "trimsuffix")?);
    Ok(Value::from(t.strip_suffix(&p).unwrap_or(&t).to_string()))
}

fn f_chomp(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        string(&a[0], "chomp")?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    ))
}

fn f_startswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        string(&a[0], "startswith")?.starts_with(&string(&a[1], "startswith")?),
    ))
}

fn f_endswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        string(&a[0], "endswith")?.ends_with(&string(&a[1], "endswith")?),
    ))
}

fn f_strrev(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        string(&a[0], "strrev")?.chars().rev().collect::<String>(),
    ))
}

fn f_substr(a: FuncArgs) -> Result<Value, String> {
    let text: Vec<char> = string(&a[0], "substr")?.chars().collect();
    let len = i64::try_from(text.len()).unwrap_or(i64::MAX);
    let mut off = int(&a[1], "substr")?;
    if off < 0 {
        off += len;
    }
    let off = off.clamp(0, len);
    let want = int(&a[2], "substr")?;
    let end = if want < 0 { len } else { (off + want).min(len) };
    let (off, end) = (
        usize::try_from(off).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(Value::from(
        text.get(off..end.max(off))
            .unwrap_or_default()
            .iter()
            .collect::<String>(),
    ))
}

fn f_split(a: FuncArgs) -> Result<Value, String> {
    let (sep, text) = (string(&a[0], "split")?, string(&a[1], "split")?);
    if sep.is_empty() {
        return Ok(Value::Array(
            text.chars().map(|c| Value::from(c.to_string())).collect(),
        ));
    }
    Ok(Value::Array(
        text.split(sep.as_str()).map(Value::from).collect(),
    ))
}

fn f_regex(a: FuncArgs) -> Result<Value, String> {
    let (pattern, text) = (string(&a[0], "regex")?, string(&a[1], "regex")?);
    let re = regex::Regex::new(&pattern).map_err(|e| format!("regex: invalid pattern: {e}"))?;
    let caps = re
        .captures(&text)
        .ok_or_else(|| format!("regex: no match for `{pattern}`"))?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    if names.iter().all(Option::is_some) {
        let mut o = hcl::Map::new();
        for n in names.into_iter().flatten() {
            o.insert(
                n.to_string(),
                caps.name(n)
                    .map_or(Value::Null, |m| Value::from(m.as_str())),
            );
        }
        return Ok(Value::Object(o));
    }
    Ok(Value::Array(
        (1..caps.len())
            .map(|i| caps.get(i).map_or(Value::Null, |m| Value::from(m.as_str())))
            .collect(),
    ))
}

// ---- collections ---------------------------------------------------------------------------

fn f_concat(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for l in a.iter() {
        out.extend(list(l, "concat")?.iter().cloned());
        too_big("concat", out.len())?;
    }
    Ok(Value::Array(out))
}

fn f_length(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(match &a[0] {
        Value::Array(x) => x.len(),
        Value::Object(o) => o.len(),
        Value::String(x) => x.chars().count(),
        _ => return Err("length takes a list, map or string".into()),
    }))
}

fn f_tolist(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(list(&a[0], "tolist")?.clone()))
}

/// A set as Terraform orders one of strings: sorted, without duplicates (other elements keep
/// their first occurrence's order).
fn set_of(items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    if out.iter().all(|v| matches!(v, Value::String(_))) {
        out.sort_by_key(s);
    }
    out
}

fn f_toset(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(set_of(list(&a[0], "toset")?)))
}

fn f_tomap(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Object(map(&a[0], "tomap")?.clone()))
}

fn f_tostring(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Null => Ok(Value::Null),
        v @ (Value::String(_) | Value::Bool(_) | Value::Number(_)) => Ok(Value::from(s(v))),
        other => Err(format!(
            "tostring: cannot convert {} to a string",
            to_json(other)
        )),
    }
}

fn f_tonumber(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Null => Ok(Value::Null),
        v => Ok(num(number(v, "tonumber")?)),
    }
}

fn f_tobool(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Null => Ok(Value::Null),
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(x) if x == "true" || x == "false" => Ok(Value::Bool(x == "true")),
        other => Err(format!(
            "tobool: cannot convert {} to a bool",
            to_json(other)
        )),
    }
}

fn f_lookup(a: FuncArgs) -> Result<Value, String> {
    let m = map(&a[0], "lookup")?;
    let key = string(&a[1], "lookup")?;
    match (m.get(&key), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("lookup: no key `{key}` and no default")),
    }
}

fn f_merge(a: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for m in a.iter() {
        if m.is_null() {
            continue;
        }
        for (k, v) in map(m, "merge")? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn f_keys(a: FuncArgs) -> Result<Value, String> {
    let mut k: Vec<String> = map(&a[0], "keys")?.keys().cloned().collect();
    k.sort();
    Ok(Value::Array(k.into_iter().map(Value::from).collect()))
}

fn f_values(a: FuncArgs) -> Result<Value, String> {
    let m = map(&a[0], "values")?;
    let mut k: Vec<&String> = m.keys().collect();
    k.sort();
    Ok(Value::Array(k.into_iter().map(|k| m[k].clone()).collect()))
}

fn f_coalesce(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !v.is_null() && !matches!(v, Value::String(x) if x.is_empty()))
        .cloned()
        .ok_or_else(|| "coalesce: no non-null, non-empty argument".to_string())
}

fn f_coalescelist(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| v.as_array().is_some_and(|l| !l.is_empty()))
        .cloned()
        .ok_or_else(|| "coalescelist: no non-empty list".to_string())
}

fn f_flatten(a: FuncArgs) -> Result<Value, String> {
    fn walk(v: &Value, out: &mut Vec<Value>) -> Result<(), String> {
        match v {
            Value::Array(l) => {
                for x in l {
                    walk(x, out)?;
                }
            }
            other => out.push(other.clone()),
        }
        too_big("flatten", out.len())
    }
    let mut out = Vec::new();
    for x in list(&a[0], "flatten")? {
        walk(x, &mut out)?;
    }
    Ok(Value::Array(out))
}

fn f_element(a: FuncArgs) -> Result<Value, String> {
    let l = list(&a[0], "element")?;
    if l.is_empty() {
        return Err("element: the list is empty".into());
    }
    let i = int(&a[1], "element")?;
    let n = i64::try_from(l.len()).unwrap_or(i64::MAX);
    if i < 0 {
        return Err("element: the index is negative".into());
    }
    Ok(l[usize::try_from(i % n).unwrap_or(0)].clone())
}

fn f_compact(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        list(&a[0], "compact")?
            .iter()
            .filter(|v| !v.is_null() && !matches!(v, Value::String(x) if x.is_empty()))
            .cloned()
            .collect(),
    ))
}

fn f_distinct(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in list(&a[0], "distinct")? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

fn f_sort(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<String> = list(&a[0], "sort")?
        .iter()
        .map(|v| string(v, "sort"))
        .collect::<Result<_, _>>()?;
    out.sort();
    Ok(Value::Array(out.into_iter().map(Value::from).collect()))
}

fn f_reverse(a: FuncArgs) -> Result<Value, String> {
    let mut out = list(&a[0], "reverse")?.clone();
    out.reverse();
    Ok(Value::Array(out))
}

fn f_one(a: FuncArgs) -> Result<Value, String> {
    let l = list(&a[0], "one")?;
    match l.len() {
        0 => Ok(Value::Null),
        1 => Ok(l[0].clone()),
        n => Err(format!("one: the list has {n} elements, not one or none")),
    }
}

fn f_contains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(list(&a[0], "contains")?.contains(&a[1])))
}

fn f_index(a: FuncArgs) -> Result<Value, String> {
    list(&a[0], "index")?
        .iter()
        .position(|v| *v == a[1])
        .map(Value::from)
        .ok_or_else(|| "index: the value is not in the list".to_string())
}

fn f_slice(a: FuncArgs) -> Result<Value, String> {
    let l = list(&a[0], "slice")?;
    let (from, to) = (int(&a[1], "slice")?, int(&a[2], "slice")?);
    let n = i64::try_from(l.len()).unwrap_or(i64::MAX);
    if from < 0 || to > n || from > to {
        return Err(format!("slice: {from}..{to} is out of 0..{n}"));
    }
    let (from, to) = (
        usize::try_from(from).unwrap_or(0),
        usize::try_from(to).unwrap_or(0),
    );
    Ok(Value::Array(l[from..to].to_vec()))
}

fn f_range(a: FuncArgs) -> Result<Value, String> {
    let args: Vec<f64> = a
        .iter()
        .map(|v| number(v, "range"))
        .collect::<Result<_, _>>()?;
    let (start, limit, step) = match args.as_slice() {
        [l] => (0.0, *l, 1.0),
        [s, l] => (*s, *l, if l >= s { 1.0 } else { -1.0 }),
        [s, l, st] => (*s, *l, *st),
        _ => return Err("range takes one to three numbers".into()),
    };
    if step == 0.0 {
        return Err("range: the step may not be zero".into());
    }
    let count = ((limit - start) / step).ceil().max(0.0);
    if count > MAX_VALUE_UNITS as f64 {
        return Err(format!("range would make {count} elements"));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "bounded above"
    )]
    let count = count as usize;
    #[expect(clippy::cast_precision_loss, reason = "bounded count")]
    Ok(Value::Array(
        (0..count).map(|i| num(start + step * i as f64)).collect(),
    ))
}

fn f_zipmap(a: FuncArgs) -> Result<Value, String> {
    let (k, v) = (list(&a[0], "zipmap")?, list(&a[1], "zipmap")?);
    if k.len() != v.len() {
        return Err("zipmap: the lists differ in length".into());
    }
    let mut out = hcl::Map::new();
    for (k, v) in k.iter().zip(v) {
        out.insert(string(k, "zipmap")?, v.clone());
    }
    Ok(Value::Object(out))
}

fn f_setproduct(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for l in a.iter() {
        let l = list(l, "setproduct")?;
        too_big("setproduct", out.len().saturating_mul(l.len()))?;
        out = out
            .into_iter()
            .flat_map(|prefix| {
                l.iter().map(move |x| {
                    let mut p = prefix.clone();
                    p.push(x.clone());
                    p
                })
            })
            .collect();
    }
    Ok(Value::Array(out.into_iter().map(Value::Array).collect()))
}

fn f_identity(a: FuncArgs) -> Result<Value, String> {
    Ok(a[0].clone())
}

// ---- numbers -------------------------------------------------------------------------------

fn f_abs(a: FuncArgs) -> Result<Value, String> {
    Ok(num(number(&a[0], "abs")?.abs()))
}

fn f_max(a: FuncArgs) -> Result<Value, String> {
    let mut best: Option<f64> = None;
    for v in a.iter() {
        let n = number(v, "max")?;
        best = Some(best.map_or(n, |b| b.max(n)));
    }
    best.map(num).ok_or_else(|| "max needs a number".into())
}

fn f_min(a: FuncArgs) -> Result<Value, String> {
    let mut best: Option<f64> = None;
    for v in a.iter() {
        let n = number(v, "min")?;
        best = Some(best.map_or(n, |b| b.min(n)));
    }
    best.map(num).ok_or_else(|| "min needs a number".into())
}

fn f_floor(a: FuncArgs) -> Result<Value, String> {
    Ok(num(number(&a[0], "floor")?.floor()))
}

fn f_ceil(a: FuncArgs) -> Result<Value, String> {
    Ok(num(number(&a[0], "ceil")?.ceil()))
}

// ---- encoding ------------------------------------------------------------------------------

fn f_jsonencode(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(to_json(&a[0]).to_string()))
}

fn f_jsondecode(a: FuncArgs) -> Result<Value, String> {
    let text = string(&a[0], "jsondecode")?;
    let j: J = serde_json::from_str(&text).map_err(|e| format!("jsondecode: {e}"))?;
    hcl::to_value(&j).map_err(|e| format!("jsondecode: {e}"))
}

fn f_base64encode(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(string(&a[0], "base64encode")?),
    ))
}

fn f_base64decode(a: FuncArgs) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(string(&a[0], "base64decode")?)
        .map_err(|e| format!("base64decode: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::from)
        .map_err(|_| "base64decode: the result is not UTF-8".to_string())
}

fn f_urlencode(a: FuncArgs) -> Result<Value, String> {
    let text = string(&a[0], "urlencode")?;
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(Value::from(out))
}

fn f_sha256(a: FuncArgs) -> Result<Value, String> {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(string(&a[0], "sha256")?.as_bytes());
    Ok(Value::from(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ))
}

/// The evaluation context with every function above declared.
pub(super) fn context_with_functions<'a>() -> Context<'a> {
    type F = fn(FuncArgs) -> Result<Value, String>;
    let mut ctx = Context::new();
    // (name, fixed parameters, optional trailing ones, variadic, body)
    let table: &[(&str, usize, bool, F)] = &[
        ("join", 1, true, f_join),
        ("format", 1, true, f_format),
        ("formatlist", 1, true, f_formatlist),
        ("lower", 1, false, f_lower),
        ("upper", 1, false, f_upper),
        ("title", 1, false, f_title),
        ("replace", 3, false, f_replace),
        ("trimspace", 1, false, f_trimspace),
        ("trim", 2, false, f_trim),
        ("trimprefix", 2, false, f_trimprefix),
        ("trimsuffix", 2, false, f_trimsuffix),
        ("chomp", 1, false, f_chomp),
        ("startswith", 2, false, f_startswith),
        ("endswith", 2, false, f_endswith),
        ("strrev", 1, false, f_strrev),
        ("substr", 3, false, f_substr),
        ("split", 2, false, f_split),
        ("regex", 2, false, f_regex),
        ("concat", 0, true, f_concat),
        ("length", 1, false, f_length),
        ("tolist", 1, false, f_tolist),
        ("toset", 1, false, f_toset),
        ("tomap", 1, false, f_tomap),
        ("tostring", 1, false, f_tostring),
        ("tonumber", 1, false, f_tonumber),
        ("tobool", 1, false, f_tobool),
        ("lookup", 2, true, f_lookup),
        ("merge", 0, true, f_merge),
        ("keys", 1, false, f_keys),
        ("values", 1, false, f_values),
        ("coalesce", 0, true, f_coalesce),
        ("coalescelist", 0, true, f_coalescelist),
        ("flatten", 1, false, f_flatten),
        ("element", 2, false, f_element),
        ("compact", 1, false, f_compact),
        ("distinct", 1, false, f_distinct),
        ("sort", 1, false, f_sort),
        ("reverse", 1, false, f_reverse),
        ("one", 1, false, f_one),
        ("contains", 2, false, f_contains),
        ("index", 2, false, f_index),
        ("slice", 3, false, f_slice),
        ("range", 1, true, f_range),
        ("zipmap", 2, false, f_zipmap),
        ("setproduct", 0, true, f_setproduct),
        ("sensitive", 1, false, f_identity),
        ("nonsensitive", 1, false, f_identity),
        ("abs", 1, false, f_abs),
        ("max", 0, true, f_max),
        ("min", 0, true, f_min),
        ("floor", 1, false, f_floor),
        ("ceil", 1, false, f_ceil),
        ("jsonencode", 1, false, f_jsonencode),
        ("jsondecode", 1, false, f_jsondecode),
        ("base64encode", 1, false, f_base64encode),
        ("base64decode", 1, false, f_base64decode),
        ("urlencode", 1, false, f_urlencode),
        ("sha256", 1, false, f_sha256),
    ];
    for &(name, fixed, variadic, body) in table {
        let mut b = FuncDef::builder();
        for _ in 0..fixed {
            b = b.param(ParamType::Any);
        }
        if variadic {
            b = b.variadic_param(ParamType::Any);
        }
        ctx.declare_func(name, b.build(body));
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `expr` (HCL) with the functions declared.
    fn eval(expr: &str) -> Result<J, String> {
        use hcl::eval::Evaluate as _;
        let body = hcl::parse(&format!("v = {expr}")).map_err(|e| e.to_string())?;
        let a = body.attributes().next().ok_or("no attribute")?;
        a.expr
            .evaluate(&context_with_functions())
            .map(|v| to_json(&v))
            .map_err(|e| e.to_string())
    }

    /// The examples of Terraform's function reference.
    #[test]
    fn terraform_documented_examples() {
        let cases: &[(&str, J)] = &[
            (r#"lookup({a="ay", b="bee"}, "a", "what?")"#, "ay".into()),
            (r#"lookup({a="ay", b="bee"}, "c", "what?")"#, "what?".into()),
            (
                r#"merge({a="b", c="d"}, {e="f", c="z"})"#,
                serde_json::json!({"a": "b", "c": "z", "e": "f"}),
            ),
            (r#"coalesce("", "b")"#, "b".into()),
            (r#"coalesce(1, 2)"#, 1.into()),
            (
                r#"coalescelist([], ["c", "d"])"#,
                serde_json::json!(["c", "d"]),
            ),
            (
                r#"flatten([["a", "b"], [], ["c"]])"#,
                serde_json::json!(["a", "b", "c"]),
            ),
            (
                r#"flatten([[["a", "b"], []], ["c"]])"#,
                serde_json::json!(["a", "b", "c"]),
            ),
            (
                r#"keys({a=1, c=2, d=3})"#,
                serde_json::json!(["a", "c", "d"]),
            ),
            (r#"values({a=3, c=2, d=1})"#, serde_json::json!([3, 2, 1])),
            (
                r#"split(",", "foo,bar,baz")"#,
                serde_json::json!(["foo", "bar", "baz"]),
            ),
            (r#"split(",", "foo")"#, serde_json::json!(["foo"])),
            (r#"split(",", "")"#, serde_json::json!([""])),
            (r#"tostring(1)"#, "1".into()),
            (r#"tostring(true)"#, "true".into()),
            (r#"tonumber("1")"#, 1.into()),
            (r#"tobool("true")"#, true.into()),
            (r#"element(["a", "b", "c"], 1)"#, "b".into()),
            (r#"element(["a", "b", "c"], 3)"#, "a".into()),
            (
                r#"compact(["a", "", "b", null, "c"])"#,
                serde_json::json!(["a", "b", "c"]),
            ),
            (
                r#"distinct(["a", "b", "a", "c", "d", "b"])"#,
                serde_json::json!(["a", "b", "c", "d"]),
            ),
            (
                r#"sort(["e", "d", "a", "x"])"#,
                serde_json::json!(["a", "d", "e", "x"]),
            ),
            (r#"one([])"#, J::Null),
            (r#"one(["hello"])"#, "hello".into()),
            (r#"trimprefix("helloworld", "hello")"#, "world".into()),
            (r#"trimsuffix("helloworld", "world")"#, "hello".into()),
            (r#"trim("?!hello?!", "!?")"#, "hello".into()),
            (r#"substr("hello world", 1, 4)"#, "ello".into()),
            (r#"substr("hello world", -5, -1)"#, "world".into()),
            (r#"title("hello world")"#, "Hello World".into()),
            (r#"chomp("hello\n")"#, "hello".into()),
            (r#"contains(["a", "b", "c"], "a")"#, true.into()),
            (r#"contains(["a", "b", "c"], "d")"#, false.into()),
            (r#"startswith("hello world", "hello")"#, true.into()),
            (r#"endswith("hello world", "world")"#, true.into()),
            (r#"index(["a", "b", "c"], "b")"#, 1.into()),
            (r#"range(3)"#, serde_json::json!([0, 1, 2])),
            (r#"range(1, 4)"#, serde_json::json!([1, 2, 3])),
            (r#"range(1, 8, 2)"#, serde_json::json!([1, 3, 5, 7])),
            (r#"range(4, 1)"#, serde_json::json!([4, 3, 2])),
            (
                r#"zipmap(["a", "b"], [1, 2])"#,
                serde_json::json!({"a": 1, "b": 2}),
            ),
            (
                r#"jsondecode("{\"hello\": \"world\"}")"#,
                serde_json::json!({"hello": "world"}),
            ),
            (r#"abs(-12.4)"#, 12.4.into()),
            (r#"max(12, 54, 3)"#, 54.into()),
            (r#"min(12, 54, 3)"#, 3.into()),
            (r#"base64encode("Hello World")"#, "SGVsbG8gV29ybGQ=".into()),
            (r#"base64decode("SGVsbG8gV29ybGQ=")"#, "Hello World".into()),
            (r#"urlencode("Hello World!")"#, "Hello%20World%21".into()),
            (
                r#"sha256("hello world")"#,
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9".into(),
            ),
            (r#"replace("1 + 2 + 3", "+", "-")"#, "1 - 2 - 3".into()),
            (
                r#"replace("hello world", "/w.*d/", "everybody")"#,
                "hello everybody".into(),
            ),
            (
                r#"regex("[a-z]+", "53453453.345345aaabbbccc23454")"#,
                "aaabbbccc".into(),
            ),
            (
                r#"regex("^(?:(?P<scheme>[^:/?#]+):)?", "https://x")"#,
                serde_json::json!({"scheme": "https"}),
            ),
            (
                r#"formatlist("Hello, %s!", ["Valentina", "Ander"])"#,
                serde_json::json!(["Hello, Valentina!", "Hello, Ander!"]),
            ),
            (r#"format("Hello, %s!", "Ander")"#, "Hello, Ander!".into()),
            (
                r#"setproduct(["a", "b"], ["x"])"#,
                serde_json::json!([["a", "x"], ["b", "x"]]),
            ),
            (r#"toset(["c", "b", "b"])"#, serde_json::json!(["b", "c"])),
            (
                r#"slice(["a", "b", "c", "d"], 1, 3)"#,
                serde_json::json!(["b", "c"]),
            ),
            (r#"reverse([1, 2, 3])"#, serde_json::json!([3, 2, 1])),
            (r#"strrev("hello")"#, "olleh".into()),
            (r#"sensitive("x")"#, "x".into()),
            (
                r#"join(", ", ["foo", "bar", "baz"])"#,
                "foo, bar, baz".into(),
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(eval(expr).as_ref(), Ok(want), "{expr}");
        }
    }

    #[test]
    fn errors_are_errors_not_guesses() {
        for expr in [
            r#"lookup({a = 1}, "b")"#,
            r#"one(["a", "b"])"#,
            r#"element([], 0)"#,
            r#"index(["a"], "b")"#,
            r#"range(0, 10000000)"#,
            r#"tobool("yes")"#,
            r#"regex("x", "y")"#,
        ] {
            assert!(eval(expr).is_err(), "{expr}");
        }
    }
}

//! ModSecurity's transformations (`t:`), byte for byte as ModSecurity v2 documents them: the
//! ones CRS's request rules use, and their close relatives.

/// One transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Transform {
    Lowercase,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    CmdLine,
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    ReplaceNulls,
    NormalizePath,
    NormalizePathWin,
    Utf8ToUnicode,
    Base64Decode,
    Base64DecodeExt,
    HexDecode,
    HexEncode,
    Length,
    Sha1,
    Trim,
    TrimLeft,
    TrimRight,
    RemoveComments,
    RemoveCommentsChar,
    ReplaceComments,
    EscapeSeqDecode,
    SqlHexDecode,
}

impl Transform {
    /// The transformation named `name` (case-insensitive), `None` for `none` (which resets the
    /// list) — `Err` when unknown.
    pub(crate) fn parse(name: &str) -> Result<Option<Transform>, ()> {
        use Transform::*;
        Ok(Some(match name.to_ascii_lowercase().as_str() {
            "none" => return Ok(None),
            "lowercase" => Lowercase,
            "uppercase" => Uppercase,
            "urldecode" => UrlDecode,
            "urldecodeuni" => UrlDecodeUni,
            "htmlentitydecode" => HtmlEntityDecode,
            "jsdecode" => JsDecode,
            "cssdecode" => CssDecode,
            "cmdline" => CmdLine,
            "compresswhitespace" => CompressWhitespace,
            "removewhitespace" => RemoveWhitespace,
            "removenulls" => RemoveNulls,
            "replacenulls" => ReplaceNulls,
            "normalisepath" | "normalizepath" => NormalizePath,
            "normalisepathwin" | "normalizepathwin" => NormalizePathWin,
            "utf8tounicode" => Utf8ToUnicode,
            "base64decode" => Base64Decode,
            "base64decodeext" => Base64DecodeExt,
            "hexdecode" => HexDecode,
            "hexencode" => HexEncode,
            "length" => Length,
            "sha1" => Sha1,
            "trim" => Trim,
            "trimleft" => TrimLeft,
            "trimright" => TrimRight,
            "removecomments" => RemoveComments,
            "removecommentschar" => RemoveCommentsChar,
            "replacecomments" => ReplaceComments,
            "escapeseqdecode" => EscapeSeqDecode,
            "sqlhexdecode" => SqlHexDecode,
            _ => return Err(()),
        }))
    }

    /// `input` transformed.
    pub(crate) fn apply(self, input: &[u8]) -> Vec<u8> {
        use Transform::*;
        match self {
            Lowercase => input.to_ascii_lowercase(),
            Uppercase => input.to_ascii_uppercase(),
            UrlDecode => url_decode(input, false),
            UrlDecodeUni => url_decode(input, true),
            HtmlEntityDecode => html_entity_decode(input),
            JsDecode => js_decode(input),
            CssDecode => css_decode(input),
            CmdLine => cmd_line(input),
            CompressWhitespace => compress_whitespace(input),
            RemoveWhitespace => input
                .iter()
                .copied()
                .filter(|b| !is_space(*b) && *b != 0xa0)
                .collect(),
            RemoveNulls => input.iter().copied().filter(|b| *b != 0).collect(),
            ReplaceNulls => input
                .iter()
                .map(|b| if *b == 0 { b' ' } else { *b })
                .collect(),
            NormalizePath => normalize_path(input, false),
            NormalizePathWin => normalize_path(input, true),
            Utf8ToUnicode => utf8_to_unicode(input),
            Base64Decode => base64_decode(input, false),
            Base64DecodeExt => base64_decode(input, true),
            HexDecode => hex_decode(input),
            HexEncode => {
                let mut s = Vec::with_capacity(input.len() * 2);
                for b in input {
                    s.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                s
            }
            Length => input.len().to_string().into_bytes(),
            Sha1 => sha1_smol::Sha1::from(input).digest().bytes().to_vec(),
            Trim => trim_left(trim_right(input)).to_vec(),
            TrimLeft => trim_left(input).to_vec(),
            TrimRight => trim_right(input).to_vec(),
            RemoveComments => comments(input, false),
            ReplaceComments => comments(input, true),
            RemoveCommentsChar => remove_comment_chars(input),
            EscapeSeqDecode => escape_seq_decode(input),
            SqlHexDecode => sql_hex_decode(input),
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex2(a: u8, b: u8) -> Option<u8> {
    Some(hex(a)? << 4 | hex(b)?)
}

/// A `%uHHHH` or `\uHHHH` code point as one byte: its low byte, with the full-width ASCII
/// forms (U+FF01–U+FF5E) mapped to ASCII, as ModSecurity does without a unicode map.
fn unicode_byte(h: &[u8]) -> u8 {
    let v = h
        .iter()
        .fold(0u32, |acc, b| acc << 4 | u32::from(hex(*b).unwrap_or(0)));
    if (0xff01..=0xff5e).contains(&v) {
        (v - 0xff00 + 0x20) as u8
    } else {
        (v & 0xff) as u8
    }
}

fn url_decode(input: &[u8], uni: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'%' {
            if uni
                && i + 5 < input.len()
                && (input[i + 1] | 0x20) == b'u'
                && input[i + 2..i + 6].iter().all(|b| hex(*b).is_some())
            {
                out.push(unicode_byte(&input[i + 2..i + 6]));
                i += 6;
                continue;
            }
            if i + 2 < input.len()
                && let Some(v) = hex2(input[i + 1], input[i + 2])
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(c);
        } else if c == b'+' {
            out.push(b' ');
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn html_entity_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'&' && i + 1 < input.len() {
            let rest = &input[i + 1..];
            if rest[0] == b'#' {
                let (digits, base, skip) = if rest.len() > 1 && (rest[1] | 0x20) == b'x' {
                    let n = rest[2..]
                        .iter()
                        .take_while(|b| b.is_ascii_hexdigit())
                        .count();
                    (&rest[2..2 + n], 16, 2)
                } else {
                    let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                    (&rest[1..1 + n], 10, 1)
                };
                if !digits.is_empty() {
                    let text = std::str::from_utf8(digits).unwrap_or("0");
                    let v = u32::from_str_radix(text, base).unwrap_or(u32::MAX);
                    out.push((v & 0xff) as u8);
                    i += 1 + skip + digits.len();
                    if input.get(i) == Some(&b';') {
                        i += 1;
                    }
                    continue;
                }
            } else {
                let n = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
                let name = rest[..n].to_ascii_lowercase();
                let v = match name.as_slice() {
                    b"quot" => Some(b'"'),
                    b"amp" => Some(b'&'),
                    b"lt" => Some(b'<'),
                    b"gt" => Some(b'>'),
                    b"nbsp" => Some(0xa0),
                    _ => None,
                };
                if let Some(v) = v {
                    out.push(v);
                    i += 1 + n;
                    if input.get(i) == Some(&b';') {
                        i += 1;
                    }
                    continue;
                }
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn js_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let n = input[i + 1];
        if (n == b'u' || n == b'U')
            && i + 5 < input.len()
            && input[i + 2..i + 6].iter().all(|b| hex(*b).is_some())
        {
            out.push(unicode_byte(&input[i + 2..i + 6]));
            i += 6;
        } else if (n == b'x' || n == b'X')
            && i + 3 < input.len()
            && let Some(v) = hex2(input[i + 2], input[i + 3])
        {
            out.push(v);
            i += 4;
        } else if (b'0'..=b'7').contains(&n) {
            let mut v: u32 = 0;
            let mut j = i + 1;
            while j < input.len() && j < i + 4 && (b'0'..=b'7').contains(&input[j]) {
                v = v * 8 + u32::from(input[j] - b'0');
                j += 1;
            }
            out.push((v & 0xff) as u8);
            i = j;
        } else {
            out.push(match n {
                b'a' => 7,
                b'b' => 8,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                other => other,
            });
            i += 2;
        }
    }
    out
}

fn css_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if i + 1 >= input.len() {
            // A lone backslash at the end is dropped.
            i += 1;
            continue;
        }
        let n = input[i + 1..]
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if n > 0 {
            let digits = &input[i + 1..i + 1 + n];
            let v = digits
                .iter()
                .fold(0u32, |acc, b| acc << 4 | u32::from(hex(*b).unwrap_or(0)));
            let byte = if (0xff01..=0xff5e).contains(&v) {
                (v - 0xff00 + 0x20) as u8
            } else {
                (v & 0xff) as u8
            };
            out.push(byte);
            i += 1 + n;
            if i < input.len() && is_space(input[i]) {
                i += 1;
            }
        } else if input[i + 1] == b'\n' {
            i += 2;
        } else {
            out.push(input[i + 1]);
            i += 2;
        }
    }
    out
}

fn cmd_line(input: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let mut space = false;
    for &c in input {
        match c {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(c);
            }
            _ => {
                space = false;
                out.push(c.to_ascii_lowercase());
            }
        }
    }
    out
}

fn compress_whitespace(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut space = false;
    for &c in input {
        if is_space(c) || c == 0xa0 {
            if !space {
                out.push(b' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

fn normalize_path(input: &[u8], win: bool) -> Vec<u8> {
    let p: Vec<u8> = if win {
        input
            .iter()
            .map(|b| if *b == b'\\' { b'/' } else { *b })
            .collect()
    } else {
        input.to_vec()
    };
    let absolute = p.first() == Some(&b'/');
    let trailing = p.last() == Some(&b'/') || p.ends_with(b"/.") || p.ends_with(b"/..");
    let mut parts: Vec<&[u8]> = Vec::new();
    for seg in p.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|l| *l != b"..") {
                    parts.pop();
                } else if !absolute {
                    parts.push(seg);
                }
            }
            _ => parts.push(seg),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if trailing && !parts.is_empty() {
        out.push(b'/');
    }
    out
}

fn utf8_to_unicode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        let len = match b {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        if len > 0
            && i + len <= input.len()
            && let Ok(s) = std::str::from_utf8(&input[i..i + len])
            && let Some(c) = s.chars().next()
        {
            out.extend_from_slice(format!("%u{:04x}", u32::from(c)).as_bytes());
            i += len;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

fn base64_decode(input: &[u8], ext: bool) -> Vec<u8> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ if ext => continue,
            _ => break,
        };
        bits = bits << 6 | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n & 0xff) as u8);
        }
    }
    out
}

fn hex_decode(input: &[u8]) -> Vec<u8> {
    input
        .chunks(2)
        .filter_map(|c| (c.len() == 2).then(|| hex2(c[0], c[1])).flatten())
        .collect()
}

fn trim_left(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| is_space(**c)).count();
    &b[n..]
}

fn trim_right(b: &[u8]) -> &[u8] {
    let n = b.iter().rev().take_while(|c| is_space(**c)).count();
    &b[..b.len() - n]
}

/// `/* … */` comments (and `--`/`#` to the end, for removeComments) removed or replaced by a
/// space; an unterminated `/*` runs to the end.
fn comments(input: &[u8], replace: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i..].starts_with(b"/*") {
            match memchr::memmem::find(&input[i + 2..], b"*/") {
                Some(e) => i += 2 + e + 2,
                None => i = input.len(),
            }
            if replace {
                out.push(b' ');
            }
            continue;
        }
        if !replace && (input[i..].starts_with(b"--") || input[i] == b'#') {
            break;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn remove_comment_chars(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i..].starts_with(b"/*") || input[i..].starts_with(b"*/") {
            i += 2;
        } else if input[i..].starts_with(b"<!--") {
            i += 4;
        } else if input[i..].starts_with(b"-->") {
            i += 3;
        } else if input[i..].starts_with(b"--") {
            i += 2;
        } else if input[i] == b'#' {
            i += 1;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fn escape_seq_decode(input: &[u8]) -> Vec<u8> {
    // ANSI C escapes: the same set jsDecode reads, without \u.
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'\\' && i + 1 < input.len() && (input[i + 1] | 0x20) == b'u' {
            out.extend_from_slice(&input[i..i + 2]);
            i += 2;
            continue;
        }
        let end = (i + 4).min(input.len());
        if input[i] == b'\\' {
            let d = js_decode(&input[i..end]);
            // How many input bytes the first escape used: re-decode growing prefixes.
            let mut used = 2;
            for k in 2..=end - i {
                if js_decode(&input[i..i + k]).len() == 1 {
                    used = k;
                }
            }
            out.push(d[0]);
            i += used;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fn sql_hex_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'0'
            && i + 3 < input.len()
            && (input[i + 1] | 0x20) == b'x'
            && hex(input[i + 2]).is_some()
        {
            let mut j = i + 2;
            while j + 1 < input.len()
                && let Some(v) = hex2(input[j], input[j + 1])
            {
                out.push(v);
                j += 2;
            }
            i = j;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Transform::*;

    fn t(x: super::Transform, s: &str) -> String {
        String::from_utf8_lossy(&x.apply(s.as_bytes())).into_owned()
    }

    #[test]
    fn decoders_follow_modsecurity() {
        assert_eq!(t(UrlDecodeUni, "a%20b+c%u0041%uff0e%zz"), "a b cA.%zz");
        assert_eq!(t(UrlDecode, "%3Cscript%3"), "<script%3");
        assert_eq!(
            t(HtmlEntityDecode, "&lt;&#x41;&#66&quot;&foo;"),
            "<AB\"&foo;"
        );
        assert_eq!(t(JsDecode, "\\x41\\u0042\\103\\n\\q"), "ABC\nq");
        assert_eq!(t(CssDecode, "\\61 b\\\\"), "ab\\");
        assert_eq!(t(CmdLine, "C:\\\\Win\"d\"ows  /c ,ls;"), "c:windows/c ls ");
        assert_eq!(t(NormalizePath, "/a/./b/../../c//d/"), "/c/d/");
        assert_eq!(t(NormalizePathWin, "a\\..\\..\\b"), "../b");
        assert_eq!(t(Utf8ToUnicode, "aé"), "a%u00e9");
        assert_eq!(t(Base64Decode, "SGVsbG8="), "Hello");
        assert_eq!(t(ReplaceComments, "a/*x*/b/*c"), "a b ");
        assert_eq!(t(CompressWhitespace, "a \t\n b"), "a b");
        assert_eq!(t(Length, "abc"), "3");
        assert_eq!(t(HexEncode, "A"), "41");
    }
}

#[cfg(test)]
mod props {
    use super::Transform;
    use proptest::prelude::*;

    const ALL: &[&str] = &[
        "lowercase",
        "urlDecode",
        "urlDecodeUni",
        "htmlEntityDecode",
        "jsDecode",
        "cssDecode",
        "cmdLine",
        "compressWhitespace",
        "removeWhitespace",
        "removeNulls",
        "replaceNulls",
        "normalizePath",
        "normalizePathWin",
        "utf8toUnicode",
        "base64Decode",
        "base64DecodeExt",
        "hexDecode",
        "hexEncode",
        "length",
        "sha1",
        "trim",
        "removeComments",
        "removeCommentsChar",
        "replaceComments",
        "escapeSeqDecode",
        "sqlHexDecode",
    ];

    proptest! {
        /// Hostile request bytes never panic any transformation, and decoders never grow
        /// their input.
        #[test]
        fn transformations_take_any_bytes(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            for name in ALL {
                let t = Transform::parse(name).unwrap().unwrap();
                let out = t.apply(&input);
                if name.contains("ecode") && !name.contains("Encode") && *name != "utf8toUnicode" {
                    prop_assert!(out.len() <= input.len(), "{name} grew {input:?}");
                }
            }
        }

        /// Any body through every processor: an answer or an error, never a panic.
        #[test]
        fn body_processors_take_any_bytes(input in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = super::super::body::urlencoded(&input);
            let _ = super::super::body::multipart(&input, "X");
            let _ = super::super::body::json(&input);
            let _ = super::super::body::xml(&input);
        }
    }
}

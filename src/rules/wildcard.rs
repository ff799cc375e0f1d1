//! Wildcard patterns (`wildcard`, `strict wildcard`, `wildcard_replace`; reference §3.5).
//! `*` matches any run of bytes, `\*` and `\\` are literal, nothing else is special. Matching
//! is anchored at both ends and never backtracks: the first literal run must be a prefix, the
//! last a suffix, and the ones between are found leftmost, one after another. That greedy
//! leftmost placement is also the lazy-`*` capture `wildcard_replace` specifies.

use memchr::memmem;

/// A parsed pattern: literal segments between stars.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as written (after string-literal unescaping), for printing.
    pub src: Vec<u8>,
    /// Literal runs; `segments.len() == stars + 1`.
    pub segments: Vec<Vec<u8>>,
    /// ASCII-lower-cased segments for case-insensitive matching.
    lower: Vec<Vec<u8>>,
    finders: Vec<memmem::Finder<'static>>,
}

impl PartialEq for Pattern {
    fn eq(&self, o: &Self) -> bool {
        self.src == o.src
    }
}

/// Why a pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub offset: usize,
    pub message: &'static str,
}

impl Pattern {
    pub fn parse(src: &[u8]) -> Result<Pattern, PatternError> {
        let mut segments = vec![Vec::new()];
        let mut i = 0;
        let mut last_star = false;
        while i < src.len() {
            match src[i] {
                b'\\' => {
                    match src.get(i + 1) {
                        Some(b'*') => segments.last_mut().expect("non-empty").push(b'*'),
                        Some(b'\\') => segments.last_mut().expect("non-empty").push(b'\\'),
                        Some(_) => {
                            return Err(PatternError {
                                offset: i,
                                message: "only `\\*` and `\\\\` may be escaped in a wildcard pattern",
                            });
                        }
                        None => {
                            return Err(PatternError {
                                offset: i,
                                message: "a wildcard pattern cannot end with a lone `\\`",
                            });
                        }
                    }
                    i += 2;
                    last_star = false;
                    continue;
                }
                b'*' => {
                    if last_star {
                        return Err(PatternError {
                            offset: i,
                            message: "`**` is not allowed in a wildcard pattern",
                        });
                    }
                    segments.push(Vec::new());
                    last_star = true;
                }
                c => {
                    segments.last_mut().expect("non-empty").push(c);
                    last_star = false;
                }
            }
            i += 1;
        }
        let lower: Vec<Vec<u8>> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
        let finders = segments
            .iter()
            .map(|s| memmem::Finder::new(s).into_owned())
            .collect();
        Ok(Pattern {
            src: src.to_vec(),
            segments,
            lower,
            finders,
        })
    }

    pub fn stars(&self) -> usize {
        self.segments.len() - 1
    }

    /// Matches the whole of `v`; `case_insensitive` folds ASCII letters only.
    pub fn is_match(&self, v: &[u8], case_insensitive: bool) -> bool {
        self.place(v, case_insensitive, |_, _| {})
    }

    /// Where each star's capture lies in `v`, if the pattern matches.
    pub fn captures<'v>(&self, v: &'v [u8], case_insensitive: bool) -> Option<Vec<&'v [u8]>> {
        let spans = self.spans(v, case_insensitive)?;
        Some(spans.windows(2).map(|w| &v[w[0].1..w[1].0]).collect())
    }

    /// The (start, end) of each literal segment in `v` when the pattern matches.
    fn spans(&self, v: &[u8], ci: bool) -> Option<Vec<(usize, usize)>> {
        let mut out = Vec::with_capacity(self.segments.len());
        self.place(v, ci, |start, end| out.push((start, end)))
            .then_some(out)
    }

    /// Whether the pattern matches `v`, telling `at` where each literal segment lies, in order
    /// (a match test passes a no-op and allocates nothing).
    fn place(&self, v: &[u8], ci: bool, mut at: impl FnMut(usize, usize)) -> bool {
        let segs = if ci { &self.lower } else { &self.segments };
        let n = segs.len();
        let first = &segs[0];
        if !starts_with(v, first, ci) {
            return false;
        }
        if n == 1 {
            if v.len() != first.len() {
                return false;
            }
            at(0, v.len());
            return true;
        }
        let last = &segs[n - 1];
        if v.len() < first.len() + last.len() || !ends_with(v, last, ci) {
            return false;
        }
        at(0, first.len());
        let mut pos = first.len();
        let limit = v.len() - last.len();
        for (k, seg) in segs.iter().enumerate().take(n - 1).skip(1) {
            let hay = &v[pos..limit];
            let found = if ci {
                find_ci(hay, seg)
            } else {
                self.finders[k].find(hay)
            };
            let Some(found) = found else {
                return false;
            };
            at(pos + found, pos + found + seg.len());
            pos += found + seg.len();
        }
        at(limit, v.len());
        true
    }
}

fn starts_with(v: &[u8], p: &[u8], ci: bool) -> bool {
    v.len() >= p.len()
        && if ci {
            v[..p.len()].eq_ignore_ascii_case(p)
        } else {
            &v[..p.len()] == p
        }
}

fn ends_with(v: &[u8], p: &[u8], ci: bool) -> bool {
    v.len() >= p.len() && {
        let tail = &v[v.len() - p.len()..];
        if ci {
            tail.eq_ignore_ascii_case(p)
        } else {
            tail == p
        }
    }
}

/// Leftmost case-insensitive occurrence of `needle` (already lower-case) in `hay`.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let alt = first.to_ascii_uppercase();
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let i = from + memchr::memchr2(first, alt, &hay[from..=hay.len() - needle.len()])?;
        if hay[i..i + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str, ci: bool) -> bool {
        Pattern::parse(p.as_bytes())
            .unwrap()
            .is_match(v.as_bytes(), ci)
    }

    #[test]
    fn matching() {
        assert!(m("*.example.com", "www.Example.COM", true));
        assert!(!m("*.example.com", "www.Example.COM", false));
        assert!(m("", "", false) && !m("", "a", false));
        assert!(m("*", "", false) && m("*", "anything/at all", false));
        assert!(m("a*b*c", "abc", false) && m("a*b*c", "aXbYbZc", false));
        assert!(!m("a*b*c", "acb", false));
        assert!(m("/a/*/c", "/a/b/x/c", false));
        assert!(
            !m("ab*ba", "aba", false),
            "prefix and suffix must not overlap"
        );
        assert!(m(r"\*.x", "*.x", false) && !m(r"\*.x", "a.x", false));
    }

    #[test]
    fn errors() {
        assert!(Pattern::parse(b"a**").is_err());
        assert!(Pattern::parse(b"a\\b").is_err());
        assert!(Pattern::parse(b"a\\").is_err());
    }

    #[test]
    fn captures_are_lazy() {
        let p = Pattern::parse(b"/*/*").unwrap();
        let c = p.captures(b"/a/b/c", false).unwrap();
        assert_eq!(c, vec![&b"a"[..], &b"b/c"[..]]);
    }

    #[test]
    fn long_inputs_stay_linear() {
        let v = vec![b'a'; 100_000];
        let p = Pattern::parse(b"*a*a*a*a*b").unwrap();
        assert!(!p.is_match(&v, true));
    }
}

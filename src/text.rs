//! Small text helpers every layer uses: positions in a text, "did you mean" suggestions,
//! and cutting a long value for a table cell.
//! A leaf module: it depends on nothing else in the crate.

/// 1-based line and column (in chars) of byte `offset` in `text` (clamped to a char boundary).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= limit || c.eq_ignore_ascii_case(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` when a candidate is close to `word`.
pub(crate) fn suggestion<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `s` cut to at most `max` chars, ending in `…` when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(did_you_mean("expct", ["expect", "request"]), Some("expect"));
        assert_eq!(did_you_mean("zzzzzz", ["expect", "request"]), None);
        assert_eq!(did_you_mean("GET", ["get"]), Some("get"));
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("abc", 99), (1, 4));
    }
}

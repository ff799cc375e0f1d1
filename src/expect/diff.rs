//! A line diff of the expected view against the actual view, rendered with `similar`: grouped
//! hunks with context, old and new line numbers, changed words emphasised when colour is on.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const DIM: &str = "\x1b[2m";
const BOLD_RED: &str = "\x1b[1;4;31m";
const BOLD_GREEN: &str = "\x1b[1;4;32m";
const RESET: &str = "\x1b[0m";

/// Renders the diff; empty when the two texts are equal. `-` lines are expected, `+` actual.
pub(crate) fn render(expected: &str, actual: &str, color: bool) -> String {
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    if diff.ratio() == 1.0 {
        return out;
    }
    let paint = |code: &'static str| if color { code } else { "" };
    let _ = writeln!(out, "{}--- expected{}", paint(RED), paint(RESET));
    let _ = writeln!(out, "{}+++ actual{}", paint(GREEN), paint(RESET));
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "{}  ...{}", paint(DIM), paint(RESET));
        }
        for op in group {
            for change in diff.iter_inline_changes(op) {
                let (sign, line_color, emph) = match change.tag() {
                    ChangeTag::Delete => ('-', RED, BOLD_RED),
                    ChangeTag::Insert => ('+', GREEN, BOLD_GREEN),
                    ChangeTag::Equal => (' ', DIM, DIM),
                };
                let old = change
                    .old_index()
                    .map_or(String::new(), |n| (n + 1).to_string());
                let new = change
                    .new_index()
                    .map_or(String::new(), |n| (n + 1).to_string());
                let _ = write!(out, "{}{old:>4} {new:>4} |{sign} ", paint(line_color));
                for (emphasised, text) in change.iter_strings_lossy() {
                    let text = text.trim_end_matches('\n');
                    if emphasised && change.tag() != ChangeTag::Equal {
                        let _ = write!(
                            out,
                            "{}{text}{}{}",
                            paint(emph),
                            paint(RESET),
                            paint(line_color)
                        );
                    } else {
                        out.push_str(text);
                    }
                }
                let _ = writeln!(out, "{}", paint(RESET));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_diff_has_numbers_and_signs() {
        let text = render(
            "status: 403\naction: block\n",
            "status: 200\naction: block\n",
            false,
        );
        assert_eq!(
            text,
            "--- expected\n+++ actual\n   1      |- status: 403\n        1 |+ status: 200\n   2    2 |  action: block\n"
        );
    }

    #[test]
    fn equal_texts_give_no_diff() {
        assert_eq!(render("a\n", "a\n", false), "");
    }

    #[test]
    fn colour_emphasises_changed_words() {
        let text = render("action: block\n", "action: none\n", true);
        assert!(text.contains(&format!("{BOLD_RED}block{RESET}")));
        assert!(text.contains(&format!("{BOLD_GREEN}none{RESET}")));
    }
}

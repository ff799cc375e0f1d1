//! Text from project files is hostile: a case name, a rule description or a header value may
//! hold line breaks, terminal escapes or markup meant to forge output. Every format rulegate
//! writes gets its own escaper here, and the known secret values are scrubbed from all output
//! ([`scrub`]), as a second line of defence behind never expanding credentials into suites.
//! A leaf module: it depends on nothing else in the crate.

use std::borrow::Cow;
use std::sync::RwLock;

/// Whether `c` must not reach a console line raw: C0 and C1 controls, DEL, and the Unicode
/// line and paragraph separators (some viewers break lines there).
fn is_hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// `s` with every control character (line breaks included) rendered visibly as `\n`, `\r`,
/// `\t` or `\u{1b}`: one line of text that cannot start a new line, move the cursor or colour
/// the terminal. For anything from a file that lands on the console or in a one-line field.
pub(crate) fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hostile(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Multi-line text made safe for a console or a CI log: line breaks stay, every other control
/// character is rendered visibly, and a line that would begin with `::` (a GitHub Actions
/// workflow command) is indented by one space, so only rulegate's own annotations are commands.
pub(crate) fn console(s: &str) -> Cow<'_, str> {
    let hostile = s
        .chars()
        .any(|c| c != '\n' && is_hostile(c) || c == '\u{85}');
    let command = s.starts_with("::") || s.contains("\n::");
    if !hostile && !command {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.starts_with("::") {
            out.push(' ');
        }
        out.push_str(&visible(line));
    }
    Cow::Owned(out)
}

/// Whether XML 1.0 allows `c` in a document and gives it back as written (a carriage return
/// would come back as a line feed, so it is made visible too).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text for an XML document (element text or an attribute, which the writer escapes): the
/// characters XML 1.0 forbids (most controls) are rendered visibly, so the document stays valid.
pub(crate) fn xml_text(s: &str) -> Cow<'_, str> {
    if s.chars().all(xml_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if xml_char(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// Text for a CDATA section: [`xml_text`], and every `]]>` split across two sections, so the
/// text cannot close its section and inject elements (what a reader gets back is unchanged).
pub(crate) fn cdata(s: &str) -> String {
    xml_text(s).replace("]]>", "]]]]><![CDATA[>")
}

/// Text for XML written by hand (Cobertura): [`xml_text`] with markup characters as entities.
pub(crate) fn xml_escaped(s: &str) -> String {
    let s = xml_text(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// A value on one line of a line-oriented report (LCOV `SF:`): no line break can start a
/// record of its own.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    visible(s)
}

/// The longest run of backticks in `s`: a Markdown code span or fence must be longer.
pub(crate) fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// An inline Markdown code span holding `s` exactly: a backtick fence longer than any run in
/// `s`, padded when `s` starts or ends with a backtick; control characters visible, so a
/// line break cannot end the span (or a table row, or an HTML block).
pub(crate) fn md_code(s: &str) -> String {
    let s = visible(s);
    let fence = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        " "
    } else {
        ""
    };
    // `|` would end a table cell even inside a code span.
    let body = s.replace('|', "\\|");
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// Plain Markdown text inside a line (a table cell, a list item's text): control characters
/// visible (no line break, so no heading or block can start), markup characters escaped with
/// a backslash (emphasis, code spans, links and images need `*`, `_`, `` ` ``, `[`, `]`) or an
/// entity (`<`, `>`, `&`: HTML and autolinks), and `|`, which would end a table cell.
pub(crate) fn md_text(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for HTML (inside `<summary>`, `<code>`): entities for markup, control characters
/// visible (a blank line would end the HTML block in Markdown).
pub(crate) fn html(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Markdown emphasis and code inside HTML blocks: keep them literal.
            '`' => out.push_str("&#96;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '[' => out.push_str("&#91;"),
            c => out.push(c),
        }
    }
    out
}

// ---- secrets ------------------------------------------------------------------------------

/// Known secret values (API tokens and keys the run holds). Written once at start-up.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest value scrubbed: shorter ones would mangle ordinary text and are no real secret.
const MIN_SECRET: usize = 8;

/// Whether a credential variable's value looks like a secret rather than a setting: long
/// enough, and either long or holding a digit or a symbol (so `TOKEN_CACHE=enabled` does not
/// scrub the word "enabled" from every report).
fn looks_secret(value: &str) -> bool {
    value.len() >= MIN_SECRET
        && (value.len() >= 20 || value.chars().any(|c| !c.is_ascii_alphabetic()))
}

/// What a secret is replaced with in output.
pub(crate) const REDACTED: &str = "[redacted]";

/// Whether an environment variable's name says it holds a credential: Cloudflare's own
/// (`CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_API_KEY`, `CLOUDFLARE_EMAIL`) and any name with
/// `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`, `PASSPHRASE`, `API_KEY`, `APIKEY`, `PRIVATE_KEY`,
/// `ACCESS_KEY` or `CREDENTIAL` in it (any case). Such variables never expand into suites,
/// and their values are scrubbed from all output.
pub(crate) fn is_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == "CLOUDFLARE_EMAIL"
        || [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "PASSPHRASE",
            "API_KEY",
            "APIKEY",
            "PRIVATE_KEY",
            "ACCESS_KEY",
            "CREDENTIAL",
        ]
        .iter()
        .any(|w| upper.contains(w))
}

/// Registers the values of every credential variable of the environment ([`is_credential`])
/// as secrets: called once when the program starts.
pub(crate) fn register_env_secrets() {
    for (name, value) in std::env::vars_os() {
        if let (Some(name), Some(value)) = (name.to_str(), value.to_str())
            && is_credential(name)
        {
            register_secret(value);
        }
    }
}

/// Adds a secret value to scrub from all output.
pub(crate) fn register_secret(value: &str) {
    let value = value.trim();
    if !looks_secret(value) {
        return;
    }
    if let Ok(mut s) = SECRETS.write()
        && !s.iter().any(|v| v == value)
    {
        s.push(value.to_string());
        // Longest first, so a secret holding another is replaced whole.
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// `s` with every known secret value replaced by [`REDACTED`].
pub(crate) fn scrub(s: &str) -> Cow<'_, str> {
    let Ok(secrets) = SECRETS.read() else {
        return Cow::Borrowed(s);
    };
    if !secrets.iter().any(|v| s.contains(v.as_str())) {
        return Cow::Borrowed(s);
    }
    let mut out = s.to_string();
    for v in secrets.iter() {
        out = out.replace(v.as_str(), REDACTED);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn visible_renders_controls() {
        assert_eq!(visible("a\nb\r\tc\x1b[31m"), "a\\nb\\r\\tc\\u{1b}[31m");
        assert_eq!(visible("plain ünïcode"), "plain ünïcode");
        assert_eq!(visible("a\u{2028}b\u{85}"), "a\\u{2028}b\\u{85}");
    }

    #[test]
    fn console_keeps_lines_but_no_command() {
        assert_eq!(console("ok\n::add-mask::x"), "ok\n ::add-mask::x");
        assert_eq!(console("::error::x"), " ::error::x");
        assert_eq!(console("a\r\nb"), "a\\r\nb");
    }

    #[test]
    fn cdata_cannot_be_closed() {
        assert_eq!(cdata("a]]>b"), "a]]]]><![CDATA[>b");
        assert_eq!(cdata("x\u{1}y"), "x\\u{1}y");
    }

    #[test]
    fn markdown_escapes() {
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code("a|b\n## h"), "`a\\|b\\n## h`");
        assert_eq!(md_text("# h ![i](u) <b>"), "# h !\\[i\\](u) &lt;b&gt;");
        assert_eq!(html("<b>\n\n# x"), "&lt;b&gt;\\n\\n# x");
    }

    #[test]
    fn scrubs_registered_secrets() {
        register_secret("s3cr3t-token-value");
        assert_eq!(
            scrub("Bearer s3cr3t-token-value!"),
            format!("Bearer {REDACTED}!")
        );
        assert_eq!(scrub("nothing here"), "nothing here");
        register_secret("abc");
        assert_eq!(scrub("abc"), "abc");
        // A setting, not a secret.
        register_secret("enabled");
        assert_eq!(scrub("rules enabled"), "rules enabled");
    }

    proptest! {
        #[test]
        fn no_escaper_lets_a_line_break_through(s in "\\PC*|[\\x00-\\x7f\u{85}\u{2028}]*") {
            prop_assert!(!visible(&s).contains('\n'));
            prop_assert!(!visible(&s).contains('\r'));
            prop_assert!(!md_code(&s).contains('\n'));
            prop_assert!(!md_text(&s).contains('\n'));
            prop_assert!(!html(&s).contains('\n'));
            for line in console(&s).split('\n') {
                prop_assert!(!line.starts_with("::"));
                prop_assert!(!line.contains('\r'));
            }
            let c = cdata(&s);
            // Inside the section no `]]>` closes it except the split points we made.
            prop_assert_eq!(c.matches("]]>").count(), c.matches("<![CDATA[").count());
            prop_assert!(xml_text(&s).chars().all(xml_char));
        }
    }
}

//! Text helpers shared by the renderers: redaction, escaping, and truncation that
//! keeps within a channel's limit without splitting a character or an entity.
//!
//! Lengths are counted in UTF-16 code units, the larger of the two counts chat
//! services use (characters or UTF-16 units), so a text within the limit here is
//! within it there too.

use crate::events::redact_emails;

/// What ends a truncated text.
pub(crate) const ELLIPSIS: char = '…';

/// The length of a text as the limits count it.
pub(crate) fn units(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Free text from the caller: e-mail addresses masked, control characters (but line
/// breaks) turned into spaces, trailing blanks removed.
pub(crate) fn clean(text: &str) -> String {
    let text: String = redact_emails(text)
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' | '\r' => '\n',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    text.trim_end().to_owned()
}

/// Text for one line (a subject, a title, a field): every control character,
/// line breaks included, becomes a space; e-mail addresses are masked.
pub(crate) fn one_line(text: &str) -> String {
    let text: String = redact_emails(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.trim().to_owned()
}

/// `text` within `max` units: cut at a character boundary, the cut marked with `…`.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    pieces(text.chars().map(String::from), max)
}

/// Joins `pieces` (each one character or one escaped entity, never cut) within `max`
/// units; when some are left out, the result ends with `…`.
fn pieces(pieces: impl Iterator<Item = String> + Clone, max: usize) -> String {
    let total: usize = pieces.clone().map(|p| units(&p)).sum();
    if total <= max {
        return pieces.collect();
    }
    let budget = max.saturating_sub(ELLIPSIS.len_utf16());
    let mut out = String::new();
    let mut used = 0;
    for piece in pieces {
        let size = units(&piece);
        if used + size > budget {
            break;
        }
        used += size;
        out.push_str(&piece);
    }
    if max >= ELLIPSIS.len_utf16() {
        out.push(ELLIPSIS);
    }
    out
}

/// One character escaped for Slack's `mrkdwn` and the `text` fallback: only `&`,
/// `<` and `>` are escaped, as Slack asks.
fn slack_char(c: char) -> String {
    match c {
        '&' => "&amp;".to_owned(),
        '<' => "&lt;".to_owned(),
        '>' => "&gt;".to_owned(),
        c => c.to_string(),
    }
}

/// `text` escaped for Slack `mrkdwn`.
pub(crate) fn slack_escape(text: &str) -> String {
    text.chars().map(slack_char).collect()
}

/// `text` escaped for Slack `mrkdwn`, within `max` units counted after escaping; an
/// entity (`&amp;`) is never cut.
pub(crate) fn slack_escape_within(text: &str, max: usize) -> String {
    pieces(text.chars().map(slack_char), max)
}

/// An already escaped text within `max` units, cut before an entity rather than in it.
pub(crate) fn truncate_escaped(escaped: &str, max: usize) -> String {
    if units(escaped) <= max {
        return escaped.to_owned();
    }
    if max < ELLIPSIS.len_utf16() {
        return String::new();
    }
    let mut cut = truncate(escaped, max);
    cut.pop(); // the ellipsis
    if let Some(start) = cut.rfind('&')
        && !cut[start..].contains(';')
    {
        cut.truncate(start);
    }
    cut.push(ELLIPSIS);
    cut
}

pub(crate) use crate::text::html_escape;

/// `url` when it may be offered as a link: `https://` or `http://`, no blank or
/// control character, at most `max` units; anything else is not a link.
pub(crate) fn link(url: &str, max: usize) -> Option<&str> {
    let url = url.trim();
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    let plain = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (scheme && plain && units(url) <= max).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_characters_whole_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        // é is one unit, 😀 two: the cut falls before a character that would pass
        let cut = truncate("éé😀😀", 4);
        assert_eq!(cut, "éé…");
        assert!(units(&cut) <= 4);
    }

    #[test]
    fn slack_entities_are_never_cut() {
        assert_eq!(slack_escape("a & <b>"), "a &amp; &lt;b&gt;");
        let cut = slack_escape_within("ab&cd", 6);
        assert_eq!(cut, "ab…");
        let cut = slack_escape_within("ab&cd", 8);
        assert_eq!(cut, "ab&amp;…");
        assert_eq!(truncate_escaped("ab&amp;cd", 6), "ab…");
        assert_eq!(truncate_escaped("ab&amp;cd", 8), "ab&amp;…");
        assert_eq!(truncate_escaped("ab&amp;cd", 9), "ab&amp;cd");
    }

    #[test]
    fn text_is_cleaned_of_addresses_and_control_characters() {
        assert_eq!(
            clean("mail alice@example.com\r\nnow\u{7}"),
            "mail a***@example.com\nnow"
        );
        assert_eq!(one_line(" a\nb\tc "), "a b c");
    }

    #[test]
    fn only_plain_http_links_are_links() {
        assert_eq!(
            link(" https://x.test/a?b=c ", 100),
            Some("https://x.test/a?b=c")
        );
        assert_eq!(link("javascript:alert(1)", 100), None);
        assert_eq!(link("https://x.test/a b", 100), None);
        assert_eq!(link("https://x.test/abc", 5), None);
    }
}

//! Text from outside (a landing file, a request, a login form), made safe
//! to print on an officer's terminal or to keep in a log: C0 and C1
//! controls and bidirectional overrides and isolates are written as
//! `\\u{..}`, so that no value can forge a line or reorder what is shown.

/// Whether `c` is a C0 or C1 control character or a bidirectional override
/// or isolate (U+202A–U+202E, U+2066–U+2069).
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c as u32, 0x00..=0x1F | 0x7F..=0x9F | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// `text` with unsafe characters escaped, cut at `max` bytes (on a
/// character boundary) with the length of what was cut.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 16);
    for (i, c) in text.char_indices() {
        let piece = if is_unsafe_char(c) { format!("\\u{{{:04X}}}", c as u32) } else { c.to_string() };
        if out.len() + piece.len() > max {
            out.push_str(&format!("…[{} more bytes]", text.len() - i));
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// `text` with unsafe characters escaped, whole.
pub fn escaped(text: &str) -> String {
    printable(text, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_escaped_and_long_text_is_cut() {
        assert_eq!(escaped("a\nb"), "a\\u{000A}b");
        assert_eq!(escaped("x\u{202E}y\u{0085}"), "x\\u{202E}y\\u{0085}");
        assert_eq!(escaped("名称 ok"), "名称 ok");
        assert_eq!(printable("abcdef", 3), "abc…[3 more bytes]");
    }
}

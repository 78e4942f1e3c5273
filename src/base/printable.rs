//! Text from outside (a landing file, a request, a login form), made safe
//! to print on an officer's terminal or to keep in a log: C0 and C1
//! controls and bidirectional overrides and isolates are written as
//! `\\u{..}`, so that no value can forge a line or reorder what is shown.

/// Whether `c` is a C0 or C1 control character or a bidirectional override
/// or isolate (U+202A–U+202E, U+2066–U+2069).
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c as u32, 0x00..=0x1F | 0x7F..=0x9F | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// Whether `text` holds an unsafe character. Each one's UTF-8 begins with
/// a byte below 0x20, 0x7F, 0xC2 (U+0080–U+009F) or 0xE2 (U+2000–U+2FFF),
/// so text without those bytes (most text, Chinese included) is passed by
/// one byte scan.
pub fn has_unsafe_char(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20 || b == 0x7F || b == 0xC2 || b == 0xE2) && text.chars().any(is_unsafe_char)
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

    #[test]
    fn the_byte_scan_finds_every_unsafe_character() {
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let text = format!("名{c}x");
            assert_eq!(has_unsafe_char(&text), is_unsafe_char(c), "U+{:04X}", c as u32);
        }
        assert!(!has_unsafe_char("上海东方枫叶贸易有限公司 · Co."));
    }
}

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
    text.bytes().any(suspect) && text.chars().any(is_unsafe_char)
}

/// A byte an unsafe character's UTF-8 can begin with (see [`has_unsafe_char`]).
fn suspect(b: u8) -> bool {
    b < 0x20 || b == 0x7F || b == 0xC2 || b == 0xE2
}

/// Where the first suspect byte of `bytes` is: blocks of 64 bytes are
/// tested without a branch per byte (the compiler vectorises the fold),
/// and only a block with a suspect byte is searched.
fn first_suspect(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    for block in bytes.chunks(64) {
        if block.iter().fold(false, |any, b| any | suspect(*b)) {
            return block.iter().position(|b| suspect(*b)).map(|p| at + p);
        }
        at += block.len();
    }
    None
}

/// The rows of a text column that may hold an unsafe character, ascending:
/// one scan of the column's bytes finds the rows with a suspect byte, and
/// no other row can hold one. A landing column's check then looks at those
/// rows alone instead of scanning every value on its own.
pub fn rows_to_check(text: &arrow::array::StringArray) -> Vec<usize> {
    let offsets = text.value_offsets();
    let (start, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
    let bytes = &text.value_data()[start..end];
    let mut rows = Vec::new();
    let mut from = 0;
    while let Some(p) = first_suspect(&bytes[from..]) {
        let byte = (start + from + p) as i64;
        // The row holding the byte: the last whose range starts at or before it.
        let row = offsets.partition_point(|o| i64::from(*o) <= byte) - 1;
        rows.push(row);
        from = offsets[row + 1] as usize - start;
    }
    rows
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
    use arrow::array::Array;

    use super::*;

    #[test]
    fn controls_and_overrides_are_escaped_and_long_text_is_cut() {
        assert_eq!(escaped("a\nb"), "a\\u{000A}b");
        assert_eq!(escaped("x\u{202E}y\u{0085}"), "x\\u{202E}y\\u{0085}");
        assert_eq!(escaped("名称 ok"), "名称 ok");
        assert_eq!(printable("abcdef", 3), "abc…[3 more bytes]");
    }

    /// datasets.md: C0 and C1 controls (DEL included, as Unicode's Cc
    /// class has it) and the bidirectional overrides and isolates
    /// U+202A–U+202E and U+2066–U+2069; nothing beside them.
    #[test]
    fn the_unsafe_characters_are_exactly_the_controls_overrides_and_isolates() {
        let unsafe_ranges = [(0x00, 0x1F), (0x7F, 0x9F), (0x202A, 0x202E), (0x2066, 0x2069)];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let expected = unsafe_ranges.iter().any(|(a, b)| (*a..=*b).contains(&(c as u32)));
            assert_eq!(is_unsafe_char(c), expected, "U+{:04X}", c as u32);
            if c.is_control() {
                assert!(is_unsafe_char(c), "every control character: U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn the_byte_scan_finds_every_unsafe_character() {
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let text = format!("名{c}x");
            assert_eq!(has_unsafe_char(&text), is_unsafe_char(c), "U+{:04X}", c as u32);
        }
        assert!(!has_unsafe_char("上海东方枫叶贸易有限公司 · Co."));
    }

    #[test]
    fn the_column_scan_names_every_row_that_holds_an_unsafe_character() {
        // Suspect bytes at block edges, in empty and null neighbours, in
        // rows that are safe after all, and in a slice of a column.
        let long = format!("{}\u{202E}", "x".repeat(63));
        let values: Vec<Option<&str>> = vec![
            Some("ok"),
            Some("a\nb"),
            None,
            Some(""),
            Some("约翰·史密斯"),
            Some(&long),
            Some("名称"),
            Some("\u{0085}"),
            Some(""),
            Some("end\u{7F}"),
        ];
        let column = arrow::array::StringArray::from(values);
        for column in [column.clone(), column.slice(3, 6)] {
            let flagged = rows_to_check(&column);
            assert!(flagged.windows(2).all(|w| w[0] < w[1]), "ascending, once each: {flagged:?}");
            for row in 0..column.len() {
                let unsafe_here = column.is_valid(row) && has_unsafe_char(column.value(row));
                assert!(!unsafe_here || flagged.contains(&row), "row {row} holds an unsafe character: {flagged:?}");
            }
        }
        assert_eq!(rows_to_check(&arrow::array::StringArray::from(vec!["名称", "ok"])), Vec::<usize>::new());
    }
}

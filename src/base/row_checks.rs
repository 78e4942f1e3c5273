//! The value tests and message pieces of datasets.md's row rules, shared by
//! the native validation (`stages::validate::rows`) and its DataFusion
//! plans, which call them as UDFs (`base::engine::checks`): one text per
//! fault whichever engine finds it.

use chrono::Datelike;

use crate::base::ids::{days_to_date, entity_check_char};
use crate::base::printable::{has_unsafe_char, is_unsafe_char};

/// A decimal(18,2) amount must stay below 10^16 yuan: 10^18 hundredths.
pub const MAX_MONEY_RAW: u128 = 1_000_000_000_000_000_000;

/// The dates a landing file may hold: a Date32 outside them (possible in a
/// hand-made file) is `bad_range`, so later stages only see printable dates.
pub const FIRST_DATE: &str = "0001-01-01";
pub const LAST_DATE: &str = "9999-12-31";

/// Whether a decimal(18,2) raw value is 10^16 yuan or more in absolute value.
pub fn money_too_large(raw: i128) -> bool {
    raw.unsigned_abs() >= MAX_MONEY_RAW
}

/// A decimal(18,2) raw value as text, whatever its digits (Arrow's own
/// formatting cuts a value wider than the type's precision).
pub fn money(raw: i128) -> String {
    let sign = if raw < 0 { "-" } else { "" };
    let v = raw.unsigned_abs();
    format!("{sign}{}.{:02}", v / 100, v % 100)
}

/// Empty, or only white space (any Unicode white space) and zero-width characters.
pub fn blank(v: &str) -> bool {
    v.chars().all(|c| c.is_whitespace() || matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'))
}

/// The first unsafe character of `v` and its position, if any.
pub fn unsafe_char(v: &str) -> Option<(usize, char)> {
    if !has_unsafe_char(v) {
        return None;
    }
    v.chars().enumerate().find(|(_, c)| is_unsafe_char(*c))
}

/// For text holding an unsafe character, what a message says was found:
/// the character, its position and the quoted text.
pub fn unsafe_char_found(v: &str) -> Option<String> {
    unsafe_char(v).map(|(at, c)| format!("U+{:04X} at character {} of {}", c as u32, at + 1, quote(v)))
}

/// Whether a Date32 value is a date from [`FIRST_DATE`] to [`LAST_DATE`].
pub fn date_in_range(days: i32) -> bool {
    days_to_date(days).is_some_and(|d| (1..=9999).contains(&d.year()))
}

/// A Date32 value for a message: the date, or the raw day number when it
/// is no calendar date.
pub fn show_date(days: i32) -> String {
    match days_to_date(days) {
        Some(d) if (1..=9999).contains(&d.year()) => d.to_string(),
        _ => format!("day {days} since 1970-01-01"),
    }
}

/// For an 18-character id from the alphabet with a wrong check character,
/// the character it should end with.
pub fn entity_hint(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() == 18 {
        if let Some(c) = entity_check_char(&b[..17]) {
            return format!(" (check character {} expected)", c as char);
        }
    }
    " (18 characters of 0-9 A-H J-N P-R T U W-Y, the last a check character)".to_string()
}

/// A found value for a message: quoted, cut at 80 characters, with control
/// and bidirectional characters written as `\u{..}` so that a message
/// never carries them to an officer's terminal.
pub fn quote(v: &str) -> String {
    let cut: String = v.chars().take(80).collect();
    let mut s: String = cut
        .chars()
        .map(|c| if is_unsafe_char(c) { format!("\\u{{{:04X}}}", c as u32) } else { c.to_string() })
        .collect();
    if cut.len() < v.len() {
        s.push('…');
    }
    format!("'{s}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Date32 a calendar holds but outside years 1 to 9999 is out of
    /// range, and a message shows it as its day number, as it does a value
    /// no calendar holds (a mutant that printed such a date as the
    /// calendar spells it survived every test).
    #[test]
    fn dates_outside_years_1_to_9999_are_out_of_range_and_shown_as_day_numbers() {
        let (last, first) = (2_932_896, -719_162);
        assert_eq!((show_date(last), show_date(first)), (LAST_DATE.to_string(), FIRST_DATE.to_string()));
        assert!(date_in_range(last) && date_in_range(first));
        for outside in [last + 1, first - 1, i32::MAX, i32::MIN] {
            assert!(!date_in_range(outside), "{outside}");
            assert_eq!(show_date(outside), format!("day {outside} since 1970-01-01"));
        }
    }
}

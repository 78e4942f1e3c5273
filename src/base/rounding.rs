//! Rounding of scores and deductions (policy.md, step 5): to 9 decimals
//! (nearest), then to 2 decimals, half away from zero. The first step
//! absorbs the float noise of summation, so 98.885 (stored as
//! 98.88500000000000511) and 99.985 (stored as 99.98499999999999943) both
//! round up.

/// Rounds `x` as policy.md step 5 says.
pub fn round_score(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if x.abs() >= EXACT_NANOS {
        return round_large(x);
    }
    let nanos = (x * 1e9).round() as i128;
    let hundredths = nanos / 10_000_000;
    let rest = nanos % 10_000_000;
    let rounded = if rest.abs() >= 5_000_000 { hundredths + nanos.signum() } else { hundredths };
    rounded as f64 / 100.0
}

/// 2^53 / 1e9: below it, `x * 1e9` holds every nano of `x` exactly.
const EXACT_NANOS: f64 = 9_007_199.254_740_992;

/// [`round_score`] for a score of 9 million or more (a policy's `base`
/// may be any finite number): `x`'s exact decimal value to 9 decimals
/// (Rust's fixed-precision formatting is exact), then to 2 half away
/// from zero on those digits; no product that loses nanos or overflows.
fn round_large(x: f64) -> f64 {
    let nine = format!("{:.9}", x.abs());
    let (whole, fraction) = nine.split_once('.').expect("a fixed-precision float has a point");
    let mut hundredths: Vec<u8> = format!("{whole}{}", &fraction[..2]).into_bytes();
    if fraction.as_bytes()[2] >= b'5' {
        let mut at = hundredths.len();
        loop {
            if at == 0 {
                hundredths.insert(0, b'1');
                break;
            }
            at -= 1;
            if hundredths[at] == b'9' {
                hundredths[at] = b'0';
            } else {
                hundredths[at] += 1;
                break;
            }
        }
    }
    let (whole, cents) = hundredths.split_at(hundredths.len() - 2);
    let text = format!("{}.{}", String::from_utf8_lossy(whole), String::from_utf8_lossy(cents));
    text.parse::<f64>().expect("digits and a point parse").copysign(x)
}

#[cfg(test)]
mod tests {
    use super::{round_score, EXACT_NANOS};

    #[test]
    fn half_cents_round_away_from_zero_after_the_nine_decimal_step() {
        assert_eq!(round_score(98.885), 98.89);
        assert_eq!(round_score(99.985), 99.99);
        assert_eq!(round_score(100.0 - 1.115), 98.89, "98.885 reached by subtraction");
        assert_eq!(round_score(0.005), 0.01);
        assert_eq!(round_score(-0.005), -0.01);
        assert_eq!(round_score(98.884999), 98.88);
        assert_eq!(round_score(98.8849999999), 98.89, "within half a nano of .885");
        assert_eq!(round_score(98.884999998), 98.88);
    }

    /// A policy's base may be any finite number: a score of millions or
    /// more is rounded on its exact digits, never through a product that
    /// loses its nanos (above 9e6) or overflows (above 1.7e29).
    #[test]
    fn large_scores_round_on_their_exact_digits() {
        assert_eq!(round_score(1e7 - 1.115), 9_999_998.89, "9999998.885 absorbed to 9 decimals, then up");
        assert_eq!(round_score(-(1e7 - 1.115)), -9_999_998.89);
        assert_eq!(round_score(20_000_000.004), 20_000_000.0);
        assert_eq!(round_score(99_999_999.995), 100_000_000.0, "the carry runs through every digit");
        assert_eq!(round_score(1e29 + 1e13), 1e29 + 1e13);
        assert_eq!(round_score(EXACT_NANOS - 0.001), 9_007_199.25, "the small path's last value");
    }

    #[test]
    fn summation_order_does_not_change_the_result() {
        let parts = [33.333333333333336, 0.1, 0.2, 19.999999999999996, 1.7766666666666666];
        let forward = 100.0 - parts.iter().sum::<f64>();
        let backward = 100.0 - parts.iter().rev().sum::<f64>();
        assert_eq!(round_score(forward), round_score(backward));
    }

    #[test]
    fn integers_and_two_decimal_values_are_unchanged() {
        for v in [0.0, 100.0, 55.0, 12.34, 75.01, 1e300, -1e300, 4_503_599_627_370_496.0, 1e15 + 0.5, 12_345_678.25] {
            assert_eq!(round_score(v), v);
        }
    }
}

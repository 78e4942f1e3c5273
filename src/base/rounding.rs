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
    let nanos = (x * 1e9).round() as i128;
    let hundredths = nanos / 10_000_000;
    let rest = nanos % 10_000_000;
    let rounded = if rest.abs() >= 5_000_000 { hundredths + nanos.signum() } else { hundredths };
    rounded as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::round_score;

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

    #[test]
    fn summation_order_does_not_change_the_result() {
        let parts = [33.333333333333336, 0.1, 0.2, 19.999999999999996, 1.7766666666666666];
        let forward = 100.0 - parts.iter().sum::<f64>();
        let backward = 100.0 - parts.iter().rev().sum::<f64>();
        assert_eq!(round_score(forward), round_score(backward));
    }

    #[test]
    fn integers_and_two_decimal_values_are_unchanged() {
        for v in [0.0, 100.0, 55.0, 12.34, 75.01] {
            assert_eq!(round_score(v), v);
        }
    }
}

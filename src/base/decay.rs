//! The weight of a record by its age (policy.md, step 3), written once:
//! the scoring plans call it through the engine's `credit_weight` function
//! and `explain` calls it directly, so the two can never drift apart.

/// How a rule's records lose weight with age.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decay {
    /// Weight 1 for the whole window.
    None,
    /// `(window_days - age) / window_days`.
    Linear,
    /// `0.5 ^ (age / H)`.
    HalfLife(f64),
}

impl Decay {
    /// The weight of a record of age `age_days` under a rule with
    /// `window_days` (policy.md, step 3).
    pub fn weight(self, window_days: i64, age_days: i64) -> f64 {
        match self {
            Decay::None => 1.0,
            Decay::Linear => (window_days - age_days) as f64 / window_days as f64,
            Decay::HalfLife(h) => 0.5f64.powf(age_days as f64 / h),
        }
    }

    /// The decay as the engine's `credit_weight` arguments: a code and the half-life.
    pub fn to_code(self) -> (i32, f64) {
        match self {
            Decay::None => (0, 0.0),
            Decay::Linear => (1, 0.0),
            Decay::HalfLife(h) => (2, h),
        }
    }

    /// The decay of [`Decay::to_code`]'s arguments.
    pub fn from_code(code: i32, half_life: f64) -> Option<Decay> {
        match code {
            0 => Some(Decay::None),
            1 => Some(Decay::Linear),
            2 => Some(Decay::HalfLife(half_life)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Decay;

    #[test]
    fn weights_follow_policy_md_step_3() {
        assert_eq!(Decay::None.weight(365, 100), 1.0);
        assert_eq!(Decay::Linear.weight(1000, 250), 0.75);
        assert_eq!(Decay::Linear.weight(1000, 0), 1.0);
        assert_eq!(Decay::HalfLife(180.0).weight(730, 180), 0.5);
        assert_eq!(Decay::HalfLife(180.0).weight(730, 360), 0.25);
        for d in [Decay::None, Decay::Linear, Decay::HalfLife(7.5)] {
            let (code, h) = d.to_code();
            assert_eq!(Decay::from_code(code, h), Some(d));
        }
    }
}

//! Officer decisions and review status (publication.md, "Officer
//! decisions" and "Review status").
//!
//! Decisions form two families per (entity, list): exemptions (`exempt`,
//! `revoke_exemption`) and verdicts (`confirm`, `reject`); within each the
//! newest decides. A reject holds only while the member's basis and rules
//! stay what they were when it was rejected.

use std::collections::HashMap;

use crate::base::ids::AsOf;
use crate::base::marts::listings::{Basis, ReviewStatus};
use crate::base::store::{Action, Decision};
use crate::config::policy::Review;

/// The decisions a run uses, newest of each family per (list, entity).
#[derive(Default)]
pub struct DecisionBook {
    exemption: HashMap<(String, String), Decision>,
    verdict: HashMap<(String, String), Decision>,
}

impl DecisionBook {
    /// From decisions in id order (oldest first).
    pub fn new(decisions: Vec<Decision>) -> DecisionBook {
        let mut book = DecisionBook::default();
        for d in decisions {
            let key = (d.list_id.clone(), d.entity_id.clone());
            match d.action {
                Action::Exempt | Action::RevokeExemption => book.exemption.insert(key, d),
                Action::Confirm | Action::Reject => book.verdict.insert(key, d),
            };
        }
        book
    }

    /// Whether an exemption of `entity` from `list` is in force on `as_of`:
    /// the newest exempt/revoke is an exempt whose `until` (inclusive) is
    /// absent or not before `as_of`.
    pub fn exempt(&self, list: &str, entity: &str, as_of: AsOf) -> bool {
        self.exemption
            .get(&(list.to_string(), entity.to_string()))
            .is_some_and(|d| d.action == Action::Exempt && d.until.is_none_or(|u| as_of <= u))
    }

    /// Entities of `list` exempt on `as_of`, sorted.
    pub fn exempt_entities(&self, list: &str, as_of: AsOf) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .exemption
            .iter()
            .filter(|((l, e), _)| l == list && self.exempt(l, e, as_of))
            .map(|((_, e), _)| e.as_str())
            .collect();
        out.sort_unstable();
        out
    }

    /// The newest confirm or reject of (list, entity).
    pub fn verdict(&self, list: &str, entity: &str) -> Option<&Decision> {
        self.verdict.get(&(list.to_string(), entity.to_string()))
    }
}

/// The review status of a member of a list. `rules` are the member's rules
/// for a joint member, the rule ids of its reasons for a direct one.
pub fn status(
    review: Review,
    in_previous_publication: bool,
    verdict: Option<&Decision>,
    basis: Basis,
    rules: &[String],
) -> ReviewStatus {
    if review == Review::None || in_previous_publication {
        return ReviewStatus::Published;
    }
    match verdict {
        Some(d) if d.action == Action::Confirm => ReviewStatus::Published,
        Some(d) if d.action == Action::Reject && reject_holds(d, basis, rules) => ReviewStatus::Rejected,
        _ => ReviewStatus::Pending,
    }
}

/// A reject holds while the member's basis and rules are those recorded.
pub fn reject_holds(reject: &Decision, basis: Basis, rules: &[String]) -> bool {
    let mut now: Vec<&str> = rules.iter().map(|s| s.as_str()).collect();
    now.sort_unstable();
    let mut then: Vec<&str> = reject.rules.iter().flatten().map(|s| s.as_str()).collect();
    then.sort_unstable();
    reject.basis.as_deref() == Some(basis.as_str()) && now == then
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: i64, action: Action, until: Option<&str>, basis: Option<&str>, rules: &[&str]) -> Decision {
        Decision {
            id,
            list_id: "l".into(),
            entity_id: "E".into(),
            action,
            officer: "o".into(),
            reason: "a reason long enough".into(),
            until: until.map(|u| u.parse().unwrap()),
            basis: basis.map(String::from),
            rules: (!rules.is_empty()).then(|| rules.iter().map(|s| s.to_string()).collect()),
            decided_at: String::new(),
        }
    }

    fn date(s: &str) -> AsOf {
        s.parse().unwrap()
    }

    #[test]
    fn the_newest_exemption_decision_decides_and_until_is_inclusive() {
        let book = DecisionBook::new(vec![d(1, Action::Exempt, Some("2026-11-30"), None, &[])]);
        assert!(book.exempt("l", "E", date("2026-11-30")));
        assert!(!book.exempt("l", "E", date("2026-12-01")));
        assert!(!book.exempt("other", "E", date("2026-11-30")));
        let book = DecisionBook::new(vec![
            d(1, Action::Exempt, None, None, &[]),
            d(2, Action::RevokeExemption, None, None, &[]),
        ]);
        assert!(!book.exempt("l", "E", date("2026-11-30")));
        let book = DecisionBook::new(vec![
            d(1, Action::RevokeExemption, None, None, &[]),
            d(2, Action::Exempt, None, None, &[]),
            d(3, Action::Confirm, None, None, &[]),
        ]);
        assert!(book.exempt("l", "E", date("2030-01-01")), "a confirm is another family");
    }

    #[test]
    fn review_status_follows_publication_md() {
        let rules = vec!["V_GRAVE".to_string()];
        assert_eq!(status(Review::None, false, None, Basis::Direct, &rules), ReviewStatus::Published);
        assert_eq!(status(Review::Additions, true, None, Basis::Direct, &rules), ReviewStatus::Published);
        assert_eq!(status(Review::Additions, false, None, Basis::Direct, &rules), ReviewStatus::Pending);
        let confirm = d(1, Action::Confirm, None, None, &[]);
        assert_eq!(status(Review::Additions, false, Some(&confirm), Basis::Direct, &rules), ReviewStatus::Published);
        let reject = d(2, Action::Reject, None, Some("direct"), &["V_GRAVE"]);
        assert_eq!(status(Review::Additions, false, Some(&reject), Basis::Direct, &rules), ReviewStatus::Rejected);
        let more = vec!["V_GRAVE".to_string(), "C_UNRESOLVED".to_string()];
        assert_eq!(
            status(Review::Additions, false, Some(&reject), Basis::Direct, &more),
            ReviewStatus::Pending,
            "rules changed"
        );
        assert_eq!(
            status(Review::Additions, false, Some(&reject), Basis::Joint, &rules),
            ReviewStatus::Pending,
            "basis changed"
        );
        assert_eq!(
            status(Review::Additions, true, Some(&reject), Basis::Direct, &rules),
            ReviewStatus::Published,
            "already published stays"
        );
    }
}

//! Officer decisions and review status (publication.md v2, "Officer
//! decisions", "Due process" and "Review status").
//!
//! Decisions form two families per (entity, list): exemptions (`exempt`,
//! `revoke_exemption`, and the `approve` or `send_back` of an `exempt`)
//! and review (`notify`, `object`, `confirm`, `reject`, and the `approve`
//! or `send_back` of a `confirm`). A family is read in id order:
//!
//! ```text
//! review family of one member (decisions that still hold)
//!   notify ─▶ noticed (deadline not passed) ─▶ pending, "ready to decide" (deadline passed)
//!      └─ object ─▶ objected
//!   confirm ─▶ awaiting_approval (two officers) ─ approve ─▶ published (notice rule met)
//!          └─ send_back: the confirm no longer stands
//!   reject ─▶ rejected
//! ```
//!
//! A `notify`, `confirm` or `reject` holds only while the member's basis
//! and rules are those it recorded, and only within the member's current
//! stretch on the list: a decision made before the member last left the
//! list covers nothing now.

use std::collections::HashMap;

use crate::base::ids::AsOf;
use crate::base::marts::listings::{Basis, ReviewStatus};
use crate::base::store::{Action, Decision};
use crate::config::policy::{Approval, ListSpec, Review};

/// The decisions of one (list, entity), by family, in id order.
#[derive(Default, Debug)]
struct Family {
    exemption: Vec<Decision>,
    review: Vec<Decision>,
}

/// The decisions a run uses, by (list, entity) and family.
#[derive(Default)]
pub struct DecisionBook {
    families: HashMap<(String, String), Family>,
}

impl DecisionBook {
    /// From decisions in id order (oldest first). An `approve` or
    /// `send_back` joins the family of the decision it names.
    pub fn new(decisions: Vec<Decision>) -> DecisionBook {
        let mut action_of: HashMap<i64, Action> = HashMap::new();
        let mut book = DecisionBook::default();
        for d in decisions {
            action_of.insert(d.id, d.action);
            let family = book.families.entry((d.list_id.clone(), d.entity_id.clone())).or_default();
            let exemption = match d.action {
                Action::Exempt | Action::RevokeExemption => true,
                Action::Approve | Action::SendBack => {
                    d.approves.and_then(|id| action_of.get(&id)) == Some(&Action::Exempt)
                }
                _ => false,
            };
            if exemption {
                family.exemption.push(d);
            } else {
                family.review.push(d);
            }
        }
        book
    }

    fn family(&self, list: &str, entity: &str) -> Option<&Family> {
        self.families.get(&(list.to_string(), entity.to_string()))
    }

    /// The exempt in force for `entity` on `list` on `as_of`: the newest
    /// standing exempt (approved, under two officers), not revoked, whose
    /// `until` is not before `as_of`.
    pub fn exemption(&self, list: &ListSpec, entity: &str, as_of: AsOf) -> Option<&Decision> {
        let family = self.family(&list.id, entity)?;
        let mut standing: Option<(&Decision, bool)> = None;
        for d in &family.exemption {
            match d.action {
                Action::Exempt => standing = Some((d, list.approval == Approval::Single)),
                Action::RevokeExemption => standing = None,
                Action::Approve => {
                    if let Some((e, approved)) = standing.as_mut() {
                        if d.approves == Some(e.id) {
                            *approved = true;
                        }
                    }
                }
                Action::SendBack if standing.is_some_and(|(e, _)| d.approves == Some(e.id)) => standing = None,
                _ => {}
            }
        }
        match standing {
            Some((e, true)) if e.until.is_some_and(|u| as_of <= u) => Some(e),
            _ => None,
        }
    }

    /// Whether an exemption of `entity` from `list` is in force on `as_of`.
    pub fn exempt(&self, list: &ListSpec, entity: &str, as_of: AsOf) -> bool {
        self.exemption(list, entity, as_of).is_some()
    }

    /// Entities of `list` exempt on `as_of`, sorted.
    pub fn exempt_entities(&self, list: &ListSpec, as_of: AsOf) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .families
            .keys()
            .filter(|(l, e)| l == &list.id && self.exempt(list, e, as_of))
            .map(|(_, e)| e.as_str())
            .collect();
        out.sort_unstable();
        out
    }

    /// The exempt of `entity` that awaits its approval, if any.
    pub fn exemption_awaiting(&self, list: &ListSpec, entity: &str) -> Option<&Decision> {
        if list.approval != Approval::TwoOfficers {
            return None;
        }
        let family = self.family(&list.id, entity)?;
        let mut pending: Option<&Decision> = None;
        for d in &family.exemption {
            match d.action {
                Action::Exempt => pending = Some(d),
                Action::RevokeExemption => pending = None,
                Action::Approve | Action::SendBack if pending.is_some_and(|e| d.approves == Some(e.id)) => {
                    pending = None
                }
                _ => {}
            }
        }
        pending
    }

    /// The exemption family of (list, entity), oldest first.
    pub fn exemption_decisions(&self, list: &str, entity: &str) -> &[Decision] {
        self.family(list, entity).map(|f| f.exemption.as_slice()).unwrap_or(&[])
    }

    /// The review family of (list, entity), oldest first.
    pub fn review_decisions(&self, list: &str, entity: &str) -> &[Decision] {
        self.family(list, entity).map(|f| f.review.as_slice()).unwrap_or(&[])
    }
}

/// What the review of one member depends on besides the decisions.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    pub basis: Basis,
    /// The member's rules (joint) or the rule ids of its reasons (direct).
    pub rules: &'a [String],
    /// Whether the publication in force holds it (an unbroken stretch).
    pub published_before: bool,
    /// Decisions with an id up to this one were made before the member
    /// last left the list (0: it never did): they cover nothing now.
    pub stretch_after: i64,
}

/// Whether a decision recorded `basis` and `rules` equal to the member's now.
pub fn holds(d: &Decision, basis: Basis, rules: &[String]) -> bool {
    let mut now: Vec<&str> = rules.iter().map(|s| s.as_str()).collect();
    now.sort_unstable();
    let mut then: Vec<&str> = d.rules.iter().flatten().map(|s| s.as_str()).collect();
    then.sort_unstable();
    d.basis.as_deref() == Some(basis.as_str()) && now == then
}

/// Where a member's review stands, read from its review family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Standing<'a> {
    /// The notice in force, if any.
    pub notice: Option<&'a Decision>,
    /// The party's objection after that notice, if any.
    pub objection: Option<&'a Decision>,
    /// The confirm in force (not sent back), and whether it was approved.
    pub confirm: Option<(&'a Decision, bool)>,
    pub reject: Option<&'a Decision>,
    /// The newest decision that counts.
    pub last: Option<&'a Decision>,
}

/// Reads a review family: the decisions that hold for `member`, in order.
pub fn standing<'a>(decisions: &'a [Decision], member: Member) -> Standing<'a> {
    let mut s = Standing::default();
    for d in decisions {
        if d.id <= member.stretch_after {
            continue;
        }
        match d.action {
            // A decision about another basis or other rules covers nothing now.
            Action::Notify | Action::Confirm | Action::Reject if !holds(d, member.basis, member.rules) => {}
            Action::Notify => {
                s.notice = Some(d);
                s.objection = None;
                s.last = Some(d);
            }
            Action::Object => {
                if s.notice.is_some() {
                    s.objection = Some(d);
                    s.last = Some(d);
                }
            }
            Action::Confirm => {
                s.confirm = Some((d, false));
                s.reject = None;
                s.last = Some(d);
            }
            Action::Reject => {
                s.reject = Some(d);
                s.confirm = None;
                s.last = Some(d);
            }
            Action::Approve => {
                if let Some((c, approved)) = s.confirm.as_mut() {
                    if d.approves == Some(c.id) {
                        *approved = true;
                    }
                }
            }
            Action::SendBack => {
                if s.confirm.is_some_and(|(c, _)| d.approves == Some(c.id)) {
                    s.confirm = None;
                    s.last = s.objection.or(s.notice);
                }
            }
            Action::Exempt | Action::RevokeExemption => {}
        }
    }
    s
}

impl Standing<'_> {
    /// Whether the notice rule lets `confirm` stand: no notice needed, or a
    /// notice in force whose deadline had passed, or an objection after it.
    pub fn notice_met(&self, list: &ListSpec, confirm: &Decision) -> bool {
        if list.notice_days == 0 {
            return true;
        }
        match self.notice {
            None => false,
            Some(n) => {
                self.objection.is_some_and(|o| o.id < confirm.id)
                    || n.deadline.zip(confirm.day()).is_some_and(|(deadline, day)| day > deadline)
            }
        }
    }
}

/// A member's review status and, when noticed, the notice's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: ReviewStatus,
    pub notice_deadline: Option<AsOf>,
}

/// The review status of a member of `list` as of `as_of` (before the
/// `held` rule, which needs every root's status: see [`hold_rootless`]).
pub fn status(list: &ListSpec, decisions: &[Decision], member: Member, as_of: AsOf) -> Outcome {
    let plain = |status| Outcome { status, notice_deadline: None };
    if list.review == Review::None || member.published_before {
        return plain(ReviewStatus::Published);
    }
    let s = standing(decisions, member);
    let Some(last) = s.last else { return plain(ReviewStatus::Pending) };
    match last.action {
        Action::Notify => match last.deadline {
            Some(deadline) if as_of <= deadline => {
                Outcome { status: ReviewStatus::Noticed, notice_deadline: Some(deadline) }
            }
            // Deadline passed, no objection: ready to decide.
            _ => plain(ReviewStatus::Pending),
        },
        Action::Object => plain(ReviewStatus::Objected),
        Action::Reject => plain(ReviewStatus::Rejected),
        Action::Confirm => match s.confirm {
            Some((_, false)) if list.approval == Approval::TwoOfficers => plain(ReviewStatus::AwaitingApproval),
            Some((c, _)) if s.notice_met(list, c) => plain(ReviewStatus::Published),
            _ => plain(ReviewStatus::Pending),
        },
        _ => plain(ReviewStatus::Pending),
    }
}

/// The `held` rule: a joint member that would be published but none of
/// whose roots is published is held. `statuses` are by entity; `roots`
/// give each joint member's roots.
pub fn hold_rootless<K: std::hash::Hash + Eq + Clone>(statuses: &mut HashMap<K, Outcome>, joint: &[(K, Vec<K>)]) {
    let published = |s: &HashMap<K, Outcome>, e: &K| s.get(e).is_some_and(|o| o.status == ReviewStatus::Published);
    let held: Vec<K> = joint
        .iter()
        .filter(|(e, roots)| published(statuses, e) && !roots.iter().any(|r| published(statuses, r)))
        .map(|(e, _)| e.clone())
        .collect();
    for e in held {
        statuses.insert(e, Outcome { status: ReviewStatus::Held, notice_deadline: None });
    }
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;

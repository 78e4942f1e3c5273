//! The review status table of publication.md v2, one rule a test, on
//! hand-made decision sequences.

use std::collections::HashMap;

use super::*;

const L: &str = "l";
const E: &str = "91350100M000100Y43";

fn list(notice_days: i64, approval: Approval) -> ListSpec {
    ListSpec {
        id: L.into(),
        title: "t".into(),
        grades: vec![0],
        review: Review::Additions,
        measures: vec!["m".into()],
        notice_days,
        approval,
        max_exemption_days: 365,
        legal_basis: None,
    }
}

fn day(s: &str) -> AsOf {
    s.parse().unwrap()
}

/// A decision made on `on` (its `decided_at` day).
fn d(id: i64, action: Action, on: &str) -> Decision {
    let rules = matches!(action, Action::Notify | Action::Confirm | Action::Reject).then(|| vec!["R1".to_string()]);
    Decision {
        id,
        list_id: L.into(),
        entity_id: E.into(),
        action,
        officer: format!("officer{id}"),
        reason: "a reason long enough".into(),
        until: None,
        basis: rules.as_ref().map(|_| "direct".to_string()),
        rules,
        decided_at: format!("{on}T10:00:00Z"),
        approves: None,
        deadline: None,
        document: None,
        document_sha256: None,
        received_on: None,
    }
}

fn notify(id: i64, on: &str, days: i64) -> Decision {
    Decision { deadline: Some(day(on).plus_days(days)), ..d(id, Action::Notify, on) }
}

fn approve(id: i64, of: i64, on: &str) -> Decision {
    Decision { approves: Some(of), ..d(id, Action::Approve, on) }
}

fn exempt(id: i64, until: &str) -> Decision {
    Decision { until: Some(day(until)), ..d(id, Action::Exempt, "2026-11-01") }
}

fn rules() -> Vec<String> {
    vec!["R1".into()]
}

fn status_of(l: &ListSpec, decisions: &[Decision], as_of: &str) -> Outcome {
    let r = rules();
    let m = Member { basis: Basis::Direct, rules: &r, published_before: false, stretch_after: 0 };
    status(l, decisions, m, day(as_of))
}

#[test]
fn no_decision_is_pending_and_review_none_publishes() {
    let l = list(0, Approval::Single);
    assert_eq!(status_of(&l, &[], "2026-11-27").status, ReviewStatus::Pending);
    let none = ListSpec { review: Review::None, ..l };
    assert_eq!(status_of(&none, &[], "2026-11-27").status, ReviewStatus::Published);
}

#[test]
fn a_notice_is_noticed_until_its_deadline_then_ready_to_decide() {
    let l = list(10, Approval::Single);
    let n = [notify(1, "2026-11-10", 10)];
    let o = status_of(&l, &n, "2026-11-20");
    assert_eq!(
        (o.status, o.notice_deadline),
        (ReviewStatus::Noticed, Some(day("2026-11-20"))),
        "the deadline day is still inside"
    );
    assert_eq!(
        status_of(&l, &n, "2026-11-21").status,
        ReviewStatus::Pending,
        "window passed: pending, ready to decide"
    );
}

#[test]
fn an_objection_is_objected_until_answered() {
    let l = list(10, Approval::Single);
    let mut ds = vec![notify(1, "2026-11-10", 10), d(2, Action::Object, "2026-11-12")];
    assert_eq!(status_of(&l, &ds, "2026-11-13").status, ReviewStatus::Objected);
    ds.push(d(3, Action::Confirm, "2026-11-14"));
    assert_eq!(
        status_of(&l, &ds, "2026-11-15").status,
        ReviewStatus::Published,
        "a confirm after an objection answers it"
    );
    ds.push(d(4, Action::Reject, "2026-11-16"));
    assert_eq!(status_of(&l, &ds, "2026-11-17").status, ReviewStatus::Rejected);
}

#[test]
fn a_confirm_inside_the_window_does_not_publish() {
    let l = list(10, Approval::Single);
    let ds = [notify(1, "2026-11-10", 10), d(2, Action::Confirm, "2026-11-15")];
    assert_eq!(status_of(&l, &ds, "2026-11-27").status, ReviewStatus::Pending, "the notice rule is not met");
    let ds = [notify(1, "2026-11-10", 10), d(2, Action::Confirm, "2026-11-20")];
    assert_eq!(status_of(&l, &ds, "2026-11-27").status, ReviewStatus::Pending, "on the deadline day it does not");
    let ds = [notify(1, "2026-11-10", 10), d(2, Action::Confirm, "2026-11-21")];
    assert_eq!(status_of(&l, &ds, "2026-11-27").status, ReviewStatus::Published, "after the deadline it does");
    let ds = [d(2, Action::Confirm, "2026-11-21")];
    assert_eq!(status_of(&l, &ds, "2026-11-27").status, ReviewStatus::Pending, "no notice at all");
}

#[test]
fn under_two_officers_a_confirm_awaits_its_approval_and_a_send_back_undoes_it() {
    let l = list(0, Approval::TwoOfficers);
    let c = d(1, Action::Confirm, "2026-11-20");
    assert_eq!(status_of(&l, std::slice::from_ref(&c), "2026-11-27").status, ReviewStatus::AwaitingApproval);
    let approved = [c.clone(), approve(2, 1, "2026-11-21")];
    assert_eq!(status_of(&l, &approved, "2026-11-27").status, ReviewStatus::Published);
    let sent_back = [c.clone(), Decision { approves: Some(1), ..d(2, Action::SendBack, "2026-11-21") }];
    assert_eq!(status_of(&l, &sent_back, "2026-11-27").status, ReviewStatus::Pending);
    let other = [c, approve(2, 99, "2026-11-21")];
    assert_eq!(
        status_of(&l, &other, "2026-11-27").status,
        ReviewStatus::AwaitingApproval,
        "an approve of another decision"
    );
}

#[test]
fn a_decision_holds_only_while_basis_and_rules_stay_the_same() {
    let l = list(0, Approval::Single);
    let ds = [d(1, Action::Reject, "2026-11-20")];
    let other = vec!["R2".to_string()];
    let m = Member { basis: Basis::Direct, rules: &other, published_before: false, stretch_after: 0 };
    assert_eq!(status(&l, &ds, m, day("2026-11-27")).status, ReviewStatus::Pending, "new rules: an addition again");
    let r = rules();
    let joint = Member { basis: Basis::Joint, rules: &r, published_before: false, stretch_after: 0 };
    assert_eq!(status(&l, &ds, joint, day("2026-11-27")).status, ReviewStatus::Pending, "new basis");
    let ds = [notify(1, "2026-11-10", 10)];
    assert_eq!(
        status(&list(10, Approval::Single), &ds, m, day("2026-11-12")).status,
        ReviewStatus::Pending,
        "a notice too"
    );
}

/// An objection answers the notice it follows: when that notice no longer
/// holds (the member's rules changed, or it was made before the member
/// last left the list), the objection goes with it and the member is an
/// addition again, with no notice (publication.md v2). A mutant that kept
/// such an objection (`objected`) survived every test before.
#[test]
fn an_objection_without_a_notice_that_holds_counts_for_nothing() {
    let l = list(10, Approval::Single);
    let ds = [notify(1, "2026-11-10", 10), d(2, Action::Object, "2026-11-12")];
    assert_eq!(status_of(&l, &ds, "2026-11-13").status, ReviewStatus::Objected);
    let other = vec!["R2".to_string()];
    let changed = Member { basis: Basis::Direct, rules: &other, published_before: false, stretch_after: 0 };
    assert_eq!(status(&l, &ds, changed, day("2026-11-13")).status, ReviewStatus::Pending, "new rules");
    let r = rules();
    let back = Member { basis: Basis::Direct, rules: &r, published_before: false, stretch_after: 1 };
    assert_eq!(status(&l, &ds, back, day("2026-11-13")).status, ReviewStatus::Pending, "a new stretch");
}

/// A new notice starts a new window: an objection to the notice before
/// it does not let a confirm inside the new window through. And a confirm
/// sent back leaves the objection it was to answer unanswered.
#[test]
fn a_new_notice_starts_a_new_window_and_a_send_back_leaves_the_objection_open() {
    let l = list(10, Approval::Single);
    let ds = [
        notify(1, "2026-11-01", 10),
        d(2, Action::Object, "2026-11-03"),
        notify(3, "2026-11-20", 10),
        d(4, Action::Confirm, "2026-11-22"),
    ];
    assert_eq!(status_of(&l, &ds, "2026-11-23").status, ReviewStatus::Pending, "inside the new notice's window");
    let two = list(10, Approval::TwoOfficers);
    let ds = [
        notify(1, "2026-11-01", 10),
        d(2, Action::Object, "2026-11-03"),
        d(3, Action::Confirm, "2026-11-04"),
        Decision { approves: Some(3), ..d(4, Action::SendBack, "2026-11-05") },
    ];
    assert_eq!(status_of(&two, &ds[..3], "2026-11-06").status, ReviewStatus::AwaitingApproval);
    assert_eq!(status_of(&two, &ds, "2026-11-06").status, ReviewStatus::Objected, "the objection is unanswered again");
}

#[test]
fn a_confirm_covers_one_stretch_on_the_list() {
    let l = list(0, Approval::Single);
    let ds = [d(1, Action::Confirm, "2026-11-20")];
    let r = rules();
    let back = Member { basis: Basis::Direct, rules: &r, published_before: false, stretch_after: 1 };
    assert_eq!(status(&l, &ds, back, day("2026-11-27")).status, ReviewStatus::Pending, "returned after a removal");
    let kept = Member { published_before: true, ..back };
    assert_eq!(
        status(&l, &ds, kept, day("2026-11-27")).status,
        ReviewStatus::Published,
        "still in the publication in force"
    );
}

#[test]
fn a_joint_member_without_a_published_root_is_held() {
    let published = Outcome { status: ReviewStatus::Published, notice_deadline: None };
    let pending = Outcome { status: ReviewStatus::Pending, notice_deadline: None };
    let mut s: HashMap<String, Outcome> = [("J1", published), ("J2", published), ("R1", pending), ("R2", published)]
        .map(|(k, v)| (k.to_string(), v))
        .into();
    hold_rootless(&mut s, &[("J1".into(), vec!["R1".into()]), ("J2".into(), vec!["R1".into(), "R2".into()])]);
    assert_eq!(s["J1"].status, ReviewStatus::Held);
    assert_eq!(s["J2"].status, ReviewStatus::Published, "one published root is enough");
}

#[test]
fn an_exemption_ends_and_needs_its_approval_under_two_officers() {
    let single = list(0, Approval::Single);
    let book = DecisionBook::new(vec![exempt(1, "2026-12-31")]);
    assert!(book.exempt(&single, E, day("2026-12-31")), "until is inclusive");
    assert!(!book.exempt(&single, E, day("2027-01-01")), "and then it ends");
    let two = list(0, Approval::TwoOfficers);
    assert!(!book.exempt(&two, E, day("2026-12-01")), "a proposal until approved");
    assert_eq!(book.exemption_awaiting(&two, E).map(|d| d.id), Some(1));
    let approved = DecisionBook::new(vec![exempt(1, "2026-12-31"), approve(2, 1, "2026-11-02")]);
    assert!(approved.exempt(&two, E, day("2026-12-01")));
    assert!(approved.exemption_awaiting(&two, E).is_none());
    let revoked = DecisionBook::new(vec![
        exempt(1, "2026-12-31"),
        approve(2, 1, "2026-11-02"),
        d(3, Action::RevokeExemption, "2026-11-03"),
    ]);
    assert!(!revoked.exempt(&two, E, day("2026-12-01")));
    let open_ended = DecisionBook::new(vec![d(1, Action::Exempt, "2026-11-01")]);
    assert!(!open_ended.exempt(&single, E, day("2026-11-02")), "an exempt without until is never in force");
}

#[test]
fn an_approve_joins_the_family_of_the_decision_it_names() {
    let book = DecisionBook::new(vec![
        exempt(1, "2026-12-31"),
        d(2, Action::Confirm, "2026-11-02"),
        approve(3, 2, "2026-11-03"),
        approve(4, 1, "2026-11-03"),
    ]);
    assert_eq!(book.review_decisions(L, E).iter().map(|d| d.id).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(book.exemption_decisions(L, E).iter().map(|d| d.id).collect::<Vec<_>>(), [1, 4]);
}

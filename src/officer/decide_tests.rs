//! The gate's rules, one a test, on a hand-made warehouse after a real run:
//! X (entity 1) has a grave counterfeit case (a direct member), A (2) is
//! 60% held by X (joint), B (3) is a branch of X (joint).

use super::*;
use crate::base::contract::{Contracts, Dataset};
use crate::base::marts::listings::read_listings;
use crate::config::regulator;
use crate::run::{run, RunOptions};
use crate::tools::fixture::{entity, land, person};

const LIST: &str = "serious-dishonesty";

struct World {
    _dir: tempfile::TempDir,
    wh: Warehouse,
    policy: Policy,
    store: Store,
    notices: Notices,
}

fn day(s: &str) -> AsOf {
    s.parse().unwrap()
}

/// The real day: decisions are recorded on it.
fn real_today() -> AsOf {
    AsOf::new(chrono::Utc::now().date_naive())
}

fn reg(n: u32, kind: &str, parent: Option<u32>) -> String {
    let parent = parent.map(|p| format!(r#","parent_id":"{}""#, entity(p))).unwrap_or_default();
    format!(
        r#"{{"entity_id":"{}","name":"Entity {n} <b>&</b>","entity_type":"{kind}","legal_rep_id":"{}","region":"650100","established_on":"2015-01-01","status":"active"{parent}}}"#,
        entity(n),
        person(n)
    )
}

impl World {
    /// The example policy with `notice_days` and `approval` for its list.
    fn new(notice_days: u32, approval: &str) -> World {
        World::reviewing("additions", notice_days, approval)
    }

    /// The example policy with `review`, `notice_days` and `approval` for its list.
    fn reviewing(review: &str, notice_days: u32, approval: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let text = crate::config::policy::DEFAULT_POLICY
            .replace("review: additions", &format!("review: {review}"))
            .replace("notice_days: 10 ", &format!("notice_days: {notice_days} "))
            .replace("approval: two_officers ", &format!("approval: {approval} "));
        let policy = Policy::parse("p.yaml", &text, &Contracts::load().unwrap()).unwrap();
        let date = "2026-11-25";
        let rows = [reg(1, "company", None), reg(2, "company", None), reg(3, "branch", Some(1))];
        land(&wh, Dataset::Registry, date, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        let h = format!(
            r#"{{"holder_id":"{}","holder_kind":"entity","entity_id":"{}","share_pct":60.0}}"#,
            entity(1),
            entity(2)
        );
        land(&wh, Dataset::Holdings, date, "part-0", &[&h]);
        let v = format!(
            r#"{{"case_id":"V-1","entity_id":"{}","decided_on":"2026-06-01","category":"counterfeit","severity":"grave","fine_cny":"50000.00","status":"effective","authority":"650100"}}"#,
            entity(1)
        );
        land(&wh, Dataset::Violations, date, "part-0", &[&v]);
        let store = Store::open(&wh.database()).unwrap();
        for (id, role) in
            [("olga", "officer"), ("oleg", "officer"), ("sam", "senior"), ("sue", "senior"), ("ada", "auditor")]
        {
            store.put_officer(id, role, "not-a-hash").unwrap();
        }
        let notices = Notices::load(None, regulator::load_or_default(None).unwrap()).unwrap();
        let w = World { _dir: dir, wh, policy, store, notices };
        w.run();
        w
    }

    fn run(&self) {
        let limits = crate::base::engine::EngineLimits { threads: 1, memory_limit: 1 << 30 };
        let opts = RunOptions::unsigned_for_test(self.wh.clone(), day("2026-11-25"), self.policy.clone(), limits);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(run(&opts)).unwrap();
    }

    fn desk(&self) -> Desk<'_> {
        Desk {
            warehouse: &self.wh,
            policy: &self.policy,
            store: &self.store,
            notices: &self.notices,
            listings: &crate::officer::member::FromMarts,
        }
    }

    fn decide(&self, req: Request) -> Result<Recorded, DecideError> {
        decide(&self.desk(), &Request { today: req.today.or(Some(real_today())), ..req })
    }

    fn status(&self, n: u32) -> ReviewStatus {
        let rows = read_listings(&self.wh.list_mart(Mart::Listings, LIST, day("2026-11-25"))).unwrap();
        rows.into_iter().find(|r| r.entity_id == entity(n)).unwrap().review_status
    }
}

fn req<'a>(action: Action, entity: &'a str, officer: &'a str) -> Request<'a> {
    Request {
        action: Some(action),
        list: LIST,
        entity,
        officer,
        reason: "the case file was read in full",
        ..Request::default()
    }
}

/// `officer`'s approve or send-back (`action`) of decision `of`.
fn on_decision(action: Action, of: i64, officer: &'static str) -> Request<'static> {
    Request {
        action: Some(action),
        approves: Some(of),
        officer,
        reason: "checked the proposal and the file",
        ..Request::default()
    }
}

fn refusal(r: Result<Recorded, DecideError>) -> Refusal {
    match r {
        Err(DecideError::Refused(x)) => x,
        Err(e) => panic!("failed, not refused: {e}"),
        Ok(r) => panic!("recorded #{}, expected a refusal", r.id),
    }
}

/// A reason is 10 to 4000 characters (trimmed, counted as characters:
/// Chinese counts one a character); outside, nothing is recorded.
#[test]
fn a_reason_too_short_or_too_long_is_refused() {
    let w = World::new(0, "single");
    let x = entity(1);
    let short = Request { reason: "  九个字九个字九个字 ", ..req(Action::Reject, &x, "olga") };
    assert_eq!(refusal(w.decide(short)), Refusal::ReasonTooShort { found: 9 });
    let long = "理".repeat(MAX_REASON_CHARS + 1);
    let r = refusal(w.decide(Request { reason: &long, ..req(Action::Reject, &x, "olga") }));
    assert_eq!(r, Refusal::ReasonTooLong { found: 4001 });
    assert!(
        r.to_string().contains("理由最多 4000 个字") && r.to_string().contains("at most 4000 characters, found 4001")
    );
    assert_eq!(w.store.last_decision_id().unwrap(), 0, "nothing was recorded");
    let longest = "理".repeat(MAX_REASON_CHARS);
    w.decide(Request { reason: &longest, ..req(Action::Reject, &x, "olga") }).expect("4000 characters are kept");
}

#[test]
fn an_unknown_or_removed_officer_and_a_role_that_may_not_are_refused() {
    let w = World::new(0, "single");
    let x = entity(1);
    let r = refusal(w.decide(req(Action::Confirm, &x, "nobody-registered")));
    assert_eq!(r, Refusal::UnknownOfficer { officer: "nobody-registered".into() });
    assert!(r.to_string().contains("不是已登记且在职") && r.to_string().contains("not a registered, active officer"));
    w.store.remove_officer("oleg").unwrap();
    assert!(matches!(refusal(w.decide(req(Action::Confirm, &x, "oleg"))), Refusal::UnknownOfficer { .. }));
    assert!(matches!(refusal(w.decide(req(Action::Confirm, &x, "ada"))), Refusal::RoleMayNot { .. }), "an auditor");
    let exempt = Request { until: Some(real_today().plus_days(30)), ..req(Action::Exempt, &x, "olga") };
    assert!(matches!(refusal(w.decide(exempt)), Refusal::RoleMayNot { .. }), "an officer does not exempt");
    assert_eq!(w.store.last_decision_id().unwrap(), 0, "nothing was recorded");
}

#[test]
fn a_confirm_inside_the_window_is_refused_after_the_deadline_or_an_objection_it_is_not() {
    let w = World::new(10, "single");
    let (x, a) = (entity(1), entity(2));
    assert!(
        matches!(refusal(w.decide(req(Action::Confirm, &x, "olga"))), Refusal::NoNotice { days: 10, .. }),
        "no notice yet"
    );
    // X notified 20 days ago: its window has passed.
    let long_ago = real_today().plus_days(-20);
    let n = w.decide(Request { today: Some(long_ago), ..req(Action::Notify, &x, "olga") }).unwrap();
    assert_eq!(n.deadline, Some(long_ago.plus_days(10)));
    // A notified today: its window is open.
    w.decide(req(Action::Notify, &a, "olga")).unwrap();
    let open = refusal(w.decide(req(Action::Confirm, &a, "olga")));
    assert!(matches!(open, Refusal::WindowOpen { .. }), "{open}");
    assert!(open.to_string().contains("陈述申辩期") && open.to_string().contains("a reject does not"));
    assert!(matches!(refusal(w.decide(req(Action::Notify, &a, "oleg"))), Refusal::AlreadyNoticed { .. }), "not twice");
    // The deadline day itself is inside the window (publication.md: refused until it has passed).
    let on_deadline = Request { today: Some(long_ago.plus_days(10)), ..req(Action::Confirm, &x, "olga") };
    assert!(matches!(refusal(w.decide(on_deadline)), Refusal::WindowOpen { .. }), "on the deadline day");
    w.decide(req(Action::Confirm, &x, "olga")).expect("after the deadline");
    // An objection opens the way to an answer inside the window.
    let late = Request { received_on: Some(real_today().plus_days(1)), ..req(Action::Object, &a, "oleg") };
    assert!(matches!(refusal(w.decide(late)), Refusal::ReceivedOutOfRange { .. }), "received in the future");
    w.decide(Request { received_on: Some(real_today()), ..req(Action::Object, &a, "oleg") }).unwrap();
    w.decide(req(Action::Confirm, &a, "oleg")).expect("an objection recorded: the confirm answers it");
    w.run();
    assert_eq!(w.status(1), ReviewStatus::Published);
    assert_eq!(w.status(2), ReviewStatus::Published);
}

#[test]
fn a_reject_is_allowed_inside_the_window() {
    let w = World::new(10, "single");
    let x = entity(1);
    w.decide(req(Action::Notify, &x, "olga")).unwrap();
    w.decide(req(Action::Reject, &x, "olga")).expect("a reject is always allowed");
    w.run();
    assert_eq!(w.status(1), ReviewStatus::Rejected);
    // The reject was the newest decision the run used: the member is out of the queue.
    let list = w.policy.lists.iter().find(|l| l.id == LIST).unwrap();
    let queue = crate::officer::queue::QueueBase::load(&w.wh, &w.store, list, None).unwrap().unwrap();
    let entries = queue.entries(&w.store, list, real_today()).unwrap();
    assert!(!entries.iter().any(|e| e.listing.entity_id == x), "rejected by the run and not decided since");
    // Decided again since the run: back in the queue.
    let objection = Request { received_on: Some(real_today()), ..req(Action::Object, &x, "oleg") };
    w.decide(objection).expect("the party's objection to the notice in force");
    let queue = crate::officer::queue::QueueBase::load(&w.wh, &w.store, list, None).unwrap().unwrap();
    let entries = queue.entries(&w.store, list, real_today()).unwrap();
    assert!(entries.iter().any(|e| e.listing.entity_id == x), "an objection recorded since the run");
}

#[test]
fn the_notice_is_rendered_stored_and_recorded_with_its_hash() {
    let w = World::new(10, "single");
    let x = entity(1);
    let r = w.decide(Request { lang: Lang::ZhCn, ..req(Action::Notify, &x, "olga") }).unwrap();
    let doc = r.document.clone().unwrap();
    assert!(doc.starts_with(&format!("notices/{LIST}/{x}/N")) && doc.ends_with(".html"), "{doc}");
    let d = w.store.decisions_between(r.id - 1, r.id, None, None).unwrap().pop().unwrap();
    let bytes = notice::read_document(&w.wh, &doc, d.document_sha256.as_deref().unwrap()).unwrap();
    let html = String::from_utf8(bytes).unwrap();
    for expected in [
        "列入事先告知书",
        "示范市市场监督管理局",
        "V-1",
        "严重违法失信名单",
        "陈述、申辩",
        "听证",
        "SAMR Order No. 44",
        "依法限制参加政府采购活动",
    ] {
        assert!(html.contains(expected), "{expected} in the notice");
    }
    assert!(html.contains("Entity 1 &lt;b&gt;&amp;&lt;&#x2f;b&gt;"), "the registry name is escaped: {html}");
    assert_eq!(d.basis.as_deref(), Some("direct"));
    assert_eq!(
        d.rules.as_deref(),
        Some(&["DG_FRAUD".to_string(), "V_GRAVE".to_string()][..]),
        "the rule ids of its reasons"
    );
}

#[test]
fn four_eyes_the_author_does_not_approve_and_a_changed_basis_is_not_approved() {
    let w = World::new(0, "two_officers");
    let (x, b) = (entity(1), entity(3));
    let c = w.decide(req(Action::Confirm, &x, "sam")).unwrap();
    assert!(c.needs_approval);
    let approve = |officer: &'static str, id: i64| Request {
        action: Some(Action::Approve),
        approves: Some(id),
        officer,
        reason: "checked the proposal and the file",
        ..Request::default()
    };
    assert_eq!(refusal(w.decide(approve("sam", c.id))), Refusal::OwnDecision { id: c.id });
    assert!(
        matches!(refusal(w.decide(approve("olga", c.id))), Refusal::RoleMayNot { .. }),
        "an officer does not approve"
    );
    // Another officer's reject over a proposal awaiting approval is refused.
    assert!(matches!(refusal(w.decide(req(Action::Reject, &x, "olga"))), Refusal::AwaitingApproval { .. }));
    w.run();
    assert_eq!(w.status(1), ReviewStatus::AwaitingApproval);
    // An approve whose form names another entity, or another list, than the decision's.
    for (list, entity) in [(LIST, b.as_str()), ("watch", x.as_str())] {
        let other = Request { list, entity, ..approve("sue", c.id) };
        let mismatch = Refusal::SubjectMismatch { id: c.id, list: LIST.into(), entity: x.clone() };
        assert_eq!(refusal(w.decide(other)), mismatch, "{list} {entity}");
    }
    w.decide(approve("sue", c.id)).expect("a second senior approves");
    assert!(matches!(refusal(w.decide(approve("sue", c.id))), Refusal::NotNewest { .. }), "approved once");
    w.run();
    assert_eq!(w.status(1), ReviewStatus::Published);

    // A proposal recorded for other rules than the member's now.
    let stale = w.store.add_decision(&crate::base::store::NewDecision {
        list_id: LIST,
        entity_id: &b,
        action: Some(Action::Confirm),
        officer: "sam",
        reason: "proposed before the rules changed",
        basis: Some("joint"),
        rules: Some(&["JS_CONTROL".to_string()]),
        ..Default::default()
    });
    let id = stale.unwrap();
    assert_eq!(refusal(w.decide(approve("sue", id))), Refusal::BasisChanged { id });
}

#[test]
fn an_approve_of_a_decision_that_is_no_longer_the_newest_is_refused() {
    let w = World::new(0, "two_officers");
    let x = entity(1);
    let c = w.decide(req(Action::Confirm, &x, "sam")).unwrap();
    let back = Request {
        action: Some(Action::SendBack),
        approves: Some(c.id),
        officer: "sue",
        reason: "the reasons are not stated",
        ..Request::default()
    };
    w.decide(back).unwrap();
    let again = Request {
        action: Some(Action::Approve),
        approves: Some(c.id),
        officer: "sue",
        reason: "approve after all, it seems",
        ..Request::default()
    };
    assert!(matches!(refusal(w.decide(again)), Refusal::NotNewest { .. }));
    let notify = Request {
        action: Some(Action::Approve),
        approves: Some(999),
        officer: "sue",
        reason: "approve a ghost decision",
        ..Request::default()
    };
    assert_eq!(refusal(w.decide(notify)), Refusal::NoSuchDecision { id: 999 });
}

#[test]
fn an_exemption_needs_an_end_after_today_within_the_lists_limit() {
    let w = World::new(0, "single");
    let x = entity(1);
    let today = real_today();
    let exempt = |until: Option<AsOf>| Request { until, ..req(Action::Exempt, &x, "sam") };
    assert_eq!(refusal(w.decide(exempt(None))), Refusal::Missing { field: "until", action: Action::Exempt });
    assert!(matches!(refusal(w.decide(exempt(Some(today)))), Refusal::UntilNotAfterToday { .. }));
    let too_far = refusal(w.decide(exempt(Some(today.plus_days(366)))));
    assert_eq!(
        too_far,
        Refusal::UntilTooFar { until: today.plus_days(366), latest: today.plus_days(365), max_days: 365 }
    );
    w.decide(exempt(Some(today.plus_days(365)))).expect("at the limit");
    let until_on_confirm = Request { until: Some(today.plus_days(3)), ..req(Action::Confirm, &x, "olga") };
    assert!(matches!(refusal(w.decide(until_on_confirm)), Refusal::FieldNotFor { field: "until", .. }));
    let file_on_confirm =
        Request { attachment: Some((b"%PDF".to_vec(), "pdf".into())), ..req(Action::Confirm, &x, "olga") };
    let refused = refusal(w.decide(file_on_confirm));
    assert_eq!(refused, Refusal::FieldNotFor { field: "attachment", action: Action::Confirm }, "only an objection");
}

#[test]
fn under_two_officers_an_exemption_is_a_proposal_until_approved() {
    let w = World::new(0, "two_officers");
    let x = entity(1);
    let until = real_today().plus_days(30);
    let e = w.decide(Request { until: Some(until), ..req(Action::Exempt, &x, "sam") }).unwrap();
    assert!(e.needs_approval);
    let second = refusal(w.decide(Request { until: Some(until), ..req(Action::Exempt, &x, "sue") }));
    assert!(matches!(second, Refusal::AwaitingApproval { .. }), "not recorded over it: {second}");
    w.run();
    assert_eq!(w.status(1), ReviewStatus::Pending, "not exempt yet");
    let ok = Request {
        action: Some(Action::Approve),
        approves: Some(e.id),
        officer: "sue",
        reason: "court order checked",
        ..Request::default()
    };
    w.decide(ok).unwrap();
    w.run();
    let rows = read_listings(&w.wh.list_mart(Mart::Listings, LIST, day("2026-11-25"))).unwrap();
    assert!(rows.iter().all(|r| r.entity_id != x), "exempt: not a candidate, and its joint members go with it");
}

#[test]
fn a_form_that_saw_another_state_is_refused() {
    let w = World::new(0, "single");
    let x = entity(1);
    let list = w.policy.list(LIST).unwrap();
    let seen = fingerprint(&w.desk(), list, &x, real_today()).unwrap();
    w.decide(req(Action::Reject, &x, "oleg")).unwrap();
    let r = refusal(w.decide(Request { seen: Some(&seen), ..req(Action::Confirm, &x, "olga") }));
    assert!(matches!(&r, Refusal::Stale { now } if now.contains("reject #1 by oleg")), "{r:?}");
}

/// publication.md Due process: a notice in force stays so on its deadline
/// day (no second notice then), and an objection is received between the
/// notice's day and today. A mutant that let a second notice through on
/// the deadline day, and one that took an objection received before its
/// notice, survived every test before.
#[test]
fn a_notice_holds_on_its_deadline_day_and_an_objection_is_not_received_before_it() {
    let w = World::new(10, "single");
    let x = entity(1);
    let n = w.decide(req(Action::Notify, &x, "olga")).unwrap();
    let deadline = real_today().plus_days(10);
    assert_eq!(n.deadline, Some(deadline));
    let again = refusal(w.decide(Request { today: Some(deadline), ..req(Action::Notify, &x, "oleg") }));
    assert!(matches!(again, Refusal::AlreadyNoticed { .. }), "the deadline day is inside the window: {again}");
    let early = Request { received_on: Some(real_today().plus_days(-1)), ..req(Action::Object, &x, "oleg") };
    assert!(matches!(refusal(w.decide(early)), Refusal::ReceivedOutOfRange { .. }), "before the notice");
    w.decide(Request { received_on: Some(real_today()), ..req(Action::Object, &x, "oleg") })
        .expect("on the notice's day");
}

/// publication.md v2: an exemption always ends; a proposal whose `until`
/// has passed is not approved (a mutant that approved it survived every
/// test before).
#[test]
fn an_exemption_whose_until_has_passed_is_not_approved() {
    let w = World::new(0, "two_officers");
    let x = entity(1);
    let then = real_today().plus_days(-40);
    let until = then.plus_days(30);
    let proposed =
        w.decide(Request { today: Some(then), until: Some(until), ..req(Action::Exempt, &x, "sam") }).unwrap();
    let approve = Request {
        action: Some(Action::Approve),
        approves: Some(proposed.id),
        officer: "sue",
        reason: "approved on the file as proposed",
        ..Request::default()
    };
    assert_eq!(refusal(w.decide(approve)), Refusal::ExemptionEnded { id: proposed.id, until });
}

/// Only an exemption in force is revoked; once revoked, none is left.
#[test]
fn only_an_exemption_in_force_is_revoked() {
    let w = World::new(0, "single");
    let x = entity(1);
    let revoke = || req(Action::RevokeExemption, &x, "sam");
    let none = Refusal::NoExemption { entity: x.clone(), list: LIST.into() };
    assert_eq!(refusal(w.decide(revoke())), none);
    w.decide(Request { until: Some(real_today().plus_days(30)), ..req(Action::Exempt, &x, "sam") }).unwrap();
    w.decide(revoke()).expect("the exemption in force is revoked");
    assert_eq!(refusal(w.decide(revoke())), none, "none left to revoke");
}

/// What is not a member in review is not decided: an id that is no entity
/// id, an entity not in the registry, a member already on the list, any
/// member of a list whose additions are not reviewed.
#[test]
fn only_a_registered_member_in_review_of_a_reviewed_list_is_decided() {
    let w = World::new(0, "single");
    let bad = refusal(w.decide(req(Action::Confirm, "not-an-id", "olga")));
    assert_eq!(bad, Refusal::BadEntityId("not-an-id".into()));
    let stranger = entity(9);
    let unknown = refusal(w.decide(req(Action::Confirm, &stranger, "olga")));
    assert!(matches!(unknown, Refusal::NotInRegistry { .. }), "{unknown}");
    let x = entity(1);
    w.decide(req(Action::Confirm, &x, "olga")).unwrap();
    w.run();
    assert_eq!(w.status(1), ReviewStatus::Published);
    let listed = refusal(w.decide(req(Action::Reject, &x, "olga")));
    assert!(matches!(listed, Refusal::NotInReview { status: ReviewStatus::Published, .. }), "{listed}");

    let unreviewed = World::reviewing("none", 0, "single");
    let r = refusal(unreviewed.decide(req(Action::Confirm, &x, "olga")));
    assert_eq!(r, Refusal::ReviewNotRequired { list: LIST.into() });
}

/// Another officer's confirm or reject since the run stands until the
/// next run; the officer who made it may still change it.
#[test]
fn another_officers_decision_since_the_run_stands_its_author_may_change_it() {
    let w = World::new(0, "single");
    let x = entity(1);
    let first = w.decide(req(Action::Reject, &x, "olga")).unwrap();
    let theirs = refusal(w.decide(req(Action::Confirm, &x, "oleg")));
    assert_eq!(theirs, Refusal::DecidedSinceRun { id: first.id, action: Action::Reject, officer: "olga".into() });
    w.decide(req(Action::Confirm, &x, "olga")).expect("olga changes her own decision");
}

/// Only a confirm or an exemption awaiting a second officer is approved:
/// nothing on a list where one officer decides, never a reject.
#[test]
fn only_a_proposal_awaiting_a_second_officer_is_approved() {
    let approve = |id: i64| on_decision(Action::Approve, id, "sue");
    let x = entity(1);
    let single = World::new(0, "single");
    let c = single.decide(req(Action::Confirm, &x, "olga")).unwrap();
    assert_eq!(refusal(single.decide(approve(c.id))), Refusal::ApprovalNotRequired { list: LIST.into() });
    let two = World::new(0, "two_officers");
    let r = two.decide(req(Action::Reject, &x, "olga")).unwrap();
    assert_eq!(refusal(two.decide(approve(r.id))), Refusal::NotApprovable { id: r.id, action: Action::Reject });
}

/// A send-back returns the member to review for any officer: the reject
/// its author had replaced with the confirm sent back does not stand again.
#[test]
fn a_reject_replaced_by_a_confirm_sent_back_does_not_stand_again() {
    let w = World::new(0, "two_officers");
    let x = entity(1);
    w.decide(req(Action::Reject, &x, "olga")).unwrap();
    let c = w.decide(req(Action::Confirm, &x, "olga")).unwrap();
    assert!(c.needs_approval);
    w.decide(on_decision(Action::SendBack, c.id, "sue")).unwrap();
    w.decide(req(Action::Confirm, &x, "oleg")).expect("back in review for any officer");
}

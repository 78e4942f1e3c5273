//! The one gate every officer decision passes, from the pages, the command
//! line or a bulk action (publication.md v2, "Officer decisions" and "Due
//! process"): the officer (a registered, active account) and its role, the
//! list and the entity, the notice window, four eyes, the exemption
//! limits, the approve preconditions and the state the officer saw. A
//! refused decision writes nothing and says why, in Chinese and English.
//!
//! ```text
//! request ─▶ reason ─▶ officer, role ─▶ subject (list, entity; an approve's from its decision)
//!         ─▶ fields fit the action ─▶ entity in the registry ─▶ the action's rules
//!         ─▶ the state seen is the state now ─▶ [notice rendered and stored] ─▶ one appended row
//! ```

use std::collections::BTreeSet;

use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::{AsOf, EntityId};
use crate::base::marts::listings::{Basis, ReviewStatus};
use crate::base::marts::{mart_error, registry, MartError};
use crate::base::store::{Action, Decision, NewDecision, Store, StoreError};
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::{Approval, ListSpec, Policy, Review};
use crate::officer::accounts::Role;
use crate::officer::explain::{self, ExplainError};
use crate::officer::member::{Listing, MemberError, MemberNow};
use crate::officer::notice::{self, Lang, NoticeError, Notices};
use crate::stages::review::{self, DecisionBook};

/// Fewest characters of a decision's reason (after trimming).
pub const MIN_REASON_CHARS: usize = 10;

/// The longest reason kept: a reason is read by a second officer and by
/// the party, and a page posts at most this much (the form says so too).
pub const MAX_REASON_CHARS: usize = 4000;

/// What the gate checks a decision against.
pub struct Desk<'a> {
    pub warehouse: &'a Warehouse,
    pub policy: &'a Policy,
    pub store: &'a Store,
    pub notices: &'a Notices,
    /// Where the newest listings come from ([`crate::officer::member::FromMarts`] outside the pages).
    pub listings: &'a dyn crate::officer::member::Listings,
}

/// A decision as asked for.
#[derive(Default)]
pub struct Request<'a> {
    pub action: Option<Action>,
    /// The list and entity; for an approve or send_back they may be left
    /// empty (they are those of the decision it names).
    pub list: &'a str,
    pub entity: &'a str,
    pub officer: &'a str,
    /// The reason; for an `object`, the summary of the party's statement.
    pub reason: &'a str,
    /// `exempt`: the last day the exemption is in force.
    pub until: Option<AsOf>,
    /// `approve`, `send_back`: the decision approved or sent back.
    pub approves: Option<i64>,
    /// `object`: the day the statement was received.
    pub received_on: Option<AsOf>,
    /// `object`: a document the party sent (bytes, file extension).
    pub attachment: Option<(Vec<u8>, String)>,
    /// `notify`: the notice's language.
    pub lang: Lang,
    /// The state the officer decided on ([`fingerprint`]); the command
    /// line, which shows no state, gives none.
    pub seen: Option<&'a str>,
    pub today: Option<AsOf>,
}

/// A recorded decision.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub id: i64,
    pub action: Action,
    pub list: String,
    pub entity: String,
    /// `notify`: the notice (path under the warehouse) and its deadline.
    pub document: Option<String>,
    pub deadline: Option<AsOf>,
    /// Whether it still needs a second officer's approval.
    pub needs_approval: bool,
}

/// Why a decision was refused: what the officer can act on.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    ReasonTooShort { found: usize },
    ReasonTooLong { found: usize },
    UnknownOfficer { officer: String },
    RoleMayNot { officer: String, role: String, action: Action },
    UnknownList { list: String, known: String },
    BadEntityId(String),
    NotInRegistry { entity: String, snapshot: String },
    FieldNotFor { field: &'static str, action: Action },
    Missing { field: &'static str, action: Action },
    UntilNotAfterToday { until: AsOf, today: AsOf },
    UntilTooFar { until: AsOf, latest: AsOf, max_days: i64 },
    ReceivedOutOfRange { received: AsOf, from: AsOf, today: AsOf },
    ReviewNotRequired { list: String },
    NoListing { list: String },
    NotAMember { entity: String, list: String, as_of: AsOf },
    NotInReview { entity: String, list: String, as_of: AsOf, status: ReviewStatus },
    AlreadyNoticed { id: i64, deadline: AsOf },
    NoNotice { list: String, days: i64 },
    WindowOpen { notice: i64, deadline: AsOf },
    AwaitingApproval { id: i64, action: Action, officer: String },
    DecidedSinceRun { id: i64, action: Action, officer: String },
    NoSuchDecision { id: i64 },
    SubjectMismatch { id: i64, list: String, entity: String },
    NotApprovable { id: i64, action: Action },
    ApprovalNotRequired { list: String },
    OwnDecision { id: i64 },
    NotNewest { id: i64, newer: i64, action: Action },
    BasisChanged { id: i64 },
    ExemptionEnded { id: i64, until: AsOf },
    NoExemption { entity: String, list: String },
    Stale { now: String },
}

impl Refusal {
    /// The refusal in Chinese.
    pub fn zh(&self) -> String {
        use Refusal::*;
        match self {
            ReasonTooShort { found } => format!("理由至少需要 {MIN_REASON_CHARS} 个字，现为 {found} 个字"),
            ReasonTooLong { found } => format!("理由最多 {MAX_REASON_CHARS} 个字，现为 {found} 个字"),
            UnknownOfficer { officer } => format!("“{officer}”不是已登记且在职的审核人员账户"),
            RoleMayNot { officer, role, action } => {
                format!("{officer} 的角色为 {role}，无权作出“{}”决定", action_zh(*action))
            }
            UnknownList { list, known } => format!("“{list}”不是本政策的名单（名单：{known}）"),
            BadEntityId(e) => format!("“{e}”不是有效的统一社会信用代码"),
            NotInRegistry { entity, snapshot } => format!("{entity} 不在登记簿中（快照：{snapshot}）"),
            FieldNotFor { field, action } => format!("“{field}”不适用于“{}”决定", action_zh(*action)),
            Missing { field, action } => format!("“{}”决定必须填写“{field}”", action_zh(*action)),
            UntilNotAfterToday { until, today } => format!("豁免截止日 {until} 必须晚于今天（{today}）"),
            UntilTooFar { until, latest, max_days } => {
                format!("豁免截止日 {until} 超过本名单允许的 {max_days} 天，最晚为 {latest}")
            }
            ReceivedOutOfRange { received, from, today } => {
                format!("收到日期 {received} 必须在告知日 {from} 与今天 {today} 之间")
            }
            ReviewNotRequired { list } => format!("名单 {list} 不需要审核：其成员直接公布"),
            NoListing { list } => format!("名单 {list} 尚未生成：请先运行夜间批处理"),
            NotAMember { entity, list, as_of } => format!("{entity} 不是名单 {list} 的成员（{as_of}）"),
            NotInReview { entity, list, as_of, status } => {
                format!("{entity} 在名单 {list} 中的状态为 {}（{as_of}），无需审核决定", status.as_str())
            }
            AlreadyNoticed { id, deadline } => format!("告知 #{id} 仍在陈述申辩期内（截止 {deadline}），不再重复告知"),
            NoNotice { list, days } => {
                format!("名单 {list} 要求先告知当事人并给予 {days} 天陈述申辩期：请先发出告知书")
            }
            WindowOpen { notice, deadline } => format!(
                "告知 #{notice} 的陈述申辩期至 {deadline} 才届满，且尚未收到当事人意见：期满前不能确认列入（可以不予列入）"
            ),
            AwaitingApproval { id, action, officer } => format!(
                "{officer} 的“{}”决定 #{id} 正在等待复核：请由另一名高级审核人员批准或退回，不能直接覆盖",
                action_zh(*action)
            ),
            DecidedSinceRun { id, action, officer } => format!(
                "{officer} 已于上次运行后作出“{}”决定 #{id}（下次运行生效）：如有不同意见，请与其联系，不能直接覆盖",
                action_zh(*action)
            ),
            NoSuchDecision { id } => format!("没有编号为 #{id} 的决定"),
            SubjectMismatch { id, list, entity } => format!("决定 #{id} 针对的是名单 {list} 中的 {entity}"),
            NotApprovable { id, action } => {
                format!("决定 #{id} 是“{}”，只有确认列入和豁免需要复核", action_zh(*action))
            }
            ApprovalNotRequired { list } => format!("名单 {list} 不要求双人复核"),
            OwnDecision { id } => format!("决定 #{id} 是您本人作出的：须由另一名高级审核人员复核"),
            NotNewest { id, newer, action } => {
                format!("决定 #{id} 之后已有“{}”决定 #{newer}：它已不是最新决定，不能再复核", action_zh(*action))
            }
            BasisChanged { id } => format!("决定 #{id} 作出后，该成员的列入依据或规则已变化：请重新审核"),
            ExemptionEnded { id, until } => format!("豁免 #{id} 已于 {until} 到期"),
            NoExemption { entity, list } => format!("{entity} 在名单 {list} 中没有有效的豁免"),
            Stale { now } => format!("页面显示的状态已过期，当前状态：{now}。请核对后重新决定"),
        }
    }

    /// The refusal in English.
    pub fn en(&self) -> String {
        use Refusal::*;
        match self {
            ReasonTooShort { found } => {
                format!("the reason must have at least {MIN_REASON_CHARS} characters, found {found}")
            }
            ReasonTooLong { found } => {
                format!("the reason may have at most {MAX_REASON_CHARS} characters, found {found}")
            }
            UnknownOfficer { officer } => format!("'{officer}' is not a registered, active officer account"),
            RoleMayNot { officer, role, action } => {
                format!("{officer} has the role {role}, which may not {}", action.as_str())
            }
            UnknownList { list, known } => format!("'{list}' is not a list of the policy (lists: {known})"),
            BadEntityId(e) => format!("'{e}' is not a valid entity id"),
            NotInRegistry { entity, snapshot } => format!("entity {entity} is not in the registry (snapshot {snapshot})"),
            FieldNotFor { field, action } => format!("{field} does not apply to {}", action.as_str()),
            Missing { field, action } => format!("{} needs {field}", action.as_str()),
            UntilNotAfterToday { until, today } => format!("the exemption's end {until} must be after today ({today})"),
            UntilTooFar { until, latest, max_days } => {
                format!("the exemption's end {until} is more than the list's {max_days} days ahead: {latest} at most")
            }
            ReceivedOutOfRange { received, from, today } => {
                format!("the date received {received} must be between the notice's day {from} and today {today}")
            }
            ReviewNotRequired { list } => format!("list {list} is published without review"),
            NoListing { list } => format!("no run has produced list {list} yet: run the nightly batch first"),
            NotAMember { entity, list, as_of } => format!("{entity} is not a member of {list} as of {as_of}"),
            NotInReview { entity, list, as_of, status } => {
                format!("{entity} is {} on {list} as of {as_of}: there is nothing to review", status.as_str())
            }
            AlreadyNoticed { id, deadline } => {
                format!("notice #{id} is still open for objections until {deadline}; it is not issued twice")
            }
            NoNotice { list, days } => {
                format!("list {list} gives the party {days} days after a notice to object: notify the party first")
            }
            WindowOpen { notice, deadline } => format!(
                "the objection window of notice #{notice} runs until {deadline} and no objection was recorded: a confirm waits until it has passed (a reject does not)"
            ),
            AwaitingApproval { id, action, officer } => format!(
                "{officer}'s {} #{id} awaits a second officer's approval: a senior approves or sends it back; it is not overridden",
                action.as_str()
            ),
            DecidedSinceRun { id, action, officer } => format!(
                "{officer} recorded {} #{id} since the last run (it takes effect in the next): talk to them; it is not overridden",
                action.as_str()
            ),
            NoSuchDecision { id } => format!("there is no decision #{id}"),
            SubjectMismatch { id, list, entity } => format!("decision #{id} is about {entity} on {list}"),
            NotApprovable { id, action } => {
                format!("decision #{id} is a {}: only a confirm or an exempt needs approval", action.as_str())
            }
            ApprovalNotRequired { list } => format!("list {list} does not need a second officer's approval"),
            OwnDecision { id } => format!("you made decision #{id}: another senior officer approves it"),
            NotNewest { id, newer, action } => {
                format!("decision #{id} is no longer the newest of its kind: {} #{newer} came after it", action.as_str())
            }
            BasisChanged { id } => {
                format!("the member's basis or rules changed since decision #{id} was made: it must be reviewed again")
            }
            ExemptionEnded { id, until } => format!("exemption #{id} ended on {until}"),
            NoExemption { entity, list } => format!("no exemption of {entity} from {list} is in force"),
            Stale { now } => format!("the page showed an older state; now: {now}. Check and decide again"),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.zh(), self.en())
    }
}

impl std::error::Error for Refusal {}

/// A decision's name in Chinese.
pub fn action_zh(a: Action) -> &'static str {
    match a {
        Action::Notify => "告知",
        Action::Object => "陈述申辩",
        Action::Confirm => "确认列入",
        Action::Approve => "复核批准",
        Action::SendBack => "复核退回",
        Action::Reject => "不予列入",
        Action::Exempt => "豁免",
        Action::RevokeExemption => "撤销豁免",
    }
}

/// A decision was refused, or could not be checked or recorded.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Member(#[from] MemberError),
    #[error(transparent)]
    Read(#[from] MartError),
    #[error(transparent)]
    Explain(#[from] ExplainError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Classify for DecideError {
    fn kind(&self) -> ErrorKind {
        match self {
            DecideError::Refused(_) => ErrorKind::Input,
            DecideError::Member(e) => e.kind(),
            DecideError::Read(e) => e.kind(),
            DecideError::Explain(e) => e.kind(),
            DecideError::Notice(e) => e.kind(),
            DecideError::Store(e) => e.kind(),
        }
    }
}

fn refuse<T>(r: Refusal) -> Result<T, DecideError> {
    Err(DecideError::Refused(r))
}

/// The state of (list, entity) a decision form shows: the member's review
/// state and the newest decision of each family. A decision whose form
/// saw another state is refused as stale.
pub fn fingerprint(desk: &Desk, list: &ListSpec, entity: &str, today: AsOf) -> Result<String, DecideError> {
    let book = book_of(desk.store, &list.id, entity)?;
    let listing = desk.listings.newest(desk.warehouse, desk.store, list)?;
    Ok(fingerprint_with(&book, listing.as_deref(), list, entity, today))
}

/// [`fingerprint`] from what the caller has read already.
pub fn fingerprint_with(
    book: &DecisionBook,
    listing: Option<&Listing>,
    list: &ListSpec,
    entity: &str,
    today: AsOf,
) -> String {
    let member = listing.and_then(|l| l.member(list, book, entity, today)).map(|m| m.fingerprint());
    let exemption = book.exemption_decisions(&list.id, entity).last().map(|d| d.id).unwrap_or(0);
    format!("{}|x#{exemption}", member.unwrap_or_else(|| "none".into()))
}

/// Every decision about (list, entity) so far.
fn book_of(store: &Store, list: &str, entity: &str) -> Result<DecisionBook, StoreError> {
    Ok(DecisionBook::new(store.decisions(store.last_decision_id()?, Some(list), Some(entity))?))
}

/// Checks a decision and appends it.
pub fn decide(desk: &Desk, req: &Request) -> Result<Recorded, DecideError> {
    let action = req.action.expect("a request names its action");
    let today = req.today.unwrap_or_else(|| AsOf::new(chrono::Utc::now().date_naive()));
    let reason = req.reason.trim();
    let reason_chars = reason.chars().count();
    if reason_chars < MIN_REASON_CHARS {
        return refuse(Refusal::ReasonTooShort { found: reason_chars });
    }
    if reason_chars > MAX_REASON_CHARS {
        return refuse(Refusal::ReasonTooLong { found: reason_chars });
    }
    let officer = deciding_officer(desk.store, req.officer.trim(), action)?;
    let Subject { approved, list, entity } = subject(desk, req, action)?;
    let entity = entity.as_str();

    let book = book_of(desk.store, &list.id, entity)?;
    let listing = desk.listings.newest(desk.warehouse, desk.store, list)?;
    let listing = listing.as_deref();
    if let Some(seen) = req.seen {
        not_stale(&book, listing, list, entity, today, seen)?;
    }

    let mut new = NewDecision {
        list_id: &list.id,
        entity_id: entity,
        action: Some(action),
        officer,
        reason,
        ..NewDecision::default()
    };
    let mut recorded_rules: Vec<String> = Vec::new();
    let mut stored: Option<notice::Stored> = None;
    match action {
        Action::Exempt => new.until = Some(exemption_until(req, list, &book, entity, today)?),
        Action::RevokeExemption => {
            if !book.exempt(list, entity, today) {
                return refuse(Refusal::NoExemption { entity: entity.into(), list: list.id.clone() });
            }
        }
        Action::Approve | Action::SendBack => {
            let target = approved.as_ref().expect("an approve names its decision");
            approvable(list, &book, listing, target, officer, today)?;
            new.approves = Some(target.id);
        }
        Action::Notify | Action::Object | Action::Confirm | Action::Reject => {
            let m = in_review(list, &book, listing, entity, today)?;
            review_rules(list, &m, action, officer, req, today)?;
            if matches!(action, Action::Notify | Action::Confirm | Action::Reject) {
                new.basis = Some(m.row.basis.as_str());
                recorded_rules = m.rules.clone();
            }
            match action {
                Action::Notify => {
                    let deadline = today.plus_days(list.notice_days);
                    stored = Some(store_notice(desk, req, list, &m, today, deadline)?);
                    new.deadline = Some(deadline);
                }
                Action::Object => {
                    new.received_on = req.received_on;
                    if let Some((bytes, ext)) = &req.attachment {
                        stored = Some(store_objection(desk, list, &m, bytes, ext, today)?);
                    }
                }
                _ => {}
            }
        }
    }
    if !recorded_rules.is_empty() || new.basis.is_some() {
        new.rules = Some(&recorded_rules);
    }
    if let Some(s) = &stored {
        new.document = Some(&s.path);
        new.document_sha256 = Some(&s.sha256);
    }
    let id = desk.store.add_decision(&new)?;
    let deadline = new.deadline;
    let needs_approval = list.approval == Approval::TwoOfficers && matches!(action, Action::Confirm | Action::Exempt);
    Ok(Recorded {
        id,
        action,
        list: list.id.clone(),
        entity: entity.to_string(),
        document: stored.map(|s| s.path),
        deadline,
        needs_approval,
    })
}

/// The officer deciding: a registered, active account whose role may
/// take `action`.
fn deciding_officer<'o>(store: &Store, officer: &'o str, action: Action) -> Result<&'o str, DecideError> {
    let Some((role, _)) = store.officer(officer)? else {
        return refuse(Refusal::UnknownOfficer { officer: officer.into() });
    };
    let role = Role::parse(&role).unwrap_or(Role::Auditor);
    if !role.may(action) {
        return refuse(Refusal::RoleMayNot { officer: officer.into(), role: role.as_str().into(), action });
    }
    Ok(officer)
}

/// What a decision is about: the list and entity, and for an approve or
/// send_back the decision it names (whose list and entity they are).
struct Subject<'p> {
    approved: Option<Decision>,
    list: &'p ListSpec,
    entity: String,
}

/// The request's subject, checked: the decision an approve names exists
/// and is about the list and entity given (if given), the list is the
/// policy's, the entity id is well formed and in the newest registry, and
/// no field is given that the action does not take.
fn subject<'p>(desk: &Desk<'p>, req: &Request, action: Action) -> Result<Subject<'p>, DecideError> {
    let approved: Option<Decision> = match (action, req.approves) {
        (Action::Approve | Action::SendBack, None) => return refuse(Refusal::Missing { field: "decision", action }),
        (Action::Approve | Action::SendBack, Some(id)) => {
            match desk.store.decisions_between(id - 1, id, None, None)?.pop() {
                Some(d) => Some(d),
                None => return refuse(Refusal::NoSuchDecision { id }),
            }
        }
        (_, Some(_)) => return refuse(Refusal::FieldNotFor { field: "decision", action }),
        (_, None) => None,
    };
    let (list_id, entity) = match &approved {
        Some(d) => {
            let differs = |given: &str, is: &str| !given.is_empty() && given != is;
            if differs(req.list, &d.list_id) || differs(req.entity, &d.entity_id) {
                return refuse(Refusal::SubjectMismatch {
                    id: d.id,
                    list: d.list_id.clone(),
                    entity: d.entity_id.clone(),
                });
            }
            (d.list_id.as_str(), d.entity_id.as_str())
        }
        None => (req.list, req.entity),
    };
    for (value, field) in [(list_id, "list"), (entity, "entity")] {
        if value.trim().is_empty() {
            return refuse(Refusal::Missing { field, action });
        }
    }
    let Some(list) = desk.policy.list(list_id) else {
        return refuse(Refusal::UnknownList {
            list: list_id.into(),
            known: desk.policy.lists.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", "),
        });
    };
    if EntityId::parse(entity).is_none() {
        return refuse(Refusal::BadEntityId(entity.into()));
    }
    for (given, field, applies) in [
        (req.until.is_some(), "until", action == Action::Exempt),
        (req.received_on.is_some(), "received", action == Action::Object),
        (req.attachment.is_some(), "attachment", action == Action::Object),
    ] {
        if given && !applies {
            return refuse(Refusal::FieldNotFor { field, action });
        }
    }
    in_registry(desk.warehouse, entity)?;
    let entity = entity.to_string();
    Ok(Subject { approved, list, entity })
}

/// Refuses a decision whose form saw another state of (list, entity)
/// than now (`seen`, its [`fingerprint`]), saying what the state is now
/// and the newest decision that made it.
fn not_stale(
    book: &DecisionBook,
    listing: Option<&Listing>,
    list: &ListSpec,
    entity: &str,
    today: AsOf,
    seen: &str,
) -> Result<(), DecideError> {
    if fingerprint_with(book, listing, list, entity, today) == seen {
        return Ok(());
    }
    let member = listing.and_then(|l| l.member(list, book, entity, today));
    let now = match member {
        Some(m) => format!("{} ({} {})", m.now.status.as_str(), m.row.basis.as_str(), m.rules.join(", ")),
        None => "not a member".into(),
    };
    let newest = [book.review_decisions(&list.id, entity).last(), book.exemption_decisions(&list.id, entity).last()]
        .into_iter()
        .flatten()
        .max_by_key(|d| d.id);
    let now = match newest {
        Some(d) => format!("{now}; {} #{} by {}", d.action.as_str(), d.id, d.officer),
        None => now,
    };
    refuse(Refusal::Stale { now })
}

/// An exemption's last day: given, after today, within the list's
/// longest exemption, and no other exemption decision awaiting approval.
fn exemption_until(
    req: &Request,
    list: &ListSpec,
    book: &DecisionBook,
    entity: &str,
    today: AsOf,
) -> Result<AsOf, DecideError> {
    let action = Action::Exempt;
    let Some(until) = req.until else { return refuse(Refusal::Missing { field: "until", action }) };
    if until <= today {
        return refuse(Refusal::UntilNotAfterToday { until, today });
    }
    let latest = today.plus_days(list.max_exemption_days);
    if until > latest {
        return refuse(Refusal::UntilTooFar { until, latest, max_days: list.max_exemption_days });
    }
    if let Some(d) = book.exemption_awaiting(list, entity) {
        return refuse(Refusal::AwaitingApproval { id: d.id, action: d.action, officer: d.officer.clone() });
    }
    Ok(until)
}

/// The entity as a member of the newest listing of a list that reviews
/// its members, in review (not on the list) now: what a review decision
/// (notify, object, confirm, reject) is about.
fn in_review<'a>(
    list: &ListSpec,
    book: &'a DecisionBook,
    listing: Option<&'a Listing>,
    entity: &str,
    today: AsOf,
) -> Result<MemberNow<'a>, DecideError> {
    if list.review == Review::None {
        return refuse(Refusal::ReviewNotRequired { list: list.id.clone() });
    }
    let Some(listing) = listing else { return refuse(Refusal::NoListing { list: list.id.clone() }) };
    let Some(m) = listing.member(list, book, entity, today) else {
        return refuse(Refusal::NotAMember { entity: entity.into(), list: list.id.clone(), as_of: listing.at });
    };
    if m.now.status.on_list() {
        return refuse(Refusal::NotInReview {
            entity: entity.into(),
            list: list.id.clone(),
            as_of: listing.at,
            status: m.now.status,
        });
    }
    Ok(m)
}

/// A notice of the intended listing of member `m`, rendered in the
/// request's language with its `deadline` for objections, and stored
/// among the entity's documents.
fn store_notice(
    desk: &Desk,
    req: &Request,
    list: &ListSpec,
    m: &MemberNow,
    today: AsOf,
    deadline: AsOf,
) -> Result<notice::Stored, DecideError> {
    let id = notice::new_notice_id(today);
    let facts = notice_facts(desk, list, m, &id, today, deadline)?;
    let html = desk.notices.render(req.lang, &facts)?;
    let path = notice::documents_dir(&list.id, &m.row.entity_id).join(format!("{id}.html"));
    Ok(notice::store_document(desk.warehouse, &path, html.as_bytes())?)
}

/// A document the party sent with its objection (`bytes`, of extension
/// `ext`), stored beside the notice in force, named after it.
fn store_objection(
    desk: &Desk,
    list: &ListSpec,
    m: &MemberNow,
    bytes: &[u8],
    ext: &str,
    today: AsOf,
) -> Result<notice::Stored, DecideError> {
    let notice = m.standing().notice.cloned().expect("checked: a notice is in force");
    let stem = notice
        .document
        .as_deref()
        .and_then(|p| std::path::Path::new(p).file_stem())
        .map(|s| s.to_string_lossy().into_owned());
    let name = format!(
        "{}.objection-{}.{ext}",
        stem.unwrap_or_else(|| format!("notice-{}", notice.id)),
        notice::new_notice_id(today).split('-').next_back().unwrap_or("0")
    );
    let path = notice::documents_dir(&list.id, &m.row.entity_id).join(name);
    Ok(notice::store_document(desk.warehouse, &path, bytes)?)
}

/// The entity is in the registry as the newest run accepted it.
fn in_registry(wh: &Warehouse, entity: &str) -> Result<(), DecideError> {
    let ids: BTreeSet<String> = [entity.to_string()].into();
    let newest = wh.mart_dates(Mart::Registry).pop();
    let known = match newest {
        Some(d) => registry::facts(wh, d, &ids).map_err(mart_error("the registry mart"))?.contains_key(entity),
        None => false,
    };
    if known {
        return Ok(());
    }
    let snapshot = match newest {
        Some(d) => match registry::snapshot(wh, d).map_err(mart_error("the registry mart"))? {
            Some(s) => format!("ingest_date={s}"),
            None => format!("of the run as of {d}, empty"),
        },
        None => "none: no run yet".into(),
    };
    refuse(Refusal::NotInRegistry { entity: entity.into(), snapshot })
}

/// The review rules of `notify`, `object`, `confirm` and `reject`.
fn review_rules(
    list: &ListSpec,
    m: &MemberNow,
    action: Action,
    officer: &str,
    req: &Request,
    today: AsOf,
) -> Result<(), DecideError> {
    let s = m.standing();
    // A proposal awaiting approval is approved or sent back, never overridden.
    if let Some((c, false)) = s.confirm {
        if list.approval == Approval::TwoOfficers && action != Action::Object {
            return refuse(Refusal::AwaitingApproval { id: c.id, action: c.action, officer: c.officer.clone() });
        }
    }
    // Another officer's confirm or reject since the run stands until it takes effect.
    if matches!(action, Action::Confirm | Action::Reject) {
        let last = s.confirm.map(|(c, _)| c).or(s.reject);
        if let Some(d) = last.filter(|d| d.id > m.used && d.officer != officer) {
            return refuse(Refusal::DecidedSinceRun { id: d.id, action: d.action, officer: d.officer.clone() });
        }
    }
    match action {
        Action::Notify => {
            if let Some(n) = s.notice {
                if let Some(deadline) = n.deadline.filter(|d| *d >= today) {
                    if s.objection.is_none() {
                        return refuse(Refusal::AlreadyNoticed { id: n.id, deadline });
                    }
                }
            }
        }
        Action::Object => {
            let Some(n) = s.notice else {
                return refuse(Refusal::NoNotice { list: list.id.clone(), days: list.notice_days });
            };
            let Some(received) = req.received_on else {
                return refuse(Refusal::Missing { field: "received", action });
            };
            let from = n.day().unwrap_or(today);
            if received < from || received > today {
                return refuse(Refusal::ReceivedOutOfRange { received, from, today });
            }
        }
        Action::Confirm if list.notice_days > 0 => {
            let Some(n) = s.notice else {
                return refuse(Refusal::NoNotice { list: list.id.clone(), days: list.notice_days });
            };
            let deadline = n.deadline.unwrap_or(today);
            if s.objection.is_none() && today <= deadline {
                return refuse(Refusal::WindowOpen { notice: n.id, deadline });
            }
        }
        _ => {}
    }
    Ok(())
}

/// The preconditions of approving (or sending back) `target`.
fn approvable(
    list: &ListSpec,
    book: &DecisionBook,
    listing: Option<&Listing>,
    target: &Decision,
    officer: &str,
    today: AsOf,
) -> Result<(), DecideError> {
    if list.approval != Approval::TwoOfficers {
        return refuse(Refusal::ApprovalNotRequired { list: list.id.clone() });
    }
    if !matches!(target.action, Action::Confirm | Action::Exempt) {
        return refuse(Refusal::NotApprovable { id: target.id, action: target.action });
    }
    if target.officer == officer {
        return refuse(Refusal::OwnDecision { id: target.id });
    }
    let family = match target.action {
        Action::Confirm => book.review_decisions(&list.id, &target.entity_id),
        _ => book.exemption_decisions(&list.id, &target.entity_id),
    };
    if let Some(newer) = family.last().filter(|d| d.id != target.id) {
        return refuse(Refusal::NotNewest { id: target.id, newer: newer.id, action: newer.action });
    }
    match target.action {
        Action::Confirm => {
            let member = listing.and_then(|l| l.member(list, book, &target.entity_id, today));
            let holds = member.is_some_and(|m| review::holds(target, m.row.basis, &m.rules));
            if !holds {
                return refuse(Refusal::BasisChanged { id: target.id });
            }
        }
        _ => {
            if let Some(until) = target.until.filter(|u| *u < today) {
                return refuse(Refusal::ExemptionEnded { id: target.id, until });
            }
        }
    }
    Ok(())
}

/// What the notice of member `m` says.
fn notice_facts(
    desk: &Desk,
    list: &ListSpec,
    m: &MemberNow,
    id: &str,
    today: AsOf,
    deadline: AsOf,
) -> Result<notice::NoticeFacts, DecideError> {
    let e = explain::explain(desk.warehouse, desk.policy, None, &m.row.entity_id, m.at)?;
    let (name, region) = e.registry.as_ref().map(|f| (f.name.clone(), f.region.clone())).unwrap_or_default();
    let reasons = match m.row.basis {
        Basis::Direct => e
            .reasons
            .iter()
            .map(|r| notice::NoticeReason {
                rule_id: r.rule_id.clone(),
                title: r.title.clone(),
                records: r
                    .records
                    .iter()
                    .map(|c| notice::NoticeRecord {
                        id: c.record_id.clone(),
                        dataset: c.dataset.clone(),
                        date: c.date.clone(),
                        fields: c.fields.iter().filter(|(_, v)| !v.is_empty()).cloned().collect(),
                    })
                    .collect(),
            })
            .collect(),
        Basis::Joint => vec![],
    };
    let joint = (m.row.basis == Basis::Joint).then(|| notice::NoticeJoint {
        rules: m.row.rules.clone(),
        via: m
            .row
            .via
            .iter()
            .map(|v| notice::NoticeVia {
                id: v.id.clone(),
                relation: v.relation.clone(),
                share_pct: v.share_pct.map(|p| format!("{p}")),
            })
            .collect(),
        roots: m.row.roots.clone(),
    });
    Ok(notice::NoticeFacts {
        notice: notice::NoticeHeader::new(id, today, deadline, list.notice_days as u32),
        entity: notice::NoticeEntity { id: m.row.entity_id.clone(), name, region },
        list: notice::NoticeList {
            id: list.id.clone(),
            title: list.title.clone(),
            legal_basis: list.legal_basis.clone(),
            measures: list.measures.clone(),
        },
        basis: m.row.basis.as_str().to_string(),
        reasons,
        joint,
    })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

//! The due-process section of one entity on each list: the member's
//! state now, its notices and objections, and the decision forms the
//! officer may use (posted to [`super::decide`]).

use maud::{html, Markup};

use crate::base::ids::AsOf;
use crate::base::store::{Action, Decision};
use crate::config::policy::{Approval, ListSpec, Review};
use crate::officer::accounts::Role;
use crate::officer::decide::{self, DecideError};
use crate::officer::notice;
use crate::serve::officer_ui::{today, Draft, Messages, Officer, UiState};
use crate::stages::review::{DecisionBook, Standing};

/// The form value, and the message key, of a decision's action.
pub(crate) fn action_key(a: Action) -> &'static str {
    a.as_str()
}

/// The due-process section of one list on the entity page: the member's
/// state now, its notices and objections, and the forms the officer may use.
pub(crate) fn list_section(
    state: &UiState,
    o: &Officer,
    list: &ListSpec,
    entity: &str,
    next: Option<&str>,
    draft: Option<&Draft>,
) -> Result<Markup, DecideError> {
    let m = &state.messages;
    let today = today();
    let book =
        DecisionBook::new(state.store.decisions(state.store.last_decision_id()?, Some(&list.id), Some(entity))?);
    let base = state.queue_base(list)?;
    let listing = base.as_ref().map(|b| &**b.listing());
    let member = listing.and_then(|l| l.member(list, &book, entity, today));
    let seen = decide::fingerprint_with(&book, listing, list, entity, today);
    let exempt = book.exemption(list, entity, today);
    let exemption_awaiting = book.exemption_awaiting(list, entity);
    let review = book.review_decisions(&list.id, entity);
    let notices: Vec<&Decision> =
        review.iter().filter(|d| d.action == Action::Notify || d.action == Action::Object).collect();
    let forms = Forms { m, o, list, entity, seen, next, draft, today };
    let assignment = match &member {
        Some(mm) if mm.now.status != crate::base::marts::listings::ReviewStatus::Published => {
            Some(super::assign::panel(state, o, &list.id, entity)?)
        }
        _ => None,
    };
    Ok(html! {
        section class="card" aria-labelledby=(format!("decide-{}", list.id)) {
            h3 id=(format!("decide-{}", list.id)) { (list.title) " (" (list.id) ")" }
            @if let Some(mm) = &member {
                p { strong { (m.t("status_now")) ": " } (status_text(m, &mm.now.status, mm.now.notice_deadline, today, mm.ready_to_decide())) }
                @if let Some(p) = &assignment { (p) }
                @if let Some(d) = mm.standing().last.filter(|d| d.id > mm.used && matches!(d.action, Action::Confirm | Action::Reject)) {
                    p class="notice" { (m.f("awaiting_decision", &[("action", &d.action.as_str()), ("officer", &d.officer), ("id", &d.id)])) }
                }
            } @else {
                p class="muted" { (m.t("not_a_member")) }
            }
            @if list.notice_days > 0 || list.approval == Approval::TwoOfficers {
                p class="muted" { (m.f("due_process_rules", &[("days", &list.notice_days), ("approval", &m.t(match list.approval { Approval::Single => "approval_single", Approval::TwoOfficers => "approval_two" }))])) }
            }
            @if !notices.is_empty() { (notices_list(m, &notices)) }
            @if let Some(e) = exempt {
                p { (m.f("exempt_until", &[("until", &e.until.map(|u| u.to_string()).unwrap_or_default()), ("id", &e.id), ("officer", &e.officer)])) }
            }
            @if o.role == Role::Auditor { p { (m.t("auditor_read_only")) } } @else {
                @if let Some(mm) = member.as_ref().filter(|mm| !mm.now.status.on_list() && list.review == Review::Additions) {
                    (forms.review(&mm.standing()))
                }
                @if o.role == Role::Senior {
                    (forms.exemption(exempt, exemption_awaiting))
                } @else { p class="muted" { (m.t("senior_only")) } }
            }
        }
    })
}

/// The notices and objections of a member, oldest first, each with its document.
fn notices_list(m: &Messages, notices: &[&Decision]) -> Markup {
    html! {
        ul {
            @for d in notices {
                li {
                    @match d.action {
                        Action::Notify => {
                            (m.f("notice_line", &[("id", &d.id), ("officer", &d.officer), ("day", &d.day().map(|x| x.to_string()).unwrap_or_default()), ("deadline", &d.deadline.map(|x| x.to_string()).unwrap_or_default())]))
                            @if d.document.is_some() { " " a href=(format!("/documents/{}", d.id)) { (m.t("open_notice")) } }
                        }
                        _ => {
                            (m.f("objection_line", &[("id", &d.id), ("received", &d.received_on.map(|x| x.to_string()).unwrap_or_default()), ("summary", &d.reason)]))
                            @if d.document.is_some() { " " a href=(format!("/documents/{}", d.id)) { (m.t("open_attachment")) } }
                        }
                    }
                }
            }
        }
    }
}

/// The decision forms of one (list, entity) for one officer: each carries
/// the state the officer saw (`seen`) and keeps the draft a refused post
/// left (`draft`).
struct Forms<'a> {
    m: &'a Messages,
    o: &'a Officer,
    list: &'a ListSpec,
    entity: &'a str,
    seen: String,
    next: Option<&'a str>,
    draft: Option<&'a Draft>,
    today: AsOf,
}

impl Forms<'_> {
    /// The draft of `action`'s form, if the refused post was one.
    fn kept(&self, action: Action) -> Option<&Draft> {
        self.draft.filter(|d| Action::parse(&d.action) == Some(action))
    }

    fn form(&self, action: Action, extra: Markup) -> Markup {
        let draft = self.kept(action).map(|d| d.reason.as_str());
        decision_form(self.m, self.o, action, &self.list.id, self.entity, &self.seen, self.next, extra, draft)
    }

    /// The review forms of a member in review (`s`, its standing): the
    /// approval of a confirm awaiting one (a senior who did not propose
    /// it), or notify (unless a notice's window is open), object (after a
    /// notice), confirm and reject.
    fn review(&self, s: &Standing) -> Markup {
        let (m, o, list, entity, today) = (self.m, self.o, self.list, self.entity, self.today);
        let awaiting =
            s.confirm.filter(|(_, approved)| !approved && list.approval == Approval::TwoOfficers).map(|(c, _)| c);
        let open_notice = s.notice.is_some_and(|n| n.deadline.is_some_and(|d| d >= today) && s.objection.is_none());
        html! {
            @if let Some(c) = awaiting {
                p class="notice" { (m.f("awaiting_approval_of", &[("id", &c.id), ("officer", &c.officer), ("reason", &c.reason)])) }
                @if o.role == Role::Senior && c.officer != o.id {
                    (self.form(Action::Approve, approves(c.id)))
                    (self.form(Action::SendBack, approves(c.id)))
                }
            } @else {
                @if !open_notice {
                    (self.form(Action::Notify, lang_select(m, &list.id, entity)))
                }
                @if s.notice.is_some() {
                    (self.form(Action::Object, received_input(m, &list.id, entity, today, self.kept(Action::Object).map(|d| d.received.as_str()))))
                }
                (self.form(Action::Confirm, html! {}))
                (self.form(Action::Reject, html! {}))
            }
        }
    }

    /// A senior's exemption forms: the approval of an exempt awaiting one
    /// (by another senior), or revoke the exemption in force, or exempt.
    fn exemption(&self, exempt: Option<&Decision>, awaiting: Option<&Decision>) -> Markup {
        let (m, o) = (self.m, self.o);
        html! {
            @if let Some(x) = awaiting {
                p class="notice" { (m.f("awaiting_approval_of", &[("id", &x.id), ("officer", &x.officer), ("reason", &x.reason)])) }
                @if x.officer != o.id {
                    (self.form(Action::Approve, approves(x.id)))
                    (self.form(Action::SendBack, approves(x.id)))
                }
            } @else if exempt.is_some() {
                (self.form(Action::RevokeExemption, html! {}))
            } @else {
                (self.form(Action::Exempt, until_input(m, self.list, self.entity, self.today, self.kept(Action::Exempt).map(|d| d.until.as_str()))))
            }
        }
    }
}

/// A member's state now, in words.
pub(crate) fn status_text(
    m: &Messages,
    status: &crate::base::marts::listings::ReviewStatus,
    deadline: Option<AsOf>,
    today: AsOf,
    ready: bool,
) -> String {
    use crate::base::marts::listings::ReviewStatus as S;
    match (status, deadline) {
        (S::Noticed, Some(d)) => {
            m.f("state_noticed", &[("deadline", &d), ("days", &(d.date() - today.date()).num_days())])
        }
        (S::Pending, _) if ready => m.t("state_ready").to_string(),
        (s, _) => m.t(&format!("state_{}", s.as_str())).to_string(),
    }
}

fn approves(id: i64) -> Markup {
    html! { input type="hidden" name="approves" value=(id); }
}

fn lang_select(m: &Messages, list: &str, entity: &str) -> Markup {
    let id = format!("lang-{list}-{entity}");
    html! {
        label for=(id) { (m.t("notice_language")) }
        select id=(id) name="lang" {
            option value="zh-CN" selected { "中文 (zh-CN)" }
            option value="en" { "English (en)" }
        }
    }
}

fn received_input(m: &Messages, list: &str, entity: &str, today: AsOf, value: Option<&str>) -> Markup {
    let id = format!("received-{list}-{entity}");
    let file = format!("attachment-{list}-{entity}");
    html! {
        label for=(id) { (m.t("received_on")) }
        input type="date" id=(id) name="received" required max=(today.to_string()) pattern="\\d{4}-\\d{2}-\\d{2}" value=[value];
        label for=(file) { (m.t("objection_attachment")) }
        input type="file" id=(file) name="attachment" aria-describedby=(format!("{file}-hint"));
        div id=(format!("{file}-hint")) class="muted" {
            (m.f("objection_attachment_hint", &[("mib", &(notice::MAX_ATTACHMENT_BYTES / (1024 * 1024)))]))
        }
    }
}

fn until_input(m: &Messages, list: &ListSpec, entity: &str, today: AsOf, value: Option<&str>) -> Markup {
    let id = format!("until-{}-{entity}", list.id);
    let latest = today.plus_days(list.max_exemption_days);
    html! {
        label for=(id) { (m.t("until")) }
        input type="date" id=(id) name="until" required min=(today.plus_days(1).to_string()) max=(latest.to_string()) pattern="\\d{4}-\\d{2}-\\d{2}" aria-describedby=(format!("{id}-hint")) value=[value];
        div id=(format!("{id}-hint")) class="muted" { (m.f("until_hint", &[("days", &list.max_exemption_days), ("latest", &latest)])) }
    }
}

#[allow(clippy::too_many_arguments)]
fn decision_form(
    m: &Messages,
    o: &Officer,
    action: Action,
    list: &str,
    entity: &str,
    seen: &str,
    next: Option<&str>,
    extra: Markup,
    draft: Option<&str>,
) -> Markup {
    let key = action_key(action);
    let field = format!("reason-{key}-{list}-{entity}");
    let reason_label = if action == Action::Object { m.t("objection_summary") } else { m.t("reason") };
    html! {
        form method="post" action=(if action == Action::Object { "/objections" } else { "/decisions" })
            enctype=[(action == Action::Object).then_some("multipart/form-data")] class="card" {
            h4 { (m.t(key)) }
            input type="hidden" name="csrf" value=(o.csrf);
            input type="hidden" name="action" value=(key);
            input type="hidden" name="list" value=(list);
            input type="hidden" name="entity" value=(entity);
            input type="hidden" name="seen" value=(seen);
            (extra)
            label for=(field) { (reason_label) }
            textarea id=(field) name="reason" rows="2" cols="60" required minlength=(decide::MIN_REASON_CHARS) maxlength=(decide::MAX_REASON_CHARS) aria-describedby=(format!("{field}-hint")) { (draft.unwrap_or("")) }
            div id=(format!("{field}-hint")) class="muted" { (m.t("reason_hint")) }
            div {
                button class="primary" type="submit" name="go" value="stay" { (m.t(key)) }
                @if let Some(n) = next.filter(|_| matches!(action, Action::Confirm | Action::Reject | Action::Notify)) {
                    input type="hidden" name="next" value=(n);
                    " " button type="submit" name="go" value="next" { (m.t("decide_and_next")) }
                }
            }
        }
    }
}

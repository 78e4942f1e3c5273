//! The page frame (navigation, the officer, logout) and the responses
//! every page shares: HTML with no caching, 403, the error page, and audit
//! details.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::base::error::{Classify, ErrorKind};
use crate::serve::officer_ui::{AuditDetail, Officer, UiState};

/// A page that could not be made because the database or a mart failed.
/// It is never shown as an empty result: the officer gets an error page
/// (500) with a reference to quote, and the log and the audit row carry the
/// reference and the cause.
#[derive(Debug)]
pub(crate) struct PageError {
    pub(crate) reference: String,
    pub(crate) cause: String,
    pub(crate) kind: ErrorKind,
}

impl<E: Classify + std::fmt::Display> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError { reference: reference(), cause: e.to_string(), kind: e.kind() }
    }
}

/// A short random reference an officer can quote to the operators.
fn reference() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 4];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl PageError {
    /// A broken invariant found while making a page.
    pub(crate) fn bug(cause: String) -> PageError {
        PageError { reference: reference(), cause, kind: ErrorKind::Bug }
    }
}

/// What the session middleware needs to render the error page of a
/// [`PageError`] (the handler has no messages to render it with).
#[derive(Clone, Debug)]
pub(crate) struct PageFailure {
    pub(crate) reference: String,
    pub(crate) cause: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::error!(reference = %self.reference, kind = ?self.kind, cause = %self.cause, "officer page failed");
        let mut r = (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response();
        r.extensions_mut().insert(PageFailure { reference: self.reference, cause: self.cause });
        r
    }
}

/// The error page of a failed request: what happened in plain words and
/// the reference to quote; the cause stays in the log.
pub(crate) fn error_page(state: &UiState, officer: Option<&Officer>, failure: &PageFailure) -> Response {
    let m = &state.messages;
    let body = html! {
        h1 { (m.t("error_title")) }
        p { (m.t("error_body")) }
        p { (m.f("error_reference", &[("reference", &failure.reference)])) }
        p { a href="/" { (m.t("nav_dashboard")) } }
    };
    html_response(StatusCode::INTERNAL_SERVER_ERROR, page(state, officer, m.t("error_title"), body))
}

/// The page of a request the pages could not read (axum refused its path,
/// query or form before any handler ran: 400, 413, 415, 422), in the
/// officer's language instead of axum's English text, with its status.
pub(crate) fn unreadable_page(state: &UiState, officer: Option<&Officer>, status: StatusCode) -> Response {
    let m = &state.messages;
    let body = html! {
        h1 { (m.t("unreadable_title")) }
        p { (m.t("unreadable_body")) }
        p { a href="/" { (m.t("nav_dashboard")) } }
    };
    html_response(status, page(state, officer, m.t("unreadable_title"), body))
}

/// Whether `response` is axum's own refusal of a request it could not
/// read (plain text with a 400, 413, 415 or 422): every answer of the
/// pages' handlers is HTML.
pub(crate) fn refused_unread(response: &Response) -> bool {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    plain && matches!(response.status().as_u16(), 400 | 413 | 415 | 422)
}

/// A handler's result: a page, or the error page.
pub(crate) type PageResult = Result<Response, PageError>;

pub(crate) fn forbidden(state: &UiState, key: &str) -> Response {
    let m = &state.messages;
    let body = html! { (DOCTYPE) html lang=(m.t("lang")) { head { meta charset="utf-8"; title { (m.t("forbidden")) } link rel="stylesheet" href="/static/app.css"; }
    body { main { h1 { (m.t("forbidden")) } p { (m.t(key)) } p { a href="/" { (m.t("nav_dashboard")) } } } } } };
    (StatusCode::FORBIDDEN, Html(body.into_string())).into_response()
}

/// The page frame: navigation, the officer, logout, then `body`.
pub(crate) fn page(state: &UiState, officer: Option<&Officer>, title: &str, body: Markup) -> Markup {
    let m = &state.messages;
    html! {
        (DOCTYPE)
        html lang=(m.t("lang")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (m.t("app_title")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a class="skip" href="#content" { (m.t("skip_to_content")) }
                header {
                    strong { (m.t("app_title")) }
                    a href=(format!("/preferences?lang={}&back=/", m.t("switch_language_code"))) lang=(m.t("switch_language_code")) { (m.t("switch_language")) }
                    @if let Some(o) = officer {
                        nav aria-label=(m.t("app_title")) {
                            ul {
                                li { a href="/" { (m.t("nav_dashboard")) } }
                                @for l in &state.policy.lists {
                                    li { a href=(format!("/review/{}", l.id)) { (m.f("nav_queue", &[("list", &l.id)])) } }
                                }
                                li { a href="/exemptions" { (m.t("nav_exemptions")) } }
                                li { a href="/history" { (m.t("nav_history")) } }
                                @if o.role != crate::officer::accounts::Role::Officer {
                                    li { a href="/access-log" { (m.t("nav_access")) } }
                                    li { a href="/impact" { (m.t("nav_impact")) } }
                                }
                                li { a href="/search" { (m.t("nav_search")) } }
                            }
                        }
                        span { (m.f("signed_in_as", &[("officer", &o.id), ("role", &o.role.as_str())])) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(o.csrf);
                            button type="submit" { (m.t("log_out")) }
                        }
                    }
                }
                main id="content" { (body) }
            }
        }
    }
}

pub(crate) fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Html(markup.into_string())).into_response()
}

pub(crate) fn with_detail(mut r: Response, detail: String) -> Response {
    r.extensions_mut().insert(AuditDetail(detail));
    r
}

/// An entity's name as registered, marked `lang="zh"` when it is written in
/// Chinese characters, so that an English page still reads it right.
pub(crate) fn entity_name(name: &str) -> Markup {
    let lang = name.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)).then_some("zh");
    html! { span lang=[lang] { (name) } }
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn a_chinese_name_is_marked_as_chinese_and_others_are_left_to_the_page() {
        assert_eq!(
            super::entity_name("乌鲁木齐恒信商贸有限公司").into_string(),
            "<span lang=\"zh\">乌鲁木齐恒信商贸有限公司</span>"
        );
        assert_eq!(super::entity_name("Harbor <Lights>").into_string(), "<span>Harbor &lt;Lights&gt;</span>");
    }
}

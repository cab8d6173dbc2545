//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! annotations and the very types they read and write, so it cannot drift from the code.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, InternalErrorBody};
use crate::domain::search::{SearchPage, Snippet, SnippetPart};
use crate::domain::validate::FieldError;
use crate::domain::{
    AccountList, AccountStatus, Attachment, BotToken, Chat, ChatKind, ChatSummary,
    EventSubscription, HistoryPage, IncomingWebhook, Member, Message, Notification,
    NotificationLevel, PushSubscription, Reaction, Role, Session, ThreadPage, ThreadSummary, User,
    VapidPublicKey, WebhookDelivery,
};
use crate::error::ErrorCode;
use parley_types::requests::{
    CreateBotRequest, CreateSubscriptionRequest, CreateWebhookRequest, EventType, HookPostRequest,
    NotificationRequest, PushSubscriptionKeys, PushSubscriptionRequest,
};
use parley_types::{
    AdminReport, Report, ReportAction, ReportList, ReportReason, ReportRequest, ReportStatus,
    ResolveReportRequest,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley",
        description = "Self-hosted chat server: REST and WebSocket. The WebSocket frames are \
                       described in API.md; `/api/v1/ws` is listed here for its handshake.",
    ),
    paths(
        super::accounts::register,
        super::accounts::login,
        super::accounts::logout,
        super::accounts::me,
        super::accounts::change_password,
        super::accounts::lookup,
        super::accounts::get_user,
        super::chats::create_chat,
        super::chats::list_chats,
        super::chats::get_chat,
        super::chats::add_member,
        super::chats::remove_member,
        super::chats::mark_read,
        super::chats::set_notifications,
        super::chats::history,
        super::messages::send_message,
        super::messages::get_message,
        super::messages::edit_message,
        super::messages::delete_message,
        super::messages::add_reaction,
        super::messages::remove_reaction,
        super::messages::list_mentions,
        super::messages::get_thread,
        super::attachments::upload,
        super::attachments::get_attachment,
        super::attachments::content,
        super::attachments::thumbnail,
        super::search::search,
        super::push::vapid_public_key,
        super::push::subscribe,
        super::push::list_subscriptions,
        super::push::unsubscribe,
        super::bots::create_bot,
        super::bots::list_bots,
        super::bots::rotate_token,
        super::bots::delete_bot,
        super::webhooks::create_webhook,
        super::webhooks::list_webhooks,
        super::webhooks::delete_webhook,
        super::webhooks::post_through_hook,
        super::webhooks::create_event_subscription,
        super::webhooks::list_event_subscriptions,
        super::webhooks::delete_event_subscription,
        super::webhooks::list_event_deliveries,
        super::moderation::block_user,
        super::moderation::unblock_user,
        super::moderation::list_blocks,
        super::moderation::report_message,
        super::ws::connect,
        super::health::healthz,
        super::health::readyz,
        super::admin::metrics,
        super::admin::list_users,
        super::admin::deactivate_user,
        super::admin::reactivate_user,
        super::admin_reports::list_reports,
        super::admin_reports::show_report,
        super::admin_reports::resolve_report,
        openapi_json,
    ),
    components(schemas(
        User, AccountStatus, AccountList, Session, Chat, ChatKind, ChatSummary, Member, Role, Message, Reaction, Attachment, HistoryPage,
        ThreadSummary, ThreadPage, Notification, NotificationLevel, NotificationRequest,
        VapidPublicKey, PushSubscription, PushSubscriptionRequest, PushSubscriptionKeys,
        SearchPage, Snippet, SnippetPart,
        BotToken, CreateBotRequest, IncomingWebhook, CreateWebhookRequest, HookPostRequest,
        EventSubscription, CreateSubscriptionRequest, EventType, WebhookDelivery,
        Report, ReportRequest, ReportReason, ReportStatus, ReportAction, AdminReport, ReportList,
        ResolveReportRequest,
        ErrorBody, InternalErrorBody, ErrorCode, FieldError,
    )),
    modifiers(&BearerAuth, &HeadForEveryGet),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every `GET` route answers `HEAD` too (`super::Endpoint::get`): the same operation, whose
/// answers carry no body.
struct HeadForEveryGet;

impl Modify for HeadForEveryGet {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for item in openapi.paths.paths.values_mut() {
            let Some(get) = &item.get else { continue };
            let mut head = get.clone();
            head.operation_id = get.operation_id.as_ref().map(|id| format!("{id}_head"));
            head.summary = Some("The head of the GET answer, without its body".to_owned());
            for response in head.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response.content.clear();
                }
            }
            item.head = Some(head);
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/openapi.json").get(openapi_json));
}

/// The document, rendered once per process.
fn document() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The username rule is written once (`parley_types::username`); the document and the
    /// browser client state it too, and must say the same.
    #[test]
    fn the_username_rule_is_stated_as_the_server_checks_it() {
        let pattern = serde_json::to_string(parley_types::username::PATTERN).unwrap_or_default();
        let stated = document()
            .matches(&format!("\"pattern\": {pattern}"))
            .count();
        // Wherever the document states a username's characters, it states the whole rule.
        let any_rule = document().matches("\"pattern\": \"^[a-z0-9_.-]{").count();
        assert!(
            stated >= 2 && stated == any_rule,
            "{pattern}: {stated} of {any_rule}"
        );
        let form = include_str!("../../web/index.html");
        let (min, max) = (
            parley_types::username::MIN_CHARS,
            parley_types::username::MAX_CHARS,
        );
        assert!(form.contains(&format!(
            "minlength=\"{min}\" maxlength=\"{max}\" pattern=\"[a-z0-9_.\\-]{{{min},{max}}}\""
        )));
    }

    /// The document's text patterns are written by hand in `parley_types`; each must be one of
    /// the patterns `domain::validate` tests against the checks the server runs, so that what
    /// the document promises is what is checked.
    #[test]
    fn every_stated_pattern_is_one_the_checks_are_tested_against() {
        use crate::domain::validate::{
            COMMENT_PATTERN, CONTENT_PATTERN, EMOJI_PATTERN, LINE_PATTERN,
        };
        fn patterns(value: &serde_json::Value, found: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, inner) in map {
                        match (key.as_str(), inner) {
                            ("pattern", serde_json::Value::String(p)) => found.push(p.clone()),
                            _ => patterns(inner, found),
                        }
                    }
                }
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|item| patterns(item, found));
                }
                _ => {}
            }
        }
        let document: serde_json::Value = serde_json::from_str(document()).unwrap_or_default();
        let mut found = Vec::new();
        patterns(&document, &mut found);
        let tested = [
            CONTENT_PATTERN,
            LINE_PATTERN,
            EMOJI_PATTERN,
            COMMENT_PATTERN,
        ];
        // A caption: content, or nothing.
        let content_inner = CONTENT_PATTERN
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .unwrap_or_default();
        let caption = format!("^(?:{content_inner})?$");
        // An upload's file name: its own rule, checked in `http::attachments`.
        let file_name = "^[^/\\\\\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]+$";
        // Every pattern of the text rules' family (they all refuse bidirectional overrides).
        let unknown: Vec<&String> = found
            .iter()
            .filter(|p| p.contains("\\u202A-\\u202E"))
            .filter(|p| !tested.contains(&p.as_str()) && **p != caption && p.as_str() != file_name)
            .collect();
        assert!(
            unknown.is_empty(),
            "patterns no check is tested against: {unknown:?}"
        );
        for pattern in tested {
            assert!(
                found.iter().any(|p| p == pattern),
                "never stated: {pattern}"
            );
        }
    }

    /// Operation ids name one operation each (OpenAPI requires it; two handlers of the same
    /// name in different modules would share one).
    #[test]
    fn operation_ids_are_unique() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap_or_default();
        let mut ids: Vec<String> = doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(|item| item.as_object())
            .flat_map(|item| item.values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert!(count > 40, "{count}");
        assert_eq!(ids.len(), count, "an operation id is used twice");
    }
}

//! The operators' side of reports, under `/admin` behind the admin token: the queue, one
//! report with the messages around it, and the resolution.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use parley_types::ResolveReportRequest;
use serde::Deserialize;

use super::admin::Admin;
use super::error::ApiResult;
use super::error_docs::{Always, Authenticated, BadRequest, Conflict, JsonInput, NotFound};
use super::extractors::{parse_query, path_id, query_number, JsonBody};
use super::{json, AppState};
use crate::actors::db_ops::{FindReport, ListReports};
use crate::domain::{AdminReport, ReportId, ReportList, ReportStatus};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/admin/reports").get(list_reports))
        .service(super::endpoint("/admin/reports/{report_id}").get(show_report))
        .service(super::endpoint("/admin/reports/{report_id}/resolve").post(resolve_report));
}

/// Most reports one page lists.
const MAX_LISTED: i64 = 200;

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/reports",
    tag = "operations",
    params(
        ("status" = Option<ReportStatus>, Query, description = "Only reports in this state (`open` or `resolved`); all when absent"),
        ("before" = Option<i64>, Query, minimum = 1, description = "Only reports older than this report id (the next page: the `Link` header gives it)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)")
    ),
    responses(
        (status = 200, description = "Reports, newest first, each with the message as it was when reported",
         body = ReportList,
         headers(("Link" = String, description = "`</admin/reports?...&before=ID>; rel=\"next\"` when there may be more"))),
        Always,
        Authenticated,
        BadRequest,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn list_reports(
    state: web::Data<AppState>,
    _admin: Admin,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q: ListQuery = parse_query(req.query_string())?;
    let status = match q.status.as_deref() {
        None => None,
        Some(raw) => Some(
            ReportStatus::parse(raw)
                .ok_or_else(|| AppError::bad_request("status must be open or resolved."))?,
        ),
    };
    let before = query_number("before", q.before.as_deref(), 1, i64::MAX)?.map(ReportId);
    let limit = query_number("limit", q.limit.as_deref(), 1, MAX_LISTED)?.unwrap_or(50);
    let reports = state
        .actors
        .ask(ListReports {
            status,
            before,
            limit,
        })
        .await?;
    let next = (reports.len() as i64 == limit)
        .then(|| reports.last().map(|r| r.id))
        .flatten();
    let mut response = json(StatusCode::OK, &ReportList { reports });
    if let Some(next) = next {
        let status = status.map_or(String::new(), |s| format!("status={}&", s.as_str()));
        super::link_next(
            &mut response,
            &format!("/admin/reports?{status}limit={limit}&before={next}"),
        );
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/admin/reports/{report_id}",
    tag = "operations",
    params(("report_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The report, with `context`: the messages around the reported one as they are now", body = AdminReport),
        Always,
        Authenticated,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn show_report(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let report_id = path_id(&path, ReportId)?;
    let report = state
        .actors
        .ask(FindReport { report_id })
        .await?
        .ok_or(AppError::NotFound("report"))?;
    Ok(json(StatusCode::OK, &report))
}

#[utoipa::path(
    post,
    path = "/admin/reports/{report_id}/resolve",
    tag = "operations",
    params(("report_id" = i64, Path, minimum = 1)),
    request_body = ResolveReportRequest,
    responses(
        (status = 200, description = "Resolved, with every other open report of the same message: `dismiss` does nothing more; `delete_message` deletes the message (its members get `message.deleted`); `deactivate_author` deactivates the author (tokens revoked, WebSockets closed with 1008)", body = AdminReport),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Conflict
    ),
    security(("bearer" = []))
)]
pub async fn resolve_report(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<String>,
    body: JsonBody<ResolveReportRequest>,
) -> ApiResult<HttpResponse> {
    let report_id = path_id(&path, ReportId)?;
    let action = body.value.action;
    let report = state.actors.resolve_report(report_id, action).await?;
    tracing::info!(
        report.id = %report_id,
        action = action.as_str(),
        author.id = %report.author.id,
        "report resolved by an operator"
    );
    Ok(json(StatusCode::OK, &report))
}

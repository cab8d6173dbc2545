//! Bots: users a person owns, which sign in only by token and otherwise use the API as anyone.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::requests::CreateBotRequest;

use super::error::ApiResult;
use super::error_docs::{
    Always, Authenticated, Conflict, Forbidden, JsonInput, NotFound, RateLimited,
};
use super::extractors::{path_id, AuthUser, JsonBody};
use super::{json, AppState};
use crate::actors::db_ops::{BotOwnedBy, CreateBot, ListBots, RotateBotToken};
use crate::domain::validate::{self, Violations};
use crate::domain::{BotToken, User, UserId};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/bots").post(create_bot).get(list_bots))
        .service(super::endpoint("/bots/{bot_id}/token").post(rotate_token))
        .service(super::endpoint("/bots/{bot_id}").delete(delete_bot));
}

#[utoipa::path(
    post,
    path = "/api/v1/bots",
    tag = "bots",
    request_body = CreateBotRequest,
    responses(
        (status = 201, description = "The bot, owned by the caller, and its token (shown only here)", body = BotToken),
        Always,
        Authenticated,
        JsonInput,
        Forbidden,
        RateLimited,
        Conflict
    ),
    security(("bearer" = []))
)]
pub async fn create_bot(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<CreateBotRequest>,
) -> ApiResult<HttpResponse> {
    let CreateBotRequest {
        username,
        display_name,
    } = body.value;
    let mut v = Violations::new();
    validate::username(&mut v, &username);
    if let Some(name) = &display_name {
        validate::display_name(&mut v, name);
    }
    v.into_result().map_err(AppError::validation)?;
    let display_name = display_name.unwrap_or_else(|| username.clone());
    let created = state
        .actors
        .ask(CreateBot {
            owner_id: user.user_id,
            username,
            display_name,
        })
        .await?;
    tracing::info!(bot.id = %created.user.id, "bot created");
    Ok(json(StatusCode::CREATED, &created))
}

#[utoipa::path(
    get,
    path = "/api/v1/bots",
    tag = "bots",
    responses(
        (status = 200, description = "The caller's bots (not the deleted ones), oldest first", body = [User]),
        Always,
        Authenticated
    ),
    security(("bearer" = []))
)]
pub async fn list_bots(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let bots = state
        .actors
        .ask(ListBots {
            owner_id: user.user_id,
        })
        .await?;
    let bots: Vec<User> = bots
        .into_iter()
        .map(|bot| state.actors.board.showing_user(bot))
        .collect();
    Ok(json(StatusCode::OK, &bots))
}

#[utoipa::path(
    post,
    path = "/api/v1/bots/{bot_id}/token",
    tag = "bots",
    params(("bot_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "A new token; every earlier one is revoked and its WebSockets closed", body = BotToken),
        Always,
        Authenticated,
        NotFound,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn rotate_token(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let bot_id = path_id(&path, UserId)?;
    let rotated = state
        .actors
        .rotate_bot_token(RotateBotToken {
            owner_id: user.user_id,
            bot_id,
        })
        .await?
        .ok_or(AppError::NotFound("bot"))?;
    tracing::info!(bot.id = %bot_id, "bot token rotated");
    Ok(json(StatusCode::OK, &rotated))
}

#[utoipa::path(
    delete,
    path = "/api/v1/bots/{bot_id}",
    tag = "bots",
    params(("bot_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Deactivated as an operator deactivates an account: its tokens revoked, its WebSockets closed; its messages stay"),
        Always,
        Authenticated,
        NotFound,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn delete_bot(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let bot_id = path_id(&path, UserId)?;
    let owned = state
        .actors
        .ask(BotOwnedBy {
            owner_id: user.user_id,
            bot_id,
        })
        .await?;
    if !owned {
        return Err(AppError::NotFound("bot").into());
    }
    state.actors.deactivate_user(bot_id).await?;
    tracing::info!(bot.id = %bot_id, "bot deleted");
    Ok(HttpResponse::NoContent().finish())
}

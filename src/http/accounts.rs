//! Registration, login, logout and user lookup.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::requests::{ChangePasswordRequest, LoginRequest, RegisterRequest};
use serde::Deserialize;

use super::error::ApiResult;
use super::error_docs::{
    Always, Authenticated, BadRequest, Conflict, Forbidden, JsonInput, NotFound, RateLimited,
};
use super::extractors::{limited, parse_query, path_id, AuthAttempt, AuthUser, JsonBody};
use super::{json, AppState};
use crate::actors::db_ops::{ChangePassword, FindAccount, GetUser, Login, Register};
use crate::domain::validate::{self, Violations};
use crate::domain::{Session, User, UserId};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/auth/register").post(register))
        .service(super::endpoint("/auth/login").post(login))
        .service(super::endpoint("/auth/logout").post(logout))
        .service(super::endpoint("/users/me").get(me))
        .service(super::endpoint("/users/me/password").post(change_password))
        .service(super::endpoint("/users/lookup").get(lookup))
        .service(super::endpoint("/users/{user_id}").get(get_user));
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = Session),
        Always,
        JsonInput,
        RateLimited,
        Conflict
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    _attempt: AuthAttempt,
    body: JsonBody<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let RegisterRequest {
        username,
        password,
        display_name,
    } = body.value;
    let mut v = Violations::new();
    validate::username(&mut v, &username);
    validate::password(
        &mut v,
        "password",
        &password,
        &username,
        display_name.as_deref(),
    );
    if let Some(name) = &display_name {
        validate::display_name(&mut v, name);
    }
    v.into_result().map_err(AppError::validation)?;
    let display_name = display_name.unwrap_or_else(|| username.clone());
    let session = state
        .actors
        .ask(Register {
            username,
            password,
            display_name,
        })
        .await?;
    Ok(json(StatusCode::CREATED, &session))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = Session),
        Always,
        Authenticated,
        JsonInput,
        RateLimited
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    _attempt: AuthAttempt,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { username, password } = body.value;
    // Lengths beyond any valid account cannot match; refuse them without hashing.
    if username.len() > 64 || username.contains('\0') || password.chars().count() > 128 {
        return Err(AppError::Unauthorized.into());
    }
    limited(&state, state.limits.check_login(&username))?;
    let outcome = state
        .actors
        .ask(Login {
            username: username.clone(),
            password,
        })
        .await;
    if let Err(AppError::Unauthorized) = outcome {
        state.limits.login_failed(&username);
    }
    Ok(json(StatusCode::OK, &outcome?))
}

#[derive(Deserialize)]
struct LogoutQuery {
    all: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    params(("all" = Option<bool>, Query, description = "`true`: sign out everywhere, revoking every token of the account and closing all its WebSockets")),
    responses(
        (status = 204, description = "Token revoked (every token, with all=true); their WebSockets are closed"),
        Always,
        Authenticated,
        BadRequest,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn logout(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let query: LogoutQuery = parse_query(req.query_string())?;
    let everywhere = match query.all.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::bad_request("all must be true or false.").into()),
    };
    if everywhere {
        state.actors.logout_everywhere(user.user_id).await?;
    } else {
        state.actors.logout(user.user_id, user.token_id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Changes the caller's password. Every other token of the account is revoked (its
/// WebSockets closed); the token of this request stays valid.
#[utoipa::path(
    post,
    path = "/api/v1/users/me/password",
    tag = "users",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; every other token revoked"),
        Always,
        Authenticated,
        JsonInput,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn change_password(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body.value;
    let me = state
        .actors
        .ask(GetUser {
            user_id: user.user_id,
            viewer_id: user.user_id,
        })
        .await?;
    let mut v = Violations::new();
    validate::password(
        &mut v,
        "new_password",
        &new_password,
        &me.username,
        Some(&me.display_name),
    );
    v.into_result().map_err(AppError::validation)?;
    // No password is longer: refused without hashing.
    if current_password.chars().count() > 128 {
        return Err(AppError::wrong_password().into());
    }
    // Guessing the current password here costs what a failed login does, from the same
    // per-account allowance.
    limited(&state, state.limits.check_login(&me.username))?;
    let outcome = state
        .actors
        .change_password(ChangePassword {
            user_id: user.user_id,
            token_id: user.token_id,
            current_password,
            new_password,
        })
        .await;
    if let Err(AppError::Forbidden { .. }) = outcome {
        state.limits.login_failed(&me.username);
    }
    outcome?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    tag = "users",
    responses(
        (status = 200, body = User),
        Always,
        Authenticated,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let found = state
        .actors
        .ask(GetUser {
            user_id: user.user_id,
            viewer_id: user.user_id,
        })
        .await?;
    Ok(json(
        StatusCode::OK,
        &state.actors.board.showing_user(found),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, body = User),
        Always,
        Authenticated,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user_id = path_id(&path, UserId)?;
    let found = state
        .actors
        .ask(GetUser {
            user_id,
            viewer_id: caller.user_id,
        })
        .await?;
    Ok(json(
        StatusCode::OK,
        &state.actors.board.showing_user(found),
    ))
}

#[derive(Deserialize)]
struct LookupQuery {
    username: Option<String>,
}

/// Finding someone to start a chat with: chat bodies name members by id, people by username.
#[utoipa::path(
    get,
    path = "/api/v1/users/lookup",
    tag = "users",
    params(("username" = String, Query, description = "The exact username", pattern = "^[a-z0-9_.-]{3,32}$")),
    responses(
        (status = 200, body = User),
        Always,
        Authenticated,
        BadRequest,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn lookup(
    state: web::Data<AppState>,
    _caller: AuthUser,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let query: LookupQuery = parse_query(req.query_string())?;
    let username = query
        .username
        .ok_or_else(|| AppError::bad_request("username is required."))?;
    let mut v = Violations::new();
    validate::username(&mut v, &username);
    if v.into_result().is_err() {
        // No account can have such a name.
        return Err(AppError::NotFound("user").into());
    }
    let found = state
        .actors
        .ask(FindAccount { username })
        .await?
        .map(User::from)
        .ok_or(AppError::NotFound("user"))?;
    Ok(json(StatusCode::OK, &found))
}

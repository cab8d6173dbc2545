//! Registration, login, logout and user lookup.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::ApiResult;
use super::extractors::{path_id, AuthAttempt, AuthUser, JsonBody};
use super::{json, AppState};
use crate::actors::db_executor::ask;
use crate::actors::db_ops::{GetUser, Login, Logout, Register};
use crate::domain::validate::{self, Violations};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/auth/register").route(web::post().to(register)))
        .service(super::resource("/auth/login").route(web::post().to(login)))
        .service(super::resource("/auth/logout").route(web::post().to(logout)))
        .service(super::resource("/users/me").route(web::get().to(me)))
        .service(super::resource("/users/{user_id}").route(web::get().to(get_user)));
}

#[derive(Deserialize)]
struct RegisterRequest {
    username: String,
    password: String,
    display_name: Option<String>,
}

async fn register(
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
    validate::password(&mut v, &password);
    if let Some(name) = &display_name {
        validate::display_name(&mut v, name);
    }
    v.into_result().map_err(AppError::validation)?;
    let display_name = display_name.unwrap_or_else(|| username.clone());
    let session = ask(
        &state.actors.db,
        Register {
            username,
            password,
            display_name,
        },
    )
    .await?;
    Ok(json(StatusCode::CREATED, &session))
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

async fn login(
    state: web::Data<AppState>,
    _attempt: AuthAttempt,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { username, password } = body.value;
    // Lengths beyond any valid account cannot match; refuse them without hashing.
    if username.len() > 64 || username.contains('\0') || password.chars().count() > 128 {
        return Err(AppError::Unauthorized.into());
    }
    let session = ask(&state.actors.db, Login { username, password }).await?;
    Ok(json(StatusCode::OK, &session))
}

async fn logout(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    ask(
        &state.actors.db,
        Logout {
            user_id: user.user_id,
            token_id: user.token_id,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let found = ask(
        &state.actors.db,
        GetUser {
            user_id: user.user_id,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &found))
}

async fn get_user(
    state: web::Data<AppState>,
    _caller: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user_id = path_id(&path)?;
    let found = ask(&state.actors.db, GetUser { user_id }).await?;
    Ok(json(StatusCode::OK, &found))
}

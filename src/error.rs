//! The one error type of the service layer (actors and queries). `http::error` maps it to the
//! contract's status codes and `{"detail", "code"}` bodies; nothing else decides a status.

use crate::domain::validate::FieldError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected database answer. The text is logged, never sent to a client.
    #[error("internal: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::Forbidden {
            code: "forbidden",
            detail: detail.into(),
        }
    }

    pub fn not_a_member() -> Self {
        AppError::Forbidden {
            code: "not_a_member",
            detail: "You are not a member of this chat.".into(),
        }
    }

    pub fn invalid(field: &str, detail: &str) -> Self {
        AppError::Validation {
            code: "validation_failed",
            detail: "The request did not pass validation.".into(),
            errors: vec![FieldError {
                field: field.into(),
                detail: detail.into(),
            }],
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        AppError::Validation {
            code: "validation_failed",
            detail: "The request did not pass validation.".into(),
            errors,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            code: "bad_request",
            detail: detail.into(),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::Internal("unexpected missing row".into()),
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                AppError::Unavailable(info.message().to_owned())
            }
            // tokio-postgres reports a lost or refused connection without an SQLSTATE.
            Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, info) => {
                AppError::Unavailable(info.message().to_owned())
            }
            Error::BrokenTransactionManager => {
                AppError::Unavailable("connection lost mid-transaction".into())
            }
            // SQLite reports a busy database as an unclassified error; it clears by itself.
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().contains("database is locked") =>
            {
                AppError::Unavailable(info.message().to_owned())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        // Every pool failure (timeout, unreachable server, failed handshake) is transient from
        // the client's point of view: retry later.
        AppError::Unavailable(e.to_string())
    }
}

impl From<actix::MailboxError> for AppError {
    fn from(e: actix::MailboxError) -> Self {
        AppError::Unavailable(format!("actor unavailable: {e}"))
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(format!("serialisation failed: {e}"))
    }
}

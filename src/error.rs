//! The one error type of the service layer (actors and queries). `http::error` maps it to the
//! contract's status codes and `{"detail", "code"}` bodies; nothing else decides a status.

use std::error::Error as StdError;
use std::sync::Arc;

use crate::domain::validate::FieldError;

pub use parley_types::ErrorCode;

/// The cause of an internal error, shared so that an error fanned out to several waiters
/// keeps its chain for the one place that logs it.
pub type Cause = Arc<dyn StdError + Send + Sync>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {detail}")]
    BadRequest { code: ErrorCode, detail: String },
    #[error("unauthorized")]
    Unauthorized,
    /// The right password for an account an operator deactivated: `401`, as for any refused
    /// login, with a code that tells the account's owner why.
    #[error("account deactivated")]
    AccountDeactivated,
    #[error("forbidden: {detail}")]
    Forbidden { code: ErrorCode, detail: String },
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("conflict: {detail}")]
    Conflict { code: ErrorCode, detail: String },
    /// `allow`: the methods the path answers, for the `Allow` header.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("payload too large")]
    PayloadTooLarge,
    /// An upload past the server's limit (`PARLEY_MAX_UPLOAD_BYTES`).
    #[error("upload too large")]
    UploadTooLarge { limit_bytes: u64 },
    /// A `Range` outside a file of `size` bytes.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation {
        code: ErrorCode,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("too many sessions: {0}")]
    TooManySessions(&'static str),
    /// The client address has as many requests in flight as it may.
    #[error("too many requests in flight")]
    TooManyInFlight,
    /// The request body did not arrive in time.
    #[error("request body timed out")]
    RequestTimeout,
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected database answer. `context` and the cause chain are logged at
    /// the edge that answers for it, never sent to a client.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        cause: Option<Cause>,
    },
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(context: impl Into<String>) -> Self {
        AppError::Internal {
            context: context.into(),
            cause: None,
        }
    }

    pub fn internal_from(
        context: impl Into<String>,
        cause: impl StdError + Send + Sync + 'static,
    ) -> Self {
        AppError::Internal {
            context: context.into(),
            cause: Some(Arc::new(cause)),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::Forbidden {
            code: ErrorCode::Forbidden,
            detail: detail.into(),
        }
    }

    pub fn not_a_member() -> Self {
        AppError::Forbidden {
            code: ErrorCode::NotAMember,
            detail: "You are not a member of this chat.".into(),
        }
    }

    /// Logging in to a deactivated account: said only to whoever gave the right password;
    /// anyone else learns nothing from a 401.
    pub fn account_deactivated() -> Self {
        AppError::AccountDeactivated
    }

    pub fn wrong_password() -> Self {
        AppError::Forbidden {
            code: ErrorCode::WrongPassword,
            detail: "current_password is not this account's password.".into(),
        }
    }

    pub fn invalid(field: &str, detail: &str) -> Self {
        AppError::validation(vec![FieldError {
            field: field.into(),
            detail: detail.into(),
        }])
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        AppError::Validation {
            code: ErrorCode::ValidationFailed,
            detail: "The request did not pass validation.".into(),
            errors,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            code: ErrorCode::BadRequest,
            detail: detail.into(),
        }
    }

    /// The error and every cause under it, `outer: inner: innermost`, for a log line.
    pub fn chain(&self) -> String {
        cause_chain(self)
    }
}

/// Any error and every cause under it, `outer: inner: innermost`, for a log line.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::internal("unexpected missing row"),
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
            other => AppError::internal_from("database error", other),
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
        AppError::internal_from("serialisation failed", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_as_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn an_internal_error_keeps_its_cause_chain() {
        use diesel::result::{DatabaseErrorKind, Error};
        let cause = Error::DatabaseError(
            DatabaseErrorKind::CheckViolation,
            Box::new("the check said no".to_owned()),
        );
        let error = AppError::from(cause);
        assert!(matches!(error, AppError::Internal { .. }));
        let chain = error.chain();
        assert!(chain.starts_with("database error: "), "{chain}");
        assert!(chain.contains("the check said no"), "{chain}");
        // A clone (one error answered to several waiters) keeps the same cause.
        assert_eq!(error.clone().chain(), chain);
    }
}

//! The one place where errors become HTTP responses: status, `{"detail", "code"}` body and
//! the headers the contract asks for. Internal details are logged here, never sent.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::validate::FieldError;
use crate::error::{AppError, ErrorCode};

/// Seconds a client is asked to wait after a 503.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

/// Every error answer: `{"detail", "code"}`, plus the failed fields of a 422.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The body of a 500: always exactly this, with the request id to quote to an operator.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InternalErrorBody {
    #[schema(example = "Internal server error")]
    pub detail: String,
    /// Always `internal`.
    pub code: ErrorCode,
    pub request_id: String,
}

impl ApiError {
    fn code_and_detail(&self) -> (ErrorCode, &str) {
        match &self.0 {
            AppError::BadRequest { code, detail } => (*code, detail),
            AppError::Unauthorized => (
                ErrorCode::Unauthorized,
                "Missing, unknown, expired or revoked token.",
            ),
            AppError::AccountDeactivated => (
                ErrorCode::AccountDeactivated,
                "This account has been deactivated by an operator.",
            ),
            AppError::Forbidden { code, detail } => (*code, detail),
            AppError::NotFound(_) => (ErrorCode::NotFound, "No such resource."),
            AppError::Conflict { code, detail } => (*code, detail),
            AppError::MethodNotAllowed { .. } => (
                ErrorCode::MethodNotAllowed,
                "This method is not supported on this path.",
            ),
            AppError::PayloadTooLarge => (
                ErrorCode::PayloadTooLarge,
                "The request body is larger than 64 KiB.",
            ),
            AppError::UploadTooLarge { .. } => (
                ErrorCode::PayloadTooLarge,
                "The file is larger than the server accepts (PARLEY_MAX_UPLOAD_BYTES).",
            ),
            AppError::RangeNotSatisfiable { .. } => (
                ErrorCode::RangeNotSatisfiable,
                "The file has none of the bytes the Range asks for.",
            ),
            AppError::UnsupportedMediaType => (
                ErrorCode::UnsupportedMediaType,
                "The request body must be application/json.",
            ),
            AppError::Validation { code, detail, .. } => (*code, detail),
            AppError::TooManySessions(detail) => (ErrorCode::TooManySessions, detail),
            AppError::TooManyInFlight => (
                ErrorCode::RateLimited,
                "This address has as many requests in flight as it may; retry when one is answered.",
            ),
            AppError::RequestTimeout => (
                ErrorCode::RequestTimeout,
                "The request body did not arrive in time.",
            ),
            AppError::RateLimited { .. } => {
                (ErrorCode::RateLimited, "Too many requests; retry later.")
            }
            AppError::Unavailable(_) => (
                ErrorCode::Unavailable,
                "The service is temporarily unavailable; retry later.",
            ),
            AppError::Internal { .. } => (ErrorCode::Internal, "Internal server error"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized | AppError::AccountDeactivated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge | AppError::UploadTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited { .. }
            | AppError::TooManySessions(_)
            | AppError::TooManyInFlight => StatusCode::TOO_MANY_REQUESTS,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match &self.0 {
            AppError::Internal { .. } => tracing::error!(error = %self.0.chain(), "internal error"),
            AppError::Unavailable(detail) => tracing::warn!(error = %detail, "answering 503"),
            _ => {}
        }
        let (code, detail) = self.code_and_detail();
        let errors = match &self.0 {
            AppError::Validation { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        let mut response = HttpResponse::build(self.status_code());
        match &self.0 {
            AppError::Unauthorized | AppError::AccountDeactivated => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            AppError::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            AppError::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            // The rest of such a request's body may still be on its way (or never come): the
            // connection cannot carry another request, and closing it frees what it holds.
            AppError::TooManyInFlight => {
                response.insert_header((header::RETRY_AFTER, "1"));
                response.force_close();
            }
            // As above: the rest of the file may still be coming.
            AppError::RequestTimeout | AppError::UploadTooLarge { .. } => {
                response.force_close();
            }
            AppError::RangeNotSatisfiable { size } => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            AppError::Unavailable(_) => {
                response.insert_header((
                    header::RETRY_AFTER,
                    UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
                ));
            }
            _ => {}
        }
        response.json(ErrorBody {
            detail: detail.to_owned(),
            code,
            errors,
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The contract's exact 500 body; the request id lets an operator find the logged cause.
pub fn internal_error_body(request_id: &str) -> InternalErrorBody {
    InternalErrorBody {
        detail: "Internal server error".to_owned(),
        code: ErrorCode::Internal,
        request_id: request_id.to_owned(),
    }
}

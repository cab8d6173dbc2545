//! `ErrorCode`: every `code` an error body or an `error` frame may carry.

use std::fmt;

/// Declares the error codes once: the enum, its wire names and the list of all of them, so the
/// OpenAPI document and the tests can enumerate exactly what the server can answer.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)+) => {
        /// Every `code` the server puts in an error body or an `error` frame.
        // The wire names are the variants in snake case, which the OpenAPI derive reads from
        // `rename_all`; a unit test holds `as_str` to the same names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)+
                }
            }
        }
    };
}

error_codes! {
    /// A malformed query string, path or request.
    BadRequest = "bad_request",
    /// A body (or WebSocket frame) that is not valid JSON.
    MalformedJson = "malformed_json",
    /// An `Idempotency-Key` header that is empty, too long or not printable ASCII.
    InvalidIdempotencyKey = "invalid_idempotency_key",
    Unauthorized = "unauthorized",
    Forbidden = "forbidden",
    NotAMember = "not_a_member",
    /// Logging in to an account an operator has deactivated (with the right password).
    AccountDeactivated = "account_deactivated",
    /// Changing the password with a wrong `current_password`.
    WrongPassword = "wrong_password",
    NotFound = "not_found",
    /// Editing or reacting to a deleted message.
    MessageDeleted = "message_deleted",
    UsernameTaken = "username_taken",
    /// Adding a member to a group that has as many as a group may have.
    GroupFull = "group_full",
    /// Creating a bot when the caller already has as many as one person may have.
    TooManyBots = "too_many_bots",
    /// Opening a direct chat with, writing into the direct chat of, or adding to a group
    /// someone who has blocked the caller.
    Blocked = "blocked",
    /// Blocking someone when the caller already blocks as many people as one may.
    TooManyBlocks = "too_many_blocks",
    /// Reporting a message the caller has an open report of.
    AlreadyReported = "already_reported",
    /// Resolving a report that is resolved already.
    ReportResolved = "report_resolved",
    /// An earlier request with this key has not finished yet.
    IdempotencyKeyInFlight = "idempotency_key_in_flight",
    /// An `Idempotency-Key` reused with another request.
    IdempotencyKeyMismatch = "idempotency_key_mismatch",
    MethodNotAllowed = "method_not_allowed",
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    ValidationFailed = "validation_failed",
    /// A thumbnail asked of an image with more pixels than the server decodes (a
    /// decompression bomb looks like this).
    ImageTooLarge = "image_too_large",
    /// A thumbnail asked of a file whose image cannot be decoded.
    ImageUndecodable = "image_undecodable",
    /// A `Range` none of whose bytes the file has.
    RangeNotSatisfiable = "range_not_satisfiable",
    RateLimited = "rate_limited",
    /// A WebSocket past the cap of open sessions per user, or per client address.
    TooManySessions = "too_many_sessions",
    /// A request whose body did not arrive within the deadline.
    RequestTimeout = "request_timeout",
    /// WebSocket only: a frame whose `type` the server does not know.
    UnknownType = "unknown_type",
    Unavailable = "unavailable",
    Internal = "internal",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

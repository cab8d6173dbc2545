//! What a call can fail with.

use parley_types::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server answered with an error: its status, and the body's `code` and `detail`
    /// (`code` is `None` when the body was not the contract's error body).
    Api {
        status: u16,
        code: Option<ErrorCode>,
        detail: String,
    },
    /// No answer: the connection failed, timed out or closed.
    Transport(String),
    /// An answer that is not what the contract says (a body that does not parse).
    Decode(String),
}

impl Error {
    /// The status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `code` of an error answer.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => *code,
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Api {
                status,
                code,
                detail,
            } => match code {
                Some(code) => write!(f, "{status} {code}: {detail}"),
                None => write!(f, "{status}: {detail}"),
            },
            Error::Transport(e) => write!(f, "no answer: {e}"),
            Error::Decode(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

impl std::error::Error for Error {}

//! Typed ids: a chat's id cannot be passed where a user's is expected, and a seq (a position
//! in a chat's event order) is not an id at all. Each is a transparent `i64` on the wire and in
//! the database, so the JSON and the rows are what they were with bare numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! typed_i64 {
    ($($(#[$doc:meta])* $name:ident,)+) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize,
            Deserialize,
        )]
        #[serde(transparent)]
        #[cfg_attr(feature = "diesel", derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow))]
        #[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::BigInt))]
        pub struct $name(pub i64);

        impl $name {
            /// The number on the wire and in the database.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        #[cfg(feature = "diesel")]
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::BigInt, DB> for $name
        where
            DB: diesel::backend::Backend,
            i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.0.to_sql(out)
            }
        }

        #[cfg(feature = "diesel")]
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::BigInt, DB> for $name
        where
            DB: diesel::backend::Backend,
            i64: diesel::deserialize::FromSql<diesel::sql_types::BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                i64::from_sql(bytes).map($name)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <i64 as utoipa::PartialSchema>::schema()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    )+};
}

typed_i64! {
    /// A chat's id.
    ChatId,
    /// A user's (account's) id.
    UserId,
    /// A message's id, unique across chats.
    MessageId,
    /// An uploaded file's id.
    AttachmentId,
    /// A push subscription's id.
    SubscriptionId,
    /// An incoming webhook's id.
    WebhookId,
    /// An outgoing webhook's (an event subscription's) id.
    EventSubscriptionId,
    /// A report of a message to the operators.
    ReportId,
    /// A bearer token's id (the server's own: never on the wire).
    TokenId,
    /// A position in one chat's order of events: the chat's first event has seq 1, and
    /// `0` stands for "before any event".
    Seq,
}

impl Seq {
    /// Before the chat's first event.
    pub const ZERO: Seq = Seq(0);

    /// The seq after this one. Seqs are handed out one by one from 1 and stored as `i64`,
    /// so the next always fits; it saturates rather than wraps if it ever would not.
    #[must_use]
    pub const fn next(self) -> Seq {
        Seq(self.0.saturating_add(1))
    }

    /// The seq before this one (`ZERO` stays `ZERO`).
    #[must_use]
    pub const fn prev(self) -> Seq {
        if self.0 > 0 {
            Seq(self.0 - 1)
        } else {
            Seq::ZERO
        }
    }
}

/// A seq `n` places later (or earlier, for a negative `n`).
impl std::ops::Add<i64> for Seq {
    type Output = Seq;

    fn add(self, n: i64) -> Seq {
        Seq(self.0.saturating_add(n))
    }
}

/// A seq `n` places earlier.
impl std::ops::Sub<i64> for Seq {
    type Output = Seq;

    fn sub(self, n: i64) -> Seq {
        Seq(self.0.saturating_sub(n))
    }
}

/// How many places lie between two seqs.
impl std::ops::Sub<Seq> for Seq {
    type Output = i64;

    fn sub(self, earlier: Seq) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bare_numbers_on_the_wire() {
        assert_eq!(serde_json::to_string(&ChatId(42)).unwrap(), "42");
        assert_eq!(serde_json::from_str::<UserId>("7").unwrap(), UserId(7));
        assert!(serde_json::from_str::<MessageId>("\"7\"").is_err());
        assert_eq!("12".parse::<Seq>().unwrap(), Seq(12));
    }

    #[test]
    fn seq_steps() {
        assert_eq!(Seq::ZERO.next(), Seq(1));
        assert_eq!(Seq(5).prev(), Seq(4));
        assert_eq!(Seq::ZERO.prev(), Seq::ZERO);
        assert_eq!(Seq(i64::MAX).next(), Seq(i64::MAX));
        assert_eq!(Seq(7) - Seq(3), 4);
        assert_eq!(Seq(3) - Seq(7), -4);
        assert_eq!(Seq(3) + 4, Seq(7));
    }
}

//! The locks that keep `chat_members.has_devices` from missing a device.
//!
//! A send batch reads the devices of the chat's members flagged as having one, so a member
//! with a device must never be left unflagged. A membership begins flagged when its user has a
//! device (`chats::add_members`), and a subscription flags all of its user's memberships
//! (`push::subscribe`). Run at the same time, each could miss the other's uncommitted row: the
//! join reads no device, the subscription updates no membership. On PostgreSQL the join holds
//! its users' rows `FOR SHARE` and the subscription holds its user's row `FOR NO KEY UPDATE`
//! until they commit, which conflict, so the later one sees what the earlier one wrote. (Both
//! stay compatible with the `FOR KEY SHARE` that foreign keys and sends take.)
//! SQLite has one connection, so every transaction already runs alone.

use parley_types::UserId;
use std::future::Future;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::users;
use crate::db::{PgConn, SqliteConn};

pub trait DeviceFlagLocks {
    /// Holds `user_ids` against their subscriptions until the transaction ends, in id order.
    fn hold_users_against_subscriptions<'a>(
        &'a mut self,
        user_ids: &'a [UserId],
    ) -> impl Future<Output = QueryResult<()>> + Send + 'a;

    /// Holds `user_id` against memberships beginning until the transaction ends.
    fn hold_user_against_joins(
        &mut self,
        user_id: UserId,
    ) -> impl Future<Output = QueryResult<()>> + Send;
}

impl DeviceFlagLocks for PgConn {
    async fn hold_users_against_subscriptions<'a>(
        &'a mut self,
        user_ids: &'a [UserId],
    ) -> QueryResult<()> {
        users::table
            .filter(users::id.eq_any(user_ids))
            .order(users::id)
            .select(users::id)
            .for_share()
            .load::<UserId>(self)
            .await?;
        Ok(())
    }

    async fn hold_user_against_joins(&mut self, user_id: UserId) -> QueryResult<()> {
        users::table
            .find(user_id)
            .select(users::id)
            .for_no_key_update()
            .first::<UserId>(self)
            .await
            .optional()?;
        Ok(())
    }
}

impl DeviceFlagLocks for SqliteConn {
    async fn hold_users_against_subscriptions<'a>(
        &'a mut self,
        _: &'a [UserId],
    ) -> QueryResult<()> {
        Ok(())
    }

    async fn hold_user_against_joins(&mut self, _: UserId) -> QueryResult<()> {
        Ok(())
    }
}

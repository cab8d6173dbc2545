// Hand-written to match both `migrations/postgres` and `migrations/sqlite`; every id and
// timestamp is a BIGINT so one set of query code serves both backends.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        created_at -> BigInt,
        deactivated_at -> Nullable<BigInt>,
        last_seen_at -> Nullable<BigInt>,
        is_bot -> Bool,
        bot_owner_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    auth_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    chats (id) {
        id -> BigInt,
        kind -> Text,
        title -> Nullable<Text>,
        direct_key -> Nullable<Text>,
        created_at -> BigInt,
        last_seq -> BigInt,
        last_activity_at -> BigInt,
        message_count -> BigInt,
    }
}

diesel::table! {
    chat_members (chat_id, user_id) {
        chat_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        joined_at -> BigInt,
        last_read_seq -> BigInt,
        shows_presence -> Bool,
        read_count -> BigInt,
        notify_level -> Text,
        muted_until -> Nullable<BigInt>,
        has_devices -> Bool,
    }
}

diesel::table! {
    chat_authors (chat_id, user_id) {
        chat_id -> BigInt,
        user_id -> BigInt,
        message_count -> BigInt,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        chat_id -> BigInt,
        seq -> BigInt,
        author_id -> BigInt,
        kind -> Text,
        content -> Text,
        reply_to_id -> Nullable<BigInt>,
        client_id -> Nullable<Text>,
        created_at -> BigInt,
        edited_at -> Nullable<BigInt>,
        deleted -> Bool,
        search_terms -> Nullable<Text>,
        attachment_count -> SmallInt,
        mention_ids -> Text,
        thread_root_id -> Nullable<BigInt>,
        thread_summary -> Nullable<Text>,
    }
}

diesel::table! {
    message_mentions (user_id, chat_id, seq) {
        user_id -> BigInt,
        message_id -> BigInt,
        chat_id -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    reactions (message_id, user_id, emoji) {
        message_id -> BigInt,
        user_id -> BigInt,
        emoji -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    chat_events (chat_id, seq) {
        chat_id -> BigInt,
        seq -> BigInt,
        kind -> Text,
        message_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        emoji -> Nullable<Text>,
        role -> Nullable<Text>,
        reaction_created_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        fingerprint -> Text,
        status -> Integer,
        body -> Text,
        created_at -> BigInt,
        message_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        uploader_id -> BigInt,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        created_at -> BigInt,
        storage_key -> Text,
        message_id -> Nullable<BigInt>,
        position -> Nullable<Integer>,
        thumbnail_key -> Nullable<Text>,
        thumbnail_refusal -> Nullable<Text>,
        removed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> BigInt,
        user_id -> BigInt,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    push_outbox (subscription_id, chat_id) {
        subscription_id -> BigInt,
        chat_id -> BigInt,
        after_seq -> BigInt,
        queued_at -> BigInt,
        due_at -> BigInt,
        attempts -> Integer,
        failing_since -> Nullable<BigInt>,
    }
}

diesel::table! {
    incoming_webhooks (id) {
        id -> BigInt,
        chat_id -> BigInt,
        bot_user_id -> BigInt,
        name -> Text,
        secret_hash -> Text,
        secret_salt -> Text,
        created_by -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        chat_id -> BigInt,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_by -> BigInt,
        created_at -> BigInt,
        delivered_seq -> BigInt,
        due_at -> BigInt,
        attempts -> Integer,
        failing_since -> Nullable<BigInt>,
        disabled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        subscription_id -> BigInt,
        webhook_id -> Text,
        seq -> BigInt,
        status -> Nullable<Integer>,
        attempt -> Integer,
        at -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    user_blocks (blocker_id, blocked_id) {
        blocker_id -> BigInt,
        blocked_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    message_reports (id) {
        id -> BigInt,
        message_id -> BigInt,
        chat_id -> BigInt,
        reporter_id -> BigInt,
        author_id -> BigInt,
        reason -> Text,
        comment -> Nullable<Text>,
        snapshot -> Text,
        status -> Text,
        created_at -> BigInt,
        resolution -> Nullable<Text>,
        resolved_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(auth_tokens -> users (user_id));
diesel::joinable!(webhook_subscriptions -> chats (chat_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(chat_authors -> chats (chat_id));
diesel::joinable!(chat_members -> chats (chat_id));
diesel::joinable!(chat_members -> users (user_id));
diesel::joinable!(messages -> chats (chat_id));
diesel::joinable!(reactions -> messages (message_id));
diesel::joinable!(push_outbox -> push_subscriptions (subscription_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    auth_tokens,
    chats,
    chat_members,
    chat_authors,
    messages,
    reactions,
    chat_events,
    idempotency_keys,
    attachments,
    message_mentions,
    server_secrets,
    push_subscriptions,
    push_outbox,
    incoming_webhooks,
    webhook_subscriptions,
    webhook_deliveries,
    user_blocks,
    message_reports,
);

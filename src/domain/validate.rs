//! Input rules from the API contract, applied at the HTTP edge before any actor is asked.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

/// Collects every failed rule of one request so the client can fix them all at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, detail: &str) {
        if !ok {
            self.0.push(FieldError {
                field: field.to_owned(),
                detail: detail.to_owned(),
            });
        }
    }

    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

pub const MAX_CONTENT_CHARS: usize = 4000;
pub const MAX_CLIENT_ID_CHARS: usize = 64;
pub const MAX_TITLE_CHARS: usize = 128;
pub const MAX_GROUP_MEMBERS: usize = 1000;

pub fn username(v: &mut Violations, name: &str) {
    let len = name.chars().count();
    v.check(
        (3..=32).contains(&len) && could_be_in_username(name),
        "username",
        "must be 3-32 characters of a-z, 0-9, '_', '.' or '-'",
    );
}

/// Whether `part` could be part of some username: every character is one a username may hold.
/// A search for anything else matches no account, on every backend alike (SQLite's `LIKE`
/// ignores ASCII case and PostgreSQL's does not; and PostgreSQL refuses a NUL in text).
pub fn could_be_in_username(part: &str) -> bool {
    part.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

pub fn password(v: &mut Violations, password: &str) {
    let len = password.chars().count();
    v.check(
        (8..=128).contains(&len),
        "password",
        "must be 8-128 characters",
    );
}

/// No stored text may hold NUL: PostgreSQL cannot store it, and no client means it.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

pub fn display_name(v: &mut Violations, name: &str) {
    let len = name.chars().count();
    v.check(
        (1..=64).contains(&len) && !name.trim().is_empty() && !has_nul(name),
        "display_name",
        "must be 1-64 characters, not only whitespace, without NUL",
    );
}

pub fn content(v: &mut Violations, content: &str) {
    let len = content.chars().count();
    v.check(
        (1..=MAX_CONTENT_CHARS).contains(&len) && !content.trim().is_empty() && !has_nul(content),
        "content",
        "must be 1-4000 characters, not only whitespace, without NUL",
    );
}

pub fn client_id(v: &mut Violations, client_id: Option<&str>) {
    if let Some(id) = client_id {
        v.check(
            id.chars().count() <= MAX_CLIENT_ID_CHARS && !has_nul(id),
            "client_id",
            "must be at most 64 characters, without NUL",
        );
    }
}

pub fn title(v: &mut Violations, title: Option<&str>) {
    if let Some(t) = title {
        let len = t.chars().count();
        v.check(
            (1..=MAX_TITLE_CHARS).contains(&len) && !t.trim().is_empty() && !has_nul(t),
            "title",
            "must be 1-128 characters, not only whitespace, without NUL",
        );
    }
}

pub fn emoji(v: &mut Violations, emoji: &str) {
    v.check(
        is_valid_emoji(emoji),
        "emoji",
        "must be 1-32 bytes without whitespace or control characters",
    );
}

pub fn is_valid_emoji(emoji: &str) -> bool {
    (1..=32).contains(&emoji.len()) && !emoji.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn positive_id(v: &mut Violations, field: &str, id: i64) {
    v.check(id > 0, field, "must be a positive integer");
}

/// `Idempotency-Key`: 1-255 printable ASCII characters.
pub fn is_valid_idempotency_key(key: &[u8]) -> bool {
    (1..=255).contains(&key.len()) && key.iter().all(|b| (0x20..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(f: impl FnOnce(&mut Violations)) -> bool {
        let mut v = Violations::new();
        f(&mut v);
        v.into_result().is_ok()
    }

    #[test]
    fn usernames() {
        assert!(ok(|v| username(v, "alice_01.x-y")));
        assert!(!ok(|v| username(v, "Alice")));
        assert!(!ok(|v| username(v, "al")));
        assert!(!ok(|v| username(v, &"a".repeat(33))));
        assert!(!ok(|v| username(v, "ali ce")));
        assert!(!ok(|v| username(v, "alicé")));
    }

    #[test]
    fn content_counts_characters_not_bytes() {
        assert!(ok(|v| content(v, &"é".repeat(4000))));
        assert!(!ok(|v| content(v, &"é".repeat(4001))));
        assert!(!ok(|v| content(v, " \n\t ")));
        assert!(!ok(|v| content(v, "")));
        assert!(!ok(|v| content(v, "a\0b")));
    }

    #[test]
    fn emojis() {
        assert!(is_valid_emoji("👍"));
        assert!(is_valid_emoji("👨‍👩‍👧‍👦"));
        assert!(!is_valid_emoji(""));
        assert!(!is_valid_emoji("a b"));
        assert!(!is_valid_emoji("\u{0007}"));
        assert!(!is_valid_emoji(&"x".repeat(33)));
    }

    #[test]
    fn idempotency_keys() {
        assert!(is_valid_idempotency_key(b"8e5b1c9e-1"));
        assert!(!is_valid_idempotency_key(b""));
        assert!(!is_valid_idempotency_key("ключ".as_bytes()));
        assert!(!is_valid_idempotency_key(&[b'a'; 256]));
    }
}

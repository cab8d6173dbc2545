//! The one username rule: 3 to 32 characters of `a-z`, `0-9`, `_`, `.` and `-`. The server
//! checks it, its OpenAPI document states it (`PATTERN`, tested against the document), and
//! clients can check a name before they send it.

/// Fewest characters of a username.
pub const MIN_CHARS: usize = 3;
/// Most characters of a username.
pub const MAX_CHARS: usize = 32;
/// The rule as a regular expression (the OpenAPI `pattern`, and the browser client's).
pub const PATTERN: &str = "^[a-z0-9_.-]{3,32}$";
/// The rule in words, for error details.
pub const RULE: &str = "must be 3-32 characters of a-z, 0-9, '_', '.' or '-'";

/// Whether `c` may be in a username.
pub fn is_username_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// Whether `name` is a valid username.
pub fn is_valid(name: &str) -> bool {
    (MIN_CHARS..=MAX_CHARS).contains(&name.chars().count()) && could_be_in_username(name)
}

/// Whether `part` could be part of some username: every character is one a username may hold.
pub fn could_be_in_username(part: &str) -> bool {
    part.chars().all(is_username_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(is_valid("alice_01.x-y"));
        assert!(is_valid("abc"));
        assert!(!is_valid("ab"));
        assert!(!is_valid(&"a".repeat(33)));
        assert!(is_valid(&"a".repeat(32)));
        for bad in ["Alice", "al ice", "alé", "al\0ce", "al+ce"] {
            assert!(!is_valid(bad), "{bad}");
        }
        assert_eq!(PATTERN, format!("^[a-z0-9_.-]{{{MIN_CHARS},{MAX_CHARS}}}$"));
    }
}

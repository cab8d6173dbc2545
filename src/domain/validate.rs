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
    v.check(
        parley_types::username::is_valid(name),
        "username",
        parley_types::username::RULE,
    );
}

/// Whether `part` could be part of some username: every character is one a username may hold.
/// A search for anything else matches no account, on every backend alike (SQLite's `LIKE`
/// ignores ASCII case and PostgreSQL's does not; and PostgreSQL refuses a NUL in text).
pub use parley_types::username::could_be_in_username;

// ---- text people show each other ------------------------------------------------------
//
// One policy for every text one user shows others (message content, chat titles, display
// names, reactions): it must show something, and it must not be able to disguise itself or
// what is around it. So: no control characters (NUL, terminal escapes, bells; content may
// hold newlines and tabs), no bidirectional embeddings, overrides or isolates (U+202A-U+202E,
// U+2066-U+2069: they reverse what follows, in this text and around it), and a text of only
// invisible characters (zero-width spaces, Hangul fillers, blank Braille, ...) counts as empty.
// The OpenAPI patterns (`CONTENT_PATTERN`, `LINE_PATTERN`) say the same in JSON Schema terms;
// a unit test holds them to these functions.

/// Whether `c` is a bidirectional embedding, override or isolate.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` shows nothing by itself: whitespace, and the characters that render as nothing
/// (or as blank space) in common fonts. They may appear in a text, but not make it up alone.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// Whether a text may hold line breaks and tabs (message content) or is one line (a name).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    Many,
    One,
}

/// Whether `c` may appear in a text of this kind.
fn is_allowed(c: char, lines: Lines) -> bool {
    if c.is_control() {
        return lines == Lines::Many && (c == '\n' || c == '\t');
    }
    !is_bidi_control(c)
}

/// The text policy: every character allowed, and at least one visible.
fn shows_something(text: &str, lines: Lines) -> bool {
    text.chars().all(|c| is_allowed(c, lines)) && text.chars().any(|c| !is_invisible(c))
}

/// JSON Schema for message content: what `shows_something(_, Lines::Many)` accepts.
pub const CONTENT_PATTERN: &str = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$";

/// JSON Schema for one-line texts (titles, display names): `shows_something(_, Lines::One)`.
pub const LINE_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$";

/// JSON Schema for a reaction, as far as it can say it (one grapheme it cannot): one line
/// without whitespace that shows something.
pub const EMOJI_PATTERN: &str = "^[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000]*$";

/// No stored text may hold NUL: PostgreSQL cannot store it, and no client means it.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

pub fn display_name(v: &mut Violations, name: &str) {
    field_display_name(v, "display_name", name);
}

/// A name shown as a user's (a webhook's, shown as its bot's) under another field's name.
pub fn field_display_name(v: &mut Violations, field: &str, name: &str) {
    let len = name.chars().count();
    v.check(
        (1..=64).contains(&len) && shows_something(name, Lines::One),
        field,
        "must be 1-64 characters on one line, showing something, without control or bidirectional-override characters",
    );
}

pub fn content(v: &mut Violations, content: &str) {
    message_text(v, "content", content);
}

/// A message's text under another field's name (an incoming webhook's `text`).
pub fn message_text(v: &mut Violations, field: &str, content: &str) {
    let len = content.chars().count();
    v.check(
        (1..=MAX_CONTENT_CHARS).contains(&len) && shows_something(content, Lines::Many),
        field,
        "must be 1-4000 characters showing something, without control characters (but newline and tab) or bidirectional overrides",
    );
}

/// A message's text when it carries attachments: it may be empty, and otherwise follows the
/// rule for any text.
pub fn caption(v: &mut Violations, content: &str) {
    if !content.is_empty() {
        self::content(v, content);
    }
}

/// Longest comment a report carries.
pub const MAX_REPORT_COMMENT_CHARS: usize = 1000;

/// JSON Schema for a report's comment: what `report_comment` accepts (any length of allowed
/// characters; the length is the schema's `maxLength`).
pub const COMMENT_PATTERN: &str =
    "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$";

/// A report's comment: what the reporter wants the operators to know, on as many lines as it
/// takes. It need not show anything (one that does not is kept as no comment).
pub fn report_comment(v: &mut Violations, comment: &str) {
    let len = comment.chars().count();
    v.check(
        len <= MAX_REPORT_COMMENT_CHARS && comment.chars().all(|c| is_allowed(c, Lines::Many)),
        "comment",
        "must be at most 1000 characters, without control characters (but newline and tab) or bidirectional overrides",
    );
}

/// Most attachments one message holds.
pub const MAX_ATTACHMENTS: usize = 10;

/// `attachment_ids` of a send: at most 10, positive, each once.
pub fn attachment_ids(v: &mut Violations, ids: &[parley_types::AttachmentId]) {
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    v.check(
        ids.len() <= MAX_ATTACHMENTS
            && distinct.len() == ids.len()
            && ids.iter().all(|id| id.get() > 0),
        "attachment_ids",
        "must be at most 10 distinct positive ids",
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
            (1..=MAX_TITLE_CHARS).contains(&len) && shows_something(t, Lines::One),
            "title",
            "must be 1-128 characters on one line, showing something, without control or bidirectional-override characters",
        );
    }
}

pub fn emoji(v: &mut Violations, emoji: &str) {
    v.check(
        is_valid_emoji(emoji),
        "emoji",
        "must be one emoji (one character as people see it) of at most 32 bytes",
    );
}

/// A reaction is one emoji: a single grapheme (which may be a sequence of code points, such
/// as a family or a skin tone), 1-32 bytes, within the text policy, without whitespace. So
/// `<b>x</b>` is not a reaction.
pub fn is_valid_emoji(emoji: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    (1..=32).contains(&emoji.len())
        && !emoji.chars().any(char::is_whitespace)
        && shows_something(emoji, Lines::One)
        && emoji.graphemes(true).count() == 1
}

/// The password rules: 8-128 characters that show something, and not easily guessed (a
/// well-known password, a keyboard walk, the username or display name with little added:
/// zxcvbn's score of at least 2, "somewhat guessable" past 10^6 guesses).
pub fn password(
    v: &mut Violations,
    field: &str,
    password: &str,
    username: &str,
    display_name: Option<&str>,
) {
    let len = password.chars().count();
    if !(8..=128).contains(&len) {
        v.check(false, field, "must be 8-128 characters");
        return;
    }
    if password.chars().all(is_invisible) {
        v.check(
            false,
            field,
            "must hold visible characters, not only spaces or invisible ones",
        );
        return;
    }
    let mut known: Vec<&str> = vec![username];
    known.extend(display_name);
    let guessable = zxcvbn::zxcvbn(password, &known).score() < zxcvbn::Score::Two;
    v.check(
        !guessable,
        field,
        "is too easy to guess (a common password, a simple pattern, or your name); choose a longer or less common one",
    );
}

pub fn positive_id(v: &mut Violations, field: &str, id: impl Into<i64>) {
    v.check(id.into() > 0, field, "must be a positive integer");
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

    /// The patterns the OpenAPI document gives agree with the rules, character by character,
    /// over the whole Basic Multilingual Plane (and a few characters past it).
    #[test]
    fn the_document_patterns_say_what_the_rules_do() {
        let content_re = regex::Regex::new(CONTENT_PATTERN).unwrap();
        let line_re = regex::Regex::new(LINE_PATTERN).unwrap();
        let emoji_re = regex::Regex::new(EMOJI_PATTERN).unwrap();
        let comment_re = regex::Regex::new(COMMENT_PATTERN).unwrap();
        let extra = ['\u{1F44D}', '\u{E0001}', '\u{10FFFF}'];
        let chars = (0u32..0x10000).filter_map(char::from_u32).chain(extra);
        for c in chars {
            for text in [c.to_string(), format!("a{c}"), format!("{c}a")] {
                assert_eq!(
                    content_re.is_match(&text),
                    shows_something(&text, Lines::Many),
                    "content {:?}",
                    text
                );
                assert_eq!(
                    line_re.is_match(&text),
                    shows_something(&text, Lines::One),
                    "line {:?}",
                    text
                );
                let emoji_like =
                    !text.chars().any(char::is_whitespace) && shows_something(&text, Lines::One);
                assert_eq!(emoji_re.is_match(&text), emoji_like, "emoji {:?}", text);
                assert_eq!(
                    comment_re.is_match(&text),
                    ok(|v| report_comment(v, &text)),
                    "comment {:?}",
                    text
                );
            }
        }
    }

    #[test]
    fn text_that_impersonates_is_refused() {
        for bad in [
            "\u{200B}",
            "\u{3164}",
            "\u{200B}\u{200B} \u{2800}",
            "hi \u{202E}gnp.exe",
            "\u{2066}x\u{2069}",
            "\u{1b}[31mred",
            "bell\u{7}",
            "a\rb",
        ] {
            assert!(!ok(|v| content(v, bad)), "{bad:?}");
        }
        assert!(ok(|v| content(v, "line one\n\tline two")));
        assert!(ok(|v| content(v, "مرحبا \u{200F}world")));
        assert!(!ok(|v| display_name(v, "bob\nadmin")));
        assert!(!ok(|v| display_name(v, "\u{3164}")));
        assert!(ok(|v| display_name(v, "Zoë 🦊")));
        assert!(!ok(|v| title(v, Some("\u{202E}maet"))));
    }

    #[test]
    fn passwords() {
        let check = |p: &str| ok(|v| password(v, "password", p, "alice", Some("Alice")));
        for weak in [
            "        ",
            "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}",
            "password",
            "12345678",
            "alicealice",
            "qwertyuiop",
            "short",
        ] {
            assert!(!check(weak), "{weak:?}");
        }
        assert!(check("correct horse"));
        assert!(check("violet-tractor-92"));
        assert!(!ok(|v| password(
            v,
            "password",
            "bobbybobby",
            "bobbybobby",
            None
        )));
        // The longest password is judged quickly.
        let started = std::time::Instant::now();
        assert!(check(&"Tr0ub4dor&3x".repeat(11)[..128]));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn emojis() {
        assert!(is_valid_emoji("👍"));
        assert!(is_valid_emoji("👨‍👩‍👧‍👦"));
        assert!(!is_valid_emoji(""));
        assert!(!is_valid_emoji("a b"));
        assert!(!is_valid_emoji("\u{0007}"));
        assert!(!is_valid_emoji(&"x".repeat(33)));
        assert!(is_valid_emoji("👍🏽"));
        assert!(is_valid_emoji("❤️"));
        assert!(is_valid_emoji("1️⃣"));
        assert!(!is_valid_emoji("<b>x</b>"));
        assert!(!is_valid_emoji("\u{202E}"));
        assert!(!is_valid_emoji("\u{200B}"));
        assert!(!is_valid_emoji("👍👍"));
    }

    #[test]
    fn idempotency_keys() {
        assert!(is_valid_idempotency_key(b"8e5b1c9e-1"));
        assert!(!is_valid_idempotency_key(b""));
        assert!(!is_valid_idempotency_key("ключ".as_bytes()));
        assert!(!is_valid_idempotency_key(&[b'a'; 256]));
    }
}

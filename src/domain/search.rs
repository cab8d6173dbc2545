//! What full-text search treats as a word, shared by both backends.
//!
//! Parley splits and folds text itself, and each database only indexes the terms it is given
//! (PostgreSQL as a `tsvector` built from them as they are, SQLite's FTS5 with a tokenizer that
//! splits on nothing but the spaces between them). So a message matches a query on SQLite
//! exactly when it does on PostgreSQL, whatever the database's locale or version.
//!
//! A word is a run of letters, digits and combining marks, folded to lower case; each Han,
//! Hiragana or Katakana character is a word of its own, since those scripts put no spaces
//! between words. A query matches a message that holds every one of its words.

use parley_types::MessageId;
use std::ops::Range;

use serde::Serialize;
use utoipa::ToSchema;

use super::validate::FieldError;
use super::Message;

/// Longest query a client may send, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most distinct words in a query.
pub const MAX_QUERY_TERMS: usize = 16;
/// Longer words are indexed and searched by their first this many characters (PostgreSQL
/// refuses lexemes over 2 KiB, and nobody searches for a 500-letter word).
pub const MAX_TERM_CHARS: usize = 64;
/// About how many characters of a long message a snippet shows around its first match.
const SNIPPET_CHARS: usize = 160;

/// One word of a text: where it stands (byte range) and its folded form.
struct Word {
    range: Range<usize>,
    folded: String,
}

/// Characters that are a word on their own.
fn stands_alone(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

/// Combining marks (accents written as separate code points) belong to the word they mark.
fn is_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// JSON Schema for a search `q`: it holds a character that is not plainly punctuation, a
/// symbol or a space. Every word character is such a character (a unit test checks this over
/// the Basic Multilingual Plane), so no query the server takes is outside the pattern; a query
/// of symbols the pattern cannot name (emoji past the BMP, say) still gets 422.
pub const QUERY_PATTERN: &str = "[^\\u0000-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u00A9\\u00AB-\\u00B1\\u00B4\\u00B6-\\u00B8\\u00BB\\u00BF\\u00D7\\u00F7\\u2000-\\u206F\\u2190-\\u23FF\\u2500-\\u2775\\u2794-\\u2BFF\\u3000-\\u3004\\u3008-\\u3020\\uFE10-\\uFE1F\\uFE30-\\uFE6F\\uFF01-\\uFF0F\\uFF1A-\\uFF20\\uFF3B-\\uFF40\\uFF5B-\\uFF65]";

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_mark(c)
}

fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .take(MAX_TERM_CHARS)
        .collect()
}

fn words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let push = |words: &mut Vec<Word>, range: Range<usize>| {
        let folded = text.get(range.clone()).map(fold).unwrap_or_default();
        if !folded.is_empty() {
            words.push(Word { range, folded });
        }
    };
    for (at, c) in text.char_indices() {
        if stands_alone(c) {
            if let Some(s) = start.take() {
                push(&mut words, s..at);
            }
            push(&mut words, at..at + c.len_utf8());
        } else if is_word_char(c) {
            start.get_or_insert(at);
        } else if let Some(s) = start.take() {
            push(&mut words, s..at);
        }
    }
    if let Some(s) = start {
        push(&mut words, s..text.len());
    }
    words
}

/// The distinct folded words of `text`, in order of first appearance, joined by single spaces:
/// what a message's search index holds (`""` for a text without words).
pub fn index_terms(text: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut joined = String::new();
    for word in words(text) {
        if seen.insert(word.folded.clone()) {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(&word.folded);
        }
    }
    joined
}

/// A validated search: the distinct folded words a message must all hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// Checks `q` against the contract's rules: not empty, not too long, at least one word.
    pub fn parse(q: &str) -> Result<Self, FieldError> {
        let refuse = |detail: &str| FieldError {
            field: "q".to_owned(),
            detail: detail.to_owned(),
        };
        if q.trim().is_empty() {
            return Err(refuse("must not be empty"));
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(refuse("must be at most 256 characters"));
        }
        let mut terms: Vec<String> = Vec::new();
        for word in words(q) {
            if !terms.contains(&word.folded) {
                terms.push(word.folded);
            }
        }
        if terms.is_empty() {
            return Err(refuse("must contain a letter or a digit"));
        }
        if terms.len() > MAX_QUERY_TERMS {
            return Err(refuse("must have at most 16 different words"));
        }
        Ok(SearchQuery { terms })
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The query as PostgreSQL `tsquery` text: every term quoted, all required. Terms hold
    /// only letters, digits and marks, so the quoting never meets a quote.
    pub fn to_tsquery(&self) -> String {
        let quoted: Vec<String> = self.terms.iter().map(|t| format!("'{t}'")).collect();
        quoted.join(" & ")
    }

    /// The query in FTS5's syntax: every term a quoted string (so that no word is read as an
    /// operator like `NOT`), all required.
    pub fn to_fts5(&self) -> String {
        let quoted: Vec<String> = self.terms.iter().map(|t| format!("\"{t}\"")).collect();
        quoted.join(" ")
    }

    /// The part of `content` worth showing for this query, split where matching words begin
    /// and end. A long message is cut around its first match, at spaces where it can be.
    pub fn snippet(&self, content: &str) -> Vec<SnippetPart> {
        let matches: Vec<Range<usize>> = words(content)
            .into_iter()
            .filter(|w| self.terms.contains(&w.folded))
            .map(|w| w.range)
            .collect();
        let window = snippet_window(content, matches.first().map(|r| r.start));
        let mut parts = Vec::new();
        let mut at = window.start;
        let cut_front = window.start > 0;
        for range in matches
            .iter()
            .filter(|r| r.start >= window.start && r.end <= window.end)
        {
            if range.start > at {
                parts.push(SnippetPart::plain(content.get(at..range.start)));
            }
            parts.push(SnippetPart::highlight(content.get(range.clone())));
            at = range.end;
        }
        if window.end > at {
            parts.push(SnippetPart::plain(content.get(at..window.end)));
        }
        if cut_front {
            match parts.first_mut() {
                Some(first) if !first.highlight => first.text.insert(0, '…'),
                _ => parts.insert(0, SnippetPart::plain(Some("…"))),
            }
        }
        if window.end < content.len() {
            match parts.last_mut() {
                Some(last) if !last.highlight => last.text.push('…'),
                _ => parts.push(SnippetPart::plain(Some("…"))),
            }
        }
        parts
    }
}

/// The byte range of `content` a snippet shows: all of a short message; of a long one about
/// `SNIPPET_CHARS` characters starting a little before `first_match`, widened to spaces.
fn snippet_window(content: &str, first_match: Option<usize>) -> Range<usize> {
    if content.chars().count() <= SNIPPET_CHARS {
        return 0..content.len();
    }
    let first = first_match.unwrap_or(0);
    // Up to a quarter of the window before the match, so that its context shows.
    let lead = content
        .get(..first)
        .map(|before| {
            before
                .char_indices()
                .rev()
                .nth(SNIPPET_CHARS / 4)
                .map_or(0, |(i, _)| i)
        })
        .unwrap_or(0);
    let start = if lead == 0 {
        0
    } else {
        // Begin after a space when one is near, so that no word is cut in two.
        content
            .get(lead..first)
            .and_then(|s| s.find(' '))
            .map_or(lead, |i| lead + i + 1)
    };
    let end = content
        .get(start..)
        .and_then(|rest| {
            rest.char_indices()
                .nth(SNIPPET_CHARS)
                .map(|(i, _)| start + i)
        })
        .unwrap_or(content.len());
    let end = content
        .get(start..end)
        .and_then(|s| s.rfind(' '))
        .map(|i| start + i)
        .filter(|&e| e > first)
        .unwrap_or(end);
    start..end
}

/// A page of search results: `GET /api/v1/search`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SearchPage {
    /// Matching messages, newest first, each complete with its reactions.
    pub messages: Vec<Message>,
    /// Whether older matches remain.
    pub has_more: bool,
    /// The `before` that asks for the next page (the id of this page's oldest message); null
    /// on the last page.
    pub next_before: Option<MessageId>,
    /// The part of each message that matched, with the query's words marked: one per message,
    /// in the same order.
    pub snippets: Vec<Snippet>,
}

/// Where a message matched a query: its text (cut to about 160 characters around the first
/// match when longer) as pieces, the query's words among them marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Snippet {
    pub message_id: MessageId,
    pub parts: Vec<SnippetPart>,
}

/// A piece of a snippet: text shown as it is, or a word that matched the query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SnippetPart {
    pub text: String,
    /// Whether this piece is a word of the query.
    pub highlight: bool,
}

impl SnippetPart {
    fn plain(text: Option<&str>) -> Self {
        SnippetPart {
            text: text.unwrap_or_default().to_owned(),
            highlight: false,
        }
    }

    fn highlight(text: Option<&str>) -> Self {
        SnippetPart {
            text: text.unwrap_or_default().to_owned(),
            highlight: true,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every query the server takes matches the document's pattern: no word character is
    /// among the characters the pattern leaves out.
    #[test]
    fn the_query_pattern_leaves_out_no_word_character() {
        let pattern = regex::Regex::new(QUERY_PATTERN).unwrap();
        for c in (0u32..0x10000).filter_map(char::from_u32) {
            if is_word_char(c) {
                assert!(pattern.is_match(&c.to_string()), "{c:?} U+{:04X}", c as u32);
            }
        }
        for punctuation in ["?!", "...", "-- --", "“”", "→", "。、"] {
            assert!(!pattern.is_match(punctuation), "{punctuation}");
        }
    }

    use super::*;

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(q).expect("valid query")
    }

    fn rendered(parts: &[SnippetPart]) -> String {
        parts
            .iter()
            .map(|p| {
                if p.highlight {
                    format!("[{}]", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn words_are_folded_and_split_on_everything_but_letters_digits_and_marks() {
        assert_eq!(
            index_terms("Hello, WORLD! hello-world v2.0 e\u{301}te\u{301}"),
            "hello world v2 0 e\u{301}te\u{301}"
        );
        assert_eq!(index_terms("Straße ÜBER Ωμέγα"), "straße über ωμέγα");
        assert_eq!(
            index_terms("日本語テキスト and 中文"),
            "日 本 語 テ キ ス ト and 中 文"
        );
        assert_eq!(index_terms("¡¿ … 🙂 --"), "");
        assert_eq!(index_terms(&"a".repeat(500)), "a".repeat(MAX_TERM_CHARS));
    }

    #[test]
    fn queries_follow_the_contract() {
        assert_eq!(query("  Cats dogs CATS ").terms(), ["cats", "dogs"]);
        assert_eq!(query("cats dogs").to_tsquery(), "'cats' & 'dogs'");
        assert_eq!(query("not or").to_fts5(), "\"not\" \"or\"");
        for bad in ["", "   ", "?!…", "🙂", &"x".repeat(257)] {
            assert!(SearchQuery::parse(bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
        assert!(SearchQuery::parse(&many.join(" ")).is_err());
        assert!(SearchQuery::parse(&many[..16].join(" ")).is_ok());
    }

    #[test]
    fn snippets_mark_every_matching_word() {
        let q = query("cat");
        assert_eq!(
            rendered(&q.snippet("The Cat sat; the cat's hat, category")),
            "The [Cat] sat; the [cat]'s hat, category"
        );
        assert_eq!(rendered(&q.snippet("cat")), "[cat]");
    }

    #[test]
    fn long_messages_are_cut_around_the_first_match_at_spaces() {
        let text = format!(
            "{} needle {}",
            "lorem ipsum ".repeat(30),
            "dolor sit ".repeat(30)
        );
        let parts = query("needle").snippet(&text);
        let shown = rendered(&parts);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(shown.contains("[needle]"), "{shown}");
        // The window, two ellipses and the two brackets of `rendered`.
        assert!(shown.chars().count() <= SNIPPET_CHARS + 4, "{shown}");
        assert!(
            shown.starts_with("…lorem ") || shown.starts_with("…ipsum "),
            "{shown}"
        );
        // A match at the very end still shows, and nothing splits a character.
        let tail = format!("{}é needle", "é".repeat(400));
        assert!(rendered(&query("needle").snippet(&tail)).ends_with("[needle]"));
    }
}

//! Pages of a user's chat list: most recent activity first, continued by a cursor.

use super::ChatSummary;
use parley_types::ChatId;

/// Where a page of the chat list continues: after the chat with this activity time and id,
/// in the list's order (`last_activity_at` descending, then id descending). Opaque to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatListCursor {
    pub last_activity_at: i64,
    pub chat_id: ChatId,
}

impl ChatListCursor {
    pub fn encode(self) -> String {
        format!("{}.{}", self.last_activity_at, self.chat_id)
    }

    /// The cursor `encode` wrote, or `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (activity, chat) = raw.split_once('.')?;
        let cursor = ChatListCursor {
            last_activity_at: activity.parse().ok()?,
            chat_id: chat.parse().ok()?,
        };
        (cursor.last_activity_at >= 0 && cursor.chat_id > ChatId(0)).then_some(cursor)
    }
}

/// Which part of the chat list to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatListRange {
    /// Every chat (a request without `limit`).
    All,
    /// At most `limit` chats, after `before` when given.
    Page {
        limit: i64,
        before: Option<ChatListCursor>,
    },
}

#[derive(Debug)]
pub struct ChatListPage {
    pub chats: Vec<ChatSummary>,
    /// Where the next page starts, when there is one.
    pub next: Option<ChatListCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let cursor = ChatListCursor {
            last_activity_at: 1_733_480_000_123,
            chat_id: ChatId(42),
        };
        assert_eq!(ChatListCursor::parse(&cursor.encode()), Some(cursor));
        for bad in [
            "", ".", "1.", ".1", "1.0", "-1.2", "1.2.3", "a.b", "1", "1.-2", " 1.2",
        ] {
            assert_eq!(ChatListCursor::parse(bad), None, "{bad:?}");
        }
    }
}

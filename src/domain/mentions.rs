//! Mentions: which members a message's text addresses. `@username` names a member (matched
//! without regard to case, since people type `@Bob`); `@all` names every member, in a group
//! only when its author is an owner or admin (from anyone else it is plain text). Names that
//! are not members, and unknown names, are plain text. The author is never among a message's
//! mentions: no one is notified of their own message.

use std::collections::BTreeSet;

use parley_types::username::{is_username_char, MAX_CHARS, MIN_CHARS};
use parley_types::{ChatKind, Role, UserId};

/// What a text asks to mention, before anyone is looked up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MentionRequest {
    /// Lowercased candidate usernames.
    pub names: BTreeSet<String>,
    pub all: bool,
}

impl MentionRequest {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.all
    }

    /// The names resolved one by one, through the ids the server keeps and the memberships a
    /// send's checks read: every name, unless the text says `@all`, whose resolution reads
    /// every member of the chat with their names (`resolve`).
    pub fn names_to_look_up(&self) -> impl Iterator<Item = &str> {
        let names = if self.all { None } else { Some(&self.names) };
        names.into_iter().flatten().map(String::as_str)
    }
}

/// The `@` words of `text`. An `@` counts at the start or after a character that cannot be in
/// a username (so `bob@example.org` mentions no one); the name is the run of username
/// characters after it, and — since a sentence may end right after a name (`thanks @bob.`) —
/// also that run without its trailing `.`, `-` or `_`.
pub fn requested(text: &str) -> MentionRequest {
    let mut request = MentionRequest::default();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = c == '@'
            && previous.is_none_or(|p| !is_username_char(p.to_ascii_lowercase()) && p != '@');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = text.get(at + 1..).unwrap_or_default();
        let name: String = rest
            .chars()
            .take_while(|c| is_username_char(c.to_ascii_lowercase()))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name == "all" {
            request.all = true;
        }
        for candidate in [name.as_str(), name.trim_end_matches(['.', '-', '_'])] {
            if (MIN_CHARS..=MAX_CHARS).contains(&candidate.len()) {
                request.names.insert(candidate.to_owned());
            }
        }
    }
    request
}

/// A member of the chat, as resolving mentions needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentionableMember {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
}

/// The members `request` mentions, ascending, without the author.
pub fn resolve(
    request: &MentionRequest,
    kind: ChatKind,
    author: UserId,
    members: &[MentionableMember],
) -> Vec<UserId> {
    if request.is_empty() {
        return Vec::new();
    }
    let may_mention_all = match kind {
        ChatKind::Direct => true,
        ChatKind::Group => members
            .iter()
            .any(|m| m.user_id == author && matches!(m.role, Role::Owner | Role::Admin)),
    };
    let everyone = request.all && may_mention_all;
    let mentioned: BTreeSet<UserId> = members
        .iter()
        .filter(|m| m.user_id != author)
        .filter(|m| everyone || request.names.contains(&m.username))
        .map(|m| m.user_id)
        .collect();
    mentioned.into_iter().collect()
}

/// The members among `named` (the ids of the request's names that are usernames), ascending,
/// without the author: those `is_member` of the chat.
pub fn resolve_named(
    named: impl IntoIterator<Item = UserId>,
    author: UserId,
    is_member: impl Fn(UserId) -> bool,
) -> Vec<UserId> {
    let mentioned: BTreeSet<UserId> = named
        .into_iter()
        .filter(|&id| id != author && is_member(id))
        .collect();
    mentioned.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        requested(text).names.into_iter().collect()
    }

    #[test]
    fn names_are_looked_up_one_by_one_only_without_all() {
        let looked_up = |text: &str| -> Vec<String> {
            requested(text)
                .names_to_look_up()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(looked_up("hi @bob and @Carol"), ["bob", "carol"]);
        assert!(looked_up("@all, @bob too").is_empty());
        assert!(looked_up("no one").is_empty());
    }

    #[test]
    fn named_members_are_mentioned_once_ascending_and_never_the_author() {
        let members = [UserId(2), UserId(5), UserId(9)];
        let named = [UserId(9), UserId(2), UserId(7), UserId(2), UserId(5)];
        assert_eq!(
            resolve_named(named, UserId(5), |id| members.contains(&id)),
            vec![UserId(2), UserId(9)]
        );
        assert!(resolve_named([], UserId(5), |_| true).is_empty());
    }

    #[test]
    fn the_at_words_of_a_text() {
        assert_eq!(names("hi @bob and @Carol_1"), ["bob", "carol_1"]);
        assert_eq!(names("thanks @bob."), ["bob", "bob."]);
        assert_eq!(names("(@bob)"), ["bob"]);
        assert!(names("mail bob@example.org").is_empty());
        assert!(!names("@@bob").contains(&"bob".to_owned()));
        assert!(names("@ab @").is_empty(), "too short, or nothing");
        assert!(names(&format!("@{}", "x".repeat(33))).is_empty());
        assert!(requested("@all hands").all);
        assert!(!requested("@allison").all);
        assert!(requested("no one").is_empty());
        assert_eq!(names("@ünïcode @bob"), ["bob"]);
    }

    fn member(id: i64, name: &str, role: Role) -> MentionableMember {
        MentionableMember {
            user_id: UserId(id),
            username: name.into(),
            role,
        }
    }

    #[test]
    fn only_members_and_all_only_from_owners_and_admins() {
        let members = [
            member(1, "alice", Role::Owner),
            member(2, "bob", Role::Member),
            member(3, "carol", Role::Admin),
        ];
        let group = |text: &str, author: i64| {
            resolve(&requested(text), ChatKind::Group, UserId(author), &members)
        };
        assert_eq!(group("@carol @bob @dave", 1), [UserId(2), UserId(3)]);
        assert_eq!(group("@alice hi", 1), [] as [UserId; 0], "not oneself");
        assert_eq!(group("@all", 1), [UserId(2), UserId(3)]);
        assert_eq!(group("@all", 3), [UserId(1), UserId(2)]);
        assert_eq!(
            group("@all", 2),
            [] as [UserId; 0],
            "plain text from a member"
        );
        assert_eq!(group("@all @carol", 2), [UserId(3)]);
        let direct = resolve(
            &requested("@all"),
            ChatKind::Direct,
            UserId(2),
            &members[..2],
        );
        assert_eq!(direct, [UserId(1)]);
    }
}

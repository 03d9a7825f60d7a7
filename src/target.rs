//! Who a request is about: a user named by numeric ID or by screen name.
//!
//! Every input format, the plan, the journal and the network clients speak of targets through
//! this one type, so normalisation rules (IDs are `u64 > 0`, screen names are 1–15 of
//! `[A-Za-z0-9_]` and compare case-insensitively) live here and nowhere else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One account to act on, as the user named it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A numeric user ID (`u64 > 0`).
    Id(u64),
    /// A screen name without the `@`, in the case the user wrote it.
    ScreenName(String),
}

/// How a target is named; written to the journal beside the target so that the screen name
/// `"123"` (written `@123` in a list) is never confused with the user ID `123`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The target is a numeric user ID.
    UserId,
    /// The target is a screen name.
    ScreenName,
}

/// The identity used to compare targets: IDs by value, screen names ignoring case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKey {
    /// A numeric user ID.
    Id(u64),
    /// A screen name folded to ASCII lowercase.
    Name(Box<str>),
}

/// Why a token is not a usable target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The ID is zero.
    #[error("user ID must be greater than zero")]
    ZeroId,
    /// The ID starts with a minus sign.
    #[error("user ID `{0}` is negative")]
    NegativeId(String),
    /// The ID does not fit in 64 bits.
    #[error("user ID `{0}` is too large (more than 64 bits)")]
    IdTooLarge(String),
    /// The ID is not made of digits.
    #[error("user ID `{0}` is not a number")]
    NotAnId(String),
    /// The screen name is empty (for example a lone `@`).
    #[error("screen name is empty")]
    EmptyName,
    /// The screen name is longer than 15 characters.
    #[error("screen name `{0}` is longer than 15 characters")]
    NameTooLong(String),
    /// The screen name holds a character outside `[A-Za-z0-9_]`.
    #[error("screen name `{0}` may only contain letters, digits and `_`")]
    BadNameChar(String),
}

/// The longest screen name the network accepts.
pub const MAX_SCREEN_NAME_LEN: usize = 15;

impl Target {
    /// Parses a user ID: ASCII digits only, no sign, greater than zero, at most `u64::MAX`.
    pub fn parse_id(raw: &str) -> Result<Target, TargetError> {
        let s = raw.trim();
        // One pass over the digits: a million-line list or journal parses an ID per line.
        let mut id: Option<u64> = Some(0);
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            for b in s.bytes() {
                id = id
                    .and_then(|v| v.checked_mul(10))
                    .and_then(|v| v.checked_add(u64::from(b - b'0')));
            }
            return match id {
                Some(0) => Err(TargetError::ZeroId),
                Some(id) => Ok(Target::Id(id)),
                None => Err(TargetError::IdTooLarge(shorten(s))),
            };
        }
        if let Some(rest) = s.strip_prefix('-')
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(TargetError::NegativeId(s.to_owned()));
        }
        Err(TargetError::NotAnId(shorten(s)))
    }

    /// Parses a screen name, with or without a leading `@`. `@123` is the screen name `"123"`.
    ///
    /// ```
    /// use bulk_unblock::target::{Target, TargetKind};
    ///
    /// let name = Target::parse_screen_name("@123").unwrap();
    /// assert_eq!(name, Target::ScreenName("123".into()));
    /// assert_eq!(name.kind(), TargetKind::ScreenName);
    /// // Screen names compare ignoring case; an ID never equals a name.
    /// assert_eq!(Target::parse_screen_name("Jack").unwrap().key(), Target::parse_screen_name("@JACK").unwrap().key());
    /// assert_ne!(name.key(), Target::parse_id("123").unwrap().key());
    /// assert!(Target::parse_screen_name("no-dashes").is_err());
    /// ```
    pub fn parse_screen_name(raw: &str) -> Result<Target, TargetError> {
        let s = raw.trim();
        let name = s.strip_prefix('@').unwrap_or(s);
        if name.is_empty() {
            return Err(TargetError::EmptyName);
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(TargetError::BadNameChar(shorten(name)));
        }
        if name.len() > MAX_SCREEN_NAME_LEN {
            return Err(TargetError::NameTooLong(shorten(name)));
        }
        Ok(Target::ScreenName(name.to_owned()))
    }

    /// Rebuilds a target from its journal form (`target` plus `by`).
    pub fn from_journal(target: &str, kind: TargetKind) -> Result<Target, TargetError> {
        match kind {
            TargetKind::UserId => Target::parse_id(target),
            TargetKind::ScreenName => Target::parse_screen_name(target),
        }
    }

    /// How this target is named.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Id(_) => TargetKind::UserId,
            Target::ScreenName(_) => TargetKind::ScreenName,
        }
    }

    /// The comparison key: duplicates and journal matches are found through it.
    pub fn key(&self) -> TargetKey {
        match self {
            Target::Id(id) => TargetKey::Id(*id),
            Target::ScreenName(name) => TargetKey::name(name),
        }
    }
}

impl TargetKey {
    /// The key of a screen name (folded to lowercase).
    pub fn name(name: &str) -> TargetKey {
        TargetKey::Name(name.to_ascii_lowercase().into_boxed_str())
    }
}

/// The journal form: the ID in decimal, or the screen name without `@`.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Id(id) => write!(f, "{id}"),
            Target::ScreenName(name) => f.write_str(name),
        }
    }
}

/// Keeps error messages readable when a line holds a long run of garbage.
fn shorten(s: &str) -> String {
    crate::display::shorten(s, 40).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_u64() {
        assert_eq!(Target::parse_id("12345"), Ok(Target::Id(12345)));
        assert_eq!(Target::parse_id(" 7 "), Ok(Target::Id(7)));
        assert_eq!(
            Target::parse_id("18446744073709551615"),
            Ok(Target::Id(u64::MAX))
        );
        assert_eq!(Target::parse_id("0"), Err(TargetError::ZeroId));
        assert_eq!(Target::parse_id("000"), Err(TargetError::ZeroId));
        assert!(matches!(
            Target::parse_id("-5"),
            Err(TargetError::NegativeId(_))
        ));
        assert!(matches!(
            Target::parse_id("18446744073709551616"),
            Err(TargetError::IdTooLarge(_))
        ));
        assert!(matches!(
            Target::parse_id("12a"),
            Err(TargetError::NotAnId(_))
        ));
        assert!(matches!(Target::parse_id(""), Err(TargetError::NotAnId(_))));
    }

    #[test]
    fn screen_names_follow_the_network_rules() {
        assert_eq!(
            Target::parse_screen_name("@Jack_1"),
            Ok(Target::ScreenName("Jack_1".into()))
        );
        assert_eq!(
            Target::parse_screen_name("@123"),
            Ok(Target::ScreenName("123".into()))
        );
        assert_eq!(Target::parse_screen_name("@"), Err(TargetError::EmptyName));
        assert!(matches!(
            Target::parse_screen_name("a-b"),
            Err(TargetError::BadNameChar(_))
        ));
        assert!(matches!(
            Target::parse_screen_name("sixteen_chars_xx"),
            Err(TargetError::NameTooLong(_))
        ));
        assert!(matches!(
            Target::parse_screen_name("élan"),
            Err(TargetError::BadNameChar(_))
        ));
    }

    #[test]
    fn names_compare_ignoring_case_and_never_equal_ids() {
        let a = Target::parse_screen_name("Jack").unwrap();
        let b = Target::parse_screen_name("@JACK").unwrap();
        assert_eq!(a.key(), b.key());
        let name_123 = Target::parse_screen_name("@123").unwrap();
        let id_123 = Target::parse_id("123").unwrap();
        assert_ne!(name_123.key(), id_123.key());
        assert_eq!(name_123.to_string(), id_123.to_string());
        assert_ne!(name_123.kind(), id_123.kind());
    }

    #[test]
    fn journal_form_round_trips() {
        for t in [Target::Id(42), Target::ScreenName("Some_Name".into())] {
            assert_eq!(Target::from_journal(&t.to_string(), t.kind()), Ok(t));
        }
    }

    #[test]
    fn long_garbage_is_shortened_in_messages() {
        let long = "x".repeat(500) + "-";
        let msg = Target::parse_screen_name(&long).unwrap_err().to_string();
        assert!(msg.len() < 120, "{msg}");
    }
}

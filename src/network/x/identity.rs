//! X's identities: user IDs and screen names, as they appear in lists, CSV files, profile
//! links and the data archive, and in the journal.
//!
//! Screen names are 1–15 letters, digits or `_`, compared ignoring case; user IDs are whole
//! numbers above zero that fit 64 bits. A bare number is an ID and `@123` the screen name
//! "123". Profile links on x.com and twitter.com (any scheme, `www.` or `mobile.`, intent
//! links, `/i/user/ID`) name their user; links to the site's own pages are refused.

use std::borrow::Cow;

use crate::input::{Column, Identities, Parsed, SEVERAL_FIELDS, strip_prefix_ignore_case};
use crate::target::{Kind, Space, Target, TargetKey};

/// A user named by numeric ID.
pub static USER_ID: Kind = Kind {
    name: "user_id",
    space: Space::Id,
    noun: "a user ID",
};

/// A user named by screen name.
pub static SCREEN_NAME: Kind = Kind {
    name: "screen_name",
    space: Space::Name,
    noun: "a screen name",
};

static KINDS: [&Kind; 2] = [&USER_ID, &SCREEN_NAME];

/// CSV header names, each kind's preferred first.
static COLUMNS: [Column; 7] = [
    Column {
        name: "user_id",
        kind: &USER_ID,
    },
    Column {
        name: "id",
        kind: &USER_ID,
    },
    Column {
        name: "account_id",
        kind: &USER_ID,
    },
    Column {
        name: "accountid",
        kind: &USER_ID,
    },
    Column {
        name: "screen_name",
        kind: &SCREEN_NAME,
    },
    Column {
        name: "username",
        kind: &SCREEN_NAME,
    },
    Column {
        name: "handle",
        kind: &SCREEN_NAME,
    },
];

/// The longest screen name the network accepts.
pub const MAX_SCREEN_NAME_LEN: usize = 15;

/// X's identities, for the input readers and the journal.
pub struct XIdentities;

/// The one instance.
pub static IDENTITIES: XIdentities = XIdentities;

impl Identities for XIdentities {
    fn kinds(&self) -> &'static [&'static Kind] {
        &KINDS
    }

    fn read_journal(&self, kind: &'static Kind, text: &str) -> Result<Target, String> {
        if kind == &USER_ID {
            parse_id(text)
        } else {
            parse_screen_name(text)
        }
        .map_err(|e| e.to_string())
    }

    fn journal_key(&self, kind: &'static Kind, text: &str) -> Result<TargetKey, String> {
        if kind == &USER_ID {
            let id = parse_id_number(text).map_err(|e| e.to_string())?;
            Ok(TargetKey::number(Space::Id, id))
        } else {
            self.read_journal(kind, text).map(|t| t.key())
        }
    }

    fn parse_token(&self, token: &str) -> Result<Target, String> {
        list_target(token)
    }

    fn columns(&self) -> &'static [Column] {
        &COLUMNS
    }

    fn parse_cell(&self, kind: &'static Kind, cell: &str) -> Result<Target, String> {
        self.read_journal(kind, cell)
    }

    fn read_own_format(&self, source: &str, bytes: &[u8]) -> Option<Parsed> {
        super::archive::is_archive(bytes).then(|| super::archive::parse(source, bytes))
    }

    fn list_token(&self, target: &Target) -> String {
        if target.is(&SCREEN_NAME) {
            format!("@{target}")
        } else {
            target.to_string()
        }
    }

    fn export_columns(&self) -> [&'static str; 2] {
        ["user_id", "screen_name"]
    }
}

/// Why a token is not a usable X target.
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

/// Parses a user ID: ASCII digits only, no sign, greater than zero, at most `u64::MAX`. The
/// target's text is the canonical decimal, without leading zeros.
pub fn parse_id(raw: &str) -> Result<Target, TargetError> {
    let id = parse_id_number(raw)?;
    let digits = raw.trim();
    Ok(if digits.starts_with('0') {
        Target::new(
            &USER_ID,
            compact_str::ToCompactString::to_compact_string(&id),
        )
    } else {
        // Already canonical: no number to format again (a million-line list has an ID a line).
        Target::new(&USER_ID, digits)
    })
}

/// The number of a user ID (see [`parse_id`]).
pub fn parse_id_number(raw: &str) -> Result<u64, TargetError> {
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
            Some(id) => Ok(id),
            None => Err(TargetError::IdTooLarge(shorten(s).into_owned())),
        };
    }
    if let Some(rest) = s.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(TargetError::NegativeId(s.to_owned()));
    }
    Err(TargetError::NotAnId(shorten(s).into_owned()))
}

/// Parses a screen name, with or without a leading `@`. `@123` is the screen name `"123"`.
///
/// ```
/// use bulk_unblock::network::x::identity::{parse_id, parse_screen_name, SCREEN_NAME};
///
/// let name = parse_screen_name("@123").unwrap();
/// assert!(name.is(&SCREEN_NAME));
/// assert_eq!(name.text(), "123");
/// // Screen names compare ignoring case; an ID never equals a name.
/// assert_eq!(parse_screen_name("Jack").unwrap().key(), parse_screen_name("@JACK").unwrap().key());
/// assert_ne!(name.key(), parse_id("123").unwrap().key());
/// assert!(parse_screen_name("no-dashes").is_err());
/// ```
pub fn parse_screen_name(raw: &str) -> Result<Target, TargetError> {
    let s = raw.trim();
    let name = s.strip_prefix('@').unwrap_or(s);
    if name.is_empty() {
        return Err(TargetError::EmptyName);
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(TargetError::BadNameChar(shorten(name).into_owned()));
    }
    if name.len() > MAX_SCREEN_NAME_LEN {
        return Err(TargetError::NameTooLong(shorten(name).into_owned()));
    }
    Ok(Target::new(&SCREEN_NAME, name))
}

/// Reads one list token: a user ID, `@name`, a bare name, or a profile link.
pub fn list_target(token: &str) -> Result<Target, String> {
    if let Some(rest) = profile_link_rest(token) {
        return link_target(rest);
    }
    if token.contains("://") {
        return Err(format!(
            "`{}` is not an X/Twitter profile link",
            shorten(token)
        ));
    }
    if token.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    let digits = token.strip_prefix('-').unwrap_or(token);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return parse_id(token).map_err(|e| e.to_string());
    }
    parse_screen_name(token).map_err(|e| e.to_string())
}

/// If `token` is a link to twitter.com or x.com (any scheme, `www.`/`mobile.`, or none),
/// returns what follows the host: empty, or starting with `/`, `?` or `#`.
fn profile_link_rest(token: &str) -> Option<&str> {
    let mut s = token;
    for scheme in ["https://", "http://"] {
        if let Some(rest) = strip_prefix_ignore_case(s, scheme) {
            s = rest;
            break;
        }
    }
    for sub in ["www.", "mobile."] {
        if let Some(rest) = strip_prefix_ignore_case(s, sub) {
            s = rest;
            break;
        }
    }
    ["twitter.com", "x.com"].into_iter().find_map(|host| {
        strip_prefix_ignore_case(s, host)
            .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
    })
}

/// First path segments that belong to the site, not to a user. Screen names cannot take
/// them, so a link to one of them is a mistake, not an account.
pub(crate) const RESERVED_PATHS: &[&str] = &[
    "account",
    "bookmarks",
    "communities",
    "compose",
    "explore",
    "hashtag",
    "home",
    "i",
    "intent",
    "jobs",
    "lists",
    "login",
    "logout",
    "messages",
    "notifications",
    "privacy",
    "search",
    "settings",
    "share",
    "signup",
    "tos",
];

/// The user a profile link names, given what follows the host.
fn link_target(rest: &str) -> Result<Target, String> {
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, after) = rest.split_at(path_end);
    let query = after
        .strip_prefix('?')
        .map(|q| q.split('#').next().unwrap_or(q))
        .unwrap_or("");
    if path.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    let mut segments = path.trim_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    let second = segments.next();
    let third = segments.next();
    let extra = segments.next();
    match (first, second, third, extra) {
        ("", None, None, None) => Err("link does not name a user".to_owned()),
        (intent, Some(kind), None, None)
            if intent.eq_ignore_ascii_case("intent")
                && (kind.eq_ignore_ascii_case("user") || kind.eq_ignore_ascii_case("follow")) =>
        {
            intent_target(query)
        }
        // `/i/user/ID` is the site's own permalink to an account by ID.
        (i, Some(user), Some(id), None)
            if i.eq_ignore_ascii_case("i") && user.eq_ignore_ascii_case("user") =>
        {
            parse_id(id).map_err(|e| format!("link: {e}"))
        }
        (name, None, None, None) => {
            if RESERVED_PATHS.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                Err(format!("link to `/{name}` is not a user profile"))
            } else {
                parse_screen_name(name).map_err(|e| format!("link: {e}"))
            }
        }
        _ => Err(format!(
            "link `{}` is not a profile link (expected https://x.com/NAME)",
            shorten(path)
        )),
    }
}

/// The user an intent link (`/intent/user?user_id=N` or `?screen_name=NAME`) names; the ID
/// wins when both are given.
fn intent_target(query: &str) -> Result<Target, String> {
    let mut name: Option<Cow<'_, str>> = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "user_id" {
            return parse_id(&value).map_err(|e| format!("intent link: {e}"));
        }
        if key == "screen_name" && name.is_none() {
            name = Some(value);
        }
    }
    match name {
        Some(name) => parse_screen_name(&name).map_err(|e| format!("intent link: {e}")),
        None => Err("intent link has neither `user_id` nor `screen_name`".to_owned()),
    }
}

/// Keeps messages readable when a line holds a long run of garbage.
fn shorten(s: &str) -> Cow<'_, str> {
    crate::display::shorten(s, 60)
}

/// Targets for tests, spelled short.
#[cfg(test)]
pub mod testing {
    use super::{SCREEN_NAME, USER_ID};
    use crate::target::Target;

    /// The user ID `n`.
    pub fn id(n: u64) -> Target {
        Target::new(&USER_ID, n.to_string())
    }

    /// The screen name `s`, as written.
    pub fn name(s: impl AsRef<str>) -> Target {
        Target::new(&SCREEN_NAME, s.as_ref())
    }
}

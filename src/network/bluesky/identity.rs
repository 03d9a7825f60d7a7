//! Bluesky's identities: DIDs, handles and moderation lists, as they appear in lists, CSV
//! files, profile and list links from the app, at-URIs, and in the journal.
//!
//! A DID is kept as given (`did:plc:…`, `did:web:…`); a handle is folded to lowercase and
//! written without its `@`; a moderation list is written as its at-URI,
//! `at://AUTHORITY/app.bsky.graph.list/RKEY`. A list link from the app that names its owner by
//! handle (`https://bsky.app/profile/alice.bsky.social/lists/RKEY`) keeps the handle as the
//! at-URI's authority: parsing is offline, and the journal then names what the user wrote. The
//! client resolves that handle before the run, like any other, and matches the list-block
//! records (whose subject names the owner by DID) through it.

use std::borrow::Cow;

use crate::input::{Column, Identities, SEVERAL_FIELDS, strip_prefix_ignore_case};
use crate::target::{Kind, Space, Target};

/// An account named by its DID.
pub static DID: Kind = Kind {
    name: "did",
    space: Space::Id,
    noun: "a DID",
};

/// An account named by its handle.
pub static HANDLE: Kind = Kind {
    name: "handle",
    space: Space::Name,
    noun: "a handle",
};

/// A moderation list, named by its at-URI.
pub static LIST: Kind = Kind {
    name: "list",
    space: Space::Other,
    noun: "a moderation list",
};

static KINDS: [&Kind; 3] = [&DID, &HANDLE, &LIST];

/// CSV header names. `did` is what `export` writes, lists' at-URIs included (with `--lists`).
static COLUMNS: [Column; 3] = [
    Column {
        name: "did",
        kind: &DID,
    },
    Column {
        name: "handle",
        kind: &HANDLE,
    },
    Column {
        name: "list",
        kind: &LIST,
    },
];

/// The collection of moderation lists: a list's at-URI names a record of it.
pub const LIST_COLLECTION: &str = "app.bsky.graph.list";

/// The longest handle the protocol allows.
const MAX_HANDLE_LEN: usize = 253;

/// The longest DID the protocol allows.
const MAX_DID_LEN: usize = 2048;

/// Bluesky's identities, for the input readers and the journal.
pub struct BlueskyIdentities;

/// The one instance.
pub static IDENTITIES: BlueskyIdentities = BlueskyIdentities;

impl Identities for BlueskyIdentities {
    fn kinds(&self) -> &'static [&'static Kind] {
        &KINDS
    }

    fn read_journal(&self, kind: &'static Kind, text: &str) -> Result<Target, String> {
        if kind == &DID {
            parse_did(text)
        } else if kind == &HANDLE {
            parse_handle(text)
        } else {
            parse_list_uri(text)
        }
    }

    fn parse_token(&self, token: &str) -> Result<Target, String> {
        list_target(token)
    }

    fn columns(&self) -> &'static [Column] {
        &COLUMNS
    }

    fn parse_cell(&self, kind: &'static Kind, cell: &str) -> Result<Target, String> {
        if kind == &DID {
            // An export with `--lists` writes the lists it left in the same column.
            if strip_prefix_ignore_case(cell, "at://").is_some() {
                return parse_list_uri(cell);
            }
            parse_did(cell)
        } else if kind == &HANDLE {
            parse_handle(cell)
        } else {
            list_target(cell).and_then(|t| {
                if t.is(&LIST) {
                    Ok(t)
                } else {
                    Err(format!("`{}` is not a moderation list", shorten(cell)))
                }
            })
        }
    }

    fn list_token(&self, target: &Target) -> String {
        if target.is(&HANDLE) {
            format!("@{target}")
        } else {
            target.to_string()
        }
    }

    fn export_columns(&self) -> [&'static str; 2] {
        ["did", "handle"]
    }
}

/// Reads one list token: a DID, a handle (with or without `@`), a profile or list link from
/// the app, or an at-URI naming an account or a list.
pub fn list_target(token: &str) -> Result<Target, String> {
    if strip_prefix_ignore_case(token, "at://").is_some() {
        return at_uri_target(token);
    }
    if let Some(rest) = app_link_rest(token) {
        return link_target(rest);
    }
    if token.contains("://") {
        return Err(format!(
            "`{}` is not a Bluesky profile or list link (expected https://bsky.app/profile/…)",
            shorten(token)
        ));
    }
    if token.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    if strip_prefix_ignore_case(token, "did:").is_some() {
        return parse_did(token);
    }
    parse_handle(token)
}

/// Parses a DID, kept as given. A `did:plc` identifier must be its 24 lowercase base32
/// characters, which catches the commonest typos (a case change, a character lost).
pub fn parse_did(raw: &str) -> Result<Target, String> {
    let did = raw.trim();
    check_did(did)?;
    Ok(Target::new(&DID, did))
}

fn check_did(did: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("DID `{}` {why}", shorten(did)));
    let Some(rest) = did.strip_prefix("did:") else {
        return bad("must start with `did:`");
    };
    let Some((method, id)) = rest.split_once(':') else {
        return bad("has no method (expected did:METHOD:ID)");
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return bad("has a method that is not lowercase letters");
    }
    if id.is_empty()
        || id.ends_with(':')
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:%-".contains(&b))
    {
        return bad("has characters a DID cannot hold");
    }
    if did.len() > MAX_DID_LEN {
        return bad("is too long");
    }
    if method == "plc"
        && (id.len() != 24 || !id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')))
    {
        return bad("is not a did:plc (24 lowercase letters and digits 2-7 after `did:plc:`)");
    }
    Ok(())
}

/// Parses a handle, with or without a leading `@`, folded to lowercase.
///
/// ```
/// use bulk_unblock::network::bluesky::identity::{parse_handle, HANDLE};
///
/// let handle = parse_handle("@Alice.BSKY.social").unwrap();
/// assert!(handle.is(&HANDLE));
/// assert_eq!(handle.text(), "alice.bsky.social");
/// assert!(parse_handle("alice").is_err(), "a handle is a domain name");
/// ```
pub fn parse_handle(raw: &str) -> Result<Target, String> {
    let s = raw.trim();
    let handle = s.strip_prefix('@').unwrap_or(s);
    check_handle(handle)?;
    Ok(Target::new(&HANDLE, handle.to_ascii_lowercase()))
}

fn check_handle(handle: &str) -> Result<(), String> {
    if handle.is_empty() {
        return Err("handle is empty".to_owned());
    }
    let bad = |why: &str| Err(format!("handle `{}` {why}", shorten(handle)));
    if handle.len() > MAX_HANDLE_LEN {
        return bad("is longer than 253 characters");
    }
    let labels: Vec<&str> = handle.split('.').collect();
    if labels.len() < 2 {
        return bad("is not a domain name (expected something like alice.bsky.social)");
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return bad("has an empty or over-long part between dots");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("may only contain letters, digits, `-` and dots");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("has a part starting or ending with `-`");
        }
    }
    if labels
        .last()
        .and_then(|tld| tld.bytes().next())
        .is_some_and(|b| b.is_ascii_digit())
    {
        return bad("ends with a part starting with a digit");
    }
    Ok(())
}

/// A DID or a handle naming an account (an at-URI's authority, a link's profile).
fn actor(raw: &str) -> Result<Target, String> {
    if strip_prefix_ignore_case(raw, "did:").is_some() {
        parse_did(raw)
    } else {
        parse_handle(raw)
    }
}

/// A list's at-URI, with its authority checked and a handle authority lowercased.
fn list_uri(authority: &str, rkey: &str) -> Result<Target, String> {
    let owner = actor(authority).map_err(|e| format!("list owner: {e}"))?;
    check_rkey(rkey)?;
    Ok(Target::new(
        &LIST,
        format!("at://{}/{LIST_COLLECTION}/{rkey}", owner.text()),
    ))
}

fn check_rkey(rkey: &str) -> Result<(), String> {
    let valid = (1..=512).contains(&rkey.len())
        && rkey != "."
        && rkey != ".."
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!("`{}` is not a record key", shorten(rkey)))
    }
}

/// Parses a list's at-URI strictly (the journal's form, and the `list` column's).
pub fn parse_list_uri(raw: &str) -> Result<Target, String> {
    let t = at_uri_target(raw.trim())?;
    if t.is(&LIST) {
        Ok(t)
    } else {
        Err(format!("`{}` is not a moderation list", shorten(raw)))
    }
}

/// An at-URI: `at://ACTOR` names the account, `at://ACTOR/app.bsky.graph.list/RKEY` a list.
fn at_uri_target(token: &str) -> Result<Target, String> {
    let rest = &token["at://".len()..];
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        [actor_text] if !actor_text.is_empty() => actor(actor_text),
        [authority, collection, rkey] if *collection == LIST_COLLECTION => {
            list_uri(authority, rkey)
        }
        [_, collection, _] => Err(format!(
            "`{}` names a record of {collection}, not an account or a moderation list",
            shorten(token)
        )),
        _ => Err(format!(
            "`{}` is not an at-URI of an account or a moderation list",
            shorten(token)
        )),
    }
}

/// If `token` is a link to the Bluesky app (`https://bsky.app`, `www.`, any scheme or none),
/// returns what follows the host: empty, or starting with `/`, `?` or `#`.
fn app_link_rest(token: &str) -> Option<&str> {
    let mut s = token;
    for scheme in ["https://", "http://"] {
        if let Some(rest) = strip_prefix_ignore_case(s, scheme) {
            s = rest;
            break;
        }
    }
    let s = strip_prefix_ignore_case(s, "www.").unwrap_or(s);
    strip_prefix_ignore_case(s, "bsky.app")
        .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

/// What a link to the app names: `/profile/ACTOR` an account, `/profile/ACTOR/lists/RKEY` a
/// moderation list.
fn link_target(rest: &str) -> Result<Target, String> {
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    if path.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [profile, name] if profile.eq_ignore_ascii_case("profile") && !name.is_empty() => {
            actor(name).map_err(|e| format!("link: {e}"))
        }
        [profile, name, lists, rkey]
            if profile.eq_ignore_ascii_case("profile") && *lists == "lists" =>
        {
            list_uri(name, rkey).map_err(|e| format!("link: {e}"))
        }
        [profile, _, what, ..] if profile.eq_ignore_ascii_case("profile") => Err(format!(
            "link to a profile's `{what}` page is not a profile or a list"
        )),
        _ => Err(format!(
            "link `{}` is not a profile or list link (expected https://bsky.app/profile/NAME)",
            shorten(path)
        )),
    }
}

/// The authority of a list target's at-URI (a DID, or a lowercased handle).
pub fn list_owner(list: &Target) -> Option<&str> {
    let rest = list.text().strip_prefix("at://")?;
    rest.split('/').next()
}

/// The record key of a list target's at-URI.
pub fn list_rkey(list: &Target) -> Option<&str> {
    list.text().rsplit('/').next()
}

/// Keeps messages readable when a line holds a long run of garbage.
fn shorten(s: &str) -> Cow<'_, str> {
    crate::display::shorten(s, 60)
}

/// Targets for tests, spelled short.
#[cfg(test)]
pub mod testing {
    use super::{DID, HANDLE, LIST};
    use crate::target::Target;

    /// The DID `did`, as written.
    pub fn did(did: &str) -> Target {
        Target::new(&DID, did)
    }

    /// The handle `h`, as the parser writes it (lowercase).
    pub fn handle(h: &str) -> Target {
        Target::new(&HANDLE, h.to_ascii_lowercase())
    }

    /// The list `at://OWNER/app.bsky.graph.list/RKEY`.
    pub fn list(owner: &str, rkey: &str) -> Target {
        Target::new(&LIST, format!("at://{owner}/app.bsky.graph.list/{rkey}"))
    }
}

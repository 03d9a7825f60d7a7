//! Mastodon's identities: account IDs, accts and domains, as they appear in lists, CSV files,
//! profile links and Mastodon's own exports, and in the journal.
//!
//! An acct is `user@domain` for an account of another server and `user` for one of the
//! instance itself; people also write `@user@domain`, `@user` and profile links
//! (`https://domain/@user`, or `https://instance/@user@domain` for a remote account seen from
//! an instance). Accts are kept lowercase without the leading `@`, so the journal compares
//! texts. Bare digits are the instance's account ID (`@123` is the user "123"). Which domain
//! is the instance's own is only known once the client has asked the server: the client, not
//! the parser, treats `user` and `user@instance` as one account. Domains (`--domains`) are a
//! space of their own, lowercased, and read from Mastodon's `blocked_domains.csv`.

use std::borrow::Cow;

use crate::input::{Column, Identities, SEVERAL_FIELDS, strip_prefix_ignore_case};
use crate::target::{Kind, Space, Target, TargetKey};

/// An account named by the instance's account ID (digits).
pub static ACCOUNT_ID: Kind = Kind {
    name: "account_id",
    space: Space::Id,
    noun: "an account ID",
};

/// An account named by its acct: `user@domain`, or `user` for a local account.
pub static ACCT: Kind = Kind {
    name: "acct",
    space: Space::Name,
    noun: "an acct",
};

/// A whole server, named by its domain (`--domains`).
pub static DOMAIN: Kind = Kind {
    name: "domain",
    space: Space::Other,
    noun: "a domain",
};

/// The largest account ID: Mastodon's IDs are positive signed 64-bit values (`bigint`).
pub const MAX_ACCOUNT_ID: u64 = i64::MAX as u64;

static EVERY_KIND: [&Kind; 3] = [&ACCOUNT_ID, &ACCT, &DOMAIN];
static ACCOUNT_KINDS: [&Kind; 2] = [&ACCOUNT_ID, &ACCT];
static DOMAIN_KINDS: [&Kind; 1] = [&DOMAIN];

/// CSV header names of accounts, each kind's preferred first. `Account address` is how
/// Mastodon's own exports (follows, mutes) and its import name the acct column.
static ACCOUNT_COLUMNS: [Column; 4] = [
    Column {
        name: "account_id",
        kind: &ACCOUNT_ID,
    },
    Column {
        name: "id",
        kind: &ACCOUNT_ID,
    },
    Column {
        name: "acct",
        kind: &ACCT,
    },
    Column {
        name: "Account address",
        kind: &ACCT,
    },
];

/// CSV header names of domains.
static DOMAIN_COLUMNS: [Column; 1] = [Column {
    name: "domain",
    kind: &DOMAIN,
}];

/// What a set of identities reads: a journal holds every kind, an input accounts or domains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Journal,
    Accounts,
    Domains,
}

/// Mastodon's identities in one of its modes: see [`JOURNAL`], [`ACCOUNTS`] and [`DOMAINS`].
pub struct MastodonIdentities {
    mode: Mode,
}

/// Every kind, for the journal (a journal of `--domains` names domains); lists read as
/// accounts.
pub static JOURNAL: MastodonIdentities = MastodonIdentities {
    mode: Mode::Journal,
};

/// Accounts by ID or acct: the inputs of a command without `--domains`.
pub static ACCOUNTS: MastodonIdentities = MastodonIdentities {
    mode: Mode::Accounts,
};

/// Domains: the inputs of a command with `--domains`.
pub static DOMAINS: MastodonIdentities = MastodonIdentities {
    mode: Mode::Domains,
};

impl Identities for MastodonIdentities {
    fn kinds(&self) -> &'static [&'static Kind] {
        match self.mode {
            Mode::Journal => &EVERY_KIND,
            Mode::Accounts => &ACCOUNT_KINDS,
            Mode::Domains => &DOMAIN_KINDS,
        }
    }

    fn read_journal(&self, kind: &'static Kind, text: &str) -> Result<Target, String> {
        if kind == &ACCOUNT_ID {
            parse_id(text)
        } else if kind == &ACCT {
            parse_acct(text)
        } else {
            parse_domain(text)
        }
    }

    fn journal_key(&self, kind: &'static Kind, text: &str) -> Result<TargetKey, String> {
        if kind == &ACCOUNT_ID {
            id_number(text).map(|n| TargetKey::number(Space::Id, n))
        } else {
            self.read_journal(kind, text).map(|t| t.key())
        }
    }

    fn parse_token(&self, token: &str) -> Result<Target, String> {
        match self.mode {
            Mode::Domains => domain_token(token),
            Mode::Journal | Mode::Accounts => account_token(token),
        }
    }

    fn columns(&self) -> &'static [Column] {
        match self.mode {
            Mode::Domains => &DOMAIN_COLUMNS,
            Mode::Journal | Mode::Accounts => &ACCOUNT_COLUMNS,
        }
    }

    fn parse_cell(&self, kind: &'static Kind, cell: &str) -> Result<Target, String> {
        if kind == &ACCOUNT_ID {
            parse_id(cell)
        } else if kind == &ACCT {
            match profile_link(cell) {
                Some(link) => link,
                None => parse_acct(cell),
            }
        } else {
            domain_token(cell)
        }
    }

    fn list_token(&self, target: &Target) -> String {
        // `@` keeps an acct of digits from reading back as an account ID.
        if target.is(&ACCT) {
            format!("@{target}")
        } else {
            target.to_string()
        }
    }

    fn export_columns(&self) -> [&'static str; 2] {
        match self.mode {
            // Domains have no second name: the export is one column.
            Mode::Domains => ["domain", ""],
            Mode::Journal | Mode::Accounts => ["account_id", "acct"],
        }
    }
}

/// Reads one list token of accounts: an account ID, an acct in any of its spellings, or a
/// profile link.
pub fn account_token(token: &str) -> Result<Target, String> {
    if let Some(link) = profile_link(token) {
        return link;
    }
    if token.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    let digits = token.strip_prefix('-').unwrap_or(token);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return parse_id(token);
    }
    parse_acct(token)
}

/// Parses an account ID: ASCII digits, from 1 to [`MAX_ACCOUNT_ID`]. The target's text is
/// the canonical decimal, without leading zeros.
pub fn parse_id(raw: &str) -> Result<Target, String> {
    let n = id_number(raw)?;
    let digits = raw.trim();
    Ok(if digits.starts_with('0') {
        Target::new(&ACCOUNT_ID, n.to_string())
    } else {
        Target::new(&ACCOUNT_ID, digits)
    })
}

/// The number of an account ID (see [`parse_id`]).
fn id_number(raw: &str) -> Result<u64, String> {
    let s = raw.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        if s.strip_prefix('-')
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("account ID `{}` is negative", shorten(s)));
        }
        return Err(format!("account ID `{}` is not a number", shorten(s)));
    }
    match s.parse::<u64>() {
        Ok(0) => Err("account ID must be greater than zero".to_owned()),
        Ok(n) if n <= MAX_ACCOUNT_ID => Ok(n),
        _ => Err(format!(
            "account ID `{}` is too large (more than 63 bits)",
            shorten(s)
        )),
    }
}

/// Parses an acct: `user@domain`, `@user@domain`, `user` or `@user`, lowercased, without the
/// leading `@`. The username follows Mastodon's rule (letters, digits and `_`, with `.` or `-`
/// inside for another server's accounts: the instance's own take none); the domain is an ASCII
/// domain name.
///
/// ```
/// use bulk_unblock::network::mastodon::identity::{parse_acct, ACCT};
///
/// let acct = parse_acct("@Alice@Mastodon.Social").unwrap();
/// assert!(acct.is(&ACCT));
/// assert_eq!(acct.text(), "alice@mastodon.social");
/// assert_eq!(parse_acct("@123").unwrap().text(), "123");
/// assert!(parse_acct("a@b@c").is_err());
/// ```
pub fn parse_acct(raw: &str) -> Result<Target, String> {
    let s = raw.trim();
    let acct = s.strip_prefix('@').unwrap_or(s);
    if acct.is_empty() {
        return Err("acct is empty".to_owned());
    }
    let (user, domain) = match acct.split_once('@') {
        Some((user, domain)) => (user, Some(domain)),
        None => (acct, None),
    };
    if domain.is_some_and(|d| d.contains('@')) {
        return Err(format!(
            "`{}` has more than one `@` (expected user@domain)",
            shorten(s)
        ));
    }
    check_username(user)?;
    if domain.is_none() && user.contains(['.', '-']) {
        // Only remote usernames take `.` and `-`: this is more likely a domain.
        return Err(format!(
            "`{}` is not a username of the instance (letters, digits and `_`): write an \
             account of another server as user@domain, and domains with --domains",
            shorten(user)
        ));
    }
    let mut text = user.to_ascii_lowercase();
    if let Some(domain) = domain {
        let domain = normalize_domain(domain).map_err(|e| format!("acct `{}`: {e}", shorten(s)))?;
        text.push('@');
        text.push_str(&domain);
    }
    Ok(Target::new(&ACCT, text))
}

/// Mastodon's `Account::USERNAME_RE`: `[a-z0-9_]+([.-]+[a-z0-9_]+)*`, ignoring case.
fn check_username(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("the username before `@` is empty".to_owned());
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = user.as_bytes();
    let inner = bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
    if !inner || !word(bytes[0]) || !word(bytes[bytes.len() - 1]) {
        return Err(format!(
            "username `{}` may only contain letters, digits and `_`, with `.` or `-` inside",
            shorten(user)
        ));
    }
    Ok(())
}

/// Lowercases and checks a domain name: ASCII labels of letters, digits and `-`, separated by
/// dots (a final dot dropped).
fn normalize_domain(raw: &str) -> Result<String, String> {
    let domain = raw.trim();
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err("the domain is empty".to_owned());
    }
    if !domain.is_ascii() {
        return Err(format!(
            "domain `{}` is not ASCII; write it in its xn-- form",
            shorten(domain)
        ));
    }
    let domain = domain.to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(format!(
            "`{}` is not a domain name (letters, digits and `-`, separated by dots)",
            shorten(&domain)
        ));
    }
    Ok(domain)
}

/// Parses a domain of `--domains`.
pub fn parse_domain(raw: &str) -> Result<Target, String> {
    normalize_domain(raw).map(|d| Target::new(&DOMAIN, d))
}

/// Reads one token of a domain list: a domain, or a link to the server's root
/// (`https://domain/`).
pub fn domain_token(token: &str) -> Result<Target, String> {
    let token = token.trim();
    if let Some(rest) = strip_scheme(token) {
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (host, path) = rest.split_at(host_end);
        if !matches!(path, "" | "/") {
            return Err(format!(
                "`{}` is a link to a page, not a domain",
                shorten(token)
            ));
        }
        return parse_domain(host);
    }
    if token.contains('@') {
        return Err(format!(
            "`{}` is an account, not a domain (--domains reads domains, one a line)",
            shorten(token)
        ));
    }
    if token.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    parse_domain(token.strip_suffix('/').unwrap_or(token))
}

/// What follows `https://` or `http://` (any case), when `token` starts with one.
fn strip_scheme(token: &str) -> Option<&str> {
    ["https://", "http://"]
        .into_iter()
        .find_map(|scheme| strip_prefix_ignore_case(token, scheme))
}

/// The account a profile link names, when `token` is a link at all: `https://domain/@user`
/// (the user of that domain), `https://instance/@user@domain` (a remote account as an
/// instance shows it) or `https://domain/users/user` (the account's ActivityPub ID).
fn profile_link(token: &str) -> Option<Result<Target, String>> {
    let rest = strip_scheme(token.trim())?;
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let expected = || {
        Err(format!(
            "link `{}` is not a profile link (expected https://DOMAIN/@USER)",
            shorten(token.trim())
        ))
    };
    let host = match normalize_domain(host) {
        Ok(host) => host,
        Err(e) => return Some(Err(format!("link: {e}"))),
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let acct = match segments.as_slice() {
        [at] if at.len() > 1 && at.starts_with('@') => {
            let acct = &at[1..];
            if acct.contains('@') {
                acct.to_owned()
            } else {
                format!("{acct}@{host}")
            }
        }
        ["users", user] => format!("{user}@{host}"),
        [at, _] if at.starts_with('@') => {
            return Some(Err(format!(
                "link `{}` is a post, not a profile (expected https://DOMAIN/@USER)",
                shorten(token.trim())
            )));
        }
        _ => return Some(expected()),
    };
    Some(parse_acct(&acct).map_err(|e| format!("link: {e}")))
}

/// Keeps messages readable when a line holds a long run of garbage.
fn shorten(s: &str) -> Cow<'_, str> {
    crate::display::shorten(s, 60)
}

/// Targets for tests, spelled short.
#[cfg(test)]
pub mod testing {
    use super::{ACCOUNT_ID, ACCT, DOMAIN};
    use crate::target::Target;

    /// The account ID `n`.
    pub fn id(n: u64) -> Target {
        Target::new(&ACCOUNT_ID, n.to_string())
    }

    /// The acct `s`, as written (tests write it lowercase).
    pub fn acct(s: &str) -> Target {
        Target::new(&ACCT, s)
    }

    /// The domain `s`.
    pub fn domain(s: &str) -> Target {
        Target::new(&DOMAIN, s)
    }
}

//! The emulated instance's starting world: its domain, the accounts it knows (local and remote),
//! the access tokens with their scopes, and each local user's blocks and domain blocks, read
//! from JSON.
//!
//! A seed is written by hand or built by a test, so every reference in it (a token's account, a
//! blocked account, a user's account) is checked once, when the emulator is built, and reported
//! with the offending value instead of surfacing later as a puzzling 404. Tokens are
//! credentials, so `Debug` output redacts them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::emulator::seed::Redacted;

/// The builtin seed, the one `bulk-unblock emulator --network mastodon` serves without `--seed`.
const BUILTIN_SEED: &str = include_str!("../../../sample-data/mastodon-seed.json");

/// The largest account ID: IDs are positive signed 64-bit values (`bigint`).
pub const MAX_ACCOUNT_ID: u64 = i64::MAX as u64;

/// The longest username of a local account (Mastodon's `UsernameValidator` allows 30).
pub const MAX_LOCAL_USERNAME_LEN: usize = 30;

/// Every scope Mastodon grants, besides the `admin:` family (accepted by prefix).
pub const KNOWN_SCOPES: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
];

/// Everything the emulated instance starts from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The instance's own domain (`LOCAL_DOMAIN`): local accounts export as `user@DOMAIN`, and
    /// a lookup of `user@DOMAIN` finds the local `user`.
    pub domain: String,
    /// Every account the instance knows, local and remote.
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    /// Access tokens, each of a local account or of an app alone.
    #[serde(default)]
    pub tokens: Vec<SeedToken>,
    /// Local users' blocks and domain blocks.
    #[serde(default)]
    pub users: Vec<SeedUser>,
}

/// An account the instance knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// The account ID: digits in a string, snowflake-sized (above 2^53, so a JSON number would
    /// lose precision in many readers).
    pub id: String,
    /// The username, unique per domain ignoring case.
    pub username: String,
    /// The account's domain; absent for a local account.
    #[serde(default)]
    pub domain: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: String,
    /// Suspended by the instance: left out of `GET /api/v1/blocks`, still found by ID and by
    /// lookup (with `suspended: true`), still unblockable.
    #[serde(default)]
    pub suspended: bool,
}

impl SeedAccount {
    /// A local account.
    pub fn local(id: &str, username: &str) -> SeedAccount {
        SeedAccount {
            id: id.to_owned(),
            username: username.to_owned(),
            domain: None,
            display_name: username.to_owned(),
            suspended: false,
        }
    }

    /// A remote account.
    pub fn remote(id: &str, username: &str, domain: &str) -> SeedAccount {
        SeedAccount {
            domain: Some(domain.to_owned()),
            ..SeedAccount::local(id, username)
        }
    }
}

/// An access token. `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedToken {
    /// A name for people and the admin view (never the token itself).
    pub name: String,
    /// The bearer token.
    pub token: String,
    /// The granted scopes, space-separated, as the OAuth flow spells them.
    pub scopes: String,
    /// The local account the token acts for; absent for an app-only token (client
    /// credentials), which methods needing a user answer with 422.
    #[serde(default)]
    pub account: Option<String>,
}

impl fmt::Debug for SeedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedToken")
            .field("name", &self.name)
            .field("token", &Redacted)
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .finish()
    }
}

/// A local user's blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// The user's local account ID.
    pub account: String,
    /// Blocked account IDs, oldest block first: block rows get ascending IDs in this order, so
    /// `GET /api/v1/blocks` lists them last first.
    #[serde(default)]
    pub blocks: Vec<String>,
    /// Blocked domains, oldest first.
    #[serde(default)]
    pub domain_blocks: Vec<String>,
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The JSON does not have the seed's shape.
    #[error("seed is not valid JSON of the expected shape")]
    Json(#[source] serde_json::Error),
    /// The instance domain is not a domain.
    #[error("the instance domain `{0}` is not a lowercase domain name")]
    BadDomain(String),
    /// An account ID is not digits from 1 to [`MAX_ACCOUNT_ID`].
    #[error("account ID `{0}` is not a number from 1 to {MAX_ACCOUNT_ID} in a string")]
    BadId(String),
    /// Two accounts share an ID.
    #[error("account ID {0} appears more than once")]
    DuplicateId(String),
    /// A username breaks Mastodon's rule.
    #[error("username `{0}` is invalid (letters, digits and `_`, with `.` or `-` inside)")]
    BadUsername(String),
    /// A remote account's domain is missing, invalid or the instance's own.
    #[error("account {id} has domain `{domain}`, which is not a remote domain")]
    BadAccountDomain {
        /// The account.
        id: String,
        /// Its domain.
        domain: String,
    },
    /// Two accounts share a username on one domain (ignoring case).
    #[error("`{0}` names more than one account (usernames are unique per domain ignoring case)")]
    DuplicateAcct(String),
    /// A reference to an account the seed does not have.
    #[error("{what} names account {id}, which is not among the seed's accounts")]
    UnknownAccount {
        /// What refers to it (`token NAME`, `user ID`, …).
        what: String,
        /// The ID given.
        id: String,
    },
    /// A user or a token's account is remote.
    #[error("{what} names account {id}, which is not local")]
    NotLocal {
        /// What refers to it.
        what: String,
        /// The ID given.
        id: String,
    },
    /// Two user entries for one account.
    #[error("account {0} has more than one user entry")]
    DuplicateUser(String),
    /// Two tokens share a value (the value is not shown: it is a secret) or a name.
    #[error("token `{0}` reuses another token's value or name")]
    DuplicateToken(String),
    /// A token names a scope Mastodon does not have.
    #[error("token `{name}` has the unknown scope `{scope}`")]
    UnknownScope {
        /// The token's name.
        name: String,
        /// The scope.
        scope: String,
    },
    /// A token's value cannot travel in an `Authorization` header.
    #[error("token `{0}` is empty or holds characters a bearer token cannot")]
    BadToken(String),
    /// A domain block is not a domain.
    #[error("account {account} blocks the domain `{domain}`, which is not a lowercase domain name")]
    BadDomainBlock {
        /// The blocking account.
        account: String,
        /// The text given.
        domain: String,
    },
}

impl Seed {
    /// Reads a seed from JSON. References are checked by [`super::Emulator::new`].
    pub fn from_json(bytes: &[u8]) -> Result<Seed, SeedError> {
        serde_json::from_slice(bytes).map_err(SeedError::Json)
    }

    /// The sample seed shipped with the crate (`sample-data/mastodon-seed.json`): the instance
    /// `mastodon.test`, the local accounts `demo_owner` (about 200 blocks, some of suspended
    /// accounts, and five domain blocks) and `other_owner` (a few), about 300 accounts in all,
    /// and tokens with several scope sets.
    pub fn builtin() -> Seed {
        // The file is part of the crate and a unit test parses it, so failing here is a build
        // defect, not bad input.
        Seed::from_json(BUILTIN_SEED.as_bytes()).expect("the builtin seed parses (unit-tested)")
    }

    /// The account with this ID.
    pub fn account(&self, id: &str) -> Option<&SeedAccount> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// The token called `name`.
    pub fn token(&self, name: &str) -> Option<&SeedToken> {
        self.tokens.iter().find(|t| t.name == name)
    }
}

/// Parses an account ID: ASCII digits, 1 to [`MAX_ACCOUNT_ID`].
pub fn parse_id(raw: &str) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u64>()
        .ok()
        .filter(|id| (1..=MAX_ACCOUNT_ID).contains(id))
}

/// Checks a username against Mastodon's rule (`[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?`, ignoring
/// case). Remote usernames are not length-limited; local ones are checked by the caller.
pub fn valid_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            word(first) && word(last) && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        _ => false,
    }
}

/// Checks a lowercase ASCII domain name: dot-separated labels of letters, digits and `-`.
pub fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// True for a scope Mastodon grants.
pub fn known_scope(scope: &str) -> bool {
    KNOWN_SCOPES.contains(&scope)
        || scope == "admin:read"
        || scope == "admin:write"
        || scope.starts_with("admin:read:")
        || scope.starts_with("admin:write:")
}

/// True for a token that can travel in `Authorization: Bearer …` unchanged.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_domains_scopes_and_ids_follow_the_rules() {
        for ok in ["a", "Gargron", "user_1", "first.last", "a-b"] {
            assert!(valid_username(ok), "{ok}");
        }
        for bad in ["", "@a", "a.", "-a", "a b", "café"] {
            assert!(!valid_username(bad), "{bad}");
        }
        assert!(valid_domain("mastodon.test") && valid_domain("xn--caf-dma.example"));
        for bad in [
            "",
            "Upper.example",
            "a..b",
            "-a.example",
            "a b",
            "a.example/",
        ] {
            assert!(!valid_domain(bad), "{bad}");
        }
        assert!(known_scope("write:blocks") && known_scope("admin:read:accounts"));
        assert!(!known_scope("write:block") && !known_scope("admin"));
        assert_eq!(
            parse_id("109382000000000000"),
            Some(109_382_000_000_000_000)
        );
        for bad in ["", "0", "-1", "12a", "9223372036854775808", " 1"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
        assert!(valid_token("aB3-_x") && !valid_token("a b") && !valid_token(""));
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let builtin = Seed::builtin();
        let text = format!("{builtin:?}");
        for t in &builtin.tokens {
            assert!(!text.contains(&t.token), "{}", t.name);
        }
        assert!(text.contains("[redacted]") && text.contains("demo_owner"));
    }
}

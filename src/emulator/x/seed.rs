//! The emulator's starting world: apps, users and accounts with their blocks, read from JSON.
//!
//! A seed is data a person writes by hand or a test builds in code, so every reference in it
//! (an account's user, its app, its blocked users) is checked once, when the emulator is built,
//! and reported with the offending value rather than surfacing later as a puzzling 404.
//!
//! A seed holds credentials, so its `Debug` output redacts them, as the client's `Secret`
//! does: a test that prints a seed, or a log of one, must not leak what it would sign with.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::emulator::seed::Redacted;

/// The builtin seed, the one `bulk-unblock emulator` serves when no `--seed` is given.
const BUILTIN_SEED: &str = include_str!("../../../sample-data/emulator-seed.json");

/// The largest user ID the emulator accepts: the network's IDs are positive signed 64-bit values,
/// and cursors are built from them.
pub const MAX_USER_ID: u64 = i64::MAX as u64;

/// Everything the emulator starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Registered apps (consumer key and secret).
    #[serde(default)]
    pub apps: Vec<SeedApp>,
    /// Every user the emulated network knows, account owners included.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Accounts that hold an access token, with their blocked sets.
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
}

/// A registered app. `Debug` redacts both values: the consumer key is an identifier, but the
/// client treats it as secret too, and so does the emulator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApp {
    /// The consumer key (API key).
    pub consumer_key: String,
    /// The consumer secret (API key secret).
    pub consumer_secret: String,
}

impl fmt::Debug for SeedApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedApp")
            .field("consumer_key", &Redacted)
            .field("consumer_secret", &Redacted)
            .finish()
    }
}

/// A user of the emulated network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// The numeric user ID (a string in JSON).
    #[serde(with = "id_string")]
    pub id: u64,
    /// The screen name, unique ignoring case.
    pub screen_name: String,
    /// The display name.
    pub name: String,
    /// Whether the user is active, suspended or deactivated.
    #[serde(default)]
    pub state: UserState,
}

impl SeedUser {
    /// An active user.
    pub fn active(id: u64, screen_name: &str, name: &str) -> SeedUser {
        SeedUser {
            id,
            screen_name: screen_name.to_owned(),
            name: name.to_owned(),
            state: UserState::Active,
        }
    }
}

/// The life state of a user, which decides how the endpoints treat them as a target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// A normal account.
    #[default]
    Active,
    /// Suspended by the network: hidden from lists, errors as a target.
    Suspended,
    /// Deactivated by its owner: hidden from lists, 404 as a target.
    Deactivated,
}

/// What an access token may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessLevel {
    /// Read and write: may block and unblock.
    #[default]
    ReadWrite,
    /// Read only: writes get 403 code 261.
    Read,
}

impl AccessLevel {
    /// The value of the `x-access-level` header.
    pub fn header_value(self) -> &'static str {
        match self {
            AccessLevel::ReadWrite => "read-write",
            AccessLevel::Read => "read",
        }
    }
}

/// An account that can be acted for: a user holding an access token of an app. `Debug`
/// redacts the token, its secret and the app's consumer key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// The owner's user ID; the owner must be among the seed's users.
    #[serde(with = "id_string")]
    pub user_id: u64,
    /// The consumer key of the app the token was issued to.
    pub consumer_key: String,
    /// The access token.
    pub access_token: String,
    /// The access token secret.
    pub access_token_secret: String,
    /// What the token may do.
    #[serde(default)]
    pub access_level: AccessLevel,
    /// False emulates an app tier without v1.1 access (every v1.1 call gets 403 code 453).
    #[serde(default = "yes")]
    pub v1_access: bool,
    /// The IDs this account blocks; each must be among the seed's users.
    #[serde(default, with = "id_string_list")]
    pub blocked: Vec<u64>,
}

impl fmt::Debug for SeedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedAccount")
            .field("user_id", &self.user_id)
            .field("consumer_key", &Redacted)
            .field("access_token", &Redacted)
            .field("access_token_secret", &Redacted)
            .field("access_level", &self.access_level)
            .field("v1_access", &self.v1_access)
            .field("blocked", &self.blocked)
            .finish()
    }
}

fn yes() -> bool {
    true
}

/// The longest screen name the network allows.
pub const MAX_SCREEN_NAME_LEN: usize = 15;

/// Why a text is not a screen name the network could hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScreenNameError {
    /// Nothing at all.
    #[error("a screen name cannot be empty")]
    Empty,
    /// More than [`MAX_SCREEN_NAME_LEN`] characters.
    #[error("a screen name has at most {MAX_SCREEN_NAME_LEN} characters")]
    TooLong,
    /// A character other than an ASCII letter, digit or `_` (an `@` or a space included).
    #[error("a screen name holds only letters, digits and `_`")]
    BadChar,
}

/// Checks a screen name against the network's rule, `^[A-Za-z0-9_]{1,15}$` (the pattern the v2
/// reference gives for `usernames`). The emulator keeps its own check rather than the
/// client's, so that it stays an independent model of the server.
pub fn check_screen_name(name: &str) -> Result<(), ScreenNameError> {
    if name.is_empty() {
        Err(ScreenNameError::Empty)
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Err(ScreenNameError::BadChar)
    } else if name.len() > MAX_SCREEN_NAME_LEN {
        Err(ScreenNameError::TooLong)
    } else {
        Ok(())
    }
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The JSON does not have the seed's shape.
    #[error("seed is not valid JSON of the expected shape")]
    Json(#[source] serde_json::Error),
    /// Two users share an ID.
    #[error("user ID {0} appears more than once")]
    DuplicateUserId(u64),
    /// Two users share a screen name (ignoring case).
    #[error("screen name `{0}` appears more than once (screen names are unique ignoring case)")]
    DuplicateScreenName(String),
    /// A user ID is zero or above the signed 64-bit range.
    #[error("user ID {0} is out of range (1 to {MAX_USER_ID})")]
    IdOutOfRange(u64),
    /// A screen name breaks the network's rules.
    #[error("screen name `{name}` of user {id} is invalid")]
    BadScreenName {
        /// The user's ID.
        id: u64,
        /// The offending name.
        name: String,
        /// What is wrong with it.
        #[source]
        source: ScreenNameError,
    },
    /// Two apps share a consumer key.
    #[error("consumer key `{0}` appears more than once")]
    DuplicateApp(String),
    /// An account names an app that is not in the seed.
    #[error("account of user {user_id} names a consumer key that no app has")]
    UnknownApp {
        /// The account owner's ID.
        user_id: u64,
    },
    /// An account's owner is not among the users.
    #[error("account owner {0} is not among the seed's users")]
    UnknownOwner(u64),
    /// Two accounts share an owner.
    #[error("user {0} has more than one account")]
    DuplicateAccount(u64),
    /// Two accounts share an access token (the value is not shown: it is a secret).
    #[error("account of user {0} reuses another account's access token")]
    DuplicateToken(u64),
    /// A blocked ID is not among the users.
    #[error("account of user {account} blocks {blocked}, who is not among the seed's users")]
    UnknownBlocked {
        /// The account owner's ID.
        account: u64,
        /// The unknown ID.
        blocked: u64,
    },
}

impl Seed {
    /// Reads a seed from JSON. References are checked by [`super::Emulator::new`].
    pub fn from_json(bytes: &[u8]) -> Result<Seed, SeedError> {
        serde_json::from_slice(bytes).map_err(SeedError::Json)
    }

    /// The sample seed shipped with the crate (`sample-data/emulator-seed.json`): the accounts
    /// `demo_owner` (200 blocks) and `other_owner` (a few), and about 240 other users.
    pub fn builtin() -> Seed {
        // The file is part of the crate and a unit test parses it, so failing here is a build
        // defect, not bad input.
        Seed::from_json(BUILTIN_SEED.as_bytes()).expect("the builtin seed parses (unit-tested)")
    }
}

/// IDs travel as strings in JSON, because JSON numbers above 2^53 lose precision in many readers.
mod id_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let raw = String::deserialize(d)?;
        parse(&raw).map_err(D::Error::custom)
    }

    pub(super) fn parse(raw: &str) -> Result<u64, String> {
        raw.parse::<u64>()
            .map_err(|_| format!("`{raw}` is not a user ID (digits in a string)"))
    }
}

mod id_string_list {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(ids: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter().map(|id| id.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        raw.iter()
            .map(|s| super::id_string::parse(s).map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_names_follow_the_networks_rule() {
        for ok in ["a", "Jack", "user_123", "A23456789012345"] {
            assert_eq!(check_screen_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_screen_name(""), Err(ScreenNameError::Empty));
        assert_eq!(
            check_screen_name("A234567890123456"),
            Err(ScreenNameError::TooLong)
        );
        for bad in ["@jack", "no-dashes", " jack", "jack ", "café"] {
            assert_eq!(
                check_screen_name(bad),
                Err(ScreenNameError::BadChar),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_redacts_every_credential() {
        let seed = Seed {
            apps: vec![SeedApp {
                consumer_key: "ConsumerKeyValue".into(),
                consumer_secret: "ConsumerSecretValue".into(),
            }],
            users: vec![SeedUser::active(7, "owner", "Owner")],
            accounts: vec![SeedAccount {
                user_id: 7,
                consumer_key: "ConsumerKeyValue".into(),
                access_token: "7-AccessTokenValue".into(),
                access_token_secret: "AccessTokenSecretValue".into(),
                access_level: AccessLevel::ReadWrite,
                v1_access: true,
                blocked: vec![8],
            }],
        };
        for text in [format!("{seed:?}"), format!("{seed:#?}")] {
            for secret in [
                "ConsumerKeyValue",
                "ConsumerSecretValue",
                "AccessTokenValue",
                "AccessTokenSecretValue",
            ] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            // What is not secret still shows, so the output stays useful.
            assert!(
                text.contains("[redacted]") && text.contains("owner"),
                "{text}"
            );
            assert!(
                text.contains("user_id: 7") && text.contains("blocked"),
                "{text}"
            );
        }
        // The builtin seed's real-looking values do not leak either.
        let builtin = Seed::builtin();
        let text = format!("{builtin:?}");
        for app in &builtin.apps {
            assert!(!text.contains(&app.consumer_secret) && !text.contains(&app.consumer_key));
        }
        for a in &builtin.accounts {
            assert!(!text.contains(&a.access_token) && !text.contains(&a.access_token_secret));
        }
    }
}

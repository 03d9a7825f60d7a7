//! The emulated network's starting world, read from JSON: users (DIDs and handles), the
//! accounts hosted on the emulated PDS (with their passwords and app passwords), and the
//! records in each repo.
//!
//! A seed is data a person edits by hand, so every reference in it (an account's user, a
//! record's repo, each identifier's syntax) is checked once, when the emulator is built, and
//! reported with the offending value. A seed holds passwords, so its `Debug` output redacts
//! them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::syntax::{is_did, is_handle, is_nsid, is_record_key};
use crate::emulator::seed::Redacted;

/// The builtin seed, the one `bulk-unblock emulator --network bluesky` serves when no
/// `--seed` is given.
const BUILTIN_SEED: &str = include_str!("../../../sample-data/bluesky-seed.json");

/// The service DID when the seed names none (the reference PDS on loopback calls itself so).
pub const DEFAULT_SERVICE_DID: &str = "did:web:localhost";

/// Everything the emulator starts from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The PDS's DID: the audience of its tokens and the `did` of `describeServer`.
    #[serde(default = "default_service_did")]
    pub service_did: String,
    /// Every user the emulated network knows, account owners included.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// The accounts hosted on the emulated PDS: the ones that can log in and write.
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    /// Records by repo DID, then collection, in any order (the emulator sorts them by key).
    #[serde(default)]
    pub repos: BTreeMap<String, BTreeMap<String, Vec<SeedRecord>>>,
}

fn default_service_did() -> String {
    DEFAULT_SERVICE_DID.to_owned()
}

/// A user of the emulated network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// The DID.
    pub did: String,
    /// The handle, unique ignoring case.
    pub handle: String,
    /// The display name.
    #[serde(default)]
    pub display_name: String,
    /// The profile's description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether the account is active, deactivated, deleted or taken down.
    #[serde(default)]
    pub state: UserState,
    /// When the account was created (RFC 3339).
    #[serde(default = "default_created_at")]
    pub created_at: String,
}

fn default_created_at() -> String {
    "2023-04-01T00:00:00.000Z".to_owned()
}

impl SeedUser {
    /// An active user.
    pub fn active(did: &str, handle: &str) -> SeedUser {
        SeedUser {
            did: did.to_owned(),
            handle: handle.to_owned(),
            display_name: String::new(),
            description: String::new(),
            state: UserState::Active,
            created_at: default_created_at(),
        }
    }
}

/// The handle of a user the emulator makes up for a DID no seed names (a test blocks thousands
/// of made-up DIDs without listing users): `u-` and the DID's last 10 letters and digits,
/// lowercase, under `.bsky.test`.
pub fn made_up_handle(did: &str) -> String {
    let tail: String = did
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("u-{}.bsky.test", tail.to_ascii_lowercase())
}

/// The life state of a user: only active users resolve, have profiles and serve their repo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// A normal account.
    #[default]
    Active,
    /// Deactivated by its owner: the handle no longer resolves, no profile.
    Deactivated,
    /// Deleted: gone from every view; records that name it stay in others' repos.
    Deleted,
    /// Taken down by the network: gone from every view.
    Takendown,
}

/// An account hosted on the emulated PDS. `Debug` redacts its passwords.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// The owner's DID; the owner must be among the seed's users.
    pub did: String,
    /// The account's email (an identifier `createSession` takes, ignoring case).
    pub email: String,
    /// The account password.
    pub password: String,
    /// App passwords, each with a name unique in the account.
    #[serde(default)]
    pub app_passwords: Vec<SeedAppPassword>,
}

impl fmt::Debug for SeedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedAccount")
            .field("did", &self.did)
            .field("email", &self.email)
            .field("password", &Redacted)
            .field("app_passwords", &self.app_passwords)
            .finish()
    }
}

/// An app password. `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAppPassword {
    /// Its name, as the settings list it.
    pub name: String,
    /// The password (`xxxx-xxxx-xxxx-xxxx` on the PDS).
    pub password: String,
}

impl fmt::Debug for SeedAppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedAppPassword")
            .field("name", &self.name)
            .field("password", &Redacted)
            .finish()
    }
}

/// One record: its key and its value (a JSON object, `$type` included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRecord {
    /// The record key (a TID for blocks and lists).
    pub rkey: String,
    /// The record.
    pub value: serde_json::Value,
}

/// What is wrong with a seed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedError {
    /// The JSON does not parse as a seed.
    #[error("not a seed: {0}")]
    Json(String),
    /// A DID is malformed.
    #[error("`{0}` is not a DID")]
    BadDid(String),
    /// A handle is malformed.
    #[error("`{handle}` (of {did}) is not a handle")]
    BadHandle {
        /// The user's DID.
        did: String,
        /// The handle.
        handle: String,
    },
    /// Two users share a DID.
    #[error("two users have the DID {0}")]
    DuplicateDid(String),
    /// Two users share a handle.
    #[error("two users have the handle {0}")]
    DuplicateHandle(String),
    /// An account names no user.
    #[error("the account {0} is no user of the seed")]
    UnknownAccount(String),
    /// Two accounts share a DID or an email.
    #[error("two accounts have the DID or email {0}")]
    DuplicateAccount(String),
    /// Two app passwords of an account share a name.
    #[error("the account {did} has two app passwords named {name}")]
    DuplicateAppPassword {
        /// The account.
        did: String,
        /// The name.
        name: String,
    },
    /// A repo names no user.
    #[error("the repo {0} is no user of the seed")]
    UnknownRepo(String),
    /// A collection is not an NSID.
    #[error("the collection `{collection}` of {did} is not an NSID")]
    BadCollection {
        /// The repo.
        did: String,
        /// The collection.
        collection: String,
    },
    /// A record key is malformed or repeated, or a record is not an object of its collection.
    #[error("the record {collection}/{rkey} of {did}: {problem}")]
    BadRecord {
        /// The repo.
        did: String,
        /// The collection.
        collection: String,
        /// The record key.
        rkey: String,
        /// What is wrong.
        problem: &'static str,
    },
}

impl Seed {
    /// The builtin seed.
    pub fn builtin() -> Seed {
        // The builtin seed is checked by a test; a broken one is a build defect.
        Seed::from_json(BUILTIN_SEED.as_bytes()).unwrap_or_default()
    }

    /// Parses a seed (its references are checked when the emulator is built).
    pub fn from_json(bytes: &[u8]) -> Result<Seed, SeedError> {
        serde_json::from_slice(bytes).map_err(|e| SeedError::Json(e.to_string()))
    }

    /// Checks every identifier's syntax and every reference.
    pub fn check(&self) -> Result<(), SeedError> {
        if !is_did(&self.service_did) {
            return Err(SeedError::BadDid(self.service_did.clone()));
        }
        let mut dids = std::collections::HashSet::new();
        let mut handles = std::collections::HashSet::new();
        for user in &self.users {
            if !is_did(&user.did) {
                return Err(SeedError::BadDid(user.did.clone()));
            }
            if !is_handle(&user.handle) {
                return Err(SeedError::BadHandle {
                    did: user.did.clone(),
                    handle: user.handle.clone(),
                });
            }
            if !dids.insert(user.did.as_str()) {
                return Err(SeedError::DuplicateDid(user.did.clone()));
            }
            if !handles.insert(user.handle.to_ascii_lowercase()) {
                return Err(SeedError::DuplicateHandle(user.handle.clone()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for account in &self.accounts {
            if !dids.contains(account.did.as_str()) {
                return Err(SeedError::UnknownAccount(account.did.clone()));
            }
            for key in [account.did.clone(), account.email.to_ascii_lowercase()] {
                if !seen.insert(key.clone()) {
                    return Err(SeedError::DuplicateAccount(key));
                }
            }
            let mut names = std::collections::HashSet::new();
            for app in &account.app_passwords {
                if !names.insert(app.name.as_str()) {
                    return Err(SeedError::DuplicateAppPassword {
                        did: account.did.clone(),
                        name: app.name.clone(),
                    });
                }
            }
        }
        for (did, collections) in &self.repos {
            if !dids.contains(did.as_str()) {
                return Err(SeedError::UnknownRepo(did.clone()));
            }
            for (collection, records) in collections {
                if !is_nsid(collection) {
                    return Err(SeedError::BadCollection {
                        did: did.clone(),
                        collection: collection.clone(),
                    });
                }
                let mut keys = std::collections::HashSet::new();
                for record in records {
                    let bad = |problem| SeedError::BadRecord {
                        did: did.clone(),
                        collection: collection.clone(),
                        rkey: record.rkey.clone(),
                        problem,
                    };
                    if !is_record_key(&record.rkey) {
                        return Err(bad("malformed record key"));
                    }
                    if !keys.insert(record.rkey.as_str()) {
                        return Err(bad("the key is used twice"));
                    }
                    match record.value.get("$type") {
                        _ if !record.value.is_object() => return Err(bad("not a JSON object")),
                        Some(t) if t.as_str() != Some(collection.as_str()) => {
                            return Err(bad("its $type is not the collection"));
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// The user with this DID.
    pub fn user(&self, did: &str) -> Option<&SeedUser> {
        self.users.iter().find(|u| u.did == did)
    }

    /// The records of a repo's collection, in seed order.
    pub fn records(&self, did: &str, collection: &str) -> &[SeedRecord] {
        self.repos
            .get(did)
            .and_then(|c| c.get(collection))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tiny() -> Seed {
        let mut repos = BTreeMap::new();
        repos.insert(
            "did:plc:owner".to_owned(),
            BTreeMap::from([(
                super::super::BLOCK.to_owned(),
                vec![SeedRecord {
                    rkey: "3kabcdefghijk".into(),
                    value: json!({"$type": "app.bsky.graph.block", "subject": "did:plc:two"}),
                }],
            )]),
        );
        Seed {
            service_did: DEFAULT_SERVICE_DID.into(),
            users: vec![
                SeedUser::active("did:plc:owner", "owner.bsky.test"),
                SeedUser::active("did:plc:two", "two.bsky.test"),
            ],
            accounts: vec![SeedAccount {
                did: "did:plc:owner".into(),
                email: "owner@bsky.test".into(),
                password: "secret-password".into(),
                app_passwords: vec![SeedAppPassword {
                    name: "cli".into(),
                    password: "abcd-efgh-ijkl-mnop".into(),
                }],
            }],
            repos,
        }
    }

    #[test]
    fn references_and_syntax_are_checked() {
        assert_eq!(tiny().check(), Ok(()));
        let mut s = tiny();
        s.users[1].handle = "OWNER.bsky.test".into();
        assert_eq!(
            s.check(),
            Err(SeedError::DuplicateHandle("OWNER.bsky.test".into()))
        );
        let mut s = tiny();
        s.users[1].handle = "@two.bsky.test".into();
        assert!(matches!(s.check(), Err(SeedError::BadHandle { .. })));
        let mut s = tiny();
        s.accounts[0].did = "did:plc:nobody".into();
        assert!(matches!(s.check(), Err(SeedError::UnknownAccount(_))));
        let mut s = tiny();
        s.repos
            .get_mut("did:plc:owner")
            .and_then(|c| c.get_mut(super::super::BLOCK))
            .expect("records")[0]
            .value = json!({"$type": "app.bsky.graph.follow"});
        assert!(matches!(
            s.check(),
            Err(SeedError::BadRecord {
                problem: "its $type is not the collection",
                ..
            })
        ));
        assert!(Seed::from_json(b"{\"userz\":[]}").is_err());
    }

    #[test]
    fn debug_output_shows_no_password() {
        let text = format!("{:?}", tiny());
        assert!(!text.contains("secret-password") && !text.contains("abcd-efgh"));
        assert!(text.contains("[redacted]"));
    }
}

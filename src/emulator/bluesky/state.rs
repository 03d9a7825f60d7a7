//! The emulated network's state and the bookkeeping around it: users, the accounts hosted on
//! the PDS with their credentials, every repo's records, the sessions, the rate limiters, the
//! request log and the counters.
//!
//! Everything lives in one struct behind the core's [`Store`](crate::emulator::Store): every
//! request takes the lock a few times for short, synchronous steps and never across an await,
//! so the state is consistent whenever the lock is free. Repo writes are all-or-nothing, as
//! the PDS's transactions are: a batch is checked against an overlay of its own earlier
//! writes before anything changes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::Config;
use super::digest::cid;
use super::jwt::{self, Claims, Kind};
use super::ratelimit::Limiters;
use super::route::Endpoint;
use super::seed::{Seed, SeedError, SeedUser, UserState, made_up_handle};
use super::syntax::TidClock;
use super::{BLOCK, Host, LISTBLOCK};
use crate::emulator::clock::clock_ms;
use crate::emulator::faults::FaultDice;
use crate::emulator::log::RequestLog;
use crate::emulator::network::NetworkState;

/// A credential of an account: its password (index 0) or one of its app passwords.
#[derive(Clone)]
pub struct Credential {
    /// The app password's name; `None` for the account password.
    pub name: Option<String>,
    /// The password.
    pub password: String,
    /// Revoked: logging in with it fails and its refresh tokens are gone.
    pub revoked: bool,
    /// Successful repo writes made with its sessions (for `faults.revoke_after`).
    pub writes: u64,
    /// Authenticated requests made with its sessions (for `faults.revoke_after_requests`).
    pub requests: u64,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never appears.
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("revoked", &self.revoked)
            .field("writes", &self.writes)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

/// An account hosted on the emulated PDS.
#[derive(Clone, Debug)]
pub struct Account {
    /// The owner's DID.
    pub did: String,
    /// The email, lowercase.
    pub email: String,
    /// The account password, then the app passwords.
    pub credentials: Vec<Credential>,
}

/// A stored record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The record, `$type` included.
    pub value: Value,
    /// Its content identifier.
    pub cid: String,
}

/// A repo: records by collection and key (keys sort as the PDS sorts them, bytewise). Its
/// commits are not kept: a write answers with its own, and nothing reads an older one.
#[derive(Clone, Debug, Default)]
pub struct Repo {
    /// Records by collection, then record key.
    pub collections: BTreeMap<String, BTreeMap<String, Record>>,
}

/// A refresh token the PDS keeps (by its `jti`).
#[derive(Clone, Debug)]
pub struct RefreshToken {
    /// The account's index.
    pub account: usize,
    /// The credential's index in the account.
    pub credential: usize,
    /// When it stops working (shortened to the grace period once used), emulator clock ms.
    pub expires_ms: i64,
    /// The token it was rotated into: reusing it within the grace period gives that one again.
    pub next: Option<String>,
}

/// A record as the emulator's API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    /// `at://DID/COLLECTION/RKEY`.
    pub uri: String,
    /// The record key.
    pub rkey: String,
    /// The content identifier.
    pub cid: String,
    /// The record.
    pub value: Value,
}

/// One write of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Create a record (a fresh TID key when none is given).
    Create {
        /// The collection.
        collection: String,
        /// The key, when the client chose it.
        rkey: Option<String>,
        /// The record.
        value: Value,
    },
    /// Replace an existing record.
    Update {
        /// The collection.
        collection: String,
        /// The key.
        rkey: String,
        /// The record.
        value: Value,
    },
    /// Delete an existing record.
    Delete {
        /// The collection.
        collection: String,
        /// The key.
        rkey: String,
    },
}

/// What one write of a committed batch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Created: its URI and CID.
    Created {
        /// The record's URI.
        uri: String,
        /// Its CID.
        cid: String,
    },
    /// Updated: its URI and CID.
    Updated {
        /// The record's URI.
        uri: String,
        /// Its CID.
        cid: String,
    },
    /// Deleted.
    Deleted,
}

/// A commit: the repo's new revision and its CID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Commit {
    /// The commit's CID.
    pub cid: String,
    /// The revision.
    pub rev: String,
}

/// The whole mutable state.
pub struct State {
    /// The knobs, read on every request so changes apply at once.
    pub config: Config,
    /// When the emulator was built (emulator clock, ms): `sessions.revoke_at` counts from here.
    pub started_ms: i64,
    /// The PDS's DID, the audience of its tokens.
    pub service_did: String,
    /// The key the tokens are signed with, drawn per emulator: tokens of one run are worthless
    /// in another.
    pub key: [u8; 32],
    /// Users by DID.
    pub users: HashMap<String, SeedUser>,
    /// DIDs by lowercase handle.
    pub by_handle: HashMap<String, String>,
    /// The hosted accounts, in seed order.
    pub accounts: Vec<Account>,
    /// Account indexes by DID.
    pub account_by_did: HashMap<String, usize>,
    /// Account indexes by lowercase email.
    pub account_by_email: HashMap<String, usize>,
    /// Repos by DID: the hosted accounts' and those the seed gives records.
    pub repos: HashMap<String, Repo>,
    /// Refresh tokens by `jti`.
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// The account and credential of each access token issued, by its signature (access
    /// tokens carry no identifier, and revocation needs to know whose they are).
    pub access_tokens: HashMap<String, (usize, usize)>,
    /// The rate limiters' meters.
    pub limiters: Limiters,
    /// Every request and the counters.
    pub log: RequestLog<Endpoint>,
    /// The host of each logged request, by sequence number.
    pub hosts: Vec<Host>,
    /// The fault RNG (reseeded when the configured seed changes).
    pub dice: FaultDice,
    /// Record keys and revisions.
    pub tids: TidClock,
    /// Refresh token identifiers issued so far (mixed into fresh ones).
    pub jtis: u64,
    /// The PDS's port, once it listens (the didDoc names it).
    pub pds_port: Option<u16>,
    /// Repo write requests admitted so far (for `stale.at_write`).
    pub writes_seen: u64,
    /// `stale.at_write` has struck.
    pub stale_fired: bool,
    /// `sessions.revoke_at` has struck.
    pub revoked_on_time: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signing key, passwords and tokens stay out: only counts and redacted views.
        f.debug_struct("State")
            .field("config", &self.config)
            .field("users", &self.users.len())
            .field("accounts", &self.accounts)
            .field("repos", &self.repos.len())
            .field("refresh_tokens", &self.refresh_tokens.len())
            .field("log", &self.log.entries().len())
            .finish_non_exhaustive()
    }
}

impl State {
    /// Builds the state from a seed, checking every reference in it.
    pub fn new(seed: Seed, config: Config) -> Result<State, SeedError> {
        seed.check()?;
        let now_ms = clock_ms(config.clock_offset_secs);
        let mut users = HashMap::with_capacity(seed.users.len());
        let mut by_handle = HashMap::with_capacity(seed.users.len());
        for user in seed.users {
            by_handle.insert(user.handle.to_ascii_lowercase(), user.did.clone());
            users.insert(user.did.clone(), user);
        }
        let mut accounts = Vec::with_capacity(seed.accounts.len());
        let mut account_by_did = HashMap::new();
        let mut account_by_email = HashMap::new();
        let mut repos: HashMap<String, Repo> = HashMap::new();
        for (idx, a) in seed.accounts.into_iter().enumerate() {
            let email = a.email.to_ascii_lowercase();
            account_by_did.insert(a.did.clone(), idx);
            account_by_email.insert(email.clone(), idx);
            repos.entry(a.did.clone()).or_default();
            let mut credentials = vec![Credential::new(None, a.password)];
            credentials.extend(
                a.app_passwords
                    .into_iter()
                    .map(|app| Credential::new(Some(app.name), app.password)),
            );
            accounts.push(Account {
                did: a.did,
                email,
                credentials,
            });
        }
        let mut tids = TidClock::new(u64::from(rand::random::<u16>()));
        for (did, collections) in seed.repos {
            let repo = repos.entry(did).or_default();
            for (collection, records) in collections {
                let stored = repo.collections.entry(collection).or_default();
                for record in records {
                    tids.observe(&record.rkey);
                    stored.insert(record.rkey, Record::new(record.value));
                }
            }
        }
        // Each seeded repo's first commit takes a revision, so the clock has moved past them
        // all before any write.
        for _ in 0..repos.len() {
            tids.next(now_ms);
        }
        let dice = FaultDice::new(config.faults.seed);
        Ok(State {
            config,
            started_ms: now_ms,
            service_did: seed.service_did,
            key: rand::random(),
            users,
            by_handle,
            accounts,
            account_by_did,
            account_by_email,
            repos,
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            limiters: Limiters::default(),
            log: RequestLog::new(),
            hosts: Vec::new(),
            dice,
            tids,
            jtis: 0,
            pds_port: None,
            writes_seen: 0,
            stale_fired: false,
            revoked_on_time: false,
        })
    }

    /// The URL the didDoc names the PDS by, once it listens.
    pub fn pds_url(&self) -> Option<String> {
        let port = self.pds_port?;
        let host = match self.config.hosts.pds_host {
            super::config::PdsHost::Localhost => "localhost",
            super::config::PdsHost::Ip => "127.0.0.1",
        };
        Some(format!("http://{host}:{port}"))
    }

    /// The active user with this DID or handle (a handle ignoring case).
    pub fn active_user(&self, actor: &str) -> Option<&SeedUser> {
        self.user(actor).filter(|u| u.state == UserState::Active)
    }

    /// The user with this DID or handle (a handle ignoring case), whatever their state.
    pub fn user(&self, actor: &str) -> Option<&SeedUser> {
        if actor.starts_with("did:") {
            self.users.get(actor)
        } else {
            self.by_handle
                .get(&actor.to_ascii_lowercase())
                .and_then(|did| self.users.get(did))
        }
    }

    /// The DID of a repo served here, named by DID or by handle (exactly, as the PDS's lookup
    /// is: `ALICE.TEST` is not found), when its owner is active.
    pub fn repo_did(&self, repo: &str) -> Option<String> {
        let did = if repo.starts_with("did:") {
            repo.to_owned()
        } else {
            self.by_handle.get(repo)?.clone()
        };
        (self.repos.contains_key(&did) && self.active_user(&did).is_some()).then_some(did)
    }

    /// The hosted account a repo parameter names (DID, or handle ignoring case).
    pub fn account_of(&self, repo: &str) -> Option<usize> {
        let did = self.user(repo)?.did.clone();
        self.account_by_did.get(&did).copied()
    }

    // Sessions.

    /// Issues a session for a credential: an access token and a refresh token (stored).
    pub fn issue_session(&mut self, account: usize, credential: usize) -> (String, String) {
        let jti = self.fresh_jti();
        let now_ms = self.now_ms();
        self.issue_pair(account, credential, jti, now_ms)
    }

    fn fresh_jti(&mut self) -> String {
        use base64::Engine as _;
        self.jtis += 1;
        let mut bytes: [u8; 32] = rand::random();
        bytes[..8].copy_from_slice(&self.jtis.to_be_bytes());
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    }

    /// Signs a pair for `jti` at `now_ms` and stores the refresh token unless one with that
    /// identifier exists (reuse within the grace period re-signs the same one).
    fn issue_pair(
        &mut self,
        account: usize,
        credential: usize,
        jti: String,
        now_ms: i64,
    ) -> (String, String) {
        let Some(a) = self.accounts.get(account) else {
            return (String::new(), String::new());
        };
        let scope = match a.credentials.get(credential).and_then(|c| c.name.as_ref()) {
            Some(_) => jwt::SCOPE_APP_PASS,
            None => jwt::SCOPE_ACCESS,
        };
        let sessions = &self.config.sessions;
        let iat = now_ms.div_euclid(1000);
        let ttl = |d: std::time::Duration| {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            i64::try_from(secs).unwrap_or(i64::MAX)
        };
        let access = jwt::sign(
            Kind::Access,
            &Claims {
                scope: scope.to_owned(),
                aud: self.service_did.clone(),
                sub: a.did.clone(),
                jti: None,
                iat,
                exp: iat.saturating_add(ttl(sessions.access_ttl)),
            },
            &self.key,
        );
        let refresh_exp = iat.saturating_add(ttl(sessions.refresh_ttl));
        let refresh = jwt::sign(
            Kind::Refresh,
            &Claims {
                scope: jwt::SCOPE_REFRESH.to_owned(),
                aud: self.service_did.clone(),
                sub: a.did.clone(),
                jti: Some(jti.clone()),
                iat,
                exp: refresh_exp,
            },
            &self.key,
        );
        self.access_tokens
            .insert(jwt::signature(&access).to_owned(), (account, credential));
        self.refresh_tokens.entry(jti).or_insert(RefreshToken {
            account,
            credential,
            expires_ms: refresh_exp.saturating_mul(1000),
            next: None,
        });
        (access, refresh)
    }

    /// Rotates a refresh token as the PDS does: `None` when it is unknown (revoked, deleted)
    /// or past its (grace) expiry; otherwise the pair of its successor, the same successor
    /// every time it is reused within the grace period, which each use extends.
    pub fn rotate(&mut self, jti: &str) -> Option<(usize, (String, String))> {
        let now_ms = self.now_ms();
        let token = self.refresh_tokens.get(jti)?.clone();
        let account = token.account;
        self.refresh_tokens
            .retain(|_, t| t.account != account || t.expires_ms > now_ms);
        let grace_ms =
            i64::try_from(self.config.sessions.refresh_grace.as_millis()).unwrap_or(i64::MAX);
        let expires_ms = now_ms.saturating_add(grace_ms).min(token.expires_ms);
        if expires_ms <= now_ms {
            return None;
        }
        let next = token.next.clone().unwrap_or_else(|| self.fresh_jti());
        if let Some(t) = self.refresh_tokens.get_mut(jti) {
            t.expires_ms = expires_ms;
            t.next = Some(next.clone());
        }
        let pair = self.issue_pair(account, token.credential, next, now_ms);
        Some((account, pair))
    }

    /// Forgets a refresh token (`deleteSession`).
    pub fn delete_refresh_token(&mut self, jti: &str) {
        self.refresh_tokens.remove(jti);
    }

    /// Revokes a credential: logging in with it fails from now on and its refresh tokens are
    /// gone, so refreshing answers "Token has been revoked"; its access tokens keep working
    /// until they expire (unless `sessions.revocation_ends_access`).
    pub fn revoke(&mut self, account: usize, credential: usize) {
        if let Some(c) = self
            .accounts
            .get_mut(account)
            .and_then(|a| a.credentials.get_mut(credential))
        {
            c.revoked = true;
        }
        self.refresh_tokens
            .retain(|_, t| !(t.account == account && t.credential == credential));
    }

    /// Revokes an account's app password by name, or all its app passwords; returns how many
    /// were revoked.
    pub fn revoke_app_passwords(&mut self, did: &str, name: Option<&str>) -> usize {
        let Some(&account) = self.account_by_did.get(did) else {
            return 0;
        };
        let chosen: Vec<usize> = self.accounts[account]
            .credentials
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.is_some() && name.is_none_or(|n| c.name.as_deref() == Some(n)))
            .map(|(i, _)| i)
            .collect();
        for &credential in &chosen {
            self.revoke(account, credential);
        }
        chosen.len()
    }

    /// Revokes every app password once `sessions.revoke_at` has passed.
    pub fn revoke_on_time(&mut self, now_ms: i64) {
        let Some(after) = self.config.sessions.revoke_at else {
            return;
        };
        let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
        if self.revoked_on_time || now_ms < self.started_ms.saturating_add(after_ms) {
            return;
        }
        self.revoked_on_time = true;
        let dids: Vec<String> = self.accounts.iter().map(|a| a.did.clone()).collect();
        for did in dids {
            self.revoke_app_passwords(&did, None);
        }
    }

    // Records.

    /// A repo's records of a collection, in key order.
    pub fn records(&self, did: &str, collection: &str) -> Vec<RecordView> {
        self.repos
            .get(did)
            .and_then(|r| r.collections.get(collection))
            .map(|records| {
                records
                    .iter()
                    .map(|(rkey, r)| RecordView {
                        uri: record_uri(did, collection, rkey),
                        rkey: rkey.clone(),
                        cid: r.cid.clone(),
                        value: r.value.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a record exists.
    pub fn has_record(&self, did: &str, collection: &str, rkey: &str) -> bool {
        self.record(did, collection, rkey).is_some()
    }

    /// A record.
    pub fn record(&self, did: &str, collection: &str, rkey: &str) -> Option<&Record> {
        self.repos.get(did)?.collections.get(collection)?.get(rkey)
    }

    /// Applies writes to a repo all together, or none when any fails (a create of an existing
    /// key, an update or delete of a missing one: the PDS's 500).
    pub fn apply(&mut self, did: &str, writes: &[Write]) -> Option<(Commit, Vec<Applied>)> {
        let now_ms = self.now_ms();
        let repo = self.repos.get(did)?;
        // Check the batch against an overlay of its own earlier writes.
        let mut overlay: HashMap<(&str, String), bool> = HashMap::new();
        let mut keys = Vec::with_capacity(writes.len());
        for write in writes {
            let (collection, rkey) = match write {
                Write::Create {
                    collection, rkey, ..
                } => (
                    collection.as_str(),
                    rkey.clone().unwrap_or_else(|| self.tids.next(now_ms)),
                ),
                Write::Update {
                    collection, rkey, ..
                }
                | Write::Delete { collection, rkey } => (collection.as_str(), rkey.clone()),
            };
            let exists = overlay
                .get(&(collection, rkey.clone()))
                .copied()
                .unwrap_or_else(|| {
                    repo.collections
                        .get(collection)
                        .is_some_and(|c| c.contains_key(&rkey))
                });
            let after = match write {
                Write::Create { .. } if exists => return None,
                Write::Update { .. } | Write::Delete { .. } if !exists => return None,
                Write::Delete { .. } => false,
                _ => true,
            };
            overlay.insert((collection, rkey.clone()), after);
            keys.push(rkey);
        }
        let rev = self.tids.next(now_ms);
        let commit = Commit {
            cid: commit_cid(did, &rev),
            rev,
        };
        let repo = self.repos.get_mut(did)?;
        let mut applied = Vec::with_capacity(writes.len());
        let (mut created, mut deleted) = (0u64, 0u64);
        for (write, rkey) in writes.iter().zip(keys) {
            match write {
                Write::Create {
                    collection, value, ..
                }
                | Write::Update {
                    collection, value, ..
                } => {
                    let record = Record::new(value.clone());
                    let uri = record_uri(did, collection, &rkey);
                    let cid = record.cid.clone();
                    repo.collections
                        .entry(collection.clone())
                        .or_default()
                        .insert(rkey, record);
                    applied.push(if matches!(write, Write::Create { .. }) {
                        created += u64::from(is_block_collection(collection));
                        Applied::Created { uri, cid }
                    } else {
                        Applied::Updated { uri, cid }
                    });
                }
                Write::Delete { collection, .. } => {
                    if let Some(records) = repo.collections.get_mut(collection) {
                        records.remove(&rkey);
                    }
                    deleted += u64::from(is_block_collection(collection));
                    applied.push(Applied::Deleted);
                }
            }
        }
        let counters = self.log.counters();
        counters.blocks_applied += created;
        counters.unblocks_applied += deleted;
        Some((commit, applied))
    }

    /// The keys of a repo's records in `collection` whose `subject` is `subject`.
    pub fn keys_with_subject(&self, did: &str, collection: &str, subject: &str) -> Vec<String> {
        self.repos
            .get(did)
            .and_then(|r| r.collections.get(collection))
            .map(|records| {
                records
                    .iter()
                    .filter(|(_, r)| {
                        r.value.get("subject").and_then(Value::as_str) == Some(subject)
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Deletes `count` records of a collection behind the client's back, spread evenly over
    /// the collection's key order (so a client working through a listing meets them in later
    /// batches too). Returns their keys. Not counted as unblocks: no client asked.
    pub fn delete_behind(&mut self, did: &str, collection: &str, count: usize) -> Vec<String> {
        let Some(records) = self
            .repos
            .get_mut(did)
            .and_then(|r| r.collections.get_mut(collection))
        else {
            return Vec::new();
        };
        let keys: Vec<String> = records.keys().cloned().collect();
        let n = count.min(keys.len());
        // Distinct indexes, ascending: i * len / n grows by at least 1 while n <= len.
        let chosen: Vec<String> = (0..n).map(|i| keys[i * keys.len() / n].clone()).collect();
        for key in &chosen {
            records.remove(key);
        }
        if !chosen.is_empty() {
            // The deletions are a commit of their own: it takes a revision, so later ones sort
            // after it.
            let now_ms = self.now_ms();
            self.tids.next(now_ms);
        }
        chosen
    }

    /// Replaces a repo's block records with one fresh record per subject (keys in the given
    /// order, so the first subject's record is the oldest). DIDs without a user get a
    /// synthesized active one, so big test lists need no user list.
    pub fn set_blocks(&mut self, did: &str, subjects: impl IntoIterator<Item = String>) {
        let now_ms = self.now_ms();
        let mut records = BTreeMap::new();
        let mut synthesized = Vec::new();
        for subject in subjects {
            if !self.users.contains_key(&subject) {
                synthesized.push(synthesized_user(&subject));
            }
            let rkey = self.tids.next(now_ms);
            records.insert(
                rkey,
                Record::new(serde_json::json!({
                    "$type": BLOCK,
                    "subject": subject,
                    "createdAt": "2024-01-01T00:00:00.000Z",
                })),
            );
        }
        self.add_users(synthesized);
        let repo = self.repos.entry(did.to_owned()).or_default();
        repo.collections.insert(BLOCK.to_owned(), records);
    }

    /// Adds users, or replaces those with the same DID (e.g. to deactivate someone mid-test).
    /// A user whose handle another user has is skipped.
    pub fn add_users(&mut self, users: impl IntoIterator<Item = SeedUser>) {
        for user in users {
            let lower = user.handle.to_ascii_lowercase();
            if self.by_handle.get(&lower).is_some_and(|d| *d != user.did) {
                tracing::warn!(did = %user.did, "emulator: handle taken, user skipped");
                continue;
            }
            if let Some(old) = self.users.get(&user.did) {
                self.by_handle.remove(&old.handle.to_ascii_lowercase());
            }
            self.by_handle.insert(lower, user.did.clone());
            self.users.insert(user.did.clone(), user);
        }
    }
}

crate::emulator::network::network_state!(State {
    endpoint: Endpoint,
    config: Config,
    seed: Seed,
    seed_error: SeedError,
    view: super::admin::StateView = super::admin::state_view,
});

impl Credential {
    fn new(name: Option<String>, password: String) -> Credential {
        Credential {
            name,
            password,
            revoked: false,
            writes: 0,
            requests: 0,
        }
    }
}

impl Record {
    /// Stores a value with its CID.
    pub fn new(value: Value) -> Record {
        let cid = cid(&serde_json::to_vec(&value).unwrap_or_default());
        Record { value, cid }
    }
}

/// `at://DID/COLLECTION/RKEY`.
pub fn record_uri(did: &str, collection: &str, rkey: &str) -> String {
    format!("at://{did}/{collection}/{rkey}")
}

/// The collections whose records are blocks (of an account, or of a list's members).
pub fn is_block_collection(collection: &str) -> bool {
    collection == BLOCK || collection == LISTBLOCK
}

fn commit_cid(did: &str, rev: &str) -> String {
    cid(format!("{did}#{rev}").as_bytes())
}

/// An active user for a DID no seed named.
fn synthesized_user(did: &str) -> SeedUser {
    SeedUser::active(did, &made_up_handle(did))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::emulator::bluesky::seed::{SeedAccount, SeedAppPassword};

    fn seed() -> Seed {
        Seed {
            service_did: "did:web:localhost".into(),
            users: vec![
                SeedUser::active("did:plc:owner", "owner.bsky.test"),
                SeedUser::active("did:plc:two", "two.bsky.test"),
            ],
            accounts: vec![SeedAccount {
                did: "did:plc:owner".into(),
                email: "Owner@bsky.test".into(),
                password: "pw".into(),
                app_passwords: vec![SeedAppPassword {
                    name: "cli".into(),
                    password: "aaaa-bbbb-cccc-dddd".into(),
                }],
            }],
            repos: BTreeMap::new(),
        }
    }

    fn block(subject: &str) -> Write {
        Write::Create {
            collection: BLOCK.into(),
            rkey: None,
            value: json!({"$type": BLOCK, "subject": subject, "createdAt": "2024-01-01T00:00:00Z"}),
        }
    }

    #[test]
    fn batches_apply_all_or_nothing() {
        let mut s = State::new(seed(), Config::default()).expect("valid");
        let (first, applied) = s
            .apply(
                "did:plc:owner",
                &[block("did:plc:two"), block("did:plc:two")],
            )
            .expect("applies");
        assert_eq!(applied.len(), 2);
        let keys: Vec<String> = s
            .records("did:plc:owner", BLOCK)
            .into_iter()
            .map(|r| r.rkey)
            .collect();
        assert_eq!(keys.len(), 2);
        let delete = |rkey: &str| Write::Delete {
            collection: BLOCK.into(),
            rkey: rkey.into(),
        };
        // A missing key fails the whole batch, and nothing changes.
        assert!(
            s.apply(
                "did:plc:owner",
                &[delete(&keys[0]), delete("3aaaaaaaaaaaa")]
            )
            .is_none()
        );
        // So does deleting the same key twice.
        assert!(
            s.apply("did:plc:owner", &[delete(&keys[0]), delete(&keys[0])])
                .is_none()
        );
        assert_eq!(s.records("did:plc:owner", BLOCK).len(), 2);
        let (second, _) = s
            .apply("did:plc:owner", &[delete(&keys[0])])
            .expect("applies");
        assert!(second.rev > first.rev);
        assert_eq!(s.stats().unblocks_applied, 1);
        assert_eq!(s.stats().blocks_applied, 2);
        // Creating at an existing key fails.
        let again = Write::Create {
            collection: BLOCK.into(),
            rkey: Some(keys[1].clone()),
            value: json!({}),
        };
        assert!(s.apply("did:plc:owner", &[again]).is_none());
    }

    #[test]
    fn refresh_tokens_rotate_with_a_grace_period_and_die_with_their_credential() {
        let mut s = State::new(seed(), Config::default()).expect("valid");
        let (_, refresh) = s.issue_session(0, 1);
        let jti = jwt::peek(&refresh).and_then(|c| c.jti).expect("jti");
        let (_, (_, first)) = s.rotate(&jti).expect("rotates");
        let (_, (_, again)) = s.rotate(&jti).expect("reuse within the grace period");
        let next = |t: &str| jwt::peek(t).and_then(|c| c.jti);
        assert_eq!(next(&first), next(&again));
        assert_ne!(next(&first).as_deref(), Some(jti.as_str()));
        assert_eq!(s.revoke_app_passwords("did:plc:owner", Some("cli")), 1);
        assert!(s.rotate(&jti).is_none());
        assert!(s.accounts[0].credentials[1].revoked);
        assert!(!s.accounts[0].credentials[0].revoked);
    }

    #[test]
    fn behind_the_back_deletions_spread_over_the_collection() {
        let mut s = State::new(seed(), Config::default()).expect("valid");
        s.set_blocks("did:plc:owner", (0..10).map(|i| format!("did:plc:t{i}")));
        assert!(s.active_user("u-didplct3.bsky.test").is_some());
        let gone = s.delete_behind("did:plc:owner", BLOCK, 3);
        assert_eq!(gone.len(), 3);
        assert_eq!(s.records("did:plc:owner", BLOCK).len(), 7);
        assert!(
            gone.iter()
                .all(|k| !s.has_record("did:plc:owner", BLOCK, k))
        );
        assert_eq!(s.delete_behind("did:plc:owner", BLOCK, 50).len(), 7);
        assert!(s.delete_behind("did:plc:nobody", BLOCK, 1).is_empty());
        assert_eq!(s.stats().unblocks_applied, 0);
    }

    #[test]
    fn repos_are_found_by_exact_handle_and_accounts_by_any_case() {
        let s = State::new(seed(), Config::default()).expect("valid");
        assert_eq!(
            s.repo_did("owner.bsky.test").as_deref(),
            Some("did:plc:owner")
        );
        assert_eq!(s.repo_did("OWNER.bsky.test"), None);
        assert_eq!(s.repo_did("did:plc:two"), None, "no repo here");
        assert_eq!(s.account_of("OWNER.bsky.test"), Some(0));
        assert_eq!(s.account_by_email.get("owner@bsky.test"), Some(&0));
    }
}

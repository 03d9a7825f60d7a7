//! The emulated X network's state and the bookkeeping around it: users, accounts with their
//! blocked sets and rate windows, the request log and the counters.
//!
//! Everything lives in one struct behind the core's [`Store`](crate::emulator::Store) (see
//! `Emulator`): every request takes the lock a few times for short, synchronous steps and never
//! across an await, so the lock is cheap even under benchmark load, and the state is always
//! consistent between steps.

use std::collections::{BTreeSet, HashMap};

use super::admin::StateView;
use super::config::Config;
use super::route::Endpoint;
use super::seed::{
    AccessLevel, MAX_USER_ID, Seed, SeedError, SeedUser, UserState, check_screen_name,
};
use crate::emulator::faults::FaultDice;
use crate::emulator::limits::Window;
use crate::emulator::log::RequestLog;
use crate::emulator::seed::{Redacted, made_up_name};

/// An account: a user with a token, a blocked set and rate windows.
pub struct Account {
    /// The owner's user ID.
    pub user_id: u64,
    /// The app the token belongs to.
    pub consumer_key: String,
    /// The access token.
    pub token: String,
    /// The access token secret.
    pub token_secret: String,
    /// What the token may do.
    pub access_level: AccessLevel,
    /// Whether the app tier includes v1.1.
    pub v1_access: bool,
    /// Blocked user IDs, ordered so cursors (the last ID served) stay valid across removals.
    pub blocked: BTreeSet<u64>,
    /// The token was revoked: 401 code 89 from now on.
    pub revoked: bool,
    /// Successful mutating requests made with the token (for `revoke_after`).
    pub mutations: u64,
    /// Authenticated requests made with the token (for `revoke_after_requests`).
    pub requests: u64,
    /// Rate windows, indexed by `EndpointKind::index`.
    pub windows: [Window; Endpoint::ALL.len()],
    /// 24-hour windows, indexed by `EndpointKind::index`.
    pub daily: [Window; Endpoint::ALL.len()],
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token, its secret and the consumer key never appear (see `Redacted`).
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .field("consumer_key", &Redacted)
            .field("token", &Redacted)
            .field("token_secret", &Redacted)
            .field("access_level", &self.access_level)
            .field("v1_access", &self.v1_access)
            .field("blocked", &self.blocked.len())
            .field("revoked", &self.revoked)
            .field("mutations", &self.mutations)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

/// The whole mutable state.
pub struct State {
    /// The knobs, read on every request so changes apply at once.
    pub config: Config,
    /// Users by ID.
    pub users: HashMap<u64, SeedUser>,
    /// User IDs by lowercase screen name.
    pub by_name: HashMap<String, u64>,
    /// Consumer secrets by consumer key.
    pub apps: HashMap<String, String>,
    /// Accounts, in seed order.
    pub accounts: Vec<Account>,
    /// Account indexes by access token.
    pub by_token: HashMap<String, usize>,
    /// Account indexes by owner ID.
    pub by_owner: HashMap<u64, usize>,
    /// Every request and the counters.
    pub log: RequestLog<Endpoint>,
    /// The fault RNG (reseeded when the config's seed changes).
    pub dice: FaultDice,
    /// Nonces seen, with their timestamps (only when nonce checking is on).
    pub nonces: HashMap<String, i64>,
    /// The apps' 24-hour windows by consumer key, indexed by `EndpointKind::index`: shared by every
    /// token of the app (for `app_daily_limit`).
    pub app_daily: HashMap<String, [Window; Endpoint::ALL.len()]>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Consumer secrets, tokens and consumer keys (the keys of `apps`, `by_token`, `nonces`
        // and `app_daily`) stay out: only counts and the accounts' redacted views.
        f.debug_struct("State")
            .field("config", &self.config)
            .field("users", &self.users.len())
            .field("apps", &self.apps.len())
            .field("accounts", &self.accounts)
            .field("log", &self.log.entries().len())
            .field("stats", &self.log.stats())
            .finish_non_exhaustive()
    }
}

impl State {
    /// Builds the state from a seed, checking every reference in it.
    pub fn new(seed: Seed, config: Config) -> Result<State, SeedError> {
        let mut users = HashMap::with_capacity(seed.users.len());
        let mut by_name = HashMap::with_capacity(seed.users.len());
        for user in seed.users {
            if user.id == 0 || user.id > MAX_USER_ID {
                return Err(SeedError::IdOutOfRange(user.id));
            }
            if let Err(source) = check_screen_name(&user.screen_name) {
                return Err(SeedError::BadScreenName {
                    id: user.id,
                    name: user.screen_name,
                    source,
                });
            }
            let lower = user.screen_name.to_ascii_lowercase();
            if by_name.insert(lower, user.id).is_some() {
                return Err(SeedError::DuplicateScreenName(user.screen_name));
            }
            let id = user.id;
            if users.insert(id, user).is_some() {
                return Err(SeedError::DuplicateUserId(id));
            }
        }
        let mut apps = HashMap::new();
        for app in seed.apps {
            if apps
                .insert(app.consumer_key.clone(), app.consumer_secret)
                .is_some()
            {
                return Err(SeedError::DuplicateApp(app.consumer_key));
            }
        }
        let mut accounts = Vec::with_capacity(seed.accounts.len());
        let mut by_token = HashMap::new();
        let mut by_owner = HashMap::new();
        for (idx, a) in seed.accounts.into_iter().enumerate() {
            if !users.contains_key(&a.user_id) {
                return Err(SeedError::UnknownOwner(a.user_id));
            }
            if !apps.contains_key(&a.consumer_key) {
                return Err(SeedError::UnknownApp { user_id: a.user_id });
            }
            if by_owner.insert(a.user_id, idx).is_some() {
                return Err(SeedError::DuplicateAccount(a.user_id));
            }
            if by_token.insert(a.access_token.clone(), idx).is_some() {
                return Err(SeedError::DuplicateToken(a.user_id));
            }
            if let Some(&unknown) = a.blocked.iter().find(|id| !users.contains_key(id)) {
                return Err(SeedError::UnknownBlocked {
                    account: a.user_id,
                    blocked: unknown,
                });
            }
            accounts.push(Account {
                user_id: a.user_id,
                consumer_key: a.consumer_key,
                token: a.access_token,
                token_secret: a.access_token_secret,
                access_level: a.access_level,
                v1_access: a.v1_access,
                blocked: a.blocked.into_iter().collect(),
                revoked: false,
                mutations: 0,
                requests: 0,
                windows: Default::default(),
                daily: Default::default(),
            });
        }
        let dice = FaultDice::new(config.faults.seed);
        Ok(State {
            config,
            users,
            by_name,
            apps,
            accounts,
            by_token,
            by_owner,
            log: RequestLog::new(),
            dice,
            nonces: HashMap::new(),
            app_daily: HashMap::new(),
        })
    }

    /// Adds or replaces users. IDs of 0 or above the signed 64-bit range are skipped, as is a
    /// user whose screen name another user already has.
    pub fn add_users(&mut self, users: impl IntoIterator<Item = SeedUser>) {
        for user in users {
            if user.id == 0 || user.id > MAX_USER_ID {
                tracing::warn!(id = user.id, "emulator: user ID out of range, skipped");
                continue;
            }
            let lower = user.screen_name.to_ascii_lowercase();
            match self.by_name.get(&lower) {
                Some(&other) if other != user.id => {
                    tracing::warn!(id = user.id, "emulator: screen name taken, user skipped");
                    continue;
                }
                _ => {}
            }
            if let Some(old) = self.users.get(&user.id) {
                let old_lower = old.screen_name.to_ascii_lowercase();
                self.by_name.remove(&old_lower);
            }
            self.by_name.insert(lower, user.id);
            self.users.insert(user.id, user);
        }
    }

    /// Replaces an account's blocked set. IDs without a user get a synthesized active user
    /// (screen name `u_` + the ID in base 36), so big test lists need no user list.
    pub fn set_blocked(&mut self, account_id: u64, ids: impl IntoIterator<Item = u64>) {
        let Some(&idx) = self.by_owner.get(&account_id) else {
            tracing::warn!(account_id, "emulator: set_blocked on an unknown account");
            return;
        };
        let mut set = BTreeSet::new();
        let mut missing = Vec::new();
        for id in ids {
            if id == 0 || id > MAX_USER_ID {
                continue;
            }
            if !self.users.contains_key(&id) {
                missing.push(id);
            }
            set.insert(id);
        }
        let synthesized = missing.into_iter().map(|id| {
            let name = made_up_name(id);
            SeedUser {
                id,
                name: format!("User {id}"),
                screen_name: name,
                state: UserState::Active,
            }
        });
        self.add_users(synthesized);
        set.retain(|id| self.users.contains_key(id));
        if let Some(account) = self.accounts.get_mut(idx) {
            account.blocked = set;
        }
    }

    /// An account's blocked IDs, ascending.
    pub fn blocked(&self, account_id: u64) -> Vec<u64> {
        self.by_owner
            .get(&account_id)
            .and_then(|&idx| self.accounts.get(idx))
            .map(|a| a.blocked.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Revokes a token: every later request signed with it gets 401 code 89.
    pub fn revoke_token(&mut self, token: &str) {
        if let Some(&idx) = self.by_token.get(token)
            && let Some(account) = self.accounts.get_mut(idx)
        {
            account.revoked = true;
        }
    }

    /// Restores a revoked token and restarts its counts of mutations and requests, as a freshly
    /// issued token would (so `revoke_after` and `revoke_after_requests` count again from zero).
    pub fn restore_token(&mut self, token: &str) {
        if let Some(&idx) = self.by_token.get(token)
            && let Some(account) = self.accounts.get_mut(idx)
        {
            account.revoked = false;
            account.mutations = 0;
            account.requests = 0;
        }
    }

    /// Finds a user by screen name, ignoring case.
    pub fn user_by_name(&self, name: &str) -> Option<&SeedUser> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .and_then(|id| self.users.get(id))
    }
}

crate::emulator::network::network_state!(State {
    endpoint: Endpoint,
    config: Config,
    seed: Seed,
    seed_error: SeedError,
    view: StateView = super::admin::state_view,
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::x::seed::{SeedAccount, SeedApp};

    fn tiny_seed() -> Seed {
        Seed {
            apps: vec![SeedApp {
                consumer_key: "ck".into(),
                consumer_secret: "cs".into(),
            }],
            users: vec![
                SeedUser::active(1, "owner", "Owner"),
                SeedUser::active(2, "Two", "Two"),
            ],
            accounts: vec![SeedAccount {
                user_id: 1,
                consumer_key: "ck".into(),
                access_token: "1-t".into(),
                access_token_secret: "ts".into(),
                access_level: AccessLevel::ReadWrite,
                v1_access: true,
                blocked: vec![2],
            }],
        }
    }

    #[test]
    fn seed_references_are_checked() {
        assert!(State::new(tiny_seed(), Config::default()).is_ok());
        let mut s = tiny_seed();
        s.accounts[0].blocked.push(99);
        assert!(matches!(
            State::new(s, Config::default()),
            Err(SeedError::UnknownBlocked {
                account: 1,
                blocked: 99
            })
        ));
        let mut s = tiny_seed();
        s.users.push(SeedUser::active(3, "TWO", "dup"));
        assert!(matches!(
            State::new(s, Config::default()),
            Err(SeedError::DuplicateScreenName(_))
        ));
        let mut s = tiny_seed();
        s.users.push(SeedUser::active(u64::MAX, "big", "Big"));
        assert!(matches!(
            State::new(s, Config::default()),
            Err(SeedError::IdOutOfRange(_))
        ));
        for bad in ["@two_at", "two words", ""] {
            let mut s = tiny_seed();
            s.users[1].screen_name = bad.into();
            assert!(
                matches!(
                    State::new(s, Config::default()),
                    Err(SeedError::BadScreenName { id: 2, .. })
                ),
                "{bad:?}"
            );
        }
        let mut s = tiny_seed();
        s.accounts[0].consumer_key = "other".into();
        assert!(matches!(
            State::new(s, Config::default()),
            Err(SeedError::UnknownApp { user_id: 1 })
        ));
    }

    #[test]
    fn set_blocked_synthesizes_missing_users() {
        let mut state = State::new(tiny_seed(), Config::default()).expect("valid");
        state.set_blocked(1, (10..=12).chain([u64::MAX]));
        assert_eq!(state.blocked(1), vec![10, 11, 12]);
        let u = state.user_by_name("u_a").expect("synthesized user 10");
        assert_eq!(u.id, 10);
        assert!(state.users.contains_key(&2), "older users are kept");
    }

    #[test]
    fn debug_output_of_the_state_shows_no_credential() {
        let mut seed = tiny_seed();
        seed.apps[0].consumer_key = "ConsumerKeyValue".into();
        seed.apps[0].consumer_secret = "ConsumerSecretValue".into();
        seed.accounts[0].consumer_key = "ConsumerKeyValue".into();
        seed.accounts[0].access_token = "1-AccessTokenValue".into();
        seed.accounts[0].access_token_secret = "AccessTokenSecretValue".into();
        let mut config = Config::default();
        config.limits.destroy.app_daily_limit = Some(3);
        let mut state = State::new(seed, config).expect("valid");
        state
            .app_daily
            .insert("ConsumerKeyValue".into(), Default::default());
        state.nonces.insert("ConsumerKeyValue\u{0}n".into(), 0);
        let text = format!("{state:?} {state:#?} {:?}", state.accounts[0]);
        for secret in [
            "ConsumerKeyValue",
            "ConsumerSecretValue",
            "AccessTokenValue",
            "AccessTokenSecretValue",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("user_id: 1") && text.contains("[redacted]"),
            "{text}"
        );
    }

    #[test]
    fn made_up_names_fit_screen_name_rules() {
        let name = made_up_name(MAX_USER_ID);
        assert_eq!(check_screen_name(&name), Ok(()), "{name}");
    }
}

//! The emulated instance's mutable state: accounts, tokens, each user's block rows and domain
//! block rows, the throttles' windows, the request log and the fault dice, behind the core's one
//! lock.
//!
//! Blocks are rows with IDs of their own, as in Mastodon's `blocks` table: `GET /api/v1/blocks`
//! pages by row ID, newest first, so removing blocks between pages never skips or repeats
//! anyone, and blocking again after an unblock makes a new row with a higher ID.

use std::collections::{BTreeMap, HashMap};

use super::admin::StateView;
use super::config::Config;
use super::render::Relation;
use super::route::Endpoint;
use super::seed::{
    MAX_LOCAL_USERNAME_LEN, Seed, SeedAccount, SeedError, known_scope, parse_id, valid_domain,
    valid_token, valid_username,
};
use crate::emulator::faults::FaultDice;
use crate::emulator::limits::Window;
use crate::emulator::log::RequestLog;
use crate::emulator::seed::{Redacted, made_up_name};

/// The first ID of block rows (the table's sequence has been used for a while).
const FIRST_BLOCK_ROW: u64 = 4_001;
/// The first ID of domain block rows.
const FIRST_DOMAIN_BLOCK_ROW: u64 = 201;

/// An account the instance knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRec {
    /// The ID.
    pub id: u64,
    /// The username as registered.
    pub username: String,
    /// The domain, lowercase; `None` for a local account.
    pub domain: Option<String>,
    /// The display name.
    pub display_name: String,
    /// Suspended by the instance.
    pub suspended: bool,
}

/// An access token and what the emulator counts for it (the token itself is only a key of
/// [`State::by_token`]).
pub struct TokenRec {
    /// Its name in the seed.
    pub name: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The local account it acts for; `None` for an app-only token.
    pub account: Option<u64>,
    /// Revoked (`revoked_at` set): refused from now on.
    pub revoked: bool,
    /// Successful writes made with it (for `faults.revoke_after`).
    pub mutations: u64,
    /// Authenticated requests made with it (for `faults.revoke_after_requests`).
    pub requests: u64,
    /// The `per_token` throttle's window.
    pub window: Window,
}

impl std::fmt::Debug for TokenRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRec")
            .field("name", &self.name)
            .field("token", &Redacted)
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .field("revoked", &self.revoked)
            .field("mutations", &self.mutations)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

impl TokenRec {
    /// True when the token holds any of `scopes` (Doorkeeper's `acceptable?`).
    pub fn allows(&self, scopes: &[&str]) -> bool {
        self.scopes.iter().any(|s| scopes.contains(&s.as_str()))
    }
}

/// A local user: blocks, domain blocks and the per-user throttles' windows.
#[derive(Debug)]
pub struct UserRec {
    /// The user's account ID.
    pub account: u64,
    /// Block rows: row ID → blocked account.
    pub blocks: BTreeMap<u64, u64>,
    /// Blocked account → its row ID.
    pub block_rows: HashMap<u64, u64>,
    /// Domain block rows: row ID → domain.
    pub domain_blocks: BTreeMap<u64, String>,
    /// The `per_user` throttle's window.
    pub window: Window,
    /// The `paging` throttle's window.
    pub paging: Window,
}

impl UserRec {
    fn new(account: u64) -> UserRec {
        UserRec {
            account,
            blocks: BTreeMap::new(),
            block_rows: HashMap::new(),
            domain_blocks: BTreeMap::new(),
            window: Window::epoch_aligned(),
            paging: Window::epoch_aligned(),
        }
    }

    /// True when the user blocks `domain`.
    pub fn blocks_domain(&self, domain: &str) -> bool {
        self.domain_blocks.values().any(|d| d == domain)
    }
}

/// The whole mutable state.
pub struct State {
    /// The knobs, read on every request so changes apply at once.
    pub config: Config,
    /// The instance's domain.
    pub domain: String,
    /// Accounts by ID.
    pub accounts: HashMap<u64, AccountRec>,
    /// Account IDs by lowercase username and lowercase domain (`None` for local).
    pub by_acct: HashMap<(String, Option<String>), u64>,
    /// Tokens, in seed order.
    pub tokens: Vec<TokenRec>,
    /// Token indexes by token.
    pub by_token: HashMap<String, usize>,
    /// Local users, in seed order (users with blocks first, then token owners).
    pub users: Vec<UserRec>,
    /// User indexes by account ID.
    pub by_user: HashMap<u64, usize>,
    /// The next block row ID (one sequence for every user, as in one table).
    pub next_block_row: u64,
    /// The next domain block row ID.
    pub next_domain_block_row: u64,
    /// The `unauthenticated` throttle's window (every client is 127.0.0.1).
    pub anonymous: Window,
    /// The `unauthenticated_paging` throttle's window.
    pub anonymous_paging: Window,
    /// Every request and the counters.
    pub log: RequestLog<Endpoint>,
    /// The fault RNG (reseeded when the config's seed changes).
    pub dice: FaultDice,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens (the keys of `by_token`) stay out: only the redacted token records.
        f.debug_struct("State")
            .field("config", &self.config)
            .field("domain", &self.domain)
            .field("accounts", &self.accounts.len())
            .field("tokens", &self.tokens)
            .field("users", &self.users.len())
            .field("log", &self.log.entries().len())
            .finish_non_exhaustive()
    }
}

/// Lowercases a domain and drops surrounding blanks and a trailing slash, as Mastodon's
/// `normalize_domain` does for ASCII names.
pub fn normalize_domain(raw: &str) -> String {
    raw.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl State {
    /// Builds the state from a seed, checking every reference in it.
    pub fn new(seed: Seed, config: Config) -> Result<State, SeedError> {
        if !valid_domain(&seed.domain) {
            return Err(SeedError::BadDomain(seed.domain));
        }
        let mut state = State {
            dice: FaultDice::new(config.faults.seed),
            config,
            domain: seed.domain,
            accounts: HashMap::with_capacity(seed.accounts.len()),
            by_acct: HashMap::with_capacity(seed.accounts.len()),
            tokens: Vec::with_capacity(seed.tokens.len()),
            by_token: HashMap::new(),
            users: Vec::new(),
            by_user: HashMap::new(),
            next_block_row: FIRST_BLOCK_ROW,
            next_domain_block_row: FIRST_DOMAIN_BLOCK_ROW,
            anonymous: Window::epoch_aligned(),
            anonymous_paging: Window::epoch_aligned(),
            log: RequestLog::new(),
        };
        for a in seed.accounts {
            state.insert_account(a)?;
        }
        let local = |state: &State, what: String, raw: &str| -> Result<u64, SeedError> {
            let unknown = || SeedError::UnknownAccount {
                what: what.clone(),
                id: raw.to_owned(),
            };
            let id = parse_id(raw).ok_or_else(unknown)?;
            let account = state.accounts.get(&id).ok_or_else(unknown)?;
            if account.domain.is_some() {
                return Err(SeedError::NotLocal {
                    what,
                    id: raw.to_owned(),
                });
            }
            Ok(id)
        };
        for u in seed.users {
            let id = local(&state, format!("user {}", u.account), &u.account)?;
            if state.by_user.contains_key(&id) {
                return Err(SeedError::DuplicateUser(u.account));
            }
            let idx = state.user_index(id);
            for raw in &u.blocks {
                let target = parse_id(raw)
                    .filter(|t| state.accounts.contains_key(t))
                    .ok_or_else(|| SeedError::UnknownAccount {
                        what: format!("the blocks of user {}", u.account),
                        id: raw.clone(),
                    })?;
                state.add_block(idx, target);
            }
            for raw in &u.domain_blocks {
                if !valid_domain(raw) {
                    return Err(SeedError::BadDomainBlock {
                        account: u.account,
                        domain: raw.clone(),
                    });
                }
                state.add_domain_block(idx, raw);
            }
        }
        for t in seed.tokens {
            if !valid_token(&t.token) {
                return Err(SeedError::BadToken(t.name));
            }
            if state.by_token.contains_key(&t.token)
                || state.tokens.iter().any(|o| o.name == t.name)
            {
                return Err(SeedError::DuplicateToken(t.name));
            }
            let scopes: Vec<String> = t.scopes.split_whitespace().map(str::to_owned).collect();
            if let Some(scope) = scopes.iter().find(|s| !known_scope(s)) {
                return Err(SeedError::UnknownScope {
                    name: t.name,
                    scope: scope.clone(),
                });
            }
            let account = match &t.account {
                Some(raw) => {
                    let id = local(&state, format!("token `{}`", t.name), raw)?;
                    state.user_index(id);
                    Some(id)
                }
                None => None,
            };
            state.by_token.insert(t.token.clone(), state.tokens.len());
            state.tokens.push(TokenRec {
                name: t.name,
                scopes,
                account,
                revoked: false,
                mutations: 0,
                requests: 0,
                window: Window::epoch_aligned(),
            });
        }
        Ok(state)
    }

    fn insert_account(&mut self, a: SeedAccount) -> Result<u64, SeedError> {
        let id = parse_id(&a.id).ok_or_else(|| SeedError::BadId(a.id.clone()))?;
        if self.accounts.contains_key(&id) {
            return Err(SeedError::DuplicateId(a.id));
        }
        let domain = match a.domain {
            None => {
                if a.username.len() > MAX_LOCAL_USERNAME_LEN {
                    return Err(SeedError::BadUsername(a.username));
                }
                None
            }
            Some(d) if valid_domain(&d) && d != self.domain => Some(d),
            Some(d) => {
                return Err(SeedError::BadAccountDomain {
                    id: a.id,
                    domain: d,
                });
            }
        };
        if !valid_username(&a.username) {
            return Err(SeedError::BadUsername(a.username));
        }
        let key = (a.username.to_ascii_lowercase(), domain.clone());
        if self.by_acct.contains_key(&key) {
            let acct = format!(
                "{}@{}",
                a.username,
                domain.as_deref().unwrap_or(&self.domain)
            );
            return Err(SeedError::DuplicateAcct(acct));
        }
        self.by_acct.insert(key, id);
        self.accounts.insert(
            id,
            AccountRec {
                id,
                username: a.username,
                domain,
                display_name: a.display_name,
                suspended: a.suspended,
            },
        );
        Ok(id)
    }

    /// The index of the user of local account `id`, created when missing.
    fn user_index(&mut self, id: u64) -> usize {
        if let Some(&idx) = self.by_user.get(&id) {
            return idx;
        }
        self.users.push(UserRec::new(id));
        let idx = self.users.len() - 1;
        self.by_user.insert(id, idx);
        idx
    }

    /// The user of account `id`, if it is one.
    pub fn user(&self, id: u64) -> Option<&UserRec> {
        self.by_user.get(&id).and_then(|&i| self.users.get(i))
    }

    /// The user of account `id`, to change, if it is one.
    fn user_mut(&mut self, id: u64) -> Option<&mut UserRec> {
        self.by_user.get(&id).and_then(|&i| self.users.get_mut(i))
    }

    /// The token with this value, to change.
    fn token_mut(&mut self, token: &str) -> Option<&mut TokenRec> {
        self.by_token
            .get(token)
            .and_then(|&i| self.tokens.get_mut(i))
    }

    /// Adds a block row for `target` unless there is one; true when added.
    fn add_block(&mut self, user: usize, target: u64) -> bool {
        let row = self.next_block_row;
        let Some(u) = self.users.get_mut(user) else {
            return false;
        };
        if u.account == target || u.block_rows.contains_key(&target) {
            return false;
        }
        u.blocks.insert(row, target);
        u.block_rows.insert(target, row);
        self.next_block_row += 1;
        true
    }

    /// Adds a domain block row unless there is one; true when added.
    fn add_domain_block(&mut self, user: usize, domain: &str) -> bool {
        let row = self.next_domain_block_row;
        let Some(u) = self.users.get_mut(user) else {
            return false;
        };
        if u.blocks_domain(domain) {
            return false;
        }
        u.domain_blocks.insert(row, domain.to_owned());
        self.next_domain_block_row += 1;
        true
    }

    /// `BlockService`: user `account` blocks `target` (not itself); true when a row was added.
    pub fn block(&mut self, account: u64, target: u64) -> bool {
        let Some(&idx) = self.by_user.get(&account) else {
            return false;
        };
        self.add_block(idx, target)
    }

    /// `UnblockService`: removes the block row; true when there was one.
    pub fn unblock(&mut self, account: u64, target: u64) -> bool {
        let Some(u) = self.user_mut(account) else {
            return false;
        };
        match u.block_rows.remove(&target) {
            Some(row) => {
                u.blocks.remove(&row);
                true
            }
            None => false,
        }
    }

    /// `block_domain!`; true when a row was added.
    pub fn block_domain(&mut self, account: u64, domain: &str) -> bool {
        let Some(&idx) = self.by_user.get(&account) else {
            return false;
        };
        self.add_domain_block(idx, domain)
    }

    /// `unblock_domain!`; true when there was a row.
    pub fn unblock_domain(&mut self, account: u64, domain: &str) -> bool {
        let Some(u) = self.user_mut(account) else {
            return false;
        };
        let row = u
            .domain_blocks
            .iter()
            .find(|(_, d)| *d == domain)
            .map(|(r, _)| *r);
        row.is_some_and(|r| u.domain_blocks.remove(&r).is_some())
    }

    /// What user `account` sees of `target`.
    pub fn relation(&self, account: u64, target: u64) -> Relation {
        let me = self.user(account);
        let domain = self.accounts.get(&target).and_then(|a| a.domain.as_deref());
        Relation {
            id: target,
            blocking: me.is_some_and(|u| u.block_rows.contains_key(&target)),
            blocked_by: self
                .user(target)
                .is_some_and(|u| u.block_rows.contains_key(&account)),
            domain_blocking: domain.is_some_and(|d| me.is_some_and(|u| u.blocks_domain(d))),
        }
    }

    /// Resolves `acct` as `ResolveAccountService` does without WebFinger: blanks trimmed, one
    /// leading `@` dropped, `user` or `user@domain` (the local domain, in any case, meaning a
    /// local account), usernames and domains compared ignoring case.
    pub fn lookup(&self, acct: &str) -> Option<u64> {
        let acct = acct.trim();
        let acct = acct.strip_prefix('@').unwrap_or(acct);
        let mut parts = acct.split('@');
        let username = parts.next().filter(|u| !u.is_empty())?;
        let domain = parts
            .next()
            .map(normalize_domain)
            .filter(|d| !d.is_empty() && *d != self.domain);
        self.by_acct
            .get(&(username.to_ascii_lowercase(), domain))
            .copied()
    }

    /// The account's acct in an export (`user@domain`, local accounts with the local domain).
    pub fn address(&self, id: u64) -> Option<String> {
        self.accounts.get(&id).map(|a| {
            format!(
                "{}@{}",
                a.username,
                a.domain.as_deref().unwrap_or(&self.domain)
            )
        })
    }

    /// A user's blocked account IDs, oldest block first (empty for an unknown account).
    pub fn blocked(&self, account: &str) -> Vec<String> {
        parse_id(account)
            .and_then(|id| self.user(id))
            .map(|u| u.blocks.values().map(u64::to_string).collect())
            .unwrap_or_default()
    }

    /// A user's blocked domains, oldest first.
    pub fn domain_blocks(&self, account: &str) -> Vec<String> {
        parse_id(account)
            .and_then(|id| self.user(id))
            .map(|u| u.domain_blocks.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Replaces a user's blocks with new rows, oldest first. IDs without an account get a
    /// synthesized local account (`u_` + the ID in base 36), so big test lists need no account
    /// list; IDs that are not account IDs are skipped.
    pub fn set_blocked(&mut self, account: &str, ids: impl IntoIterator<Item = String>) {
        let Some(idx) = self.local_user(account) else {
            tracing::warn!(account, "emulator: set_blocked on an unknown local account");
            return;
        };
        if let Some(u) = self.users.get_mut(idx) {
            u.blocks.clear();
            u.block_rows.clear();
        }
        for raw in ids {
            let Some(id) = parse_id(&raw) else {
                continue;
            };
            if !self.accounts.contains_key(&id) {
                let name = made_up_name(id);
                if self
                    .insert_account(SeedAccount::local(&raw, &name))
                    .is_err()
                {
                    continue;
                }
            }
            self.add_block(idx, id);
        }
    }

    /// Replaces a user's domain blocks with new rows (normalized; invalid names skipped).
    pub fn set_domain_blocks(&mut self, account: &str, domains: impl IntoIterator<Item = String>) {
        let Some(idx) = self.local_user(account) else {
            tracing::warn!(
                account,
                "emulator: set_domain_blocks on an unknown local account"
            );
            return;
        };
        if let Some(u) = self.users.get_mut(idx) {
            u.domain_blocks.clear();
        }
        for raw in domains {
            let domain = normalize_domain(&raw);
            if valid_domain(&domain) {
                self.add_domain_block(idx, &domain);
            }
        }
    }

    /// The user index of a local account given by ID text, created when missing.
    fn local_user(&mut self, account: &str) -> Option<usize> {
        let id = parse_id(account)?;
        let local = self.accounts.get(&id)?.domain.is_none();
        local.then(|| self.user_index(id))
    }

    /// Suspends or reinstates an account; false for an unknown one.
    pub fn set_suspended(&mut self, account: &str, suspended: bool) -> bool {
        match parse_id(account).and_then(|id| self.accounts.get_mut(&id)) {
            Some(a) => {
                a.suspended = suspended;
                true
            }
            None => false,
        }
    }

    /// Revokes a token; false when no token has that value.
    pub fn revoke_token(&mut self, token: &str) -> bool {
        match self.token_mut(token) {
            Some(t) => {
                t.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Revokes every token of an account; how many there were.
    pub fn revoke_account(&mut self, account: &str) -> usize {
        let id = parse_id(account);
        let mut n = 0;
        for t in self
            .tokens
            .iter_mut()
            .filter(|t| t.account.is_some() && t.account == id)
        {
            t.revoked = true;
            n += 1;
        }
        n
    }

    /// Restores a revoked token and restarts its counts, as a freshly issued token would.
    pub fn restore_token(&mut self, token: &str) -> bool {
        match self.token_mut(token) {
            Some(t) => {
                t.revoked = false;
                t.mutations = 0;
                t.requests = 0;
                true
            }
            None => false,
        }
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
    use crate::emulator::mastodon::seed::{SeedToken, SeedUser};

    const OWNER: &str = "109276928409644247";
    const ALICE: &str = "109276928409644300";
    const BOB: &str = "110000000000000001";

    fn tiny() -> Seed {
        Seed {
            domain: "mastodon.test".into(),
            accounts: vec![
                SeedAccount::local(OWNER, "owner"),
                SeedAccount::local(ALICE, "Alice"),
                SeedAccount::remote(BOB, "bob", "other.example"),
            ],
            tokens: vec![SeedToken {
                name: "t".into(),
                token: "SecretTokenValue".into(),
                scopes: "read:blocks write:blocks".into(),
                account: Some(OWNER.into()),
            }],
            users: vec![SeedUser {
                account: OWNER.into(),
                blocks: vec![ALICE.into(), BOB.into()],
                domain_blocks: vec!["spam.example".into()],
            }],
        }
    }

    fn state(seed: Seed) -> Result<State, SeedError> {
        State::new(seed, Config::default())
    }

    #[test]
    fn seed_references_are_checked() {
        assert!(state(tiny()).is_ok());
        type Edit = fn(&mut Seed);
        let cases: Vec<(Edit, &str)> = vec![
            (|s| s.domain = "Mastodon.Test".into(), "instance domain"),
            (|s| s.accounts[1].id = "12ab".into(), "12ab"),
            (|s| s.accounts[1].id = OWNER.into(), "more than once"),
            (
                |s| s.accounts[1].username = "owner".into(),
                "owner@mastodon.test",
            ),
            (|s| s.accounts[1].username = "al ice".into(), "al ice"),
            (
                |s| s.accounts[2].domain = Some("mastodon.test".into()),
                "not a remote",
            ),
            (
                |s| s.users[0].blocks.push("42".into()),
                "the blocks of user",
            ),
            (|s| s.users[0].account = BOB.into(), "not local"),
            (|s| s.users[0].domain_blocks.push("a b".into()), "a b"),
            (
                |s| s.tokens[0].scopes.push_str(" write:block"),
                "write:block",
            ),
            (|s| s.tokens[0].account = Some("7".into()), "token `t`"),
            (|s| s.tokens.push(s.tokens[0].clone()), "reuses"),
            (|s| s.tokens[0].token = "has space".into(), "bearer token"),
        ];
        for (edit, needle) in cases {
            let mut s = tiny();
            edit(&mut s);
            let err = state(s).expect_err(needle).to_string();
            assert!(err.contains(needle), "{needle}: {err}");
            assert!(!err.contains("SecretTokenValue"), "{err}");
        }
    }

    #[test]
    fn block_rows_keep_their_order_and_new_blocks_get_new_rows() {
        let mut s = state(tiny()).expect("valid");
        let owner = parse_id(OWNER).expect("id");
        let (alice, bob) = (parse_id(ALICE).expect("id"), parse_id(BOB).expect("id"));
        assert_eq!(s.blocked(OWNER), [ALICE, BOB]);
        let first_row = s.user(owner).expect("user").block_rows[&alice];
        assert!(s.unblock(owner, alice) && !s.unblock(owner, alice));
        assert!(s.block(owner, alice) && !s.block(owner, alice));
        assert!(!s.block(owner, owner), "no one blocks themselves");
        assert!(s.user(owner).expect("user").block_rows[&alice] > first_row);
        assert_eq!(s.blocked(OWNER), [BOB, ALICE]);
        let r = s.relation(owner, bob);
        assert!(r.blocking && !r.domain_blocking && !r.blocked_by);
        assert!(s.block_domain(owner, "other.example"));
        assert!(s.relation(owner, bob).domain_blocking);
        assert!(s.unblock_domain(owner, "other.example") && !s.unblock_domain(owner, "x.example"));
        assert_eq!(s.domain_blocks(OWNER), ["spam.example"]);
    }

    #[test]
    fn lookup_reads_acct_as_mastodon_does() {
        let s = state(tiny()).expect("valid");
        let alice = parse_id(ALICE);
        for acct in [
            "Alice",
            "alice",
            "@alice",
            " alice@MASTODON.test ",
            "alice@mastodon.test",
        ] {
            assert_eq!(s.lookup(acct), alice, "{acct}");
        }
        assert_eq!(s.lookup("@bob@Other.Example"), parse_id(BOB));
        for acct in [
            "bob",
            "alice@other.example",
            "",
            "@",
            "@other.example",
            "ghost",
        ] {
            assert_eq!(s.lookup(acct), None, "{acct}");
        }
        assert_eq!(
            s.address(parse_id(ALICE).expect("id")).as_deref(),
            Some("Alice@mastodon.test")
        );
    }

    #[test]
    fn set_blocked_synthesizes_accounts_and_debug_shows_no_token() {
        let mut s = state(tiny()).expect("valid");
        s.set_blocked(
            OWNER,
            [
                "120000000000000000".to_owned(),
                "x".to_owned(),
                BOB.to_owned(),
            ],
        );
        assert_eq!(s.blocked(OWNER), ["120000000000000000", BOB]);
        assert!(s.lookup(&made_up_name(120_000_000_000_000_000)).is_some());
        s.set_domain_blocks(OWNER, [" Ads.Example/".to_owned(), "bad domain".to_owned()]);
        assert_eq!(s.domain_blocks(OWNER), ["ads.example"]);
        assert!(s.set_suspended(BOB, true) && !s.set_suspended("1", true));
        assert!(s.revoke_token("SecretTokenValue") && s.tokens[0].revoked);
        assert!(s.restore_token("SecretTokenValue") && !s.tokens[0].revoked);
        assert_eq!(s.revoke_account(OWNER), 1);
        let text = format!("{s:?}");
        assert!(
            !text.contains("SecretTokenValue") && text.contains("[redacted]"),
            "{text}"
        );
    }
}

//! The network seam: everything that differs between networks sits behind [`Network`].
//!
//! How a target is named and resolved, auth and signing, endpoints, how a response maps to an
//! outcome and which rate-limit headers a server speaks are the client's business. The pipeline,
//! journal, pacing and display only see the network-neutral types here: a [`Reply`] carrying a
//! [`Verdict`], the [`RateInfo`] the server announced, and the server's clock reading.

pub mod bluesky;
pub mod mastodon;
pub mod x;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::input::Identities;
use crate::outcome::Action;
use crate::pace::Rate;
use crate::target::Target;

pub use crate::reply::{
    Account, Acted, BlockPage, ErrorCode, RateInfo, RateWindow, Reply, Settled, Signal, Span, Unit,
    UserRef, Verdict,
};

/// The networks this build knows: the `--network` flag and the journal header's `network`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum NetworkId {
    /// X (Twitter), API v1.1 or v2.
    #[default]
    X,
    /// Mastodon, and the servers that speak its API.
    Mastodon,
    /// Bluesky (the AT Protocol).
    Bluesky,
}

impl NetworkId {
    /// The name the flag and the journal use.
    pub fn name(self) -> &'static str {
        match self {
            NetworkId::X => "x",
            NetworkId::Mastodon => "mastodon",
            NetworkId::Bluesky => "bluesky",
        }
    }

    /// The network's defaults: where it is, and the paces its published limits allow.
    pub fn defaults(self) -> Defaults {
        match self {
            NetworkId::X => x::DEFAULTS,
            NetworkId::Mastodon => mastodon::DEFAULTS,
            NetworkId::Bluesky => bluesky::DEFAULTS,
        }
    }

    /// Where the network's credentials come from.
    pub fn credentials(self) -> &'static CredentialSpec {
        match self {
            NetworkId::X => &x::CREDENTIALS,
            NetworkId::Mastodon => &mastodon::CREDENTIALS,
            NetworkId::Bluesky => &bluesky::CREDENTIALS,
        }
    }

    /// The network's identities: how its targets are written in the journal (every kind it
    /// has), and in inputs when no scope says otherwise.
    pub fn identities(self) -> &'static dyn Identities {
        match self {
            NetworkId::X => &x::identity::IDENTITIES,
            NetworkId::Mastodon => &mastodon::identity::JOURNAL,
            NetworkId::Bluesky => &bluesky::identity::IDENTITIES,
        }
    }

    /// How the inputs of a command in `scope` are read; refuses a scope the network has no
    /// such thing as (`--domains` on X).
    pub fn inputs(self, scope: Scope) -> Result<&'static dyn Identities, String> {
        match (self, scope) {
            (
                NetworkId::X,
                Scope {
                    lists: false,
                    domains: false,
                },
            ) => Ok(self.identities()),
            (
                NetworkId::Mastodon,
                Scope {
                    lists: false,
                    domains,
                },
            ) => Ok(if domains {
                &mastodon::identity::DOMAINS
            } else {
                &mastodon::identity::ACCOUNTS
            }),
            // Lists are read from the inputs with or without `--lists`, which adds every list
            // subscribed to the whole block list.
            (NetworkId::Bluesky, Scope { domains: false, .. }) => Ok(self.identities()),
            (network, scope) => Err(format!(
                "{} is not something {network} has",
                if scope.domains {
                    "--domains"
                } else {
                    "--lists"
                }
            )),
        }
    }
}

impl std::fmt::Display for NetworkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of an account's blocks a command works on (`--lists`, `--domains`). A network refuses
/// what it has no such thing as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Also the moderation lists the account subscribes to as blocklists (Bluesky).
    pub lists: bool,
    /// Blocked domains instead of accounts (Mastodon).
    pub domains: bool,
}

/// One value of a network's credentials: the environment variable, and its key in a
/// `--credentials` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialVar {
    /// The environment variable (`TWITTER_ACCESS_TOKEN`).
    pub env: &'static str,
    /// The key in a `--credentials` TOML file (`access_token`).
    pub key: &'static str,
}

/// Where a network's credentials come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialSpec {
    /// The values, in the order the client takes them; every one is required.
    pub vars: &'static [CredentialVar],
    /// Where the API base may come from besides `--api-base` (Mastodon's instance).
    pub base: Option<CredentialVar>,
    /// What they are and where to get them, for messages.
    pub what: &'static str,
}

/// What a network's published limits and hosts suggest, for the flags left unset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Defaults {
    /// The API host, when the network has one (Mastodon's is the user's instance).
    pub api_base: Option<&'static str>,
    /// `--rate`: the pace of the action.
    pub rate: Rate,
    /// `--list-rate`: the pace of block-list pages.
    pub list_rate: Rate,
    /// The pace of lookups (their own limit), unless they share the action's.
    pub lookup_rate: Rate,
    /// Lookups count against the same limit as the action (Mastodon's per-token limit counts
    /// every request): a run then paces its lookups with the action's pacer, at `--rate`, so
    /// that the two phases together never go faster than it, and what the lookups learnt of
    /// the window (its headers, a lowered pace) carries over to the first action. Otherwise
    /// the lookups have a pacer of their own at `lookup_rate`.
    pub lookups_share_limit: bool,
}

/// How many targets one action request may cover, and what it may cost at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Targets per request.
    pub targets: usize,
    /// The most one request may cost (points).
    pub cost: u32,
}

impl Batch {
    /// One target a request: X and Mastodon.
    pub const SINGLE: Batch = Batch {
        targets: 1,
        cost: 1,
    };
}

/// A network the pipeline can act on.
///
/// Every method that sends sends exactly one HTTP request, so each request waits for its own
/// slot of the pace and its rate headers reach the pacer. What a client needs to know before
/// acting (the block list, the IDs behind names) it asks for through [`Network::needs_list`]
/// and [`Network::to_resolve`]; the run reads those through the same paced loop, and the
/// client keeps what the answers told.
pub trait Network: Send + Sync + 'static {
    /// Which network this is: its identities and defaults follow.
    fn network(&self) -> NetworkId;

    /// Checks the credentials and returns the account they act for. A rejection is
    /// [`Verdict::Rejected`]; faults and 429s are sent again by the retry loop like any read.
    fn verify(&self) -> impl Future<Output = Reply<Result<Account, Verdict>>> + Send;

    /// Performs `action` on `targets` with one request (a batch when there are several, at
    /// most [`Network::batch`]) and sorts the answer: one [`Settled`] per target, in order.
    fn act(&self, action: Action, targets: &[Target]) -> impl Future<Output = Reply<Acted>> + Send;

    /// How many targets one action request may cover, and what it may cost.
    fn batch(&self, _action: Action) -> Batch {
        Batch::SINGLE
    }

    /// What acting on `target` costs on the pace: points where the network charges them
    /// (Bluesky: one per record deleted), else 1.
    fn cost(&self, _action: Action, _target: &Target) -> u32 {
        1
    }

    /// Fetches one page of the account's block list (`cursor` `None`: the first page).
    fn blocked_page(
        &self,
        cursor: Option<&str>,
    ) -> impl Future<Output = Reply<Result<BlockPage, Verdict>>> + Send;

    /// Looks targets up (by ID or name), at most [`Network::lookup_batch`] at once. Unknown,
    /// suspended and deactivated ones are left out of the answer; the client keeps what it
    /// learnt for its later actions.
    fn lookup(
        &self,
        targets: &[Target],
    ) -> impl Future<Output = Reply<Result<Vec<UserRef>, Verdict>>> + Send;

    /// Targets per lookup request.
    fn lookup_batch(&self) -> usize;

    /// Whether the client must read the account's block list before acting on `targets`
    /// (Bluesky, to find the records to delete). The run then reads it, paced as any list.
    fn needs_list(&self, _action: Action, _targets: &[Target]) -> bool {
        false
    }

    /// The targets the client must look up before acting on them (names that X v2 acts on by
    /// ID, Bluesky handles, Mastodon accts not in the list). The run looks them up, batched and
    /// paced as any read, before the first action.
    fn to_resolve(&self, _action: Action, _targets: &[Target]) -> Vec<Target> {
        Vec::new()
    }

    /// How acting on `target` would end, when the client knows it without sending anything (a
    /// name a lookup found gone, a Bluesky user with no block record): the run then records it
    /// at once, without a request or a slot of the pace.
    fn settled(&self, _action: Action, _target: &Target) -> Option<Settled> {
        None
    }
}

/// Which API a command talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// X API v1.1 (`blocks/destroy.json`, `blocks/ids.json`, …).
    #[default]
    #[value(name = "v1.1")]
    V1,
    /// X API v2 (`DELETE /2/users/{me}/blocking/{id}`, …).
    #[value(name = "v2")]
    V2,
}

/// The network clients this build knows, behind one type so commands stay generic.
// One value per command: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Client {
    /// X API v1.1.
    XV1(x::XClient),
    /// X API v2.
    XV2(x::v2::XV2Client),
    /// Mastodon.
    Mastodon(mastodon::MastodonClient),
    /// Bluesky.
    Bluesky(bluesky::BlueskyClient),
}

/// What a client needs to reach its network.
#[derive(Clone, Debug)]
pub struct Connect {
    /// Which blocks the command works on.
    pub scope: Scope,
    /// Which X API (ignored elsewhere).
    pub api: Api,
    /// Where to log in / send requests.
    pub api_base: String,
    /// The credentials, in the order of the network's [`CredentialSpec::vars`].
    pub secrets: Vec<crate::secret::Secret>,
    /// Timeout for one request.
    pub timeout: std::time::Duration,
}

pub use crate::http::BaseUrlError;

impl Client {
    /// Builds the client for `network`. No request is sent.
    pub fn new(
        network: NetworkId,
        connect: Connect,
        clock: std::sync::Arc<crate::clock::ServerClock>,
    ) -> Result<Client, BaseUrlError> {
        match network {
            NetworkId::X => {
                let settings = x::XSettings {
                    api_base: connect.api_base,
                    credentials: x::oauth::Credentials::from_secrets(connect.secrets),
                    timeout: connect.timeout,
                };
                match connect.api {
                    Api::V1 => Ok(Client::XV1(x::XClient::new(settings, clock)?)),
                    Api::V2 => Ok(Client::XV2(x::v2::XV2Client::new(settings, clock)?)),
                }
            }
            NetworkId::Mastodon => {
                let settings = mastodon::MastodonSettings {
                    instance: connect.api_base,
                    token: connect
                        .secrets
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| crate::secret::Secret::new(String::new())),
                    domains: connect.scope.domains,
                    timeout: connect.timeout,
                };
                Ok(Client::Mastodon(mastodon::MastodonClient::new(
                    settings, clock,
                )?))
            }
            NetworkId::Bluesky => Ok(Client::Bluesky(bluesky::BlueskyClient::connect(
                connect, clock,
            )?)),
        }
    }

    /// The base URL requests go to.
    pub fn base(&self) -> &str {
        match self {
            Client::XV1(c) => c.base(),
            Client::XV2(c) => c.base(),
            Client::Mastodon(c) => c.base(),
            Client::Bluesky(c) => c.base(),
        }
    }
}

impl Network for Client {
    fn network(&self) -> NetworkId {
        match self {
            Client::XV1(c) => c.network(),
            Client::XV2(c) => c.network(),
            Client::Mastodon(c) => c.network(),
            Client::Bluesky(c) => c.network(),
        }
    }

    fn lookup_batch(&self) -> usize {
        match self {
            Client::XV1(c) => c.lookup_batch(),
            Client::XV2(c) => c.lookup_batch(),
            Client::Mastodon(c) => c.lookup_batch(),
            Client::Bluesky(c) => c.lookup_batch(),
        }
    }

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        match self {
            Client::XV1(c) => c.verify().await,
            Client::XV2(c) => c.verify().await,
            Client::Mastodon(c) => c.verify().await,
            Client::Bluesky(c) => c.verify().await,
        }
    }

    async fn act(&self, action: Action, targets: &[Target]) -> Reply<Acted> {
        match self {
            Client::XV1(c) => c.act(action, targets).await,
            Client::XV2(c) => c.act(action, targets).await,
            Client::Mastodon(c) => c.act(action, targets).await,
            Client::Bluesky(c) => c.act(action, targets).await,
        }
    }

    fn batch(&self, action: Action) -> Batch {
        match self {
            Client::XV1(c) => c.batch(action),
            Client::XV2(c) => c.batch(action),
            Client::Mastodon(c) => c.batch(action),
            Client::Bluesky(c) => c.batch(action),
        }
    }

    fn cost(&self, action: Action, target: &Target) -> u32 {
        match self {
            Client::XV1(c) => c.cost(action, target),
            Client::XV2(c) => c.cost(action, target),
            Client::Mastodon(c) => c.cost(action, target),
            Client::Bluesky(c) => c.cost(action, target),
        }
    }

    fn needs_list(&self, action: Action, targets: &[Target]) -> bool {
        match self {
            Client::XV1(c) => c.needs_list(action, targets),
            Client::XV2(c) => c.needs_list(action, targets),
            Client::Mastodon(c) => c.needs_list(action, targets),
            Client::Bluesky(c) => c.needs_list(action, targets),
        }
    }

    fn to_resolve(&self, action: Action, targets: &[Target]) -> Vec<Target> {
        match self {
            Client::XV1(c) => c.to_resolve(action, targets),
            Client::XV2(c) => c.to_resolve(action, targets),
            Client::Mastodon(c) => c.to_resolve(action, targets),
            Client::Bluesky(c) => c.to_resolve(action, targets),
        }
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        match self {
            Client::XV1(c) => c.blocked_page(cursor).await,
            Client::XV2(c) => c.blocked_page(cursor).await,
            Client::Mastodon(c) => c.blocked_page(cursor).await,
            Client::Bluesky(c) => c.blocked_page(cursor).await,
        }
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        match self {
            Client::XV1(c) => c.lookup(targets).await,
            Client::XV2(c) => c.lookup(targets).await,
            Client::Mastodon(c) => c.lookup(targets).await,
            Client::Bluesky(c) => c.lookup(targets).await,
        }
    }

    fn settled(&self, action: Action, target: &Target) -> Option<Settled> {
        match self {
            Client::XV1(c) => c.settled(action, target),
            Client::XV2(c) => c.settled(action, target),
            Client::Mastodon(c) => c.settled(action, target),
            Client::Bluesky(c) => c.settled(action, target),
        }
    }
}

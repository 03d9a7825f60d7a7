//! Which emulated endpoint a request line names, and what each endpoint asks of a token.
//!
//! One enum names every endpoint, so that the request log, the statistics and the knobs key on
//! the same thing. Each endpoint carries the scopes its controller passes to Doorkeeper (any one
//! of them will do) and whether it needs a user behind the token, as read from Mastodon's
//! controllers.

use serde::{Deserialize, Serialize};

/// An emulated endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /api/v1/accounts/verify_credentials`
    VerifyCredentials,
    /// `GET /api/v1/accounts/lookup?acct=`
    Lookup,
    /// `GET /api/v1/accounts/:id`
    Account,
    /// `GET /api/v1/accounts/relationships?id[]=`
    Relationships,
    /// `POST /api/v1/accounts/:id/block`
    Block,
    /// `POST /api/v1/accounts/:id/unblock`
    Unblock,
    /// `GET /api/v1/blocks`
    Blocks,
    /// `GET /api/v1/domain_blocks`
    DomainBlocks,
    /// `POST /api/v1/domain_blocks`
    DomainBlock,
    /// `DELETE /api/v1/domain_blocks`
    DomainUnblock,
    /// `GET /api/v1/instance`
    Instance,
    /// `GET /api/v2/instance`
    InstanceV2,
    /// Anything else: 404 `{"error":"Not Found"}`.
    Unknown,
}

/// What an endpoint asks of the request's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Nothing: the token is not even looked at (the instance endpoints).
    Public,
    /// `authorize_if_got_token!`: without a token the request is served anonymously; with one,
    /// the token must be valid and hold one of the scopes.
    IfToken(&'static [&'static str]),
    /// `doorkeeper_authorize!` and `require_user!`: a valid token holding one of the scopes,
    /// issued to a user.
    User(&'static [&'static str]),
}

impl Endpoint {
    /// Every endpoint, in a fixed order (indexes of per-endpoint arrays).
    pub const ALL: [Endpoint; 13] = [
        Endpoint::VerifyCredentials,
        Endpoint::Lookup,
        Endpoint::Account,
        Endpoint::Relationships,
        Endpoint::Block,
        Endpoint::Unblock,
        Endpoint::Blocks,
        Endpoint::DomainBlocks,
        Endpoint::DomainBlock,
        Endpoint::DomainUnblock,
        Endpoint::Instance,
        Endpoint::InstanceV2,
        Endpoint::Unknown,
    ];

    /// A short stable name, used in the request log and the statistics.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::VerifyCredentials => "accounts/verify_credentials",
            Endpoint::Lookup => "accounts/lookup",
            Endpoint::Account => "accounts/show",
            Endpoint::Relationships => "accounts/relationships",
            Endpoint::Block => "accounts/block",
            Endpoint::Unblock => "accounts/unblock",
            Endpoint::Blocks => "blocks",
            Endpoint::DomainBlocks => "domain_blocks",
            Endpoint::DomainBlock => "domain_blocks/create",
            Endpoint::DomainUnblock => "domain_blocks/destroy",
            Endpoint::Instance => "instance",
            Endpoint::InstanceV2 => "v2/instance",
            Endpoint::Unknown => "unknown",
        }
    }

    /// What the endpoint's controller asks of the token (`Api::V1::AccountsController`, whose
    /// `show` also serves a request without a token, `Accounts::CredentialsController`,
    /// `Accounts::LookupController`, `Accounts::RelationshipsController`, `BlocksController`,
    /// `DomainBlocksController`).
    pub fn access(self) -> Access {
        const WRITE_BLOCKS: &[&str] = &["follow", "write", "write:blocks"];
        const READ_BLOCKS: &[&str] = &["follow", "read", "read:blocks"];
        match self {
            Endpoint::VerifyCredentials => Access::User(&["profile", "read", "read:accounts"]),
            Endpoint::Lookup | Endpoint::Account => Access::IfToken(&["read", "read:accounts"]),
            Endpoint::Relationships => Access::User(&["read", "read:follows"]),
            Endpoint::Block | Endpoint::Unblock => Access::User(WRITE_BLOCKS),
            Endpoint::Blocks | Endpoint::DomainBlocks => Access::User(READ_BLOCKS),
            Endpoint::DomainBlock | Endpoint::DomainUnblock => Access::User(WRITE_BLOCKS),
            Endpoint::Instance | Endpoint::InstanceV2 | Endpoint::Unknown => Access::Public,
        }
    }

    /// True for endpoints that change state (faults and `revoke_after` aim at these).
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Endpoint::Block | Endpoint::Unblock | Endpoint::DomainBlock | Endpoint::DomainUnblock
        )
    }
}

crate::emulator::log::endpoint_kind!(Endpoint);

/// The endpoint and the account ID its path carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The `:id` segment of `/api/v1/accounts/:id/…`, as written.
    pub id: Option<String>,
}

/// Resolves a method and path. Rails ignores one trailing slash (Mastodon.py asks for
/// `/api/v1/instance/`); a known path with a method it does not take is `Unknown`, as no route
/// matches it.
pub fn resolve(method: &str, path: &str) -> Route {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let plain = |endpoint| Route { endpoint, id: None };
    let endpoint = match (method, path) {
        ("GET", "/api/v1/accounts/verify_credentials") => Endpoint::VerifyCredentials,
        ("GET", "/api/v1/accounts/lookup") => Endpoint::Lookup,
        ("GET", "/api/v1/accounts/relationships") => Endpoint::Relationships,
        ("GET", "/api/v1/blocks") => Endpoint::Blocks,
        ("GET", "/api/v1/domain_blocks") => Endpoint::DomainBlocks,
        ("POST", "/api/v1/domain_blocks") => Endpoint::DomainBlock,
        ("DELETE", "/api/v1/domain_blocks") => Endpoint::DomainUnblock,
        ("GET", "/api/v1/instance") => Endpoint::Instance,
        ("GET", "/api/v2/instance") => Endpoint::InstanceV2,
        ("POST", _) => return resolve_account_action(path).unwrap_or(plain(Endpoint::Unknown)),
        ("GET", _) => return resolve_account_show(path).unwrap_or(plain(Endpoint::Unknown)),
        _ => Endpoint::Unknown,
    };
    plain(endpoint)
}

/// `POST /api/v1/accounts/:id/block|unblock`: one non-empty segment for the ID.
fn resolve_account_action(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/api/v1/accounts/")?;
    let (id, action) = rest.split_once('/')?;
    let endpoint = match action {
        "block" => Endpoint::Block,
        "unblock" => Endpoint::Unblock,
        _ => return None,
    };
    if id.is_empty() {
        return None;
    }
    Some(Route {
        endpoint,
        id: Some(id.to_owned()),
    })
}

/// `GET /api/v1/accounts/:id`: one non-empty segment, after the named account routes
/// (`verify_credentials`, `lookup`, `relationships`), which Rails matches first.
fn resolve_account_show(path: &str) -> Option<Route> {
    let id = path.strip_prefix("/api/v1/accounts/")?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(Route {
        endpoint: Endpoint::Account,
        id: Some(id.to_owned()),
    })
}

/// True for paths the API throttles count (`req.path.start_with?('/api')`).
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::log::EndpointKind;

    #[test]
    fn methods_and_trailing_slashes() {
        assert_eq!(resolve("GET", "/api/v1/blocks").endpoint, Endpoint::Blocks);
        assert_eq!(resolve("GET", "/api/v1/blocks/").endpoint, Endpoint::Blocks);
        assert_eq!(
            resolve("POST", "/api/v1/blocks").endpoint,
            Endpoint::Unknown
        );
        assert_eq!(
            resolve("GET", "/api/v1/instance/").endpoint,
            Endpoint::Instance
        );
        assert_eq!(
            resolve("DELETE", "/api/v1/domain_blocks").endpoint,
            Endpoint::DomainUnblock
        );
        assert_eq!(resolve("GET", "/").endpoint, Endpoint::Unknown);
    }

    #[test]
    fn account_actions_carry_their_id() {
        let r = resolve("GET", "/api/v1/accounts/109276928409644247");
        assert_eq!(r.endpoint, Endpoint::Account);
        assert_eq!(r.id.as_deref(), Some("109276928409644247"));
        assert_eq!(
            resolve("GET", "/api/v1/accounts/lookup").endpoint,
            Endpoint::Lookup
        );
        for path in ["/api/v1/accounts/", "/api/v1/accounts/1/statuses"] {
            assert_eq!(resolve("GET", path).endpoint, Endpoint::Unknown, "{path}");
        }
        let r = resolve("POST", "/api/v1/accounts/109276928409644247/unblock");
        assert_eq!(r.endpoint, Endpoint::Unblock);
        assert_eq!(r.id.as_deref(), Some("109276928409644247"));
        assert_eq!(
            resolve("POST", "/api/v1/accounts/12/block/").endpoint,
            Endpoint::Block
        );
        for (method, path) in [
            ("GET", "/api/v1/accounts/12/unblock"),
            ("POST", "/api/v1/accounts//unblock"),
            ("POST", "/api/v1/accounts/12/mute"),
            ("POST", "/api/v1/accounts/12/unblock/x"),
        ] {
            assert_eq!(resolve(method, path).endpoint, Endpoint::Unknown, "{path}");
        }
    }

    #[test]
    fn names_and_indexes_are_consistent() {
        for (i, e) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(<Endpoint as EndpointKind>::from_name(e.name()), Some(*e));
        }
        assert!(Endpoint::Unblock.is_mutating() && !Endpoint::Blocks.is_mutating());
        assert!(is_api_path("/api/v1/blocks") && !is_api_path("/admin/state"));
    }
}

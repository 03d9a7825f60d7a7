//! Which emulated endpoint a request line names.
//!
//! One enum names every endpoint, so that rate windows, statistics and the request log all key
//! on the same thing, and a route the real API lacks (including a known path with the wrong
//! method) is told apart before any other work is done.

use serde::{Deserialize, Serialize};

/// An emulated endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /1.1/blocks/destroy.json`
    BlocksDestroy,
    /// `POST /1.1/blocks/create.json`
    BlocksCreate,
    /// `GET /1.1/blocks/ids.json`
    BlocksIds,
    /// `GET /1.1/blocks/list.json`
    BlocksList,
    /// `GET|POST /1.1/users/lookup.json`
    UsersLookup,
    /// `GET /1.1/account/verify_credentials.json`
    VerifyCredentials,
    /// `GET /1.1/application/rate_limit_status.json`
    RateLimitStatus,
    /// `GET /2/users/me`
    V2Me,
    /// `DELETE /2/users/{source}/blocking/{target}`
    V2Unblock,
    /// `POST /2/users/{id}/blocking`
    V2Block,
    /// `GET /2/users/{id}/blocking`
    V2Blocking,
    /// `GET /2/users/by`
    V2UsersBy,
    /// `GET /2/users?ids=`
    V2Users,
    /// `GET /2/users/by/username/{username}`
    V2UserByUsername,
    /// Anything else: 404 code 34, or a 404 problem under `/2/`.
    Unknown,
}

impl Endpoint {
    /// Every endpoint, in a fixed order (indexes of per-endpoint arrays).
    pub const ALL: [Endpoint; 15] = [
        Endpoint::BlocksDestroy,
        Endpoint::BlocksCreate,
        Endpoint::BlocksIds,
        Endpoint::BlocksList,
        Endpoint::UsersLookup,
        Endpoint::VerifyCredentials,
        Endpoint::RateLimitStatus,
        Endpoint::V2Me,
        Endpoint::V2Unblock,
        Endpoint::V2Block,
        Endpoint::V2Blocking,
        Endpoint::V2UsersBy,
        Endpoint::V2Users,
        Endpoint::V2UserByUsername,
        Endpoint::Unknown,
    ];

    /// A short stable name, used in the request log and the statistics.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::BlocksDestroy => "blocks/destroy",
            Endpoint::BlocksCreate => "blocks/create",
            Endpoint::BlocksIds => "blocks/ids",
            Endpoint::BlocksList => "blocks/list",
            Endpoint::UsersLookup => "users/lookup",
            Endpoint::VerifyCredentials => "account/verify_credentials",
            Endpoint::RateLimitStatus => "application/rate_limit_status",
            Endpoint::V2Me => "v2/users/me",
            Endpoint::V2Unblock => "v2/unblock",
            Endpoint::V2Block => "v2/block",
            Endpoint::V2Blocking => "v2/blocking",
            Endpoint::V2UsersBy => "v2/users/by",
            Endpoint::V2Users => "v2/users",
            Endpoint::V2UserByUsername => "v2/users/by/username",
            Endpoint::Unknown => "unknown",
        }
    }

    /// True for the v2 family, whose errors are problem JSON.
    pub fn is_v2(self) -> bool {
        matches!(
            self,
            Endpoint::V2Me
                | Endpoint::V2Unblock
                | Endpoint::V2Block
                | Endpoint::V2Blocking
                | Endpoint::V2UsersBy
                | Endpoint::V2Users
                | Endpoint::V2UserByUsername
        )
    }

    /// The endpoint a knob names by [`Endpoint::name`]; `None` for `unknown`, which no request
    /// reaches the knobs with, and for any other text.
    pub fn named(name: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|e| *e != Endpoint::Unknown && e.name() == name)
    }

    /// True for endpoints that change state (faults and `revoke_after` aim at these).
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Endpoint::BlocksDestroy
                | Endpoint::BlocksCreate
                | Endpoint::V2Unblock
                | Endpoint::V2Block
        )
    }

    /// True for endpoints that need a read-write token.
    pub fn needs_write(self) -> bool {
        self.is_mutating()
    }

    /// True for the v2 block endpoints, the ones the access tier gates.
    pub fn is_v2_block(self) -> bool {
        matches!(
            self,
            Endpoint::V2Unblock | Endpoint::V2Block | Endpoint::V2Blocking
        )
    }
}

crate::emulator::log::endpoint_kind!(Endpoint);

/// True for paths of the v2 family (`/2` and below), whose errors are all problem JSON, also
/// on routes the emulator does not know.
pub fn is_v2_path(path: &str) -> bool {
    path == "/2" || path.starts_with("/2/")
}

/// The endpoint and the path segments it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Path segments that are parameters (`{id}`, `{source}`, `{target}`), as written.
    pub path_params: Vec<String>,
}

/// Resolves a method and path. A known path with a method it does not take is `Unknown`, as
/// on the real API (a `GET` of `blocks/destroy.json` is 404 code 34).
pub fn resolve(method: &str, path: &str) -> Route {
    let plain = |endpoint| Route {
        endpoint,
        path_params: Vec::new(),
    };
    let endpoint = match (method, path) {
        ("POST", "/1.1/blocks/destroy.json") => Endpoint::BlocksDestroy,
        ("POST", "/1.1/blocks/create.json") => Endpoint::BlocksCreate,
        ("GET", "/1.1/blocks/ids.json") => Endpoint::BlocksIds,
        ("GET", "/1.1/blocks/list.json") => Endpoint::BlocksList,
        ("GET" | "POST", "/1.1/users/lookup.json") => Endpoint::UsersLookup,
        ("GET", "/1.1/account/verify_credentials.json") => Endpoint::VerifyCredentials,
        ("GET", "/1.1/application/rate_limit_status.json") => Endpoint::RateLimitStatus,
        ("GET", "/2/users/me") => Endpoint::V2Me,
        ("GET", "/2/users/by") => Endpoint::V2UsersBy,
        ("GET", "/2/users") => Endpoint::V2Users,
        _ => {
            return resolve_user_by_username(method, path)
                .or_else(|| resolve_v2_blocking(method, path))
                .unwrap_or_else(|| plain(Endpoint::Unknown));
        }
    };
    plain(endpoint)
}

/// `GET /2/users/by/username/{username}`: one non-empty segment after the prefix.
fn resolve_user_by_username(method: &str, path: &str) -> Option<Route> {
    let username = path.strip_prefix("/2/users/by/username/")?;
    if method != "GET" || username.is_empty() || username.contains('/') {
        return None;
    }
    Some(Route {
        endpoint: Endpoint::V2UserByUsername,
        path_params: vec![username.to_owned()],
    })
}

fn resolve_v2_blocking(method: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/2/users/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let endpoint = match (method, parts.as_slice()) {
        ("DELETE", [_, "blocking", _]) => Endpoint::V2Unblock,
        ("POST", [_, "blocking"]) => Endpoint::V2Block,
        ("GET", [_, "blocking"]) => Endpoint::V2Blocking,
        _ => return None,
    };
    let path_params = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| (*s).to_owned())
        .collect::<Vec<_>>();
    if path_params.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(Route {
        endpoint,
        path_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::log::EndpointKind;

    #[test]
    fn methods_matter() {
        assert_eq!(
            resolve("POST", "/1.1/blocks/destroy.json").endpoint,
            Endpoint::BlocksDestroy
        );
        assert_eq!(
            resolve("GET", "/1.1/blocks/destroy.json").endpoint,
            Endpoint::Unknown
        );
        assert_eq!(
            resolve("POST", "/1.1/users/lookup.json").endpoint,
            Endpoint::UsersLookup
        );
        assert_eq!(resolve("GET", "/1.1/nope.json").endpoint, Endpoint::Unknown);
    }

    #[test]
    fn list_and_single_user_lookup_resolve() {
        assert_eq!(
            resolve("GET", "/1.1/blocks/list.json").endpoint,
            Endpoint::BlocksList
        );
        assert_eq!(
            resolve("POST", "/1.1/blocks/list.json").endpoint,
            Endpoint::Unknown
        );
        let r = resolve("GET", "/2/users/by/username/TwitterDev");
        assert_eq!(r.endpoint, Endpoint::V2UserByUsername);
        assert_eq!(r.path_params, ["TwitterDev"]);
        for (method, path) in [
            ("POST", "/2/users/by/username/a"),
            ("GET", "/2/users/by/username/"),
            ("GET", "/2/users/by/username/a/b"),
        ] {
            assert_eq!(resolve(method, path).endpoint, Endpoint::Unknown, "{path}");
        }
        assert_eq!(resolve("GET", "/2/users/by").endpoint, Endpoint::V2UsersBy);
    }

    #[test]
    fn knobs_name_endpoints_as_the_statistics_do() {
        for e in Endpoint::ALL {
            let expected = (e != Endpoint::Unknown).then_some(e);
            assert_eq!(Endpoint::named(e.name()), expected, "{e:?}");
        }
        assert_eq!(Endpoint::named("blocks_ids"), None);
    }

    #[test]
    fn v2_blocking_paths_carry_their_ids() {
        let r = resolve("DELETE", "/2/users/12/blocking/34");
        assert_eq!(r.endpoint, Endpoint::V2Unblock);
        assert_eq!(r.path_params, ["12", "34"]);
        let r = resolve("GET", "/2/users/12/blocking");
        assert_eq!(r.endpoint, Endpoint::V2Blocking);
        assert_eq!(r.path_params, ["12"]);
        assert_eq!(
            resolve("POST", "/2/users/12/blocking").endpoint,
            Endpoint::V2Block
        );
        assert_eq!(
            resolve("PUT", "/2/users/12/blocking").endpoint,
            Endpoint::Unknown
        );
        assert_eq!(
            resolve("DELETE", "/2/users//blocking/3").endpoint,
            Endpoint::Unknown
        );
        assert_eq!(
            Endpoint::ALL
                .iter()
                .enumerate()
                .filter(|(i, e)| e.index() != *i)
                .count(),
            0
        );
    }
}

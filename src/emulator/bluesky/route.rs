//! Which XRPC method a request names, and how the PDS treats it before any handler runs.
//!
//! One enum names every method the emulator serves, so rate limiters, statistics and the
//! request log key on the same thing. The PDS sorts requests three ways before answering, and
//! so does the emulator: its own methods (checked for the HTTP method first), methods it
//! proxies to the AppView (`app.bsky.*` and any NSID it does not know), and paths that are
//! not XRPC at all.

use serde::{Deserialize, Serialize};

use crate::emulator::log::EndpointKind;

/// An emulated XRPC method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST com.atproto.server.createSession`
    CreateSession,
    /// `POST com.atproto.server.refreshSession`
    RefreshSession,
    /// `GET com.atproto.server.getSession`
    GetSession,
    /// `POST com.atproto.server.deleteSession`
    DeleteSession,
    /// `GET com.atproto.server.describeServer`
    DescribeServer,
    /// `GET com.atproto.repo.listRecords`
    ListRecords,
    /// `GET com.atproto.repo.getRecord`
    GetRecord,
    /// `POST com.atproto.repo.deleteRecord`
    DeleteRecord,
    /// `POST com.atproto.repo.createRecord`
    CreateRecord,
    /// `POST com.atproto.repo.applyWrites`
    ApplyWrites,
    /// `GET com.atproto.identity.resolveHandle`
    ResolveHandle,
    /// `GET app.bsky.actor.getProfiles` (AppView)
    GetProfiles,
    /// `GET app.bsky.actor.getProfile` (AppView)
    GetProfile,
    /// `GET app.bsky.graph.getBlocks` (AppView)
    GetBlocks,
    /// `GET /xrpc/_health`
    Health,
    /// Any other path: an unknown NSID goes to the AppView; a non-XRPC path is 404.
    Unknown,
}

impl Endpoint {
    /// Every endpoint, in a fixed order (indexes of per-endpoint arrays).
    pub const ALL: [Endpoint; 16] = [
        Endpoint::CreateSession,
        Endpoint::RefreshSession,
        Endpoint::GetSession,
        Endpoint::DeleteSession,
        Endpoint::DescribeServer,
        Endpoint::ListRecords,
        Endpoint::GetRecord,
        Endpoint::DeleteRecord,
        Endpoint::CreateRecord,
        Endpoint::ApplyWrites,
        Endpoint::ResolveHandle,
        Endpoint::GetProfiles,
        Endpoint::GetProfile,
        Endpoint::GetBlocks,
        Endpoint::Health,
        Endpoint::Unknown,
    ];

    /// The NSID, or `_health` / `unknown`: the name in the request log and the statistics.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::CreateSession => "com.atproto.server.createSession",
            Endpoint::RefreshSession => "com.atproto.server.refreshSession",
            Endpoint::GetSession => "com.atproto.server.getSession",
            Endpoint::DeleteSession => "com.atproto.server.deleteSession",
            Endpoint::DescribeServer => "com.atproto.server.describeServer",
            Endpoint::ListRecords => "com.atproto.repo.listRecords",
            Endpoint::GetRecord => "com.atproto.repo.getRecord",
            Endpoint::DeleteRecord => "com.atproto.repo.deleteRecord",
            Endpoint::CreateRecord => "com.atproto.repo.createRecord",
            Endpoint::ApplyWrites => "com.atproto.repo.applyWrites",
            Endpoint::ResolveHandle => "com.atproto.identity.resolveHandle",
            Endpoint::GetProfiles => "app.bsky.actor.getProfiles",
            Endpoint::GetProfile => "app.bsky.actor.getProfile",
            Endpoint::GetBlocks => "app.bsky.graph.getBlocks",
            Endpoint::Health => "_health",
            Endpoint::Unknown => "unknown",
        }
    }

    /// The HTTP method of the PDS's own methods (queries GET, procedures POST); `None` for
    /// proxied and unknown ones, which the PDS does not check.
    pub fn http_method(self) -> Option<&'static str> {
        match self {
            Endpoint::CreateSession
            | Endpoint::RefreshSession
            | Endpoint::DeleteSession
            | Endpoint::DeleteRecord
            | Endpoint::CreateRecord
            | Endpoint::ApplyWrites => Some("POST"),
            Endpoint::GetSession
            | Endpoint::DescribeServer
            | Endpoint::ListRecords
            | Endpoint::GetRecord
            | Endpoint::ResolveHandle
            | Endpoint::Health => Some("GET"),
            Endpoint::GetProfiles | Endpoint::GetProfile | Endpoint::GetBlocks => None,
            Endpoint::Unknown => None,
        }
    }

    /// The repo writes: they cost points, the faults strike them, and the entryway may refuse
    /// them.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Endpoint::DeleteRecord | Endpoint::CreateRecord | Endpoint::ApplyWrites
        )
    }

    /// Methods the PDS hands to the AppView (its catch-all: the per-IP limiter first, then
    /// the service, then authentication).
    pub fn is_proxied(self) -> bool {
        matches!(
            self,
            Endpoint::GetProfiles | Endpoint::GetProfile | Endpoint::GetBlocks | Endpoint::Unknown
        )
    }
}

crate::emulator::log::endpoint_kind!(Endpoint);

/// A request line, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The NSID as the path names it (empty for a non-XRPC path).
    pub nsid: String,
    /// The path is under `/xrpc/`.
    pub xrpc: bool,
    /// The PDS's own method called with the wrong HTTP method: the one it expects.
    pub expected_method: Option<&'static str>,
}

/// Sorts a method and path.
pub fn resolve(method: &str, path: &str) -> Route {
    let Some(nsid) = path.strip_prefix("/xrpc/") else {
        return Route {
            endpoint: Endpoint::Unknown,
            nsid: String::new(),
            xrpc: false,
            expected_method: None,
        };
    };
    let endpoint = Endpoint::from_name(nsid).unwrap_or(Endpoint::Unknown);
    let expected_method = endpoint
        .http_method()
        .filter(|expected| *expected != method && !(method == "HEAD" && *expected == "GET"));
    Route {
        endpoint,
        nsid: nsid.to_owned(),
        xrpc: true,
        expected_method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::log::EndpointKind;

    #[test]
    fn paths_are_sorted_as_the_pds_sorts_them() {
        let r = resolve("POST", "/xrpc/com.atproto.repo.applyWrites");
        assert_eq!(r.endpoint, Endpoint::ApplyWrites);
        assert_eq!(r.expected_method, None);
        let r = resolve("GET", "/xrpc/com.atproto.repo.deleteRecord");
        assert_eq!(
            (r.endpoint, r.expected_method),
            (Endpoint::DeleteRecord, Some("POST"))
        );
        let r = resolve("POST", "/xrpc/app.bsky.actor.getProfiles");
        assert_eq!(
            (r.endpoint, r.expected_method),
            (Endpoint::GetProfiles, None)
        );
        let r = resolve("GET", "/xrpc/com.example.nothing");
        assert_eq!(
            (r.endpoint, r.nsid.as_str(), r.xrpc),
            (Endpoint::Unknown, "com.example.nothing", true)
        );
        let r = resolve("GET", "/foo");
        assert_eq!((r.endpoint, r.xrpc), (Endpoint::Unknown, false));
        assert!(Endpoint::ApplyWrites.is_write() && !Endpoint::ListRecords.is_write());
        assert_eq!(
            <Endpoint as EndpointKind>::from_name("com.atproto.repo.listRecords"),
            Some(Endpoint::ListRecords)
        );
        for (i, e) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
        }
    }
}

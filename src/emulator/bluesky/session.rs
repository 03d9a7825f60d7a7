//! Sessions: logging in with the account password or an app password, the bearer checks of
//! every authenticated call, refreshing (with the PDS's grace period) and logging out.
//!
//! Every answer here was compared with the reference PDS: which failures are 400 and which
//! 401, which names and messages they carry, and the order of the checks (the header's shape,
//! then the signature, then the token's kind, then its expiry), since a client decides
//! whether to refresh, log in again or give up from exactly these.

use serde::Serialize;
use serde_json::{Value, json};

use super::jwt::{self, Kind, Rejection};
use super::state::State;
use super::syntax::is_at_identifier;
use super::xrpc::{Incoming, Reply};

/// The account and credential an access token speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authed {
    /// The account's index.
    pub account: usize,
    /// The credential's index in the account.
    pub credential: usize,
}

/// Why a request's credentials were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header: 401 `AuthMissing`.
    Missing,
    /// A header that is not two words: 400 `InvalidToken` "Malformed authorization header".
    Malformed,
    /// A scheme other than Bearer, Basic or DPoP.
    Unsupported(String),
    /// Basic where a token is expected: 400 `InvalidToken` "Unexpected authorization type".
    UnexpectedType,
    /// DPoP without an OAuth session: 401 `invalid_token` "Malformed token".
    Dpop,
    /// The token failed verification.
    Token(Rejection),
    /// The credential was revoked and `sessions.revocation_ends_access` is on.
    Revoked,
}

impl AuthFailure {
    /// The PDS's answer.
    pub fn reply(&self) -> Reply {
        match self {
            AuthFailure::Missing => Reply::error(401, "AuthMissing", "Authentication Required"),
            AuthFailure::Malformed => {
                Reply::error(400, "InvalidToken", "Malformed authorization header")
            }
            AuthFailure::Unsupported(scheme) => Reply::error(
                400,
                "InvalidToken",
                &format!("Unsupported authorization type: {scheme}"),
            ),
            AuthFailure::UnexpectedType => {
                Reply::error(400, "InvalidToken", "Unexpected authorization type")
            }
            AuthFailure::Dpop => Reply::error(401, "invalid_token", "Malformed token"),
            AuthFailure::Token(Rejection::Unverified) => {
                Reply::error(400, "InvalidToken", "Token could not be verified")
            }
            AuthFailure::Token(Rejection::Expired) => {
                Reply::error(400, "ExpiredToken", "Token has expired")
            }
            AuthFailure::Token(Rejection::BadScope) => {
                Reply::error(400, "InvalidToken", "Bad token scope")
            }
            AuthFailure::Revoked => Reply::error(400, "ExpiredToken", "Token has been revoked"),
        }
    }
}

/// The scheme and token of an `Authorization` header, as the PDS splits it.
enum Scheme<'a> {
    Bearer(&'a str),
    Basic,
    Dpop,
}

fn scheme(authorization: Option<&str>) -> Result<Option<Scheme<'_>>, AuthFailure> {
    let Some(header) = authorization.filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let words: Vec<&str> = header.split(' ').collect();
    let [kind, token] = words.as_slice() else {
        return Err(AuthFailure::Malformed);
    };
    match kind.to_ascii_uppercase().as_str() {
        "BEARER" => Ok(Some(Scheme::Bearer(token))),
        "BASIC" => Ok(Some(Scheme::Basic)),
        "DPOP" => Ok(Some(Scheme::Dpop)),
        _ => Err(AuthFailure::Unsupported((*kind).to_owned())),
    }
}

/// Checks an access token (the `authorization` verifier of `getSession` and the repo writes),
/// and counts the request for its credential (`faults.revoke_after_requests`).
pub fn verify_access(
    state: &mut State,
    req: &Incoming,
    now_ms: i64,
) -> Result<Authed, AuthFailure> {
    let token = match scheme(req.authorization.as_deref())? {
        None => return Err(AuthFailure::Missing),
        Some(Scheme::Basic) => return Err(AuthFailure::UnexpectedType),
        Some(Scheme::Dpop) => return Err(AuthFailure::Dpop),
        Some(Scheme::Bearer(token)) => token,
    };
    let scopes = [
        jwt::SCOPE_ACCESS,
        "com.atproto.appPassPrivileged",
        jwt::SCOPE_APP_PASS,
    ];
    let now_secs = now_ms.div_euclid(1000);
    jwt::verify(token, Kind::Access, &state.key, now_secs, false, &scopes)
        .map_err(AuthFailure::Token)?;
    let &(account, credential) = state
        .access_tokens
        .get(jwt::signature(token))
        .ok_or(AuthFailure::Token(Rejection::Unverified))?;
    let faults = &state.config.faults;
    let ends_access = state.config.sessions.revocation_ends_access;
    let mut revoke = false;
    if let Some(c) = state
        .accounts
        .get_mut(account)
        .and_then(|a| a.credentials.get_mut(credential))
    {
        if faults.revoked_by_requests(c.requests) && !c.revoked {
            revoke = true;
        }
        c.requests = c.requests.saturating_add(1);
    }
    if revoke {
        state.revoke(account, credential);
    }
    let revoked = state
        .accounts
        .get(account)
        .and_then(|a| a.credentials.get(credential))
        .is_some_and(|c| c.revoked);
    if revoked && ends_access {
        return Err(AuthFailure::Revoked);
    }
    Ok(Authed {
        account,
        credential,
    })
}

/// Checks a refresh token (`refreshSession`; `deleteSession` with `allow_expired`) and returns
/// its `jti`.
pub fn verify_refresh(
    state: &State,
    req: &Incoming,
    now_ms: i64,
    allow_expired: bool,
) -> Result<String, AuthFailure> {
    let Some(Scheme::Bearer(token)) = scheme(req.authorization.as_deref())? else {
        return Err(AuthFailure::Missing);
    };
    let claims = jwt::verify(
        token,
        Kind::Refresh,
        &state.key,
        now_ms.div_euclid(1000),
        allow_expired,
        &[jwt::SCOPE_REFRESH],
    )
    .map_err(AuthFailure::Token)?;
    claims.jti.ok_or(AuthFailure::Token(Rejection::Unverified))
}

/// What `createSession` and `refreshSession` answer, in the PDS's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionOutput {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_doc: Option<Value>,
    handle: String,
    email: String,
    email_confirmed: bool,
    active: bool,
}

/// `getSession`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Whoami {
    did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_doc: Option<Value>,
    handle: String,
    email: String,
    email_confirmed: bool,
    active: bool,
}

/// `POST com.atproto.server.createSession`: the identifier is a handle, a DID or an email
/// (ignoring case, no leading `@`); the account password and unrevoked app passwords work.
pub fn create_session(state: &mut State, req: &Incoming) -> Reply {
    let text = |key: &str| {
        req.json()
            .and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (identifier, password) = (text("identifier").to_ascii_lowercase(), text("password"));
    let account = if identifier.contains('@') {
        state.account_by_email.get(&identifier).copied()
    } else if is_at_identifier(&identifier) {
        state.account_of(&identifier)
    } else {
        None
    };
    let credential = account.and_then(|a| {
        state.accounts[a]
            .credentials
            .iter()
            .position(|c| !c.revoked && c.password == password)
    });
    let (Some(account), Some(credential)) = (account, credential) else {
        state.log.counters().auth_failures += 1;
        return Reply::error(
            401,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    };
    let (access, refresh) = state.issue_session(account, credential);
    session_output(state, account, access, refresh)
}

/// `POST com.atproto.server.refreshSession`: a new pair for a refresh token; the used one
/// keeps giving the same successor during the grace period; a revoked or deleted one is 400
/// `ExpiredToken` "Token has been revoked".
pub fn refresh_session(state: &mut State, jti: &str) -> Reply {
    match state.rotate(jti) {
        Some((account, (access, refresh))) => session_output(state, account, access, refresh),
        None => Reply::error(400, "ExpiredToken", "Token has been revoked"),
    }
}

/// `GET com.atproto.server.getSession`.
pub fn get_session(state: &State, authed: Authed) -> Reply {
    let account = &state.accounts[authed.account];
    Reply::ok(&Whoami {
        did: account.did.clone(),
        did_doc: did_doc(state, &account.did),
        handle: handle_of(state, &account.did),
        email: account.email.clone(),
        email_confirmed: true,
        active: true,
    })
}

/// `POST com.atproto.server.deleteSession`: forgets the refresh token; 200 without a body.
pub fn delete_session(state: &mut State, jti: &str) -> Reply {
    state.delete_refresh_token(jti);
    Reply::empty()
}

/// `GET com.atproto.server.describeServer`.
pub fn describe_server(state: &State) -> Reply {
    Reply::ok(&json!({
        "did": state.service_did,
        "availableUserDomains": state.config.identity.service_domains,
        "inviteCodeRequired": false,
        "contact": {},
    }))
}

fn session_output(state: &State, account: usize, access: String, refresh: String) -> Reply {
    let a = &state.accounts[account];
    Reply::ok(&SessionOutput {
        access_jwt: access,
        refresh_jwt: refresh,
        did: a.did.clone(),
        did_doc: did_doc(state, &a.did),
        handle: handle_of(state, &a.did),
        email: a.email.clone(),
        email_confirmed: true,
        active: true,
    })
}

fn handle_of(state: &State, did: &str) -> String {
    state
        .users
        .get(did)
        .map(|u| u.handle.clone())
        .unwrap_or_else(|| "handle.invalid".to_owned())
}

/// The account's DID document as the PDS sends it with a session (when `hosts.did_doc`),
/// naming the PDS in its `#atproto_pds` service.
pub fn did_doc(state: &State, did: &str) -> Option<Value> {
    if !state.config.hosts.did_doc {
        return None;
    }
    let endpoint = state.pds_url()?;
    Some(json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/secp256k1-2019/v1"
        ],
        "id": did,
        "alsoKnownAs": [format!("at://{}", handle_of(state, did))],
        "verificationMethod": [{
            "id": "#atproto",
            "type": "EcdsaSecp256k1VerificationKey2019",
            "controller": did,
            "publicKeyMultibase": signing_key(did),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": endpoint,
        }],
    }))
}

/// A stable stand-in for an account's signing key, in the base58btc alphabet the real keys
/// use (no client of the emulator checks signatures).
fn signing_key(did: &str) -> String {
    const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let digest = super::digest::sha256(&[did.as_bytes()]);
    let tail: String = digest
        .iter()
        .chain(super::digest::sha256(&[&digest]).iter())
        .take(45)
        .map(|b| char::from(BASE58[usize::from(*b) % 58]))
        .collect();
    format!("zQ3sh{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_shapes_are_told_apart_as_the_pds_does() {
        assert!(matches!(scheme(None), Ok(None)));
        assert!(matches!(
            scheme(Some("Bearer")),
            Err(AuthFailure::Malformed)
        ));
        assert!(matches!(
            scheme(Some("Bearer a b")),
            Err(AuthFailure::Malformed)
        ));
        assert!(matches!(
            scheme(Some("Token abc")),
            Err(AuthFailure::Unsupported(s)) if s == "Token"
        ));
        assert!(matches!(
            scheme(Some("bearer abc")),
            Ok(Some(Scheme::Bearer("abc")))
        ));
        assert!(matches!(
            scheme(Some("Basic YTpi")),
            Ok(Some(Scheme::Basic))
        ));
        let body = |f: AuthFailure| String::from_utf8(f.reply().body).expect("utf-8");
        assert_eq!(
            body(AuthFailure::Missing),
            r#"{"error":"AuthMissing","message":"Authentication Required"}"#
        );
        assert_eq!(AuthFailure::Token(Rejection::Expired).reply().status, 400);
        assert!(signing_key("did:plc:a").starts_with("zQ3sh"));
        assert_eq!(signing_key("did:plc:a"), signing_key("did:plc:a"));
    }
}

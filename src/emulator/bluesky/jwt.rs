//! The session tokens: JWTs signed with HS256 under the emulator's secret, with the header,
//! claims and field order of the PDS's (`typ: at+jwt` for access, `refresh+jwt` for refresh).
//!
//! Clients only carry these tokens, but some read them (the expiry, the DID), and a client
//! that mixes the two kinds up must meet the PDS's answer: the signature is checked first,
//! then the type, then the expiry, so a refresh token sent as a bearer is "could not be
//! verified", never "expired".

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::digest::{hmac_sha256, same_bytes};

/// The scope of an access token made with the account password.
pub const SCOPE_ACCESS: &str = "com.atproto.access";
/// The scope of an access token made with an app password.
pub const SCOPE_APP_PASS: &str = "com.atproto.appPass";
/// The scope of a refresh token.
pub const SCOPE_REFRESH: &str = "com.atproto.refresh";

/// Which kind of token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An access token (`typ: at+jwt`), sent as the bearer of every authenticated call.
    Access,
    /// A refresh token (`typ: refresh+jwt`), sent only to refresh or delete the session.
    Refresh,
}

impl Kind {
    fn typ(self) -> &'static str {
        match self {
            Kind::Access => "at+jwt",
            Kind::Refresh => "refresh+jwt",
        }
    }
}

/// A token's claims, in the order the PDS writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `com.atproto.access`, `com.atproto.appPass` or `com.atproto.refresh`.
    pub scope: String,
    /// The service DID.
    pub aud: String,
    /// The account's DID.
    pub sub: String,
    /// The refresh token's identifier (refresh tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Expires at, epoch seconds.
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    typ: String,
    alg: String,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed, badly signed or of the other kind: 400 `InvalidToken` "Token could not be
    /// verified".
    Unverified,
    /// Signed and of the right kind but past its expiry: 400 `ExpiredToken` "Token has
    /// expired".
    Expired,
    /// Verified but its scope is not one this call takes: 400 `InvalidToken` "Bad token
    /// scope".
    BadScope,
}

/// Signs `claims` as a token of `kind` under `key`.
pub fn sign(kind: Kind, claims: &Claims, key: &[u8]) -> String {
    let header = Header {
        typ: kind.typ().to_owned(),
        alg: "HS256".to_owned(),
    };
    let body = format!("{}.{}", encode(&header), encode(claims));
    let signature = hmac_sha256(key, body.as_bytes());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Verifies a token of `kind` at `now_secs` (expiry ignored when `allow_expired`), then checks
/// that its scope is among `scopes`.
pub fn verify(
    token: &str,
    kind: Kind,
    key: &[u8],
    now_secs: i64,
    allow_expired: bool,
    scopes: &[&str],
) -> Result<Claims, Rejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Unverified);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Rejection::Unverified)
    };
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| Rejection::Unverified)?;
    if header.alg != "HS256" {
        return Err(Rejection::Unverified);
    }
    let signed = &token.as_bytes()[..token.len() - signature.len() - 1];
    let expected = hmac_sha256(key, signed);
    if !same_bytes(&decode(signature)?, &expected) || header.typ != kind.typ() {
        return Err(Rejection::Unverified);
    }
    let claims: Claims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| Rejection::Unverified)?;
    if !allow_expired && claims.exp <= now_secs {
        return Err(Rejection::Expired);
    }
    if !scopes.contains(&claims.scope.as_str()) {
        return Err(Rejection::BadScope);
    }
    Ok(claims)
}

/// Reads a token's claims without verifying it (tests look at sessions with it).
#[cfg(test)]
pub fn peek(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The signature part of a token, which identifies it without keeping the whole string.
pub fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or_default()
}

/// A value as unpadded base64url JSON.
fn encode<T: Serialize>(value: &T) -> String {
    // Plain structs of strings and integers always serialize.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"emulator-test-key";

    fn claims(scope: &str, jti: Option<&str>) -> Claims {
        Claims {
            scope: scope.into(),
            aud: "did:web:localhost".into(),
            sub: "did:plc:6hzredkpwp3xmyagk4c2pywu".into(),
            jti: jti.map(str::to_owned),
            iat: 1_796_303_884,
            exp: 1_796_311_084,
        }
    }

    #[test]
    fn tokens_have_the_pds_layout() {
        let token = sign(Kind::Access, &claims(SCOPE_ACCESS, None), KEY);
        // The header and claims the reference PDS issues, byte for byte.
        assert!(
            token.starts_with("eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6ImNvbS5hdHByb3RvLmFjY2VzcyIsImF1ZCI6ImRpZDp3ZWI6bG9jYWxob3N0Iiwic3ViIjoiZGlkOnBsYzo2aHpyZWRrcHdwM3hteWFnazRjMnB5d3UiLCJpYXQiOjE3OTYzMDM4ODQsImV4cCI6MTc5NjMxMTA4NH0."),
            "{token}"
        );
        assert_eq!(peek(&token), Some(claims(SCOPE_ACCESS, None)));
        let refresh = sign(Kind::Refresh, &claims(SCOPE_REFRESH, Some("id")), KEY);
        assert!(refresh.starts_with("eyJ0eXAiOiJyZWZyZXNoK2p3dCIsImFsZyI6IkhTMjU2In0."));
    }

    #[test]
    fn verification_checks_signature_then_kind_then_expiry_then_scope() {
        let scopes = [SCOPE_ACCESS, SCOPE_APP_PASS];
        let access = sign(Kind::Access, &claims(SCOPE_APP_PASS, None), KEY);
        let now = 1_796_303_900;
        assert!(verify(&access, Kind::Access, KEY, now, false, &scopes).is_ok());
        assert_eq!(
            verify(&access, Kind::Access, KEY, 1_796_311_084, false, &scopes),
            Err(Rejection::Expired)
        );
        // A bad signature on an expired token is unverified, not expired.
        assert_eq!(
            verify(
                &access,
                Kind::Access,
                b"other",
                1_796_311_084,
                false,
                &scopes
            ),
            Err(Rejection::Unverified)
        );
        let refresh = sign(Kind::Refresh, &claims(SCOPE_REFRESH, Some("j")), KEY);
        assert_eq!(
            verify(&refresh, Kind::Access, KEY, now, false, &scopes),
            Err(Rejection::Unverified)
        );
        assert_eq!(
            verify(&refresh, Kind::Refresh, KEY, now, false, &scopes),
            Err(Rejection::BadScope)
        );
        assert!(
            verify(
                &refresh,
                Kind::Refresh,
                KEY,
                i64::MAX,
                true,
                &[SCOPE_REFRESH]
            )
            .is_ok()
        );
        for garbage in ["garbage", "a.b.c", "", "a.b.c.d"] {
            assert_eq!(
                verify(garbage, Kind::Access, KEY, now, false, &scopes),
                Err(Rejection::Unverified)
            );
        }
        assert_eq!(signature(&access), access.rsplit('.').next().unwrap_or(""));
    }
}

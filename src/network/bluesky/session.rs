//! A session on a PDS: the app password it was opened with, its tokens, the account, and the
//! host its repo lives on.
//!
//! `createSession` answers with an access token (hours), a refresh token (months) and, from
//! bsky.social, the account's DID document, whose `#atproto_pds` service names the PDS that
//! holds the repo: every repo read and write goes there, not to the host the user logged in
//! at. Renewing the tokens is the client's (it sends the requests); this module keeps what a
//! session answer says and which generation of tokens is current, so that requests refused
//! together renew once. Tokens and the password are [`Secret`]s: they never print.

use serde::Deserialize;
use serde_json::Value;

use crate::secret::Secret;

/// What the user logs in with: a handle, DID or email, and an app password.
pub struct Login {
    /// `BLUESKY_IDENTIFIER`.
    pub identifier: Secret,
    /// `BLUESKY_APP_PASSWORD`.
    pub password: Secret,
}

/// A session's tokens and where its repo lives.
#[derive(Clone)]
pub struct Live {
    /// The bearer token of every authenticated request.
    pub access: Secret,
    /// The token that renews it.
    pub refresh: Secret,
    /// Counts renewals: a request refused for an expired token renews only when the tokens
    /// it was sent with are still the current ones.
    pub generation: u64,
    /// The account's DID.
    pub did: String,
    /// Where repo reads and writes go: the didDoc's PDS, else the login host.
    pub pds: reqwest::Url,
}

/// A `createSession` or `refreshSession` answer.
pub struct Answer {
    /// The access token.
    pub access: Secret,
    /// The refresh token.
    pub refresh: Secret,
    /// The account's DID.
    pub did: String,
    /// Its handle (`handle.invalid` when the PDS cannot verify it is left out).
    pub handle: Option<String>,
    /// The PDS the DID document names, when the answer held one.
    pub pds: Option<reqwest::Url>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    did_doc: Option<Value>,
}

/// Reads a session answer. `login` is the host logged in at: a PDS named over plain http is
/// accepted only when the login host is plain http too (a local server), so tokens sent over
/// TLS never go on in the clear.
pub fn parse(body: &[u8], login: &reqwest::Url) -> Result<Answer, String> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| {
        // serde's message may quote the input, which holds the tokens: keep only its category.
        format!(
            "the session answer is not what was expected ({:?})",
            e.classify()
        )
    })?;
    if raw.access_jwt.is_empty() || raw.refresh_jwt.is_empty() || !raw.did.starts_with("did:") {
        return Err("the session answer lacks its tokens or DID".to_owned());
    }
    let pds = match raw.did_doc.as_ref().and_then(pds_endpoint) {
        Some(endpoint) => Some(pds_url(endpoint, login)?),
        None => None,
    };
    Ok(Answer {
        access: Secret::new(raw.access_jwt),
        refresh: Secret::new(raw.refresh_jwt),
        did: raw.did,
        handle: raw.handle.filter(|h| h != "handle.invalid"),
        pds,
    })
}

/// The `serviceEndpoint` of the DID document's `#atproto_pds` service.
pub fn pds_endpoint(did_doc: &Value) -> Option<&str> {
    did_doc
        .get("service")?
        .as_array()?
        .iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.ends_with("#atproto_pds"))
        })?
        .get("serviceEndpoint")?
        .as_str()
}

/// The PDS's URL from its endpoint, checked.
pub fn pds_url(endpoint: &str, login: &reqwest::Url) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("the session names a PDS that is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if login.scheme() == "http" => {}
        _ => {
            return Err(format!(
                "the session names a PDS at `{}`, which is not an https URL",
                crate::display::shorten(endpoint, 80)
            ));
        }
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err("the session names a PDS without a plain host".to_owned());
    }
    Ok(url)
}

/// The URL of an XRPC method under `base` (which may carry a path prefix).
pub fn xrpc_url(base: &reqwest::Url, nsid: &str) -> reqwest::Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/xrpc/{nsid}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(base: &str) -> reqwest::Url {
        reqwest::Url::parse(base).unwrap()
    }

    #[test]
    fn the_pds_is_taken_from_the_did_document() {
        let body = br##"{"accessJwt":"a.b.c","refreshJwt":"d.e.f","did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","handle":"alice.test",
            "didDoc":{"id":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","service":[{"id":"#bsky_notif","serviceEndpoint":"https://elsewhere"},
            {"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"http://localhost:2583"}]}}"##;
        let answer = parse(body, &login("http://127.0.0.1:9")).unwrap();
        assert_eq!(answer.pds.unwrap().as_str(), "http://localhost:2583/");
        assert_eq!(answer.handle.as_deref(), Some("alice.test"));
        assert_eq!(answer.access.expose(), "a.b.c");
        // Without a didDoc, no PDS of its own: the login host serves the repo.
        let plain = br#"{"accessJwt":"a","refreshJwt":"b","did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","handle":"handle.invalid"}"#;
        let answer = parse(plain, &login("https://bsky.social")).unwrap();
        assert!(answer.pds.is_none());
        assert_eq!(answer.handle, None, "an unverified handle is not a name");
        // A PDS over plain http after a login over TLS is refused.
        assert!(parse(body, &login("https://bsky.social")).is_err());
    }

    #[test]
    fn a_bad_answer_never_quotes_its_tokens() {
        let err = parse(
            br#"{"accessJwt":"secret-visible-nowhere","refreshJwt":5}"#,
            &login("http://x"),
        )
        .err()
        .unwrap();
        assert!(!err.contains("visible-nowhere"), "{err}");
        assert!(parse(b"{}", &login("http://x")).is_err());
    }

    #[test]
    fn xrpc_urls_keep_a_prefix() {
        assert_eq!(
            xrpc_url(
                &login("http://localhost:2583"),
                "com.atproto.repo.listRecords"
            )
            .as_str(),
            "http://localhost:2583/xrpc/com.atproto.repo.listRecords"
        );
        assert_eq!(
            xrpc_url(&login("https://pds.example/base/"), "a.b.c").as_str(),
            "https://pds.example/base/xrpc/a.b.c"
        );
    }
}

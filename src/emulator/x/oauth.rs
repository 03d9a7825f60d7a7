//! An independent OAuth 1.0a (HMAC-SHA1) verifier, written from RFC 5849 and the X docs.
//!
//! It deliberately shares no code with the client's signer: the emulator is the check that the
//! client signs what the server will recompute, so both sides must be derived from the
//! specification separately. The small signer here exists for the emulator's own tests and
//! shares only the base-string code with the verifier.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha1::Sha1;

use crate::emulator::seed::Redacted;

/// RFC 3986 unreserved characters stay; everything else is `%XX` with uppercase hex.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes per RFC 3986 as OAuth requires (a space is `%20`, never `+`).
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Why a request's OAuth data was refused. Each maps to one documented reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header, not `OAuth`, unparsable, or a required field missing: 400/215.
    BadAuthData,
    /// Unknown consumer key, wrong signature, unsupported method, duplicate parameter or a
    /// replayed nonce: 401/32.
    CouldNotAuthenticate,
    /// Unknown, revoked or foreign access token: 401/89.
    InvalidToken,
    /// `oauth_timestamp` outside the skew window: 401/135.
    TimestampOutOfBounds,
}

impl AuthFailure {
    /// The v1.1 HTTP status, error code and message.
    pub fn v1_reply(self) -> (u16, u32, &'static str) {
        match self {
            AuthFailure::BadAuthData => (400, 215, "Bad Authentication data."),
            AuthFailure::CouldNotAuthenticate => (401, 32, "Could not authenticate you."),
            AuthFailure::InvalidToken => (401, 89, "Invalid or expired token."),
            AuthFailure::TimestampOutOfBounds => (401, 135, "Timestamp out of bounds."),
        }
    }
}

/// The parsed `Authorization: OAuth ...` header. `Debug` shows only the timestamp and the
/// nonce: the consumer key and the token are credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthHeader {
    /// `oauth_consumer_key`.
    pub consumer_key: String,
    /// `oauth_token`.
    pub token: String,
    /// `oauth_signature`, decoded from base64.
    pub signature: Vec<u8>,
    /// `oauth_timestamp` in seconds.
    pub timestamp: i64,
    /// `oauth_nonce`.
    pub nonce: String,
    /// Every header parameter that is signed (all but `oauth_signature` and `realm`).
    pub signed: Vec<(String, String)>,
}

impl std::fmt::Debug for OAuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthHeader")
            .field("consumer_key", &Redacted)
            .field("token", &Redacted)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

/// Parses the header. Structural problems are 400/215; a bad signature encoding, an unsupported
/// signature method or version, and a duplicate key are 401/32.
pub fn parse_header(value: Option<&str>) -> Result<OAuthHeader, AuthFailure> {
    let value = value.ok_or(AuthFailure::BadAuthData)?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(AuthFailure::BadAuthData)?;
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return Err(AuthFailure::BadAuthData);
    }
    let pairs = parse_pairs(rest).ok_or(AuthFailure::BadAuthData)?;
    let mut signed = Vec::with_capacity(pairs.len());
    let mut signature = None;
    for (k, v) in pairs {
        if signed.iter().any(|(seen, _): &(String, String)| *seen == k)
            || (k == "oauth_signature" && signature.is_some())
        {
            return Err(AuthFailure::CouldNotAuthenticate);
        }
        match k.as_str() {
            "oauth_signature" => signature = Some(v),
            "realm" => {}
            _ => signed.push((k, v)),
        }
    }
    let get = |key: &str| {
        signed
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let consumer_key = get("oauth_consumer_key").ok_or(AuthFailure::BadAuthData)?;
    let token = get("oauth_token").ok_or(AuthFailure::BadAuthData)?;
    let nonce = get("oauth_nonce").ok_or(AuthFailure::BadAuthData)?;
    let timestamp = get("oauth_timestamp")
        .ok_or(AuthFailure::BadAuthData)?
        .parse::<i64>()
        .map_err(|_| AuthFailure::BadAuthData)?;
    let method = get("oauth_signature_method").ok_or(AuthFailure::BadAuthData)?;
    if method != "HMAC-SHA1" {
        return Err(AuthFailure::CouldNotAuthenticate);
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err(AuthFailure::CouldNotAuthenticate);
    }
    let signature = signature.ok_or(AuthFailure::BadAuthData)?;
    let signature = BASE64
        .decode(signature.as_bytes())
        .map_err(|_| AuthFailure::CouldNotAuthenticate)?;
    Ok(OAuthHeader {
        consumer_key: consumer_key.to_owned(),
        token: token.to_owned(),
        signature,
        timestamp,
        nonce: nonce.to_owned(),
        signed,
    })
}

/// Splits `k="v", k2="v2"` into decoded pairs; `None` on anything else.
fn parse_pairs(mut s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches([' ', '\t', ',']);
        if s.is_empty() {
            break;
        }
        let (key, rest) = s.split_once('=')?;
        let key = key.trim();
        let rest = rest.trim_start().strip_prefix('"')?;
        let (value, rest) = rest.split_once('"')?;
        if key.is_empty() {
            return None;
        }
        let rest = rest.trim_start();
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
        out.push((decode(key)?, decode(value)?));
        s = rest;
    }
    (!out.is_empty()).then_some(out)
}

fn decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The signature base string: `METHOD&enc(base_url)&enc(sorted encoded params)`.
pub(crate) fn base_string(method: &str, base_url: &str, params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let mut joined = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            joined.push('&');
        }
        joined.push_str(k);
        joined.push('=');
        joined.push_str(v);
    }
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(base_url),
        encode(&joined)
    )
}

fn mac(consumer_secret: &str, token_secret: &str, base: &str) -> Hmac<Sha1> {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(base.as_bytes());
    mac
}

/// The base64 HMAC-SHA1 signature of a base string.
#[cfg(test)]
pub(crate) fn signature(consumer_secret: &str, token_secret: &str, base: &str) -> String {
    BASE64.encode(
        mac(consumer_secret, token_secret, base)
            .finalize()
            .into_bytes(),
    )
}

/// Checks a request's signature in constant time. `request_params` are the query and form-body
/// parameters; duplicate keys anywhere are refused, as X does.
pub fn verify(
    method: &str,
    base_url: &str,
    request_params: &[(String, String)],
    header: &OAuthHeader,
    consumer_secret: &str,
    token_secret: &str,
) -> Result<(), AuthFailure> {
    let all: Vec<(&str, &str)> = request_params
        .iter()
        .chain(header.signed.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut keys: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(AuthFailure::CouldNotAuthenticate);
    }
    let base = base_string(method, base_url, &all);
    mac(consumer_secret, token_secret, &base)
        .verify_slice(&header.signature)
        .map_err(|_| AuthFailure::CouldNotAuthenticate)
}

/// The credentials a test signer needs.
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token: String,
    pub token_secret: String,
}

/// Builds an `Authorization` header value (test signer; nonce and timestamp passed in).
#[cfg(test)]
pub(crate) fn authorization(
    method: &str,
    base_url: &str,
    params: &[(&str, &str)],
    creds: &Credentials,
    nonce: &str,
    timestamp: i64,
) -> String {
    let timestamp = timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", creds.consumer_key.as_str()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", creds.token.as_str()),
        ("oauth_version", "1.0"),
    ];
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.extend_from_slice(&oauth);
    let base = base_string(method, base_url, &all);
    let sig = signature(&creds.consumer_secret, &creds.token_secret, &base);
    let mut header = String::from("OAuth ");
    for (k, v) in oauth
        .iter()
        .copied()
        .chain([("oauth_signature", sig.as_str())])
    {
        if header.len() > 6 {
            header.push_str(", ");
        }
        header.push_str(&format!("{k}=\"{}\"", encode(v)));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs_creds() -> Credentials {
        Credentials {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog".into(),
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw".into(),
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into(),
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE".into(),
        }
    }
    const NONCE: &str = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
    const TS: i64 = 1318622958;
    const STATUS: &str = "Hello Ladies + Gentlemen, a signed OAuth request!";

    /// Builds a header with the docs' credentials and checks the verifier accepts it and that
    /// the signature is the expected vector.
    fn check_vector(method: &str, url: &str, params: &[(&str, &str)], expected: &str) {
        let creds = docs_creds();
        let header = authorization(method, url, params, &creds, NONCE, TS);
        let parsed = parse_header(Some(&header)).expect("own header parses");
        assert_eq!(BASE64.encode(&parsed.signature), expected, "{url}");
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(
            verify(
                method,
                url,
                &owned,
                &parsed,
                &creds.consumer_secret,
                &creds.token_secret
            ),
            Ok(())
        );
        // One changed byte anywhere must fail.
        let mut tampered = owned.clone();
        if let Some(first) = tampered.first_mut() {
            first.1.push('x');
        }
        assert_eq!(
            verify(
                method,
                url,
                &tampered,
                &parsed,
                &creds.consumer_secret,
                &creds.token_secret
            ),
            Err(AuthFailure::CouldNotAuthenticate)
        );
    }

    #[test]
    fn documented_vector_api_x_com() {
        check_vector(
            "POST",
            "https://api.x.com/1.1/statuses/update.json",
            &[("include_entities", "true"), ("status", STATUS)],
            "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=",
        );
    }

    #[test]
    fn documented_vector_api_twitter_com() {
        check_vector(
            "POST",
            "https://api.twitter.com/1.1/statuses/update.json",
            &[("include_entities", "true"), ("status", STATUS)],
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk=",
        );
    }

    #[test]
    fn blocks_ids_vector_keeps_the_port() {
        check_vector(
            "GET",
            "http://127.0.0.1:8080/1.1/blocks/ids.json",
            &[("stringify_ids", "true"), ("cursor", "-1")],
            "HbVRLRBtflCVAuviiNIDykGDV5o=",
        );
    }

    #[test]
    fn blocks_destroy_vector() {
        check_vector(
            "POST",
            "https://api.twitter.com/1.1/blocks/destroy.json",
            &[("user_id", "1072250532645998596"), ("skip_status", "1")],
            "HX3HwszmlsUR9KcPmzYPJh3XfDQ=",
        );
    }

    #[test]
    fn documented_parameter_string_and_header_encoding() {
        let creds = docs_creds();
        let base = base_string(
            "post",
            "https://api.x.com/1.1/statuses/update.json",
            &[
                ("include_entities", "true"),
                ("status", STATUS),
                ("oauth_consumer_key", &creds.consumer_key),
                ("oauth_nonce", NONCE),
                ("oauth_signature_method", "HMAC-SHA1"),
                ("oauth_timestamp", "1318622958"),
                ("oauth_token", &creds.token),
                ("oauth_version", "1.0"),
            ],
        );
        assert!(base.starts_with("POST&https%3A%2F%2Fapi.x.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key"));
        assert!(base.ends_with("status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"));
        assert_eq!(base.matches('&').count(), 2);
        assert_eq!(encode("☃"), "%E2%98%83");
        let header = authorization(
            "POST",
            "https://api.x.com/1.1/statuses/update.json",
            &[("include_entities", "true"), ("status", STATUS)],
            &creds,
            NONCE,
            TS,
        );
        assert!(
            header.contains("oauth_signature=\"Ls93hJiZbQ3akF3HF3x1Bz8%2FzU4%3D\""),
            "{header}"
        );
    }

    #[test]
    fn header_parsing_sorts_failures() {
        assert_eq!(parse_header(None), Err(AuthFailure::BadAuthData));
        assert_eq!(
            parse_header(Some("Bearer abc")),
            Err(AuthFailure::BadAuthData)
        );
        assert_eq!(
            parse_header(Some("OAuth garbage")),
            Err(AuthFailure::BadAuthData)
        );
        let ok = authorization("GET", "http://h/x", &[], &docs_creds(), NONCE, TS);
        // Missing token.
        let no_token = ok.replace("oauth_token=", "oauth_tokn=");
        assert_eq!(parse_header(Some(&no_token)), Err(AuthFailure::BadAuthData));
        // Duplicate key.
        let dup = format!("{ok}, oauth_nonce=\"again\"");
        assert_eq!(
            parse_header(Some(&dup)),
            Err(AuthFailure::CouldNotAuthenticate)
        );
        // Other signature method.
        let plain = ok.replace("HMAC-SHA1", "PLAINTEXT");
        assert_eq!(
            parse_header(Some(&plain)),
            Err(AuthFailure::CouldNotAuthenticate)
        );
        // Realm is ignored; values are percent-decoded.
        let with_realm = format!("OAuth realm=\"x\", {}", &ok[6..]);
        let parsed = parse_header(Some(&with_realm)).expect("parses");
        assert!(parsed.signed.iter().all(|(k, _)| k != "realm"));
        assert_eq!(parsed.token, docs_creds().token);
        assert_eq!(parsed.timestamp, TS);
    }

    #[test]
    fn parsed_header_debug_shows_no_credential() {
        let creds = docs_creds();
        let header = authorization("GET", "http://h/x", &[], &creds, NONCE, TS);
        let text = format!("{:?}", parse_header(Some(&header)).expect("parses"));
        assert!(!text.contains(&creds.consumer_key), "{text}");
        assert!(!text.contains(&creds.token), "{text}");
        assert!(text.contains(NONCE), "{text}");
    }

    #[test]
    fn duplicate_request_parameters_are_refused() {
        let creds = docs_creds();
        let url = "http://127.0.0.1:1/1.1/blocks/destroy.json";
        let header = authorization(
            "POST",
            url,
            &[("user_id", "1"), ("user_id", "2")],
            &creds,
            NONCE,
            TS,
        );
        let parsed = parse_header(Some(&header)).expect("parses");
        let params = vec![
            ("user_id".to_owned(), "1".to_owned()),
            ("user_id".to_owned(), "2".to_owned()),
        ];
        assert_eq!(
            verify(
                "POST",
                url,
                &params,
                &parsed,
                &creds.consumer_secret,
                &creds.token_secret
            ),
            Err(AuthFailure::CouldNotAuthenticate)
        );
    }
}

//! OAuth 1.0a user-context signing (HMAC-SHA1), through oauth1-request.
//!
//! Pure: the nonce and the timestamp are passed in, so the documented signing examples reproduce
//! byte for byte and a client whose clock is off can sign with the server's time instead.
//! Credentials live in [`Secret`]s, whose `Debug` never shows the value.

use std::num::NonZeroU64;

use oauth1_request as oauth;
use rand::Rng;

pub use crate::secret::Secret;

/// The four values of OAuth 1.0a user context. The consumer key is an identifier, but it is
/// treated as secret too: together with a leaked secret it is what an attacker needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `TWITTER_CONSUMER_KEY`.
    pub consumer_key: Secret,
    /// `TWITTER_CONSUMER_SECRET`.
    pub consumer_secret: Secret,
    /// `TWITTER_ACCESS_TOKEN`.
    pub access_token: Secret,
    /// `TWITTER_ACCESS_TOKEN_SECRET`.
    pub access_token_secret: Secret,
}

impl Credentials {
    /// The four values in the order of [`super::CREDENTIALS`]: consumer key, consumer secret,
    /// access token, access token secret.
    pub fn from_secrets(secrets: Vec<Secret>) -> Credentials {
        let mut values = secrets.into_iter();
        let mut next = || values.next().unwrap_or_else(|| Secret::new(""));
        Credentials {
            consumer_key: next(),
            consumer_secret: next(),
            access_token: next(),
            access_token_secret: next(),
        }
    }

    /// Every credential value, for scrubbing them out of text that may echo them.
    pub fn values(&self) -> [&str; 4] {
        [
            self.consumer_key.expose(),
            self.consumer_secret.expose(),
            self.access_token.expose(),
            self.access_token_secret.expose(),
        ]
    }
}

/// Computes the `Authorization` header value for one request.
///
/// `url` is the base URL (scheme, lowercase host, non-default port, path; no query) and `params`
/// every query and form-body parameter of the request, unencoded.
pub fn authorization(
    method: &str,
    url: &str,
    params: &[(&str, &str)],
    credentials: &Credentials,
    nonce: &str,
    timestamp: u64,
) -> String {
    let token = oauth::Token::from_parts(
        credentials.consumer_key.expose(),
        credentials.consumer_secret.expose(),
        credentials.access_token.expose(),
        credentials.access_token_secret.expose(),
    );
    let mut builder = oauth::Builder::with_token(token, oauth::HmacSha1::new());
    builder
        .nonce(nonce)
        .timestamp(NonZeroU64::new(timestamp))
        .version(true);
    let list = oauth::ParameterList::new(params.to_vec());
    builder.authorize(method, url, &list)
}

/// Encodes parameters as an `application/x-www-form-urlencoded` body (or query string) with the
/// same percent-encoding the signature used.
pub fn encode_params(params: &[(&str, &str)]) -> String {
    oauth::to_form(&oauth::ParameterList::new(params.to_vec()))
}

/// A fresh nonce: 32 random bytes, base64, non-word characters stripped (as the docs describe).
pub fn nonce() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs_credentials() -> Credentials {
        Credentials {
            consumer_key: Secret::new("xvz1evFS4wEEPTGEFPHBog"),
            consumer_secret: Secret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
            access_token: Secret::new("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            access_token_secret: Secret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        }
    }

    const NONCE: &str = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
    const TIMESTAMP: u64 = 1318622958;

    fn signature_of(header: &str) -> String {
        let start = header
            .find("oauth_signature=\"")
            .expect("signature present")
            + 17;
        let rest = &header[start..];
        let encoded = &rest[..rest.find('"').expect("closing quote")];
        percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .expect("utf-8")
            .into_owned()
    }

    fn docs_example(url: &str) -> String {
        authorization(
            "POST",
            url,
            &[
                ("include_entities", "true"),
                (
                    "status",
                    "Hello Ladies + Gentlemen, a signed OAuth request!",
                ),
            ],
            &docs_credentials(),
            NONCE,
            TIMESTAMP,
        )
    }

    #[test]
    fn reproduces_the_current_docs_example() {
        let header = docs_example("https://api.x.com/1.1/statuses/update.json");
        assert_eq!(signature_of(&header), "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=");
        assert!(
            header.contains("oauth_signature=\"Ls93hJiZbQ3akF3HF3x1Bz8%2FzU4%3D\""),
            "{header}"
        );
        for part in [
            "oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\"",
            "oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\"",
            "oauth_signature_method=\"HMAC-SHA1\"",
            "oauth_timestamp=\"1318622958\"",
            "oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\"",
            "oauth_version=\"1.0\"",
        ] {
            assert!(header.contains(part), "{part} missing from {header}");
        }
    }

    #[test]
    fn reproduces_the_earlier_docs_example() {
        let header = docs_example("https://api.twitter.com/1.1/statuses/update.json");
        assert_eq!(signature_of(&header), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
    }

    #[test]
    fn reproduces_the_blocks_vectors() {
        let ids = authorization(
            "GET",
            "http://127.0.0.1:8080/1.1/blocks/ids.json",
            &[("stringify_ids", "true"), ("cursor", "-1")],
            &docs_credentials(),
            NONCE,
            TIMESTAMP,
        );
        assert_eq!(signature_of(&ids), "HbVRLRBtflCVAuviiNIDykGDV5o=");
        let destroy = authorization(
            "POST",
            "https://api.twitter.com/1.1/blocks/destroy.json",
            &[("user_id", "1072250532645998596"), ("skip_status", "1")],
            &docs_credentials(),
            NONCE,
            TIMESTAMP,
        );
        assert_eq!(signature_of(&destroy), "HX3HwszmlsUR9KcPmzYPJh3XfDQ=");
    }

    /// An independent HMAC-SHA1 over the RFC 5849 base string, to check secrets that need encoding.
    fn reference_signature(
        method: &str,
        url: &str,
        params: &[(&str, &str)],
        c: &Credentials,
        nonce: &str,
        ts: u64,
    ) -> String {
        use base64::Engine;
        use hmac::Mac;
        const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, SET).to_string();
        let ts = ts.to_string();
        let mut all: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (enc(k), enc(v)))
            .chain(
                [
                    ("oauth_consumer_key", c.consumer_key.expose()),
                    ("oauth_nonce", nonce),
                    ("oauth_signature_method", "HMAC-SHA1"),
                    ("oauth_timestamp", ts.as_str()),
                    ("oauth_token", c.access_token.expose()),
                    ("oauth_version", "1.0"),
                ]
                .iter()
                .map(|(k, v)| (enc(k), enc(v))),
            )
            .collect();
        all.sort();
        let param_string = all
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let base = format!("{method}&{}&{}", enc(url), enc(&param_string));
        let key = format!(
            "{}&{}",
            enc(c.consumer_secret.expose()),
            enc(c.access_token_secret.expose())
        );
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("any key");
        mac.update(base.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn secrets_with_reserved_characters_sign_correctly() {
        let c = Credentials {
            consumer_key: Secret::new("key+with/odd=chars"),
            consumer_secret: Secret::new("se+cr/et=&%~value"),
            access_token: Secret::new("42-tok&en%~"),
            access_token_secret: Secret::new("to+ken/sec=ret&%~"),
        };
        let params = [("screen_name", "a_b"), ("skip_status", "1"), ("q", "x y+z")];
        let header = authorization(
            "POST",
            "http://127.0.0.1:9/1.1/blocks/destroy.json",
            &params,
            &c,
            "abc",
            1_700_000_000,
        );
        let expected = reference_signature(
            "POST",
            "http://127.0.0.1:9/1.1/blocks/destroy.json",
            &params,
            &c,
            "abc",
            1_700_000_000,
        );
        assert_eq!(signature_of(&header), expected);
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let c = docs_credentials();
        let shown = format!("{c:?} {:?}", c.consumer_secret);
        for value in c.values() {
            assert!(!shown.contains(value), "{shown}");
        }
    }

    #[test]
    fn body_encoding_matches_the_signature_encoding() {
        assert_eq!(
            encode_params(&[("user_id", "12"), ("skip_status", "1")]),
            "skip_status=1&user_id=12"
        );
        assert_eq!(encode_params(&[("q", "a b+c")]), "q=a%20b%2Bc");
    }

    #[test]
    fn nonces_are_word_characters_and_unique() {
        let a = nonce();
        let b = nonce();
        assert!(a.len() >= 32 && a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}

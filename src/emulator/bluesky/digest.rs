//! SHA-256, HMAC-SHA-256 and content identifiers, for the emulator's session tokens (HS256,
//! as the PDS signs them) and the `cid` every record and commit carries.
//!
//! SHA-256 comes from the TLS stack the project already links (its ring provider's hash of
//! the `TLS13_AES_128_GCM_SHA256` suite), so no digest crate is added for an emulator; HMAC is
//! the ten lines of RFC 2104 over it, checked against RFC 4231's test vectors.

use rustls::SupportedCipherSuite;
use rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;

/// The block size of SHA-256, which HMAC pads its key to.
const BLOCK: usize = 64;

/// SHA-256 of the concatenated parts.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let SupportedCipherSuite::Tls13(suite) = TLS13_AES_128_GCM_SHA256 else {
        unreachable!("TLS13_AES_128_GCM_SHA256 is a TLS 1.3 suite")
    };
    let mut context = suite.common.hash_provider.start();
    for part in parts {
        context.update(part);
    }
    let output = context.finish();
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&output.as_ref()[..32]);
    digest
}

/// HMAC-SHA-256 of `message` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&sha256(&[key]));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key = block.map(|b| b ^ 0x36);
    let outer_key = block.map(|b| b ^ 0x5c);
    let inner = sha256(&[&inner_key, message]);
    sha256(&[&outer_key, &inner])
}

/// Compares two byte strings in time independent of where they differ.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A CIDv1 (dag-cbor, sha2-256) of `bytes`, in multibase base32: the `bafyrei…` shape of the
/// PDS's record and commit CIDs. The emulator hashes JSON rather than DAG-CBOR, so the value
/// is stable (equal records share a CID, as on the PDS) but not the one the PDS would compute.
pub fn cid(bytes: &[u8]) -> String {
    let digest = sha256(&[bytes]);
    let mut raw = Vec::with_capacity(36);
    raw.extend_from_slice(&[0x01, 0x71, 0x12, 0x20]);
    raw.extend_from_slice(&digest);
    format!("b{}", base32_lower(&raw))
}

/// RFC 4648 base32, lowercase, unpadded.
fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_and_hmac_match_the_published_vectors() {
        assert_eq!(
            hex(&sha256(&[b"a", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231, test cases 1 and 6 (a key longer than the block).
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert!(same_bytes(b"abc", b"abc") && !same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
    }

    #[test]
    fn cids_have_the_pds_shape_and_follow_the_content() {
        let a = cid(br#"{"subject":"did:plc:a"}"#);
        assert!(a.starts_with("bafyrei") && a.len() == 59, "{a}");
        assert_eq!(a, cid(br#"{"subject":"did:plc:a"}"#));
        assert_ne!(a, cid(br#"{"subject":"did:plc:b"}"#));
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }
}

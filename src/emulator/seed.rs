//! What every network's seed and state share: the marker that stands for a credential in
//! `Debug` output, the name of a user the emulator makes up for a test, and the hash that
//! derives varied-looking fields (counts, dates) no seed gives.

use std::fmt;

/// Stands in for a credential in `Debug` output. The emulator keeps its own marker rather than
/// the client's `Secret` type, so that it shares no code with the client it checks.
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The name (an X screen name, a Mastodon username) of a user the emulator makes up for an ID
/// no seed names, so that a test can block thousands of made-up IDs without listing users:
/// `u_` and the ID in base 36 (at most 15 characters, as X's screen names allow).
pub fn made_up_name(id: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = id;
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    format!("u_{}", String::from_utf8(out).unwrap_or_default())
}

/// splitmix64: a cheap, well-spread hash so derived fields look varied.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_names_are_base_36_and_short() {
        assert_eq!(made_up_name(0), "u_0");
        assert_eq!(made_up_name(36 * 36 + 35), "u_10z");
        assert!(made_up_name(u64::MAX).len() <= 15);
        assert_eq!(format!("{:?}", Redacted), "[redacted]");
    }
}

//! Opaque paging cursors that stay valid while the blocked set changes.
//!
//! A cursor names the last ID served (keyset paging), so removing blocks between pages never
//! skips or repeats anyone. The ID is scrambled by a multiplication modulo 2^63 so cursors look
//! like the real API's large opaque numbers and are never 0 or -1, which mean "end" and "start".

const MASK: u64 = (1 << 63) - 1;
/// An odd multiplier: invertible modulo 2^63.
const MUL: u64 = 0x2545_f491_4f6c_dd1d;
/// Its inverse modulo 2^64 (and so modulo 2^63), by Newton's iteration.
const INV: u64 = inverse(MUL);

const fn inverse(a: u64) -> u64 {
    let mut x = a; // correct to 3 bits for odd a; each step doubles the correct bits
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// The cursor of the page after `last_id` (1 ≤ id < 2^63): positive, never 0.
pub fn encode(last_id: u64) -> i64 {
    (last_id.wrapping_mul(MUL) & MASK) as i64
}

/// The last ID served, from a positive cursor. Garbage decodes to some ID, which just moves
/// the page start, much as an invalid cursor does on the real API.
pub fn decode(cursor: i64) -> u64 {
    (cursor as u64).wrapping_mul(INV) & MASK
}

/// The v2 `pagination_token` form: 16 hex digits.
pub fn token(last_id: u64) -> String {
    format!("{:016x}", encode(last_id))
}

/// Reads a v2 `pagination_token`.
pub fn from_token(token: &str) -> Option<u64> {
    if token.len() != 16 {
        return None;
    }
    let c = i64::from_str_radix(token, 16).ok().filter(|c| *c > 0)?;
    Some(decode(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_stay_positive() {
        assert_eq!(MUL.wrapping_mul(INV), 1);
        for id in [1, 12, 783_214, 1_072_250_532_645_998_596, MASK] {
            let c = encode(id);
            assert!(c > 0, "{id} → {c}");
            assert_eq!(decode(c), id);
            assert_eq!(from_token(&token(id)), Some(id));
        }
        assert_ne!(encode(12), 12, "cursors do not expose the ID");
        assert_eq!(from_token("xyz"), None);
    }
}

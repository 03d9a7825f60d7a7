//! The emulator's clock: real time plus an offset a test or a person sets.
//!
//! Offsetting the server's clock is how tests make a client's clock look wrong (a signed
//! timestamp out of bounds, a `Date` header far from the client's time) without touching the
//! client's. Each network reads it with its own configured offset, on every request, so a
//! change applies at once.

use std::time::{SystemTime, UNIX_EPOCH};

/// Real time plus a signed offset, in epoch milliseconds; saturates rather than overflow.
pub fn clock_ms(offset_secs: i64) -> i64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    real.saturating_add(offset_secs.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_moves_the_clock_and_saturates() {
        let now = clock_ms(0);
        let later = clock_ms(3600);
        assert!((later - now - 3_600_000).abs() < 60_000, "{now} {later}");
        assert_eq!(clock_ms(i64::MAX), i64::MAX);
    }
}

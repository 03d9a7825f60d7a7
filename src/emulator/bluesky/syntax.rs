//! The AT Protocol's identifier syntaxes as the emulator checks them: DIDs, handles, NSIDs,
//! record keys, AT URIs, and the timestamp identifiers (TIDs) that key records.
//!
//! The server refuses malformed identifiers before it looks anything up, with messages naming
//! what it expected, so the emulator checks them itself from the specification rather than
//! borrowing the client's parser: a client that sends a handle with a leading `@` must meet
//! the same 400 it would meet on the real PDS.

/// The alphabet of TIDs ("base32-sortable"): its order is the characters' byte order, so TIDs
/// compare as strings the way their values compare as numbers.
const SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// Whether `did` is a DID (`did:METHOD:ID`, lowercase method, ID of allowed characters and not
/// ending with `:`), at most 2 KiB.
pub fn is_did(did: &str) -> bool {
    let Some(rest) = did.strip_prefix("did:") else {
        return false;
    };
    let Some((method, id)) = rest.split_once(':') else {
        return false;
    };
    did.len() <= 2048
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && !id.ends_with(':')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:%-".contains(&b))
}

/// Whether `handle` is a handle: at least two dot-separated labels of letters, digits and
/// inner hyphens, each 1–63 long, a last label not starting with a digit, 253 characters at
/// most. No leading `@`.
pub fn is_handle(handle: &str) -> bool {
    let labels: Vec<&str> = handle.split('.').collect();
    handle.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .and_then(|tld| tld.bytes().next())
            .is_some_and(|b| b.is_ascii_alphabetic())
}

/// Whether `value` is an AT identifier: a handle or a DID.
pub fn is_at_identifier(value: &str) -> bool {
    is_did(value) || is_handle(value)
}

/// Whether `nsid` is a namespaced identifier (`app.bsky.graph.block`): three or more
/// segments, a domain authority and a name of letters and digits.
pub fn is_nsid(nsid: &str) -> bool {
    let segments: Vec<&str> = nsid.split('.').collect();
    let Some((name, authority)) = segments.split_last() else {
        return false;
    };
    nsid.len() <= 317
        && segments.len() >= 3
        && authority.iter().all(|s| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        })
        && authority
            .first()
            .and_then(|s| s.bytes().next())
            .is_some_and(|b| b.is_ascii_alphabetic())
        && !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

/// Whether `rkey` is a record key: 1–512 characters of letters, digits and `._:~-`, and
/// neither `.` nor `..`.
pub fn is_record_key(rkey: &str) -> bool {
    (1..=512).contains(&rkey.len())
        && rkey != "."
        && rkey != ".."
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b))
}

/// Whether `rkey` is a TID: 13 base32-sortable characters whose first leaves the top bit 0.
pub fn is_tid(rkey: &str) -> bool {
    rkey.len() == 13
        && rkey.bytes().all(|b| SORTABLE.contains(&b))
        && rkey
            .bytes()
            .next()
            .is_some_and(|b| b"234567abcdefghij".contains(&b))
}

/// The parts of an AT URI naming a record: `at://AUTHORITY/COLLECTION/RKEY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordUri<'a> {
    /// The repo, a DID or a handle.
    pub authority: &'a str,
    /// The collection NSID.
    pub collection: &'a str,
    /// The record key.
    pub rkey: &'a str,
}

/// Splits an AT URI naming a record, checking each part.
pub fn record_uri(uri: &str) -> Option<RecordUri<'_>> {
    let rest = uri.strip_prefix("at://")?;
    let mut parts = rest.splitn(3, '/');
    let (authority, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (is_at_identifier(authority) && is_nsid(collection) && is_record_key(rkey)).then_some(
        RecordUri {
            authority,
            collection,
            rkey,
        },
    )
}

/// Whether `value` looks like an RFC 3339 datetime with a timezone (the lexicon's `datetime`
/// format): `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z` or an offset.
pub fn is_datetime(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &value[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Encodes a 64-bit value as 13 base32-sortable characters (the TID encoding).
pub fn tid_string(value: u64) -> String {
    let value = value & !(1 << 63);
    (0..13)
        .rev()
        .map(|i| {
            let shift = i * 5;
            let digit = (value >> shift) & 31;
            char::from(SORTABLE[usize::try_from(digit).unwrap_or(0)])
        })
        .collect()
}

/// Decodes a TID into its value; `None` when it is not one.
pub fn tid_value(tid: &str) -> Option<u64> {
    if !is_tid(tid) {
        return None;
    }
    tid.bytes().try_fold(0u64, |acc, b| {
        let digit = SORTABLE.iter().position(|&c| c == b)?;
        Some((acc << 5) | u64::try_from(digit).ok()?)
    })
}

/// Issues increasing TIDs from the emulator clock: microseconds since the epoch in the top 53
/// bits, a clock identifier in the low 10, and never one equal to or below the last issued.
/// Record keys and repo revisions both come from here, so a later write always sorts after an
/// earlier one, as on the PDS.
#[derive(Clone, Debug)]
pub struct TidClock {
    /// The last value issued.
    last: u64,
    /// The low 10 bits of every value.
    clock_id: u64,
}

impl TidClock {
    /// A clock with the given identifier (only its low 10 bits count).
    pub fn new(clock_id: u64) -> TidClock {
        TidClock {
            last: 0,
            clock_id: clock_id & 0x3ff,
        }
    }

    /// The next TID at `now_ms` (emulator clock): later than every one issued before, even if
    /// the clock went back.
    pub fn next(&mut self, now_ms: i64) -> String {
        let micros = u64::try_from(now_ms.max(0))
            .unwrap_or(0)
            .saturating_mul(1000)
            .min((1 << 53) - 1);
        let mut value = (micros << 10) | self.clock_id;
        if value <= self.last {
            value = self.last + (1 << 10);
        }
        self.last = value;
        tid_string(value)
    }

    /// Makes sure later TIDs sort after `tid` (one the seed already holds).
    pub fn observe(&mut self, tid: &str) {
        if let Some(value) = tid_value(tid) {
            self.last = self.last.max(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_specification() {
        for ok in ["did:plc:z72i7hdynmk6r22z27h6tvur", "did:web:example.com"] {
            assert!(is_did(ok), "{ok}");
        }
        for bad in [
            "did:plc:",
            "did:PLC:abc",
            "plc:abc",
            "did:plc:abc:",
            "did:plc:a b",
        ] {
            assert!(!is_did(bad), "{bad}");
        }
        for ok in ["alice.test", "demo.bsky.test", "a-b.example.com", "x.co"] {
            assert!(is_handle(ok), "{ok}");
        }
        for bad in [
            "@alice.test",
            "alice",
            "not a handle",
            "-a.test",
            "a.1com",
            "a..b",
        ] {
            assert!(!is_handle(bad), "{bad}");
        }
        assert!(is_nsid("app.bsky.graph.block"));
        assert!(!is_nsid("nope") && !is_nsid("not-nsid") && !is_nsid("a.b.c-d"));
        assert!(is_record_key("3kabcdefghijk") && is_record_key("self"));
        assert!(!is_record_key("a/b") && !is_record_key("..") && !is_record_key(""));
        let uri = record_uri("at://did:plc:abc/app.bsky.graph.list/3kabcdefghijk").expect("uri");
        assert_eq!(
            (uri.authority, uri.collection, uri.rkey),
            ("did:plc:abc", "app.bsky.graph.list", "3kabcdefghijk")
        );
        assert!(record_uri("at://did:plc:abc/app.bsky.graph.list").is_none());
        assert!(is_datetime("2024-05-01T12:00:00Z"));
        assert!(is_datetime("2024-05-01T12:00:00.123+02:00"));
        assert!(!is_datetime("2024-05-01 12:00:00") && !is_datetime("yesterday"));
    }

    #[test]
    fn tids_sort_as_their_values_and_never_repeat() {
        // A TID the reference PDS issued (2026-12-03T13:18:36Z).
        let value = tid_value("3n3reghivzs2p").expect("a TID");
        assert_eq!(tid_string(value), "3n3reghivzs2p");
        let secs = (value >> 10) / 1_000_000;
        assert_eq!(secs, 1_796_303_916);
        let mut clock = TidClock::new(5);
        let a = clock.next(1_796_303_916_000);
        let b = clock.next(1_796_303_916_000);
        let c = clock.next(1_000);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!([&a, &b, &c].iter().all(|t| is_tid(t)));
        clock.observe("7zzzzzzzzzzzz");
        assert!(clock.next(0).as_str() > "7zzzzzzzzzzzz");
        assert!(!is_tid("3n3reghivzs2") && !is_tid("zzzzzzzzzzzzz"));
    }
}

//! Fuzzes the input readers: any bytes, any format the detector picks. They must never panic,
//! and every unusable line, broken input and notice they report must name a line inside the
//! input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = bulk_unblock::input::parse("fuzz", data);
    let lines = data.split(|b| *b == b'\n').count() as u64;
    for invalid in parsed.invalid.iter().chain(&parsed.broken) {
        assert!(invalid.line >= 1 && invalid.line <= lines.max(1), "{invalid}");
    }
    for notice in &parsed.notices {
        assert!(notice.line >= 1 && notice.line <= lines.max(1), "{notice}");
    }
    assert!(parsed.broken.len() <= 1, "one broken input at most");
});

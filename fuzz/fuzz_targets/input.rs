//! Fuzzes the input readers: any bytes, any format the detector picks. They must never panic,
//! and every unusable line they report must name a line inside the input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = bulk_unblock::input::parse("fuzz", data);
    let lines = data.split(|b| *b == b'\n').count() as u64;
    for invalid in &parsed.invalid {
        assert!(invalid.line >= 1 && invalid.line <= lines.max(1), "{invalid}");
    }
});

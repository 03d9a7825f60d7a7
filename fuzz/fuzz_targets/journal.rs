//! Fuzzes journal replay and the report built on it: any bytes must replay without panicking,
//! and the summary must count no more targets than records.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let replay = bulk_unblock::journal::replay(data);
    let _ = replay.header.as_ref();
    let summary = bulk_unblock::commands::report::summarize(data);
    assert!(summary.targets <= summary.records);
    let _ = bulk_unblock::commands::undo::unblocked(data);
});

//! Fuzzes the input readers: any bytes, any format the detector picks, read by every network's
//! rules (X's; Mastodon's accounts and, with `--domains`, its domains). They must never panic,
//! every unusable line, broken input and notice they report must name a line inside the input,
//! and every target they accept must read back from its journal form as itself.

#![no_main]

use bulk_unblock::input::{self, Identities};
use bulk_unblock::network::{NetworkId, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks whose rules read the rest.
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let (network, domains) = match pick % 3 {
        0 => (NetworkId::X, false),
        1 => (NetworkId::Mastodon, false),
        _ => (NetworkId::Mastodon, true),
    };
    let scope = Scope {
        domains,
        ..Scope::default()
    };
    let ids: &dyn Identities = network.inputs(scope).expect("a scope the network has");
    let parsed = input::parse("fuzz", data, ids);
    let lines = data.split(|b| *b == b'\n').count() as u64;
    for invalid in parsed.invalid.iter().chain(&parsed.broken) {
        assert!(invalid.line >= 1 && invalid.line <= lines.max(1), "{invalid}");
    }
    for notice in &parsed.notices {
        assert!(notice.line >= 1 && notice.line <= lines.max(1), "{notice}");
    }
    assert!(parsed.broken.len() <= 1, "one broken input at most");
    let journal = network.identities();
    for target in &parsed.targets {
        let back = journal.read_journal(target.kind(), target.text());
        assert_eq!(back.as_ref(), Ok(target), "{target:?}");
    }
});

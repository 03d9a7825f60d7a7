//! Fuzzes the input readers: any bytes, any format the detector picks, read by every network's
//! rules in every scope it has (X's IDs, names and `block.js`; Mastodon's accounts and, with
//! `--domains`, its domains; Bluesky's DIDs, handles, profile and list links and at-URIs). They
//! must never panic; every unusable line, broken input and notice they report must name a line
//! inside the input; and every target they accept must read back as itself from the journal's
//! form and from a retry list's line.

#![no_main]

use bulk_unblock::network::{NetworkId, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u64;
    let scopes = [
        Scope::default(),
        Scope {
            domains: true,
            ..Scope::default()
        },
    ];
    for network in <NetworkId as clap::ValueEnum>::value_variants() {
        let journal = network.identities();
        for ids in scopes.iter().filter_map(|&scope| network.inputs(scope).ok()) {
            let parsed = bulk_unblock::input::parse("fuzz", data, ids);
            for invalid in parsed.invalid.iter().chain(&parsed.broken) {
                assert!(invalid.line >= 1 && invalid.line <= lines.max(1), "{invalid}");
            }
            for notice in &parsed.notices {
                assert!(notice.line >= 1 && notice.line <= lines.max(1), "{notice}");
            }
            assert!(parsed.broken.len() <= 1, "one broken input at most");
            for target in &parsed.targets {
                assert_eq!(
                    journal.read_journal(target.kind(), target.text()).as_ref(),
                    Ok(target),
                    "{network}: the journal's form reads back"
                );
                assert_eq!(
                    ids.parse_token(&ids.list_token(target)).as_ref(),
                    Ok(target),
                    "{network}: a retry list's line reads back"
                );
            }
        }
    }
});

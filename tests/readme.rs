//! The README stays true: every command it shows is run, here or by CI.
//!
//! `bulk-unblock` commands in its console blocks run against the emulator (with `--api-base`
//! pointing there and a fast `--rate` added, since the documented default takes 18 s a request;
//! those with `--network mastodon` against the Mastodon emulator, its instance and token in the
//! environment; those with `--network bluesky` against the Bluesky emulator, with its sample
//! account);
//! `export` lines must name the credential variables; `cargo` commands must appear in `.ci/run`.

mod common;

use std::path::Path;

use bulk_unblock::network::NetworkId;

use common::bluesky::Bsky;
use common::mastodon::Instance;
use common::{Harness, show};

fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut in_console = false;
    let mut commands = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_console = line.trim() == "```console";
            continue;
        }
        if in_console && let Some(cmd) = line.strip_prefix("$ ") {
            commands.push(cmd.trim().to_owned());
        }
    }
    commands
}

#[test]
fn the_readme_shows_the_two_commands() {
    let commands = readme_commands();
    assert!(commands.contains(&"cargo run --release -- demo".to_owned()));
    assert!(commands.contains(&"cargo test".to_owned()));
}

#[test]
fn cargo_commands_in_the_readme_are_run_by_ci() {
    let ci = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run"))
        .expect(".ci/run");
    let ci_lines: Vec<&str> = ci.lines().map(str::trim).collect();
    for cmd in readme_commands().iter().filter(|c| c.starts_with("cargo ")) {
        assert!(
            ci_lines
                .iter()
                .any(|l| l == cmd || l.ends_with(&format!(" {cmd}"))),
            "`{cmd}` from the README is not run by .ci/run"
        );
    }
}

#[test]
fn tool_commands_in_the_readme_work_against_the_emulator() {
    let h = Harness::new();
    let b = Bsky::new();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    for dir in [h.dir.path(), b.dir.path()] {
        let copy = dir.join("sample-data");
        std::fs::create_dir(&copy).unwrap();
        for entry in std::fs::read_dir(&samples).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    let mastodon = Instance::new();
    let mut ran = 0;
    for cmd in readme_commands() {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words.first().copied() {
            Some("export") => {
                let name = words[1].split('=').next().unwrap();
                let known = <NetworkId as clap::ValueEnum>::value_variants()
                    .iter()
                    .flat_map(|n| {
                        n.credentials()
                            .vars
                            .iter()
                            .chain(n.credentials().base.iter())
                    })
                    .any(|v| v.env == name);
                assert!(known, "README exports `{name}`");
            }
            Some("bulk-unblock") if cmd.contains("--network mastodon") => {
                let mut command = mastodon.command();
                command.current_dir(h.dir.path()).args(&words[1..]);
                let sub = words.get(1).copied().unwrap_or_default();
                if matches!(sub, "run" | "export" | "undo") {
                    command.args(["--rate", "1000/s"]);
                }
                if sub == "run" {
                    command.args(["--list-rate", "1000/s"]);
                }
                let out = command.output().expect("binary runs");
                assert_eq!(out.status.code(), Some(0), "`{cmd}`\n{}", show(&out));
                ran += 1;
            }
            Some("bulk-unblock") => {
                let bluesky = words.windows(2).any(|w| w == ["--network", "bluesky"]);
                let (mut command, base) = if bluesky {
                    (b.command(), b.base_url())
                } else {
                    (h.command(), h.base_url())
                };
                command.args(&words[1..]);
                let sub = words.get(1).copied().unwrap_or_default();
                if matches!(sub, "run" | "export" | "undo") {
                    command.args(["--api-base", &base]);
                }
                if matches!(sub, "run" | "undo") {
                    command.args(["--rate", "1000/s"]);
                }
                let out = command.output().expect("binary runs");
                assert_eq!(out.status.code(), Some(0), "`{cmd}`\n{}", show(&out));
                ran += 1;
            }
            Some("cargo") => {}
            _ => panic!("README command `{cmd}` is not checked by any test"),
        }
    }
    assert!(ran >= 2, "the README's tool commands were found");
    // The documented real runs did unblock, and the documented undo blocked again.
    assert!(!h.requests_to("/1.1/blocks/destroy.json").is_empty());
    assert!(!h.requests_to("/1.1/blocks/create.json").is_empty());
    assert!(
        h.path("my-blocks.csv").exists(),
        "the documented export wrote its file"
    );
    assert!(
        h.path("retry.txt").exists(),
        "the documented report wrote the retry list"
    );
    // The Mastodon commands unblocked accounts and domains, blocked again, and exported.
    use bulk_unblock::emulator::mastodon::Endpoint;
    for endpoint in [Endpoint::Unblock, Endpoint::Block, Endpoint::DomainUnblock] {
        assert!(!mastodon.requests_to(endpoint).is_empty(), "{endpoint:?}");
    }
    assert!(h.path("mastodon-blocks.csv").exists());
    // The Bluesky section's runs deleted records and its undo created them again.
    assert!(
        !b.sent(bulk_unblock::emulator::bluesky::Endpoint::ApplyWrites)
            .is_empty()
    );
    assert!(
        b.sent(bulk_unblock::emulator::bluesky::Endpoint::ApplyWrites)
            .iter()
            .any(|r| r
                .params
                .get("writes")
                .is_some_and(|w| w.contains("#create")))
    );
    assert!(b.path("bsky-blocks.csv").exists());
    assert!(
        b.blocks().is_empty(),
        "the documented run --all unblocked everyone"
    );
}

//! Mastodon's input forms read through the core readers: lists of IDs, accts and profile
//! links, Mastodon's own `blocked_accounts.csv` and `blocked_domains.csv`, and CSV files with
//! their columns. The core readers are network-neutral; these tests pin what Mastodon's rules
//! make of every form, and that each accepted target survives the journal.

use super::identity::testing::{acct, domain, id};
use super::identity::{ACCOUNTS, DOMAINS, JOURNAL};
use crate::input::{self, Identities, Parsed, SEVERAL_FIELDS};
use crate::target::Target;

fn parse(bytes: &[u8]) -> Parsed {
    input::parse("in", bytes, &ACCOUNTS)
}

/// Parses and insists that every line was usable.
fn targets(text: &str) -> Vec<Target> {
    let parsed = parse(text.as_bytes());
    assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
    parsed.targets
}

fn invalid(ids: &dyn Identities, text: &str) -> Vec<String> {
    input::parse("in", text.as_bytes(), ids)
        .invalid
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_spelling_of_an_acct_is_one_lowercase_target() {
    assert_eq!(
        targets(
            "@Alice@Mastodon.Social\nalice@mastodon.social\n@alice\nAlice\n\
             https://mastodon.social/@Alice\nhttps://example.org/@alice@mastodon.social\n\
             http://mastodon.social/@alice/\nhttps://mastodon.social/users/alice\n\
             https://mastodon.social/@alice?ref=x#top\n@bob@fosstodon.org.\n"
        ),
        vec![
            acct("alice@mastodon.social"),
            acct("alice@mastodon.social"),
            acct("alice"),
            acct("alice"),
            acct("alice@mastodon.social"),
            acct("alice@mastodon.social"),
            acct("alice@mastodon.social"),
            acct("alice@mastodon.social"),
            acct("alice@mastodon.social"),
            acct("bob@fosstodon.org"),
        ]
    );
}

#[test]
fn bare_digits_are_account_ids_and_at_digits_a_username() {
    assert_eq!(
        targets("109276928409644247\n00042\n@123\n123@x.example\n"),
        vec![
            id(109_276_928_409_644_247),
            id(42),
            acct("123"),
            acct("123@x.example")
        ]
    );
}

#[test]
fn mastodons_own_export_reads_as_it_comes() {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample-data/blocked_accounts.csv"
    ))
    .unwrap();
    assert_eq!(input::detect(&text, &ACCOUNTS), input::Format::List);
    let parsed = parse(&text);
    assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
    let lines = text.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(parsed.targets.len(), lines);
    assert!(parsed.targets.iter().all(|t| t.is(&super::identity::ACCT)));
    assert!(
        parsed
            .targets
            .iter()
            .all(|t| t.text() == t.text().to_ascii_lowercase())
    );

    let domains = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample-data/blocked_domains.csv"
    ))
    .unwrap();
    let parsed = input::parse("in", &domains, &DOMAINS);
    assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
    assert_eq!(parsed.targets[0], domain("spam.example"));
    assert_eq!(parsed.targets.len(), 5);
}

#[test]
fn csv_columns_by_id_or_acct_prefer_the_id() {
    assert_eq!(
        targets("account_id,acct\n7,alice@a.example\n,@Bob@B.example\n"),
        vec![id(7), acct("bob@b.example")]
    );
    assert_eq!(
        targets("Account address,Show boosts\n@carol@c.example,true\ndave,false\n"),
        vec![acct("carol@c.example"), acct("dave")]
    );
    assert_eq!(targets("id\n12\n13\n"), vec![id(12), id(13)]);
    assert_eq!(
        targets("acct\nhttps://d.example/@erin\n"),
        vec![acct("erin@d.example")]
    );
    assert_eq!(
        invalid(&ACCOUNTS, "account_id,acct\nx1,\n,,\n,a@b@c\n"),
        vec![
            "in:2: column `account_id`: account ID `x1` is not a number",
            "in:4: column `acct`: `a@b@c` has more than one `@` (expected user@domain)",
        ]
    );
    assert_eq!(
        invalid(&ACCOUNTS, "account_id,acct,note\n,,hello\n"),
        vec!["in:2: row has neither an account ID nor an acct"]
    );
    assert_eq!(
        invalid(&ACCOUNTS, "domain\nSpam.Example\n"),
        vec![
            "in:2: `Spam.Example` is not a username of the instance (letters, digits and `_`): \
             write an account of another server as user@domain, and domains with --domains"
        ],
        "without --domains, `domain` is no header and a domain no account"
    );
    assert_eq!(
        input::parse("in", b"domain\nSpam.Example\n", &DOMAINS).targets,
        vec![domain("spam.example")]
    );
}

#[test]
fn unusable_lines_say_why() {
    assert_eq!(
        invalid(
            &ACCOUNTS,
            "0\n-5\n99999999999999999999\n@\nuser@\n@a@b@c\nbad name\n\
             .dot@x.example\nuser@bad_domain\nuser@café.example\n\
             https://mastodon.social/\nhttps://mastodon.social/about\n\
             https://mastodon.social/@alice/1234\nhttps://x/@\na,b\nspam.example\n"
        ),
        vec![
            "in:1: account ID must be greater than zero",
            "in:2: account ID `-5` is negative",
            "in:3: account ID `99999999999999999999` is too large (more than 63 bits)",
            "in:4: acct is empty",
            "in:5: acct `user@`: the domain is empty",
            "in:6: `@a@b@c` has more than one `@` (expected user@domain)",
            "in:7: username `bad name` may only contain letters, digits and `_`, with `.` or \
             `-` inside",
            "in:8: username `.dot` may only contain letters, digits and `_`, with `.` or `-` \
             inside",
            "in:9: acct `user@bad_domain`: `bad_domain` is not a domain name (letters, digits \
             and `-`, separated by dots)",
            "in:10: acct `user@café.example`: domain `café.example` is not ASCII; write it in \
             its xn-- form",
            "in:11: link `https://mastodon.social/` is not a profile link (expected \
             https://DOMAIN/@USER)",
            "in:12: link `https://mastodon.social/about` is not a profile link (expected \
             https://DOMAIN/@USER)",
            "in:13: link `https://mastodon.social/@alice/1234` is a post, not a profile \
             (expected https://DOMAIN/@USER)",
            "in:14: link `https://x/@` is not a profile link (expected https://DOMAIN/@USER)",
            &format!("in:15: {SEVERAL_FIELDS}"),
            "in:16: `spam.example` is not a username of the instance (letters, digits and `_`): \
             write an account of another server as user@domain, and domains with --domains",
        ]
    );
    assert_eq!(
        invalid(
            &DOMAINS,
            "alice@mastodon.social\nbad domain\nhttps://spam.example/page\n-x.example\n"
        ),
        vec![
            "in:1: `alice@mastodon.social` is an account, not a domain (--domains reads \
             domains, one a line)",
            "in:2: `bad domain` is not a domain name (letters, digits and `-`, separated by dots)",
            "in:3: `https://spam.example/page` is a link to a page, not a domain",
            "in:4: `-x.example` is not a domain name (letters, digits and `-`, separated by dots)",
        ]
    );
}

#[test]
fn domains_read_lowercase_also_from_links() {
    assert_eq!(
        input::parse(
            "in",
            b"Spam.Example\nhttps://Bots.Example/\nads.example.\nhate.example/\n",
            &DOMAINS
        )
        .targets,
        vec![
            domain("spam.example"),
            domain("bots.example"),
            domain("ads.example"),
            domain("hate.example")
        ]
    );
}

#[test]
fn retry_lists_read_back_as_the_same_targets() {
    for target in [id(5), acct("123"), acct("alice@a.example"), acct("bob")] {
        let token = JOURNAL.list_token(&target);
        assert_eq!(ACCOUNTS.parse_token(&token), Ok(target.clone()), "{token}");
    }
    let d = domain("spam.example");
    assert_eq!(DOMAINS.parse_token(&JOURNAL.list_token(&d)), Ok(d));
}

#[test]
fn the_journal_reads_every_kind_and_inputs_only_their_own() {
    let kinds = |ids: &dyn Identities| ids.kinds().iter().map(|k| k.name).collect::<Vec<_>>();
    assert_eq!(kinds(&JOURNAL), ["account_id", "acct", "domain"]);
    assert_eq!(kinds(&ACCOUNTS), ["account_id", "acct"]);
    assert_eq!(kinds(&DOMAINS), ["domain"]);
    assert_eq!(ACCOUNTS.export_columns(), ["account_id", "acct"]);
    assert_eq!(DOMAINS.export_columns()[0], "domain");
    assert_eq!(DOMAINS.account("123"), None, "domains name no account");
    assert_eq!(ACCOUNTS.account("0123"), Some(id(123)));
}

mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::executor::Finished;
    use crate::journal::{Entry, Header, Journal};
    use crate::network::UserRef;
    use crate::outcome::{Action, Outcome};

    /// What a generated line means.
    #[derive(Clone, Debug)]
    enum Model {
        Id(u64),
        /// A username and, for a remote account, its domain.
        Acct(String, Option<String>),
        Domain(String),
    }

    impl Model {
        fn target(&self) -> Target {
            match self {
                Model::Id(n) => id(*n),
                Model::Acct(user, None) => acct(&user.to_ascii_lowercase()),
                Model::Acct(user, Some(d)) => acct(&format!("{user}@{d}").to_ascii_lowercase()),
                Model::Domain(d) => domain(&d.to_ascii_lowercase()),
            }
        }
    }

    fn arb_domain() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z][a-z0-9]{0,5}){1,2}"
    }

    fn arb_account() -> impl Strategy<Value = Model> {
        prop_oneof![
            (1..=super::super::identity::MAX_ACCOUNT_ID).prop_map(Model::Id),
            (
                "[A-Za-z0-9_]{1,8}([.-][A-Za-z0-9_]{1,6})?",
                prop::option::of(arb_domain())
            )
                // Only another server's usernames take `.` and `-`.
                .prop_map(|(u, d)| match d {
                    None => Model::Acct(u.replace(['.', '-'], "_"), None),
                    d => Model::Acct(u, d),
                }),
        ]
    }

    /// Randomly changes the ASCII case of `s`.
    fn recase(s: &str, mask: u64) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    /// One way of writing `model` on a list line.
    fn render(model: &Model, style: u8, mask: u64) -> String {
        let scheme = ["https://", "http://", "HTTPS://"][(mask % 3) as usize];
        let tail = ["", "/", "?s=1", "#x"][(mask / 3 % 4) as usize];
        match model {
            Model::Id(n) => n.to_string(),
            Model::Acct(user, None) => {
                let digits = user.bytes().all(|b| b.is_ascii_digit());
                let column = input::detect(user.as_bytes(), &ACCOUNTS) == input::Format::Csv;
                match style % 2 {
                    0 if !digits && !column => user.clone(),
                    _ => format!("@{user}"),
                }
            }
            Model::Acct(user, Some(d)) => {
                let d = recase(d, mask >> 8);
                match style % 5 {
                    0 => format!("{user}@{d}"),
                    1 => format!("@{user}@{d}"),
                    2 => format!("{scheme}{d}/@{user}{tail}"),
                    3 => format!("{scheme}instance.example/@{user}@{d}{tail}"),
                    _ => format!("{scheme}{d}/users/{user}{tail}"),
                }
            }
            Model::Domain(d) => {
                let d = recase(d, mask);
                match style % 3 {
                    0 => d,
                    1 => format!("{d}."),
                    _ => format!("{scheme}{d}/"),
                }
            }
        }
    }

    fn line_count(bytes: &[u8]) -> u64 {
        bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_never_panics_and_lines_are_in_range(
            mode in 0..2usize,
            prefix in 0..3usize,
            body in "[a-zA-Z0-9@#,\"/:._ \r\n\t-]{0,300}",
        ) {
            let ids: &dyn Identities = [&ACCOUNTS, &DOMAINS][mode];
            let head = ["", "account_id,acct\n", "https://"];
            let bytes = format!("{}{body}", head[prefix]).into_bytes();
            let parsed = input::parse("p", &bytes, ids);
            let lines = line_count(&bytes);
            for bad in parsed.invalid.iter().chain(&parsed.broken) {
                prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
            }
            for notice in &parsed.notices {
                prop_assert!(notice.line >= 1 && notice.line <= lines, "{notice} of {lines}");
            }
            prop_assert!(parsed.broken.is_empty(), "no whole-file format of its own");
            // Whatever was accepted reads back from its journal form.
            for target in &parsed.targets {
                let kind = target.kind();
                prop_assert_eq!(JOURNAL.read_journal(kind, target.text()), Ok(target.clone()));
            }
        }

        #[test]
        fn a_generated_list_parses_back_to_its_targets(
            rows in proptest::collection::vec(
                (arb_account(), any::<u8>(), any::<u64>(), 0..5u8, 0..6u8),
                0..40,
            ),
            crlf in any::<bool>(),
            bom in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
            let mut bad_lines = Vec::new();
            for (model, style, mask, decoration, filler) in &rows {
                match filler % 3 {
                    1 => text.push_str(&format!("  {eol}")),
                    2 => text.push_str(&format!("# a comment, with commas{eol}")),
                    _ => {}
                }
                if filler / 3 == 1 {
                    bad_lines.push(line_count(text.as_bytes()));
                    text.push_str(&format!("not an acct{eol}"));
                }
                let token = render(model, *style, *mask);
                let line = match decoration {
                    1 => format!("  {token}\t"),
                    2 => format!("{token} # why"),
                    3 => format!("\"{token}\","),
                    _ => token,
                };
                text.push_str(&line);
                text.push_str(eol);
            }
            let parsed = input::parse("p", text.as_bytes(), &ACCOUNTS);
            let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
            prop_assert_eq!(reported, bad_lines, "{:?}\n{}", parsed.invalid, text);
            let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
            prop_assert_eq!(parsed.targets, expected, "{}", text);
        }

        #[test]
        fn a_generated_domain_list_parses_back_to_its_domains(
            rows in proptest::collection::vec((arb_domain(), any::<u8>(), any::<u64>()), 0..30),
        ) {
            let models: Vec<Model> = rows.iter().map(|r| Model::Domain(r.0.clone())).collect();
            let text: String = models
                .iter()
                .zip(&rows)
                .map(|(m, (_, style, mask))| format!("{}\n", render(m, *style, *mask)))
                .collect();
            let parsed = input::parse("p", text.as_bytes(), &DOMAINS);
            prop_assert!(parsed.invalid.is_empty(), "{:?}\n{}", parsed.invalid, text);
            let expected: Vec<Target> = models.iter().map(Model::target).collect();
            prop_assert_eq!(parsed.targets, expected);
        }

        #[test]
        fn a_generated_csv_parses_back_to_its_targets(
            id_header in prop::sample::select(&["account_id", "id", "ID"][..]),
            acct_header in prop::sample::select(&["acct", "Account address", "ACCT"][..]),
            id_first in any::<bool>(),
            rows in proptest::collection::vec((arb_account(), any::<bool>(), any::<bool>()), 1..30),
        ) {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let header = if id_first { [id_header, acct_header] } else { [acct_header, id_header] };
            writer.write_record(header).unwrap();
            for (model, with_at, decoy) in &rows {
                let (id_cell, acct_cell) = match model {
                    Model::Id(n) => {
                        (n.to_string(), if *decoy { "decoy@x.example".to_owned() } else { String::new() })
                    }
                    Model::Acct(..) => {
                        let text = model.target().text().to_owned();
                        (String::new(), if *with_at { format!("@{text}") } else { text })
                    }
                    Model::Domain(_) => unreachable!(),
                };
                let record = if id_first { [id_cell, acct_cell] } else { [acct_cell, id_cell] };
                writer.write_record(record).unwrap();
            }
            let bytes = writer.into_inner().unwrap();
            prop_assert_eq!(input::detect(&bytes, &ACCOUNTS), input::Format::Csv);
            let parsed = input::parse("p", &bytes, &ACCOUNTS);
            prop_assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
            let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
            prop_assert_eq!(parsed.targets, expected);
        }

        #[test]
        fn every_accepted_target_round_trips_through_the_journal(
            rows in proptest::collection::vec(
                (prop_oneof![arb_account(), arb_domain().prop_map(Model::Domain)], any::<u8>(), any::<u64>()),
                1..20,
            ),
            outcome in prop::sample::select(
                Outcome::ALL.iter().copied().filter(|o| o.is_terminal()).collect::<Vec<_>>(),
            ),
        ) {
            let targets: Vec<Target> = rows
                .iter()
                .map(|(model, style, mask)| {
                    let ids: &dyn Identities = match model {
                        Model::Domain(_) => &DOMAINS,
                        _ => &ACCOUNTS,
                    };
                    ids.parse_token(&render(model, *style, *mask)).unwrap()
                })
                .collect();
            let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
            prop_assert_eq!(&targets, &expected);

            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            let (mut journal, _) = Journal::open(&path).unwrap();
            journal
                .write_header(&Header {
                    journal: crate::journal::FORMAT_NAME.into(),
                    version: crate::journal::FORMAT_VERSION,
                    network: crate::network::NetworkId::Mastodon,
                    account_id: "1".into(),
                    account_screen_name: None,
                    action: Action::Unblock,
                    created_at: "2026-01-01T00:00:00Z".into(),
                })
                .unwrap();
            for target in &targets {
                journal
                    .append(&crate::writer::record(&Finished {
                        target: target.clone(),
                        outcome,
                        user: UserRef::default(),
                        http_status: Some(200),
                        error_code: None,
                        message: None,
                        attempts: 1,
                        at: std::time::UNIX_EPOCH,
                    }))
                    .unwrap();
            }
            journal.sync().unwrap();
            drop(journal);

            let replay = crate::journal::read(&path).unwrap();
            prop_assert_eq!(replay.records, targets.len() as u64);
            prop_assert_eq!(replay.skipped_total, 0);
            let bytes = std::fs::read(&path).unwrap();
            let written: Vec<(String, String)> = crate::journal::records(&bytes)
                .filter_map(|(_, entry)| match entry {
                    Ok(Entry::Record { record, .. }) => Some((record.target, record.by)),
                    _ => None,
                })
                .collect();
            for (target, (text, by)) in targets.iter().zip(&written) {
                prop_assert!(replay.is_done(target), "{target:?}");
                prop_assert_eq!(text, target.text());
                prop_assert_eq!(by, target.kind().name);
            }
        }
    }
}

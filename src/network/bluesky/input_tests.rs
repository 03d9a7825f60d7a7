//! Bluesky's input forms read through the core readers: lists of DIDs, handles, profile and
//! list links and at-URIs, CSV exports (this tool's own with `--lists` included), and the
//! journal. The core readers are network-neutral; these tests pin what Bluesky's rules make of
//! every form.

use super::identity::testing::{did, handle, list};
use super::identity::{DID, HANDLE, IDENTITIES, LIST};
use crate::input::{self, Identities, Parsed, SEVERAL_FIELDS};
use crate::target::Target;

const ALICE: &str = "did:plc:k7tfeou4ctanphw6wzlbjega";
const OWNER: &str = "did:plc:yf6by3yl3jwiymwvsj47eyu2";

fn parse(bytes: &[u8]) -> Parsed {
    input::parse("in", bytes, &IDENTITIES)
}

/// Parses and insists that every line was usable.
fn targets(text: &str) -> Vec<Target> {
    let parsed = parse(text.as_bytes());
    assert!(
        parsed.invalid.is_empty(),
        "unexpected: {:?}",
        parsed.invalid
    );
    parsed.targets
}

fn invalid(text: &str) -> Vec<String> {
    parse(text.as_bytes())
        .invalid
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn dids_are_kept_as_given_and_handles_lowercased_without_the_at() {
    assert_eq!(
        targets(&format!(
            "{ALICE}\ndid:web:example.com\n@Alice.BSKY.social\nbob.example.com\n"
        )),
        vec![
            did(ALICE),
            did("did:web:example.com"),
            handle("alice.bsky.social"),
            handle("bob.example.com")
        ]
    );
    let t = &targets("@Alice.BSKY.social")[0];
    assert_eq!(t.text(), "alice.bsky.social");
    assert!(t.is(&HANDLE));
}

#[test]
fn profile_links_and_at_uris_name_the_account() {
    for form in [
        "https://bsky.app/profile/alice.bsky.social",
        "http://bsky.app/profile/Alice.bsky.social/",
        "https://www.bsky.app/profile/alice.bsky.social?ref=x",
        "bsky.app/profile/@alice.bsky.social#top",
        "HTTPS://BSKY.APP/profile/alice.bsky.social",
        "at://alice.bsky.social",
    ] {
        assert_eq!(targets(form), vec![handle("alice.bsky.social")], "{form}");
    }
    for form in [
        format!("https://bsky.app/profile/{ALICE}"),
        format!("at://{ALICE}"),
        format!("at://{ALICE}/"),
    ] {
        assert_eq!(targets(&form), vec![did(ALICE)], "{form}");
    }
}

#[test]
fn list_links_and_list_at_uris_name_the_list() {
    let rkey = "3k7duyn5e222g";
    assert_eq!(
        targets(&format!(
            "https://bsky.app/profile/ModLists.bsky.test/lists/{rkey}\n\
             https://bsky.app/profile/{OWNER}/lists/{rkey}/\n\
             at://{OWNER}/app.bsky.graph.list/{rkey}\n"
        )),
        vec![
            list("modlists.bsky.test", rkey),
            list(OWNER, rkey),
            list(OWNER, rkey)
        ],
        "a handle owner is kept (lowercased), to be resolved before the run"
    );
    assert!(targets(&format!("at://{OWNER}/app.bsky.graph.list/{rkey}"))[0].is(&LIST));
}

#[test]
fn what_is_not_an_account_or_a_list_is_refused_with_its_line() {
    let cases = [
        ("https://x.com/jack", "not a Bluesky profile or list link"),
        (
            "https://bsky.app/profile/alice.bsky.social/post/3k2abc",
            "`post` page",
        ),
        ("https://bsky.app/search", "not a profile or list link"),
        (
            "at://did:plc:k7tfeou4ctanphw6wzlbjega/app.bsky.graph.block/3k1",
            "names a record of app.bsky.graph.block",
        ),
        ("did:plc:K7TFEOU4CTANPHW6WZLBJEGA", "is not a did:plc"),
        ("did:plc:k7tfeou4ctanphw6wzlbjeg", "is not a did:plc"),
        ("did:PLC:abc", "method that is not lowercase"),
        ("did:", "has no method"),
        ("alice", "is not a domain name"),
        ("alice_b.bsky.social", "may only contain"),
        ("-alice.bsky.social", "starting or ending with `-`"),
        ("alice.bsky.123", "starting with a digit"),
        ("@", "handle is empty"),
        ("alice@example.com", "may only contain"),
        ("a,b", SEVERAL_FIELDS),
        (
            "https://bsky.app/profile/alice.bsky.social/lists/a/b",
            "`lists` page",
        ),
    ];
    for (token, reason) in cases {
        let got = invalid(token);
        assert_eq!(got.len(), 1, "{token}: {got:?}");
        assert!(
            got[0].starts_with("in:1: ") && got[0].contains(reason),
            "{token}: {}",
            got[0]
        );
    }
}

#[test]
fn csv_reads_the_did_column_first_then_the_handle() {
    let text = format!(
        "did,handle,note\n{ALICE},alice.bsky.social,both\n,@Bob.example.com,name only\n\
         at://{OWNER}/app.bsky.graph.list/3k7duyn5e222g,,a list this tool exported\n"
    );
    assert_eq!(
        targets(&text),
        vec![
            did(ALICE),
            handle("bob.example.com"),
            list(OWNER, "3k7duyn5e222g")
        ]
    );
    let lists = format!("list\nhttps://bsky.app/profile/{OWNER}/lists/3k7duyn5e222g\n");
    assert_eq!(targets(&lists), vec![list(OWNER, "3k7duyn5e222g")]);
    let bad = invalid(&format!("did,handle\nalice.bsky.social,\n,\n{ALICE},\n"));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].starts_with("in:2: column `did`: DID"), "{bad:?}");
    let none = invalid("did,note\n,x\n");
    assert!(
        none[0].contains("none of a DID, a handle or a moderation list"),
        "{none:?}"
    );
}

#[test]
fn what_export_writes_reads_back_as_the_same_targets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blocks.csv");
    let ids = vec![
        ALICE.to_owned(),
        format!("at://{OWNER}/app.bsky.graph.list/3k7duyn5e222g"),
    ];
    let names = [(ALICE.to_owned(), "alice.bsky.social".to_owned())]
        .into_iter()
        .collect();
    crate::blocklist::write_csv(&out, IDENTITIES.export_columns(), &ids, Some(&names)).unwrap();
    let parsed = input::read(&[out], &IDENTITIES).unwrap();
    assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
    assert_eq!(
        parsed.targets,
        vec![did(ALICE), list(OWNER, "3k7duyn5e222g")]
    );
    // An account of the list is read by ID; a list is no account.
    assert_eq!(IDENTITIES.account(ALICE), Some(did(ALICE)));
    assert_eq!(IDENTITIES.account(&ids[1]), None);
}

#[test]
fn journal_forms_are_read_strictly_by_kind() {
    assert_eq!(IDENTITIES.read_journal(&DID, ALICE), Ok(did(ALICE)));
    assert!(IDENTITIES.read_journal(&DID, "alice.bsky.social").is_err());
    assert_eq!(
        IDENTITIES.read_journal(&HANDLE, "alice.bsky.social"),
        Ok(handle("alice.bsky.social"))
    );
    let uri = format!("at://{OWNER}/app.bsky.graph.list/3k7duyn5e222g");
    assert_eq!(
        IDENTITIES.read_journal(&LIST, &uri),
        Ok(list(OWNER, "3k7duyn5e222g"))
    );
    assert!(IDENTITIES.read_journal(&LIST, ALICE).is_err());
    assert_eq!(IDENTITIES.kind("list"), Some(&LIST));
    assert_eq!(IDENTITIES.kind("screen_name"), None);
}

mod properties {
    use super::*;
    use crate::executor::Finished;
    use crate::journal::{Entry, Header, Journal};
    use crate::network::UserRef;
    use crate::outcome::Action;
    use proptest::prelude::*;

    /// A target as the generators spell it.
    #[derive(Clone, Debug)]
    enum Model {
        Did(String),
        Handle(Vec<String>),
        List { owner: Box<Model>, rkey: String },
    }

    impl Model {
        /// What the target's text must be.
        fn text(&self) -> String {
            match self {
                Model::Did(d) => d.clone(),
                Model::Handle(labels) => labels.join(".").to_ascii_lowercase(),
                Model::List { owner, rkey } => {
                    format!("at://{}/app.bsky.graph.list/{rkey}", owner.text())
                }
            }
        }

        fn target(&self) -> Target {
            match self {
                Model::Did(d) => did(d),
                Model::Handle(_) => handle(&self.text()),
                Model::List { .. } => Target::new(&LIST, self.text()),
            }
        }

        /// The owner or account as written: a DID as given, a handle in the case generated.
        fn written(&self) -> String {
            match self {
                Model::Did(d) => d.clone(),
                Model::Handle(labels) => labels.join("."),
                Model::List { .. } => self.text(),
            }
        }
    }

    fn arb_did() -> impl Strategy<Value = Model> {
        prop_oneof![
            "[a-z2-7]{24}".prop_map(|id| Model::Did(format!("did:plc:{id}"))),
            "[a-z0-9]{1,10}\\.(com|org|test)"
                .prop_map(|host| Model::Did(format!("did:web:{host}"))),
        ]
    }

    fn arb_handle() -> impl Strategy<Value = Model> {
        (
            proptest::collection::vec("[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", 1..3),
            "[A-Za-z][A-Za-z0-9]{0,5}",
        )
            .prop_map(|(mut labels, tld)| {
                labels.push(tld);
                Model::Handle(labels)
            })
    }

    fn arb_target() -> impl Strategy<Value = Model> {
        prop_oneof![
            arb_did(),
            arb_handle(),
            (prop_oneof![arb_did(), arb_handle()], "[a-z2-7]{13}").prop_map(|(owner, rkey)| {
                Model::List {
                    owner: Box::new(owner),
                    rkey,
                }
            }),
        ]
    }

    /// One way of writing `target` on a list line.
    fn render(target: &Model, style: u8) -> String {
        let scheme = ["https://", "http://", "", "HTTPS://"][usize::from(style % 4)];
        let host = ["bsky.app", "www.bsky.app", "BSKY.app"][usize::from(style / 4 % 3)];
        let tail = ["", "/", "?ref=1", "#x"][usize::from(style / 12 % 4)];
        match target {
            Model::Did(d) => match style % 3 {
                0 => d.clone(),
                1 => format!("{scheme}{host}/profile/{d}{tail}"),
                _ => format!("at://{d}"),
            },
            Model::Handle(_) => {
                let h = target.written();
                match style % 4 {
                    0 => h,
                    1 => format!("@{h}"),
                    2 => format!("{scheme}{host}/profile/{h}{tail}"),
                    _ => format!("at://{}", h.to_ascii_lowercase()),
                }
            }
            Model::List { owner, rkey } => {
                let o = owner.written();
                match style % 2 {
                    0 => format!("{scheme}{host}/profile/{o}/lists/{rkey}{tail}"),
                    _ => format!("at://{}/app.bsky.graph.list/{rkey}", o.to_ascii_lowercase()),
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
        fn arbitrary_bytes_never_panic_and_lines_are_in_range(
            prefix in 0..3usize,
            body in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut bytes = [&b""[..], b"did,handle\n", b"at://did:plc:"][prefix].to_vec();
            bytes.extend_from_slice(&body);
            let parsed = parse(&bytes);
            let lines = line_count(&bytes);
            for bad in parsed.invalid.iter().chain(&parsed.broken) {
                prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
            }
            for notice in &parsed.notices {
                prop_assert!(notice.line >= 1 && notice.line <= lines, "{notice} of {lines}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics(
            body in "[a-z0-9@#:,./\"\\[\\] \r\n\t=_-]{0,300}",
        ) {
            let bytes = body.into_bytes();
            let parsed = parse(&bytes);
            let lines = line_count(&bytes);
            for bad in &parsed.invalid {
                prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
            }
        }

        #[test]
        fn every_accepted_target_round_trips_through_the_journal_and_the_retry_list(
            rows in proptest::collection::vec((arb_target(), any::<u8>()), 1..20),
            outcome in prop::sample::select(
                crate::outcome::Outcome::ALL
                    .iter()
                    .copied()
                    .filter(|o| o.is_terminal())
                    .collect::<Vec<_>>(),
            ),
        ) {
            let mut text = String::new();
            for (target, style) in &rows {
                text.push_str(&render(target, *style));
                text.push('\n');
            }
            let parsed = parse(text.as_bytes());
            prop_assert!(parsed.invalid.is_empty(), "{:?}\n{}", parsed.invalid, text);
            let expected: Vec<Target> = rows.iter().map(|r| r.0.target()).collect();
            prop_assert_eq!(&parsed.targets, &expected, "{}", text);

            // A retry list writes each back as a line that reads as the same target.
            for target in &parsed.targets {
                let token = IDENTITIES.list_token(target);
                prop_assert_eq!(&IDENTITIES.parse_token(&token), &Ok(target.clone()));
            }

            // Recorded as a run records it, each is found done on replay.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            let (mut journal, _) = Journal::open(&path).unwrap();
            journal
                .write_header(&Header {
                    journal: crate::journal::FORMAT_NAME.into(),
                    version: crate::journal::FORMAT_VERSION,
                    network: crate::network::NetworkId::Bluesky,
                    account_id: "did:plc:urtl3wyhs7kmidlyonfpo5lq".into(),
                    account_screen_name: None,
                    action: Action::Unblock,
                    created_at: "2026-01-01T00:00:00Z".into(),
                })
                .unwrap();
            for target in &parsed.targets {
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
            prop_assert_eq!(replay.records, parsed.targets.len() as u64);
            prop_assert_eq!(replay.skipped_total, 0);
            let bytes = std::fs::read(&path).unwrap();
            let written: Vec<(String, String)> = crate::journal::records(&bytes)
                .filter_map(|(_, entry)| match entry {
                    Ok(Entry::Record { record, .. }) => Some((record.target, record.by)),
                    _ => None,
                })
                .collect();
            for ((model, _), (spelled, by)) in rows.iter().zip(&written) {
                prop_assert!(replay.is_done(&model.target()), "{model:?}");
                prop_assert_eq!(spelled, &model.text());
                let kind = match model {
                    Model::Did(_) => "did",
                    Model::Handle(_) => "handle",
                    Model::List { .. } => "list",
                };
                prop_assert_eq!(by, kind);
                if let Model::Handle(_) = model {
                    // Done in any case.
                    let upper = Target::new(&HANDLE, model.text().to_ascii_uppercase());
                    prop_assert!(replay.is_done(&upper));
                }
            }
        }
    }
}

//! What is left to do: the input targets, less duplicates and less what the journal already
//! records as finished.
//!
//! Pure and free of I/O so that the resume rule ("a target whose latest record is terminal is
//! never sent again") can be property-tested against a model, and so that a dry run shows
//! exactly what a real run would send.

use crate::journal::Replay;
use crate::target::{KeyMap, Space, Target};

/// The work of one run, with the counts the summary shows before it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Targets to send, in input order; of duplicates, the first occurrence is kept.
    pub todo: Vec<Target>,
    /// Distinct targets in the input.
    pub unique: usize,
    /// Exact duplicates dropped: the same identity of the same kind (names ignoring case). An
    /// ID and a name are never duplicates of each other: nothing says they are the same user.
    pub duplicates: usize,
    /// Skipped because their latest journal record is terminal.
    pub done: usize,
    /// In `todo` because their latest journal record is `failed`.
    pub retry: usize,
}

/// Plans a run: drops duplicates, skips what the journal records as finished.
pub fn plan(targets: Vec<Target>, journal: &Replay) -> Plan {
    // The set is sized once; account IDs, the usual case, are kept as numbers (see `KeyMap`).
    let ids = targets.iter().filter(|t| t.space() == Space::Id).count();
    let mut seen: KeyMap<()> = KeyMap::with_capacity(ids, targets.len() - ids);
    let mut out = Plan::default();
    for target in targets {
        let key = target.key();
        // Read before the key moves into the set: one insertion then tells a duplicate, where
        // a lookup and an insertion were two probes of the set for every unique target.
        let latest = journal.latest(&key);
        if seen.insert(key, ()).is_some() {
            out.duplicates += 1;
            continue;
        }
        match latest {
            Some(outcome) if outcome.is_terminal() => out.done += 1,
            Some(_) => {
                out.retry += 1;
                out.todo.push(target);
            }
            None => out.todo.push(target),
        }
        out.unique += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::journal::{FORMAT_NAME, FORMAT_VERSION, Header, Record, replay};
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};
    use crate::outcome::{Action, Outcome};

    /// Journal bytes holding a header and these (target, outcome) records, in order.
    fn journal_of(entries: &[(Target, Outcome)]) -> Vec<u8> {
        let header = Header {
            journal: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            network: crate::network::NetworkId::X,
            account_id: "1".into(),
            account_screen_name: None,
            action: Action::Unblock,
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let mut bytes = serde_json::to_vec(&header).unwrap();
        bytes.push(b'\n');
        for (target, outcome) in entries {
            let record = Record {
                target: target.to_string(),
                by: target.kind().name.to_owned(),
                outcome: *outcome,
                user_id: None,
                screen_name: None,
                http_status: None,
                error_code: None,
                message: None,
                attempts: 1,
                at: "2026-01-01T00:00:01Z".into(),
            };
            serde_json::to_writer(&mut bytes, &record).unwrap();
            bytes.push(b'\n');
        }
        bytes
    }

    #[test]
    fn duplicates_are_dropped_keeping_the_first_spelling_and_order() {
        let input = vec![name("Bob"), id(7), name("bob"), id(7), name("7"), id(3)];
        let plan = plan(input, &Replay::default());
        assert_eq!(plan.todo, vec![name("Bob"), id(7), name("7"), id(3)]);
        assert_eq!((plan.unique, plan.duplicates), (4, 2));
        assert_eq!((plan.done, plan.retry), (0, 0));
    }

    #[test]
    fn terminal_records_are_skipped_and_failed_ones_retried() {
        let journal = replay(&journal_of(&[
            (id(1), Outcome::Unblocked),
            (id(2), Outcome::Failed),
            (name("Carol"), Outcome::NotFound),
            (id(4), Outcome::Unblocked),
            (id(4), Outcome::Failed),
            (id(5), Outcome::Failed),
            (id(5), Outcome::Suspended),
        ]));
        let input = vec![id(1), id(2), name("CAROL"), id(4), id(5), id(6)];
        let plan = plan(input, &journal);
        assert_eq!(plan.todo, vec![id(2), id(4), id(6)]);
        assert_eq!((plan.done, plan.retry, plan.unique), (3, 2, 6));
    }

    /// Same user for the plan: IDs by value, names ignoring ASCII case; an ID never equals a name.
    fn same(a: &Target, b: &Target) -> bool {
        match (a, b) {
            _ if a.kind() != b.kind() => false,
            _ if a.space() == Space::Name => a.text().eq_ignore_ascii_case(b.text()),
            _ => a.text() == b.text(),
        }
    }

    fn target() -> impl Strategy<Value = Target> {
        prop_oneof![
            (1u64..12).prop_map(id),
            (
                prop::sample::select(vec!["ann", "bob", "c_3", "12"]),
                any::<u8>()
            )
                .prop_map(|(n, case)| {
                    // Vary the case letter by letter so case-insensitive matching is exercised.
                    let spelled: String = n
                        .chars()
                        .enumerate()
                        .map(|(i, c)| {
                            if case >> (i % 8) & 1 == 1 {
                                c.to_ascii_uppercase()
                            } else {
                                c
                            }
                        })
                        .collect();
                    name(spelled)
                }),
        ]
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop::sample::select(Outcome::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn plan_matches_a_simple_model(
            input in prop::collection::vec(target(), 0..40),
            history in prop::collection::vec((target(), outcome()), 0..30),
        ) {
            let journal = replay(&journal_of(&history));
            let result = plan(input.clone(), &journal);

            // The model: quadratic scans, no keys, no maps.
            let mut unique: Vec<Target> = Vec::new();
            for t in &input {
                if !unique.iter().any(|u| same(u, t)) {
                    unique.push(t.clone());
                }
            }
            let latest = |t: &Target| history.iter().rev().find(|(h, _)| same(h, t)).map(|(_, o)| *o);
            let model_todo: Vec<Target> = unique
                .iter()
                .filter(|t| !latest(t).is_some_and(Outcome::is_terminal))
                .cloned()
                .collect();
            let model_done: Vec<&Target> = unique
                .iter()
                .filter(|t| latest(t).is_some_and(Outcome::is_terminal))
                .collect();
            let model_retry = unique.iter().filter(|t| latest(t) == Some(Outcome::Failed)).count();

            // done ∪ todo = unique input, done ∩ todo = ∅, order kept.
            prop_assert_eq!(&result.todo, &model_todo);
            prop_assert!(result.todo.iter().all(|t| !model_done.iter().any(|d| same(d, t))));
            prop_assert_eq!(result.done, model_done.len());
            prop_assert_eq!(result.retry, model_retry);
            prop_assert_eq!(result.unique, unique.len());
            prop_assert_eq!(result.unique + result.duplicates, input.len());
            prop_assert_eq!(result.done + result.todo.len(), result.unique);
            for t in &result.todo {
                prop_assert!(!journal.is_done(t));
            }
        }
    }
}

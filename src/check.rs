//! `run --dry-run --check`: compare the targets with what the server holds now, read-only.
//!
//! It fetches the current block list (kept in memory) and resolves screen names to IDs through
//! the names the list gave and user lookups for the rest, then reports how many targets are
//! blocked now and who would be unblocked. Only GET requests are sent. The same batched, paced
//! resolution ([`resolve`]) runs before a real run on a network that acts by ID only.
//!
//! A network that reads the block list itself before acting ([`Network::needs_list`]: Bluesky,
//! whose blocks are records) is asked the run's own questions instead: the same reads and
//! lookups as before a run, then how acting on each target would end ([`Network::settled`]), so
//! the check says exactly what the run would do (a moderation list named by its owner's handle
//! included).

use std::collections::{HashMap, HashSet};

use tokio_util::sync::CancellationToken;

use crate::blocklist::{self, Partial};
use crate::display::Verbosity;
use crate::error::Error;
use crate::network::Network;
use crate::outcome::{Action, Outcome};
use crate::pace::Pacer;
use crate::target::{Space, Target, TargetKey};

/// How many names the report lists at most per group.
const LISTED: usize = 20;

/// What the check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Targets blocked now (would be unblocked), with the ID they resolved to.
    pub blocked: Vec<(Target, String)>,
    /// Targets that exist but are not blocked now.
    pub not_blocked: Vec<(Target, String)>,
    /// Names no account answers to (unknown, suspended or deactivated).
    pub unresolved: Vec<Target>,
    /// The size of the block list.
    pub list_size: usize,
}

/// Compares `targets` with the block list `blocked` (its entries' IDs), given the IDs resolved
/// for names. Pure.
pub fn compare(
    targets: &[Target],
    blocked: &HashSet<String>,
    resolved: &HashMap<TargetKey, String>,
) -> Findings {
    let mut findings = Findings {
        list_size: blocked.len(),
        ..Findings::default()
    };
    for target in targets {
        let id = match target.space() {
            Space::Name => resolved.get(&target.key()).cloned(),
            Space::Id | Space::Other => Some(target.text().to_owned()),
        };
        match id {
            Some(id) if blocked.contains(&id) => findings.blocked.push((target.clone(), id)),
            Some(id) => findings.not_blocked.push((target.clone(), id)),
            None => findings.unresolved.push(target.clone()),
        }
    }
    findings
}

/// Fetches what is needed, compares, and prints the findings. Pages and lookups are paced
/// apart: lookups have their own limit, far larger than the list's, and must not wait list slots.
pub async fn check<N: Network>(
    network: &N,
    pages: &Pacer,
    lookups: &Pacer,
    targets: &[Target],
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<Findings, Error> {
    let mut list = Partial::in_memory();
    if network.needs_list(Action::Unblock, targets) {
        blocklist::fetch(network, pages, &mut list, cancel, verbosity).await?;
        let unknown = network.to_resolve(Action::Unblock, targets);
        let users = crate::resolve::look_up(network, lookups, &unknown, cancel, verbosity).await?;
        let resolved = crate::resolve::by_name(users);
        let findings = sort(targets, list.ids.len(), &resolved, |target| {
            network.settled(Action::Unblock, target).map(|s| s.outcome)
        });
        print(&findings, targets.len());
        return Ok(findings);
    }
    blocklist::fetch(network, pages, &mut list, cancel, verbosity).await?;
    let blocked: HashSet<String> = list.ids.iter().cloned().collect();
    // Names the list gave with its IDs (X v2's, Mastodon's) need no lookup.
    let mut resolved: HashMap<TargetKey, String> = list
        .names
        .iter()
        .map(|(id, name)| (TargetKey::name(name), id.clone()))
        .collect();
    let unnamed: Vec<Target> = targets
        .iter()
        .filter(|t| t.space() == Space::Name && !resolved.contains_key(&t.key()))
        .cloned()
        .collect();
    resolved.extend(crate::resolve::resolve(network, lookups, &unnamed, cancel, verbosity).await?);
    let findings = compare(targets, &blocked, &resolved);
    print(&findings, targets.len());
    Ok(findings)
}

/// Sorts `targets` by how acting on each would end (`settled`: `None` when a request would be
/// sent, that is, the target is blocked now), given the IDs resolved for names. Pure.
pub fn sort(
    targets: &[Target],
    list_size: usize,
    resolved: &HashMap<TargetKey, String>,
    settled: impl Fn(&Target) -> Option<Outcome>,
) -> Findings {
    let mut findings = Findings {
        list_size,
        ..Findings::default()
    };
    for target in targets {
        let id = match target.space() {
            Space::Name => resolved.get(&target.key()).cloned(),
            Space::Id | Space::Other => None,
        }
        .unwrap_or_else(|| target.text().to_owned());
        match settled(target) {
            Some(Outcome::NotFound | Outcome::Suspended) => {
                findings.unresolved.push(target.clone())
            }
            Some(Outcome::NotBlocked) => findings.not_blocked.push((target.clone(), id)),
            _ => findings.blocked.push((target.clone(), id)),
        }
    }
    findings
}

fn describe(target: &Target, id: &str) -> String {
    match target.space() {
        Space::Name => format!("@{target} ({id})"),
        Space::Id | Space::Other => id.to_owned(),
    }
}

fn print(f: &Findings, total: usize) {
    println!(
        "Checked against the server (read-only; the account blocks {} now):",
        f.list_size
    );
    println!(
        "  blocked now, would be unblocked: {} of {total}",
        f.blocked.len()
    );
    for (target, id) in f
        .blocked
        .iter()
        .filter(|(t, _)| t.space() == Space::Name)
        .take(LISTED)
    {
        println!("    {}", describe(target, id));
    }
    println!("  not blocked now:                 {}", f.not_blocked.len());
    for (target, id) in f.not_blocked.iter().take(LISTED) {
        println!("    {}", describe(target, id));
    }
    if f.not_blocked.len() > LISTED {
        println!("    … and {} more", f.not_blocked.len() - LISTED);
    }
    println!("  names nobody answers to:         {}", f.unresolved.len());
    for target in f.unresolved.iter().take(LISTED) {
        match target.space() {
            Space::Name => println!("    @{target}"),
            Space::Id | Space::Other => println!("    {target}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};

    #[test]
    fn targets_are_sorted_by_what_the_server_holds() {
        let targets = vec![id(1), id(2), name("Alice"), name("ghost"), name("bob")];
        let blocked: HashSet<String> = ["1", "10", "99"].map(String::from).into();
        let resolved: HashMap<TargetKey, String> = [
            (TargetKey::name("alice"), "10".to_owned()),
            (TargetKey::name("BOB"), "11".to_owned()),
        ]
        .into();
        let f = compare(&targets, &blocked, &resolved);
        assert_eq!(f.list_size, 3);
        assert_eq!(
            f.blocked,
            vec![(id(1), "1".to_owned()), (name("Alice"), "10".to_owned())]
        );
        assert_eq!(
            f.not_blocked,
            vec![(id(2), "2".to_owned()), (name("bob"), "11".to_owned())]
        );
        assert_eq!(f.unresolved, vec![name("ghost")]);
    }

    #[test]
    fn a_network_that_reads_its_own_records_sorts_the_targets_itself() {
        use crate::network::bluesky::identity::testing::{did, handle, list};
        let a = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
        let owner = "did:plc:oooooooooooooooooooooooo";
        let targets = vec![
            did(a),
            handle("bob.bsky.social"),
            handle("nobody.bsky.social"),
            list("lists.bsky.social", "3kabc"),
        ];
        let resolved: HashMap<TargetKey, String> =
            [(TargetKey::name("bob.bsky.social"), owner.to_owned())].into();
        let f = sort(&targets, 7, &resolved, |t| match t.text() {
            "bob.bsky.social" => Some(Outcome::NotBlocked),
            "nobody.bsky.social" => Some(Outcome::NotFound),
            _ => None,
        });
        assert_eq!(f.list_size, 7);
        assert_eq!(
            f.blocked,
            vec![
                (did(a), a.to_owned()),
                (
                    list("lists.bsky.social", "3kabc"),
                    "at://lists.bsky.social/app.bsky.graph.list/3kabc".to_owned()
                )
            ]
        );
        assert_eq!(
            f.not_blocked,
            vec![(handle("bob.bsky.social"), owner.to_owned())]
        );
        assert_eq!(f.unresolved, vec![handle("nobody.bsky.social")]);
    }
}

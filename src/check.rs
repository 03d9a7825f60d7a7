//! `run --dry-run --check`: compare the targets with what the server holds now, read-only.
//!
//! It fetches the current block list (kept in memory) and resolves screen names to IDs through
//! user lookups, then reports how many targets are blocked now and who would be unblocked. Only
//! GET requests are sent. The same batched, paced resolution ([`resolve`]) runs before a real run
//! on a network that acts by ID only.

use std::collections::{HashMap, HashSet};

use tokio_util::sync::CancellationToken;

use crate::blocklist::{self, Partial};
use crate::display::Verbosity;
use crate::error::Error;
use crate::network::Network;
use crate::pace::Pacer;
use crate::target::{Target, TargetKey};

/// How many names the report lists at most per group.
const LISTED: usize = 20;

/// What the check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Targets blocked now (would be unblocked).
    pub blocked: Vec<(Target, u64)>,
    /// Targets that exist but are not blocked now.
    pub not_blocked: Vec<(Target, u64)>,
    /// Screen names no user answers to (unknown, suspended or deactivated).
    pub unresolved: Vec<Target>,
    /// The size of the block list.
    pub list_size: usize,
}

/// Compares `targets` with the block list `blocked`, given the IDs resolved for screen names. Pure.
pub fn compare(
    targets: &[Target],
    blocked: &HashSet<u64>,
    resolved: &HashMap<TargetKey, u64>,
) -> Findings {
    let mut findings = Findings {
        list_size: blocked.len(),
        ..Findings::default()
    };
    for target in targets {
        let id = match target {
            Target::Id(id) => Some(*id),
            Target::ScreenName(_) => resolved.get(&target.key()).copied(),
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
    blocklist::fetch(network, pages, &mut list, cancel, verbosity).await?;
    let blocked: HashSet<u64> = list.ids.iter().copied().collect();
    let resolved = crate::resolve::resolve(network, lookups, targets, cancel, verbosity).await?;
    let findings = compare(targets, &blocked, &resolved);
    print(&findings, targets.len());
    Ok(findings)
}

fn describe(target: &Target, id: u64) -> String {
    match target {
        Target::Id(_) => id.to_string(),
        Target::ScreenName(name) => format!("@{name} ({id})"),
    }
}

fn print(f: &Findings, total: usize) {
    println!(
        "Checked against the server (read-only; the account blocks {} users now):",
        f.list_size
    );
    println!(
        "  blocked now, would be unblocked: {} of {total}",
        f.blocked.len()
    );
    for (target, id) in f
        .blocked
        .iter()
        .filter(|(t, _)| matches!(t, Target::ScreenName(_)))
        .take(LISTED)
    {
        println!("    {}", describe(target, *id));
    }
    println!("  not blocked now:                 {}", f.not_blocked.len());
    for (target, id) in f.not_blocked.iter().take(LISTED) {
        println!("    {}", describe(target, *id));
    }
    if f.not_blocked.len() > LISTED {
        println!("    … and {} more", f.not_blocked.len() - LISTED);
    }
    println!("  screen names nobody answers to:  {}", f.unresolved.len());
    for target in f.unresolved.iter().take(LISTED) {
        println!("    @{target}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_sorted_by_what_the_server_holds() {
        let targets = vec![
            Target::Id(1),
            Target::Id(2),
            Target::ScreenName("Alice".into()),
            Target::ScreenName("ghost".into()),
            Target::ScreenName("bob".into()),
        ];
        let blocked: HashSet<u64> = [1, 10, 99].into_iter().collect();
        let resolved: HashMap<TargetKey, u64> =
            [(TargetKey::name("alice"), 10), (TargetKey::name("BOB"), 11)]
                .into_iter()
                .collect();
        let f = compare(&targets, &blocked, &resolved);
        assert_eq!(f.list_size, 3);
        assert_eq!(
            f.blocked,
            vec![(Target::Id(1), 1), (Target::ScreenName("Alice".into()), 10)]
        );
        assert_eq!(
            f.not_blocked,
            vec![(Target::Id(2), 2), (Target::ScreenName("bob".into()), 11)]
        );
        assert_eq!(f.unresolved, vec![Target::ScreenName("ghost".into())]);
    }
}

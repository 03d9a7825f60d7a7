//! What happened to one target: the network-neutral result every client maps its responses to.
//!
//! The journal stores these names, the plan reads them back to decide what is left, and the
//! summary counts them, so the set is deliberately small and stable.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a run does to each target. `undo` runs the opposite action of the journal it reverses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Remove the block.
    Unblock,
    /// Create the block again.
    Block,
}

impl Action {
    /// The outcome recorded when the action succeeds.
    pub fn success(self) -> Outcome {
        match self {
            Action::Unblock => Outcome::Unblocked,
            Action::Block => Outcome::Blocked,
        }
    }
}

/// The recorded result of acting on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The block was removed (or there was none to remove).
    Unblocked,
    /// The block was (re)created; the outcome of an `undo` run.
    Blocked,
    /// There was nothing to remove: the account is not blocked (known from the block list the
    /// run read, or from the server's answer), so no write was needed.
    NotBlocked,
    /// The account does not exist or was deactivated.
    NotFound,
    /// The account is suspended.
    Suspended,
    /// Any other per-target error; tried again on the next run.
    Failed,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Unblocked,
        Outcome::Blocked,
        Outcome::NotBlocked,
        Outcome::NotFound,
        Outcome::Suspended,
        Outcome::Failed,
    ];

    /// Terminal outcomes are never retried: a rerun skips their targets.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Outcome::Failed)
    }

    /// The name used in the journal and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Unblocked => "unblocked",
            Outcome::Blocked => "blocked",
            Outcome::NotBlocked => "not_blocked",
            Outcome::NotFound => "not_found",
            Outcome::Suspended => "suspended",
            Outcome::Failed => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_journal_contract() {
        for o in Outcome::ALL {
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), o);
        }
        assert!(!Outcome::Failed.is_terminal());
        assert!(Outcome::NotFound.is_terminal());
    }
}

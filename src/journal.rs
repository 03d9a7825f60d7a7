//! The result log: versioned JSON Lines, one record per finished target, appended as each
//! target finishes so that a rerun of the same command resumes exactly where the last stopped.

use serde::{Deserialize, Serialize};

use crate::outcome::{Action, Outcome};
use crate::target::TargetKind;

/// The journal format version written in the header record.
pub const FORMAT_VERSION: u32 = 1;

/// The value of the header's `journal` field; it tells a journal apart from other JSON Lines.
pub const FORMAT_NAME: &str = "bulk-unblock";

/// The first line of every journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub journal: String,
    /// The format version, [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// The authenticating account's user ID: a journal is never reused for another account.
    pub account_id: String,
    /// The authenticating account's screen name, for people reading the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_screen_name: Option<String>,
    /// What the run does to each target.
    pub action: Action,
    /// When the journal was created (RFC 3339 UTC).
    pub created_at: String,
}

/// One finished target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The normalised ID string, or the screen name without `@`.
    pub target: String,
    /// How `target` names the user, so the screen name "123" is not read back as an ID.
    pub by: TargetKind,
    /// What happened.
    pub outcome: Outcome,
    /// The user's ID, when known (from the target or the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's screen name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_name: Option<String>,
    /// The HTTP status of the last response, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The API's error code, when the response carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// The API's error message, or a description of the transport error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Requests sent for this target in this run.
    pub attempts: u32,
    /// When the target finished (RFC 3339 UTC).
    pub at: String,
}

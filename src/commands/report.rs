//! `bulk-unblock report`: what a journal says, for people and for scripts.
//!
//! Counts per outcome (the latest record of each target), the failed targets with their last
//! error, the time span and the pace achieved. `--retry-list` writes the failed targets as an
//! input file; `--json` prints the summary as JSON. The summary itself is a pure function of the
//! journal's bytes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cli::ReportArgs;
use crate::error::{Error, Exit};
use crate::journal::{self, Entry, Header, Record};
use crate::network::NetworkId;
use crate::outcome::Outcome;
use crate::target::TargetKey;

/// A failed target and its last error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The target as recorded.
    pub target: String,
    /// How the target names its subject (`user_id`, `screen_name`, `did`, …).
    pub by: String,
    /// HTTP status of the last attempt.
    pub http_status: Option<u16>,
    /// API error code of the last attempt.
    pub error_code: Option<crate::network::ErrorCode>,
    /// The last error message.
    pub message: Option<String>,
    /// When it was recorded.
    pub at: String,
}

/// The summary of one journal.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The network the journal belongs to.
    pub network: Option<NetworkId>,
    /// The account the journal belongs to.
    pub account_id: Option<String>,
    /// What the run did (`unblock`, `block`).
    pub action: Option<crate::outcome::Action>,
    /// Records read (a target retried across runs has several).
    pub records: u64,
    /// Distinct targets.
    pub targets: u64,
    /// Targets per latest outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Targets whose latest record is `failed`, in journal order.
    pub failed: Vec<Failure>,
    /// The first record's time.
    pub first_at: Option<String>,
    /// The last record's time.
    pub last_at: Option<String>,
    /// Seconds between the first and the last record.
    pub span_seconds: Option<u64>,
    /// Records written per 15 minutes over the span (a retried target counts once per record).
    pub per_15_minutes: Option<f64>,
    /// Lines that could not be read.
    pub skipped_lines: u64,
}

/// Summarises journal bytes. Pure.
pub fn summarize(bytes: &[u8]) -> Summary {
    let mut summary = Summary::default();
    let mut latest: HashMap<TargetKey, (usize, Record)> = HashMap::new();
    let mut first: Option<SystemTime> = None;
    let mut last: Option<SystemTime> = None;
    let mut order = 0usize;
    for (_, entry) in journal::records(bytes) {
        match entry {
            Ok(Entry::Header(Header {
                network,
                account_id,
                action,
                ..
            })) => {
                summary.network = Some(network);
                summary.account_id = Some(account_id);
                summary.action = Some(action);
            }
            // `records` refuses a record whose target is unusable, so such a line is only
            // ever a skipped line, never also a record with a time in the span.
            Ok(Entry::Record { record, target }) => {
                summary.records += 1;
                if let Ok(at) = humantime::parse_rfc3339(&record.at) {
                    first = Some(first.map_or(at, |f| f.min(at)));
                    last = Some(last.map_or(at, |l| l.max(at)));
                }
                order += 1;
                let slot = latest
                    .entry(target.key())
                    .or_insert((order, record.clone()));
                slot.1 = record;
            }
            Err(_) => summary.skipped_lines += 1,
        }
    }
    let mut targets: Vec<(usize, Record)> = latest.into_values().collect();
    targets.sort_by_key(|(order, _)| *order);
    summary.targets = targets.len() as u64;
    for (_, record) in &targets {
        *summary
            .outcomes
            .entry(record.outcome.as_str().to_owned())
            .or_default() += 1;
        if record.outcome == Outcome::Failed {
            summary.failed.push(Failure {
                target: record.target.clone(),
                by: record.by.clone(),
                http_status: record.http_status,
                error_code: record.error_code.clone(),
                message: record.message.clone(),
                at: record.at.clone(),
            });
        }
    }
    if let (Some(first), Some(last)) = (first, last) {
        let span = last.duration_since(first).unwrap_or(Duration::ZERO);
        summary.first_at = Some(crate::writer::rfc3339(first));
        summary.last_at = Some(crate::writer::rfc3339(last));
        summary.span_seconds = Some(span.as_secs());
        if span >= Duration::from_secs(1) {
            summary.per_15_minutes = Some(summary.records as f64 * 900.0 / span.as_secs_f64());
        }
    }
    summary
}

/// The failed targets as an input file, each written as its network's list reader reads it
/// back (on X: IDs bare, screen names with `@`).
pub fn retry_list(summary: &Summary, journal: &Path) -> String {
    let mut text = format!(
        "# targets whose latest record in {} is `failed`\n",
        journal.display()
    );
    let ids = summary.network.unwrap_or_default().identities();
    for f in &summary.failed {
        match ids
            .kind(&f.by)
            .and_then(|kind| ids.read_journal(kind, &f.target).ok())
        {
            Some(target) => text.push_str(&ids.list_token(&target)),
            None => text.push_str(&f.target),
        }
        text.push('\n');
    }
    text
}

/// `bulk-unblock report`.
pub fn command(args: ReportArgs) -> Result<Exit, Error> {
    let bytes = std::fs::read(&args.journal).map_err(|e| Error::Io {
        context: format!("cannot read the journal `{}`", args.journal.display()),
        source: e,
    })?;
    journal::replay(&bytes).check_format(&args.journal)?;
    let summary = summarize(&bytes);
    if let Some(path) = &args.retry_list {
        std::fs::write(path, retry_list(&summary, &args.journal)).map_err(|e| Error::Io {
            context: format!("cannot write `{}`", path.display()),
            source: e,
        })?;
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_string_pretty(&summary)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(out, "{json}"))
    } else {
        write!(out, "{}", human(&summary, &args.journal))
    };
    written.map_err(|e| Error::Io {
        context: "cannot write the report".into(),
        source: e,
    })?;
    Ok(Exit::Success)
}

/// The report for people.
pub fn human(s: &Summary, journal: &Path) -> String {
    let mut text = format!(
        "Journal {} (account {}, {}):\n",
        journal.display(),
        s.account_id.as_deref().unwrap_or("?"),
        s.action.map_or("?", |a| match a {
            crate::outcome::Action::Unblock => "unblock",
            crate::outcome::Action::Block => "block",
        })
    );
    text.push_str(&format!(
        "  {} targets in {} records\n",
        s.targets, s.records
    ));
    for (outcome, n) in &s.outcomes {
        text.push_str(&format!("  {outcome:<10} {n}\n"));
    }
    if let (Some(first), Some(last), Some(span)) = (&s.first_at, &s.last_at, s.span_seconds) {
        text.push_str(&format!(
            "  from {first} to {last} ({})\n",
            crate::display::clock(Duration::from_secs(span))
        ));
    }
    if let Some(pace) = s.per_15_minutes {
        text.push_str(&format!("  pace achieved: {pace:.1} per 15 minutes\n"));
    }
    if s.skipped_lines > 0 {
        text.push_str(&format!(
            "  unreadable lines skipped: {}\n",
            s.skipped_lines
        ));
    }
    if !s.failed.is_empty() {
        text.push_str(&format!(
            "Failed ({}; rerun the same command, or use --retry-list):\n",
            s.failed.len()
        ));
        for f in &s.failed {
            text.push_str(&format!(
                "  {}  HTTP {}{}: {}\n",
                f.target,
                f.http_status.map_or("-".to_owned(), |c| c.to_string()),
                f.error_code
                    .as_ref()
                    .map(|c| format!(" code {c}"))
                    .unwrap_or_default(),
                f.message.as_deref().unwrap_or("(no message)")
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};

    const JOURNAL: &str = concat!(
        r#"{"journal":"bulk-unblock","version":1,"account_id":"9","action":"unblock","created_at":"2026-01-01T00:00:00Z"}"#,
        "\n",
        r#"{"target":"1","by":"user_id","outcome":"failed","http_status":503,"error_code":130,"message":"Over capacity.","attempts":8,"at":"2026-01-01T00:00:00Z"}"#,
        "\n",
        r#"{"target":"Ann","by":"screen_name","outcome":"unblocked","user_id":"2","attempts":1,"at":"2026-01-01T00:05:00Z"}"#,
        "\n",
        "garbage\n",
        r#"{"target":"3","by":"user_id","outcome":"failed","http_status":403,"error_code":226,"message":"automated","attempts":1,"at":"2026-01-01T00:10:00Z"}"#,
        "\n",
        r#"{"target":"1","by":"user_id","outcome":"unblocked","attempts":1,"at":"2026-01-01T00:15:00Z"}"#,
        "\n",
        r#"{"target":"123","by":"screen_name","outcome":"failed","attempts":1,"at":"2026-01-01T00:15:00Z"}"#,
        "\n",
    );

    #[test]
    fn counts_follow_the_latest_record_of_each_target() {
        let s = summarize(JOURNAL.as_bytes());
        assert_eq!(s.account_id.as_deref(), Some("9"));
        assert_eq!(s.records, 5);
        assert_eq!(s.targets, 4);
        assert_eq!(s.outcomes.get("unblocked"), Some(&2));
        assert_eq!(s.outcomes.get("failed"), Some(&2));
        assert_eq!(
            s.failed
                .iter()
                .map(|f| f.target.as_str())
                .collect::<Vec<_>>(),
            vec!["3", "123"]
        );
        assert_eq!(s.failed[0].error_code, Some(226.into()));
        assert_eq!(s.skipped_lines, 1);
        assert_eq!(s.span_seconds, Some(900));
        assert_eq!(s.per_15_minutes, Some(5.0));
    }

    #[test]
    fn a_record_with_an_unusable_target_is_skipped_once_and_counts_nowhere_else() {
        let mut bytes = JOURNAL.to_owned();
        for line in [
            r#"{"target":"0","by":"user_id","outcome":"failed","attempts":1,"at":"2026-01-01T05:00:00Z"}"#,
            r#"{"target":"bad-name","by":"screen_name","outcome":"unblocked","attempts":1,"at":"2025-01-01T00:00:00Z"}"#,
        ] {
            bytes.push_str(line);
            bytes.push('\n');
        }
        let before = summarize(JOURNAL.as_bytes());
        let s = summarize(bytes.as_bytes());
        assert_eq!(s.records, before.records, "not a record");
        assert_eq!(
            s.skipped_lines,
            before.skipped_lines + 2,
            "skipped, once each"
        );
        assert_eq!(s.targets, before.targets);
        assert_eq!(s.outcomes, before.outcomes);
        assert_eq!(s.failed, before.failed);
        // Their times are not part of the span either.
        assert_eq!((s.first_at, s.last_at), (before.first_at, before.last_at));
        assert_eq!(s.per_15_minutes, before.per_15_minutes);
    }

    #[test]
    fn the_retry_list_reads_back_as_the_same_targets() {
        let s = summarize(JOURNAL.as_bytes());
        let list = retry_list(&s, Path::new("j.jsonl"));
        let parsed = crate::input::parse(
            "retry.txt",
            list.as_bytes(),
            crate::network::NetworkId::X.identities(),
        );
        assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
        assert_eq!(parsed.targets, vec![id(3), name("123")]);
    }

    #[test]
    fn the_json_form_names_every_field() {
        let json = serde_json::to_value(summarize(JOURNAL.as_bytes())).unwrap();
        for key in [
            "account_id",
            "records",
            "targets",
            "outcomes",
            "failed",
            "first_at",
            "last_at",
            "per_15_minutes",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}

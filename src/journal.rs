//! The result log: versioned JSON Lines, one record per finished target, appended as each
//! target finishes so that a rerun of the same command resumes exactly where the last stopped.
//!
//! The file is the only memory a run keeps, so it is written to survive the worst moment: each
//! record goes out in a single write of a whole line, a lock keeps a second run off the same
//! file, and the replay never fails on damage. A line cut short by a killed process is ignored
//! (its target is simply tried again) and garbage is skipped and listed, while every complete
//! record before and after it still counts. What is refused is a file that is not a journal of
//! this tool, or one written for another account or action: those are someone else's data.

use std::borrow::Cow;
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::input::Identities;
use crate::network::ErrorCode;
use crate::network::NetworkId;
use crate::outcome::{Action, Outcome};
use crate::target::{KeyMap, Space, Target, TargetKey};

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
    /// The network the journal's targets belong to; `x` when absent (journals written before
    /// there were other networks).
    #[serde(default)]
    pub network: NetworkId,
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
    /// The target as the network normalised it (an ID, a name without `@`, a list's at-URI…).
    pub target: String,
    /// How `target` names its subject (the network's kind: `user_id`, `screen_name`, `did`,
    /// …), so the screen name "123" is not read back as an ID.
    pub by: String,
    /// What happened.
    pub outcome: Outcome,
    /// The user's ID, when known (from the target or the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's screen name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_name: Option<String>,
    /// The HTTP status of the last response; `null` when no response came (a transport
    /// error). Written in every record, as the format promises; journals that left it out
    /// when empty still read.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The API's error code; `null` when the response carried none. Always written.
    #[serde(default)]
    pub error_code: Option<ErrorCode>,
    /// The API's error message, or a description of the transport error; `null` when there
    /// was neither. Always written.
    #[serde(default)]
    pub message: Option<String>,
    /// Requests sent for this target in this run.
    pub attempts: u32,
    /// When the target finished (RFC 3339 UTC).
    pub at: String,
}

/// How many damaged lines a [`Replay`] lists one by one. Past this only
/// [`Replay::skipped_total`] grows, so a file full of garbage cannot fill memory.
pub const MAX_LISTED_SKIPS: usize = 1000;

/// The start of every header this tool writes (serde keeps field order), used to recognise a
/// header that was cut short while being written.
const HEADER_START: &[u8] = br#"{"journal":"bulk-unblock""#;

/// Longest skip reason kept: serde messages may quote a whole line of garbage.
const MAX_REASON_LEN: usize = 160;

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

/// What a journal says, read back: the header, and the latest outcome of every target it names.
#[derive(Clone, Debug, Default)]
pub struct Replay {
    /// The header, when line 1 holds a valid one.
    pub header: Option<Header>,
    /// Valid records read.
    pub records: u64,
    /// Damaged lines that were skipped (not counting a torn tail), at most [`MAX_LISTED_SKIPS`].
    pub skipped: Vec<SkippedLine>,
    /// Every damaged line skipped, including those past the listing limit.
    pub skipped_total: u64,
    /// The file did not end with `'\n'` and its last line was unparsable: a run was killed
    /// while writing it. The line is ignored, so its target is tried again.
    pub torn_tail: bool,
    index: KeyMap<Outcome>,
    problem: Option<HeaderProblem>,
}

/// One line the replay could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number in the file.
    pub line: u64,
    /// Why the line was skipped.
    pub reason: String,
}

/// Why line 1 is not a usable header; turned into a [`JournalError`] once the path is known.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HeaderProblem {
    /// Not a journal of this tool at all.
    Foreign(String),
    /// A journal of this tool, written by a newer version.
    Newer(u64),
    /// A journal of this tool whose header cannot be read.
    Damaged(String),
}

/// Collects the index's entries in file order, then builds the map at once (see
/// [`KeyMap::from_ordered`]).
#[derive(Default)]
struct IndexBuilder {
    entries: Vec<(TargetKey, Outcome)>,
}

impl IndexBuilder {
    fn set(&mut self, key: TargetKey, outcome: Outcome) {
        self.entries.push((key, outcome));
    }

    fn finish(self) -> KeyMap<Outcome> {
        KeyMap::from_ordered(self.entries)
    }
}

impl Replay {
    /// The latest outcome recorded for this key, directly or through an alias the API revealed.
    pub fn latest(&self, key: &TargetKey) -> Option<Outcome> {
        self.index.get(key).copied()
    }

    /// Whether the target's latest outcome is terminal, so a rerun must not send it again.
    pub fn is_done(&self, target: &Target) -> bool {
        self.latest(&target.key()).is_some_and(Outcome::is_terminal)
    }

    /// Refuses a journal written for another account or another action; a fresh journal
    /// (no header yet) fits any.
    pub fn check_account(
        &self,
        path: &Path,
        account_id: &str,
        action: Action,
    ) -> Result<(), JournalError> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        check_header_fits(path, header, account_id, action)
    }

    /// Refuses a journal written for another network.
    pub fn check_network(&self, path: &Path, network: NetworkId) -> Result<(), JournalError> {
        match &self.header {
            Some(header) if header.network != network => Err(JournalError::OtherNetwork {
                path: path.to_path_buf(),
                journal_network: header.network,
                network,
            }),
            _ => Ok(()),
        }
    }

    /// Refuses what is not a journal of this tool, or one written by a newer version.
    /// [`read`] and [`Journal::open`] call it; callers of [`replay`] on raw bytes should too.
    pub fn check_format(&self, path: &Path) -> Result<(), JournalError> {
        let path = path.to_path_buf();
        match &self.problem {
            None => Ok(()),
            Some(HeaderProblem::Foreign(reason)) => Err(JournalError::NotAJournal {
                path,
                reason: reason.clone(),
            }),
            Some(HeaderProblem::Newer(found)) => Err(JournalError::NewerVersion {
                path,
                found: *found,
            }),
            Some(HeaderProblem::Damaged(reason)) => Err(JournalError::DamagedHeader {
                path,
                reason: reason.clone(),
            }),
        }
    }

    /// Approximate heap use of the index, to check it stays small on very large journals.
    #[cfg(test)]
    fn index_bytes(&self) -> usize {
        self.index.heap_bytes()
    }

    fn skip(&mut self, line: u64, reason: String) {
        self.skipped_total += 1;
        if self.skipped.len() < MAX_LISTED_SKIPS {
            self.skipped.push(SkippedLine { line, reason });
        }
    }
}

fn check_header_fits(
    path: &Path,
    header: &Header,
    account_id: &str,
    action: Action,
) -> Result<(), JournalError> {
    if header.account_id != account_id {
        return Err(JournalError::OtherAccount {
            path: path.to_path_buf(),
            journal_account: match &header.account_screen_name {
                Some(name) => format!("{} (@{name})", header.account_id),
                None => header.account_id.clone(),
            },
            account: account_id.to_owned(),
        });
    }
    if header.action != action {
        return Err(JournalError::OtherAction {
            path: path.to_path_buf(),
            journal_action: header.action,
            action,
        });
    }
    Ok(())
}

/// Replays journal bytes. Never fails: damaged lines are skipped and listed, and a first line
/// that is not a header stops the replay with a problem [`Replay::check_format`] reports.
pub fn replay(bytes: &[u8]) -> Replay {
    let mut replayer = Replayer::default();
    for line in lines(bytes) {
        if !replayer.line(&line) {
            break;
        }
    }
    replayer.finish()
}

/// Replays one line at a time, so that a file can be streamed through it rather than held
/// in memory whole (a journal of a million records is 150 MB of text).
#[derive(Default)]
struct Replayer {
    out: Replay,
    index: IndexBuilder,
    /// The identities of the header's network, once line 1 was read.
    ids: Option<&'static dyn Identities>,
}

impl Replayer {
    /// Takes the next line; false when the replay has stopped (line 1 is not a header).
    fn line(&mut self, line: &Line<'_>) -> bool {
        let out = &mut self.out;
        if line.number == 1 {
            match parse_header(line.bytes) {
                Ok(header) => {
                    self.ids = Some(header.network.identities());
                    out.header = Some(header);
                }
                Err(_) if line.torn && is_torn_header(line.bytes) => out.torn_tail = true,
                Err(problem) => out.problem = Some(problem),
            }
            return out.header.is_some();
        }
        if line.is_blank() {
            return true;
        }
        let Some(ids) = self.ids else {
            return false;
        };
        match index_record(&mut self.index, ids, line.bytes) {
            Ok(()) => out.records += 1,
            Err(_) if line.torn => out.torn_tail = true,
            Err(reason) => out.skip(line.number, reason),
        }
        true
    }

    fn finish(self) -> Replay {
        let mut out = self.out;
        // A replay stopped at line 1 has no index, whatever the builder holds.
        if out.header.is_some() {
            out.index = self.index.finish();
        }
        out
    }
}

/// The fields the index needs, borrowed from the line. The other fields are type-checked but
/// not kept, so replay accepts exactly the lines [`records`] accepts.
#[derive(Deserialize)]
struct RecordView<'a> {
    #[serde(borrow)]
    target: Str<'a>,
    #[serde(borrow)]
    by: Str<'a>,
    outcome: Outcome,
    #[serde(default, borrow)]
    user_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    screen_name: Option<Str<'a>>,
    #[serde(default, rename = "http_status")]
    _http_status: Option<u16>,
    #[serde(default, rename = "error_code")]
    _error_code: Option<ErrorCode>,
    #[serde(default, rename = "message")]
    _message: Option<AnyStr>,
    #[serde(rename = "attempts")]
    _attempts: u32,
    #[serde(rename = "at")]
    _at: AnyStr,
}

/// A string borrowed from the line when it has no escapes (always, for what this tool writes).
#[derive(Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// Checks that a value is a string without keeping it.
struct AnyStr;

impl<'de> Deserialize<'de> for AnyStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AnyStr, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnyStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyStr, E> {
                Ok(AnyStr)
            }
        }
        deserializer.deserialize_str(V)
    }
}

fn index_record(index: &mut IndexBuilder, ids: &dyn Identities, line: &[u8]) -> Result<(), String> {
    let view: RecordView<'_> = serde_json::from_str(utf8(line)?).map_err(|e| json_reason(&e))?;
    let kind = ids
        .kind(&view.by.0)
        .ok_or_else(|| shorten(format!("not a valid target: unknown kind `{}`", view.by.0)))?;
    let key = ids
        .journal_key(kind, &view.target.0)
        .map_err(|e| shorten(format!("not a valid target: {e}")))?;
    index.set(key, view.outcome);
    // Aliases are hints from the response: one that is not a valid ID can match no target, so
    // it is dropped rather than costing the record. Usually it is the target itself, already
    // set and not parsed again.
    if let Some(user_id) = view.user_id.filter(|s| s.0 != view.target.0)
        && let Some(kind) = ids.kinds().iter().find(|k| k.space == Space::Id)
        && let Ok(alias) = ids.journal_key(kind, &user_id.0)
    {
        index.set(alias, view.outcome);
    }
    // The name is stored as the API returned it, not validated: a malformed one sits in the
    // index where no valid target looks.
    if let Some(name) = view.screen_name {
        index.set(TargetKey::name(&name.0), view.outcome);
    }
    Ok(())
}

/// A record's target, read back by its network's rules.
fn journal_target(ids: &dyn Identities, text: &str, by: &str) -> Result<Target, String> {
    let kind = ids
        .kind(by)
        .ok_or_else(|| shorten(format!("not a valid target: unknown kind `{by}`")))?;
    ids.read_journal(kind, text)
        .map_err(|e| shorten(format!("not a valid target: {e}")))
}

fn parse_header(line: &[u8]) -> Result<Header, HeaderProblem> {
    /// Only what identifies the file, so a newer header of another shape is still recognised.
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(default, borrow)]
        journal: Option<Str<'a>>,
        #[serde(default)]
        version: Option<u64>,
    }
    let ours = line.starts_with(HEADER_START);
    let probe: Probe<'_> = serde_json::from_slice(line).map_err(|e| {
        if ours {
            HeaderProblem::Damaged(json_reason(&e))
        } else {
            HeaderProblem::Foreign(format!(
                "line 1 is not a journal header: {}",
                json_reason(&e)
            ))
        }
    })?;
    if probe.journal.as_ref().map(|s| &*s.0) != Some(FORMAT_NAME) {
        return Err(HeaderProblem::Foreign(format!(
            "line 1 has no \"journal\":\"{FORMAT_NAME}\" field"
        )));
    }
    match probe.version {
        None => return Err(HeaderProblem::Damaged("the header has no version".into())),
        Some(0) => return Err(HeaderProblem::Damaged("the header has version 0".into())),
        Some(v) if v > u64::from(FORMAT_VERSION) => return Err(HeaderProblem::Newer(v)),
        Some(_) => {}
    }
    serde_json::from_slice(line).map_err(|e| HeaderProblem::Damaged(json_reason(&e)))
}

/// A first line cut short while the header was being written: nothing was recorded yet.
fn is_torn_header(line: &[u8]) -> bool {
    let prefix_of_ours = line.starts_with(HEADER_START) || HEADER_START.starts_with(line);
    prefix_of_ours
        && serde_json::from_slice::<de::IgnoredAny>(line)
            .err()
            .is_some_and(|e| e.is_eof())
}

/// The line as text, checked once: serde_json then need not check each string of it again.
fn utf8(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|e| {
        format!(
            "not valid JSON: invalid UTF-8 (column {})",
            e.valid_up_to() + 1
        )
    })
}

/// A serde_json error without its "at line 1" (always line 1 of a one-line slice).
fn json_reason(e: &serde_json::Error) -> String {
    let mut text = e.to_string();
    if let Some(at) = text.rfind(" at line ") {
        text.truncate(at);
    }
    let kind = match e.classify() {
        serde_json::error::Category::Data => "not a journal record",
        _ => "not valid JSON",
    };
    shorten(format!("{kind}: {text} (column {})", e.column()))
}

fn shorten(text: String) -> String {
    crate::display::shorten(&text, MAX_REASON_LEN).into_owned()
}

/// One line of a journal, without its `'\n'`.
struct Line<'a> {
    /// 1-based.
    number: u64,
    bytes: &'a [u8],
    /// The file ends inside this line (no `'\n'` after it).
    torn: bool,
}

impl Line<'_> {
    fn is_blank(&self) -> bool {
        self.bytes.trim_ascii().is_empty()
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut rest = bytes;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let (line, torn) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                (line, false)
            }
            None => (std::mem::take(&mut rest), true),
        };
        Some(Line {
            number,
            bytes: line,
            torn,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Full records, for reports and undo
// ---------------------------------------------------------------------------------------------

/// One line of a journal, fully parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Line 1.
    Header(Header),
    /// Any later line: the record, and its target read back by its network's rules.
    Record {
        /// The record as written.
        record: Record,
        /// Its target.
        target: Target,
    },
}

/// Streams a journal line by line: the header, then each record or the reason a line was
/// skipped. Blank lines after the header are passed over; a torn last line is reported as such.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = (u64, Result<Entry, SkippedLine>)> + '_ {
    let mut ids: Option<&'static dyn Identities> = None;
    lines(bytes).filter_map(move |line| {
        if line.number > 1 && line.is_blank() {
            return None;
        }
        let parsed = if line.number == 1 {
            parse_header(line.bytes)
                .inspect(|header| ids = Some(header.network.identities()))
                .map(Entry::Header)
                .map_err(|problem| match problem {
                    HeaderProblem::Foreign(reason) | HeaderProblem::Damaged(reason) => reason,
                    HeaderProblem::Newer(v) => format!(
                        "written by a newer version (format {v}, this build reads up to {FORMAT_VERSION})"
                    ),
                })
        } else {
            serde_json::from_slice::<Record>(line.bytes)
                .map_err(|e| json_reason(&e))
                .and_then(|record| {
                    let ids = ids.ok_or("no journal header before this record")?;
                    let target = journal_target(ids, &record.target, &record.by)?;
                    Ok(Entry::Record { record, target })
                })
        };
        let parsed = parsed.map_err(|reason| SkippedLine {
            line: line.number,
            reason: if line.torn {
                format!("the last line is cut short (a run was interrupted while writing it): {reason}")
            } else {
                reason
            },
        });
        Some((line.number, parsed))
    })
}

// ---------------------------------------------------------------------------------------------
// Reading and writing files
// ---------------------------------------------------------------------------------------------

/// Reads a journal without locking it (dry run, report). A missing file is an empty journal.
pub fn read(path: &Path) -> Result<Replay, JournalError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Replay::default()),
        Err(source) => {
            return Err(JournalError::Open {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(load(&mut file, path)?.replay)
}

/// Streams an open journal through the replay, refusing what is not a journal and warning
/// about damage: the shared first step of [`read`] and [`Journal::open`].
fn load(file: &mut File, path: &Path) -> Result<Streamed, JournalError> {
    let streamed = replay_file(file).map_err(|source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    streamed.replay.check_format(path)?;
    warn_about_damage(path, &streamed.replay);
    Ok(streamed)
}

/// What streaming a file through the replay saw, beside the replay itself.
struct Streamed {
    replay: Replay,
    /// The file held no bytes.
    empty: bool,
    /// The last byte read was a `'\n'` (or there was none).
    ends_with_newline: bool,
}

/// Lines are copied out of the file one at a time through a buffer of this size.
const READ_BUFFER: usize = 1 << 20;

/// Replays the bytes the file holds now, a line at a time, so memory does not grow with the
/// journal. Bounded by its length so that a device or a file still being appended to by a
/// running process cannot make the read endless.
fn replay_file(file: &mut File) -> io::Result<Streamed> {
    use std::io::BufRead;
    let len = file.metadata()?.len();
    let mut reader = io::BufReader::with_capacity(READ_BUFFER, file.take(len));
    let mut replayer = Replayer::default();
    let mut buffer = Vec::with_capacity(256);
    let mut number = 0;
    let mut streamed = Streamed {
        replay: Replay::default(),
        empty: true,
        ends_with_newline: true,
    };
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            break;
        }
        number += 1;
        streamed.empty = false;
        let torn = buffer.last() != Some(&b'\n');
        streamed.ends_with_newline = !torn;
        let bytes = if torn {
            &buffer[..]
        } else {
            &buffer[..buffer.len() - 1]
        };
        if !replayer.line(&Line {
            number,
            bytes,
            torn,
        }) {
            break;
        }
    }
    streamed.replay = replayer.finish();
    Ok(streamed)
}

fn warn_about_damage(path: &Path, replay: &Replay) {
    if replay.torn_tail {
        tracing::warn!(
            "journal {}: the last line was cut short (a run was interrupted while writing it); \
             it is ignored and its target will be tried again",
            path.display()
        );
    }
    if let Some(first) = replay.skipped.first() {
        tracing::warn!(
            "journal {}: skipped {} damaged line(s); the first is line {}: {}",
            path.display(),
            replay.skipped_total,
            first.line,
            first.reason
        );
    }
}

/// When the writer forces its records to disk. `fsync` per record would cap a run at the
/// disk's sync rate; batching bounds what a power loss can cost to one batch, which the next
/// run simply sends again (unblocking twice is harmless). A killed process loses nothing
/// written: the records are in the operating system's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPolicy {
    /// Sync after this many records since the last sync.
    pub every_records: u32,
    /// Sync at the first record written this long after the last sync.
    pub every: Duration,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy {
            every_records: 64,
            every: Duration::from_secs(1),
        }
    }
}

impl SyncPolicy {
    /// Whether a sync is due with `unsynced` records written `since_sync` after the last one.
    pub fn is_due(&self, unsynced: u32, since_sync: Duration) -> bool {
        unsynced > 0 && (unsynced >= self.every_records || since_sync >= self.every)
    }
}

/// The journal writer. Exactly one per run; only the pipeline's single writer task holds it,
/// so lines never interleave. The file stays locked for as long as this value lives.
#[derive(Debug)]
pub struct Journal {
    /// Opened for appending: every write lands at the end, whatever else happened to the file.
    file: File,
    path: PathBuf,
    /// The header on file, once there is one; records are refused before it.
    header: Option<Header>,
    policy: SyncPolicy,
    unsynced: u32,
    last_sync: Instant,
    /// A write failed part-way, so the next line must begin with a `'\n'` of its own.
    needs_newline: bool,
    /// Reused serialisation buffer: one line, written whole.
    line: Vec<u8>,
}

impl Journal {
    /// Opens (creating if missing) and locks the journal, and replays what it holds. A file
    /// left ending inside a line gets a `'\n'` so the next record starts on a line of its own;
    /// a file holding only a header cut short is emptied, since it recorded nothing.
    pub fn open(path: &Path) -> Result<(Journal, Replay), JournalError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| JournalError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        // The lock is on the journal itself: it dies with the process, so no stale lock file
        // can ever block a rerun.
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(JournalError::Lock {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        let Streamed {
            replay,
            empty,
            ends_with_newline,
        } = load(&mut file, path)?;

        let mut journal = Journal::over(file, path, replay.header.clone());
        if replay.header.is_none() && !empty {
            // check_format passed, so this is a header torn while being written.
            journal
                .file
                .set_len(0)
                .map_err(|source| journal.write_error(source))?;
        } else if !ends_with_newline {
            journal
                .file
                .write_all(b"\n")
                .map_err(|source| journal.write_error(source))?;
        }
        Ok((journal, replay))
    }

    /// A writer over an already opened, locked file whose content has been replayed.
    fn over(file: File, path: &Path, header: Option<Header>) -> Journal {
        Journal {
            file,
            path: path.to_path_buf(),
            header,
            policy: SyncPolicy::default(),
            unsynced: 0,
            last_sync: Instant::now(),
            needs_newline: false,
            line: Vec::with_capacity(256),
        }
    }

    /// Writes the header if the journal has none, and syncs: this proves the file is writable
    /// before anything is sent. A journal that already has a header must have been written for
    /// the same account and action.
    pub fn write_header(&mut self, header: &Header) -> Result<(), JournalError> {
        if let Some(existing) = &self.header {
            return check_header_fits(&self.path, existing, &header.account_id, header.action);
        }
        self.write_line(header)?;
        self.sync()?;
        sync_parent_dir(&self.path);
        self.header = Some(header.clone());
        Ok(())
    }

    /// Appends one record as one line with a single `write_all`, so a killed process leaves
    /// at most one torn line, and syncs when the [`SyncPolicy`] says so.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        if self.header.is_none() {
            return Err(JournalError::NoHeader {
                path: self.path.clone(),
            });
        }
        self.write_line(record)?;
        self.unsynced = self.unsynced.saturating_add(1);
        if self.policy.is_due(self.unsynced, self.last_sync.elapsed()) {
            self.sync()?;
        }
        Ok(())
    }

    /// Forces everything written so far to disk (called at exit, and whenever the caller
    /// wants a point it can rely on).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.file.sync_data().map_err(|source| JournalError::Sync {
            path: self.path.clone(),
            source,
        })?;
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Syncs when records wait and the policy's time is up, so a run held for a long pause
    /// (a spent rate window) does not leave its last records unsynced for that long.
    pub fn sync_if_due(&mut self) -> Result<(), JournalError> {
        if self.policy.is_due(self.unsynced, self.last_sync.elapsed()) {
            self.sync()?;
        }
        Ok(())
    }

    /// The journal's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line<T: Serialize>(&mut self, value: &T) -> Result<(), JournalError> {
        self.line.clear();
        if self.needs_newline {
            // A blank line is harmless to the replay; a record glued to a torn one is not.
            self.line.push(b'\n');
        }
        serde_json::to_writer(&mut self.line, value).map_err(|source| JournalError::Serialize {
            path: self.path.clone(),
            source,
        })?;
        // serde_json escapes control characters, so the line holds no '\n' of its own.
        self.line.push(b'\n');
        if let Err(source) = self.file.write_all(&self.line) {
            self.needs_newline = true;
            return Err(self.write_error(source));
        }
        self.needs_newline = false;
        Ok(())
    }

    fn write_error(&self, source: io::Error) -> JournalError {
        JournalError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for Journal {
    /// A safety net for paths that return early: the caller's own [`Journal::sync`] at exit is
    /// the one that can report a failure.
    fn drop(&mut self) {
        if self.unsynced > 0 {
            let _ = self.file.sync_data();
        }
    }
}

/// The action as the journal writes it.
fn action_name(action: Action) -> &'static str {
    match action {
        Action::Unblock => "unblock",
        Action::Block => "block",
    }
}

/// Makes a newly created journal's directory entry durable. Best effort: some filesystems do
/// not allow syncing a directory, and the file's own data is already synced.
fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Why the journal cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened or created.
    #[error("cannot open journal {}", path.display())]
    Open {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another run holds the journal.
    #[error(
        "journal {} is in use by another run; wait for it to finish, or use another journal",
        path.display()
    )]
    Locked {
        /// The journal.
        path: PathBuf,
    },
    /// Locking failed for another reason than a second run.
    #[error("cannot lock journal {}", path.display())]
    Lock {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading failed.
    #[error("cannot read journal {}", path.display())]
    Read {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing failed (disk full, read-only filesystem...).
    #[error("cannot write to journal {}", path.display())]
    Write {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Syncing to disk failed: what was written may not be durable.
    #[error("cannot sync journal {} to disk", path.display())]
    Sync {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A record could not be serialised (not expected for the types written here).
    #[error("cannot serialise a record for journal {}", path.display())]
    Serialize {
        /// The journal.
        path: PathBuf,
        /// The serialisation error.
        #[source]
        source: serde_json::Error,
    },
    /// The file is someone else's: it is left untouched.
    #[error(
        "{} is not a bulk-unblock journal ({reason}); refusing to write to it, choose another file",
        path.display()
    )]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What line 1 holds instead of a header.
        reason: String,
    },
    /// The journal was written by a newer version of this tool.
    #[error(
        "journal {} was written by a newer version of bulk-unblock (format {found}, this build \
         reads up to {FORMAT_VERSION}); upgrade, or use another journal",
        path.display()
    )]
    NewerVersion {
        /// The journal.
        path: PathBuf,
        /// The version in its header.
        found: u64,
    },
    /// The header names this tool but cannot be read.
    #[error("journal {} has a damaged header ({reason})", path.display())]
    DamagedHeader {
        /// The journal.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal was written for another account.
    #[error(
        "journal {} was written for account {journal_account}, but the credentials are for \
         account {account}; use another journal for this account",
        path.display()
    )]
    OtherAccount {
        /// The journal.
        path: PathBuf,
        /// The account in its header (ID, and screen name when known).
        journal_account: String,
        /// The authenticating account's ID.
        account: String,
    },
    /// The journal was written for another network.
    #[error(
        "journal {} belongs to a {journal_network} run, but this run is on {network}; use \
         another journal",
        path.display()
    )]
    OtherNetwork {
        /// The journal.
        path: PathBuf,
        /// The network in its header.
        journal_network: NetworkId,
        /// The network of this run.
        network: NetworkId,
    },
    /// The journal was written by a run doing the other action.
    #[error(
        "journal {} records a `{}` run, but this run would `{}`; use another journal",
        path.display(),
        action_name(*journal_action),
        action_name(*action)
    )]
    OtherAction {
        /// The journal.
        path: PathBuf,
        /// The action in its header.
        journal_action: Action,
        /// The action of this run.
        action: Action,
    },
    /// A record was appended before the header: the file would no longer be a journal.
    #[error("journal {}: a record was written before the header", path.display())]
    NoHeader {
        /// The journal.
        path: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};

    fn header(account_id: &str, action: Action) -> Header {
        Header {
            journal: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            network: NetworkId::X,
            account_id: account_id.into(),
            account_screen_name: Some("me".into()),
            action,
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn record(target: &Target, outcome: Outcome) -> Record {
        Record {
            target: target.to_string(),
            by: target.kind().name.to_owned(),
            outcome,
            user_id: None,
            screen_name: None,
            http_status: Some(200),
            error_code: None,
            message: None,
            attempts: 1,
            at: "2026-01-01T00:00:01Z".into(),
        }
    }

    /// The entry `records` gives for `record`.
    fn entry(record: Record) -> Entry {
        let ids = NetworkId::X.identities();
        let target = journal_target(ids, &record.target, &record.by).expect("a valid target");
        Entry::Record { record, target }
    }

    fn line_of<T: Serialize>(value: &T) -> Vec<u8> {
        let mut line = serde_json::to_vec(value).unwrap();
        line.push(b'\n');
        line
    }

    /// A journal file written through `Journal`, and its path.
    fn written(records: &[Record]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.write_header(&header("1", Action::Unblock)).unwrap();
        for r in records {
            journal.append(r).unwrap();
        }
        journal.sync().unwrap();
        (dir, path)
    }

    #[test]
    fn round_trip_keeps_the_latest_outcome_and_the_aliases_the_api_revealed() {
        let mut by_name = record(&name("Bob"), Outcome::Unblocked);
        by_name.user_id = Some("20".into());
        let mut by_id = record(&id(30), Outcome::NotFound);
        by_id.screen_name = Some("Zed".into());
        by_id.message = Some("User not found.\n\"quoted\" é".into());
        let records = [
            record(&id(1), Outcome::Failed),
            record(&id(1), Outcome::Unblocked),
            by_name,
            by_id,
            record(&name("Eve"), Outcome::Unblocked),
            record(&name("EVE"), Outcome::Failed),
        ];
        let (_dir, path) = written(&records);

        let replay = read(&path).unwrap();
        assert_eq!(replay.header, Some(header("1", Action::Unblock)));
        assert_eq!(replay.records, 6);
        assert!(replay.skipped.is_empty() && !replay.torn_tail);
        assert_eq!(
            replay.latest(&TargetKey::id(&(1).to_string())),
            Some(Outcome::Unblocked)
        );
        assert_eq!(
            replay.latest(&TargetKey::name("bob")),
            Some(Outcome::Unblocked)
        );
        assert!(replay.is_done(&id(20)), "alias from user_id");
        assert!(replay.is_done(&name("ZED")), "alias from screen_name");
        assert_eq!(
            replay.latest(&TargetKey::id(&(30).to_string())),
            Some(Outcome::NotFound)
        );
        assert_eq!(
            replay.latest(&TargetKey::name("eve")),
            Some(Outcome::Failed)
        );
        assert!(!replay.is_done(&name("eve")));
        assert_eq!(replay.latest(&TargetKey::id(&(2).to_string())), None);
        assert_eq!(
            replay.latest(&TargetKey::name("20")),
            None,
            "an ID is not a name"
        );

        // Everything written comes back whole, in order, with its line number.
        let entries: Vec<_> = records_of(&path);
        assert_eq!(entries.len(), 7);
        assert_eq!(
            entries[0],
            (1, Ok(Entry::Header(header("1", Action::Unblock))))
        );
        for (i, r) in records.iter().enumerate() {
            assert_eq!(entries[i + 1], (i as u64 + 2, Ok(entry(r.clone()))));
        }

        // Reopening resumes: the header is not written twice, new records follow.
        let (mut journal, again) = Journal::open(&path).unwrap();
        assert_eq!(again.records, 6);
        journal.write_header(&header("1", Action::Unblock)).unwrap();
        journal
            .append(&record(&name("eve"), Outcome::Unblocked))
            .unwrap();
        drop(journal);
        let replay = read(&path).unwrap();
        assert_eq!(replay.records, 7);
        assert!(replay.is_done(&name("Eve")));
        let headers = records_of(&path)
            .into_iter()
            .filter(|(_, e)| matches!(e, Ok(Entry::Header(_))))
            .count();
        assert_eq!(headers, 1);
    }

    #[test]
    fn every_record_writes_status_code_and_message_as_null_when_there_is_none() {
        let mut bare = record(&id(7), Outcome::Failed);
        bare.http_status = None;
        let (_dir, path) = written(&[bare.clone(), record(&name("ann"), Outcome::Unblocked)]);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                r#"{"target":"7","by":"user_id","outcome":"failed","http_status":null,"error_code":null,"message":null,"attempts":1,"at":"2026-01-01T00:00:01Z"}"#,
                r#"{"target":"ann","by":"screen_name","outcome":"unblocked","http_status":200,"error_code":null,"message":null,"attempts":1,"at":"2026-01-01T00:00:01Z"}"#,
            ]
        );
        let written_back = read(&path).unwrap();
        assert_eq!((written_back.records, written_back.skipped_total), (2, 0));
        assert_eq!(records_of(&path)[1].1, Ok(entry(bare.clone())));

        // Journals written before the fields were always present still read, both ways.
        let mut old = line_of(&header("1", Action::Unblock));
        old.extend(br#"{"target":"7","by":"user_id","outcome":"unblocked","attempts":1,"at":"2026-01-01T00:00:01Z"}"#);
        old.push(b'\n');
        let old_replay = replay(&old);
        assert_eq!((old_replay.records, old_replay.skipped_total), (1, 0));
        assert!(old_replay.is_done(&id(7)));
        let mut expected = bare;
        expected.outcome = Outcome::Unblocked;
        assert_eq!(
            records(&old).nth(1).map(|(_, e)| e),
            Some(Ok(entry(expected)))
        );
    }

    fn records_of(path: &Path) -> Vec<(u64, Result<Entry, SkippedLine>)> {
        records(&std::fs::read(path).unwrap()).collect()
    }

    #[test]
    fn records_lists_every_line_in_order_with_its_number() {
        let first = record(&id(5), Outcome::Unblocked);
        let second = record(&name("x_y"), Outcome::Suspended);
        let mut bytes = line_of(&header("1", Action::Unblock));
        bytes.extend(line_of(&first));
        bytes.extend(b"garbage\n\n");
        bytes.extend(line_of(&second));
        bytes.extend(br#"{"target":"0","by":"user_id","outcome":"failed","attempts":1,"at":"t"}"#);
        bytes.push(b'\n');
        bytes.extend(br#"{"target":"9","by":"us"#);

        let entries: Vec<_> = records(&bytes).collect();
        let numbers: Vec<u64> = entries.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 2, 3, 5, 6, 7]);
        assert_eq!(
            entries[0].1,
            Ok(Entry::Header(header("1", Action::Unblock)))
        );
        assert_eq!(entries[1].1, Ok(entry(first)));
        assert_eq!(entries[3].1, Ok(entry(second)));
        for (n, entry) in [&entries[2], &entries[4], &entries[5]] {
            let skipped = entry.as_ref().unwrap_err();
            assert_eq!(skipped.line, *n);
        }
        assert!(
            entries[2]
                .1
                .as_ref()
                .unwrap_err()
                .reason
                .contains("not valid JSON")
        );
        assert!(
            entries[4]
                .1
                .as_ref()
                .unwrap_err()
                .reason
                .contains("greater than zero")
        );
        assert!(
            entries[5]
                .1
                .as_ref()
                .unwrap_err()
                .reason
                .contains("cut short")
        );

        // The replay agrees: same records, same skipped lines, the last one torn.
        let replay = replay(&bytes);
        assert_eq!(replay.records, 2);
        let skipped: Vec<u64> = replay.skipped.iter().map(|s| s.line).collect();
        assert_eq!(skipped, [3, 6]);
        assert_eq!(replay.skipped_total, 2);
        assert!(replay.torn_tail);
    }

    #[test]
    fn a_record_torn_at_any_byte_costs_only_itself_and_the_next_one_starts_a_new_line() {
        let kept = [
            record(&id(1), Outcome::Unblocked),
            record(&name("two"), Outcome::NotFound),
        ];
        let last = record(&id(3), Outcome::Unblocked);
        let mut all = kept.to_vec();
        all.push(last.clone());
        let (dir, path) = written(&all);
        let bytes = std::fs::read(&path).unwrap();
        let last_start = bytes.len() - line_of(&last).len();

        for cut in last_start..=bytes.len() {
            let damaged = &bytes[..cut];
            // The record is whole once its closing brace is in, even without the '\n'.
            let complete = cut >= bytes.len() - 1;
            let torn = cut > last_start && !complete;
            let replay = replay(damaged);
            assert_eq!(replay.records, 2 + u64::from(complete), "cut at {cut}");
            assert_eq!(replay.torn_tail, torn, "cut at {cut}");
            assert!(replay.skipped.is_empty(), "cut at {cut}");
            assert!(replay.is_done(&id(1)) && replay.is_done(&name("TWO")));
            assert_eq!(replay.is_done(&id(3)), complete, "cut at {cut}");

            let copy = dir.path().join("cut.jsonl");
            std::fs::write(&copy, damaged).unwrap();
            let (mut journal, opened) = Journal::open(&copy).unwrap();
            assert_eq!(opened.records, replay.records);
            journal.write_header(&header("1", Action::Unblock)).unwrap();
            journal.append(&record(&id(4), Outcome::Blocked)).unwrap();
            drop(journal);

            let after = read(&copy).unwrap();
            assert_eq!(after.records, 3 + u64::from(complete), "cut at {cut}");
            assert_eq!(
                after.latest(&TargetKey::id(&(4).to_string())),
                Some(Outcome::Blocked)
            );
            assert!(!after.torn_tail);
            // The torn line is now an ordinary skipped line of its own.
            let skipped: Vec<u64> = after.skipped.iter().map(|s| s.line).collect();
            assert_eq!(skipped, if torn { vec![4] } else { vec![] }, "cut at {cut}");
        }
    }

    #[test]
    fn a_header_torn_while_being_written_leaves_a_fresh_journal() {
        let full = line_of(&header("1", Action::Unblock));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        for cut in 1..full.len() - 1 {
            std::fs::write(&path, &full[..cut]).unwrap();
            let replay = read(&path).unwrap();
            assert!(replay.header.is_none() && replay.torn_tail, "cut at {cut}");

            let (mut journal, _) = Journal::open(&path).unwrap();
            journal.write_header(&header("1", Action::Unblock)).unwrap();
            journal.append(&record(&id(8), Outcome::Unblocked)).unwrap();
            drop(journal);
            let replay = read(&path).unwrap();
            assert_eq!(
                replay.header,
                Some(header("1", Action::Unblock)),
                "cut at {cut}"
            );
            assert_eq!((replay.records, replay.skipped_total), (1, 0));
        }
    }

    #[test]
    fn a_second_writer_is_refused_until_the_first_is_gone() {
        let (_dir, path) = written(&[]);
        let (first, _) = Journal::open(&path).unwrap();
        let err = Journal::open(&path).unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
        // Readers do not lock.
        assert!(read(&path).is_ok());
        drop(first);
        assert!(Journal::open(&path).is_ok());
    }

    #[test]
    fn someone_elses_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        for content in [
            &b"user_id,screen_name\n1,bob\n"[..],
            b"\n",
            b"{\"journal\":\"other-tool\",\"version\":1}\n",
            b"[1,2,3]",
        ] {
            let path = dir.path().join("targets.csv");
            std::fs::write(&path, content).unwrap();
            let shown = path.display().to_string();
            for err in [read(&path).unwrap_err(), Journal::open(&path).unwrap_err()] {
                assert!(matches!(err, JournalError::NotAJournal { .. }), "{err:?}");
                let msg = err.to_string();
                assert!(
                    msg.contains(&format!("{shown} is not a bulk-unblock journal")),
                    "{msg}"
                );
            }
            assert_eq!(std::fs::read(&path).unwrap(), content);
        }
    }

    #[test]
    fn a_newer_or_damaged_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut newer = header("1", Action::Unblock);
        newer.version = FORMAT_VERSION + 1;
        std::fs::write(&path, line_of(&newer)).unwrap();
        let err = Journal::open(&path).unwrap_err();
        assert!(
            matches!(err, JournalError::NewerVersion { found, .. } if found == u64::from(FORMAT_VERSION) + 1)
        );
        assert!(err.to_string().contains(&path.display().to_string()));
        assert!(err.to_string().contains("newer version"));

        std::fs::write(&path, b"{\"journal\":\"bulk-unblock\",\"version\":1}\n").unwrap();
        let err = read(&path).unwrap_err();
        assert!(matches!(err, JournalError::DamagedHeader { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn a_journal_of_another_account_or_action_is_refused_naming_both() {
        let (_dir, path) = written(&[record(&id(1), Outcome::Unblocked)]);
        let replay = read(&path).unwrap();
        let shown = path.display().to_string();
        assert!(replay.check_account(&path, "1", Action::Unblock).is_ok());

        let err = replay
            .check_account(&path, "2", Action::Unblock)
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, JournalError::OtherAccount { .. }));
        assert!(
            msg.contains(&shown) && msg.contains("account 1 (@me)") && msg.contains("account 2"),
            "{msg}"
        );

        let err = replay.check_account(&path, "1", Action::Block).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, JournalError::OtherAction { .. }));
        assert!(
            msg.contains(&shown) && msg.contains("`unblock`") && msg.contains("`block`"),
            "{msg}"
        );

        // The writer holds the same line.
        let (mut journal, _) = Journal::open(&path).unwrap();
        let err = journal
            .write_header(&header("2", Action::Unblock))
            .unwrap_err();
        assert!(matches!(err, JournalError::OtherAccount { .. }));
        // A fresh journal fits any account.
        assert!(
            Replay::default()
                .check_account(&path, "2", Action::Block)
                .is_ok()
        );
    }

    #[test]
    fn a_missing_file_reads_as_an_empty_journal_and_records_need_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.jsonl");
        let replay = read(&path).unwrap();
        assert!(replay.header.is_none() && replay.records == 0);
        assert!(!path.exists(), "reading must not create the file");

        let (mut journal, _) = Journal::open(&path).unwrap();
        let err = journal
            .append(&record(&id(1), Outcome::Unblocked))
            .unwrap_err();
        assert!(matches!(err, JournalError::NoHeader { .. }));
        drop(journal);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn a_full_disk_surfaces_an_error_naming_the_journal() {
        let path = Path::new("/dev/full");
        let Ok(file) = OpenOptions::new().append(true).open(path) else {
            eprintln!("skipped: /dev/full is not available");
            return;
        };
        let mut journal = Journal::over(file, path, Some(header("1", Action::Unblock)));
        let err = journal
            .append(&record(&id(1), Outcome::Unblocked))
            .unwrap_err();
        assert!(
            matches!(&err, JournalError::Write { source, .. } if source.raw_os_error() == Some(28)),
            "{err:?}"
        );
        assert!(err.to_string().contains("/dev/full"));

        // Once space is back, the next record must not be glued to whatever part of the failed
        // line reached the file: here, a partial write is simulated by a torn line.
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("journal.jsonl");
        let mut content = line_of(&header("1", Action::Unblock));
        content.extend(br#"{"target":"1","by":"user_id","outc"#);
        std::fs::write(&real, &content).unwrap();
        journal.file = OpenOptions::new().append(true).open(&real).unwrap();
        journal.append(&record(&id(2), Outcome::Unblocked)).unwrap();
        let replay = read(&real).unwrap();
        assert_eq!(replay.records, 1);
        assert!(replay.is_done(&id(2)));
        assert_eq!(
            replay.skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            [2]
        );
        // The header write goes through the same path, before anything is sent.
        if let Ok((mut journal, _)) = Journal::open(path) {
            let err = journal
                .write_header(&header("1", Action::Unblock))
                .unwrap_err();
            assert!(matches!(err, JournalError::Write { .. }), "{err:?}");
        }
    }

    #[test]
    fn sync_is_due_after_a_batch_or_a_while_and_never_for_nothing() {
        let policy = SyncPolicy::default();
        let short = Duration::from_millis(10);
        assert!(!policy.is_due(0, Duration::from_secs(60)));
        assert!(!policy.is_due(63, short));
        assert!(policy.is_due(64, short));
        assert!(policy.is_due(1, Duration::from_secs(1)));
    }

    #[test]
    fn the_latest_record_wins_among_thousands_of_repeats() {
        // Enough entries for the index's slot-ordered build to use a real sort, not the
        // insertion sort short slices get.
        let mut bytes = line_of(&header("1", Action::Unblock));
        let mut expected = std::collections::HashMap::new();
        for i in 0..20_000u64 {
            let n = (i * 7919) % 1000 + 1;
            let outcome = Outcome::ALL[(i / 1000 % Outcome::ALL.len() as u64) as usize];
            let mut r = record(&id(n), outcome);
            r.screen_name = Some(format!("N{}", n % 300));
            expected.insert(TargetKey::id(&n.to_string()), outcome);
            expected.insert(TargetKey::name(&format!("n{}", n % 300)), outcome);
            bytes.extend(line_of(&r));
        }
        let replay = replay(&bytes);
        assert_eq!(replay.records, 20_000);
        for (key, outcome) in &expected {
            assert_eq!(replay.latest(key), Some(*outcome), "{key:?}");
        }
        assert_eq!(replay.index.len(), expected.len());
    }

    #[test]
    fn garbage_past_the_listing_limit_is_counted_not_kept() {
        let mut bytes = line_of(&header("1", Action::Unblock));
        for _ in 0..MAX_LISTED_SKIPS + 5 {
            bytes.extend(b"x\n");
        }
        bytes.extend(line_of(&record(&id(1), Outcome::Unblocked)));
        let replay = replay(&bytes);
        assert_eq!(replay.skipped.len(), MAX_LISTED_SKIPS);
        assert_eq!(replay.skipped_total, MAX_LISTED_SKIPS as u64 + 5);
        assert_eq!(replay.records, 1);
    }

    #[test]
    fn a_line_of_invalid_utf8_is_skipped_with_its_reason_and_costs_nothing_else() {
        let mut bytes = line_of(&header("1", Action::Unblock));
        bytes.extend(line_of(&record(&id(1), Outcome::Unblocked)));
        let mut bad = line_of(&record(&id(2), Outcome::Unblocked));
        bad[3] = 0xff;
        bytes.extend(bad);
        bytes.extend(line_of(&record(&id(3), Outcome::NotFound)));
        let replay = replay(&bytes);
        assert_eq!(replay.records, 2);
        assert_eq!(replay.skipped.len(), 1);
        assert_eq!(replay.skipped[0].line, 3);
        assert!(
            replay.skipped[0]
                .reason
                .contains("invalid UTF-8 (column 4)"),
            "{:?}",
            replay.skipped[0]
        );
        assert!(replay.is_done(&id(1)) && replay.is_done(&id(3)));
        assert!(!replay.is_done(&id(2)));
    }

    // --- damage anywhere, as a property -------------------------------------------------------

    #[derive(Clone, Debug)]
    enum Piece {
        Record(Record),
        Garbage(String),
    }

    fn target() -> impl Strategy<Value = Target> {
        prop_oneof![
            (1u64..10).prop_map(id),
            prop::sample::select(vec!["ann", "Bob", "c_3", "12"]).prop_map(name),
        ]
    }

    fn any_record() -> impl Strategy<Value = Record> {
        (
            target(),
            prop::sample::select(Outcome::ALL.to_vec()),
            prop::option::of(1u64..10),
            prop::option::of(prop::sample::select(vec!["ann", "BOB", "dee"])),
            prop::option::of("[a-z\"\\\\\n é]{0,8}"),
        )
            .prop_map(|(t, outcome, uid, screen, message)| {
                let mut r = record(&t, outcome);
                r.user_id = uid.map(|u| u.to_string());
                r.screen_name = screen.map(str::to_owned);
                r.message = message;
                r
            })
    }

    fn garbage() -> impl Strategy<Value = String> {
        prop_oneof![
            "[#a-z][ -~]{0,30}",
            Just(r#"{"target":"5"}"#.to_owned()),
            Just(
                r#"{"target":"0","by":"user_id","outcome":"failed","attempts":1,"at":"t"}"#
                    .to_owned()
            ),
            Just(
                r#"{"target":"5","by":"user_id","outcome":"gone","attempts":1,"at":"t"}"#
                    .to_owned()
            ),
        ]
    }

    fn pieces() -> impl Strategy<Value = Vec<Piece>> {
        prop::collection::vec(
            prop_oneof![
                4 => any_record().prop_map(Piece::Record),
                1 => garbage().prop_map(Piece::Garbage),
            ],
            0..25,
        )
    }

    /// The latest outcome of `key` among `records`, by a plain backwards scan.
    fn model_latest(records: &[&Record], key: &TargetKey) -> Option<Outcome> {
        records.iter().rev().find_map(|r| {
            let ids = NetworkId::X.identities();
            let own = journal_target(ids, &r.target, &r.by).ok().map(|t| t.key());
            let by_id = r
                .user_id
                .as_deref()
                .and_then(|u| ids.account(u))
                .map(|t| t.key());
            let by_name = r.screen_name.as_deref().map(TargetKey::name);
            [own, by_id, by_name]
                .contains(&Some(key.clone()))
                .then_some(r.outcome)
        })
    }

    fn all_keys() -> Vec<TargetKey> {
        let mut keys: Vec<TargetKey> = (1..10)
            .map(|n: u64| TargetKey::id(&n.to_string()))
            .collect();
        keys.extend(["ann", "bob", "c_3", "12", "dee"].map(TargetKey::name));
        keys
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn damage_anywhere_never_costs_a_complete_record(pieces in pieces(), cut_at in any::<prop::sample::Index>()) {
            let mut bytes = line_of(&header("1", Action::Unblock));
            let header_len = bytes.len() - 1;
            // (start, end without '\n', piece) for every line after the header.
            let mut spans = Vec::new();
            for piece in &pieces {
                let start = bytes.len();
                match piece {
                    Piece::Record(r) => bytes.extend(serde_json::to_vec(r).unwrap()),
                    Piece::Garbage(g) => bytes.extend(g.as_bytes()),
                }
                spans.push((start, bytes.len(), piece));
                bytes.push(b'\n');
            }
            let cut = cut_at.index(bytes.len() + 1);
            let damaged = &bytes[..cut];
            let replay = replay(damaged);

            if cut < header_len {
                prop_assert!(replay.header.is_none());
                prop_assert_eq!(replay.torn_tail, cut > 0);
                prop_assert!(replay.check_format(Path::new("j")).is_ok());
            } else {
                prop_assert!(replay.header.is_some());
                let complete: Vec<&Record> = spans.iter().filter_map(|(_, end, p)| match p {
                    Piece::Record(r) if *end <= cut => Some(r),
                    _ => None,
                }).collect();
                let skipped: Vec<u64> = spans.iter().enumerate().filter_map(|(i, (_, end, p))| {
                    matches!(p, Piece::Garbage(_) if *end < cut).then_some(i as u64 + 2)
                }).collect();
                let torn = spans.iter().any(|(start, end, p)| {
                    *start < cut && (cut < *end || (cut == *end && matches!(p, Piece::Garbage(_))))
                });
                prop_assert_eq!(replay.records, complete.len() as u64);
                prop_assert_eq!(replay.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), skipped);
                prop_assert_eq!(replay.torn_tail, torn);
                for key in all_keys() {
                    prop_assert_eq!(replay.latest(&key), model_latest(&complete, &key), "{:?}", key);
                }
            }

            // Resuming on the damaged file: the next record is read back, nothing earlier is lost.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            std::fs::write(&path, damaged).unwrap();
            let (mut journal, before) = Journal::open(&path).unwrap();
            journal.write_header(&header("1", Action::Unblock)).unwrap();
            let next = record(&id(999), Outcome::Failed);
            journal.append(&next).unwrap();
            drop(journal);
            let after = read(&path).unwrap();
            prop_assert!(!after.torn_tail);
            prop_assert_eq!(after.records, before.records + 1);
            prop_assert_eq!(after.latest(&TargetKey::id(&(999).to_string())), Some(Outcome::Failed));
            for key in all_keys() {
                prop_assert_eq!(after.latest(&key), before.latest(&key));
            }
            let torn_line_now_skipped = u64::from(before.torn_tail && before.header.is_some());
            prop_assert_eq!(after.skipped_total, before.skipped_total + torn_line_now_skipped);
        }
    }

    /// Run with `cargo test --release --lib journal -- --ignored` to check the performance target.
    #[test]
    #[ignore = "performance check, meaningful in release builds only"]
    fn a_million_records_replay_quickly_and_compactly() {
        let mut bytes = line_of(&header("1", Action::Unblock));
        for i in 1..=1_000_000u64 {
            let mut r = record(&id(i), Outcome::Unblocked);
            r.user_id = Some(i.to_string());
            r.screen_name = Some(format!("user_{i}"));
            r.message = Some("ok".into());
            bytes.extend(line_of(&r));
        }
        // Best of three: the machine may be busy with other work.
        let mut took = Duration::MAX;
        let mut replay = Replay::default();
        for _ in 0..3 {
            let started = Instant::now();
            replay = super::replay(&bytes);
            took = took.min(started.elapsed());
        }
        eprintln!(
            "{} MB replayed in {took:?}, index ≈ {} MB",
            bytes.len() / 1_000_000,
            replay.index_bytes() / 1_000_000
        );
        assert_eq!(replay.records, 1_000_000);
        assert!(replay.is_done(&name("USER_777")) && replay.is_done(&id(777)));
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert!(replay.index_bytes() < 100_000_000);
    }
}

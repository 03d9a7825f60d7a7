//! Turns what the user hands us (a CSV export, a plain list, a network's own export file)
//! into [`Target`]s, and says precisely which lines could not be used and why.
//!
//! People gather the accounts to unblock from many places: spreadsheets, scripts, copied profile
//! links, the networks' own exports. Rather than make them convert, every reader here accepts the
//! format as it comes and reports each unusable line as `FILE:LINE: reason` instead of failing
//! the whole input, so that one typo in a list of a hundred thousand accounts costs one line.
//! Parsing is pure ([`parse`], [`detect`]); only [`read`] touches files. Duplicates are kept in
//! input order on purpose: the planner counts them.
//!
//! The formats are the same on every network: what a token or a CSV cell means is the
//! network's ([`Identities`]), and so is any whole-file format of its own (X's `block.js`).
//!
//! Nothing is dropped without a word. A choice the reader makes for the user (a lone first line
//! `handle` is a CSV header, not a name) comes back as a [`Notice`], and an input that cannot be
//! read as a whole (an archive cut short) is an error of its own, which `--skip-invalid` does
//! not skip: what is missing from it is not a line anyone could list.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::target::{Kind, Space, Target, TargetKey};

/// A CSV header column a network recognises, and the kind of identity its cells hold.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The column's name, matched ignoring ASCII case, surrounding spaces and quotes.
    pub name: &'static str,
    /// The kind of identity in its cells.
    pub kind: &'static Kind,
}

/// A network's identities as they appear in the user's files and in the journal: what a token
/// of a list, a CSV cell, or a journal record names. Each network has one (or one per mode,
/// such as Mastodon's domains); the readers here and the journal use nothing else.
pub trait Identities: Sync {
    /// Every kind of identity the network has, accounts by ID first, then by name, then the
    /// rest (a CSV row uses the first kind whose column it fills).
    fn kinds(&self) -> &'static [&'static Kind];

    /// The kind a journal's `by` names.
    fn kind(&self, by: &str) -> Option<&'static Kind> {
        self.kinds().iter().copied().find(|k| k.name == by)
    }

    /// Reads a target back from its journal form (`target` and its kind), by the rules its
    /// parser applied when it was written.
    fn read_journal(&self, kind: &'static Kind, text: &str) -> Result<Target, String>;

    /// The key of a journal form, checked as [`Identities::read_journal`] checks it. The
    /// replay of a million records asks this once a record; a network whose IDs are numbers
    /// can skip building the target.
    fn journal_key(&self, kind: &'static Kind, text: &str) -> Result<TargetKey, String> {
        self.read_journal(kind, text).map(|t| t.key())
    }

    /// One token of a list: an ID, a name, a profile link, and whatever else the network's
    /// users copy around. The token is trimmed and unquoted already.
    fn parse_token(&self, token: &str) -> Result<Target, String>;

    /// The CSV header names recognised, each kind's preferred names first.
    fn columns(&self) -> &'static [Column];

    /// One cell of a recognised CSV column.
    fn parse_cell(&self, kind: &'static Kind, cell: &str) -> Result<Target, String>;

    /// Reads a whole-file format of the network's own (X's data-archive `block.js`), when
    /// `bytes` hold one; `None` for a CSV or a list.
    fn read_own_format(&self, _source: &str, _bytes: &[u8]) -> Option<Parsed> {
        None
    }

    /// The target as a line of a list this network's parser reads back as the same target.
    fn list_token(&self, target: &Target) -> String {
        target.text().to_owned()
    }

    /// The header of an exported block list: the account column, then the name column (empty
    /// when what the list holds has no names, such as Mastodon's domains).
    fn export_columns(&self) -> [&'static str; 2];

    /// An account as a block list names it, by ID; `None` when the ID is not valid.
    fn account(&self, id: &str) -> Option<Target> {
        let kind = self.kinds().iter().find(|k| k.space == Space::Id)?;
        self.read_journal(kind, id).ok()
    }
}

/// One unusable line: where it is and why it cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// The display name of the input (`<stdin>` for standard input).
    pub source: String,
    /// The 1-based line number; for a CSV row or a `block.js` entry, the line where it starts.
    pub line: u64,
    /// Why the line was rejected, in words meant for the user.
    pub reason: String,
}

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.reason)
    }
}

/// A choice the reader made about a line that the user should hear of, though nothing is wrong
/// with it: shown as a warning, `FILE:LINE: what was decided`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The display name of the input (`<stdin>` for standard input).
    pub source: String,
    /// The 1-based line number.
    pub line: u64,
    /// What was decided, in words meant for the user.
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

/// The result of reading one or more inputs, in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Every usable target, duplicates included, in the order they were written.
    pub targets: Vec<Target>,
    /// Every unusable line, in the order it was met.
    pub invalid: Vec<InvalidLine>,
    /// Choices to tell the user about, in the order they were made.
    pub notices: Vec<Notice>,
    /// Damage that keeps an input from being read as a whole (an archive cut short, so that
    /// entries after the cut are unknown), at most one per input. [`read`] refuses such an
    /// input; the targets read before the damage are still here for callers of [`parse`].
    pub broken: Vec<InvalidLine>,
}

impl Parsed {
    /// Appends the result of a later input, keeping input order.
    pub fn append(&mut self, mut other: Parsed) {
        self.targets.append(&mut other.targets);
        self.invalid.append(&mut other.invalid);
        self.notices.append(&mut other.notices);
        self.broken.append(&mut other.broken);
    }
}

/// Which format a byte stream holds, when it is not a network's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row naming a column the network recognises.
    Csv,
    /// One target per line: IDs, names or profile links (also a headerless single-column CSV).
    List,
}

/// An input that could not be read at all (as opposed to a line that could not be used).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file is missing, unreadable, or a directory.
    #[error("cannot read input `{}`", path.display())]
    Read {
        /// The path as the user gave it.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read standard input")]
    Stdin {
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The input cannot be read as a whole: skipping a line would not say what is missing.
    #[error(
        "`{}` cannot be read as a whole, so --skip-invalid does not apply: {damage}; nothing \
         was sent",
        damage.source
    )]
    Broken {
        /// Where and why.
        damage: InvalidLine,
    },
}

/// Reads each path in order (`-` means standard input) and concatenates the results.
///
/// Each file is read whole and parsed before the next is opened, so memory holds one file's
/// bytes at a time plus the targets. Empty input is not an error here: the caller decides.
/// An input that cannot be read as a whole ([`Parsed::broken`]) is.
pub fn read(inputs: &[PathBuf], ids: &dyn Identities) -> Result<Parsed, InputError> {
    let mut all = Parsed::default();
    for path in inputs {
        let parsed = if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|source| InputError::Stdin { source })?;
            parse("<stdin>", &bytes, ids)
        } else {
            let bytes = read_file(path)?;
            parse(&path.display().to_string(), &bytes, ids)
        };
        if let Some(damage) = parsed.broken.first() {
            return Err(InputError::Broken {
                damage: damage.clone(),
            });
        }
        all.append(parsed);
    }
    Ok(all)
}

fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    // `fs::read` on a directory fails with EISDIR on Unix, which is the error we want to show;
    // checking the metadata first keeps the message as clear on other platforms.
    let fail = |source| InputError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(fail)?;
    if meta.is_dir() {
        return Err(fail(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    std::fs::read(path).map_err(fail)
}

/// Detects the format from the content and parses it.
///
/// `source` is the display name used in [`InvalidLine`]; pass `<stdin>` for standard input.
/// A network's own format (recognised by its content, never by the file's name) comes first.
pub fn parse(source: &str, bytes: &[u8], ids: &dyn Identities) -> Parsed {
    let bytes = strip_bom(bytes);
    if let Some(parsed) = ids.read_own_format(source, bytes) {
        return parsed;
    }
    let mut sink = Sink::new(source);
    match detect(bytes, ids) {
        Format::Csv => parse_csv(bytes, &mut sink, ids),
        Format::List => parse_list(bytes, &mut sink, ids),
    }
    sink.parsed
}

/// Detects whether `bytes` hold a CSV or a list. A CSV with a header is recognised when the
/// first line that is neither blank nor a `#` comment, split on commas, holds a column name
/// the network knows. Everything else is a list.
pub fn detect(bytes: &[u8], ids: &dyn Identities) -> Format {
    let bytes = strip_bom(bytes);
    match first_content_line(bytes) {
        Some((_, _, line))
            if line
                .split(|&b| b == b',')
                .any(|f| column_of(f, ids).is_some()) =>
        {
            Format::Csv
        }
        _ => Format::List,
    }
}

/// Collects results for one input, attaching its display name to each invalid line. A
/// network's own reader fills one too.
pub struct Sink<'a> {
    source: &'a str,
    /// What was read so far.
    pub parsed: Parsed,
}

impl<'a> Sink<'a> {
    /// An empty sink for the input named `source`.
    pub fn new(source: &'a str) -> Sink<'a> {
        Sink {
            source,
            parsed: Parsed::default(),
        }
    }

    /// Records an unusable line.
    pub fn invalid(&mut self, line: u64, reason: impl Into<String>) {
        let line = self.at(line, reason);
        self.parsed.invalid.push(line);
    }

    /// Records damage that keeps the whole input from being read; see [`Parsed::broken`].
    pub fn broken(&mut self, line: u64, reason: impl Into<String>) {
        let line = self.at(line, reason);
        self.parsed.broken.push(line);
    }

    fn notice(&mut self, line: u64, message: String) {
        self.parsed.notices.push(Notice {
            source: self.source.to_owned(),
            line,
            message,
        });
    }

    fn at(&self, line: u64, reason: impl Into<String>) -> InvalidLine {
        InvalidLine {
            source: self.source.to_owned(),
            line,
            reason: reason.into(),
        }
    }

    /// Records a target, or the line as unusable with the reason.
    pub fn push(&mut self, line: u64, result: Result<Target, String>) {
        match result {
            Ok(target) => self.parsed.targets.push(target),
            Err(reason) => self.invalid(line, reason),
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";
const NOT_UTF8: &str = "line is not valid UTF-8";

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Physical lines, 1-based, with the line terminator (`\n` or `\r\n`) removed; also yields
/// each line's byte offset so a reader can start from there.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (u64, usize, &[u8])> {
    let mut offset = 0;
    bytes
        .split(|&b| b == b'\n')
        .zip(1u64..)
        .map(move |(line, number)| {
            let start = offset;
            offset += line.len() + 1;
            (number, start, line.strip_suffix(b"\r").unwrap_or(line))
        })
}

/// Blank lines and lines whose first non-blank character is `#` carry no data anywhere.
fn is_skippable(line: &[u8]) -> bool {
    matches!(trim_ascii_start(line).first(), None | Some(b'#'))
}

fn first_content_line(bytes: &[u8]) -> Option<(u64, usize, &[u8])> {
    lines(bytes).find(|(_, _, line)| !is_skippable(line))
}

// ---------------------------------------------------------------------------------------------
// CSV with a header row

/// Recognises a header field, ignoring case, surrounding whitespace and quotes: the column
/// and its rank among the network's columns (lower is preferred).
fn column_of(field: &[u8], ids: &dyn Identities) -> Option<(Column, usize)> {
    let field = field.trim_ascii();
    let field = field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
        .unwrap_or(field)
        .trim_ascii();
    ids.columns()
        .iter()
        .enumerate()
        .find(|(_, c)| field.eq_ignore_ascii_case(c.name.as_bytes()))
        .map(|(rank, c)| (*c, rank))
}

/// A recognised column of a header: its index, the header's own text, and its kind.
#[derive(Clone, Debug)]
struct Picked {
    index: usize,
    header: String,
    kind: &'static Kind,
}

/// The preferred column of each kind the header holds, in the network's order of kinds.
fn pick_columns(header: &csv::ByteRecord, ids: &dyn Identities) -> Vec<Picked> {
    ids.kinds()
        .iter()
        .filter_map(|kind| {
            header
                .iter()
                .enumerate()
                .filter_map(|(index, field)| match column_of(field, ids) {
                    Some((column, rank)) if column.kind.name == kind.name => {
                        Some((rank, index, field))
                    }
                    _ => None,
                })
                .min_by_key(|&(rank, index, _)| (rank, index))
                .map(|(_, index, field)| Picked {
                    index,
                    header: String::from_utf8_lossy(field.trim_ascii()).into(),
                    kind,
                })
        })
        .collect()
}

fn parse_csv(bytes: &[u8], sink: &mut Sink<'_>, ids: &dyn Identities) {
    // Start at the header line ourselves: the csv crate would take a leading whitespace-only
    // line or an indented comment for the header.
    let Some((header_line, offset, _)) = first_content_line(bytes) else {
        return;
    };
    let base = header_line - 1;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        // With the default CRLF terminator the csv crate dates a record from the `\n` that
        // ends the previous one, one line too early; a `\r` left at the end of a row is
        // trimmed with the rest of the whitespace.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(&bytes[offset..]);
    let mut header = csv::ByteRecord::new();
    if !matches!(reader.read_byte_record(&mut header), Ok(true)) {
        return;
    }
    let columns = pick_columns(&header, ids);
    // A lone `handle` (or `id`, `username`…) is a valid name as much as a header. A
    // single-column export with its header is the likelier reading, so it stands, but the
    // line it costs is named rather than lost without a word.
    let mut filled = header.iter().filter(|f| !f.trim_ascii().is_empty());
    if let (Some(_), None) = (filled.next(), filled.next())
        && let Some(column) = columns.first()
    {
        let name = &column.header;
        sink.notice(
            header_line,
            format!(
                "taken as a CSV header (column `{name}`), not as {}; write `@{name}` if it is \
                 one",
                column.kind.noun
            ),
        );
    }
    sink.parsed.targets.reserve(estimate_lines(bytes));

    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => {
                // Reading from memory as bytes has no I/O and no UTF-8 step, so this is not
                // expected; report it rather than lose the rest silently.
                let line = err.position().map_or(base + 1, |p| base + p.line());
                sink.invalid(line, format!("cannot read CSV: {err}"));
                break;
            }
        }
        let (line, start) = record_start(
            &bytes[offset..],
            record.position().map_or((1, 0), |p| (p.line(), p.byte())),
        );
        let line = base + line;
        // The csv crate only knows comments that start in the first column; an indented `#`
        // line is a comment too. A quoted `"#tag"` cell is data, which is why this looks at
        // the raw line rather than at the first field.
        let indented_comment = bytes
            .get(offset + start..)
            .and_then(|rest| rest.iter().find(|&&b| b != b' ' && b != b'\t'))
            == Some(&b'#');
        if indented_comment || record.iter().all(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        let result = csv_row_target(&record, &columns, ids);
        sink.push(line, result);
    }
}

/// Where a CSV record really starts, as (1-based line, byte offset).
///
/// The csv crate dates a record from the end of the previous one, so empty lines and `#`
/// comment lines it skipped in between would make every later report point too early. This
/// skips them the same way csv-core does (an empty line, or a line starting with `#`).
fn record_start(bytes: &[u8], (mut line, byte): (u64, u64)) -> (u64, usize) {
    let mut pos = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
    loop {
        match bytes.get(pos) {
            Some(b'\n') => pos += 1,
            Some(b'#') => match bytes[pos..].iter().position(|&b| b == b'\n') {
                Some(end) => pos += end + 1,
                None => break,
            },
            _ => break,
        }
        line += 1;
    }
    (line, pos)
}

/// The target of one CSV row: that of the first column filled, in the network's order of
/// kinds (an account ID when there is one: IDs are unambiguous, names can change).
fn csv_row_target(
    record: &csv::ByteRecord,
    columns: &[Picked],
    ids: &dyn Identities,
) -> Result<Target, String> {
    for column in columns {
        let Some(raw) = record.get(column.index) else {
            continue;
        };
        let text = std::str::from_utf8(raw).map_err(|_| NOT_UTF8.to_owned())?;
        let value = unquote(text.trim());
        if value.is_empty() {
            continue;
        }
        return ids.parse_cell(column.kind, value).map_err(|err| {
            let hint = if value.contains(['e', 'E']) && value.contains('+') {
                " (a spreadsheet may have rewritten it in scientific notation; format the \
                 column as text)"
            } else {
                ""
            };
            format!("column `{}`: {err}{hint}", column.header)
        });
    }
    Err(format!("row has {}", none_of(ids.kinds())))
}

/// "neither a user ID nor a screen name", "none of a DID, a handle or a list".
fn none_of(kinds: &[&Kind]) -> String {
    let nouns: Vec<&str> = kinds.iter().map(|k| k.noun).collect();
    match nouns.as_slice() {
        [] => "no target".to_owned(),
        [one] => format!("no {one}"),
        [a, b] => format!("neither {a} nor {b}"),
        [rest @ .., last] => format!("none of {} or {last}", rest.join(", ")),
    }
}

/// Strips one pair of surrounding double quotes, as left by a value quoted after a space.
fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .map_or(text, str::trim)
}

/// An upper bound on the number of targets, so the vector grows once.
fn estimate_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

// ---------------------------------------------------------------------------------------------
// Newline list (also a headerless single-column CSV)

fn parse_list(bytes: &[u8], sink: &mut Sink<'_>, ids: &dyn Identities) {
    sink.parsed.targets.reserve(estimate_lines(bytes));
    for (number, _, line) in lines(bytes) {
        if is_skippable(line) {
            continue;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            sink.invalid(number, NOT_UTF8);
            continue;
        };
        let token = list_token(line);
        if token.is_empty() {
            // A lone `,` or `""`: an empty row of a single-column export.
            continue;
        }
        if token.contains(',') && !token.contains("://") {
            sink.invalid(number, SEVERAL_FIELDS);
            continue;
        }
        sink.push(number, ids.parse_token(token));
    }
}

/// The token of one list line: without a trailing ` # comment`, a trailing comma, or quotes.
fn list_token(line: &str) -> &str {
    let comment = line
        .as_bytes()
        .windows(2)
        .position(|w| matches!(w, [b' ' | b'\t', b'#']));
    // The match is on ASCII bytes, so `i` is a character boundary.
    let line = comment.map_or(line, |i| &line[..i]);
    let token = line.trim();
    let token = token.strip_suffix(',').map_or(token, str::trim_end);
    unquote(token)
}

/// A line that looks like a CSV row without a header.
pub const SEVERAL_FIELDS: &str = "line has several comma-separated fields; add a header row \
     naming the ID or name column";

/// What follows `prefix` when `s` starts with it, ignoring ASCII case: the schemes, hosts and
/// prefixes of the links and IDs the networks' parsers read.
pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

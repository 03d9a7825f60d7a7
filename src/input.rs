//! Turns what the user hands us (a CSV export, a plain list, or the data-archive `block.js`)
//! into [`Target`]s, and says precisely which lines could not be used and why.
//!
//! People gather the accounts to unblock from many places: spreadsheets, scripts, copied profile
//! links, the official archive. Rather than make them convert, every reader here accepts the
//! format as it comes and reports each unusable line as `FILE:LINE: reason` instead of failing
//! the whole input, so that one typo in a list of a hundred thousand accounts costs one line.
//! Parsing is pure ([`parse`], [`detect`]); only [`read`] touches files. Duplicates are kept in
//! input order on purpose: the planner counts them.
//!
//! Nothing is dropped without a word. A choice the reader makes for the user (a lone first line
//! `handle` is a CSV header, not a screen name) comes back as a [`Notice`], and an input that
//! cannot be read as a whole (a `block.js` cut short) is an error of its own, which
//! `--skip-invalid` does not skip: what is missing from it is not a line anyone could list.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::target::Target;

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
    /// Damage that keeps an input from being read as a whole (a `block.js` cut short, so that
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

/// Which format a byte stream holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row naming a user ID and/or a screen-name column.
    Csv,
    /// One target per line: IDs, `@names`, bare names or profile links (also a headerless
    /// single-column CSV).
    List,
    /// The data archive's `block.js` (or `mute.js`): `window.YTD.… = [ … ]`.
    BlockJs,
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
pub fn read(inputs: &[PathBuf]) -> Result<Parsed, InputError> {
    let mut all = Parsed::default();
    for path in inputs {
        let parsed = if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|source| InputError::Stdin { source })?;
            parse("<stdin>", &bytes)
        } else {
            let bytes = read_file(path)?;
            parse(&path.display().to_string(), &bytes)
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
pub fn parse(source: &str, bytes: &[u8]) -> Parsed {
    let bytes = strip_bom(bytes);
    let mut sink = Sink {
        source,
        parsed: Parsed::default(),
    };
    match detect(bytes) {
        Format::BlockJs => parse_block_js(bytes, &mut sink),
        Format::Csv => parse_csv(bytes, &mut sink),
        Format::List => parse_list(bytes, &mut sink),
    }
    sink.parsed
}

/// Detects which format `bytes` holds.
///
/// `block.js` is recognised by its content (`window.YTD.` after an optional BOM and
/// whitespace), never by its file name. A CSV with a header is recognised when the first line
/// that is neither blank nor a `#` comment, split on commas, holds a known column name.
/// Everything else is a list.
pub fn detect(bytes: &[u8]) -> Format {
    let bytes = strip_bom(bytes);
    if trim_ascii_start(bytes).starts_with(b"window.YTD.") {
        return Format::BlockJs;
    }
    match first_content_line(bytes) {
        Some((_, _, line)) if line.split(|&b| b == b',').any(|f| column_of(f).is_some()) => {
            Format::Csv
        }
        _ => Format::List,
    }
}

/// Collects results for one input, attaching its display name to each invalid line.
struct Sink<'a> {
    source: &'a str,
    parsed: Parsed,
}

impl Sink<'_> {
    fn invalid(&mut self, line: u64, reason: impl Into<String>) {
        let line = self.at(line, reason);
        self.parsed.invalid.push(line);
    }

    /// Records damage that keeps the whole input from being read; see [`Parsed::broken`].
    fn broken(&mut self, line: u64, reason: impl Into<String>) {
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

    fn push(&mut self, line: u64, result: Result<Target, String>) {
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

/// What a recognised CSV column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Id,
    Name,
}

/// Known header names, lowercased, in order of preference when a header holds several.
const ID_COLUMNS: [&str; 4] = ["user_id", "id", "account_id", "accountid"];
const NAME_COLUMNS: [&str; 3] = ["screen_name", "username", "handle"];

/// Recognises a header field, ignoring case, surrounding whitespace and quotes. The second
/// value ranks the name within its kind (lower is preferred).
fn column_of(field: &[u8]) -> Option<(Column, usize)> {
    let field = field.trim_ascii();
    let field = field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
        .unwrap_or(field)
        .trim_ascii();
    let find = |names: &[&str]| {
        names
            .iter()
            .position(|name| field.eq_ignore_ascii_case(name.as_bytes()))
    };
    find(&ID_COLUMNS)
        .map(|rank| (Column::Id, rank))
        .or_else(|| find(&NAME_COLUMNS).map(|rank| (Column::Name, rank)))
}

/// The index and the header text of the preferred column of one kind.
fn pick_column(header: &csv::ByteRecord, kind: Column) -> Option<(usize, String)> {
    header
        .iter()
        .enumerate()
        .filter_map(|(index, field)| match column_of(field) {
            Some((k, rank)) if k == kind => Some((rank, index, field)),
            _ => None,
        })
        .min_by_key(|&(rank, index, _)| (rank, index))
        .map(|(_, index, field)| (index, String::from_utf8_lossy(field.trim_ascii()).into()))
}

fn parse_csv(bytes: &[u8], sink: &mut Sink<'_>) {
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
    let id_column = pick_column(&header, Column::Id);
    let name_column = pick_column(&header, Column::Name);
    // A lone `handle` (or `id`, `username`…) is a valid screen name as much as a header. A
    // single-column export with its header is the likelier reading, so it stands, but the
    // line it costs is named rather than lost without a word.
    let mut filled = header.iter().filter(|f| !f.trim_ascii().is_empty());
    if let (Some(_), None) = (filled.next(), filled.next())
        && let Some((_, name)) = id_column.as_ref().or(name_column.as_ref())
    {
        sink.notice(
            header_line,
            format!(
                "taken as a CSV header (column `{name}`), not as a screen name; write \
                 `@{name}` if it is one"
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
        let result = csv_row_target(&record, id_column.as_ref(), name_column.as_ref());
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

/// The target of one CSV row: the ID when filled (IDs are unambiguous), else the screen name.
fn csv_row_target(
    record: &csv::ByteRecord,
    id_column: Option<&(usize, String)>,
    name_column: Option<&(usize, String)>,
) -> Result<Target, String> {
    if let Some((value, header)) = csv_cell(record, id_column)? {
        return Target::parse_id(value).map_err(|err| {
            let hint = if value.contains(['e', 'E']) && value.contains('+') {
                " (a spreadsheet may have rewritten it in scientific notation; format the column as text)"
            } else {
                ""
            };
            format!("column `{header}`: {err}{hint}")
        });
    }
    if let Some((value, header)) = csv_cell(record, name_column)? {
        return Target::parse_screen_name(value).map_err(|err| format!("column `{header}`: {err}"));
    }
    Err("row has neither a user ID nor a screen name".to_owned())
}

/// The trimmed, non-empty text of one recognised cell, with its column's header.
fn csv_cell<'a>(
    record: &'a csv::ByteRecord,
    column: Option<&'a (usize, String)>,
) -> Result<Option<(&'a str, &'a str)>, String> {
    let Some((index, header)) = column else {
        return Ok(None);
    };
    let Some(raw) = record.get(*index) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(raw).map_err(|_| NOT_UTF8.to_owned())?;
    let text = unquote(text.trim());
    Ok((!text.is_empty()).then_some((text, header.as_str())))
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

fn parse_list(bytes: &[u8], sink: &mut Sink<'_>) {
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
        sink.push(number, list_target(token));
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

const SEVERAL_FIELDS: &str = "line has several comma-separated fields; add a header row naming \
     the user ID or screen-name column (for example `user_id,screen_name`)";

/// Reads one list token: a user ID, `@name`, a bare name, or a profile link.
pub fn list_target(token: &str) -> Result<Target, String> {
    if let Some(rest) = profile_link_rest(token) {
        return link_target(rest);
    }
    if token.contains("://") {
        return Err(format!(
            "`{}` is not an X/Twitter profile link",
            shorten(token)
        ));
    }
    if token.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    let digits = token.strip_prefix('-').unwrap_or(token);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Target::parse_id(token).map_err(|e| e.to_string());
    }
    Target::parse_screen_name(token).map_err(|e| e.to_string())
}

/// If `token` is a link to twitter.com or x.com (any scheme, `www.`/`mobile.`, or none),
/// returns what follows the host: empty, or starting with `/`, `?` or `#`.
fn profile_link_rest(token: &str) -> Option<&str> {
    let mut s = token;
    for scheme in ["https://", "http://"] {
        if let Some(rest) = strip_prefix_ignore_case(s, scheme) {
            s = rest;
            break;
        }
    }
    for sub in ["www.", "mobile."] {
        if let Some(rest) = strip_prefix_ignore_case(s, sub) {
            s = rest;
            break;
        }
    }
    ["twitter.com", "x.com"].into_iter().find_map(|host| {
        strip_prefix_ignore_case(s, host)
            .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// First path segments that belong to the site, not to a user. Screen names cannot take
/// them, so a link to one of them is a mistake, not an account.
const RESERVED_PATHS: &[&str] = &[
    "account",
    "bookmarks",
    "communities",
    "compose",
    "explore",
    "hashtag",
    "home",
    "i",
    "intent",
    "jobs",
    "lists",
    "login",
    "logout",
    "messages",
    "notifications",
    "privacy",
    "search",
    "settings",
    "share",
    "signup",
    "tos",
];

/// The user a profile link names, given what follows the host.
fn link_target(rest: &str) -> Result<Target, String> {
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, after) = rest.split_at(path_end);
    let query = after
        .strip_prefix('?')
        .map(|q| q.split('#').next().unwrap_or(q))
        .unwrap_or("");
    if path.contains(',') {
        return Err(SEVERAL_FIELDS.to_owned());
    }
    let mut segments = path.trim_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    let second = segments.next();
    let third = segments.next();
    let extra = segments.next();
    match (first, second, third, extra) {
        ("", None, None, None) => Err("link does not name a user".to_owned()),
        (intent, Some(kind), None, None)
            if intent.eq_ignore_ascii_case("intent")
                && (kind.eq_ignore_ascii_case("user") || kind.eq_ignore_ascii_case("follow")) =>
        {
            intent_target(query)
        }
        // `/i/user/ID` is the site's own permalink to an account by ID.
        (i, Some(user), Some(id), None)
            if i.eq_ignore_ascii_case("i") && user.eq_ignore_ascii_case("user") =>
        {
            Target::parse_id(id).map_err(|e| format!("link: {e}"))
        }
        (name, None, None, None) => {
            if RESERVED_PATHS.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                Err(format!("link to `/{name}` is not a user profile"))
            } else {
                Target::parse_screen_name(name).map_err(|e| format!("link: {e}"))
            }
        }
        _ => Err(format!(
            "link `{}` is not a profile link (expected https://x.com/NAME)",
            shorten(path)
        )),
    }
}

/// The user an intent link (`/intent/user?user_id=N` or `?screen_name=NAME`) names; the ID
/// wins when both are given.
fn intent_target(query: &str) -> Result<Target, String> {
    let mut name: Option<Cow<'_, str>> = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "user_id" {
            return Target::parse_id(&value).map_err(|e| format!("intent link: {e}"));
        }
        if key == "screen_name" && name.is_none() {
            name = Some(value);
        }
    }
    match name {
        Some(name) => Target::parse_screen_name(&name).map_err(|e| format!("intent link: {e}")),
        None => Err("intent link has neither `user_id` nor `screen_name`".to_owned()),
    }
}

/// Keeps messages readable when a line holds a long run of garbage.
fn shorten(s: &str) -> Cow<'_, str> {
    crate::display::shorten(s, 60)
}

// ---------------------------------------------------------------------------------------------
// Data-archive block.js / mute.js

/// Maps byte offsets to 1-based line numbers, scanning forward only once for offsets that
/// arrive in increasing order.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.bytes.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let newlines = self.bytes[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line += newlines as u64;
        self.offset = offset;
        self.line
    }

    /// The 1-based byte column of `offset` within its line.
    fn column_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        let line_start = self.bytes[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        offset - line_start + 1
    }
}

fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// Reads the archive's array entry by entry, each parsed on its own, so that damage costs only
/// the entry it is in. After a damaged entry the reader resumes at the next `{"blocking":` (or
/// `{"muting":`), the way every entry of an archive begins, and the damaged stretch is reported
/// once, at the line where it starts. What no resuming can mend (no array, an array that never
/// closes, the file ending inside an entry, text after the array) is damage to the whole file,
/// [`Parsed::broken`]: whatever lies past it is unknown.
fn parse_block_js(bytes: &[u8], sink: &mut Sink<'_>) {
    let mut lines = LineCounter::new(bytes);
    let Some(equals) = bytes.iter().position(|&b| b == b'=') else {
        let line = lines.line_of(skip_whitespace(bytes, 0));
        sink.broken(line, "archive file has no `=` after `window.YTD.…`");
        return;
    };
    let mut pos = skip_whitespace(bytes, equals + 1);
    if bytes.get(pos) != Some(&b'[') {
        let line = lines.line_of(pos);
        sink.broken(line, "archive file: expected a JSON array `[` after `=`");
        return;
    }
    pos = skip_whitespace(bytes, pos + 1);
    let not_closed = |lines: &mut LineCounter<'_>, sink: &mut Sink<'_>| {
        let line = lines.line_of(bytes.len());
        sink.broken(
            line,
            "archive file: the JSON array is not closed (the file may be cut short)",
        );
    };
    loop {
        match bytes.get(pos) {
            Some(b']') => {
                pos += 1;
                break;
            }
            Some(_) => {}
            None => return not_closed(&mut lines, sink),
        }
        let start = pos;
        let mut stream = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter();
        match stream.next() {
            Some(Ok(entry)) => {
                let line = lines.line_of(start);
                sink.push(line, archive_entry_target(&entry));
                pos = skip_whitespace(bytes, start + stream.byte_offset());
            }
            Some(Err(err)) => {
                let line = lines.line_of(start);
                // Read on from the next entry, or else from the array's end if the damage runs
                // up to it (then a string left open may have swallowed the `]`).
                let resume = next_entry(bytes, start + 1).or_else(|| array_close(bytes, start));
                let Some(resume) = resume else {
                    if err.is_eof() {
                        sink.broken(line, "archive entry is cut short: the file ends inside it");
                    } else {
                        not_closed(&mut lines, sink);
                    }
                    return;
                };
                let reason = json_error(&mut lines, start, &err);
                sink.invalid(line, reason);
                pos = resume;
                continue;
            }
            // Not reached: `pos` is on a byte that is not whitespace.
            None => return not_closed(&mut lines, sink),
        }
        match bytes.get(pos) {
            // A trailing comma is tolerated (hand-edited archives have them): the next turn
            // finds the `]`.
            Some(b',') => pos = skip_whitespace(bytes, pos + 1),
            Some(b']') => {
                pos += 1;
                break;
            }
            Some(_) => {
                // A missing comma, or a stray character: the entry before it is whole, so
                // read on from the next entry (here, when only the comma is missing).
                let line = lines.line_of(pos);
                sink.invalid(line, "archive file: expected `,` or `]` after an entry");
                match next_entry(bytes, pos).or_else(|| array_close(bytes, pos)) {
                    Some(resume) => pos = resume,
                    None => return not_closed(&mut lines, sink),
                }
            }
            None => return not_closed(&mut lines, sink),
        }
    }
    pos = skip_whitespace(bytes, pos);
    if bytes.get(pos) == Some(&b';') {
        pos = skip_whitespace(bytes, pos + 1);
    }
    if pos < bytes.len() {
        let line = lines.line_of(pos);
        sink.broken(line, "archive file: unexpected text after the JSON array");
    }
}

/// Where the next archive entry starts, at or after `from`: a `{` followed by the key
/// `"blocking"` or `"muting"` and a `:` (whitespace allowed in between). An entry's own inner
/// object starts with `"accountId"`, so it is never taken for one.
fn next_entry(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = bytes.get(at..)?.iter().position(|&b| b == b'{') {
        let open = at + found;
        let key = skip_whitespace(bytes, open + 1);
        for name in [&br#""blocking""#[..], br#""muting""#] {
            if bytes[key..].starts_with(name)
                && bytes.get(skip_whitespace(bytes, key + name.len())) == Some(&b':')
            {
                return Some(open);
            }
        }
        at = open + 1;
    }
    None
}

/// The `]` that closes the array when damage runs up to it: the last one in the file, at or
/// after `from` (what follows it is checked as the text after the array).
fn array_close(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    rest.iter().rposition(|&b| b == b']').map(|i| from + i)
}

/// Describes a JSON syntax error in an entry that starts at `start`, with its place in the
/// whole file; serde_json counts lines and columns from `start`.
fn json_error(lines: &mut LineCounter<'_>, start: usize, err: &serde_json::Error) -> String {
    let start_line = lines.line_of(start);
    let relative_line = (err.line() as u64).max(1);
    let line = start_line + relative_line - 1;
    let column = if relative_line == 1 {
        lines.column_of(start) + err.column().saturating_sub(1)
    } else {
        err.column()
    };
    let mut message = err.to_string();
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    let place = if line == start_line {
        format!("column {column}")
    } else {
        format!("line {line}, column {column}")
    };
    format!("archive entry is not valid JSON: {message} ({place})")
}

/// The account of one archive entry: `{"blocking": {"accountId": "123", …}}` or the same under
/// `muting`.
fn archive_entry_target(entry: &Value) -> Result<Target, String> {
    let Some(inner) = entry.get("blocking").or_else(|| entry.get("muting")) else {
        return Err("archive entry has neither a `blocking` nor a `muting` object".to_owned());
    };
    match inner.get("accountId") {
        Some(Value::String(id)) => Target::parse_id(id).map_err(|e| format!("accountId: {e}")),
        Some(Value::Number(id)) => {
            Target::parse_id(&id.to_string()).map_err(|e| format!("accountId: {e}"))
        }
        Some(_) => Err("archive entry: accountId is neither a string nor a number".to_owned()),
        None => Err("archive entry has no accountId".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Target {
        Target::Id(n)
    }

    fn name(s: &str) -> Target {
        Target::ScreenName(s.to_owned())
    }

    /// Parses and insists that every line was usable.
    fn targets(text: &str) -> Vec<Target> {
        let parsed = parse("in", text.as_bytes());
        assert!(
            parsed.invalid.is_empty(),
            "unexpected: {:?}",
            parsed.invalid
        );
        parsed.targets
    }

    fn invalid(bytes: &[u8]) -> Vec<String> {
        parse("in", bytes)
            .invalid
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    // --- list ------------------------------------------------------------------------------

    #[test]
    fn list_reads_ids_at_names_and_bare_names() {
        assert_eq!(
            targets("12345\n@Jack_1\nsome_name\n18446744073709551615\n"),
            vec![id(12345), name("Jack_1"), name("some_name"), id(u64::MAX)]
        );
    }

    #[test]
    fn at_digits_is_a_screen_name_and_bare_digits_an_id() {
        assert_eq!(targets("@123\n123"), vec![name("123"), id(123)]);
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(
            targets("7\n@a\n7\n@A\n"),
            vec![id(7), name("a"), id(7), name("A")]
        );
    }

    #[test]
    fn profile_links_in_every_form_name_the_user() {
        let forms = [
            "https://twitter.com/Jack",
            "https://x.com/Jack",
            "http://x.com/Jack",
            "https://www.twitter.com/Jack",
            "https://mobile.twitter.com/Jack",
            "https://mobile.x.com/Jack/",
            "HTTPS://X.COM/Jack",
            "www.x.com/Jack",
            "x.com/Jack",
            "twitter.com/Jack",
            "https://x.com/Jack?ref_src=twsrc%5Etfw",
            "https://x.com/Jack#top",
            "https://x.com/Jack/?s=20&t=abc#frag",
            "https://x.com/@Jack",
        ];
        for form in forms {
            assert_eq!(targets(form), vec![name("Jack")], "{form}");
        }
    }

    #[test]
    fn intent_links_give_the_id_or_the_name() {
        assert_eq!(
            targets(
                "https://twitter.com/intent/user?user_id=783214\n\
                 https://x.com/intent/user?screen_name=Jack\n\
                 https://x.com/intent/follow?screen_name=Jack&user_id=9\n\
                 https://x.com/i/user/42\n"
            ),
            vec![id(783214), name("Jack"), id(9), id(42)]
        );
    }

    #[test]
    fn site_pages_and_other_sites_are_not_users() {
        assert_eq!(
            invalid(
                b"https://x.com/home\n\
                  https://x.com/i/lists/123\n\
                  https://twitter.com/settings/\n\
                  https://x.com/\n\
                  https://x.com/intent/user\n\
                  https://x.com/jack/status/1\n\
                  https://example.com/jack\n\
                  https://x.com/intent/user?user_id=abc\n"
            ),
            vec![
                "in:1: link to `/home` is not a user profile",
                "in:2: link `/i/lists/123` is not a profile link (expected https://x.com/NAME)",
                "in:3: link to `/settings` is not a user profile",
                "in:4: link does not name a user",
                "in:5: intent link has neither `user_id` nor `screen_name`",
                "in:6: link `/jack/status/1` is not a profile link (expected https://x.com/NAME)",
                "in:7: `https://example.com/jack` is not an X/Twitter profile link",
                "in:8: intent link: user ID `abc` is not a number",
            ]
        );
    }

    #[test]
    fn bom_crlf_blank_lines_whitespace_and_comments_are_fine() {
        let text = "\u{FEFF}# blocked in 2019\r\n\r\n  123  \r\n\t@jack\r\n   # indented comment\r\n\
                    dril # the funny one\r\nhttps://x.com/a?x=1 #c\r\n   \r\n";
        assert_eq!(
            targets(text),
            vec![id(123), name("jack"), name("dril"), name("a")]
        );
    }

    #[test]
    fn hash_without_space_is_not_a_comment() {
        assert_eq!(
            invalid(b"jack#1\n"),
            vec!["in:1: screen name `jack#1` may only contain letters, digits and `_`"]
        );
    }

    #[test]
    fn headerless_single_column_csv_with_quotes_and_trailing_commas() {
        assert_eq!(
            targets("\"@jack\",\n\"123\"\n456,\n\"dril\" ,\n,\n\"\"\n"),
            vec![name("jack"), id(123), id(456), name("dril")]
        );
    }

    #[test]
    fn several_fields_without_a_header_suggest_adding_one() {
        assert_eq!(
            invalid(b"123,jack\n@ok\n"),
            vec![format!("in:1: {SEVERAL_FIELDS}")]
        );
        assert!(SEVERAL_FIELDS.contains("header row"));
    }

    #[test]
    fn bad_list_lines_are_reported_with_exact_text_and_line() {
        let text = "1\n0\n-5\n@\nsixteen_chars_xx\n99999999999999999999\nfine\nhas space\n";
        let parsed = parse("blocks.txt", text.as_bytes());
        assert_eq!(parsed.targets, vec![id(1), name("fine")]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "blocks.txt:2: user ID must be greater than zero",
                "blocks.txt:3: user ID `-5` is negative",
                "blocks.txt:4: screen name is empty",
                "blocks.txt:5: screen name `sixteen_chars_xx` is longer than 15 characters",
                "blocks.txt:6: user ID `99999999999999999999` is too large (more than 64 bits)",
                "blocks.txt:8: screen name `has space` may only contain letters, digits and `_`",
            ]
        );
    }

    #[test]
    fn a_non_utf8_line_is_invalid_without_touching_its_neighbours() {
        let parsed = parse("in", b"1\n\xff\xfejack\n@b\n# caf\xe9 comment\n");
        assert_eq!(parsed.targets, vec![id(1), name("b")]);
        assert_eq!(
            parsed.invalid,
            vec![InvalidLine {
                source: "in".into(),
                line: 2,
                reason: "line is not valid UTF-8".into(),
            }]
        );
    }

    #[test]
    fn empty_input_gives_nothing_and_no_error() {
        assert_eq!(parse("in", b""), Parsed::default());
        assert_eq!(
            parse("in", b"\xEF\xBB\xBF\n\n# only comments\n"),
            Parsed::default()
        );
    }

    #[test]
    fn long_garbage_is_shortened() {
        let line = format!("https://example.com/{}", "a".repeat(500));
        let shown = invalid(line.as_bytes());
        assert_eq!(shown.len(), 1);
        assert!(shown[0].len() < 120, "{}", shown[0]);
    }

    // --- CSV -------------------------------------------------------------------------------

    #[test]
    fn csv_with_id_and_name_columns_prefers_the_id() {
        let text = "note,screen_name,user_id\n\
                    a,jack,12\n\
                    b,@dril,\n\
                    c,,34\n\
                    d,\"@x_y\",\"56\"\n";
        assert_eq!(targets(text), vec![id(12), name("dril"), id(34), id(56)]);
    }

    #[test]
    fn csv_header_names_ignore_case_space_and_quotes() {
        for header in [
            "User_ID",
            " id ",
            "\"account_id\"",
            "accountId",
            "ACCOUNTID",
        ] {
            let text = format!("{header},other\n77,x\n");
            assert_eq!(detect(text.as_bytes()), Format::Csv, "{header}");
            assert_eq!(targets(&text), vec![id(77)], "{header}");
        }
        for header in ["screen_name", "Username", " HANDLE "] {
            let text = format!("other,{header}\nx,123\n");
            assert_eq!(targets(&text), vec![name("123")], "{header}");
        }
    }

    fn notices(text: &str) -> Vec<String> {
        parse("in", text.as_bytes())
            .notices
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_lone_column_name_on_the_first_line_is_a_header_and_says_so() {
        // Regression: a list starting with the screen name `handle` lost it without a word.
        assert_eq!(targets("handle\njack\n"), vec![name("jack")]);
        assert_eq!(
            notices("handle\njack\n"),
            [
                "in:1: taken as a CSV header (column `handle`), not as a screen name; write \
              `@handle` if it is one"
            ]
        );
        for (text, line, column) in [
            ("# exported\n\n User_ID \n5\n", 3, "User_ID"),
            ("\"Username\"\n@x\n", 1, "Username"),
            ("id,\n5\n", 1, "id"),
        ] {
            let parsed = parse("in", text.as_bytes());
            assert_eq!(parsed.notices.len(), 1, "{text:?}");
            assert_eq!(parsed.notices[0].line, line, "{text:?}");
            assert!(
                parsed.notices[0]
                    .message
                    .starts_with(&format!("taken as a CSV header (column `{column}`)")),
                "{text:?}: {}",
                parsed.notices[0]
            );
        }
        // Several named columns are a header beyond doubt; a list naming `handle` later on is
        // a list; and `@handle` is a screen name.
        for text in [
            "user_id,screen_name\n1,a\n",
            "note,handle\nx,a\n",
            "jack\nhandle\n",
            "@handle\njack\n",
        ] {
            assert_eq!(notices(text), Vec::<String>::new(), "{text:?}");
        }
        assert_eq!(targets("@handle\n"), vec![name("handle")]);
    }

    #[test]
    fn csv_prefers_user_id_over_a_plain_id_column() {
        assert_eq!(targets("id,user_id\n1,2\n"), vec![id(2)]);
    }

    #[test]
    fn csv_rows_without_a_target_or_with_a_bad_id_are_invalid() {
        let text = "user_id,screen_name,note\n\
                    ,,hello\n\
                    abc,jack,\n\
                    1.23E+18,,\n\
                    ,bad-name,\n\
                    5,,\n";
        let parsed = parse("f.csv", text.as_bytes());
        assert_eq!(parsed.targets, vec![id(5)]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "f.csv:2: row has neither a user ID nor a screen name",
                "f.csv:3: column `user_id`: user ID `abc` is not a number",
                "f.csv:4: column `user_id`: user ID `1.23E+18` is not a number (a spreadsheet \
                 may have rewritten it in scientific notation; format the column as text)",
                "f.csv:5: column `screen_name`: screen name `bad-name` may only contain \
                 letters, digits and `_`",
            ]
        );
    }

    #[test]
    fn csv_short_rows_blank_rows_comments_bom_and_crlf() {
        let text = "\u{FEFF}# exported 2024\r\n\r\n   \r\nname,screen_name\r\n\
                    Jack Dorsey,jack\r\nshort\r\n,,\r\n  # indented comment\r\n\
                    # comment\r\nX,\"#tag\"\r\nY, dril \r\n";
        let parsed = parse("f.csv", text.as_bytes());
        assert_eq!(parsed.targets, vec![name("jack"), name("dril")]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "f.csv:6: row has neither a user ID nor a screen name",
                "f.csv:10: column `screen_name`: screen name `#tag` may only contain letters, \
                 digits and `_`",
            ]
        );
    }

    #[test]
    fn csv_quoted_multiline_fields_keep_real_line_numbers() {
        let text = "user_id,bio\n\
                    1,\"line one\nline two\nline three\"\n\
                    oops,\"a\r\nb\"\n\
                    2,x\n\
                    zero,\n";
        let parsed = parse("f.csv", text.as_bytes());
        assert_eq!(parsed.targets, vec![id(1), id(2)]);
        let lines: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![5, 8]);
    }

    #[test]
    fn csv_rows_after_skipped_blank_and_comment_lines_keep_their_line() {
        // Regression: the csv crate dates a record from the end of the previous one.
        let text = "user_id\n1\n\n\nabc\n# note\n#\n\ndef\n";
        let lines: Vec<u64> = parse("f", text.as_bytes())
            .invalid
            .iter()
            .map(|i| i.line)
            .collect();
        assert_eq!(lines, vec![5, 9]);
    }

    #[test]
    fn csv_non_utf8_in_a_target_cell_is_invalid_but_ignored_columns_may_hold_anything() {
        let parsed = parse("f.csv", b"user_id,note\n1,caf\xe9\n\xff2,x\n3,\n");
        assert_eq!(parsed.targets, vec![id(1), id(3)]);
        assert_eq!(
            parsed
                .invalid
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["f.csv:3: line is not valid UTF-8"]
        );
    }

    // --- block.js --------------------------------------------------------------------------

    const BLOCK_JS: &str = r#"window.YTD.block.part0 = [
  {
    "blocking" : {
      "accountId" : "1234567890",
      "userLink" : "https://twitter.com/intent/user?user_id=1234567890"
    }
  },
  {
    "blocking" : {
      "userLink" : "https://twitter.com/intent/user?user_id=1"
    }
  },
  {
    "blocking" : {
      "accountId" : "12x",
      "userLink" : "https://twitter.com/intent/user?user_id=12x"
    }
  },
  { "blocking" : { "accountId" : "42" } },
  { "following" : { "accountId" : "43" } }
]"#;

    #[test]
    fn block_js_entries_and_bad_entries_with_their_lines() {
        let parsed = parse("block.js", BLOCK_JS.as_bytes());
        assert_eq!(parsed.targets, vec![id(1234567890), id(42)]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "block.js:8: archive entry has no accountId",
                "block.js:13: accountId: user ID `12x` is not a number",
                "block.js:20: archive entry has neither a `blocking` nor a `muting` object",
            ]
        );
    }

    #[test]
    fn block_js_is_recognised_by_content_with_bom_any_part_and_mute_wrapper() {
        let text = "\u{FEFF}\n  window.YTD.mute.part3 = [ {\"muting\":{\"accountId\":\"9\"}} ];\n";
        assert_eq!(detect(text.as_bytes()), Format::BlockJs);
        assert_eq!(targets(text), vec![id(9)]);
        assert_eq!(targets("window.YTD.block.part0 = [ ]"), vec![]);
        assert_eq!(targets("window.YTD.block.part0 = []\n"), vec![]);
    }

    #[test]
    fn block_js_numeric_account_id_and_trailing_comma_are_tolerated() {
        assert_eq!(
            targets("window.YTD.block.part0 = [{\"blocking\":{\"accountId\":7}},\n]"),
            vec![id(7)]
        );
    }

    fn broken(bytes: &[u8]) -> Vec<String> {
        parse("in", bytes)
            .broken
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn block_js_syntax_error_costs_its_entry_only_and_names_where_it_is() {
        let text = "window.YTD.block.part0 = [\n  { \"blocking\" : { \"accountId\" : \"1\" } },\n  \
                    { \"blocking\" : { \"accountId\" : \"2\" }\n  { oops }\n]\n";
        let parsed = parse("block.js", text.as_bytes());
        // Entries before the damage are still usable; the damage is reported once, at the
        // line where the damaged entry starts.
        assert_eq!(parsed.targets, vec![id(1)]);
        assert!(parsed.broken.is_empty(), "{:?}", parsed.broken);
        assert_eq!(parsed.invalid.len(), 1, "{:?}", parsed.invalid);
        let shown = parsed.invalid[0].to_string();
        assert!(
            shown.starts_with("block.js:3: archive entry is not valid JSON: "),
            "{shown}"
        );
        assert!(shown.ends_with("(line 4, column 3)"), "{shown}");
    }

    /// An archive as the site writes it (pretty) or squeezed onto one line (minified), and
    /// the line each entry starts on.
    fn archive(entries: &[String], pretty: bool) -> (String, Vec<u64>) {
        let (open, separator, close) = if pretty {
            ("[\n", ",\n", "\n]\n")
        } else {
            ("[", ",", "]")
        };
        let mut text = format!("window.YTD.block.part0 = {open}");
        let mut starts = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                text.push_str(separator);
            }
            starts.push(text.matches('\n').count() as u64 + 1);
            text.push_str(entry);
        }
        text.push_str(close);
        (text, starts)
    }

    fn entry(id: u64, pretty: bool) -> String {
        if pretty {
            format!(
                "  {{\n    \"blocking\" : {{\n      \"accountId\" : \"{id}\",\n      \"userLink\" : \
                 \"https://twitter.com/intent/user?user_id={id}\"\n    }}\n  }}"
            )
        } else {
            format!("{{\"blocking\":{{\"accountId\":\"{id}\"}}}}")
        }
    }

    /// Ways one entry gets damaged by hand edits, each confined to the entry.
    fn damaged(id: u64, how: usize, pretty: bool) -> String {
        let good = entry(id, pretty);
        let quoted = format!("\"{id}\"");
        match how {
            // A stray token inside.
            0 => good.replacen(&quoted, &format!("{quoted} x"), 1),
            // The closing brace lost.
            1 => good[..good.rfind('}').unwrap()].to_owned(),
            // A string left open.
            2 => good.replacen(&quoted, &format!("\"{id}"), 1),
            // A comma where a colon belongs.
            _ => good.replacen("\"accountId\"", "\"accountId\",", 1),
        }
    }

    #[test]
    fn block_js_a_damaged_entry_mid_file_costs_only_itself() {
        for pretty in [true, false] {
            for how in 0..4 {
                let entries = vec![
                    entry(1, pretty),
                    damaged(2, how, pretty),
                    entry(3, pretty),
                    damaged(4, how, pretty),
                    damaged(5, how, pretty),
                    entry(6, pretty),
                    damaged(7, how, pretty),
                ];
                let (text, starts) = archive(&entries, pretty);
                let parsed = parse("block.js", text.as_bytes());
                let case = format!("pretty {pretty}, damage {how}:\n{text}");
                assert!(parsed.broken.is_empty(), "{case}\n{:?}", parsed.broken);
                assert_eq!(parsed.targets, vec![id(1), id(3), id(6)], "{case}");
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                let damaged_starts = [starts[1], starts[3], starts[4], starts[6]];
                assert_eq!(reported, damaged_starts, "{case}\n{:?}", parsed.invalid);
                for bad in &parsed.invalid {
                    assert!(
                        bad.reason.starts_with("archive entry is not valid JSON: "),
                        "{bad}"
                    );
                }
            }
        }
    }

    #[test]
    fn block_js_extra_brace_or_missing_comma_loses_no_entry() {
        let parsed = parse(
            "in",
            b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}}},\n\
              {\"blocking\":{\"accountId\":\"2\"}}\n{\"muting\":{\"accountId\":\"3\"}}\n]",
        );
        assert_eq!(parsed.targets, vec![id(1), id(2), id(3)]);
        let shown: Vec<String> = parsed.invalid.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "in:2: archive file: expected `,` or `]` after an entry",
                "in:4: archive file: expected `,` or `]` after an entry",
            ]
        );
        assert!(parsed.broken.is_empty());
    }

    #[test]
    fn block_js_cut_short_anywhere_is_broken_never_a_shorter_list() {
        let ids = [11, 22, 33];
        for pretty in [true, false] {
            let entries: Vec<String> = ids.iter().map(|&i| entry(i, pretty)).collect();
            let (text, _) = archive(&entries, pretty);
            let close = text.rfind(']').unwrap();
            for cut in "window.YTD.".len()..=close {
                let parsed = parse("block.js", &text.as_bytes()[..cut]);
                let case = format!("pretty {pretty}, cut at {cut}: {:?}", &text[..cut]);
                assert_eq!(parsed.broken.len(), 1, "{case}\n{:?}", parsed.broken);
                assert!(parsed.invalid.is_empty(), "{case}\n{:?}", parsed.invalid);
                // What was read before the cut is a prefix of the entries, and nothing else.
                let read: Vec<Target> = ids
                    .iter()
                    .map(|&i| id(i))
                    .take(parsed.targets.len())
                    .collect();
                assert_eq!(parsed.targets, read, "{case}");
            }
            assert_eq!(parse("block.js", text.as_bytes()).targets.len(), 3);
        }
        assert_eq!(
            broken(b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}},\n{\"bloc"),
            ["in:3: archive entry is cut short: the file ends inside it"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}},\n"),
            ["in:3: archive file: the JSON array is not closed (the file may be cut short)"]
        );
    }

    #[test]
    fn a_broken_input_is_an_error_of_read_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("list.txt");
        let cut = dir.path().join("block.js");
        std::fs::write(&good, "1\n").unwrap();
        std::fs::write(
            &cut,
            "window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}},\n{\"blocking\":{",
        )
        .unwrap();
        let err = read(&[good.clone(), cut.clone()]).unwrap_err();
        let InputError::Broken { damage } = &err else {
            panic!("wrong error: {err:?}");
        };
        assert_eq!(damage.source, cut.display().to_string());
        assert_eq!(damage.line, 3);
        let shown = err.to_string();
        assert!(shown.contains(&format!("{}:3: ", cut.display())), "{shown}");
        assert!(shown.contains("--skip-invalid does not apply"), "{shown}");
        assert!(read(&[good]).is_ok());
    }

    #[test]
    fn block_js_structural_errors() {
        assert_eq!(
            broken(b"window.YTD.block.part0\n"),
            vec!["in:1: archive file has no `=` after `window.YTD.…`"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 =\n{}"),
            vec!["in:2: archive file: expected a JSON array `[` after `=`"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 = [\n{\"blocking\":{\"accountId\":\"1\"}}\n"),
            vec!["in:3: archive file: the JSON array is not closed (the file may be cut short)"]
        );
        assert_eq!(
            broken(b"window.YTD.block.part0 = []\nalert(1)\n"),
            vec!["in:2: archive file: unexpected text after the JSON array"]
        );
        let parsed = parse("in", b"window.YTD.block.part0 = [{\"blocking\":{}} {}]");
        assert!(parsed.broken.is_empty());
        assert_eq!(
            parsed
                .invalid
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "in:1: archive entry has no accountId",
                "in:1: archive file: expected `,` or `]` after an entry",
            ]
        );
    }

    // --- detection and I/O -----------------------------------------------------------------

    #[test]
    fn detection_follows_content() {
        assert_eq!(detect(b"window.YTD.block.part0 = []"), Format::BlockJs);
        assert_eq!(detect(b"# c\n\nuser_id\n1\n"), Format::Csv);
        assert_eq!(detect(b"\xEF\xBB\xBFfoo, Screen_Name ,bar\n"), Format::Csv);
        assert_eq!(detect(b"123\nuser_id\n"), Format::List);
        assert_eq!(detect(b"user_ids\n"), Format::List);
        assert_eq!(detect(b"1,2\n"), Format::List);
        assert_eq!(detect(b"// window.YTD.block\n"), Format::List);
        assert_eq!(detect(b""), Format::List);
    }

    #[test]
    fn read_concatenates_files_in_order_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, "1\nbad-name\n").unwrap();
        std::fs::write(&b, "handle\n@z\n").unwrap();
        let parsed = read(&[b.clone(), a.clone()]).unwrap();
        assert_eq!(parsed.targets, vec![name("z"), id(1)]);
        assert_eq!(parsed.invalid.len(), 1);
        assert_eq!(parsed.invalid[0].source, a.display().to_string());
        assert_eq!(parsed.invalid[0].line, 2);
        assert_eq!(parsed.notices.len(), 1);
        assert_eq!(parsed.notices[0].source, b.display().to_string());
        assert_eq!(parsed.notices[0].line, 1);
    }

    #[test]
    fn missing_files_and_directories_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        for path in [missing.clone(), dir.path().to_owned()] {
            let err = read(std::slice::from_ref(&path)).unwrap_err();
            let InputError::Read {
                path: named,
                source,
            } = &err
            else {
                panic!("wrong error: {err:?}");
            };
            assert_eq!(named, &path);
            assert!(err.to_string().contains(&path.display().to_string()));
            assert!(std::error::Error::source(&err).is_some());
            if path == missing {
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            } else {
                assert_eq!(source.kind(), io::ErrorKind::IsADirectory);
            }
        }
    }

    #[test]
    fn a_large_list_parses_quickly_into_exactly_its_targets() {
        let mut text = String::new();
        for i in 1..=200_000u64 {
            if i % 2 == 0 {
                text.push_str(&format!("{i}\n"));
            } else {
                text.push_str(&format!("@n{i}\n"));
            }
        }
        let started = std::time::Instant::now();
        let parsed = parse("big", text.as_bytes());
        let elapsed = started.elapsed();
        assert_eq!(parsed.targets.len(), 200_000);
        assert!(parsed.invalid.is_empty());
        assert_eq!(parsed.targets[1], id(2));
        assert_eq!(parsed.targets[199_998], name("n199999"));
        // Generous even for an unoptimised build on a busy machine; release is far faster.
        assert!(elapsed.as_secs() < 5, "took {elapsed:?}");
    }

    // --- properties ------------------------------------------------------------------------

    mod properties {
        use super::*;
        use crate::executor::Finished;
        use crate::journal::{Entry, Header, Journal};
        use crate::network::UserRef;
        use crate::outcome::{Action, Outcome};
        use crate::target::TargetKind;
        use proptest::prelude::*;

        fn line_count(bytes: &[u8]) -> u64 {
            bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1
        }

        fn arb_target() -> impl Strategy<Value = Target> {
            prop_oneof![
                (1..=u64::MAX).prop_map(Target::Id),
                "[A-Za-z0-9_]{1,15}".prop_map(Target::ScreenName),
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

        fn is_reserved(name: &str) -> bool {
            RESERVED_PATHS.iter().any(|r| name.eq_ignore_ascii_case(r))
        }

        fn looks_like_column(name: &str) -> bool {
            column_of(name.as_bytes()).is_some()
        }

        /// One way of writing `target` on a list line.
        fn render(target: &Target, style: u8, mask: u64) -> String {
            let scheme = ["https://", "http://", "", "HTTPS://"][(mask % 4) as usize];
            let sub = ["", "www.", "mobile."][(mask / 4 % 3) as usize];
            let host = recase(["x.com", "twitter.com"][(mask / 12 % 2) as usize], mask);
            let tail = ["", "/", "?s=20", "/?s=1&t=2#x", "#frag"][(mask / 24 % 5) as usize];
            let prefix = format!("{scheme}{sub}{host}");
            match target {
                Target::Id(n) => match style % 3 {
                    0 => n.to_string(),
                    1 => format!("{prefix}/intent/user?user_id={n}"),
                    _ => format!("{prefix}/i/user/{n}"),
                },
                Target::ScreenName(s) => {
                    let all_digits = s.bytes().all(|b| b.is_ascii_digit());
                    match style % 4 {
                        0 if !all_digits && !looks_like_column(s) => s.clone(),
                        1 if !is_reserved(s) => format!("{prefix}/{s}{tail}"),
                        2 => format!("{prefix}/intent/user?screen_name={s}"),
                        _ => format!("@{s}"),
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic_and_lines_are_in_range(
                prefix in 0..3usize,
                body in proptest::collection::vec(any::<u8>(), 0..400),
            ) {
                let mut bytes = [&b""[..], b"window.YTD.block.part0 = [", b"user_id,handle\n"][prefix]
                    .to_vec();
                bytes.extend_from_slice(&body);
                let parsed = parse("p", &bytes);
                let lines = line_count(&bytes);
                for bad in parsed.invalid.iter().chain(&parsed.broken) {
                    prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
                }
                for notice in &parsed.notices {
                    prop_assert!(notice.line >= 1 && notice.line <= lines, "{notice} of {lines}");
                }
                prop_assert!(parsed.broken.len() <= 1);
            }

            #[test]
            fn arbitrary_text_lines_never_panic_and_lines_are_in_range(
                prefix in 0..3usize,
                body in "[a-z0-9@#,\"{}\\[\\]:/ .\r\n\t=-]{0,300}",
            ) {
                let head = ["", "window.YTD.block.part0 = [{\"blocking\":", "screen_name,id\n"];
                let bytes = format!("{}{body}", head[prefix]).into_bytes();
                let parsed = parse("p", &bytes);
                let lines = line_count(&bytes);
                for bad in parsed.invalid.iter().chain(&parsed.broken) {
                    prop_assert!(bad.line >= 1 && bad.line <= lines, "{bad} of {lines}");
                }
                for notice in &parsed.notices {
                    prop_assert!(notice.line >= 1 && notice.line <= lines, "{notice} of {lines}");
                }
                prop_assert!(parsed.broken.len() <= 1);
            }

            #[test]
            fn damaged_archive_entries_cost_only_themselves(
                rows in proptest::collection::vec((1..=u64::MAX, prop::option::of(0..4usize)), 0..12),
                pretty in any::<bool>(),
                trailing_comma in any::<bool>(),
            ) {
                let entries: Vec<String> = rows
                    .iter()
                    .map(|&(n, damage)| match damage {
                        Some(how) => damaged(n, how, pretty),
                        None => entry(n, pretty),
                    })
                    .collect();
                let (mut text, starts) = archive(&entries, pretty);
                if trailing_comma && !entries.is_empty() {
                    let close = text.rfind(']').unwrap();
                    text.insert(close, ',');
                }
                let parsed = parse("block.js", text.as_bytes());
                prop_assert!(parsed.broken.is_empty(), "{:?}\n{}", parsed.broken, text);
                let good: Vec<Target> = rows
                    .iter()
                    .filter(|(_, damage)| damage.is_none())
                    .map(|&(n, _)| Target::Id(n))
                    .collect();
                prop_assert_eq!(&parsed.targets, &good, "{}", text);
                let bad: Vec<u64> = rows
                    .iter()
                    .zip(&starts)
                    .filter(|((_, damage), _)| damage.is_some())
                    .map(|(_, &line)| line)
                    .collect();
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                prop_assert_eq!(reported, bad, "{:?}\n{}", parsed.invalid, text);
            }

            #[test]
            fn every_accepted_target_round_trips_through_the_journal(
                rows in proptest::collection::vec(
                    (arb_target(), any::<u8>(), any::<u64>(), 0..3usize),
                    1..20,
                ),
                outcome in prop::sample::select(
                    Outcome::ALL.iter().copied().filter(|o| o.is_terminal()).collect::<Vec<_>>(),
                ),
            ) {
                // Accepted input in its many spellings: IDs with leading zeros, `@name`, bare
                // names and profile links, screen names in any case.
                let mut text = String::new();
                for (target, style, mask, zeros) in &rows {
                    let token = match target {
                        Target::Id(n) if style % 3 == 0 => format!("{}{n}", "0".repeat(*zeros)),
                        _ => render(target, *style, *mask),
                    };
                    text.push_str(&token);
                    text.push('\n');
                }
                let parsed = parse("p", text.as_bytes());
                prop_assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
                let expected: Vec<Target> = rows.iter().map(|r| r.0.clone()).collect();
                prop_assert_eq!(&parsed.targets, &expected);

                // Each accepted target recorded as a run records it, through the writer.
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("journal.jsonl");
                let (mut journal, _) = Journal::open(&path).unwrap();
                journal
                    .write_header(&Header {
                        journal: crate::journal::FORMAT_NAME.into(),
                        version: crate::journal::FORMAT_VERSION,
                        account_id: "1".into(),
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
                let written: Vec<(String, TargetKind)> = crate::journal::records(&bytes)
                    .filter_map(|(_, entry)| match entry {
                        Ok(Entry::Record(r)) => Some((r.target, r.by)),
                        _ => None,
                    })
                    .collect();
                for (target, (spelled, by)) in parsed.targets.iter().zip(&written) {
                    prop_assert!(replay.is_done(target), "{target:?}");
                    match target {
                        // The normalised ID: no leading zeros.
                        Target::Id(n) => {
                            prop_assert_eq!(spelled, &n.to_string());
                            prop_assert_eq!(*by, TargetKind::UserId);
                        }
                        // The name without `@`, in the case it was written; done in any case.
                        Target::ScreenName(name) => {
                            prop_assert_eq!(spelled, name);
                            prop_assert_eq!(*by, TargetKind::ScreenName);
                            let twin: String = name
                                .chars()
                                .map(|c| if c.is_ascii_uppercase() {
                                    c.to_ascii_lowercase()
                                } else {
                                    c.to_ascii_uppercase()
                                })
                                .collect();
                            prop_assert!(replay.is_done(&Target::ScreenName(twin)), "{name}");
                        }
                    }
                }
                prop_assert_eq!(written.len(), parsed.targets.len());
            }

            #[test]
            fn a_generated_list_parses_back_to_its_targets(
                rows in proptest::collection::vec(
                    (arb_target(), any::<u8>(), any::<u64>(), 0..8u8, 0..9u8),
                    0..40,
                ),
                crlf in any::<bool>(),
                bom in any::<bool>(),
            ) {
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
                let mut bad_lines = Vec::new();
                for (target, style, mask, decoration, filler) in &rows {
                    match filler % 3 {
                        1 => text.push_str(&format!("   {eol}")),
                        2 => text.push_str(&format!("# a comment, with commas{eol}")),
                        _ => {}
                    }
                    if filler / 3 == 1 {
                        bad_lines.push(line_count(text.as_bytes()));
                        text.push_str(&format!("not-a-name{eol}"));
                    }
                    let token = render(target, *style, *mask);
                    let line = match decoration {
                        1 => format!("  {token}\t"),
                        2 => format!("{token} # why"),
                        3 => format!("\"{token}\","),
                        4 => format!("{token},"),
                        5 => format!("\"{token}\" # quoted"),
                        _ => token,
                    };
                    text.push_str(&line);
                    text.push_str(eol);
                }
                let parsed = parse("p", text.as_bytes());
                prop_assert_eq!(detect(text.as_bytes()), Format::List);
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                prop_assert_eq!(reported, bad_lines, "{:?}\n{}", parsed.invalid, text);
                let expected: Vec<Target> = rows.iter().map(|r| r.0.clone()).collect();
                prop_assert_eq!(parsed.targets, expected);
            }

            #[test]
            fn a_generated_csv_parses_back_to_its_targets(
                id_header in prop::sample::select(&["user_id", "id", "account_id", "accountId"][..]),
                name_header in prop::sample::select(&["screen_name", "username", "handle"][..]),
                header_case in any::<u64>(),
                extra_columns in 0..3usize,
                order_seed in any::<u64>(),
                rows in proptest::collection::vec(
                    (arb_target(), any::<bool>(), any::<bool>(), "[a-z#,\" \n]{0,8}", 0..9u8),
                    1..30,
                ),
                always_quote in any::<bool>(),
                crlf in any::<bool>(),
            ) {
                // Column roles, shuffled by the seed.
                let mut roles: Vec<usize> = (0..2 + extra_columns).collect();
                let mut seed = order_seed;
                for i in (1..roles.len()).rev() {
                    let j = (seed % (i as u64 + 1)) as usize;
                    roles.swap(i, j);
                    seed /= i as u64 + 1;
                }
                let eol = if crlf { "\r\n" } else { "\n" };
                // One writer per row, so blank, comment and bad lines can go in between.
                let write = |bytes: &mut Vec<u8>, record: &[&str]| {
                    let mut writer = csv::WriterBuilder::new()
                        .flexible(true)
                        .comment(Some(b'#'))
                        .quote_style(if always_quote {
                            csv::QuoteStyle::Always
                        } else {
                            csv::QuoteStyle::Necessary
                        })
                        .terminator(if crlf {
                            csv::Terminator::CRLF
                        } else {
                            csv::Terminator::Any(b'\n')
                        })
                        .from_writer(Vec::new());
                    writer.write_record(record).unwrap();
                    bytes.extend(writer.into_inner().unwrap());
                };
                let mut bytes = Vec::new();
                if header_case % 3 == 0 {
                    bytes.extend(format!("# exported{eol}{eol}").as_bytes());
                }
                let header: Vec<String> = roles
                    .iter()
                    .map(|&role| match role {
                        0 => recase(id_header, header_case),
                        1 => format!(" {} ", recase(name_header, header_case >> 20)),
                        n => format!("extra{n}"),
                    })
                    .collect();
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                write(&mut bytes, &header);
                let mut bad_lines = Vec::new();
                for (target, with_at, fill_both, extra, filler) in &rows {
                    match filler % 3 {
                        1 => bytes.extend(eol.as_bytes()),
                        2 => bytes.extend(format!("# note, \"quoted{eol}").as_bytes()),
                        _ => {}
                    }
                    if filler / 3 == 1 {
                        bad_lines.push(line_count(&bytes));
                        let record: Vec<&str> = roles
                            .iter()
                            .map(|&role| if role == 0 { "abc" } else { "x" })
                            .collect();
                        write(&mut bytes, &record);
                    }
                    let (id_cell, name_cell) = match target {
                        Target::Id(n) => {
                            let decoy = if *fill_both { "decoy" } else { "" };
                            (n.to_string(), decoy.to_owned())
                        }
                        Target::ScreenName(s) => {
                            (String::new(), if *with_at { format!("@{s}") } else { s.clone() })
                        }
                    };
                    let record: Vec<&str> = roles
                        .iter()
                        .map(|&role| match role {
                            0 => id_cell.as_str(),
                            1 => name_cell.as_str(),
                            _ => extra.as_str(),
                        })
                        .collect();
                    write(&mut bytes, &record);
                }
                prop_assert_eq!(detect(&bytes), Format::Csv);
                let parsed = parse("p", &bytes);
                let reported: Vec<u64> = parsed.invalid.iter().map(|i| i.line).collect();
                prop_assert_eq!(
                    reported,
                    bad_lines,
                    "{:?}\n{}",
                    parsed.invalid,
                    String::from_utf8_lossy(&bytes)
                );
                let expected: Vec<Target> = rows.iter().map(|r| r.0.clone()).collect();
                prop_assert_eq!(parsed.targets, expected);
            }
        }
    }
}

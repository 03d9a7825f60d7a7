//! X's data archive: `block.js` (and `mute.js`), `window.YTD.block.part0 = [ … ]`, read entry
//! by entry so that damage costs only the entry it is in.
//!
//! The archive is what X gives people who ask for their data, and the most complete list of
//! whom they block. It is recognised by its content, never by its file name.

use serde_json::Value;

use super::identity::parse_id;
use crate::input::{Parsed, Sink};
use crate::target::Target;

/// Whether `bytes` (without a byte-order mark) hold an archive file: `window.YTD.` after
/// optional whitespace.
pub fn is_archive(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"window.YTD.")
}

/// Reads an archive file named `source`.
pub fn parse(source: &str, bytes: &[u8]) -> Parsed {
    let mut sink = Sink::new(source);
    parse_block_js(bytes, &mut sink);
    sink.parsed
}

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
        Some(Value::String(id)) => parse_id(id).map_err(|e| format!("accountId: {e}")),
        Some(Value::Number(id)) => parse_id(&id.to_string()).map_err(|e| format!("accountId: {e}")),
        Some(_) => Err("archive entry: accountId is neither a string nor a number".to_owned()),
        None => Err("archive entry has no accountId".to_owned()),
    }
}

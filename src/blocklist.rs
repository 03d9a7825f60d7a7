//! Exporting the account's whole block list, resumably.
//!
//! The list is read a page at a time (5,000 IDs a page and 15 pages per 15 minutes on v1.1), so a
//! large list takes several windows. Each page is appended to `OUT.partial` as it arrives, with the
//! cursor of the page after it; an interrupted export resumes from the last cursor instead of
//! starting over. The finished list is written to a temporary file and renamed into place, so a
//! half-written file is never mistaken for a complete one. Screen names (`--with-names`) come from
//! the pages where the API gives them (v2), kept in the partial file too, and from user lookups
//! for the rest (v1.1 pages hold IDs only).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::display::{self, Verbosity};
use crate::error::Error;
use crate::network::{Network, NetworkId};
use crate::pace::{Pacer, Rate};
use crate::retry::{self, Retry};
use crate::target::Target;

/// One line of the `.partial` file: a page and where the next one starts.
#[derive(Debug, Serialize, Deserialize)]
struct PageLine {
    /// The account whose list this is: a partial file is never resumed for another account.
    #[serde(default)]
    account: Option<String>,
    /// The IDs of the page, as strings (they exceed 2^53).
    ids: Vec<String>,
    /// The cursor of the next page; `None` after the last page.
    next: Option<String>,
    /// Screen names the page gave, by ID (as a string); absent when it gave none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    names: BTreeMap<String, String>,
}

/// The resumable store of pages fetched so far.
pub struct Partial {
    path: PathBuf,
    account: Option<String>,
    /// `None` for a list kept in memory only (`--dry-run --check`).
    file: Option<File>,
    /// The IDs fetched so far, in order, without repeats.
    pub ids: Vec<String>,
    /// Names the pages gave with their IDs.
    pub names: HashMap<String, String>,
    /// Where the next page starts: `Some(None)` = the first page, `None` = the list is complete.
    pub next: Option<Option<String>>,
}

impl Partial {
    /// Opens (or creates) the partial file beside `out`, reading what an earlier export of the
    /// same account fetched.
    pub fn open(out: &Path, account: &str) -> Result<Partial, Error> {
        let path = partial_path(out);
        let existing = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&path, "cannot read", e)),
        };
        let (ids, names, next, complete_len, owner) = replay_partial(&existing);
        if let Some(owner) = owner.filter(|o| o != account) {
            return Err(Error::Usage(format!(
                "`{}` holds part of the block list of account {owner}, but the credentials are \
                 for account {account}; remove it to start over",
                path.display()
            )));
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, "cannot open", e))?;
        // Drop a torn last line so the next page starts on a line of its own.
        file.set_len(complete_len as u64)
            .map_err(|e| io_error(&path, "cannot repair", e))?;
        let mut file = file;
        {
            use std::io::Seek;
            file.seek(std::io::SeekFrom::End(0))
                .map_err(|e| io_error(&path, "cannot open", e))?;
        }
        Ok(Partial {
            path,
            account: Some(account.to_owned()),
            file: Some(file),
            ids,
            names,
            next,
        })
    }

    /// A store that keeps pages in memory only: nothing is written, nothing resumes.
    pub fn in_memory() -> Partial {
        Partial {
            path: PathBuf::new(),
            account: None,
            file: None,
            ids: Vec::new(),
            names: HashMap::new(),
            next: Some(None),
        }
    }

    /// Appends one page durably.
    fn push(
        &mut self,
        ids: &[String],
        names: HashMap<String, String>,
        next: Option<String>,
    ) -> Result<(), Error> {
        let line = PageLine {
            account: self.account.clone(),
            ids: ids.to_vec(),
            next: next.clone(),
            names: names
                .iter()
                .map(|(id, n)| (id.clone(), n.clone()))
                .collect(),
        };
        if let Some(file) = self.file.as_mut() {
            let mut text = serde_json::to_string(&line)
                .map_err(|e| io_error(&self.path, "cannot encode a page for", e.into()))?;
            text.push('\n');
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(|e| io_error(&self.path, "cannot write", e))?;
        }
        self.ids.extend_from_slice(ids);
        self.names.extend(names);
        self.next = next.map(Some);
        Ok(())
    }

    /// Removes the partial file once the export is in place.
    pub fn remove(self) -> Result<(), Error> {
        let Partial { path, file, .. } = self;
        if file.is_none() {
            return Ok(());
        }
        drop(file);
        std::fs::remove_file(&path).map_err(|e| io_error(&path, "cannot remove", e))
    }
}

/// `OUT.partial`.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// What a partial file holds: the IDs (deduplicated, in order), the names the pages gave, where
/// to go on, the length of the complete part, and the account it belongs to.
type PartialState = (
    Vec<String>,
    HashMap<String, String>,
    Option<Option<String>>,
    usize,
    Option<String>,
);

/// Reads the complete lines of a partial file. Pure.
fn replay_partial(bytes: &[u8]) -> PartialState {
    let mut ids = Vec::new();
    let mut names = HashMap::new();
    let mut seen = HashSet::new();
    let mut next = Some(None);
    let mut complete = 0;
    let mut account = None;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if !line.ends_with(b"\n") {
            break;
        }
        let Ok(page) = serde_json::from_slice::<PageLine>(line) else {
            break;
        };
        if page.ids.iter().any(|id| id.trim().is_empty()) {
            break;
        }
        for id in page.ids {
            if seen.insert(id.clone()) {
                ids.push(id);
            }
        }
        names.extend(page.names);
        next = page.next.map(Some);
        account = page.account.or(account);
        complete += line.len();
    }
    (ids, names, next, complete, account)
}

fn io_error(path: &Path, what: &str, source: std::io::Error) -> Error {
    Error::Io {
        context: format!("{what} `{}`", path.display()),
        source,
    }
}

/// A pacer for lookups, at `lookup_rate`.
pub fn lookup_pacer(
    network: NetworkId,
    list_rate: Rate,
    clock: &std::sync::Arc<crate::clock::ServerClock>,
) -> Pacer {
    Pacer::new(lookup_rate(network, list_rate), clock.clone())
}

/// The pace of lookups: their own limit (the network's default), or the list pace if faster.
fn lookup_rate(network: NetworkId, list_rate: Rate) -> Rate {
    let lookups = network.defaults().lookup_rate;
    if list_rate.per_second() > lookups.per_second() {
        list_rate
    } else {
        lookups
    }
}

/// Fetches every page the partial store does not have yet.
pub async fn fetch<N: Network>(
    network: &N,
    pacer: &Pacer,
    partial: &mut Partial,
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<(), Error> {
    while let Some(cursor) = partial.next.clone() {
        let page = retry::read(
            pacer,
            cancel,
            "reading the block list",
            Retry::DEFAULT,
            || network.blocked_page(cursor.as_deref()),
        )
        .await?;
        partial.push(&page.ids, page.names, page.next)?;
        if verbosity > Verbosity::Quiet {
            display::eprint_line(&format!(
                "block list: {} IDs so far{}",
                partial.ids.len(),
                if partial.next.is_some() {
                    "…"
                } else {
                    ", complete"
                }
            ));
        }
    }
    // Duplicates across pages (a list changing while read) are dropped.
    let mut seen = HashSet::new();
    partial.ids.retain(|id| seen.insert(id.clone()));
    Ok(())
}

/// Looks up the names of the accounts `ids`, as many a request as the network allows.
/// Accounts the server leaves out (suspended, deactivated) get no name.
pub async fn names<N: Network>(
    network: &N,
    pacer: &Pacer,
    ids: &[String],
    cancel: &CancellationToken,
) -> Result<HashMap<String, String>, Error> {
    let identities = network.network().identities();
    let targets: Vec<Target> = ids.iter().filter_map(|id| identities.account(id)).collect();
    let users = crate::resolve::look_up(network, pacer, &targets, cancel, Verbosity::Quiet).await?;
    Ok(users
        .into_iter()
        .filter_map(|user| Some((user.user_id?, user.screen_name?)))
        .collect())
}

/// Writes the list as CSV (the account column, and the name column when names are given)
/// through a temporary file renamed into place.
pub fn write_csv(
    out: &Path,
    columns: [&str; 2],
    ids: &[String],
    names: Option<&HashMap<String, String>>,
) -> Result<(), Error> {
    let mut tmp_name = out.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(File::create(&tmp)?);
        match names {
            Some(names) => {
                w.write_record(columns)?;
                for id in ids {
                    let name = names.get(id).map_or("", String::as_str);
                    w.write_record([id.as_str(), name])?;
                }
            }
            None => {
                w.write_record(&columns[..1])?;
                for id in ids {
                    w.write_record([id])?;
                }
            }
        }
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, out)
    };
    write().map_err(|e| io_error(out, "cannot write", e))
}

/// Exports the account's block list to `out` under `columns` (the identities' export columns
/// of the command's scope: a name column is written if asked and there is one), resuming what
/// an interrupted export of the same account fetched. Returns how many IDs it wrote.
#[allow(clippy::too_many_arguments)]
pub async fn to_file<N: Network>(
    network: &N,
    account_id: &str,
    clock: &std::sync::Arc<crate::clock::ServerClock>,
    out: &Path,
    rate: Rate,
    columns: [&str; 2],
    with_names: bool,
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<usize, Error> {
    // A block list of things without names (Mastodon's domains) has no name column.
    let with_names = with_names && !columns[1].is_empty();
    let mut partial = Partial::open(out, account_id)?;
    if verbosity > Verbosity::Quiet && !partial.ids.is_empty() {
        display::eprint_line(&format!(
            "Resuming an interrupted export: {} IDs were fetched before.",
            partial.ids.len()
        ));
    }
    let pages = Pacer::new(rate, clock.clone());
    fetch(network, &pages, &mut partial, cancel, verbosity).await?;
    let names = if with_names {
        // Only users the pages did not name are looked up (all of them on v1.1, none on v2).
        let unnamed: Vec<String> = partial
            .ids
            .iter()
            .filter(|id| !partial.names.contains_key(*id))
            .cloned()
            .collect();
        let lookups = lookup_pacer(network.network(), rate, clock);
        let mut found = names(network, &lookups, &unnamed, cancel).await?;
        found.extend(partial.names.drain());
        Some(found)
    } else {
        None
    };
    write_csv(out, columns, &partial.ids, names.as_ref())?;
    let count = partial.ids.len();
    partial.remove()?;
    Ok(count)
}

/// Reads the account's block list into memory only, through the same paging as [`to_file`]:
/// nothing is written and nothing resumes (the dry run of `run --all`). The IDs come in the
/// server's order, without repeats.
pub async fn read_list<N: Network>(
    network: &N,
    clock: &std::sync::Arc<crate::clock::ServerClock>,
    rate: Rate,
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<Vec<String>, Error> {
    let mut list = Partial::in_memory();
    let pages = Pacer::new(rate, clock.clone());
    fetch(network, &pages, &mut list, cancel, verbosity).await?;
    Ok(list.ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};

    #[test]
    fn a_partial_file_resumes_from_its_last_complete_page() {
        let bytes = b"{\"ids\":[\"1\",\"2\"],\"next\":\"c1\"}\n{\"ids\":[\"2\",\"3\"],\"next\":\"c2\"}\n{\"ids\":[\"4\"";
        let (ids, names, next, len, _) = replay_partial(bytes);
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(names.is_empty());
        assert_eq!(next, Some(Some("c2".to_owned())));
        assert_eq!(len, bytes.len() - br#"{"ids":["4""#.len());
        let (ids, names, next, _, account) = replay_partial(
            b"{\"account\":\"7\",\"ids\":[\"9\",\"10\"],\"next\":null,\"names\":{\"9\":\"nine\",\"x\":\"bad\"}}\n",
        );
        assert_eq!(
            (ids, next, account),
            (
                vec!["9".to_owned(), "10".to_owned()],
                None,
                Some("7".to_owned())
            )
        );
        assert_eq!(
            names,
            HashMap::from([
                ("9".to_owned(), "nine".to_owned()),
                ("x".to_owned(), "bad".to_owned())
            ]),
            "names are kept as given: a lookup would not tell more"
        );
        let (ids, names, next, len, account) = replay_partial(b"");
        assert_eq!(
            (ids, names, next, len, account),
            (vec![], HashMap::new(), Some(None), 0, None)
        );
    }

    #[test]
    fn partial_pages_survive_a_reopen_and_the_csv_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("blocks.csv");
        let mut p = Partial::open(&out, "42").unwrap();
        assert_eq!(p.next, Some(None));
        p.push(
            &["5".to_owned(), "6".to_owned()],
            HashMap::from([("6".to_owned(), "six".to_owned())]),
            Some("next-1".into()),
        )
        .unwrap();
        drop(p);
        // A torn line from a kill while writing the second page.
        let mut f = OpenOptions::new()
            .append(true)
            .open(partial_path(&out))
            .unwrap();
        f.write_all(b"{\"ids\":[\"7\"").unwrap();
        drop(f);
        assert!(Partial::open(&out, "43").is_err(), "another account's list");
        let mut p = Partial::open(&out, "42").unwrap();
        assert_eq!(p.ids, ["5", "6"]);
        assert_eq!(
            p.names,
            HashMap::from([("6".to_owned(), "six".to_owned())]),
            "names survive too"
        );
        assert_eq!(p.next, Some(Some("next-1".into())));
        p.push(&["7".to_owned()], HashMap::new(), None).unwrap();
        assert_eq!(p.next, None);
        let names = [("5".to_owned(), "five".to_owned())].into_iter().collect();
        write_csv(&out, ["user_id", "screen_name"], &p.ids, Some(&names)).unwrap();
        p.remove().unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "user_id,screen_name\n5,five\n6,\n7,\n"
        );
        assert!(!partial_path(&out).exists());
    }
}

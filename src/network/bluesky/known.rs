//! What the client learnt before and during the run: the account's block and list-block
//! records by subject (read from `listRecords`), the DIDs behind handles, and which subjects
//! this run has already unblocked or blocked.
//!
//! Unblocking on Bluesky is deleting records, and one subject may have several, so the client
//! must know every record's key before it acts; the run reads them through
//! [`crate::network::Network::needs_list`]. Everything here is pure and synchronous, kept
//! behind one lock by the client and never held across a request.

use std::collections::{HashMap, HashSet};

use compact_str::CompactString;

use super::identity::{self, DID, HANDLE, LIST};
use crate::network::{Settled, UserRef};
use crate::outcome::{Action, Outcome};
use crate::target::Target;

/// The collection of blocks.
pub const BLOCK: &str = "app.bsky.graph.block";
/// The collection of moderation-list subscriptions.
pub const LISTBLOCK: &str = "app.bsky.graph.listblock";

/// Which of the two collections of blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    /// `app.bsky.graph.block`: subjects are DIDs.
    Block,
    /// `app.bsky.graph.listblock`: subjects are lists' at-URIs.
    ListBlock,
}

impl Collection {
    /// The NSID.
    pub fn nsid(self) -> &'static str {
        match self {
            Collection::Block => BLOCK,
            Collection::ListBlock => LISTBLOCK,
        }
    }
}

/// How far a collection has been read in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Read {
    /// Not at all.
    #[default]
    Unread,
    /// From its first page on, not to the end yet.
    FromStart,
    /// From a cursor an earlier process left (a resumed export): never complete here.
    Resumed,
    /// Every page, from the first to the empty one.
    Complete,
}

/// One collection's records: record keys by subject, several per subject where the repo
/// holds duplicates.
#[derive(Debug, Default)]
struct Listing {
    by_subject: HashMap<CompactString, Vec<CompactString>>,
    read: Read,
}

impl Listing {
    fn add(&mut self, subject: &str, rkey: &str) {
        let keys = self.by_subject.entry(subject.into()).or_default();
        if !keys.iter().any(|k| k == rkey) {
            keys.push(rkey.into());
        }
    }

    fn keys(&self, subject: &str) -> &[CompactString] {
        self.by_subject.get(subject).map_or(&[], Vec::as_slice)
    }

    fn remove(&mut self, subject: &str, rkey: &str) {
        if let Some(keys) = self.by_subject.get_mut(subject) {
            keys.retain(|k| k != rkey);
            if keys.is_empty() {
                self.by_subject.remove(subject);
            }
        }
    }
}

/// What a target names, as far as the client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The subject of its records: a DID, or a list's at-URI naming its owner by DID.
    Known(Collection, String),
    /// A handle (of the account, or of a list's owner) that nobody answers to.
    Gone(String),
    /// A handle not looked up yet.
    Unresolved,
}

/// One record to delete or create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// Its collection.
    pub collection: Collection,
    /// Its subject.
    pub subject: String,
    /// Its key (deletes), empty for a create.
    pub rkey: String,
}

/// The deletes that unblock some targets (see [`Known::deletes`]).
#[derive(Debug)]
pub struct Deletes {
    /// Each record once, in target order.
    pub writes: Vec<Write>,
    /// Each target's collection and subject, in target order.
    pub subjects: Vec<(Collection, String)>,
}

/// What the client knows. See the module's documentation.
#[derive(Debug, Default)]
pub struct Known {
    blocks: Listing,
    listblocks: Listing,
    /// Lowercased handles and their DID; `None` when nobody answers to the handle.
    handles: HashMap<String, Option<String>>,
    /// Handles by DID, from lookups.
    names: HashMap<String, String>,
    /// Subjects whose last record this run deleted.
    unblocked: HashSet<String>,
    /// Subjects this run created a record for (undo).
    blocked: HashSet<String>,
    /// Subjects whose records are deleted one request each, since a batch of theirs failed.
    stepwise: HashSet<String>,
}

impl Known {
    fn listing(&self, collection: Collection) -> &Listing {
        match collection {
            Collection::Block => &self.blocks,
            Collection::ListBlock => &self.listblocks,
        }
    }

    fn listing_mut(&mut self, collection: Collection) -> &mut Listing {
        match collection {
            Collection::Block => &mut self.blocks,
            Collection::ListBlock => &mut self.listblocks,
        }
    }

    /// A page of `collection` is about to be read: the first (`first`) starts the collection
    /// over; a later one read without its first is part of a resumed read.
    pub fn start_page(&mut self, collection: Collection, first: bool) {
        let listing = self.listing_mut(collection);
        if first {
            listing.by_subject.clear();
            listing.read = Read::FromStart;
        } else if listing.read != Read::FromStart {
            listing.read = Read::Resumed;
        }
    }

    /// Records a page's records (subject, record key).
    pub fn add_records<'a>(
        &mut self,
        collection: Collection,
        records: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let listing = self.listing_mut(collection);
        for (subject, rkey) in records {
            listing.add(subject, rkey);
        }
    }

    /// The collection's last page was read.
    pub fn end_collection(&mut self, collection: Collection) {
        let listing = self.listing_mut(collection);
        if listing.read == Read::FromStart {
            listing.read = Read::Complete;
        }
    }

    /// Whether every record of `collection` was read in this process.
    pub fn complete(&self, collection: Collection) -> bool {
        self.listing(collection).read == Read::Complete
    }

    /// Remembers what a lookup told of a handle.
    pub fn learn_handle(&mut self, handle: &str, did: Option<&str>) {
        let handle = handle.to_ascii_lowercase();
        if let Some(did) = did {
            self.names.insert(did.to_owned(), handle.clone());
        }
        self.handles.insert(handle, did.map(str::to_owned));
    }

    /// Remembers the handle a profile gave for a DID.
    pub fn learn_name(&mut self, did: &str, handle: &str) {
        self.names
            .insert(did.to_owned(), handle.to_ascii_lowercase());
    }

    /// The handle a lookup gave for a DID.
    pub fn name_of(&self, did: &str) -> Option<&str> {
        self.names.get(did).map(String::as_str)
    }

    /// Whether a lookup answered for `handle` (found or not).
    pub fn handle_known(&self, handle: &str) -> bool {
        self.handles.contains_key(&handle.to_ascii_lowercase())
    }

    /// The DID a handle resolved to.
    pub fn did_of(&self, handle: &str) -> Option<&str> {
        self.handles
            .get(&handle.to_ascii_lowercase())
            .and_then(Option::as_deref)
    }

    /// The handles among `targets` (the accounts', and lists' owners') not looked up yet,
    /// each once, as handle targets.
    pub fn to_resolve(&self, targets: &[Target]) -> Vec<Target> {
        let mut seen = HashSet::new();
        targets
            .iter()
            .filter_map(|t| {
                if t.is(&HANDLE) {
                    Some(t.text().to_owned())
                } else if t.is(&LIST) {
                    identity::list_owner(t)
                        .filter(|owner| !owner.starts_with("did:"))
                        .map(str::to_owned)
                } else {
                    None
                }
            })
            .filter(|handle| !self.handles.contains_key(handle) && seen.insert(handle.clone()))
            .map(|handle| Target::new(&HANDLE, handle))
            .collect()
    }

    /// What `target` names.
    pub fn subject(&self, target: &Target) -> Subject {
        let handle = |h: &str| match self.handles.get(h) {
            Some(Some(did)) => Ok(did.clone()),
            Some(None) => Err(Subject::Gone(h.to_owned())),
            None => Err(Subject::Unresolved),
        };
        if target.is(&DID) {
            Subject::Known(Collection::Block, target.text().to_owned())
        } else if target.is(&HANDLE) {
            match handle(target.text()) {
                Ok(did) => Subject::Known(Collection::Block, did),
                Err(subject) => subject,
            }
        } else {
            let (Some(owner), Some(rkey)) =
                (identity::list_owner(target), identity::list_rkey(target))
            else {
                return Subject::Unresolved;
            };
            let owner = if owner.starts_with("did:") {
                owner.to_owned()
            } else {
                match handle(owner) {
                    Ok(did) => did,
                    Err(subject) => return subject,
                }
            };
            Subject::Known(
                Collection::ListBlock,
                format!("at://{owner}/{}/{rkey}", identity::LIST_COLLECTION),
            )
        }
    }

    /// The account a target names, as the journal records it: the DID and the handle where
    /// known. Lists name no account.
    pub fn user(&self, target: &Target) -> UserRef {
        match self.subject(target) {
            Subject::Known(Collection::Block, did) => UserRef {
                screen_name: if target.is(&HANDLE) {
                    Some(target.text().to_owned())
                } else {
                    self.names.get(&did).cloned()
                },
                user_id: Some(did),
            },
            Subject::Gone(handle) if target.is(&HANDLE) => UserRef {
                user_id: None,
                screen_name: Some(handle),
            },
            _ => UserRef::default(),
        }
    }

    /// What acting on `target` costs in points: unblocking deletes each of its records (1
    /// point each), blocking creates one (3 points).
    pub fn cost(&self, action: Action, target: &Target) -> u32 {
        match action {
            Action::Block => CREATE_POINTS,
            Action::Unblock => match self.subject(target) {
                Subject::Known(collection, subject) => {
                    let n = self.listing(collection).keys(&subject).len();
                    u32::try_from(n).unwrap_or(u32::MAX).max(1)
                }
                _ => 1,
            },
        }
    }

    /// How acting on `target` ends without a request, when the client knows: a handle nobody
    /// answers to is `not_found`; a subject with no record is `not_blocked` (or `unblocked`
    /// when this run deleted its records); on undo, a subject blocked already is `blocked`.
    pub fn settled(&self, action: Action, target: &Target) -> Option<Settled> {
        let (collection, subject) = match self.subject(target) {
            Subject::Known(collection, subject) => (collection, subject),
            Subject::Gone(handle) => {
                return Some(Settled {
                    outcome: Outcome::NotFound,
                    user: self.user(target),
                    error_code: None,
                    message: Some(format!(
                        "no account answers to the handle {handle} (unknown, deactivated, \
                         deleted or suspended)"
                    )),
                });
            }
            Subject::Unresolved => return None,
        };
        if !self.complete(collection) {
            return None;
        }
        let has_records = self.has_records(collection, &subject);
        let settled = |outcome: Outcome, message: Option<&str>| {
            Some(Settled {
                outcome,
                user: self.user(target),
                error_code: None,
                message: message.map(str::to_owned),
            })
        };
        match action {
            Action::Unblock if has_records => None,
            Action::Unblock if self.unblocked.contains(&subject) => {
                settled(Outcome::Unblocked, None)
            }
            Action::Unblock => settled(
                Outcome::NotBlocked,
                Some(match collection {
                    Collection::Block => "the account holds no block record for this subject",
                    Collection::ListBlock => "the account does not subscribe to this list",
                }),
            ),
            Action::Block if has_records || self.blocked.contains(&subject) => {
                settled(Outcome::Blocked, Some("already blocked"))
            }
            Action::Block => None,
        }
    }

    /// The deletes that unblock `targets`, each record once (two targets may name one
    /// subject), in target order; and for each target, its subject. A target whose subject
    /// has no record left gets none.
    pub fn deletes(&self, targets: &[Target]) -> Result<Deletes, String> {
        let mut writes: Vec<Write> = Vec::new();
        let mut subjects = Vec::with_capacity(targets.len());
        let mut seen = HashSet::new();
        for target in targets {
            let Subject::Known(collection, subject) = self.subject(target) else {
                return Err(format!(
                    "what `{target}` names was not learnt before the run"
                ));
            };
            for rkey in self.listing(collection).keys(&subject) {
                if seen.insert((collection, rkey.clone())) {
                    writes.push(Write {
                        collection,
                        subject: subject.clone(),
                        rkey: rkey.to_string(),
                    });
                }
            }
            subjects.push((collection, subject));
        }
        Ok(Deletes { writes, subjects })
    }

    /// The creates that block `targets` again, one per subject not blocked already, in
    /// target order.
    pub fn creates(&self, targets: &[Target]) -> Result<Vec<Write>, String> {
        let mut writes: Vec<Write> = Vec::new();
        for target in targets {
            let Subject::Known(collection, subject) = self.subject(target) else {
                return Err(format!(
                    "what `{target}` names was not learnt before the run"
                ));
            };
            let has = self.has_records(collection, &subject) || self.blocked.contains(&subject);
            if !has && !writes.iter().any(|w| w.subject == subject) {
                writes.push(Write {
                    collection,
                    subject: subject.clone(),
                    rkey: String::new(),
                });
            }
        }
        Ok(writes)
    }

    /// The server confirmed these deletes: their records are gone.
    pub fn deleted(&mut self, writes: &[Write]) {
        for w in writes {
            let listing = self.listing_mut(w.collection);
            listing.remove(&w.subject, &w.rkey);
            if listing.keys(&w.subject).is_empty() {
                self.unblocked.insert(w.subject.clone());
            }
        }
    }

    /// The server confirmed a create, under `rkey` when it said.
    pub fn created(&mut self, collection: Collection, subject: &str, rkey: Option<&str>) {
        if let Some(rkey) = rkey {
            self.listing_mut(collection).add(subject, rkey);
        }
        self.blocked.insert(subject.to_owned());
        self.unblocked.remove(subject);
    }

    /// Whether a subject's records are left to delete.
    pub fn has_records(&self, collection: Collection, subject: &str) -> bool {
        !self.listing(collection).keys(subject).is_empty()
    }

    /// From now on, delete the subject's records one request each.
    pub fn go_stepwise(&mut self, subject: &str) {
        self.stepwise.insert(subject.to_owned());
    }

    /// Whether the subject's records are deleted one request each.
    pub fn is_stepwise(&self, subject: &str) -> bool {
        self.stepwise.contains(subject)
    }
}

/// What creating a record costs, in points.
pub const CREATE_POINTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::bluesky::identity::testing::{did, handle, list};

    const A: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
    const OWNER: &str = "did:plc:oooooooooooooooooooooooo";

    fn read(known: &mut Known, records: &[(&str, &str)]) {
        known.start_page(Collection::Block, true);
        known.add_records(Collection::Block, records.iter().copied());
        known.end_collection(Collection::Block);
    }

    #[test]
    fn every_record_of_a_subject_is_deleted_once() {
        let mut known = Known::default();
        read(
            &mut known,
            &[(A, "3k1"), (A, "3k2"), (B, "3k3"), (A, "3k1")],
        );
        known.learn_handle("Bee.bsky.social", Some(B));
        assert_eq!(
            known.cost(Action::Unblock, &did(A)),
            2,
            "a duplicate page adds nothing"
        );
        let targets = [did(A), handle("bee.bsky.social"), did(B)];
        let Deletes { writes, subjects } = known.deletes(&targets).unwrap();
        let keys: Vec<&str> = writes.iter().map(|w| w.rkey.as_str()).collect();
        assert_eq!(
            keys,
            ["3k1", "3k2", "3k3"],
            "B's record once for two targets"
        );
        assert_eq!(subjects[1], (Collection::Block, B.to_owned()));
        assert_eq!(
            known.settled(Action::Unblock, &did(A)),
            None,
            "records to delete"
        );
        known.deleted(&writes[..1]);
        assert!(
            known.has_records(Collection::Block, A),
            "one of A's two is left"
        );
        known.deleted(&writes);
        let settled = known.settled(Action::Unblock, &did(A)).unwrap();
        assert_eq!(settled.outcome, Outcome::Unblocked, "deleted by this run");
        assert_eq!(settled.user.user_id.as_deref(), Some(A));
        let b = known
            .settled(Action::Unblock, &handle("bee.bsky.social"))
            .unwrap();
        assert_eq!(b.user.screen_name.as_deref(), Some("bee.bsky.social"));
        assert_eq!(b.user.user_id.as_deref(), Some(B));
    }

    #[test]
    fn what_needs_no_request_is_settled() {
        let mut known = Known::default();
        let nobody = handle("nobody.bsky.social");
        assert_eq!(
            known.settled(Action::Unblock, &did(A)),
            None,
            "list not read"
        );
        assert_eq!(
            known.to_resolve(&[nobody.clone(), did(A)]),
            vec![nobody.clone()]
        );
        read(&mut known, &[(B, "3k3")]);
        known.learn_handle("nobody.bsky.social", None);
        assert!(known.to_resolve(std::slice::from_ref(&nobody)).is_empty());
        let gone = known.settled(Action::Unblock, &nobody).unwrap();
        assert_eq!(gone.outcome, Outcome::NotFound);
        assert_eq!(gone.user.screen_name.as_deref(), Some("nobody.bsky.social"));
        let free = known.settled(Action::Unblock, &did(A)).unwrap();
        assert_eq!(free.outcome, Outcome::NotBlocked);
        assert_eq!(known.cost(Action::Unblock, &did(A)), 1);
        // Undo: a subject blocked already is not blocked twice.
        assert_eq!(
            known.settled(Action::Block, &did(B)).map(|s| s.outcome),
            Some(Outcome::Blocked)
        );
        assert_eq!(known.settled(Action::Block, &did(A)), None);
        let writes = known.creates(&[did(A), did(B), did(A)]).unwrap();
        assert_eq!(writes.len(), 1, "one create for A, none for B");
        known.created(Collection::Block, A, Some("3k9"));
        assert_eq!(
            known.settled(Action::Block, &did(A)).map(|s| s.outcome),
            Some(Outcome::Blocked)
        );
    }

    #[test]
    fn a_list_named_by_its_owners_handle_is_matched_through_the_handle() {
        let mut known = Known::default();
        let by_handle = list("modlists.bsky.test", "3k7duyn5e222g");
        let by_did = list(OWNER, "3k7duyn5e222g");
        let subject = format!("at://{OWNER}/app.bsky.graph.list/3k7duyn5e222g");
        known.start_page(Collection::ListBlock, true);
        known.add_records(Collection::ListBlock, [(subject.as_str(), "3kl1")]);
        known.end_collection(Collection::ListBlock);
        assert_eq!(known.subject(&by_handle), Subject::Unresolved);
        assert_eq!(
            known.to_resolve(&[by_handle.clone(), by_did.clone()]),
            vec![handle("modlists.bsky.test")]
        );
        known.learn_handle("modlists.bsky.test", Some(OWNER));
        assert_eq!(
            known.subject(&by_handle),
            Subject::Known(Collection::ListBlock, subject.clone())
        );
        let writes = known.deletes(&[by_handle.clone(), by_did]).unwrap().writes;
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].collection, Collection::ListBlock);
        assert_eq!(
            known.user(&by_handle),
            UserRef::default(),
            "a list is no account"
        );
        known.learn_handle("gone.bsky.test", None);
        let orphan = list("gone.bsky.test", "3kabc");
        assert_eq!(
            known.settled(Action::Unblock, &orphan).map(|s| s.outcome),
            Some(Outcome::NotFound)
        );
    }

    #[test]
    fn a_resumed_read_is_never_complete() {
        let mut known = Known::default();
        known.start_page(Collection::Block, false);
        known.add_records(Collection::Block, [(A, "3k1")]);
        known.end_collection(Collection::Block);
        assert!(!known.complete(Collection::Block));
        assert_eq!(known.settled(Action::Unblock, &did(B)), None);
        read(&mut known, &[(B, "3k3")]);
        assert!(known.complete(Collection::Block));
        assert!(
            !known.has_records(Collection::Block, A),
            "a new read starts over"
        );
    }
}

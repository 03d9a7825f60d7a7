//! Who a request is about: an identity of the network's own (an X user ID or screen name, a
//! Bluesky DID, handle or moderation list, a Mastodon account ID, acct or domain), kept as text.
//!
//! Each network parses and normalises its identities (see `network::Identities`) and says
//! which [`Kind`] each is; everything else (the plan, the journal, the display) only compares
//! them. Two rules are shared by every network and live here: an identity is compared within
//! its [`Space`], and names (the [`Space::Name`] space) compare ignoring ASCII case.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use compact_str::CompactString;

/// The space an identity lives in: which identities of a journal record name the same subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// Accounts by their stable ID: a record's `user_id` names one too.
    Id,
    /// Accounts by their name: a record's `screen_name` names one too. Names compare ignoring
    /// ASCII case on every network.
    Name,
    /// Anything else a network acts on (a moderation list, a whole domain): only records of
    /// its own kind name it.
    Other,
}

impl Space {
    /// Every space, in a fixed order (indexes of per-space tables).
    pub const ALL: [Space; 3] = [Space::Id, Space::Name, Space::Other];

    /// The index of this space in [`Space::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a target names its subject: one of a network's kinds of identity. Networks define
/// theirs as statics.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// The journal's `by` value (`user_id`, `screen_name`, `did`, `acct`, …).
    pub name: &'static str,
    /// The space its identities live in.
    pub space: Space,
    /// What it is, with its article, for messages ("a user ID", "an acct").
    pub noun: &'static str,
}

/// One subject to act on, as the user named it: a kind and the identity's text, normalised
/// by the network that parsed it.
#[derive(Clone)]
pub struct Target {
    kind: &'static Kind,
    /// Up to 24 bytes inline: IDs and names need no allocation of their own.
    text: CompactString,
}

impl Target {
    /// A target of `kind`. Only networks call this, after checking `text` by their rules.
    pub fn new(kind: &'static Kind, text: impl Into<CompactString>) -> Target {
        Target {
            kind,
            text: text.into(),
        }
    }

    /// How this target names its subject.
    pub fn kind(&self) -> &'static Kind {
        self.kind
    }

    /// Whether the target is of `kind`.
    pub fn is(&self, kind: &Kind) -> bool {
        self.kind.name == kind.name
    }

    /// The space the target lives in.
    pub fn space(&self) -> Space {
        self.kind.space
    }

    /// The identity as the journal writes it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The comparison key: duplicates and journal matches are found through it.
    pub fn key(&self) -> TargetKey {
        TargetKey::new(self.kind.space, &self.text)
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.kind.name == other.kind.name && self.text == other.text
    }
}

impl Eq for Target {}

impl Hash for Target {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.name.hash(state);
        self.text.hash(state);
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name, self.text)
    }
}

/// The journal form: the identity's text.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The identity used to compare targets: the space and the text, names folded to lowercase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    space: Space,
    repr: Repr,
}

/// A key's text: a canonical decimal (no sign, no leading zero) that fits 64 bits is kept as
/// the number, which most account IDs are; maps then hold and hash 8 bytes instead of 20. A
/// text that is such a number is always `Number`, so equal texts give equal keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Number(u64),
    Text(CompactString),
}

impl TargetKey {
    /// The key of `text` in `space` (folded to lowercase for names).
    pub fn new(space: Space, text: &str) -> TargetKey {
        let repr = match number(text) {
            Some(n) => Repr::Number(n),
            None if space == Space::Name && text.bytes().any(|b| b.is_ascii_uppercase()) => {
                Repr::Text(CompactString::from(text.to_ascii_lowercase()))
            }
            None => Repr::Text(CompactString::from(text)),
        };
        TargetKey { space, repr }
    }

    /// The key of a numeric identity in `space`, without formatting the number.
    pub fn number(space: Space, n: u64) -> TargetKey {
        TargetKey {
            space,
            repr: Repr::Number(n),
        }
    }

    /// The key of an account ID.
    pub fn id(text: &str) -> TargetKey {
        TargetKey::new(Space::Id, text)
    }

    /// The key of a name (folded to lowercase).
    pub fn name(text: &str) -> TargetKey {
        TargetKey::new(Space::Name, text)
    }
}

/// `text` as a number, when it is a canonical decimal (no sign, no leading zero) that fits
/// 64 bits.
fn number(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 20 || (bytes[0] == b'0' && bytes.len() > 1) {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// A map from target keys to values, compact for millions of keys: per space, canonical
/// decimal keys are stored as numbers and the rest as inline strings. The hasher is a fast
/// multiply-fold (see [`KeyHasher`]): keys come from the user's own lists and journals.
#[derive(Clone, Debug)]
pub struct KeyMap<V> {
    numbers: [HashMap<u64, V, KeyHasher>; 3],
    texts: [HashMap<CompactString, V, KeyHasher>; 3],
}

impl<V> Default for KeyMap<V> {
    fn default() -> KeyMap<V> {
        KeyMap {
            numbers: Default::default(),
            texts: Default::default(),
        }
    }
}

impl<V> KeyMap<V> {
    /// An empty map with room for `n` keys of each space's numeric part.
    pub fn with_capacity(numbers: usize, texts: usize) -> KeyMap<V> {
        let mut map = KeyMap::default();
        // Accounts are by far the common case: give the room to the ID space.
        map.numbers[Space::Id.index()] =
            HashMap::with_capacity_and_hasher(numbers, KeyHasher::default());
        map.texts[Space::Name.index()] =
            HashMap::with_capacity_and_hasher(texts, KeyHasher::default());
        map
    }

    /// Builds a map from entries in order; the later entry of a key wins.
    ///
    /// Inserted in file order, a million keys land all over a table of tens of megabytes, and
    /// waiting on memory was most of a journal replay's time. Sorted by the slot each key
    /// hashes to, the table fills front to back. The sort is stable and equal keys have equal
    /// hashes, so the entries of one key end up side by side in order, and folding them into
    /// the last one sizes the table for the distinct keys only. If the slot guess below does
    /// not match the table's layout, only speed suffers.
    pub fn from_ordered(entries: Vec<(TargetKey, V)>) -> KeyMap<V> {
        let mut numbers: [Vec<(u64, u64, V)>; 3] = Default::default();
        let mut texts: [Vec<(u64, CompactString, V)>; 3] = Default::default();
        for (key, value) in entries {
            let space = key.space.index();
            match key.repr {
                Repr::Number(n) => numbers[space].push((hash_one(&n), n, value)),
                Repr::Text(text) => texts[space].push((hash_one(&text), text, value)),
            }
        }
        KeyMap {
            numbers: numbers.map(fill),
            texts: texts.map(fill),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &TargetKey) -> Option<&V> {
        let space = key.space.index();
        match &key.repr {
            Repr::Number(n) => self.numbers[space].get(n),
            Repr::Text(text) => self.texts[space].get(text),
        }
    }

    /// Sets the value of `key`, returning the one it replaces.
    pub fn insert(&mut self, key: TargetKey, value: V) -> Option<V> {
        let space = key.space.index();
        match key.repr {
            Repr::Number(n) => self.numbers[space].insert(n, value),
            Repr::Text(text) => self.texts[space].insert(text, value),
        }
    }

    /// Whether `key` is in the map.
    pub fn contains(&self, key: &TargetKey) -> bool {
        self.get(key).is_some()
    }

    /// How many keys the map holds.
    pub fn len(&self) -> usize {
        self.numbers.iter().map(HashMap::len).sum::<usize>()
            + self.texts.iter().map(HashMap::len).sum::<usize>()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap use, to check it stays small on very large journals.
    pub fn heap_bytes(&self) -> usize {
        // hashbrown keeps one control byte per bucket beside each entry.
        let numbers: usize = self
            .numbers
            .iter()
            .map(|m| m.capacity() * (size_of::<(u64, V)>() + 1))
            .sum();
        let texts: usize = self
            .texts
            .iter()
            .map(|m| m.capacity() * (size_of::<(CompactString, V)>() + 1))
            .sum();
        numbers + texts
    }
}

fn hash_one<T: Hash>(value: &T) -> u64 {
    use std::hash::BuildHasher;
    KeyHasher::default().hash_one(value)
}

/// Builds a map from `(hash, key, value)` entries in order, as [`KeyMap::from_ordered`] says.
fn fill<K: Hash + Eq, V>(mut entries: Vec<(u64, K, V)>) -> HashMap<K, V, KeyHasher> {
    // A table has a power-of-two number of slots, filled to at most 7/8, and a key's slot is
    // its hash's low bits. Rotated to the top, they sort in slot order, for a table of this
    // size or any smaller one (the distinct keys may be fewer than the entries).
    let slots = (entries.len() as u64 * 8 / 7 + 1).next_power_of_two();
    let rotate = 64 - slots.trailing_zeros();
    entries.sort_by_key(|(hash, _, _)| hash.rotate_left(rotate));
    entries.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0 && later.1 == earlier.1;
        if same {
            std::mem::swap(&mut earlier.2, &mut later.2);
        }
        same
    });
    let mut map = HashMap::with_capacity_and_hasher(entries.len(), KeyHasher::default());
    for (_, key, value) in entries {
        map.insert(key, value);
    }
    map
}

/// Hashes keys with a folded multiply per word. The standard SipHash resists crafted keys,
/// which a journal this tool wrote for the user does not need, and it was the largest cost of
/// replaying a big journal after parsing.
pub type KeyHasher = std::hash::BuildHasherDefault<FoldHasher>;

/// The state of [`KeyHasher`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let full = u128::from(self.0 ^ word) * u128::from(K);
        self.0 = (full as u64) ^ ((full >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ID: Kind = Kind {
        name: "user_id",
        space: Space::Id,
        noun: "a user ID",
    };
    static NAME: Kind = Kind {
        name: "screen_name",
        space: Space::Name,
        noun: "a screen name",
    };
    static LIST: Kind = Kind {
        name: "list",
        space: Space::Other,
        noun: "a list",
    };

    #[test]
    fn names_compare_ignoring_case_and_never_equal_ids() {
        let a = Target::new(&NAME, "Jack");
        let b = Target::new(&NAME, "JACK");
        assert_eq!(a.key(), b.key());
        assert_ne!(a, b, "the spelling is kept");
        let name_123 = Target::new(&NAME, "123");
        let id_123 = Target::new(&ID, "123");
        assert_ne!(name_123.key(), id_123.key());
        assert_eq!(name_123.to_string(), id_123.to_string());
        // Other identities compare exactly.
        assert_ne!(
            Target::new(&LIST, "at://did:plc:a/app.bsky.graph.list/AB").key(),
            Target::new(&LIST, "at://did:plc:a/app.bsky.graph.list/ab").key()
        );
    }

    #[test]
    fn the_map_keeps_numbers_and_texts_apart_by_space() {
        let mut map = KeyMap::default();
        map.insert(TargetKey::id("123"), 1);
        map.insert(TargetKey::id("0123"), 2);
        map.insert(TargetKey::name("123"), 3);
        map.insert(TargetKey::id("did:plc:abc"), 4);
        map.insert(TargetKey::name("Bob"), 5);
        map.insert(TargetKey::id("99999999999999999999999"), 6);
        assert_eq!(map.get(&TargetKey::id("123")), Some(&1));
        assert_eq!(
            map.get(&TargetKey::id("0123")),
            Some(&2),
            "not the number 123"
        );
        assert_eq!(map.get(&TargetKey::name("123")), Some(&3));
        assert_eq!(map.get(&TargetKey::id("did:plc:abc")), Some(&4));
        assert_eq!(map.get(&TargetKey::name("BOB")), Some(&5));
        assert_eq!(map.get(&TargetKey::id("99999999999999999999999")), Some(&6));
        assert_eq!(map.get(&TargetKey::id("18446744073709551615")), None);
        assert_eq!(map.len(), 6);
    }

    #[test]
    fn a_map_built_in_order_keeps_the_last_value_of_each_key() {
        let entries: Vec<(TargetKey, u32)> = (0..5000u32)
            .map(|i| (TargetKey::id(&(i % 700).to_string()), i))
            .chain([(TargetKey::name("Ann"), 1), (TargetKey::name("ann"), 2)])
            .collect();
        let map = KeyMap::from_ordered(entries);
        assert_eq!(map.len(), 701);
        for k in 0..700u32 {
            let last = (0..5000).rev().find(|i| i % 700 == k).unwrap();
            assert_eq!(map.get(&TargetKey::id(&k.to_string())), Some(&last));
        }
        assert_eq!(map.get(&TargetKey::name("ANN")), Some(&2));
    }
}

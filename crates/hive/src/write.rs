//! The write side: a hive edited in memory, then written out whole, with
//! hivex's on-disk semantics so that Windows and hivex accept the result.
//!
//! What it owns: [`HiveEditor`] -- adding keys (`add_child`), deleting key
//! subtrees (`delete_child`), replacing a key's values (`set_values`,
//! `set_value`) -- and [`HiveEditor::commit`], which produces the new file:
//! - both sequence numbers become the old primary one plus one, the hive bins
//!   data size and the base block checksum (XOR of the first 127 dwords) are
//!   updated; the last-written time is left as it was (as hivex does);
//! - free cells are never reused: every new cell goes into hive bins appended
//!   after the last one (each a multiple of 4 KiB, cells 8-byte aligned, a
//!   negative size marking a used cell, the rest of a bin one free cell);
//!   cells that nothing refers to any more are marked free;
//! - a new key copies its parent's timestamp and security record (whose
//!   reference count goes up by one); its name is Latin-1 when every
//!   character allows it, else UTF-16LE;
//! - subkey lists are kept sorted by upper-cased name, compared as Windows
//!   compares them (code unit by code unit, after upcasing each UTF-16 unit),
//!   with the lh hash Windows computes (`h = h * 37 + upcase(unit)`); the
//!   parent's subkey count and longest-name field follow. A leaf that did not
//!   change keeps its cell; in an ri list a new key joins the leaf that holds
//!   the next larger name (the last leaf when none is larger), as hivex does;
//! - values of 4 bytes or less are stored in the vk record; larger data goes
//!   in one cell, or, above 16,344 bytes in hives of minor version 4 and
//!   later, in big data (db) segments, as Windows requires;
//! - deleting a key frees its subtree (children first), drops the reference
//!   count of each security record it used and frees a record that reaches
//!   zero, unlinking it from the records' list; the root cannot be deleted.
//!
//! Edits are recorded, not applied: lists and value lists are written once
//! per commit however many keys were added, so a merge of 10,000 keys under
//! one parent writes one list, not 10,000 growing copies of it. Values that
//! survive a change keep their vk records.
//!
//! Where it departs from hivex, on purpose: names compare and hash as
//! Windows does beyond ASCII too (hivex folds only ASCII and hashes UTF-8
//! bytes, which Windows would not find); big values use db records as
//! Windows requires (hivex writes one cell of any size); deleting frees db
//! segments, handles li parent lists and frees a list left empty (hivex
//! leaks the first, fails on the second after deleting, keeps the third);
//! the longest value name and data fields are recomputed, not only raised.
//!
//! What it must not do: write anything the reader in this crate would
//! refuse, panic on a hostile hive (every pointer it follows is checked by
//! the reader), or grow a hive past its limits without an error of kind
//! [`ErrorKind::Limit`](crate::ErrorKind::Limit): cell size, value size,
//! name lengths, subkeys and values per key, key depth, hive size.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::{Error, Result};
use crate::hive::{Hive, MAX_KEY_DEPTH, Node, Visit, WalkOptions};

/// Largest cell allocated, header included (hivex refuses larger ones).
pub const MAX_CELL: usize = 1_000_000;
/// Most subkeys of one key: hivex and our reader refuse to read more.
pub const MAX_SUBKEYS_PER_KEY: usize = 70_000;
/// Most values of one key: hivex and our reader refuse to read more.
pub const MAX_VALUES_PER_KEY: usize = 110_000;
/// Largest value data: what hivex agrees to read.
pub const MAX_VALUE_DATA: usize = 8_000_000;
/// Longest key name, in UTF-16 code units (Windows' limit).
pub const MAX_KEY_NAME: usize = 255;
/// Longest value name, in UTF-16 code units (Windows' limit).
pub const MAX_VALUE_NAME: usize = 16_383;
/// Default bound on the size of the written hive file.
pub const DEFAULT_MAX_HIVE_SIZE: u64 = 1 << 30;
/// Cell offsets have 31 bits (the top bit means volatile storage).
const HARD_MAX_HIVE_SIZE: u64 = 0x8000_0000;

const BASE_BLOCK_SIZE: usize = 0x1000;
const HBIN_HEADER_SIZE: usize = 0x20;
const NO_CELL: u32 = 0xFFFF_FFFF;
const NK_FIXED: usize = 0x4C;
const VK_FIXED: usize = 0x14;
const KEY_COMP_NAME: u16 = 0x0020;
const DATA_INLINE: u32 = 0x8000_0000;
/// Data bytes per big data segment; larger values use db records from hive
/// minor version 4 on.
const BIG_DATA_SEGMENT: usize = 16_344;
const BIG_DATA_MIN_MINOR: u32 = 4;
/// Entries of one lf/lh/li leaf (a 16-bit count).
const MAX_LEAF: usize = 0xFFFF;
/// Leaf size when a list has to be split under an ri list: the lh entries
/// that fit one 4 KiB bin, as Windows splits them.
const SPLIT_LEAF: usize = 507;

/// One value to store: name (`""` is the default value), type, raw data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetValue {
    pub name: String,
    pub value_type: u32,
    pub data: Vec<u8>,
}

/// A key in a [`HiveEditor`]; valid for the editor that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(usize);

/// Windows upcases each UTF-16 unit on its own (a surrogate stays as it
/// is); characters whose upper case is not one BMP character stay too.
pub(crate) fn upcase_unit(u: u16) -> u16 {
    if u < 0x80 {
        return u8::try_from(u).map_or(u, |b| u16::from(b.to_ascii_uppercase()));
    }
    let Some(c) = char::from_u32(u32::from(u)) else {
        return u;
    };
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(x), None) => u16::try_from(u32::from(x)).unwrap_or(u),
        _ => u,
    }
}

fn upcase_units(units: &[u16]) -> Vec<u16> {
    units.iter().map(|&u| upcase_unit(u)).collect()
}

/// What names are matched on: hivex compares names as C strings, so a name
/// with an embedded NUL matches its part before the NUL.
fn match_key(up: &[u16]) -> &[u16] {
    match up.iter().position(|&u| u == 0) {
        Some(i) => &up[..i],
        None => up,
    }
}

/// The lh hash Windows computes and checks when it looks a key up.
fn lh_hash(up: &[u16]) -> [u8; 4] {
    let h = up
        .iter()
        .fold(0u32, |h, &u| h.wrapping_mul(37).wrapping_add(u32::from(u)));
    h.to_le_bytes()
}

/// The old lf "hint": the name's first four characters.
fn lf_hint(units: &[u16]) -> [u8; 4] {
    let mut h = [0u8; 4];
    for (d, &u) in h.iter_mut().zip(units) {
        *d = u8::try_from(u).unwrap_or(0);
    }
    h
}

/// A name as stored: Latin-1 bytes (`true`) when every character fits,
/// else UTF-16LE.
fn encode_name(name: &str) -> (Vec<u8>, bool) {
    if name.chars().all(|c| u32::from(c) < 0x100) {
        (name.chars().map(|c| u32::from(c) as u8).collect(), true)
    } else {
        (
            name.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            false,
        )
    }
}

fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn rd_u32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

#[derive(Debug)]
struct Children {
    /// Original list order, then creation order; deleted keys stay here
    /// (marked) so deletion is O(1).
    order: Vec<KeyId>,
    /// Match key (upper-cased, up to a NUL) -> keys of that name.
    by_name: HashMap<Vec<u16>, Vec<KeyId>>,
    live: usize,
    dirty: bool,
    /// The list cells as read: (offset, signature); empty for none.
    orig_lists: Vec<(u32, [u8; 2])>,
}

#[derive(Debug, Clone)]
enum PValue {
    /// A value of the original hive, kept as it is (its vk record stays).
    Kept {
        vk: u32,
        up: Vec<u16>,
    },
    New {
        v: SetValue,
        up: Vec<u16>,
    },
}

#[derive(Debug)]
struct Values {
    list: Vec<PValue>,
    /// The original value list cell, the original vk records and the cells
    /// of their data: freed at commit unless kept.
    orig_list: Option<u32>,
    orig_vks: Vec<(u32, Vec<u32>)>,
    pending_bytes: u64,
    /// The list was replaced: it is written at commit.
    dirty: bool,
}

#[derive(Debug)]
struct EKey {
    /// The nk record in the original hive; `None` for a key added here.
    orig: Option<u32>,
    name: String,
    /// Upper-cased name units: the sort key.
    up: Vec<u16>,
    parent: Option<KeyId>,
    depth: usize,
    /// Security record offset (`NO_CELL` if none).
    sk: u32,
    timestamp: u64,
    /// For original keys: the hash in the parent's leaf, and which of the
    /// parent's list cells holds it.
    orig_hash: Option<[u8; 4]>,
    orig_leaf: usize,
    children: Option<Children>,
    values: Option<Values>,
    deleted: bool,
}

/// A hive opened for writing; see the module documentation.
#[derive(Debug)]
pub struct HiveEditor {
    base: Hive,
    keys: Vec<EKey>,
    /// Change of each security record's reference count.
    sk_delta: BTreeMap<u32, i64>,
    /// Cells of deleted keys, freed at commit.
    freed: Vec<u32>,
    max_hive_size: u64,
    /// Estimate of the bytes the edits will add, to refuse runaway input
    /// before commit time.
    growth: u64,
    modified: bool,
}

impl HiveEditor {
    /// Opens hive bytes for editing (see [`HiveEditor::from_hive`]).
    pub fn open(data: Vec<u8>) -> Result<HiveEditor> {
        HiveEditor::from_hive(Hive::open(data)?)
    }

    /// Opens an already parsed hive for editing. Hives whose hive bins data
    /// size disagrees with the bins found are refused: new bins go right
    /// after the last one, and there the size field and the bins must agree.
    pub fn from_hive(base: Hive) -> Result<HiveEditor> {
        let declared =
            (base.base_block().hive_bins_data_size as usize).saturating_add(BASE_BLOCK_SIZE);
        if declared != base.bins_end() {
            return Err(Error::unsupported(format!(
                "the hive bins data size says the bins end at {declared:#x}, but they end at \
                 {:#x}: not writing to this hive",
                base.bins_end()
            )));
        }
        let root = base.root();
        let root_key = EKey {
            orig: Some(root.offset()),
            name: root.name(),
            up: upcase_units(&root.name_units()),
            parent: None,
            depth: 0,
            sk: root.field_u32(0x2C),
            timestamp: root.timestamp(),
            orig_hash: None,
            orig_leaf: 0,
            children: None,
            values: None,
            deleted: false,
        };
        Ok(HiveEditor {
            base,
            keys: vec![root_key],
            sk_delta: BTreeMap::new(),
            freed: Vec::new(),
            max_hive_size: DEFAULT_MAX_HIVE_SIZE,
            growth: 0,
            modified: false,
        })
    }

    /// The hive as it was opened.
    pub fn base(&self) -> &Hive {
        &self.base
    }

    /// Problems tolerated when the hive was opened (see [`Hive::warnings`]).
    pub fn warnings(&self) -> &[String] {
        self.base.warnings()
    }

    /// Bounds the size of the written file (at most 2 GiB, the format's
    /// limit); the default is [`DEFAULT_MAX_HIVE_SIZE`].
    pub fn set_max_hive_size(&mut self, bytes: u64) {
        self.max_hive_size = bytes.min(HARD_MAX_HIVE_SIZE);
    }

    /// True once anything was changed.
    pub fn is_modified(&self) -> bool {
        self.modified
    }

    /// The root key.
    pub fn root(&self) -> KeyId {
        KeyId(0)
    }

    fn key(&self, k: KeyId) -> Result<&EKey> {
        match self.keys.get(k.0) {
            Some(e) if !e.deleted => Ok(e),
            Some(e) => Err(Error::invalid(format!("key {} was deleted", e.name))),
            None => Err(Error::invalid("no such key in this editor")),
        }
    }

    /// The key's name.
    pub fn name(&self, k: KeyId) -> Result<&str> {
        Ok(&self.key(k)?.name)
    }

    /// The parent key (`None` for the root).
    pub fn parent(&self, k: KeyId) -> Result<Option<KeyId>> {
        Ok(self.key(k)?.parent)
    }

    /// The key's path from the root, `\`-separated (`\` for the root).
    pub fn path(&self, k: KeyId) -> Result<String> {
        let mut names = Vec::new();
        let mut cur = k;
        while let Some(p) = self.key(cur)?.parent {
            names.push(self.keys[cur.0].name.as_str());
            cur = p;
        }
        if names.is_empty() {
            return Ok("\\".into());
        }
        names.reverse();
        Ok(names.iter().fold(String::new(), |mut s, n| {
            s.push('\\');
            s.push_str(n);
            s
        }))
    }

    /// Reads the subkeys of an original key into the arena, once.
    fn load_children(&mut self, k: KeyId) -> Result<()> {
        self.key(k)?;
        if self.keys[k.0].children.is_some() {
            return Ok(());
        }
        let mut ch = Children {
            order: Vec::new(),
            by_name: HashMap::new(),
            live: 0,
            dirty: false,
            orig_lists: Vec::new(),
        };
        if let Some(off) = self.keys[k.0].orig {
            let node = self.base.node_at(off)?;
            let layout = node.subkey_layout()?;
            let depth = self.keys[k.0].depth + 1;
            ch.orig_lists = layout.lists;
            ch.order.reserve(layout.entries.len());
            for (child_off, hash, leaf) in layout.entries {
                let c = self.base.node_at(child_off)?;
                let up = upcase_units(&c.name_units());
                let id = KeyId(self.keys.len());
                self.keys.push(EKey {
                    orig: Some(child_off),
                    name: c.name(),
                    up: up.clone(),
                    parent: Some(k),
                    depth,
                    sk: c.field_u32(0x2C),
                    timestamp: c.timestamp(),
                    orig_hash: hash,
                    orig_leaf: leaf,
                    children: None,
                    values: None,
                    deleted: false,
                });
                ch.order.push(id);
                ch.by_name
                    .entry(match_key(&up).to_vec())
                    .or_default()
                    .push(id);
                ch.live += 1;
            }
        }
        self.keys[k.0].children = Some(ch);
        Ok(())
    }

    /// The subkeys, original ones in list order, then added ones.
    pub fn children(&mut self, k: KeyId) -> Result<Vec<KeyId>> {
        self.load_children(k)?;
        let ch = self.keys[k.0].children.as_ref();
        Ok(ch
            .map(|c| {
                c.order
                    .iter()
                    .copied()
                    .filter(|id| !self.keys[id.0].deleted)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The subkey called `name`, compared case-insensitively.
    pub fn child(&mut self, k: KeyId, name: &str) -> Result<Option<KeyId>> {
        self.load_children(k)?;
        let units: Vec<u16> = name.encode_utf16().collect();
        let up = upcase_units(&units);
        let ch = self.keys[k.0].children.as_ref();
        Ok(ch
            .and_then(|c| c.by_name.get(match_key(&up)))
            .and_then(|ids| ids.first().copied()))
    }

    /// Looks a key up by a `\`-separated path below the root, as
    /// [`Hive::lookup`] does.
    pub fn lookup(&mut self, path: &str) -> Result<Option<KeyId>> {
        let mut parts: Vec<&str> = path.split('\\').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.first() == Some(&"") {
            parts.remove(0);
        }
        if parts.len() > MAX_KEY_DEPTH {
            return Err(Error::limit(format!(
                "path is deeper than {MAX_KEY_DEPTH} keys"
            )));
        }
        let mut cur = self.root();
        for p in parts {
            match self.child(cur, p)? {
                Some(c) => cur = c,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    fn check_growth(&self, extra: u64) -> Result<()> {
        let total = (self.base.bytes().len() as u64)
            .saturating_add(self.growth)
            .saturating_add(extra);
        if total > self.max_hive_size {
            return Err(Error::limit(format!(
                "the hive would grow past {} bytes (about {total} bytes with this change)",
                self.max_hive_size
            )));
        }
        Ok(())
    }

    /// Adds a subkey called `name` under `parent` (hivex's `node_add_child`).
    /// Fails when a subkey of that name exists (case-insensitively).
    pub fn add_child(&mut self, parent: KeyId, name: &str) -> Result<KeyId> {
        let pkey = self.key(parent)?;
        let depth = pkey.depth + 1;
        let (sk, timestamp) = (pkey.sk, pkey.timestamp);
        if name.is_empty() {
            return Err(Error::invalid("a key name cannot be empty"));
        }
        if name.contains('\\') || name.contains('\0') {
            return Err(Error::invalid(format!(
                "key name {name:?} contains a backslash or NUL"
            )));
        }
        let units: Vec<u16> = name.encode_utf16().collect();
        if units.len() > MAX_KEY_NAME {
            return Err(Error::limit(format!(
                "key name {name:?} is longer than {MAX_KEY_NAME} characters"
            )));
        }
        if depth > MAX_KEY_DEPTH {
            return Err(Error::limit(format!(
                "key {name:?} would be nested deeper than {MAX_KEY_DEPTH} levels"
            )));
        }
        if self.child(parent, name)?.is_some() {
            return Err(Error::invalid(format!(
                "{}: a subkey called {name:?} exists already",
                self.path(parent)?
            )));
        }
        let live = self.keys[parent.0].children.as_ref().map_or(0, |c| c.live);
        if live >= MAX_SUBKEYS_PER_KEY {
            return Err(Error::limit(format!(
                "{}: a key cannot have more than {MAX_SUBKEYS_PER_KEY} subkeys",
                self.path(parent)?
            )));
        }
        let what = || format!("security (sk) of the parent of new key {name:?}");
        let sk_ok = sk != NO_CELL
            && self
                .base
                .cell_at(sk, &what)
                .is_ok_and(|c| c.get(0..2) == Some(b"sk"));
        if !sk_ok {
            return Err(Error::corrupt(format!(
                "{}: parent key has no valid security record (sk) at {sk:#x} for the new key to \
                 inherit",
                self.path(parent)?
            )));
        }
        let (stored, _) = encode_name(name);
        let cost = round8(4 + NK_FIXED + stored.len()) as u64 + 8;
        self.check_growth(cost)?;
        self.growth += cost;
        *self.sk_delta.entry(sk).or_insert(0) += 1;

        let up = upcase_units(&units);
        let id = KeyId(self.keys.len());
        self.keys.push(EKey {
            orig: None,
            name: name.to_string(),
            up: up.clone(),
            parent: Some(parent),
            depth,
            sk,
            timestamp,
            orig_hash: None,
            orig_leaf: 0,
            children: Some(Children {
                order: Vec::new(),
                by_name: HashMap::new(),
                live: 0,
                dirty: false,
                orig_lists: Vec::new(),
            }),
            values: Some(Values {
                list: Vec::new(),
                orig_list: None,
                orig_vks: Vec::new(),
                pending_bytes: 0,
                dirty: false,
            }),
            deleted: false,
        });
        if let Some(ch) = self.keys[parent.0].children.as_mut() {
            ch.order.push(id);
            ch.by_name
                .entry(match_key(&up).to_vec())
                .or_default()
                .push(id);
            ch.live += 1;
            ch.dirty = true;
        }
        self.modified = true;
        Ok(id)
    }

    /// Deletes `k` and everything below it (hivex's `node_delete_child`).
    /// The root cannot be deleted.
    pub fn delete_child(&mut self, k: KeyId) -> Result<()> {
        let Some(parent) = self.key(k)?.parent else {
            return Err(Error::invalid("the root key of a hive cannot be deleted"));
        };
        // Gather the whole subtree first, so that a corrupt part below
        // fails the deletion before anything is changed.
        let mut loaded = Vec::new();
        let mut disk: Vec<u32> = Vec::new();
        let mut stack = vec![k];
        while let Some(id) = stack.pop() {
            loaded.push(id);
            let e = &self.keys[id.0];
            match (&e.children, e.orig) {
                (Some(ch), _) => {
                    stack.extend(ch.order.iter().copied().filter(|c| !self.keys[c.0].deleted))
                }
                (None, Some(off)) => {
                    // Nothing below an unloaded key was ever loaded.
                    let node = self.base.node_at(off)?;
                    let opts = WalkOptions {
                        sorted: false,
                        max_depth: MAX_KEY_DEPTH,
                    };
                    self.base.walk(node, &opts, |w| {
                        if w.depth > 0 {
                            disk.push(w.node.offset());
                        }
                        Ok(Visit::Continue)
                    })?;
                }
                (None, None) => {}
            }
        }
        let mut freed = Vec::new();
        let mut sk_drops: Vec<u32> = Vec::new();
        for off in disk {
            let node = self.base.node_at(off)?;
            original_key_cells(&node, None, None, &mut freed, &mut sk_drops)?;
        }
        for &id in &loaded {
            let e = &self.keys[id.0];
            match e.orig {
                Some(off) => {
                    let node = self.base.node_at(off)?;
                    original_key_cells(
                        &node,
                        e.children.as_ref().map(|c| c.orig_lists.as_slice()),
                        e.values.as_ref(),
                        &mut freed,
                        &mut sk_drops,
                    )?;
                }
                None => sk_drops.push(e.sk),
            }
        }
        for sk in sk_drops {
            if sk != NO_CELL {
                *self.sk_delta.entry(sk).or_insert(0) -= 1;
            }
        }
        self.freed.extend(freed);
        for &id in &loaded {
            self.keys[id.0].deleted = true;
        }
        let up = match_key(&self.keys[k.0].up).to_vec();
        if let Some(ch) = self.keys[parent.0].children.as_mut() {
            if let Some(ids) = ch.by_name.get_mut(&up) {
                ids.retain(|&i| i != k);
                if ids.is_empty() {
                    ch.by_name.remove(&up);
                }
            }
            ch.live -= 1;
            ch.dirty = true;
        }
        self.modified = true;
        Ok(())
    }

    /// Loads the original values of `k` as kept values, once.
    fn load_values(&mut self, k: KeyId) -> Result<()> {
        self.key(k)?;
        if self.keys[k.0].values.is_some() {
            return Ok(());
        }
        let mut vals = Values {
            list: Vec::new(),
            orig_list: None,
            orig_vks: Vec::new(),
            pending_bytes: 0,
            dirty: false,
        };
        if let Some(off) = self.keys[k.0].orig {
            let node = self.base.node_at(off)?;
            if let Some((list, vks)) = node.value_cells()? {
                vals.orig_list = Some(list);
                for v in vks {
                    // Data cells that cannot be found are left allocated
                    // (leaked), never freed on a guess.
                    vals.orig_vks
                        .push((v.offset(), v.data_cells().unwrap_or_default()));
                    vals.list.push(PValue::Kept {
                        vk: v.offset(),
                        up: upcase_units(&v.name_units()),
                    });
                }
            }
        }
        self.keys[k.0].values = Some(vals);
        Ok(())
    }

    /// The key's values, in value-list order.
    pub fn values(&mut self, k: KeyId) -> Result<Vec<SetValue>> {
        self.load_values(k)?;
        let Some(vals) = self.keys[k.0].values.as_ref() else {
            return Ok(Vec::new());
        };
        vals.list
            .iter()
            .map(|p| match p {
                PValue::Kept { vk, .. } => {
                    let v = self.base.value_at(*vk)?;
                    Ok(SetValue {
                        name: v.name(),
                        value_type: v.value_type(),
                        data: v.data()?,
                    })
                }
                PValue::New { v, .. } => Ok(v.clone()),
            })
            .collect()
    }

    /// Replaces all values of `k` with `values` (hivex's
    /// `node_set_values`). Two values of one name are an error.
    pub fn set_values(&mut self, k: KeyId, values: Vec<SetValue>) -> Result<()> {
        let mut seen = HashSet::new();
        for v in &values {
            let up = upcase_units(&v.name.encode_utf16().collect::<Vec<_>>());
            if !seen.insert(up) {
                return Err(Error::invalid(format!(
                    "{}: two values called {:?}",
                    self.path(k)?,
                    v.name
                )));
            }
        }
        self.load_values(k)?;
        let list = values
            .into_iter()
            .map(|v| {
                let up = upcase_units(&v.name.encode_utf16().collect::<Vec<_>>());
                PValue::New { v, up }
            })
            .collect();
        self.replace_values(k, list)
    }

    /// Sets one value: replaces the value of that name (case-insensitive)
    /// in place, or appends it (hivex's `node_set_value`).
    pub fn set_value(&mut self, k: KeyId, value: SetValue) -> Result<()> {
        self.load_values(k)?;
        let up = upcase_units(&value.name.encode_utf16().collect::<Vec<_>>());
        let Some(vals) = self.keys[k.0].values.as_ref() else {
            return Ok(());
        };
        let mut list = vals.list.clone();
        let new = PValue::New { v: value, up };
        let PValue::New { up, .. } = &new else {
            return Ok(());
        };
        match list.iter().position(|p| match p {
            PValue::Kept { up: u, .. } | PValue::New { up: u, .. } => u == up,
        }) {
            Some(i) => list[i] = new,
            None => list.push(new),
        }
        self.replace_values(k, list)
    }

    /// The change a `.reg` section makes: values named in `delete` and
    /// those replaced by `new` go, the others keep their order, the new
    /// ones follow in order (a name given twice in `new` keeps its first
    /// place and its last data). Deletions apply to existing values only.
    pub fn merge_values(&mut self, k: KeyId, new: Vec<SetValue>, delete: &[String]) -> Result<()> {
        self.load_values(k)?;
        let mut new_list: Vec<(Vec<u16>, SetValue)> = Vec::with_capacity(new.len());
        let mut index: HashMap<Vec<u16>, usize> = HashMap::new();
        for v in new {
            let up = upcase_units(&v.name.encode_utf16().collect::<Vec<_>>());
            match index.get(&up) {
                Some(&i) => new_list[i].1 = v,
                None => {
                    index.insert(up.clone(), new_list.len());
                    new_list.push((up, v));
                }
            }
        }
        let gone: HashSet<Vec<u16>> = delete
            .iter()
            .map(|n| upcase_units(&n.encode_utf16().collect::<Vec<_>>()))
            .chain(index.keys().cloned())
            .collect();
        let Some(vals) = self.keys[k.0].values.as_ref() else {
            return Ok(());
        };
        let before = vals.list.len();
        let mut list: Vec<PValue> = vals
            .list
            .iter()
            .filter(|p| match p {
                PValue::Kept { up, .. } | PValue::New { up, .. } => !gone.contains(up),
            })
            .cloned()
            .collect();
        if list.len() == before && new_list.is_empty() {
            return Ok(());
        }
        list.extend(new_list.into_iter().map(|(up, v)| PValue::New { v, up }));
        self.replace_values(k, list)
    }

    fn replace_values(&mut self, k: KeyId, list: Vec<PValue>) -> Result<()> {
        let path = || self.path(k).unwrap_or_default();
        if list.len() > MAX_VALUES_PER_KEY {
            return Err(Error::limit(format!(
                "{}: a key cannot have more than {MAX_VALUES_PER_KEY} values",
                path()
            )));
        }
        let big_ok = self.base.base_block().minor_version >= BIG_DATA_MIN_MINOR;
        let mut cost = round8(4 + 4 * list.len()) as u64;
        for p in &list {
            let PValue::New { v, .. } = p else { continue };
            let name_units = v.name.encode_utf16().count();
            if name_units > MAX_VALUE_NAME {
                return Err(Error::limit(format!(
                    "{}: value name {:?} is longer than {MAX_VALUE_NAME} characters",
                    path(),
                    v.name
                )));
            }
            if v.name.contains('\0') {
                return Err(Error::invalid(format!(
                    "{}: value name {:?} contains NUL",
                    path(),
                    v.name
                )));
            }
            let max = if big_ok { MAX_VALUE_DATA } else { MAX_CELL - 4 };
            if v.data.len() > max {
                return Err(Error::limit(format!(
                    "{}: value {:?} has {} bytes of data, more than the {max} this hive can hold",
                    path(),
                    v.name,
                    v.data.len()
                )));
            }
            let (stored, _) = encode_name(&v.name);
            cost += round8(4 + VK_FIXED + stored.len()) as u64 + data_cost(v.data.len(), big_ok);
        }
        let prev = self.keys[k.0]
            .values
            .as_ref()
            .map_or(0, |v| v.pending_bytes);
        let growth = self.growth.saturating_sub(prev);
        let total = (self.base.bytes().len() as u64)
            .saturating_add(growth)
            .saturating_add(cost);
        if total > self.max_hive_size {
            return Err(Error::limit(format!(
                "{}: the hive would grow past {} bytes (about {total} bytes with this change)",
                path(),
                self.max_hive_size
            )));
        }
        self.growth = growth + cost;
        if let Some(vals) = self.keys[k.0].values.as_mut() {
            vals.list = list;
            vals.pending_bytes = cost;
            vals.dirty = true;
        }
        self.modified = true;
        Ok(())
    }

    /// Writes the edited hive: the original bytes with new bins appended,
    /// changed records patched, dropped cells freed and the base block
    /// updated. The editor is unchanged; committing again gives the same
    /// bytes.
    pub fn commit(&self) -> Result<Vec<u8>> {
        let mut out = Out {
            buf: self.base.bytes().to_vec(),
            endpages: self.base.bins_end(),
            endblocks: 0,
            max_size: usize::try_from(self.max_hive_size).unwrap_or(usize::MAX),
            free: Vec::new(),
            big_ok: self.base.base_block().minor_version >= BIG_DATA_MIN_MINOR,
        };
        out.free.extend_from_slice(&self.freed);
        let root = self.root();
        self.emit_key(&mut out, root, self.base.root().offset())?;
        self.apply_sk_changes(&mut out)?;

        // Free what nothing refers to any more. Each cell was found by the
        // reader as a used cell of the original hive.
        let mut done = HashSet::new();
        for rel in std::mem::take(&mut out.free) {
            if rel == NO_CELL || !self.base.is_used_cell(rel) || !done.insert(rel) {
                continue;
            }
            let abs = rel as usize + BASE_BLOCK_SIZE;
            let size = rd_u32(&out.buf, abs) as i32;
            if size < 0 {
                out.put_u32(abs, size.unsigned_abs());
            }
        }

        let b = &mut out.buf;
        let seq = rd_u32(b, 0x04).wrapping_add(1);
        put_u32(b, 0x04, seq);
        put_u32(b, 0x08, seq);
        let bins = u32::try_from(out.endpages - BASE_BLOCK_SIZE)
            .map_err(|_| Error::limit("the hive bins exceed 4 GiB"))?;
        put_u32(b, 0x28, bins);
        let sum = (0..127).fold(0u32, |s, i| s ^ rd_u32(b, i * 4));
        put_u32(b, 0x1FC, sum);
        Ok(out.buf)
    }

    /// Writes what changed at `k` (whose nk record is at `nk`), then
    /// recurses into the subkeys that have changes of their own.
    fn emit_key(&self, out: &mut Out, k: KeyId, nk: u32) -> Result<()> {
        let e = &self.keys[k.0];
        let nk_abs = nk as usize + BASE_BLOCK_SIZE;
        if let Some(vals) = e.values.as_ref().filter(|v| v.dirty) {
            self.emit_values(out, nk_abs, vals)?;
        }
        let Some(ch) = &e.children else {
            return Ok(());
        };
        let mut live: Vec<KeyId> = ch
            .order
            .iter()
            .copied()
            .filter(|c| !self.keys[c.0].deleted)
            .collect();
        // Stable: among equal names the original order stays.
        live.sort_by(|a, b| self.keys[a.0].up.cmp(&self.keys[b.0].up));
        let mut offsets = Vec::with_capacity(live.len());
        for &c in &live {
            let ce = &self.keys[c.0];
            let off = match ce.orig {
                Some(off) => off,
                None => out.new_nk(ce, nk)?,
            };
            offsets.push(off);
        }
        if ch.dirty || e.orig.is_none() {
            self.emit_subkey_lists(out, nk_abs, ch, &live, &offsets)?;
        }
        for (&c, &off) in live.iter().zip(&offsets) {
            let ce = &self.keys[c.0];
            if ce.orig.is_none() || ce.children.is_some() || ce.values.is_some() {
                self.emit_key(out, c, off)?;
            }
        }
        Ok(())
    }

    fn emit_values(&self, out: &mut Out, nk_abs: usize, vals: &Values) -> Result<()> {
        if let Some(l) = vals.orig_list {
            out.free.push(l);
        }
        let kept: HashSet<u32> = vals
            .list
            .iter()
            .filter_map(|p| match p {
                PValue::Kept { vk, .. } => Some(*vk),
                PValue::New { .. } => None,
            })
            .collect();
        for (vk, data) in &vals.orig_vks {
            if !kept.contains(vk) {
                out.free.push(*vk);
                out.free.extend_from_slice(data);
            }
        }
        let (mut max_name, mut max_data) = (0u32, 0u32);
        let mut list_off = NO_CELL;
        if !vals.list.is_empty() {
            list_off = out.alloc(4 + 4 * vals.list.len(), *b"\0\0")?;
        }
        for (i, p) in vals.list.iter().enumerate() {
            let (vk, name_bytes, data_len) = match p {
                PValue::Kept { vk, up } => {
                    let v = self.base.value_at(*vk)?;
                    (*vk, up.len() * 2, v.data_len())
                }
                PValue::New { v, .. } => {
                    let (vk, name_len) = out.new_value(v)?;
                    (vk, name_len, v.data.len() as u32)
                }
            };
            max_name = max_name.max(name_bytes as u32);
            max_data = max_data.max(data_len);
            out.put_u32(list_off as usize + BASE_BLOCK_SIZE + 4 + 4 * i, vk);
        }
        out.put_u32(nk_abs + 4 + 0x24, vals.list.len() as u32);
        out.put_u32(nk_abs + 4 + 0x28, list_off);
        out.put_u32(nk_abs + 4 + 0x3C, max_name);
        out.put_u32(nk_abs + 4 + 0x40, max_data);
        Ok(())
    }

    /// Writes the subkey lists of a key whose subkeys changed. `live` is
    /// sorted; `offsets` are their nk records.
    fn emit_subkey_lists(
        &self,
        out: &mut Out,
        nk_abs: usize,
        ch: &Children,
        live: &[KeyId],
        offsets: &[u32],
    ) -> Result<()> {
        let orig = &ch.orig_lists;
        // The leaves as read: one leaf, or one ri over leaves. Anything
        // else (nested ri lists) is rebuilt from scratch.
        let simple = match orig.as_slice() {
            [] => true,
            [(_, sig)] => sig != b"ri",
            [(_, ri), rest @ ..] => ri == b"ri" && rest.iter().all(|(_, s)| s != b"ri"),
        };
        let leaf_sig = orig
            .iter()
            .map(|(_, s)| *s)
            .find(|s| s != b"ri")
            .unwrap_or(*b"lh");
        // Members of each original leaf (by index in `orig`), in order.
        let mut leaves: BTreeMap<usize, Vec<(KeyId, u32)>> = BTreeMap::new();
        if simple && !orig.is_empty() {
            let leaf_ids: Vec<usize> = if orig.len() == 1 {
                vec![0]
            } else {
                (1..orig.len()).collect()
            };
            for &l in &leaf_ids {
                leaves.insert(l, Vec::new());
            }
            // A new key joins the leaf of the next larger original key, or
            // the last leaf.
            let last = leaf_ids.last().copied().unwrap_or(0);
            let mut next_leaf = last;
            let mut placed = vec![0usize; live.len()];
            for (i, &c) in live.iter().enumerate().rev() {
                let ce = &self.keys[c.0];
                if ce.orig.is_some() && leaves.contains_key(&ce.orig_leaf) {
                    next_leaf = ce.orig_leaf;
                }
                placed[i] = if ce.orig.is_some() && leaves.contains_key(&ce.orig_leaf) {
                    ce.orig_leaf
                } else {
                    next_leaf
                };
            }
            for (i, (&c, &off)) in live.iter().zip(offsets).enumerate() {
                leaves.entry(placed[i]).or_default().push((c, off));
            }
        }

        let mut max_name = u32::from(rd_u16(&out.buf, nk_abs + 4 + 0x34));
        for &c in live {
            if self.keys[c.0].orig.is_none() {
                max_name = max_name.max(self.keys[c.0].up.len() as u32 * 2);
            }
        }
        let max_name = max_name.min(u32::from(u16::MAX)) as u16;
        out.put_u16(nk_abs + 4 + 0x34, max_name);
        out.put_u32(nk_abs + 4 + 0x14, live.len() as u32);

        if live.is_empty() {
            out.free.extend(orig.iter().map(|(o, _)| *o));
            out.put_u32(nk_abs + 4 + 0x1C, NO_CELL);
            return Ok(());
        }

        if !simple || orig.is_empty() {
            out.free.extend(orig.iter().map(|(o, _)| *o));
            let members: Vec<(KeyId, u32)> =
                live.iter().copied().zip(offsets.iter().copied()).collect();
            let top = if members.len() <= MAX_LEAF {
                self.write_leaf(out, leaf_sig, &members)?
            } else {
                let mut leaf_offs = Vec::new();
                for chunk in members.chunks(SPLIT_LEAF) {
                    leaf_offs.push(self.write_leaf(out, leaf_sig, chunk)?);
                }
                out.write_ri(&leaf_offs)?
            };
            out.put_u32(nk_abs + 4 + 0x1C, top);
            return Ok(());
        }

        // Keep each leaf that did not change; rewrite the others.
        let mut orig_members = vec![0usize; orig.len()];
        for c in &ch.order {
            let e = &self.keys[c.0];
            if e.orig.is_some() {
                if let Some(n) = orig_members.get_mut(e.orig_leaf) {
                    *n += 1;
                }
            }
        }
        let mut leaf_offs = Vec::new();
        let mut any_changed = false;
        for (&l, members) in &leaves {
            let (old_off, sig) = orig[l];
            let unchanged = members.len() == orig_members[l]
                && members.iter().all(|(c, _)| {
                    let e = &self.keys[c.0];
                    e.orig.is_some() && e.orig_leaf == l
                });
            if unchanged {
                leaf_offs.push(old_off);
                continue;
            }
            any_changed = true;
            out.free.push(old_off);
            if members.is_empty() {
                continue;
            }
            if members.len() <= MAX_LEAF {
                leaf_offs.push(self.write_leaf(out, sig, members)?);
            } else {
                for chunk in members.chunks(SPLIT_LEAF) {
                    leaf_offs.push(self.write_leaf(out, sig, chunk)?);
                }
            }
        }
        if orig.len() == 1 && leaf_offs.len() == 1 {
            out.put_u32(nk_abs + 4 + 0x1C, leaf_offs[0]);
        } else if orig.len() > 1 && !any_changed {
            // Nothing to do: the ri list and every leaf stay.
        } else {
            if orig.len() > 1 {
                out.free.push(orig[0].0);
            }
            let top = out.write_ri(&leaf_offs)?;
            out.put_u32(nk_abs + 4 + 0x1C, top);
        }
        Ok(())
    }

    fn write_leaf(&self, out: &mut Out, sig: [u8; 2], members: &[(KeyId, u32)]) -> Result<u32> {
        let stride = if &sig == b"li" { 4 } else { 8 };
        let off = out.alloc(8 + stride * members.len(), sig)?;
        let abs = off as usize + BASE_BLOCK_SIZE;
        out.put_u16(abs + 6, members.len() as u16);
        for (i, &(c, nk)) in members.iter().enumerate() {
            let e = &self.keys[c.0];
            let at = abs + 8 + stride * i;
            out.put_u32(at, nk);
            if stride == 8 {
                let hash = match (e.orig_hash, &sig) {
                    (Some(h), _) if e.orig.is_some() => h,
                    (_, b"lf") => lf_hint(&e.name.encode_utf16().collect::<Vec<_>>()),
                    _ => lh_hash(&e.up),
                };
                out.put_bytes(at + 4, &hash);
            }
        }
        Ok(off)
    }

    /// Applies the reference count changes; a record that reaches zero is
    /// unlinked from the list of security records and freed.
    fn apply_sk_changes(&self, out: &mut Out) -> Result<()> {
        for (&sk, &delta) in &self.sk_delta {
            if delta == 0 {
                continue;
            }
            let what = || format!("security record (sk) at {sk:#x}");
            self.base.cell_at(sk, &what)?;
            let abs = sk as usize + BASE_BLOCK_SIZE + 4;
            if out.buf.get(abs..abs + 2) != Some(b"sk") {
                return Err(Error::corrupt(format!("{}: not an sk record", what())));
            }
            let refs = i64::from(rd_u32(&out.buf, abs + 0x0C)) + delta;
            let refs = u32::try_from(refs).map_err(|_| {
                Error::corrupt(format!("{}: its reference count would be {refs}", what()))
            })?;
            out.put_u32(abs + 0x0C, refs);
            if refs == 0 {
                let next = rd_u32(&out.buf, abs + 0x04);
                let prev = rd_u32(&out.buf, abs + 0x08);
                if next != sk && prev != sk {
                    for (o, name) in [(next, "next"), (prev, "previous")] {
                        let ok = self
                            .base
                            .cell_at(o, &what)
                            .is_ok_and(|c| c.get(0..2) == Some(b"sk"));
                        if !ok {
                            return Err(Error::corrupt(format!(
                                "{}: its {name} record {o:#x} is not an sk record",
                                what()
                            )));
                        }
                    }
                    out.put_u32(prev as usize + BASE_BLOCK_SIZE + 4 + 0x04, next);
                    out.put_u32(next as usize + BASE_BLOCK_SIZE + 4 + 0x08, prev);
                }
                out.free.push(sk);
            }
        }
        Ok(())
    }
}

/// Bytes a value's data will take beyond its vk record.
fn data_cost(len: usize, big_ok: bool) -> u64 {
    if len <= 4 {
        0
    } else if big_ok && len > BIG_DATA_SEGMENT {
        let segs = len.div_ceil(BIG_DATA_SEGMENT);
        (16 + round8(4 + 4 * segs) + segs * round8(BIG_DATA_SEGMENT + 8)) as u64
    } else {
        round8(len + 4) as u64
    }
}

/// The cells of an original key that deleting it frees (its nk, subkey
/// lists, values and their data, class name), and its security record.
/// `lists`/`values` are what the editor read already, if it did.
fn original_key_cells(
    node: &Node<'_>,
    lists: Option<&[(u32, [u8; 2])]>,
    values: Option<&Values>,
    freed: &mut Vec<u32>,
    sk_drops: &mut Vec<u32>,
) -> Result<()> {
    freed.push(node.offset());
    match lists {
        Some(l) => freed.extend(l.iter().map(|(o, _)| *o)),
        None => freed.extend(node.subkey_layout()?.lists.iter().map(|(o, _)| *o)),
    }
    match values {
        Some(v) => {
            freed.extend(v.orig_list);
            for (vk, data) in &v.orig_vks {
                freed.push(*vk);
                freed.extend_from_slice(data);
            }
        }
        None => {
            if let Some((list, vks)) = node.value_cells()? {
                freed.push(list);
                for v in vks {
                    freed.push(v.offset());
                    freed.extend(v.data_cells().unwrap_or_default());
                }
            }
        }
    }
    let class = node.field_u32(0x30);
    if class != NO_CELL && node.field_u16(0x4A) != 0 {
        freed.push(class);
    }
    sk_drops.push(node.field_u32(0x2C));
    Ok(())
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn rd_u16(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

/// The file being written and its allocator.
struct Out {
    buf: Vec<u8>,
    /// File offset of the end of the last bin.
    endpages: usize,
    /// File offset of the next free byte in the last new bin; 0 until the
    /// first new bin exists (the old bins are never allocated from).
    endblocks: usize,
    max_size: usize,
    /// Relative offsets of original cells to mark free.
    free: Vec<u32>,
    big_ok: bool,
}

impl Out {
    fn put_u32(&mut self, abs: usize, v: u32) {
        put_u32(&mut self.buf, abs, v);
    }

    fn put_u16(&mut self, abs: usize, v: u16) {
        if let Some(s) = self.buf.get_mut(abs..abs + 2) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }

    fn put_bytes(&mut self, abs: usize, data: &[u8]) {
        if let Some(s) = self.buf.get_mut(abs..abs + data.len()) {
            s.copy_from_slice(data);
        }
    }

    /// Allocates a used cell of `len` bytes (its 4-byte size included),
    /// zero-filled, with `id` as its first two payload bytes; returns its
    /// relative offset.
    fn alloc(&mut self, len: usize, id: [u8; 2]) -> Result<u32> {
        if len > MAX_CELL {
            return Err(Error::limit(format!(
                "a cell of {len} bytes would be larger than the {MAX_CELL} allowed"
            )));
        }
        let len = round8(len);
        if self.endblocks == 0 || self.endblocks + len > self.endpages {
            self.new_bin(len)?;
        }
        let abs = self.endblocks;
        self.buf[abs..abs + len].fill(0);
        let neg = -(len as i32);
        self.put_u32(abs, neg as u32);
        self.put_bytes(abs + 4, &id);
        self.endblocks += len;
        if self.endpages > self.endblocks {
            let rest = (self.endpages - self.endblocks) as u32;
            self.put_u32(self.endblocks, rest);
        }
        let rel = abs - BASE_BLOCK_SIZE;
        u32::try_from(rel).map_err(|_| Error::limit("cell offset beyond 4 GiB"))
    }

    /// Appends a hive bin big enough for a cell of `len` bytes.
    fn new_bin(&mut self, len: usize) -> Result<()> {
        let size = (len + HBIN_HEADER_SIZE).div_ceil(0x1000) * 0x1000;
        let start = self.endpages;
        let end = start + size;
        if end > self.max_size {
            return Err(Error::limit(format!(
                "the hive would grow past {} bytes",
                self.max_size
            )));
        }
        if end > self.buf.len() {
            self.buf.resize(end, 0);
        }
        self.buf[start..end].fill(0);
        self.put_bytes(start, b"hbin");
        self.put_u32(start + 4, (start - BASE_BLOCK_SIZE) as u32);
        self.put_u32(start + 8, size as u32);
        self.endpages = end;
        self.endblocks = start + HBIN_HEADER_SIZE;
        Ok(())
    }

    /// Allocates and fills the nk record of a new key under `parent`.
    fn new_nk(&mut self, e: &EKey, parent: u32) -> Result<u32> {
        let (name, latin1) = encode_name(&e.name);
        let off = self.alloc(4 + NK_FIXED + name.len(), *b"nk")?;
        let p = off as usize + BASE_BLOCK_SIZE + 4;
        self.put_u16(p + 0x02, if latin1 { KEY_COMP_NAME } else { 0 });
        self.put_bytes(p + 0x04, &e.timestamp.to_le_bytes());
        self.put_u32(p + 0x10, parent);
        for f in [0x1C, 0x20, 0x28, 0x30] {
            self.put_u32(p + f, NO_CELL);
        }
        self.put_u32(p + 0x2C, e.sk);
        self.put_u16(p + 0x48, name.len() as u16);
        self.put_bytes(p + NK_FIXED, &name);
        Ok(off)
    }

    /// Writes a new value's vk record and data; returns the vk offset and
    /// the name's length in UTF-16 bytes.
    fn new_value(&mut self, v: &SetValue) -> Result<(u32, usize)> {
        let (name, latin1) = encode_name(&v.name);
        let vk = self.alloc(4 + VK_FIXED + name.len(), *b"vk")?;
        let p = vk as usize + BASE_BLOCK_SIZE + 4;
        let len = v.data.len();
        self.put_u16(p + 0x02, name.len() as u16);
        self.put_u32(p + 0x0C, v.value_type);
        self.put_u16(p + 0x10, u16::from(latin1 && !name.is_empty()));
        self.put_bytes(p + VK_FIXED, &name);
        if len <= 4 {
            self.put_u32(p + 0x04, len as u32 | DATA_INLINE);
            self.put_bytes(p + 0x08, &v.data);
        } else {
            let data_off = if self.big_ok && len > BIG_DATA_SEGMENT {
                self.new_big_data(&v.data)?
            } else {
                let off = self.alloc(len + 4, *b"\0\0")?;
                self.put_bytes(off as usize + BASE_BLOCK_SIZE + 4, &v.data);
                off
            };
            // The vk record did not move: cells never do.
            self.put_u32(p + 0x04, len as u32);
            self.put_u32(p + 0x08, data_off);
        }
        let name_utf16 = if latin1 { name.len() * 2 } else { name.len() };
        Ok((vk, name_utf16))
    }

    /// Big data: a db record, a list of segments, the segments.
    fn new_big_data(&mut self, data: &[u8]) -> Result<u32> {
        let segs = data.len().div_ceil(BIG_DATA_SEGMENT);
        let db = self.alloc(16, *b"db")?;
        let list = self.alloc(4 + 4 * segs, *b"\0\0")?;
        let db_abs = db as usize + BASE_BLOCK_SIZE + 4;
        self.put_u16(db_abs + 2, segs as u16);
        self.put_u32(db_abs + 4, list);
        for (i, chunk) in data.chunks(BIG_DATA_SEGMENT).enumerate() {
            // Readers take each segment's cell minus 8 bytes: keep 4 spare.
            let seg = self.alloc(chunk.len() + 8, *b"\0\0")?;
            self.put_bytes(seg as usize + BASE_BLOCK_SIZE + 4, chunk);
            self.put_u32(list as usize + BASE_BLOCK_SIZE + 4 + 4 * i, seg);
        }
        Ok(db)
    }

    fn write_ri(&mut self, leaves: &[u32]) -> Result<u32> {
        if leaves.len() > MAX_LEAF {
            return Err(Error::limit("too many subkey list leaves for one ri list"));
        }
        let off = self.alloc(8 + 4 * leaves.len(), *b"ri")?;
        let abs = off as usize + BASE_BLOCK_SIZE;
        self.put_u16(abs + 6, leaves.len() as u16);
        for (i, &l) in leaves.iter().enumerate() {
            self.put_u32(abs + 8 + 4 * i, l);
        }
        Ok(off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upcase_and_hash() {
        assert_eq!(upcase_unit(u16::from(b'a')), u16::from(b'A'));
        assert_eq!(upcase_unit(0xE4), 0xC4);
        assert_eq!(upcase_unit(0xDF), 0xDF); // sharp s has no one-char upper case
        assert_eq!(upcase_unit(0xD800), 0xD800);
        // h = ((('A' * 37) + 'B') * 37) + 'C'
        let up: Vec<u16> = "ABC".encode_utf16().collect();
        assert_eq!(u32::from_le_bytes(lh_hash(&up)), (65 * 37 + 66) * 37 + 67);
        assert_eq!(encode_name("abc\u{e4}"), (b"abc\xe4".to_vec(), true));
        assert_eq!(encode_name("\u{20ac}"), (vec![0xac, 0x20], false));
        assert_eq!(lf_hint(&[0x41, 0x42]), [0x41, 0x42, 0, 0]);
    }
}

//! One block's staging in the state trie: `baychain.state.StateStore.stage` without the
//! Python per key and per node.
//!
//! The trie (16-ary, keys placed by SHA-256 key paths, no extension nodes) and its
//! hashes are specified by `baychain.state.proofs`; the records (node keys, node bytes,
//! leaves, stale index) by `baychain.state.store`, whose module docstring this follows
//! byte for byte. Given a block's changes this reads each key's latest value and key
//! path (the store's caches, else the flat table or SHA-256), keeps the real changes,
//! hashes the new leaves, and rewrites the committed trie top-down in one pass over the
//! changes sorted by key path: each touched node is read, rebuilt and hashed once. It
//! returns every record the block writes, already in the order LMDB appends them.
//!
//! LMDB stays in Python: nodes are read through the store's node cache (two dicts),
//! and the callables passed in are called only on cache misses (a node, a leaf, a flat
//! value). Nothing here writes to a cache; the store fills them from committed blocks.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use sha2::{Digest, Sha256};

type Hash = [u8; 32];
type Version = [u8; 8];

/// Longest key the store accepts (LMDB's key size limit).
const MAX_KEY_BYTES: usize = 511;
const TAG_LEAF: u8 = b'L';
const TAG_NODE: u8 = b'N';

/// What a slot holds after the block. A new internal node is always written under the
/// block's version; a leaf keeps the version that wrote it.
#[derive(Clone, Copy)]
enum Slot {
    Empty,
    Leaf(Version, Hash),
    Node(Hash),
}

/// A child of an internal node: (is a leaf, version, hash).
type Child = (bool, Version, Hash);

/// One real change: its key path, its new leaf hash (None: deleted), whether the key is committed.
struct Change {
    path: Hash,
    leaf: Option<Hash>,
    existed: bool,
}

/// Nibble `depth` of a key path (high nibble of each byte first).
fn nibble(path: &Hash, depth: usize) -> u8 {
    let byte = path[depth >> 1];
    if depth & 1 == 1 {
        byte & 0x0f
    } else {
        byte >> 4
    }
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The store's callables and caches, and the records the rebuild produces.
struct Rebuild<'py, 'a> {
    py: Python<'py>,
    version: Version,
    changes: &'a [Change],
    node_young: &'a Bound<'py, PyDict>,
    node_old: &'a Bound<'py, PyDict>,
    load_node: &'a Bound<'py, PyAny>,
    load_leaf: &'a Bound<'py, PyAny>,
    /// New internal nodes in pre-order of their paths (= key order): (node key, bytes);
    /// None where a node was entered but vanished or collapsed into a lone leaf.
    nodes: Vec<Option<(Vec<u8>, Bound<'py, PyBytes>)>>,
    stale_nodes: Vec<Vec<u8>>,
    stale_leaves: Vec<(Version, Hash)>,
}

impl<'py> Rebuild<'py, '_> {
    /// Node key: version || the path's first `depth` nibbles, one byte each.
    fn node_key(version: &Version, path: &Hash, depth: usize) -> Vec<u8> {
        let mut key = Vec::with_capacity(8 + depth);
        key.extend_from_slice(version);
        key.extend((0..depth).map(|d| nibble(path, d)));
        key
    }

    /// A committed internal node's children by nibble (from the node cache, else LMDB).
    fn children(&self, node_key: &[u8]) -> PyResult<[Option<Child>; 16]> {
        let key = PyBytes::new(self.py, node_key);
        let raw = match self.node_young.get_item(&key)? {
            Some(raw) => raw,
            None => match self.node_old.get_item(&key)? {
                Some(raw) => raw,
                None => self.load_node.call1((key,))?,
            },
        };
        let raw = raw.cast_into::<PyBytes>()?;
        let raw = raw.as_bytes();
        let bitmap = u16::from_be_bytes([raw[0], raw[1]]);
        let leafmap = u16::from_be_bytes([raw[2], raw[3]]);
        let hashes = 4 + 8 * bitmap.count_ones() as usize;
        let mut children = [None; 16];
        let mut pos = 0;
        for (nib, child) in children.iter_mut().enumerate() {
            if bitmap >> nib & 1 == 1 {
                let version = raw[4 + 8 * pos..12 + 8 * pos].try_into().expect("8 bytes");
                let hash = raw[hashes + 32 * pos..hashes + 32 * pos + 32].try_into().expect("32 bytes");
                *child = Some((leafmap >> nib & 1 == 1, version, hash));
                pos += 1;
            }
        }
        Ok(children)
    }

    /// The key stored in a committed leaf.
    fn leaf_key_path(&self, version: &Version, hash: &Hash) -> PyResult<Hash> {
        let leaf_key = joined(self.py, &[version, hash])?;
        let entry = self.load_leaf.call1((leaf_key,))?.cast_into::<PyBytes>()?;
        let entry = entry.as_bytes();
        let key_len = u16::from_be_bytes([entry[0], entry[1]]) as usize;
        Ok(sha256(&[&entry[2..2 + key_len]]))
    }

    /// The new leaves of changes lo..hi (deletions have none), as (path, version, hash).
    fn new_leaves(&self, lo: usize, hi: usize) -> Vec<(Hash, Version, Hash)> {
        let changes = &self.changes[lo..hi];
        changes.iter().filter_map(|c| c.leaf.map(|leaf| (c.path, self.version, leaf))).collect()
    }

    /// A new subtree for leaves (sorted by path, as (path, version, hash)) that share `depth` nibbles.
    fn fresh(&mut self, depth: usize, live: &[(Hash, Version, Hash)]) -> Slot {
        match live {
            [] => return Slot::Empty,
            [(_, version, hash)] => return Slot::Leaf(*version, *hash),
            _ => {}
        }
        let slot = self.reserve();
        let mut children = [None; 16];
        let mut i = 0;
        while i < live.len() {
            let nib = nibble(&live[i].0, depth);
            let mut j = i + 1;
            while j < live.len() && nibble(&live[j].0, depth) == nib {
                j += 1;
            }
            children[nib as usize] = Some(if j - i == 1 {
                (true, live[i].1, live[i].2)
            } else {
                match self.fresh(depth + 1, &live[i..j]) {
                    Slot::Node(hash) => (false, self.version, hash),
                    _ => unreachable!("two or more leaves make an internal node"),
                }
            });
            i = j;
        }
        self.finish(slot, &live[0].0, depth, &children)
    }

    /// The slot holds one committed leaf: merge it with the changes lo..hi routed here.
    fn leaf_slot(&mut self, version: &Version, hash: &Hash, depth: usize, lo: usize, hi: usize) -> PyResult<Slot> {
        let mut live = self.new_leaves(lo, hi);
        if self.changes[lo..hi].iter().any(|c| c.existed) {
            // Only one key lives under this prefix: this leaf is that changed key's own.
            self.stale_leaves.push((*version, *hash));
        } else {
            live.push((self.leaf_key_path(version, hash)?, *version, *hash));
            live.sort_unstable_by_key(|leaf| leaf.0);
        }
        Ok(self.fresh(depth, &live))
    }

    /// The slot holds a committed internal node: update the children the changes lo..hi route to.
    fn internal(&mut self, version: &Version, depth: usize, lo: usize, hi: usize) -> PyResult<Slot> {
        let path = self.changes[lo].path;
        let node_key = Self::node_key(version, &path, depth);
        let mut children = self.children(&node_key)?;
        self.stale_nodes.push(node_key);
        let slot = self.reserve();
        // Changes are sorted: each child's changes are a contiguous run.
        let mut i = lo;
        while i < hi {
            let nib = nibble(&self.changes[i].path, depth);
            let mut j = i + 1;
            while j < hi && nibble(&self.changes[j].path, depth) == nib {
                j += 1;
            }
            let new = match children[nib as usize] {
                None => {
                    let live = self.new_leaves(i, j);
                    self.fresh(depth + 1, &live)
                }
                Some((true, leaf_version, leaf_hash)) if j - i == 1 && self.changes[i].existed => {
                    self.stale_leaves.push((leaf_version, leaf_hash));
                    match self.changes[i].leaf {
                        Some(leaf) => Slot::Leaf(self.version, leaf),
                        None => Slot::Empty,
                    }
                }
                Some((true, leaf_version, leaf_hash)) => self.leaf_slot(&leaf_version, &leaf_hash, depth + 1, i, j)?,
                Some((false, child_version, _)) => self.internal(&child_version, depth + 1, i, j)?,
            };
            children[nib as usize] = match new {
                Slot::Empty => None,
                Slot::Leaf(v, h) => Some((true, v, h)),
                Slot::Node(h) => Some((false, self.version, h)),
            };
            i = j;
        }
        Ok(self.finish(slot, &path, depth, &children))
    }

    fn reserve(&mut self) -> usize {
        self.nodes.push(None);
        self.nodes.len() - 1
    }

    /// The node at `depth` on `path` with these children: nothing, a lone leaf moving up, or a new node.
    fn finish(&mut self, slot: usize, path: &Hash, depth: usize, children: &[Option<Child>; 16]) -> Slot {
        let (mut bitmap, mut leafmap) = (0u16, 0u16);
        for (nib, child) in children.iter().enumerate() {
            if let Some((is_leaf, _, _)) = child {
                bitmap |= 1 << nib;
                leafmap |= u16::from(*is_leaf) << nib;
            }
        }
        if bitmap == 0 {
            return Slot::Empty;
        }
        if leafmap != 0 && bitmap.is_power_of_two() {
            let (_, version, hash) = children[bitmap.trailing_zeros() as usize].expect("the one child");
            return Slot::Leaf(version, hash); // a lone leaf moves up to this slot
        }
        // bitmap (2) || leaf bitmap (2) || child versions (8 each) || child hashes (32 each)
        let count = bitmap.count_ones() as usize;
        let mut raw = [0u8; 4 + 40 * 16];
        raw[..2].copy_from_slice(&bitmap.to_be_bytes());
        raw[2..4].copy_from_slice(&leafmap.to_be_bytes());
        let hashes = 4 + 8 * count;
        for (pos, (_, version, hash)) in children.iter().flatten().enumerate() {
            raw[4 + 8 * pos..12 + 8 * pos].copy_from_slice(version);
            raw[hashes + 32 * pos..hashes + 32 * pos + 32].copy_from_slice(hash);
        }
        let raw = &raw[..hashes + 32 * count];
        let hash = sha256(&[&[0x01], &raw[..2], &raw[hashes..]]);
        self.nodes[slot] = Some((Self::node_key(&self.version, path, depth), PyBytes::new(self.py, raw)));
        Slot::Node(hash)
    }
}

/// A new byte string: the parts joined, copied once.
fn joined<'py>(py: Python<'py>, parts: &[&[u8]]) -> PyResult<Bound<'py, PyBytes>> {
    let len = parts.iter().map(|part| part.len()).sum();
    PyBytes::new_with(py, len, |out| {
        let mut at = 0;
        for part in parts {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        Ok(())
    })
}

/// A key's latest committed value: the value cache (young, then old generation), else
/// the flat table. Also says whether the young generation missed.
fn latest_value<'py>(
    key: &Bound<'py, PyBytes>,
    young: &Bound<'py, PyDict>,
    old: &Bound<'py, PyDict>,
    flat_get: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, bool)> {
    if let Some(value) = young.get_item(key)? {
        return Ok((value, false));
    }
    let value = match old.get_item(key)? {
        Some(value) => value,
        None => flat_get.call1((key,))?,
    };
    Ok((value, true))
}

/// `StateStore.stage`'s work for one block; None if a change is malformed (the caller
/// raises the error for the first one).
///
/// changes: {key: value or None}; version: the block's version (8 bytes, big-endian);
/// root: the committed root reference (None, or (is_leaf, version, hash));
/// values: (young, old, flat_get(key)); paths: (young, old); trie: (node young, node
/// old, load_node(node key), load_leaf(leaf key)), the loaders returning stored bytes.
/// Returns (root reference, young value-cache misses, new key paths (keys, paths) or
/// None, changed keys, their values, flat keys, flat values, flat deletes, leaf keys,
/// leaf records, node keys, node bytes, stale keys), each record list in append order.
#[pyfunction]
pub fn trie_stage<'py>(
    py: Python<'py>,
    changes: &Bound<'py, PyDict>,
    version: &[u8],
    root: &Bound<'py, PyAny>,
    values: (Bound<'py, PyDict>, Bound<'py, PyDict>, Bound<'py, PyAny>),
    paths: (Bound<'py, PyDict>, Bound<'py, PyDict>),
    trie: (Bound<'py, PyDict>, Bound<'py, PyDict>, Bound<'py, PyAny>, Bound<'py, PyAny>),
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let version: Version = version.try_into()?;
    let mut entries: Vec<(Bound<'py, PyBytes>, Bound<'py, PyAny>)> = Vec::with_capacity(changes.len());
    for (key, value) in changes.iter() {
        let Ok(key) = key.cast_into_exact::<PyBytes>() else { return Ok(None) };
        let key_fits = (1..=MAX_KEY_BYTES).contains(&key.as_bytes().len());
        if !key_fits || !(value.is_none() || value.is_exact_instance_of::<PyBytes>()) {
            return Ok(None);
        }
        entries.push((key, value));
    }

    // Latest values and key paths, for every key (the caches learn them all).
    let (values_young, values_old, flat_get) = values;
    let (paths_young, paths_old) = paths;
    let mut missed = 0usize;
    let mut new_path_keys = Vec::new();
    let mut new_paths = Vec::new();
    let mut changed = Vec::with_capacity(entries.len()); // (key, value, old, path)
    for (key, value) in entries {
        let (old, miss) = latest_value(&key, &values_young, &values_old, &flat_get)?;
        missed += usize::from(miss);
        let path: Hash = match paths_young.get_item(&key)? {
            Some(path) => path.cast_into::<PyBytes>()?.as_bytes().try_into()?,
            None => match paths_old.get_item(&key)? {
                Some(path) => path.cast_into::<PyBytes>()?.as_bytes().try_into()?,
                None => {
                    let path = sha256(&[key.as_bytes()]);
                    new_path_keys.push(key.clone());
                    new_paths.push(PyBytes::new(py, &path));
                    path
                }
            },
        };
        // Only real changes: writing the value a key has, or deleting a missing key, changes nothing.
        let same = match (old.cast::<PyBytes>(), value.cast::<PyBytes>()) {
            (Ok(old), Ok(value)) => old.as_bytes() == value.as_bytes(),
            _ => old.is_none() && value.is_none(),
        };
        if !same {
            changed.push((key, value, old, path));
        }
    }
    let new_paths_record = if new_path_keys.is_empty() {
        py.None().into_bound(py)
    } else {
        (PyTuple::new(py, new_path_keys)?, PyTuple::new(py, new_paths)?).into_pyobject(py)?.into_any()
    };

    // The new leaves: leaf hash = SHA-256(0x00 || key path || SHA-256(value)); record = key length || key || value.
    let changed_keys = PyList::empty(py);
    let changed_values = PyList::empty(py);
    let flat_keys = PyList::empty(py);
    let flat_values = PyList::empty(py);
    let flat_deletes = PyList::empty(py);
    let mut leaves: Vec<(Hash, Bound<'py, PyBytes>)> = Vec::new();
    let mut sorted: Vec<Change> = Vec::with_capacity(changed.len());
    for (key, value, old, path) in &changed {
        changed_keys.append(key)?;
        changed_values.append(value)?;
        let leaf = match value.cast::<PyBytes>() {
            Ok(bytes) => {
                let value_bytes = bytes.as_bytes();
                let leaf = sha256(&[&[0x00], path, &sha256(&[value_bytes])]);
                let key_bytes = key.as_bytes();
                leaves.push((leaf, joined(py, &[&(key_bytes.len() as u16).to_be_bytes(), key_bytes, value_bytes])?));
                flat_keys.append(key)?;
                flat_values.append(value)?;
                Some(leaf)
            }
            Err(_) => {
                flat_deletes.append(key)?;
                None
            }
        };
        sorted.push(Change { path: *path, leaf, existed: !old.is_none() });
    }

    sorted.sort_unstable_by_key(|change| change.path);
    let (node_young, node_old, load_node, load_leaf) = trie;
    let mut rebuild = Rebuild {
        py,
        version,
        changes: &sorted,
        node_young: &node_young,
        node_old: &node_old,
        load_node: &load_node,
        load_leaf: &load_leaf,
        nodes: Vec::new(),
        stale_nodes: Vec::new(),
        stale_leaves: Vec::new(),
    };
    let root_ref = if sorted.is_empty() {
        root.clone()
    } else {
        let new = if root.is_none() {
            let live = rebuild.new_leaves(0, sorted.len());
            rebuild.fresh(0, &live)
        } else {
            let (is_leaf, root_version, root_hash): (bool, Bound<'py, PyBytes>, Bound<'py, PyBytes>) = root.extract()?;
            let root_version: Version = root_version.as_bytes().try_into()?;
            let root_hash: Hash = root_hash.as_bytes().try_into()?;
            if is_leaf {
                rebuild.leaf_slot(&root_version, &root_hash, 0, 0, sorted.len())?
            } else {
                rebuild.internal(&root_version, 0, 0, sorted.len())?
            }
        };
        match new {
            Slot::Empty => py.None().into_bound(py),
            Slot::Leaf(v, h) => (true, PyBytes::new(py, &v), PyBytes::new(py, &h)).into_pyobject(py)?.into_any(),
            Slot::Node(h) => (false, PyBytes::new(py, &version), PyBytes::new(py, &h)).into_pyobject(py)?.into_any(),
        }
    };
    let Rebuild { nodes: written, mut stale_nodes, mut stale_leaves, .. } = rebuild;
    let (node_keys, node_raws): (Vec<_>, Vec<_>) =
        written.into_iter().flatten().map(|(key, raw)| (PyBytes::new(py, &key), raw)).unzip();
    leaves.sort_unstable_by_key(|leaf| leaf.0);
    let leaf_keys = leaves.iter().map(|(hash, _)| joined(py, &[&version, hash])).collect::<PyResult<Vec<_>>>()?;
    let leaf_records = leaves.into_iter().map(|(_, record)| record);
    // state.stale keys: version || b"L" || leaf key, then version || b"N" || node key (L < N).
    stale_leaves.sort_unstable();
    stale_nodes.sort_unstable();
    let stale = stale_leaves
        .iter()
        .map(|(leaf_version, hash)| joined(py, &[&version, &[TAG_LEAF], leaf_version, hash]))
        .chain(stale_nodes.iter().map(|key| joined(py, &[&version, &[TAG_NODE], key])))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Some(PyTuple::new(
        py,
        [
            root_ref,
            missed.into_pyobject(py)?.into_any(),
            new_paths_record,
            changed_keys.into_any(),
            changed_values.into_any(),
            flat_keys.into_any(),
            flat_values.into_any(),
            flat_deletes.into_any(),
            PyList::new(py, leaf_keys)?.into_any(),
            PyList::new(py, leaf_records)?.into_any(),
            PyList::new(py, node_keys)?.into_any(),
            PyList::new(py, node_raws)?.into_any(),
            PyList::new(py, stale)?.into_any(),
        ],
    )?))
}

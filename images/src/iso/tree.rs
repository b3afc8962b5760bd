//! The directory tree of an image with the names of its two trees (ISO 9660 and Joliet)
//! and the sort orders each tree's directories and path tables require.

use std::collections::HashMap;
use std::path::PathBuf;

use tracing::debug;

use super::names::{iso_names, joliet_names};
use crate::error::ImageError;
use crate::unit::{Entry, EntryKind, Timestamp};

/// Which of the two root files that describe the medium a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaFile {
    Manifest,
    Sums,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Dir { children: Vec<usize> },
    File { source: PathBuf, size: u64, sha256: Option<[u8; 32]> },
    Meta { which: MetaFile, size: u64 },
    Symlink { target: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub path: String,
    pub parent: usize,
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Timestamp,
    /// ISO 9660 identifier as recorded (files and symlinks with `;1`).
    pub iso_id: Vec<u8>,
    /// Joliet identifier, UCS-2 big-endian; empty for nodes not in the Joliet tree.
    pub joliet_id: Vec<u8>,
}

impl Node {
    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir { .. })
    }

    pub(crate) fn children(&self) -> &[usize] {
        match &self.kind {
            NodeKind::Dir { children } => children,
            _ => &[],
        }
    }

    /// Bytes of data this node has in the image.
    pub(crate) fn data_size(&self) -> u64 {
        match &self.kind {
            NodeKind::File { size, .. } | NodeKind::Meta { size, .. } => *size,
            _ => 0,
        }
    }
}

/// Builds the tree: node 0 is the root; `entries` are normalized (parents first).
pub(crate) fn build(entries: &[Entry], created: Timestamp, meta: [(MetaFile, &str, u64); 2]) -> Result<Vec<Node>, ImageError> {
    let mut nodes = vec![Node {
        name: String::new(),
        path: String::new(),
        parent: 0,
        kind: NodeKind::Dir { children: Vec::new() },
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: created,
        iso_id: vec![0],
        joliet_id: vec![0],
    }];
    let mut index: HashMap<&str, usize> = HashMap::new();
    let add = |nodes: &mut Vec<Node>, parent: usize, node: Node| {
        let id = nodes.len();
        nodes.push(node);
        if let NodeKind::Dir { children } = &mut nodes[parent].kind {
            children.push(id);
        }
        id
    };
    for e in entries {
        let (parent, name) = match e.path.rsplit_once('/') {
            Some((p, n)) => (
                *index.get(p).ok_or_else(|| ImageError::Internal(format!("parent of {:?} not planned", e.path)))?,
                n,
            ),
            None => (0, e.path.as_str()),
        };
        let kind = match &e.kind {
            EntryKind::File { source, size, sha256 } => {
                NodeKind::File { source: source.clone(), size: *size, sha256: *sha256 }
            }
            EntryKind::Directory => NodeKind::Dir { children: Vec::new() },
            EntryKind::Symlink { target } => NodeKind::Symlink { target: target.clone() },
        };
        let id = add(
            &mut nodes,
            parent,
            Node {
                name: name.to_owned(),
                path: e.path.clone(),
                parent,
                kind,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                mtime: e.mtime,
                iso_id: Vec::new(),
                joliet_id: Vec::new(),
            },
        );
        index.insert(&e.path, id);
    }
    for (which, name, size) in meta {
        add(
            &mut nodes,
            0,
            Node {
                name: name.to_owned(),
                path: name.to_owned(),
                parent: 0,
                kind: NodeKind::Meta { which, size },
                mode: 0o444,
                uid: 0,
                gid: 0,
                mtime: created,
                iso_id: Vec::new(),
                joliet_id: Vec::new(),
            },
        );
    }
    name_children(&mut nodes);
    Ok(nodes)
}

/// Gives every child its ISO and Joliet identifier, unique within its directory.
fn name_children(nodes: &mut [Node]) {
    for d in 0..nodes.len() {
        let mut children = nodes[d].children().to_vec();
        if children.is_empty() {
            continue;
        }
        children.sort_by(|&a, &b| nodes[a].name.as_bytes().cmp(nodes[b].name.as_bytes()));
        let names: Vec<&str> = children.iter().map(|&c| nodes[c].name.as_str()).collect();
        let dirs: Vec<bool> = children.iter().map(|&c| nodes[c].is_dir()).collect();
        let iso = iso_names(&names, &dirs);
        let joliet_members: Vec<usize> =
            children.iter().copied().filter(|&c| !matches!(nodes[c].kind, NodeKind::Symlink { .. })).collect();
        let joliet_src: Vec<&str> = joliet_members.iter().map(|&c| nodes[c].name.as_str()).collect();
        let joliet = joliet_names(&joliet_src);
        for ((&c, (base, ext)), dir) in children.iter().zip(iso).zip(dirs) {
            nodes[c].iso_id = if dir { base.into_bytes() } else { format!("{base}.{ext};1").into_bytes() };
        }
        for (&c, units) in joliet_members.iter().zip(joliet) {
            if units.len() != nodes[c].name.chars().count() {
                debug!(path = %nodes[c].path, joliet = %String::from_utf16_lossy(&units), "Joliet name shortened");
            }
            nodes[c].joliet_id = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        }
    }
}

/// Children of a directory in a tree's record order (sorted by identifier); Joliet leaves
/// out symlinks.
pub(crate) fn sorted_children(nodes: &[Node], dir: usize, joliet: bool) -> Vec<usize> {
    let mut c: Vec<usize> = nodes[dir].children().to_vec();
    if joliet {
        c.retain(|&i| !nodes[i].joliet_id.is_empty());
        c.sort_by(|&a, &b| nodes[a].joliet_id.cmp(&nodes[b].joliet_id));
    } else {
        c.sort_by(|&a, &b| iso_sort_key(&nodes[a].iso_id).cmp(&iso_sort_key(&nodes[b].iso_id)));
    }
    c
}

/// ECMA-119 9.3 order: name, then extension, then version.
fn iso_sort_key(id: &[u8]) -> (&[u8], &[u8]) {
    let no_version = id.split(|&b| b == b';').next().unwrap_or(id);
    match no_version.iter().position(|&b| b == b'.') {
        Some(i) => (&no_version[..i], &no_version[i + 1..]),
        None => (no_version, &[]),
    }
}

/// Directories in breadth-first order with children in record order: the path table order.
pub(crate) fn directories_bfs(nodes: &[Node], joliet: bool) -> Vec<usize> {
    let mut out = vec![0];
    let mut i = 0;
    while i < out.len() {
        let d = out[i];
        out.extend(sorted_children(nodes, d, joliet).into_iter().filter(|&c| nodes[c].is_dir()));
        i += 1;
    }
    out
}

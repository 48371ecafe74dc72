// SPDX-License-Identifier: GPL-2.0

//! The dependency graph between agents (`ASM_IOC_DEPS`): directed edges
//! from a dependent to its dependency, of the kinds Required, Optional and
//! Peer, which together never form a cycle.
//!
//! Edges name agents by id and live behind one mutex; an edge is added
//! only while both agents are registered (checked under that mutex), and
//! an agent's edges go when it is unregistered ([`Graph::forget`], after
//! the registry forgot it), so no edge outlives an end of it.

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::uapi::{DepEdge, DEP_EDGES_MAX};
pub(crate) use crate::uapi::{DepKind, DepOp};

/// `ELOOP`, which `kernel::error::code` lacks in 6.12: the edge would close
/// a cycle.
fn eloop() -> Error {
    Error::from_errno(-(kernel::bindings::ELOOP as i32))
}

/// One edge: `dependent` depends on `dependency`.
#[derive(Clone, Copy)]
pub(crate) struct Edge {
    pub(crate) dependent: u32,
    pub(crate) dependency: u32,
    pub(crate) kind: DepKind,
}

impl Edge {
    /// Whether the edge joins `a` and `b`, in either direction.
    fn joins(&self, a: u32, b: u32) -> bool {
        (self.dependent == a && self.dependency == b)
            || (self.dependent == b && self.dependency == a)
    }

    /// The uapi form.
    pub(crate) fn raw(&self) -> DepEdge {
        DepEdge {
            dependent: self.dependent,
            dependency: self.dependency,
            kind: self.kind.raw(),
            reserved: 0,
        }
    }
}

/// The graph.
#[pin_data]
pub(crate) struct Graph {
    /// The edges in slots: a removed edge leaves its slot empty for the
    /// next one (the kernel's `KVec` neither removes nor shrinks in
    /// place).
    #[pin]
    edges: Mutex<KVec<Option<Edge>>>,
}

/// Whether `to` is reachable from `from` along the edges (from a dependent
/// to its dependencies): a breadth-first walk. Allocates for it.
fn reaches(edges: &[Option<Edge>], from: u32, to: u32) -> Result<bool> {
    let mut seen = KVec::with_capacity(edges.len() + 1, GFP_KERNEL)?;
    seen.push(from, GFP_KERNEL)?;
    let mut next = 0;
    while let Some(&id) = seen.get(next) {
        next += 1;
        if id == to {
            return Ok(true);
        }
        for e in edges.iter().flatten().filter(|e| e.dependent == id) {
            if !seen.contains(&e.dependency) {
                // Within the capacity: each agent is seen once, and at
                // most `edges.len() + 1` agents have edges.
                seen.push(e.dependency, GFP_KERNEL)?;
            }
        }
    }
    Ok(false)
}

impl Graph {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            edges <- new_mutex!(KVec::new(), "Graph::edges"),
        })
    }

    /// Adds `edge` if `exists` says both of its agents are registered
    /// (asked under the graph's lock, so that [`Self::forget`] after an
    /// unregistration cannot miss the edge). Errors: `EINVAL` (an agent
    /// depending on itself), `ESRCH`, `EEXIST` (the two agents already have
    /// an edge), `ELOOP` (a cycle), `ENOSPC`.
    pub(crate) fn add(&self, edge: Edge, exists: impl Fn(u32) -> bool) -> Result {
        if edge.dependent == edge.dependency {
            return Err(EINVAL);
        }
        let mut edges = self.edges.lock();
        if !exists(edge.dependent) || !exists(edge.dependency) {
            return Err(ESRCH);
        }
        if edges
            .iter()
            .flatten()
            .any(|e| e.joins(edge.dependent, edge.dependency))
        {
            return Err(EEXIST);
        }
        // The new edge closes a cycle if its dependency already reaches
        // its dependent.
        if reaches(&edges, edge.dependency, edge.dependent)? {
            return Err(eloop());
        }
        if let Some(slot) = edges.iter_mut().find(|s| s.is_none()) {
            *slot = Some(edge);
            return Ok(());
        }
        if edges.len() >= DEP_EDGES_MAX {
            return Err(ENOSPC);
        }
        edges.push(Some(edge), GFP_KERNEL)?;
        Ok(())
    }

    /// Removes the edge from `dependent` to `dependency`; returns its kind,
    /// `ENOENT` if there is none.
    pub(crate) fn remove(&self, dependent: u32, dependency: u32) -> Result<DepKind> {
        let mut edges = self.edges.lock();
        let slot = edges
            .iter_mut()
            .find(|s| s.is_some_and(|e| e.dependent == dependent && e.dependency == dependency))
            .ok_or(ENOENT)?;
        slot.take().map(|e| e.kind).ok_or(ENOENT)
    }

    /// Removes every edge of the agent `id`; returns how many went.
    pub(crate) fn forget(&self, id: u32) -> usize {
        let mut edges = self.edges.lock();
        let mut n = 0;
        for slot in edges.iter_mut() {
            if slot.is_some_and(|e| e.dependent == id || e.dependency == id) {
                *slot = None;
                n += 1;
            }
        }
        n
    }

    /// A copy of every edge, in the order they were added to their slots.
    pub(crate) fn edges(&self) -> Result<KVec<Edge>> {
        let edges = self.edges.lock();
        let mut out = KVec::with_capacity(edges.len(), GFP_KERNEL)?;
        for e in edges.iter().flatten() {
            // Within the capacity.
            out.push(*e, GFP_KERNEL)?;
        }
        Ok(out)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The dependency graph between agents (`ASM_IOC_DEPS`): directed edges
//! from a dependent to its dependency, of the kinds Required, Optional and
//! Peer, which together never form a cycle.
//!
//! Edges live behind one mutex and name each agent by id and by the time
//! it was registered, so that an edge belongs to one registration of each
//! end: an edge is added only while both are the registered agents of
//! their ids (checked under the mutex), an agent's edges go when it is
//! unregistered ([`Graph::forget`]), and an edge whose end is no longer
//! registered (a registration that failed after an edge was added to it,
//! an id registered again) is never shown and is dropped at the next
//! change.
//!
//! Edges added by a caller without `CAP_SYS_ADMIN` count against that user
//! ([`DEP_EDGES_PER_UID`]) and together against three quarters of
//! [`DEP_EDGES_MAX`], so that users cannot take the graph from the
//! administrator.

use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::uapi::{DepEdge, DEP_EDGES_MAX, DEP_EDGES_PER_UID};
pub(crate) use crate::uapi::{DepKind, DepOp};

/// `ELOOP`, which `kernel::error::code` lacks in 6.12: the edge would close
/// a cycle.
fn eloop() -> Error {
    Error::from_errno(-(kernel::bindings::ELOOP as i32))
}

/// Edges all users without `CAP_SYS_ADMIN` may have added together.
const DEP_EDGES_UNPRIVILEGED: usize = DEP_EDGES_MAX / 4 * 3;

/// `EDQUOT`: the user added [`DEP_EDGES_PER_UID`] edges already.
fn edquot() -> Error {
    Error::from_errno(-(kernel::bindings::EDQUOT as i32))
}

/// Which registration of an agent: its id and when it was registered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct End {
    pub(crate) id: u32,
    pub(crate) registered_ns: u64,
}

/// One edge: `dependent` depends on `dependency`.
#[derive(Clone, Copy)]
pub(crate) struct Edge {
    pub(crate) dependent: End,
    pub(crate) dependency: End,
    pub(crate) kind: DepKind,
    /// Optional edges: the signal the dependent gets when the dependency
    /// ends (0: none).
    pub(crate) signal: u32,
    /// The user who added it, when that user had no `CAP_SYS_ADMIN`.
    pub(crate) by: Option<u32>,
}

impl Edge {
    /// Whether the edge joins `a` and `b`, in either direction.
    fn joins(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.dependent.id, self.dependency.id);
        (x == a && y == b) || (x == b && y == a)
    }

    /// Whether both ends are the registrations `current` gives for their
    /// ids now.
    fn live(&self, current: &impl Fn(u32) -> Option<u64>) -> bool {
        [self.dependent, self.dependency]
            .iter()
            .all(|e| current(e.id) == Some(e.registered_ns))
    }

    /// The uapi form.
    pub(crate) fn raw(&self) -> DepEdge {
        DepEdge {
            dependent: self.dependent.id,
            dependency: self.dependency.id,
            kind: self.kind.raw(),
            signal: self.signal,
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
    /// How many slots hold an edge (written under the mutex): the exit
    /// probe's test for whether a cascade may follow.
    count: AtomicUsize,
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
        for e in edges.iter().flatten().filter(|e| e.dependent.id == id) {
            if !seen.contains(&e.dependency.id) {
                // Within the capacity: each agent is seen once, and at
                // most `edges.len() + 1` agents have edges.
                seen.push(e.dependency.id, GFP_KERNEL)?;
            }
        }
    }
    Ok(false)
}

impl Graph {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            edges <- new_mutex!(KVec::new(), "Graph::edges"),
            count: AtomicUsize::new(0),
        })
    }

    /// Whether the graph may have an edge (read without the lock).
    pub(crate) fn is_empty(&self) -> bool {
        self.count.load(Relaxed) == 0
    }

    /// Recounts the edges after a change; the caller holds the lock.
    fn recount(&self, edges: &[Option<Edge>]) {
        self.count
            .store(edges.iter().filter(|e| e.is_some()).count(), Relaxed);
    }

    /// Adds `edge` if both its ends are the registrations `current` gives
    /// for their ids (asked under the graph's lock, so that
    /// [`Self::forget`] after an unregistration cannot miss the edge).
    /// Errors: `EINVAL` (an agent depending on itself), `ESRCH`, `EEXIST`
    /// (the two agents already have an edge), `ELOOP` (a cycle), `EDQUOT`
    /// (the user's share), `ENOSPC`.
    pub(crate) fn add(&self, edge: Edge, current: impl Fn(u32) -> Option<u64>) -> Result {
        if edge.dependent.id == edge.dependency.id {
            return Err(EINVAL);
        }
        let mut edges = self.edges.lock();
        for slot in edges.iter_mut() {
            if slot.is_some_and(|e| !e.live(&current)) {
                *slot = None;
            }
        }
        if !edge.live(&current) {
            return Err(ESRCH);
        }
        let (a, b) = (edge.dependent.id, edge.dependency.id);
        if edges.iter().flatten().any(|e| e.joins(a, b)) {
            return Err(EEXIST);
        }
        // The new edge closes a cycle if its dependency already reaches
        // its dependent.
        if reaches(&edges, b, a)? {
            return Err(eloop());
        }
        if let Some(uid) = edge.by {
            let by_users = edges.iter().flatten().filter(|e| e.by.is_some());
            if by_users.clone().filter(|e| e.by == Some(uid)).count() >= DEP_EDGES_PER_UID {
                return Err(edquot());
            }
            if by_users.count() >= DEP_EDGES_UNPRIVILEGED {
                return Err(ENOSPC);
            }
        }
        if let Some(slot) = edges.iter_mut().find(|s| s.is_none()) {
            *slot = Some(edge);
        } else if edges.len() >= DEP_EDGES_MAX {
            self.recount(&edges);
            return Err(ENOSPC);
        } else {
            edges.push(Some(edge), GFP_KERNEL)?;
        }
        self.recount(&edges);
        Ok(())
    }

    /// Removes the edge from `dependent` to `dependency` (of the agents
    /// `current` gives as registered now); returns its kind, `ENOENT` if
    /// there is none.
    pub(crate) fn remove(
        &self,
        dependent: u32,
        dependency: u32,
        current: impl Fn(u32) -> Option<u64>,
    ) -> Result<DepKind> {
        let mut edges = self.edges.lock();
        let slot = edges
            .iter_mut()
            .find(|s| {
                s.is_some_and(|e| {
                    e.dependent.id == dependent && e.dependency.id == dependency && e.live(&current)
                })
            })
            .ok_or(ENOENT)?;
        let kind = slot.take().map(|e| e.kind).ok_or(ENOENT);
        self.recount(&edges);
        kind
    }

    /// Removes every edge of the agent `id`; returns how many went.
    pub(crate) fn forget(&self, id: u32) -> usize {
        let mut edges = self.edges.lock();
        let mut n = 0;
        for slot in edges.iter_mut() {
            if slot.is_some_and(|e| e.dependent.id == id || e.dependency.id == id) {
                *slot = None;
                n += 1;
            }
        }
        self.recount(&edges);
        n
    }

    /// A copy of every edge whose ends are the registrations `current`
    /// gives for their ids, in the order of their slots.
    pub(crate) fn edges(&self, current: impl Fn(u32) -> Option<u64>) -> Result<KVVec<Edge>> {
        let edges = self.edges.lock();
        // Up to 48 KiB: vmalloc'd when no contiguous pages are free.
        let mut out = KVVec::with_capacity(edges.len(), GFP_KERNEL)?;
        for e in edges.iter().flatten().filter(|e| e.live(&current)) {
            // Within the capacity.
            out.push(*e, GFP_KERNEL)?;
        }
        Ok(out)
    }
}

/// The agents a cascade from agent `root` stops: every agent that requires
/// it, directly or through others (along Required edges only), in an order
/// where each comes before every agent it requires (a depth-first walk's
/// post-order, from dependents to dependencies; `root` itself is not in
/// it). `edges` are the live edges ([`Graph::edges`]).
pub(crate) fn cascade_order(edges: &[Edge], root: End) -> Result<KVVec<End>> {
    // The walk's path from the root: each agent with the index of the next
    // edge to look at. Its first `depth` slots are the path (the kernel's
    // KVec cannot pop); each agent is on it once, so it never outgrows one
    // slot per edge, + the root.
    let mut path: KVVec<(End, usize)> = KVVec::with_capacity(edges.len() + 1, GFP_KERNEL)?;
    let mut seen: KVVec<u32> = KVVec::with_capacity(edges.len() + 1, GFP_KERNEL)?;
    let mut order = KVVec::with_capacity(edges.len(), GFP_KERNEL)?;
    path.push((root, 0), GFP_KERNEL)?;
    seen.push(root.id, GFP_KERNEL)?;
    let mut depth = 1;
    while depth > 0 {
        let (end, cursor) = &mut path[depth - 1];
        // The next dependent of `end` not yet seen, from the cursor on.
        let next = edges
            .iter()
            .enumerate()
            .skip(*cursor)
            .filter(|(_, e)| e.kind == DepKind::Required && e.dependency.id == end.id)
            .find(|(_, e)| !seen.contains(&e.dependent.id));
        match next {
            Some((i, e)) => {
                *cursor = i + 1;
                seen.push(e.dependent.id, GFP_KERNEL)?;
                match path.get_mut(depth) {
                    Some(slot) => *slot = (e.dependent, 0),
                    None => path.push((e.dependent, 0), GFP_KERNEL)?,
                }
                depth += 1;
            }
            None => {
                // Every dependent of `end` is in the order: `end` follows,
                // unless it is the root.
                depth -= 1;
                if depth > 0 {
                    order.push(*end, GFP_KERNEL)?;
                }
            }
        }
    }
    Ok(order)
}

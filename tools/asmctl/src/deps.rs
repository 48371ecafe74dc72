// SPDX-License-Identifier: GPL-2.0

//! The dependency graph between agents, as `ASM_IOC_DEPS` lists it: an
//! agent's direct dependencies and dependents, the tree `asmctl deps ID`
//! draws, the chain of everything it depends on, and its cascade set, the
//! agents that stop with it (those that depend on it through Required
//! edges only), in stop order.
//!
//! Pure functions of the edge list, so that each is tested without a
//! kernel. The module refuses cycles (`ELOOP`), but nothing here loops on
//! one: every walk keeps the agents it has seen.

use asm_abi::{AsmDepEdge, ASM_DEP_REQUIRED};
use std::collections::{BTreeMap, BTreeSet};

/// The edges the caller sees, each once, ordered by dependent, then
/// dependency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    edges: Vec<AsmDepEdge>,
}

/// How a line of the tree ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Its dependencies follow, indented.
    None,
    /// Its dependencies were drawn where it first appeared and are not
    /// drawn again.
    Repeated,
    /// The agent is on the path from the root to here: a cycle, which the
    /// module never lets form; not followed.
    Cycle,
}

/// One line of the tree under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// What goes before the agent: `├─ `, `└─ `, with `│  ` or three
    /// spaces for each level above.
    pub prefix: String,
    /// The dependency.
    pub id: u32,
    /// The kind of the edge from the line above it.
    pub kind: u32,
    /// That edge's signal (0: none).
    pub signal: u32,
    pub mark: Mark,
}

impl Graph {
    /// The graph of `edges`; a repeated edge is kept once, with the kind
    /// it was listed with first.
    pub fn new(edges: &[AsmDepEdge]) -> Self {
        let mut seen = BTreeSet::new();
        let mut kept: Vec<AsmDepEdge> = edges
            .iter()
            .filter(|e| seen.insert((e.dependent, e.dependency)))
            .copied()
            .collect();
        kept.sort_by_key(|e| (e.dependent, e.dependency));
        Self { edges: kept }
    }

    /// Every edge, ordered by dependent, then dependency.
    pub fn edges(&self) -> &[AsmDepEdge] {
        &self.edges
    }

    /// The edges from `id` to what it depends on directly, by dependency.
    pub fn dependency_edges(&self, id: u32) -> Vec<AsmDepEdge> {
        // The edges are sorted by dependent, then dependency.
        self.edges
            .iter()
            .filter(|e| e.dependent == id)
            .copied()
            .collect()
    }

    /// The edges to `id` from what depends on it directly, by dependent.
    pub fn dependent_edges(&self, id: u32) -> Vec<AsmDepEdge> {
        self.edges
            .iter()
            .filter(|e| e.dependency == id)
            .copied()
            .collect()
    }

    /// What `id` depends on directly, with each edge's kind, by id.
    pub fn dependencies(&self, id: u32) -> Vec<(u32, u32)> {
        self.dependency_edges(id)
            .iter()
            .map(|e| (e.dependency, e.kind))
            .collect()
    }

    /// What depends on `id` directly, with each edge's kind, by id.
    pub fn dependents(&self, id: u32) -> Vec<(u32, u32)> {
        self.dependent_edges(id)
            .iter()
            .map(|e| (e.dependent, e.kind))
            .collect()
    }

    /// The dependencies of `id`, recursively, as `systemctl
    /// list-dependencies` draws them: one line per edge, depth first, each
    /// level's dependencies by id. An agent reached again is drawn again,
    /// but its own dependencies only the first time.
    pub fn tree(&self, id: u32) -> Vec<TreeLine> {
        let mut lines = Vec::new();
        let mut path = vec![id];
        let mut expanded = BTreeSet::from([id]);
        self.tree_below(id, "", &mut path, &mut expanded, &mut lines);
        lines
    }

    fn tree_below(
        &self,
        id: u32,
        indent: &str,
        path: &mut Vec<u32>,
        expanded: &mut BTreeSet<u32>,
        lines: &mut Vec<TreeLine>,
    ) {
        let below = self.dependency_edges(id);
        for (i, edge) in below.iter().enumerate() {
            let dep = edge.dependency;
            let last = i + 1 == below.len();
            let branch = if last { "└─ " } else { "├─ " };
            let mark = if path.contains(&dep) {
                Mark::Cycle
            } else if !expanded.insert(dep) && !self.dependencies(dep).is_empty() {
                Mark::Repeated
            } else {
                Mark::None
            };
            lines.push(TreeLine {
                prefix: format!("{indent}{branch}"),
                id: dep,
                kind: edge.kind,
                signal: edge.signal,
                mark,
            });
            if mark == Mark::None {
                let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
                path.push(dep);
                self.tree_below(dep, &deeper, path, expanded, lines);
                path.pop();
            }
        }
    }

    /// Every agent `id` depends on, directly or not, through edges of any
    /// kind, in start order: the deepest first, so that each comes before
    /// whatever depends on it.
    pub fn chain(&self, id: u32) -> Vec<u32> {
        let next = |n: u32| -> Vec<u32> { self.dependencies(n).into_iter().map(|d| d.0).collect() };
        deepest_first(id, next)
    }

    /// The cascade set of `id`: every agent that depends on it, directly
    /// or not, through Required edges only, in stop order: the deepest
    /// dependents first, so that each stops before what it depends on.
    pub fn cascade(&self, id: u32) -> Vec<u32> {
        let next = |n: u32| -> Vec<u32> {
            self.dependents(n)
                .into_iter()
                .filter(|&(_, kind)| kind == ASM_DEP_REQUIRED)
                .map(|d| d.0)
                .collect()
        };
        deepest_first(id, next)
    }
}

/// The agents reachable from `start` through `next` (`start` itself left
/// out), ordered by their longest distance from `start`, farthest first,
/// then by id. Along an acyclic graph, whatever `next` leads to from an
/// agent is farther than the agent: it comes earlier.
fn deepest_first(start: u32, next: impl Fn(u32) -> Vec<u32>) -> Vec<u32> {
    // Depth-first post order, without recursion: each agent is entered
    // once, so a cycle ends the walk like any agent already seen.
    let mut post = Vec::new();
    let mut seen = BTreeSet::from([start]);
    let mut stack = vec![(start, next(start), 0usize)];
    while let Some((node, succ, i)) = stack.last_mut() {
        match succ.get(*i).copied() {
            Some(s) => {
                *i += 1;
                if seen.insert(s) {
                    let after = next(s);
                    stack.push((s, after, 0));
                }
            }
            None => {
                post.push(*node);
                stack.pop();
            }
        }
    }
    // In reverse post order an agent comes after whatever leads to it
    // (but along a cycle's closing edge), so one pass finds each longest
    // distance.
    let mut distance = BTreeMap::from([(start, 0usize)]);
    for &node in post.iter().rev() {
        let here = distance.get(&node).copied().unwrap_or(0);
        for s in next(node) {
            if s == start {
                continue;
            }
            let d = distance.entry(s).or_insert(0);
            *d = (*d).max(here + 1);
        }
    }
    let mut out: Vec<u32> = post.into_iter().filter(|&n| n != start).collect();
    out.sort_by_key(|n| (std::cmp::Reverse(distance.get(n).copied().unwrap_or(0)), *n));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_DEP_OPTIONAL, ASM_DEP_PEER};

    const R: u32 = ASM_DEP_REQUIRED;
    const O: u32 = ASM_DEP_OPTIONAL;
    const P: u32 = ASM_DEP_PEER;
    const NONE: [u32; 0] = [];

    fn graph(edges: &[(u32, u32, u32)]) -> Graph {
        let edges: Vec<AsmDepEdge> = edges
            .iter()
            .map(|&(a, b, k)| AsmDepEdge::new(a, b, k))
            .collect();
        Graph::new(&edges)
    }

    /// The tree as `asmctl deps` draws it under the root.
    fn drawn(g: &Graph, id: u32) -> Vec<String> {
        g.tree(id)
            .into_iter()
            .map(|l| {
                let mark = match l.mark {
                    Mark::None => "",
                    Mark::Repeated => " *",
                    Mark::Cycle => " !",
                };
                format!("{}{} {}{mark}", l.prefix, l.id, l.kind)
            })
            .collect()
    }

    /// 100 is a database; 101 and 102 need it, 103 needs 101 and would
    /// like 102; 104 needs 103; 105 is a peer of 101.
    fn services() -> Graph {
        graph(&[
            (103, 101, R),
            (101, 100, R),
            (102, 100, R),
            (103, 102, O),
            (104, 103, R),
            (105, 101, P),
        ])
    }

    #[test]
    fn edges_are_ordered_and_kept_once() {
        let g = graph(&[(5, 1, R), (2, 9, O), (2, 3, P), (5, 1, O)]);
        let listed: Vec<_> = g
            .edges()
            .iter()
            .map(|e| (e.dependent, e.dependency, e.kind))
            .collect();
        assert_eq!(listed, [(2, 3, P), (2, 9, O), (5, 1, R)]);
        assert_eq!(Graph::new(&[]).edges(), &[]);
    }

    #[test]
    fn edges_keep_their_signal() {
        let usr1 = AsmDepEdge {
            signal: 10,
            ..AsmDepEdge::new(103, 102, O)
        };
        let g = Graph::new(&[
            usr1,
            AsmDepEdge::new(103, 101, R),
            AsmDepEdge::new(104, 102, O),
        ]);
        let signals = |edges: Vec<AsmDepEdge>| -> Vec<(u32, u32, u32)> {
            edges
                .iter()
                .map(|e| (e.dependent, e.dependency, e.signal))
                .collect()
        };
        assert_eq!(
            signals(g.dependency_edges(103)),
            [(103, 101, 0), (103, 102, 10)]
        );
        assert_eq!(
            signals(g.dependent_edges(102)),
            [(103, 102, 10), (104, 102, 0)]
        );
        let tree: Vec<(u32, u32)> = g.tree(103).iter().map(|l| (l.id, l.signal)).collect();
        assert_eq!(tree, [(101, 0), (102, 10)]);
    }

    #[test]
    fn direct_neighbours() {
        let g = services();
        assert_eq!(g.dependencies(103), [(101, R), (102, O)]);
        assert_eq!(g.dependencies(100), []);
        assert_eq!(g.dependents(100), [(101, R), (102, R)]);
        assert_eq!(g.dependents(101), [(103, R), (105, P)]);
        assert_eq!(g.dependents(104), []);
        // An agent the graph does not know has neither.
        assert_eq!((g.dependencies(7), g.dependents(7)), (vec![], vec![]));
    }

    #[test]
    fn tree_of_dependencies() {
        let g = services();
        assert_eq!(
            drawn(&g, 104),
            [
                "└─ 103 1",
                "   ├─ 101 1",
                "   │  └─ 100 1",
                "   └─ 102 2",
                "      └─ 100 1",
            ]
        );
        assert_eq!(drawn(&g, 105), ["└─ 101 3", "   └─ 100 1"]);
        assert_eq!(drawn(&g, 100), Vec::<String>::new());
    }

    #[test]
    fn tree_draws_a_shared_subtree_once() {
        // 1 needs 2 and 3, which both need 4, which needs 5.
        let g = graph(&[(1, 2, R), (1, 3, R), (2, 4, R), (3, 4, O), (4, 5, R)]);
        assert_eq!(
            drawn(&g, 1),
            [
                "├─ 2 1",
                "│  └─ 4 1",
                "│     └─ 5 1",
                "└─ 3 1",
                "   └─ 4 2 *",
            ]
        );
    }

    #[test]
    fn tree_stops_at_a_cycle() {
        // The module refuses these; a graph that has one anyway ends.
        let g = graph(&[(1, 2, R), (2, 3, R), (3, 1, R), (3, 3, P)]);
        assert_eq!(
            drawn(&g, 1),
            ["└─ 2 1", "   └─ 3 1", "      ├─ 1 1 !", "      └─ 3 3 !"]
        );
        assert_eq!(g.chain(1), [3, 2]);
        assert_eq!(g.cascade(1), [2, 3]);
        assert_eq!(g.cascade(3), [1, 2]);
    }

    #[test]
    fn chain_in_start_order() {
        let g = services();
        assert_eq!(g.chain(104), [100, 101, 102, 103]);
        assert_eq!(g.chain(103), [100, 101, 102]);
        assert_eq!(g.chain(105), [100, 101]);
        assert_eq!(g.chain(100), NONE);
        assert_eq!(g.chain(999), NONE);
    }

    #[test]
    fn cascade_follows_required_edges_only() {
        let g = services();
        // 103 needs 101 (required): it stops, and 104 with it, first. 102
        // and 103's optional edge to it do not matter; 105 is a peer.
        assert_eq!(g.cascade(100), [104, 103, 101, 102]);
        assert_eq!(g.cascade(101), [104, 103]);
        // 103 only would like 102.
        assert_eq!(g.cascade(102), NONE);
        assert_eq!(g.cascade(104), NONE);
        assert_eq!(g.cascade(999), NONE);
    }

    #[test]
    fn stop_order_puts_every_dependent_before_its_dependency() {
        // A diamond with a long side: 5 -> 4 -> 3 -> 1 and 5 -> 2 -> 1,
        // plus 6 -> 1 directly. 5 must stop before 4 and 2, 4 before 3.
        let g = graph(&[
            (5, 4, R),
            (4, 3, R),
            (3, 1, R),
            (5, 2, R),
            (2, 1, R),
            (6, 1, R),
        ]);
        let order = g.cascade(1);
        assert_eq!(order, [5, 4, 2, 3, 6]);
        for e in g.edges() {
            let pos = |id| order.iter().position(|&x| x == id);
            if let (Some(a), Some(b)) = (pos(e.dependent), pos(e.dependency)) {
                assert!(a < b, "{} stops after {}", e.dependent, e.dependency);
            }
        }
        // And the start order is its mirror here.
        assert_eq!(g.chain(5), [1, 3, 2, 4]);
    }

    #[test]
    fn the_longest_chain_the_module_keeps() {
        // The module keeps at most ASM_DEP_EDGES_MAX edges: one chain of
        // them all.
        let n = asm_abi::ASM_DEP_EDGES_MAX as u32;
        let edges: Vec<(u32, u32, u32)> = (1..=n).map(|i| (i + 1, i, R)).collect();
        let g = graph(&edges);
        let cascade = g.cascade(1);
        assert_eq!(cascade.len(), n as usize);
        assert_eq!((cascade[0], cascade[n as usize - 1]), (n + 1, 2));
        let chain = g.chain(n + 1);
        assert_eq!((chain[0], chain.len()), (1, n as usize));
        assert_eq!(g.tree(n + 1).len(), n as usize);
    }
}

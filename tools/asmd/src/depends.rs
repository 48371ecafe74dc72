// SPDX-License-Identifier: GPL-2.0

//! The specs' `depends_on`: what each entry names, checked against the
//! other specs before asmd starts anything; the order asmd brings the
//! agents up in; whether an agent's required dependencies let it start
//! now; and what the module's refusal of an edge means.
//!
//! The module keeps the edges (`ASM_IOC_DEPS`, Documentation/deps.rst) and
//! refuses any that would close a cycle, whatever the kinds: asmd refuses a
//! cycle among its specs when it reads them, so that `asmd --check` finds
//! it and no agent is started for a set whose edges cannot all be added.
//!
//! Everything here is plain code on the specs, on what `ASM_IOC_GET_INFO`
//! said and on the module's dependency events; the supervisor makes the
//! calls.

use crate::genl::Event;
use crate::reconcile::{state_label, Status};
use crate::spec::{DepTarget, Dependency, Spec};
use asm_abi::{
    dep_signal_name, ASM_DEP_EDGES_MAX, ASM_DEP_EDGES_PER_UID, ASM_EV_CASCADE, ASM_EV_DEP_HELD,
    ASM_EV_DEP_LOST, ASM_STATE_ACTIVE, ASM_STATE_RECOVERY, ASM_STATE_RESTARTED, ASM_STATE_SPAWNED,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Resolves every `depends_on` entry of `specs` (setting its `id`) and
/// checks the set: an entry must name exactly one other spec, once, and
/// the entries together must not form a cycle. Returns one error per
/// problem, each naming the spec file (and the entry's line).
pub fn check(specs: &mut [Spec]) -> Vec<String> {
    let mut errors = resolve(specs);
    errors.extend(cycles(specs));
    errors
}

/// The first part of an error about entry `target` on `line` of `file`.
fn at(file: &Path, line: usize, target: &DepTarget) -> String {
    format!("{}:{line}: depends_on {target}", file.display())
}

/// Sets the `id` of each entry that names one spec; an error for each that
/// names none, several, its own spec, or one an earlier entry named.
fn resolve(specs: &mut [Spec]) -> Vec<String> {
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_id: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, spec) in specs.iter().enumerate() {
        by_name.entry(spec.name.clone()).or_default().push(i);
        by_id.entry(spec.id).or_insert(i);
    }
    let labels: Vec<(String, u32)> = specs.iter().map(|s| (s.label(), s.id)).collect();
    let files: Vec<String> = specs.iter().map(|s| s.file.display().to_string()).collect();

    let mut errors = Vec::new();
    for (i, spec) in specs.iter_mut().enumerate() {
        // Agent id -> the line of the entry that named it first.
        let mut named: BTreeMap<u32, usize> = BTreeMap::new();
        for dep in &mut spec.depends_on {
            let here = at(&spec.file, dep.line, &dep.target);
            let found = match &dep.target {
                DepTarget::Id(id) => match by_id.get(id) {
                    Some(&j) => j,
                    None => {
                        errors.push(format!("{here}: no spec has this id"));
                        continue;
                    }
                },
                DepTarget::Name(name) => match by_name.get(name).map(Vec::as_slice) {
                    None | Some([]) => {
                        errors.push(format!("{here}: no spec has this name"));
                        continue;
                    }
                    Some([j]) => *j,
                    Some(several) => {
                        let list: Vec<&str> = several.iter().map(|&j| files[j].as_str()).collect();
                        errors.push(format!(
                            "{here}: {} specs have this name ({}): name the one meant by its id",
                            several.len(),
                            list.join(", ")
                        ));
                        continue;
                    }
                },
            };
            if found == i {
                errors.push(format!("{here}: a spec cannot depend on itself"));
                continue;
            }
            let (label, id) = &labels[found];
            dep.id = *id;
            if let Some(first) = named.get(id) {
                errors.push(format!("{here}: {label} is already named on line {first}"));
                continue;
            }
            named.insert(*id, dep.line);
        }
    }
    errors
}

/// For each spec, the indices of the specs it depends on (resolved
/// entries only, each once, never itself), in the file's order.
fn edges(specs: &[Spec]) -> Vec<Vec<usize>> {
    let mut by_id: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, spec) in specs.iter().enumerate() {
        by_id.entry(spec.id).or_insert(i);
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut out: Vec<usize> = Vec::new();
            for dep in &spec.depends_on {
                if let Some(&j) = by_id.get(&dep.id) {
                    if j != i && !out.contains(&j) {
                        out.push(j);
                    }
                }
            }
            out
        })
        .collect()
}

/// One error per cycle the resolved entries form (whatever their kinds:
/// the module refuses them all), named from the spec of the cycle that
/// comes first in the directory.
fn cycles(specs: &[Spec]) -> Vec<String> {
    fn visit(
        i: usize,
        adj: &[Vec<usize>],
        color: &mut [u8],
        stack: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
    ) {
        color[i] = 1;
        stack.push(i);
        for &j in &adj[i] {
            match color[j] {
                0 => visit(j, adj, color, stack, found),
                1 => {
                    let from = stack.iter().position(|&k| k == j).unwrap_or(0);
                    found.push(stack[from..].to_vec());
                }
                _ => {}
            }
        }
        stack.pop();
        color[i] = 2;
    }

    let adj = edges(specs);
    let mut color = vec![0u8; specs.len()];
    let mut found = Vec::new();
    for i in 0..specs.len() {
        if color[i] == 0 {
            visit(i, &adj, &mut color, &mut Vec::new(), &mut found);
        }
    }

    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for mut cycle in found {
        let mut set = cycle.clone();
        set.sort_unstable();
        if !seen.insert(set) {
            continue;
        }
        let first = cycle
            .iter()
            .enumerate()
            .min_by_key(|(_, &k)| k)
            .map_or(0, |(pos, _)| pos);
        cycle.rotate_left(first);
        let mut path = String::new();
        for &k in cycle.iter().chain(cycle.first()) {
            if !path.is_empty() {
                path.push_str(" -> ");
            }
            path.push_str(&specs[k].label());
        }
        let files: Vec<String> = cycle
            .iter()
            .map(|&k| specs[k].file.display().to_string())
            .collect();
        errors.push(format!(
            "{}: depends_on forms a cycle: {path} ({})",
            specs[cycle[0]].file.display(),
            files.join(", ")
        ));
    }
    errors
}

/// The order asmd brings the agents up in: every spec after the specs it
/// depends on (of any kind), and otherwise in the directory's (file name)
/// order. Indices into `specs`, which `check` found free of cycles (should
/// one be left, its specs come last, in file order).
pub fn start_order(specs: &[Spec]) -> Vec<usize> {
    let adj = edges(specs);
    let mut unplaced = vec![0usize; specs.len()];
    let mut dependents = vec![Vec::new(); specs.len()];
    for (i, deps) in adj.iter().enumerate() {
        unplaced[i] = deps.len();
        for &j in deps {
            dependents[j].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..specs.len()).filter(|&i| unplaced[i] == 0).collect();
    let mut order = Vec::with_capacity(specs.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &k in &dependents[i] {
            unplaced[k] -= 1;
            if unplaced[k] == 0 {
                ready.insert(k);
            }
        }
    }
    for i in 0..specs.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
}

/// "start order: agent 1 (a), agent 2 (b)", for the log and `--check`;
/// `None` when no spec has a `depends_on` (the order is the files').
pub fn order_line(specs: &[Spec], order: &[usize]) -> Option<String> {
    if specs.iter().all(|s| s.depends_on.is_empty()) {
        return None;
    }
    let labels: Vec<String> = order.iter().map(|&i| specs[i].label()).collect();
    Some(format!("start order: {}", labels.join(", ")))
}

/// What the module has under a required dependency's id, as the start of
/// its dependent needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepLook {
    /// Not registered; `waiting`: asmd holds its start back, for its own
    /// required dependencies.
    Unknown {
        /// Whether it waits for its own dependencies.
        waiting: bool,
    },
    /// Someone else's agent under that id.
    NotOurs,
    /// The agent asmd registered for the dependency's spec; `waiting`: its
    /// start waits for its own dependencies.
    Ours {
        /// Its status.
        status: Status,
        /// Whether its start waits for its own dependencies.
        waiting: bool,
    },
    /// Looking failed (the message says why).
    Error(String),
}

/// Whether one required dependency lets its dependent start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// It runs: Active, Restarted (running again after a restart), or
    /// registered over processes already in its cgroup.
    Ready,
    /// It may yet be: "is in Recovery", ...
    Wait(String),
    /// It will not be without someone's help: "is Failed", ...
    Closed(String),
}

/// The readiness of a required dependency the module describes as `look`.
pub fn readiness(look: &DepLook) -> Readiness {
    match look {
        DepLook::Ours { status: s, waiting } => match s.state {
            ASM_STATE_ACTIVE | ASM_STATE_RESTARTED => Readiness::Ready,
            // A process joining makes a cgroup agent Active: a Spawned one
            // with processes was registered over processes already in its
            // cgroup (the module was reloaded under them), which run.
            ASM_STATE_SPAWNED if s.nr_processes > 0 => Readiness::Ready,
            ASM_STATE_SPAWNED if *waiting => {
                Readiness::Wait("is Spawned (its start waits for its own dependencies)".to_owned())
            }
            // asmd brings dependencies up first and a started process is in
            // the cgroup when the start returns: nobody is starting it.
            ASM_STATE_SPAWNED => {
                Readiness::Closed("is Spawned with no process (asmd could not start it)".to_owned())
            }
            // To be restarted by asmd on the module's verdict.
            ASM_STATE_RECOVERY => Readiness::Wait("is in Recovery".to_owned()),
            state => Readiness::Closed(format!("is {}", state_label(state))),
        },
        DepLook::Unknown { waiting: true } => Readiness::Wait(
            "is not registered yet (its start waits for its own dependencies)".to_owned(),
        ),
        DepLook::Unknown { waiting: false } => {
            Readiness::Closed("is not registered (it could not be brought up)".to_owned())
        }
        DepLook::NotOurs => Readiness::Closed("is not one asmd registered".to_owned()),
        DepLook::Error(e) => Readiness::Closed(format!("cannot be looked at: {e}")),
    }
}

/// Whether an agent may start, from its required dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Every one is Active (or it has none).
    Open,
    /// Some are not yet: "agent 1 (a) is in Recovery", one per such dependency.
    Wait(Vec<String>),
    /// One never will be: the sentence for the log, "its required
    /// dependency agent 1 (a) is Failed".
    Closed(String),
}

/// The gate of an agent whose required dependencies, labelled, are as
/// given (in the spec's order): closed by the first that is closed, else
/// waiting for those not ready.
pub fn gate(deps: &[(String, Readiness)]) -> Gate {
    let mut waits = Vec::new();
    for (label, readiness) in deps {
        match readiness {
            Readiness::Ready => {}
            Readiness::Wait(why) => waits.push(format!("{label} {why}")),
            Readiness::Closed(why) => {
                return Gate::Closed(format!("its required dependency {label} {why}"))
            }
        }
    }
    if waits.is_empty() {
        Gate::Open
    } else {
        Gate::Wait(waits)
    }
}

/// The log line's text when an agent's start begins to wait for `waits`
/// (as `Gate::Wait` has them).
pub fn waiting_message(timeout_s: u32, waits: &[String]) -> String {
    let which = if waits.len() == 1 {
        "dependency"
    } else {
        "dependencies"
    };
    format!(
        "start waits up to {timeout_s} s for its required {which} to be Active: {}",
        waits.join("; ")
    )
}

/// The error when the wait ran out.
pub fn timeout_message(timeout_s: u32, waits: &[String]) -> String {
    let which = if waits.len() == 1 {
        "dependency is"
    } else {
        "dependencies are"
    };
    format!(
        "not started: its required {which} not Active after {timeout_s} s: {}",
        waits.join("; ")
    )
}

/// The log line's text when the edge of `dep` to the agent labelled
/// `dependency` was added, audited as entry `seq`: "optional dependency on
/// agent 1 (a) added, SIGUSR1 when it ends (audit #12)".
pub fn edge_added(dep: &Dependency, dependency: &str, seq: u64) -> String {
    let sends = dep
        .signal_name()
        .map_or_else(String::new, |s| format!(", {s} when it ends"));
    format!(
        "{} dependency on {dependency} added{sends} (audit #{seq})",
        dep.kind_name()
    )
}

/// The log line's text for a dependency event of one of asmd's agents
/// (`dependency` labels the agent the event names), `None` for other
/// events. A cascade's stop is the module's, not a crash: asmd restarts
/// only on a Recovery verdict, so the line is all it does.
pub fn event_text(ev: &Event, dependency: &str) -> Option<String> {
    let signal = |sig: i32| match sig {
        libc::SIGKILL => "SIGKILL".to_owned(),
        s => u32::try_from(s)
            .ok()
            .and_then(dep_signal_name)
            .map_or_else(|| format!("signal {s}"), str::to_owned),
    };
    Some(match (ev.kind, ev.signal) {
        (ASM_EV_CASCADE, libc::SIGKILL) => format!(
            "stopped by a cascade: still running {} ms after SIGTERM, SIGKILL",
            ev.limit
        ),
        (ASM_EV_CASCADE, sig) => format!(
            "stopped by a cascade: {dependency}, which it requires (directly or not), ended \
             ({}, SIGKILL after {} ms)",
            signal(sig),
            ev.limit
        ),
        (ASM_EV_DEP_HELD, _) => format!(
            "its required dependency {dependency} is in Recovery: held up to {} ms for its \
             restart",
            ev.limit
        ),
        (ASM_EV_DEP_LOST, 0) => format!("its optional dependency {dependency} ended"),
        (ASM_EV_DEP_LOST, sig) => format!(
            "its optional dependency {dependency} ended: {} sent",
            signal(sig)
        ),
        _ => return None,
    })
}

/// What the module's refusal of an `ASM_DEP_ADD` with `errno` means, where
/// the errno's own text does not say it (Documentation/deps.rst); `signal`
/// is the edge's (0: none).
pub fn refusal_hint(errno: i32, signal: u32) -> Option<String> {
    Some(match errno {
        // The spec's signal passed the module's own rule: a module that
        // refuses it predates edge signals.
        libc::EINVAL if signal != 0 => "this asm module may be from before dependency signals \
                                        (a depends_on signal)"
            .to_owned(),
        libc::EPERM => "adding an edge needs the right to narrow the policy of both agents \
                        (their owner, or CAP_SYS_ADMIN), from a process in no agent"
            .to_owned(),
        libc::ESRCH => "one of the two agents is gone".to_owned(),
        libc::EEXIST => "the two agents already have an edge, in one direction or the other \
                         (see asmctl deps)"
            .to_owned(),
        libc::ELOOP => "the edge would close a cycle with edges the module already has \
                        (see asmctl deps)"
            .to_owned(),
        libc::ENOSPC => format!(
            "no room: the module keeps at most {ASM_DEP_EDGES_MAX} edges, of which users \
             without CAP_SYS_ADMIN add three quarters"
        ),
        libc::EDQUOT => format!(
            "no room: a user without CAP_SYS_ADMIN adds at most {ASM_DEP_EDGES_PER_UID} edges"
        ),
        libc::EAGAIN => "asmd's user has used up its audit rate (without CAP_SYS_ADMIN)".to_owned(),
        libc::ENOTTY => "this asm module has no dependency graph (ASM_IOC_DEPS)".to_owned(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;
    use crate::spec::testing::{spec, Nobody};
    use asm_abi::{
        ASM_DEP_OPTIONAL, ASM_DEP_PEER, ASM_DEP_REQUIRED, ASM_STATE_EXITED, ASM_STATE_FAILED,
        ASM_STATE_FAULT,
    };

    fn checked(mut specs: Vec<Spec>) -> Result<Vec<Spec>, Vec<String>> {
        let errors = check(&mut specs);
        if errors.is_empty() {
            Ok(specs)
        } else {
            Err(errors)
        }
    }

    fn names(specs: &[Spec], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| specs[i].name.clone()).collect()
    }

    #[test]
    fn names_and_ids_resolve_with_their_kinds() {
        let specs = checked(vec![
            spec(1, "a", ""),
            spec(2, "b", ""),
            spec(
                3,
                "c",
                r#"["a", 2, { id = 4, kind = "peer" }, { name = "e", kind = "Optional" }]"#,
            ),
            spec(4, "d", ""),
            spec(5, "e", ""),
        ])
        .unwrap();
        let deps: Vec<(u32, u32)> = specs[2].depends_on.iter().map(|d| (d.id, d.kind)).collect();
        assert_eq!(
            deps,
            [
                (1, ASM_DEP_REQUIRED),
                (2, ASM_DEP_REQUIRED),
                (4, ASM_DEP_PEER),
                (5, ASM_DEP_OPTIONAL)
            ]
        );
    }

    #[test]
    fn signals_resolve_with_their_entries() {
        let specs = checked(vec![
            spec(1, "a", ""),
            spec(2, "b", ""),
            spec(
                3,
                "c",
                r#"[{ name = "a", kind = "optional", signal = "USR1" },
                    { id = 2, kind = "optional", signal = 15 }]"#,
            ),
        ])
        .unwrap();
        let deps: Vec<(u32, u32, u32)> = specs[2]
            .depends_on
            .iter()
            .map(|d| (d.id, d.kind, d.signal))
            .collect();
        assert_eq!(deps, [(1, ASM_DEP_OPTIONAL, 10), (2, ASM_DEP_OPTIONAL, 15)]);
        assert_eq!(
            edge_added(&specs[2].depends_on[0], "agent 1 (a)", 12),
            "optional dependency on agent 1 (a) added, SIGUSR1 when it ends (audit #12)"
        );
        let b = spec(2, "b", r#"["a"]"#);
        assert_eq!(
            edge_added(&b.depends_on[0], "agent 1 (a)", 7),
            "required dependency on agent 1 (a) added (audit #7)"
        );
    }

    #[test]
    fn unknown_names_and_ids() {
        let e = checked(vec![
            spec(1, "a", ""),
            spec(2, "b", r#"["db", 7, { name = "A" }]"#),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            [
                "d/b.toml:4: depends_on \"db\": no spec has this name",
                "d/b.toml:4: depends_on 7: no spec has this id",
                // Names are compared as they are written.
                "d/b.toml:4: depends_on \"A\": no spec has this name",
            ]
        );
    }

    #[test]
    fn a_name_two_specs_have_must_be_an_id() {
        let e = checked(vec![
            spec(1, "twin", ""),
            spec(2, "twin", ""),
            spec(3, "c", r#"["twin"]"#),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            ["d/c.toml:4: depends_on \"twin\": 2 specs have this name \
              (d/twin.toml, d/twin.toml): name the one meant by its id"]
        );
        assert!(checked(vec![
            spec(1, "twin", ""),
            spec(2, "twin", ""),
            spec(3, "c", "[2]"),
        ])
        .is_ok());
    }

    #[test]
    fn self_dependency() {
        for deps in [r#"["a"]"#, "[1]", r#"[{ id = 1, kind = "peer" }]"#] {
            let e = checked(vec![spec(1, "a", deps)]).unwrap_err();
            assert_eq!(e.len(), 1, "{deps}: {e:?}");
            assert!(
                e[0].ends_with(": a spec cannot depend on itself"),
                "{deps}: {e:?}"
            );
            assert!(e[0].starts_with("d/a.toml:4: depends_on "), "{e:?}");
        }
    }

    #[test]
    fn duplicates_by_name_id_or_kind() {
        for deps in [
            r#"["a", "a"]"#,
            r#"["a", 1]"#,
            r#"[1, { name = "a", kind = "optional" }]"#,
        ] {
            let e = checked(vec![spec(1, "a", ""), spec(2, "b", deps)]).unwrap_err();
            assert_eq!(e.len(), 1, "{deps}: {e:?}");
            assert!(
                e[0].ends_with(": agent 1 (a) is already named on line 4"),
                "{deps}: {e:?}"
            );
        }
        // The line is the first entry's.
        let text =
            "id = 2\nname = \"b\"\ncommand = [\"true\"]\ndepends_on = [\n  \"a\",\n  1,\n]\n";
        let b = parse(text, Path::new("d/b.toml"), &Nobody).unwrap();
        let e = checked(vec![spec(1, "a", ""), b]).unwrap_err();
        assert_eq!(
            e,
            ["d/b.toml:6: depends_on 1: agent 1 (a) is already named on line 5"]
        );
    }

    #[test]
    fn cycles_of_any_kind_are_named_once() {
        let e = checked(vec![
            spec(1, "a", r#"["b"]"#),
            spec(2, "b", r#"["c"]"#),
            spec(3, "c", r#"[{ name = "a", kind = "peer" }]"#),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            [
                "d/a.toml: depends_on forms a cycle: agent 1 (a) -> agent 2 (b) -> agent 3 (c) \
              -> agent 1 (a) (d/a.toml, d/b.toml, d/c.toml)"
            ]
        );
        // Two agents naming each other; found from the later one too, and
        // named from the first file.
        let e = checked(vec![
            spec(1, "x", ""),
            spec(2, "y", r#"["z"]"#),
            spec(3, "z", r#"["y"]"#),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            [
                "d/y.toml: depends_on forms a cycle: agent 2 (y) -> agent 3 (z) -> agent 2 (y) \
              (d/y.toml, d/z.toml)"
            ]
        );
        // Two cycles, two errors.
        let e = checked(vec![
            spec(1, "a", r#"["b"]"#),
            spec(2, "b", r#"["a"]"#),
            spec(3, "c", r#"["d"]"#),
            spec(4, "d", r#"["c", "a"]"#),
        ])
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("d/a.toml: depends_on forms a cycle"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("d/c.toml: depends_on forms a cycle"),
            "{e:?}"
        );
        // A diamond is no cycle.
        assert!(checked(vec![
            spec(1, "top", r#"["l", "r"]"#),
            spec(2, "l", r#"["base"]"#),
            spec(3, "r", r#"["base"]"#),
            spec(4, "base", ""),
        ])
        .is_ok());
    }

    #[test]
    fn a_cycle_is_found_next_to_an_unknown_name() {
        let e = checked(vec![
            spec(1, "a", r#"["b", "nope"]"#),
            spec(2, "b", r#"["a"]"#),
        ])
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("\"nope\": no spec has this name"), "{e:?}");
        assert!(e[1].contains("forms a cycle"), "{e:?}");
    }

    #[test]
    fn start_order_is_topological_then_by_file() {
        // c depends on b, b on a: files in name order a, b, c would already
        // do; written the other way round they must be reordered.
        let specs = checked(vec![
            spec(3, "a", r#"["b"]"#),
            spec(2, "b", r#"["c"]"#),
            spec(1, "c", ""),
        ])
        .unwrap();
        assert_eq!(names(&specs, &start_order(&specs)), ["c", "b", "a"]);

        // Optional and peer edges order the start too; independent specs
        // keep the file order.
        let specs = checked(vec![
            spec(1, "app", r#"["db", { name = "cache", kind = "optional" }]"#),
            spec(2, "cache", r#"[{ name = "log", kind = "peer" }]"#),
            spec(3, "db", ""),
            spec(4, "log", ""),
            spec(5, "solo", ""),
        ])
        .unwrap();
        assert_eq!(
            names(&specs, &start_order(&specs)),
            ["db", "log", "cache", "app", "solo"]
        );

        assert_eq!(
            order_line(&specs, &start_order(&specs)).unwrap(),
            "start order: agent 3 (db), agent 4 (log), agent 2 (cache), agent 1 (app), \
             agent 5 (solo)"
        );

        // No dependencies: the file order, not worth a line.
        let specs = checked(vec![spec(9, "x", ""), spec(1, "y", "")]).unwrap();
        assert_eq!(start_order(&specs), [0, 1]);
        assert_eq!(order_line(&specs, &[0, 1]), None);
    }

    #[test]
    fn start_order_puts_every_dependency_first() {
        let specs = checked(vec![
            spec(1, "top", r#"["l", "r"]"#),
            spec(2, "l", r#"["base"]"#),
            spec(3, "r", r#"["base", "l"]"#),
            spec(4, "base", ""),
        ])
        .unwrap();
        let order = start_order(&specs);
        assert_eq!(names(&specs, &order), ["base", "l", "r", "top"]);
        let pos = |id: u32| order.iter().position(|&i| specs[i].id == id).unwrap();
        for s in &specs {
            for d in &s.depends_on {
                assert!(pos(d.id) < pos(s.id), "{} before {}", d.id, s.id);
            }
        }
    }

    fn ours(state: u32) -> DepLook {
        ours_with(state, 1, false)
    }

    fn ours_with(state: u32, nr_processes: u32, waiting: bool) -> DepLook {
        DepLook::Ours {
            status: Status {
                state,
                nr_processes,
                restart_count: 0,
                auto_restart: 0,
            },
            waiting,
        }
    }

    #[test]
    fn readiness_of_each_state() {
        assert_eq!(readiness(&ours(ASM_STATE_ACTIVE)), Readiness::Ready);
        assert_eq!(readiness(&ours(ASM_STATE_RESTARTED)), Readiness::Ready);
        assert_eq!(readiness(&ours(ASM_STATE_SPAWNED)), Readiness::Ready);
        assert_eq!(
            readiness(&ours_with(ASM_STATE_SPAWNED, 0, true)),
            Readiness::Wait("is Spawned (its start waits for its own dependencies)".into())
        );
        assert_eq!(
            readiness(&ours_with(ASM_STATE_SPAWNED, 0, false)),
            Readiness::Closed("is Spawned with no process (asmd could not start it)".into())
        );
        for nr in [0, 1] {
            assert_eq!(
                readiness(&ours_with(ASM_STATE_RECOVERY, nr, false)),
                Readiness::Wait("is in Recovery".into())
            );
        }
        // Running is running, whatever the count.
        assert_eq!(
            readiness(&ours_with(ASM_STATE_ACTIVE, 0, false)),
            Readiness::Ready
        );
        for (state, name) in [
            (ASM_STATE_FAULT, "Fault"),
            (ASM_STATE_EXITED, "Exited"),
            (ASM_STATE_FAILED, "Failed"),
        ] {
            assert_eq!(
                readiness(&ours(state)),
                Readiness::Closed(format!("is {name}"))
            );
        }
        assert!(matches!(
            readiness(&DepLook::Unknown { waiting: true }),
            Readiness::Wait(_)
        ));
        assert_eq!(
            readiness(&DepLook::Unknown { waiting: false }),
            Readiness::Closed("is not registered (it could not be brought up)".into())
        );
        assert_eq!(
            readiness(&DepLook::NotOurs),
            Readiness::Closed("is not one asmd registered".into())
        );
    }

    #[test]
    fn gate_closes_on_the_first_closed_else_waits() {
        let ready = ("agent 1 (a)".to_owned(), Readiness::Ready);
        let recovering = (
            "agent 2 (b)".to_owned(),
            Readiness::Wait("is in Recovery".into()),
        );
        let failed = (
            "agent 3 (c)".to_owned(),
            Readiness::Closed("is Failed".into()),
        );
        assert_eq!(gate(&[]), Gate::Open);
        assert_eq!(gate(std::slice::from_ref(&ready)), Gate::Open);
        assert_eq!(
            gate(&[ready.clone(), recovering.clone()]),
            Gate::Wait(vec!["agent 2 (b) is in Recovery".into()])
        );
        assert_eq!(
            gate(&[recovering.clone(), failed, ready]),
            Gate::Closed("its required dependency agent 3 (c) is Failed".into())
        );
        let waits = vec!["agent 2 (b) is in Recovery".to_owned()];
        assert_eq!(
            waiting_message(30, &waits),
            "start waits up to 30 s for its required dependency to be Active: \
             agent 2 (b) is in Recovery"
        );
        assert_eq!(
            timeout_message(5, &waits),
            "not started: its required dependency is not Active after 5 s: agent 2 (b) is in Recovery"
        );
        let two = vec![
            waits[0].clone(),
            "agent 4 (d) is not registered yet (its start waits for its own dependencies)"
                .to_owned(),
        ];
        assert_eq!(
            timeout_message(30, &two),
            "not started: its required dependencies are not Active after 30 s: \
             agent 2 (b) is in Recovery; agent 4 (d) is not registered yet (its start waits \
             for its own dependencies)"
        );
    }

    #[test]
    fn dependency_events_are_worded() {
        let ev = |kind, signal, limit| Event {
            seq: None,
            kind,
            agent_id: 3,
            pid: 0,
            signal,
            fault: 0,
            value: 1,
            limit,
        };
        let dep = "agent 1 (a)";
        for (e, want) in [
            (
                ev(ASM_EV_CASCADE, libc::SIGTERM, 800),
                "stopped by a cascade: agent 1 (a), which it requires (directly or not), ended \
                 (SIGTERM, SIGKILL after 800 ms)",
            ),
            (
                ev(ASM_EV_CASCADE, libc::SIGKILL, 800),
                "stopped by a cascade: still running 800 ms after SIGTERM, SIGKILL",
            ),
            (
                ev(ASM_EV_DEP_HELD, 0, 1500),
                "its required dependency agent 1 (a) is in Recovery: held up to 1500 ms for its \
                 restart",
            ),
            (
                ev(ASM_EV_DEP_LOST, libc::SIGUSR1, 0),
                "its optional dependency agent 1 (a) ended: SIGUSR1 sent",
            ),
            (
                ev(ASM_EV_DEP_LOST, 0, 0),
                "its optional dependency agent 1 (a) ended",
            ),
        ] {
            assert_eq!(event_text(&e, dep).as_deref(), Some(want));
        }
        for kind in [asm_abi::ASM_EV_EXIT, asm_abi::ASM_EV_LLM, 17] {
            assert_eq!(event_text(&ev(kind, 0, 0), dep), None);
        }
    }

    #[test]
    fn refusals_are_explained() {
        for errno in [
            libc::EPERM,
            libc::ESRCH,
            libc::EEXIST,
            libc::ELOOP,
            libc::ENOSPC,
            libc::EDQUOT,
            libc::EAGAIN,
            libc::ENOTTY,
        ] {
            assert!(refusal_hint(errno, 0).is_some(), "{errno}");
        }
        assert_eq!(refusal_hint(libc::EINVAL, 0), None);
        assert!(refusal_hint(libc::ELOOP, 0).unwrap().contains("cycle"));
        assert!(refusal_hint(libc::EINVAL, 10)
            .unwrap()
            .contains("before dependency signals"));
    }
}

// SPDX-License-Identifier: GPL-2.0

//! What asmd does with one agent of its specs, decided from what the module
//! says about it and nothing else: asmd keeps no state of its own, so a
//! restarted asmd decides exactly as the one that died would have.
//!
//! Before any decision, [`vet`] checks that the agent the module has under
//! the spec's id is the one asmd registered: someone else's agent under
//! that id is left alone, never started, attached to or killed.

use asm_abi::{state_name, AsmAgentInfo, ASM_STATE_RECOVERY, ASM_STATE_SPAWNED};
use std::fmt;
use std::path::{Path, PathBuf};

/// What makes an agent asmd's own: who registered it, which cgroup it is,
/// and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Effective uid of the registrar (`owner_uid`).
    pub owner_uid: u32,
    /// The cgroup v2 id of a cgroup agent; 0 for a process agent.
    pub cgroup_id: u64,
    /// The agent's name.
    pub name: String,
}

impl From<&AsmAgentInfo> for Identity {
    fn from(info: &AsmAgentInfo) -> Self {
        let len = info
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(info.name.len());
        Self {
            owner_uid: info.owner_uid,
            cgroup_id: info.cgroup_id,
            name: String::from_utf8_lossy(&info.name[..len]).into_owned(),
        }
    }
}

/// One way in which an agent is not the one asmd registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Another user registered it.
    Owner {
        /// Its `owner_uid`.
        found: u32,
        /// asmd's euid.
        asmd: u32,
    },
    /// It is a process agent; asmd registers cgroups.
    ProcessAgent,
    /// It is another cgroup.
    Cgroup {
        /// Its cgroup id.
        found: u64,
        /// The id of the spec's cgroup directory.
        ours: u64,
    },
    /// It has another name.
    Name {
        /// Its name.
        found: String,
        /// The spec's.
        spec: String,
    },
}

/// Why asmd leaves an agent alone: every [`Mismatch`], and the cgroup
/// directory asmd uses for the spec, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The agent id.
    pub agent_id: u32,
    /// The spec's cgroup directory.
    pub dir: PathBuf,
    /// What did not match; never empty.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent {} is not one asmd registered: ", self.agent_id)?;
        for (i, m) in self.mismatches.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match m {
                Mismatch::Owner { found, asmd } => {
                    write!(f, "owner uid {found} is not asmd's uid {asmd}")?
                }
                Mismatch::ProcessAgent => write!(
                    f,
                    "it is a process agent, not the cgroup {}",
                    self.dir.display()
                )?,
                Mismatch::Cgroup { found, ours } => write!(
                    f,
                    "its cgroup id {found} is not {ours}, the id of {}",
                    self.dir.display()
                )?,
                Mismatch::Name { found, spec } => {
                    write!(f, "its name {found:?} is not the spec's {spec:?}")?
                }
            }
        }
        f.write_str("; leaving it alone")
    }
}

/// Checks that the agent the module describes as `found` is the one asmd
/// registered for a spec, `ours`: registered by asmd's euid, a cgroup agent
/// of the spec's directory `dir`, with the spec's name. `Err` lists every
/// difference; asmd must then neither start, attach to, nor kill it.
pub fn vet(agent_id: u32, found: &Identity, ours: &Identity, dir: &Path) -> Result<(), Refusal> {
    let mut mismatches = Vec::new();
    if found.owner_uid != ours.owner_uid {
        mismatches.push(Mismatch::Owner {
            found: found.owner_uid,
            asmd: ours.owner_uid,
        });
    }
    if found.cgroup_id == 0 {
        mismatches.push(Mismatch::ProcessAgent);
    } else if found.cgroup_id != ours.cgroup_id {
        mismatches.push(Mismatch::Cgroup {
            found: found.cgroup_id,
            ours: ours.cgroup_id,
        });
    }
    if found.name != ours.name {
        mismatches.push(Mismatch::Name {
            found: found.name.clone(),
            spec: ours.name.clone(),
        });
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(Refusal {
            agent_id,
            dir: dir.to_owned(),
            mismatches,
        })
    }
}

/// The part of `struct asm_agent_info` the decision looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// `enum asm_state`.
    pub state: u32,
    /// Live processes now.
    pub nr_processes: u32,
    /// Restarts so far.
    pub restart_count: u32,
    /// Restart budget.
    pub auto_restart: u32,
}

impl From<&AsmAgentInfo> for Status {
    fn from(info: &AsmAgentInfo) -> Self {
        Self {
            state: info.state,
            nr_processes: info.nr_processes,
            restart_count: info.restart_count,
            auto_restart: info.auto_restart,
        }
    }
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The module does not know the agent (`ESRCH`): register its cgroup,
    /// set its policy, then decide again.
    Register,
    /// It runs: leave it alone. Never a second copy.
    Attach {
        /// Its live processes.
        processes: u32,
    },
    /// Registered and never started (asmd died between the two, or just
    /// registered it): start it.
    Start,
    /// It ended and the module wants it restarted (state Recovery): start
    /// it; the module counts the restart when the new process joins.
    Restart {
        /// Which restart this is, from 1.
        restart: u32,
        /// The budget.
        of: u32,
    },
    /// It ended for good (Exited, Failed), or crashed with a log action
    /// (Fault), or is in a state asmd does not start agents from.
    Leave {
        /// Its state.
        state: u32,
    },
}

/// The decision for one agent: `None` when `ASM_IOC_GET_INFO` said `ESRCH`.
pub fn decide(status: Option<Status>) -> Decision {
    let Some(s) = status else {
        return Decision::Register;
    };
    if s.nr_processes > 0 {
        return Decision::Attach {
            processes: s.nr_processes,
        };
    }
    match s.state {
        ASM_STATE_SPAWNED => Decision::Start,
        ASM_STATE_RECOVERY => Decision::Restart {
            restart: s.restart_count.saturating_add(1),
            of: s.auto_restart,
        },
        state => Decision::Leave { state },
    }
}

/// A state's name for the log ("state 9" for one this ABI does not know).
pub fn state_label(state: u32) -> String {
    state_name(state).map_or_else(|| format!("state {state}"), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{
        ASM_STATE_ACTIVE, ASM_STATE_EXITED, ASM_STATE_FAILED, ASM_STATE_FAULT, ASM_STATE_RESTARTED,
    };

    fn ident(owner_uid: u32, cgroup_id: u64, name: &str) -> Identity {
        Identity {
            owner_uid,
            cgroup_id,
            name: name.into(),
        }
    }

    const DIR: &str = "/sys/fs/cgroup/agentsys/710";

    fn vet_710(found: &Identity) -> Result<(), Refusal> {
        vet(710, found, &ident(0, 4242, "crashy"), Path::new(DIR))
    }

    #[test]
    fn own_agent_passes() {
        assert_eq!(vet_710(&ident(0, 4242, "crashy")), Ok(()));
    }

    #[test]
    fn each_mismatch_alone_refuses() {
        let one = |found: Identity, want: Mismatch| {
            let r = vet_710(&found).unwrap_err();
            assert_eq!(r.mismatches, vec![want], "{found:?}");
            assert_eq!(r.agent_id, 710);
        };
        one(
            ident(1000, 4242, "crashy"),
            Mismatch::Owner {
                found: 1000,
                asmd: 0,
            },
        );
        one(ident(0, 0, "crashy"), Mismatch::ProcessAgent);
        one(
            ident(0, 99, "crashy"),
            Mismatch::Cgroup {
                found: 99,
                ours: 4242,
            },
        );
        one(
            ident(0, 4242, "crash"),
            Mismatch::Name {
                found: "crash".into(),
                spec: "crashy".into(),
            },
        );
    }

    #[test]
    fn refusal_names_the_agent_and_every_mismatch() {
        let r = vet_710(&ident(65534, 0, "evil")).unwrap_err();
        assert_eq!(r.mismatches.len(), 3);
        assert_eq!(
            r.to_string(),
            "agent 710 is not one asmd registered: owner uid 65534 is not asmd's uid 0; \
             it is a process agent, not the cgroup /sys/fs/cgroup/agentsys/710; \
             its name \"evil\" is not the spec's \"crashy\"; leaving it alone"
        );
        let r = vet_710(&ident(0, 7, "crashy")).unwrap_err();
        assert_eq!(
            r.to_string(),
            "agent 710 is not one asmd registered: its cgroup id 7 is not 4242, \
             the id of /sys/fs/cgroup/agentsys/710; leaving it alone"
        );
    }

    #[test]
    fn identity_from_info() {
        let mut info = AsmAgentInfo::new(710);
        info.owner_uid = 5;
        info.cgroup_id = 77;
        info.name[..6].copy_from_slice(b"crashy");
        assert_eq!(Identity::from(&info), ident(5, 77, "crashy"));
        // A name that fills the array has no NUL.
        info.name = [b'x'; asm_abi::ASM_NAME_LEN];
        assert_eq!(Identity::from(&info).name.len(), asm_abi::ASM_NAME_LEN);
    }

    fn st(state: u32, nr_processes: u32) -> Option<Status> {
        Some(Status {
            state,
            nr_processes,
            restart_count: 1,
            auto_restart: 3,
        })
    }

    #[test]
    fn unknown_agent_is_registered() {
        assert_eq!(decide(None), Decision::Register);
    }

    #[test]
    fn running_agent_is_attached_whatever_its_state() {
        for state in 0..=7 {
            assert_eq!(decide(st(state, 2)), Decision::Attach { processes: 2 });
        }
    }

    #[test]
    fn never_started_agent_is_started() {
        assert_eq!(decide(st(ASM_STATE_SPAWNED, 0)), Decision::Start);
    }

    #[test]
    fn agent_in_recovery_is_restarted_with_the_next_number() {
        assert_eq!(
            decide(st(ASM_STATE_RECOVERY, 0)),
            Decision::Restart { restart: 2, of: 3 }
        );
        let s = Status {
            state: ASM_STATE_RECOVERY,
            nr_processes: 0,
            restart_count: u32::MAX,
            auto_restart: u32::MAX,
        };
        assert_eq!(
            decide(Some(s)),
            Decision::Restart {
                restart: u32::MAX,
                of: u32::MAX
            }
        );
    }

    #[test]
    fn ended_agents_are_left_alone() {
        for state in [
            ASM_STATE_ACTIVE,
            ASM_STATE_FAULT,
            ASM_STATE_RESTARTED,
            ASM_STATE_EXITED,
            ASM_STATE_FAILED,
            42,
        ] {
            assert_eq!(decide(st(state, 0)), Decision::Leave { state });
        }
    }

    #[test]
    fn status_from_info() {
        let mut info = AsmAgentInfo::new(100);
        info.state = ASM_STATE_RECOVERY;
        info.restart_count = 2;
        info.auto_restart = 3;
        assert_eq!(
            decide(Some(Status::from(&info))),
            Decision::Restart { restart: 3, of: 3 }
        );
        assert_eq!(state_label(ASM_STATE_FAILED), "Failed");
        assert_eq!(state_label(42), "state 42");
    }
}

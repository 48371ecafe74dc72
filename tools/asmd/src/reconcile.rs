// SPDX-License-Identifier: GPL-2.0

//! What asmd does with one agent of its specs, decided from what the module
//! says about it and nothing else: asmd keeps no state of its own, so a
//! restarted asmd decides exactly as the one that died would have.

use asm_abi::{state_name, AsmAgentInfo, ASM_STATE_RECOVERY, ASM_STATE_SPAWNED};

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

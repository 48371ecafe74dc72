// SPDX-License-Identifier: GPL-2.0

//! Hot patches of an agent's policy: who may change what ([`Asker`]: an
//! administrator from outside the agent may widen it, its owner may only
//! narrow it, Admin is never granted) and what each change does, with the
//! audit entry that describes it.

use core::fmt::Write;

use crate::agent::Agent;
use crate::audit::{Kind, Record};
use crate::ffi::RcuGuard;
use crate::policy::{self, Risk};
use crate::uapi::{PatchOp, SCOPE_LEN};
use crate::Asm;
use kernel::prelude::*;

/// New limits of a [`Change::Limits`] (`ASM_LIMIT_NONE`: no limit; 0:
/// follow the defaults).
pub(crate) struct Limits {
    pub(crate) cpu_quota_ms: u32,
    pub(crate) syscall_rate: u32,
    pub(crate) watchdog_ms: u32,
    pub(crate) mem_limit_bytes: u64,
}

/// One validated change of an agent's policy (`struct asm_patch`).
// A scope is 256 bytes, kept inline: a change lives on the stack of one
// request, and boxing it would add an allocation that can fail.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Change {
    /// Capability bits added (`add`) or removed.
    Capabilities { add: bool, bits: u64 },
    /// The path scope ("" for none).
    Scope([u8; SCOPE_LEN]),
    /// The restart budget.
    AutoRestart(u32),
    /// The four limits.
    Limits(Limits),
    /// The risk level.
    Risk(Risk),
    /// The LLM token bucket's size and refill per second.
    LlmRate { burst: u32, refill_per_s: u32 },
}

impl Change {
    /// The uapi op that asks for it.
    pub(crate) fn op(&self) -> PatchOp {
        match self {
            Self::Capabilities { add: true, .. } => PatchOp::AddCapability,
            Self::Capabilities { add: false, .. } => PatchOp::RemoveCapability,
            Self::Scope(_) => PatchOp::UpdateScope,
            Self::AutoRestart(_) => PatchOp::SetAutoRestart,
            Self::Limits(_) => PatchOp::SetLimits,
            Self::Risk(_) => PatchOp::SetRisk,
            Self::LlmRate { .. } => PatchOp::SetLlmRate,
        }
    }
}

/// Who asks for a policy change of `agent`: whether they may widen it
/// (CAP_SYS_ADMIN, from outside every agent) and narrow it (also its
/// owner).
pub(crate) struct Asker {
    pub(crate) widen: bool,
    narrow: bool,
}

impl Asker {
    pub(crate) fn of(
        asm: &Asm,
        agent: &Agent,
        admin: bool,
        euid: u32,
        tgid: i32,
        rcu: &RcuGuard,
    ) -> Self {
        // Widening is an administrator's from outside every agent: a root
        // agent widens neither itself nor another agent (which could then
        // widen it back).
        let in_agent = asm.registry.agent_of(tgid, rcu).is_some();
        Self {
            widen: admin && !in_agent,
            narrow: admin || agent.owner_uid == euid,
        }
    }

    /// Whether it may make a change that narrows the policy or not.
    pub(crate) fn allows(&self, narrows: bool) -> bool {
        self.widen || (self.narrow && narrows)
    }
}

/// Applies `change` to `agent` if `asker` may; returns the outcome and the
/// audit entry describing it.
pub(crate) fn apply(asm: &Asm, agent: &Agent, change: &Change, asker: &Asker) -> (Result, Record) {
    let mut r = Record::new(Kind::Patch, change.op().raw(), agent.id);
    let policies = &asm.policies;
    let result = match *change {
        Change::Capabilities { add, bits } => {
            let (result, old, new) = policies.update(
                agent,
                |caps, _| {
                    if add {
                        *caps |= bits;
                    } else {
                        *caps &= !bits;
                    }
                },
                |old, _, new, _| {
                    // Admin is never granted by a patch, to anyone.
                    !policy::grants_admin(old, new) && asker.allows(new & !old == 0)
                },
            );
            if add && policy::grants_admin(old.0, old.0 | bits) {
                r = Record::new(Kind::Escalation, change.op().raw(), agent.id);
            }
            let _ = r.write_str(if add { "add " } else { "remove " });
            policy::write_caps(&mut r, bits);
            r = r.values(old.0, new.0);
            result
        }
        Change::Scope(ref new_scope) => {
            let (result, old, new) = policies.update(
                agent,
                |_, scope| *scope = *new_scope,
                |_, old, _, new| asker.allows(old == new || policy::scope_narrows(old, new)),
            );
            let _ = r.write_str("scope \"");
            r.bytes(policy::text(&old.1));
            let _ = r.write_str("\" -> \"");
            r.bytes(policy::text(&new.1));
            let _ = r.write_str("\"");
            result
        }
        Change::AutoRestart(new) => {
            let (result, old) =
                policies.set_auto_restart(agent, new, |old, new| asker.allows(new <= old));
            r = r.values(old.into(), new.into());
            let _ = write!(r, "auto_restart {old} -> {new}");
            result
        }
        Change::Limits(ref req) => {
            let old = asm.faults.own(agent);
            let result = asm.faults.update(
                agent,
                |s| {
                    s.cpu_quota_ms = req.cpu_quota_ms;
                    s.syscall_rate = req.syscall_rate;
                    s.watchdog_ms = req.watchdog_ms;
                    s.mem_limit_bytes = req.mem_limit_bytes;
                },
                |old, new| asker.allows(new.narrows(old)),
            );
            let _ = write!(
                r,
                "limits cpu_quota_ms {}->{} syscall_rate {}->{} watchdog_ms {}->{} mem_limit_bytes {}->{}",
                old.cpu_quota_ms,
                req.cpu_quota_ms,
                old.syscall_rate,
                req.syscall_rate,
                old.watchdog_ms,
                req.watchdog_ms,
                old.mem_limit_bytes,
                req.mem_limit_bytes
            );
            result
        }
        Change::Risk(new) => {
            let old = agent.policy.risk();
            r = r.values(old.raw().into(), new.raw().into());
            let _ = write!(r, "risk {} -> {}", old.name(), new.name());
            // A classification is the administrator's; an Unacceptable
            // agent may not run at all: stop it instead.
            if new != Risk::Unacceptable && asker.widen {
                policies.set_risk(agent, new);
                Ok(())
            } else {
                Err(EPERM)
            }
        }
        Change::LlmRate {
            burst,
            refill_per_s,
        } => {
            let (result, old) = crate::gateway::set_rate(asm, agent, burst, refill_per_s, |old| {
                asker.allows(burst <= old.0 && refill_per_s <= old.1)
            });
            let pack = |(b, r): (u32, u32)| u64::from(b) << 32 | u64::from(r);
            r = r.values(pack(old), pack((burst, refill_per_s)));
            let _ = write!(
                r,
                "llm_rate burst {}->{} refill_per_s {}->{}",
                old.0, burst, old.1, refill_per_s
            );
            result
        }
    };
    (result, r)
}

// SPDX-License-Identifier: GPL-2.0

//! Who reads the module's views, and which agents they may see.
//!
//! The rule is hidepid's (Documentation/filesystems/proc.rst): an
//! administrator (`CAP_SYS_ADMIN` in the initial user namespace) sees every
//! agent; anyone else sees the agents registered by their own effective
//! uid, and the system totals. An agent another user owns is reported as
//! absent (`ESRCH`), so its id, name, scope and pids do not leak. /proc
//! files judge the credentials they were opened with, as the kernel's own
//! /proc files do; ioctls judge the caller.

use crate::agent::Agent;
use crate::ffi;
use crate::ffi::RcuGuard;
use crate::registry::{AgentRef, Registry};

/// A reader of the views.
#[derive(Clone, Copy)]
pub(crate) struct Viewer {
    uid: u32,
    admin: bool,
}

impl Viewer {
    /// A reader with effective uid `uid` (initial user namespace), an
    /// administrator if `admin`.
    pub(crate) fn new(uid: u32, admin: bool) -> Self {
        Self { uid, admin }
    }

    /// The calling process, without an audit record for the capability
    /// check (reading is not a privileged act).
    pub(crate) fn current() -> Self {
        Self::new(ffi::current_euid(), ffi::capable_admin_noaudit())
    }

    /// Whether the reader sees every agent, and so the whole event ring
    /// (debugfs asm/events): an administrator. A root process without
    /// `CAP_SYS_ADMIN`, such as an agent the launchers started as root,
    /// is not one.
    pub(crate) fn sees_every_agent(&self) -> bool {
        self.admin
    }

    /// Whether the reader may see `agent`.
    pub(crate) fn sees(&self, agent: &Agent) -> bool {
        self.admin || agent.owner_uid == self.uid
    }

    /// Agent `id` of `registry` if the reader may see it: `None` (which the
    /// ioctls answer with `ESRCH`) for one that is absent or another
    /// user's.
    pub(crate) fn find<'a>(
        &self,
        registry: &'a Registry,
        id: u32,
        rcu: &'a RcuGuard,
    ) -> Option<AgentRef<'a>> {
        registry.get(id, rcu).filter(|a| self.sees(a))
    }

    /// Whether the reader may see agent `id` (an event about it): an
    /// administrator sees every id, others only the ids of their agents
    /// that are still registered.
    pub(crate) fn sees_id(&self, registry: &Registry, id: u32) -> bool {
        self.admin || self.find(registry, id, &RcuGuard::new()).is_some()
    }
}

// SPDX-License-Identifier: GPL-2.0

//! asmctl's error type and the messages for failed calls.
//!
//! The kernel only says an errno; which problem that errno means depends on
//! the request (Documentation/uapi.rst, "Errors"), so each failure is
//! described from the operation that was attempted and the errno together.

use crate::args::{DepsAction, SensitiveChange, Target};
use crate::profile::op_name_rule;
use crate::sys::Errno;
use asm_abi::{
    dep_signal_name, ASM_AUDIT_LIMIT_BURST, ASM_AUDIT_LIMIT_WINDOW_S, ASM_DEP_EDGES_MAX,
    ASM_DEP_EDGES_PER_UID, ASM_DEVICE_PATH, ASM_LLM_PROMPT_MAX, ASM_LLM_REQUEST_MAX,
    ASM_LLM_SYSTEM_MAX, ASM_PROFILE_OPS_MAX, ASM_RISK_UNACCEPTABLE, ASM_SENSITIVE_MAX,
};
use std::path::Path;

/// Why asmctl stops; each kind has its own exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A bad command line: exit status 2.
    Usage(String),
    /// A request that failed: exit status 1.
    Failed(String),
    /// `asmctl run` could not exec its command: exit status 127, as a shell
    /// reports a command it cannot run.
    Exec(String),
    /// A check that ran and found a problem (`audit verify`): exit status
    /// 3, and the message is the command's output, not an error about it.
    Check(String),
    /// A check whose output was printed found a value below its threshold
    /// (`compliance --min-score`): exit status 3, the message on stderr.
    Below(String),
}

impl Error {
    /// The message, without the "Error: " prefix.
    pub fn message(&self) -> &str {
        match self {
            Error::Usage(m)
            | Error::Failed(m)
            | Error::Exec(m)
            | Error::Check(m)
            | Error::Below(m) => m,
        }
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) => 1,
            Error::Check(_) | Error::Below(_) => 3,
            Error::Exec(_) => 127,
        }
    }
}

/// What asmctl was doing when a call failed.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Opening `/dev/asm`.
    Open,
    /// `ASM_IOC_LIST`.
    List,
    /// `ASM_IOC_GET_INFO` or `ASM_IOC_GET_AGENT_INFO_JSON` for an agent.
    Info(u32),
    /// `ASM_IOC_GET_TELEMETRY_JSON`.
    Telemetry,
    /// `ASM_IOC_REGISTER`: the target, the id asked for (0: allocate) and
    /// the risk level asked for.
    Register(&'a Target, u32, u32),
    /// `ASM_IOC_UNREGISTER` of an agent.
    Unregister(u32),
    /// `ASM_IOC_REGISTER` with `ASM_REGISTER_RESTART` of an agent.
    Restart(u32),
    /// Opening the cgroup directory given to `register --cgroup`.
    OpenCgroup(&'a Path),
    /// `ASM_IOC_GET_HISTORY` of an agent.
    History(u32),
    /// `ASM_IOC_GET_FAULT_POLICY` of an agent, or of the defaults (0).
    GetPolicy(u32),
    /// `ASM_IOC_SET_FAULT_POLICY` with `ASM_FP_SET_LIMITS`, of an agent or
    /// of the defaults (0).
    SetLimits(u32),
    /// `ASM_IOC_SET_FAULT_POLICY` with `ASM_FP_SET_ACTIONS`, of an agent or
    /// of the defaults (0).
    SetActions(u32),
    /// `ASM_IOC_HEARTBEAT`.
    Heartbeat,
    /// Reading `CLOCK_BOOTTIME`.
    Clock,
    /// `ASM_IOC_PATCH_POLICY` of an agent; whether the patch adds Admin.
    Patch { id: u32, grants_admin: bool },
    /// `ASM_IOC_GET_AUDIT`.
    Audit,
    /// `ASM_IOC_GET_COMPLIANCE` of an agent.
    Compliance(u32),
    /// `ASM_IOC_OVERSIGHT` about an agent.
    Oversight(u32),
    /// `ASM_IOC_DECISION`.
    Decision,
    /// `ASM_IOC_SENSITIVE` with ADD or REMOVE.
    Sensitive(&'a SensitiveChange),
    /// `ASM_IOC_SENSITIVE` with GET.
    SensitiveList,
    /// `ASM_IOC_DEPS` with ADD or REMOVE (`action` is never `Show`); with
    /// `ESRCH`, `missing` is the agent found not to exist, if asmctl could
    /// tell which.
    Deps {
        action: DepsAction,
        missing: Option<u32>,
    },
    /// `ASM_IOC_DEPS` with LIST.
    DepList,
    /// `ASM_IOC_PROFILE` with BEGIN.
    ProfileBegin,
    /// `ASM_IOC_PROFILE` with RECORD or END of the operation named.
    ProfileRecord(&'a str),
    /// `ASM_IOC_PROFILE` with STATS of `agent` (0: over every agent the
    /// caller sees), of operation `op` (`None`: by index).
    ProfileStats { agent: u32, op: Option<&'a str> },
    /// `ASM_IOC_LLM_REQUEST`: the request's timeout (the kernel's default
    /// if it gave none), the response buffer's size, and `written` as the
    /// kernel left it (with `ENOSPC`, the size the answer needed).
    Llm {
        timeout_ms: u32,
        room: usize,
        written: u32,
    },
}

impl Op<'_> {
    /// The error for this operation failing with `errno`.
    pub fn fail(self, errno: Errno) -> Error {
        Error::Failed(self.describe(errno))
    }

    fn describe(self, errno: Errno) -> String {
        use libc::*;
        if let Op::Deps { action, missing } = self {
            if let Some(message) = dep_message(action, missing, errno.0) {
                return message;
            }
        }
        match (self, errno.0) {
            // ENXIO/ENODEV: a stale device node whose driver is gone.
            (Op::Open, ENOENT | ENXIO | ENODEV) => {
                format!("{ASM_DEVICE_PATH} not found: is the asm module loaded?")
            }
            (Op::Open, EACCES | EPERM) => format!("permission denied opening {ASM_DEVICE_PATH}"),
            (
                Op::Info(id)
                | Op::Unregister(id)
                | Op::History(id)
                | Op::Patch { id, .. }
                | Op::Compliance(id)
                | Op::Oversight(id),
                ESRCH,
            ) => format!("no agent with id {id}"),
            // The kernel audits the attempt before refusing it.
            (Op::Patch { grants_admin: true, .. }, EPERM) => {
                "not permitted: Admin can never be granted by a patch; the attempt is audited".into()
            }
            (Op::Patch { .. }, EPERM) => {
                "not permitted: widening a policy needs CAP_SYS_ADMIN from outside the agent; its owner may only narrow it".into()
            }
            (Op::Patch { .. }, EINVAL) => "the asm module rejected this patch".into(),
            (Op::Audit, EPERM | EACCES) => {
                "not permitted: reading the audit trail needs CAP_SYS_ADMIN".into()
            }
            (Op::Oversight(_), EPERM) => {
                "not permitted: human oversight needs CAP_SYS_ADMIN, from a process outside the agent".into()
            }
            (Op::Oversight(_), EINVAL) => {
                "the asm module rejected the note: it must be printable text".into()
            }
            (Op::ProfileBegin | Op::ProfileRecord(_), ESRCH) => {
                "the caller is not a process of an agent: only an agent's processes record its \
                 operations"
                    .into()
            }
            (Op::ProfileRecord(op), ENOSPC) => format!(
                "no room: the agent has {ASM_PROFILE_OPS_MAX} operation names already, and {op} is \
                 not one of them (those keep recording)"
            ),
            (Op::ProfileRecord(_), EINVAL) => format!(
                "the asm module rejected the sample: an operation name is {}, and a duration at \
                 most 1 hour",
                op_name_rule()
            ),
            (Op::ProfileStats { op: Some(_), .. }, EINVAL) => format!(
                "the asm module rejected the operation name: it must be {}",
                op_name_rule()
            ),
            (Op::ProfileStats { agent: 0, op: Some(op) }, ENOENT) => {
                format!("no agent you can see has an operation {op}")
            }
            (Op::ProfileStats { agent, op: Some(op) }, ENOENT) => {
                format!("agent {agent} has no operation {op}")
            }
            (Op::ProfileStats { agent, .. }, ESRCH) if agent != 0 => {
                format!("no agent with id {agent}")
            }
            (Op::Decision, ESRCH) => "this process does not belong to an agent".into(),
            (Op::Decision, EINVAL) => {
                "the asm module rejected the decision: it must be printable text".into()
            }
            (Op::Sensitive(_), EPERM) => {
                "not permitted: changing the sensitive paths needs CAP_SYS_ADMIN".into()
            }
            (Op::Sensitive(SensitiveChange::Add(path)), EEXIST) => {
                format!("{path} is already marked sensitive")
            }
            (Op::Sensitive(SensitiveChange::Remove(path)), ENOENT) => {
                format!("{path} is not marked sensitive")
            }
            (Op::Sensitive(_), ENOSPC) => format!(
                "no room: at most {ASM_SENSITIVE_MAX} paths can be marked sensitive"
            ),
            (
                Op::Sensitive(SensitiveChange::Add(path) | SensitiveChange::Remove(path)),
                EINVAL,
            ) => format!("the asm module rejected the path {path}: it must be absolute"),
            // Documentation/gateway.rst, "Errors".
            (Op::Llm { .. }, EPERM) => {
                "not allowed: this process is not in an agent with LlmAccess (or the agent id is not yours)".into()
            }
            (Op::Llm { .. }, EAGAIN) => {
                "rate limited: the agent's token bucket is empty; retry later".into()
            }
            (Op::Llm { .. }, ENOTCONN) => {
                "no gateway helper is running (start asm-gateway)".into()
            }
            (Op::Llm { .. }, EBUSY) => {
                "the gateway is busy: too many requests are in flight (256 in all, or 32 of this agent); retry later".into()
            }
            (Op::Llm { timeout_ms, .. }, ETIMEDOUT) => format!(
                "timed out: no answer within {timeout_ms} ms (--timeout-ms sets the limit)"
            ),
            (Op::Llm { .. }, EINTR) => {
                "interrupted by a signal: the request was cancelled (its token is spent)".into()
            }
            (Op::Llm { .. }, EIO) => {
                "every provider failed (or the gateway helper answered malformed text or went away)".into()
            }
            (Op::Llm { .. }, EINVAL) => {
                "the asm module rejected the request document: asmctl and the module may differ in ABI version".into()
            }
            (Op::Llm { .. }, E2BIG) => format!(
                "too big: the request document is limited to {ASM_LLM_REQUEST_MAX} bytes, the prompt to \
                 {ASM_LLM_PROMPT_MAX} and the system message to {ASM_LLM_SYSTEM_MAX}"
            ),
            (Op::Llm { room, written, .. }, ENOSPC) => format!(
                "the answer did not fit: it needed {written} bytes, the response buffer holds {room} (the answer is lost)"
            ),
            (Op::GetPolicy(id) | Op::SetLimits(id) | Op::SetActions(id), ESRCH) if id != 0 => {
                format!("no agent with id {id}")
            }
            (Op::SetLimits(0) | Op::SetActions(0), EPERM) => {
                "permission denied: changing the default policy needs CAP_SYS_ADMIN".into()
            }
            // The module lets an agent's owner narrow its limits, nothing
            // more.
            (Op::SetLimits(id), EPERM) => format!(
                "permission denied: the owner of agent {id} may only lower its limits; anything else needs CAP_SYS_ADMIN"
            ),
            (Op::SetActions(id), EPERM) => format!(
                "permission denied: changing the recovery actions of agent {id} needs CAP_SYS_ADMIN"
            ),
            (Op::SetLimits(_), EINVAL) => {
                "the asm module rejected these limits".into()
            }
            (Op::SetActions(_), EINVAL) => {
                "the asm module rejected these recovery actions".into()
            }
            (Op::Heartbeat, ESRCH) => "this process does not belong to an agent".into(),
            (Op::Restart(id), ESRCH) => format!("cannot restart agent {id}: it is no longer registered"),
            (Op::Restart(id), EBUSY) => format!("cannot restart agent {id}: it is not in Recovery"),
            (Op::Restart(id), EPERM) => {
                format!("permission denied: restarting agent {id} needs CAP_SYS_ADMIN")
            }
            (Op::Unregister(id), EPERM) => format!(
                "permission denied: only the agent's owner or CAP_SYS_ADMIN can unregister agent {id}"
            ),
            // The kernel audits the refusal.
            (Op::Register(_, _, ASM_RISK_UNACCEPTABLE), EPERM) => {
                "risk level Unacceptable is prohibited: agent not registered".into()
            }
            (Op::Register(target, id, _), EPERM) => match target {
                Target::Pid(_) => {
                    "permission denied: registering another process needs CAP_SYS_ADMIN".into()
                }
                Target::Cgroup(_) => {
                    "permission denied: registering a cgroup needs CAP_SYS_ADMIN".into()
                }
                // For the caller itself: a chosen id, a restart budget
                // and ASM_CAP_ADMIN need privilege.
                Target::Caller if id != 0 => format!(
                    "permission denied: choosing agent id {id} needs CAP_SYS_ADMIN \
                     (without --id the kernel allocates one)"
                ),
                Target::Caller => "permission denied: a restart budget (--auto-restart) or \
                                   granting Admin needs CAP_SYS_ADMIN"
                    .into(),
            },
            (Op::Register(Target::Pid(pid), _, _), ESRCH) => format!("no process with pid {pid}"),
            (Op::Register(Target::Cgroup(path), 0, _), EEXIST) => {
                format!("{} already is an agent", path.display())
            }
            (Op::Register(Target::Cgroup(path), id, _), EEXIST) => format!(
                "agent id {id} is already taken, or {} already is an agent",
                path.display()
            ),
            (Op::Register(_, id, _), EEXIST) => format!("agent id {id} is already taken"),
            (Op::Register(Target::Cgroup(_), _, _), EBUSY) => {
                "a process of the cgroup already belongs to an agent".into()
            }
            (Op::Register(_, _, _), EBUSY) => "the process already belongs to an agent".into(),
            (Op::Register(Target::Cgroup(path), _, _), EBADF | ENOTDIR) => {
                format!("{} is not a cgroup v2 directory", path.display())
            }
            (Op::Register(_, _, _), ENOSPC) => {
                "no room for another agent (4096 registered, or no free id)".into()
            }
            (Op::Register(_, _, _), EINVAL) => {
                "invalid request: the module rejected the name, scope, capabilities, risk level or id".into()
            }
            (Op::OpenCgroup(path), _) => {
                format!("cannot open cgroup {}: {}", path.display(), errno.text())
            }
            (Op::Clock, _) => format!("cannot read CLOCK_BOOTTIME: {}", errno.text()),
            // Only a request this asmctl builds wrongly for the loaded
            // module gets these, i.e. the two were built from different
            // versions of asm.h.
            (_, ENOTTY) => format!(
                "{ASM_DEVICE_PATH} does not know this request: asmctl and the asm module differ in version"
            ),
            (_, EINVAL) => {
                "the asm module rejected the request: asmctl and the module may differ in ABI version"
                    .into()
            }
            (_, ENOMEM) => "the asm module is out of memory".into(),
            // The retry loops of asm_sys::Device gave up.
            (Op::List, ERANGE) => "the agent list kept growing; try again".into(),
            (Op::Info(_) | Op::Telemetry, ERANGE) => {
                "the JSON document kept growing; try again".into()
            }
            (Op::DepList, ERANGE) => "the dependency graph kept growing; try again".into(),
            (op, _) => format!("{}: {}", op.request(), errno.text()),
        }
    }

    /// The request's name, for errors with no more specific message.
    fn request(self) -> &'static str {
        match self {
            Op::Open => "opening /dev/asm",
            Op::List => "ASM_IOC_LIST",
            Op::Info(_) => "reading agent info",
            Op::Telemetry => "ASM_IOC_GET_TELEMETRY_JSON",
            Op::Register(_, _, _) => "ASM_IOC_REGISTER",
            Op::Unregister(_) => "ASM_IOC_UNREGISTER",
            Op::Restart(_) => "ASM_IOC_REGISTER (restart)",
            Op::OpenCgroup(_) => "opening the cgroup",
            Op::History(_) => "ASM_IOC_GET_HISTORY",
            Op::GetPolicy(_) => "ASM_IOC_GET_FAULT_POLICY",
            Op::SetLimits(_) | Op::SetActions(_) => "ASM_IOC_SET_FAULT_POLICY",
            Op::Heartbeat => "ASM_IOC_HEARTBEAT",
            Op::Clock => "clock_gettime",
            Op::Patch { .. } => "ASM_IOC_PATCH_POLICY",
            Op::Audit => "ASM_IOC_GET_AUDIT",
            Op::Compliance(_) => "ASM_IOC_GET_COMPLIANCE",
            Op::Oversight(_) => "ASM_IOC_OVERSIGHT",
            Op::Decision => "ASM_IOC_DECISION",
            Op::Sensitive(_) | Op::SensitiveList => "ASM_IOC_SENSITIVE",
            Op::Deps { .. } | Op::DepList => "ASM_IOC_DEPS",
            Op::ProfileBegin | Op::ProfileRecord(_) | Op::ProfileStats { .. } => "ASM_IOC_PROFILE",
            Op::Llm { .. } => "ASM_IOC_LLM_REQUEST",
        }
    }
}

/// What `ASM_IOC_DEPS` with ADD or REMOVE failing with `errno` means
/// (Documentation/deps.rst), where it says more than the messages every
/// request shares; `missing` is the agent found not to exist, for `ESRCH`.
fn dep_message(action: DepsAction, missing: Option<u32>, errno: i32) -> Option<String> {
    use libc::*;
    let (add, dependent, dependency, signal) = match action {
        DepsAction::Add {
            dependent,
            dependency,
            signal,
            ..
        } => (true, dependent, dependency, signal),
        DepsAction::Remove {
            dependent,
            dependency,
        } => (false, dependent, dependency, 0),
        DepsAction::Show(_) => return None,
    };
    Some(match (errno, add) {
        // asmctl sends only signals the module takes: one that refuses
        // the field at all predates edge signals.
        (EINVAL, true) if signal != 0 => format!(
            "the asm module refused the edge's signal ({}): it may be from before dependency \
             signals",
            dep_signal_name(signal).map_or_else(|| signal.to_string(), String::from)
        ),
        (ESRCH, _) => match missing {
            Some(id) => format!("no agent with id {id}"),
            None => format!("no agent with id {dependent} or {dependency} that you can see"),
        },
        (ELOOP, true) => format!(
            "adding {dependent} -> {dependency} would close a cycle: {dependency} already \
             depends on {dependent}, directly or not"
        ),
        (EEXIST, true) => format!(
            "agents {dependent} and {dependency} already have an edge (in one direction or the \
             other)"
        ),
        (EPERM, true) => "not permitted: adding a dependency needs the right to narrow the \
                          policy of both agents (their owner, or CAP_SYS_ADMIN), from a process \
                          in no agent"
            .into(),
        (EPERM, false) => {
            "not permitted: removing a dependency needs CAP_SYS_ADMIN, from a process in no agent"
                .into()
        }
        (ENOSPC, true) => format!(
            "no room: the asm module keeps at most {ASM_DEP_EDGES_MAX} dependency edges, of \
             which users without CAP_SYS_ADMIN add three quarters"
        ),
        (EDQUOT, true) => format!(
            "no room: a user without CAP_SYS_ADMIN adds at most {ASM_DEP_EDGES_PER_UID} \
             dependency edges"
        ),
        (EAGAIN, _) => format!(
            "your audit rate is used up ({ASM_AUDIT_LIMIT_BURST} audited requests per \
             {ASM_AUDIT_LIMIT_WINDOW_S} s without CAP_SYS_ADMIN): try again later"
        ),
        (ENOENT, false) => format!("agent {dependent} does not depend on agent {dependency}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn msg(op: Op, errno: i32) -> String {
        op.fail(Errno(errno)).message().to_string()
    }

    #[test]
    fn messages_name_the_problem() {
        let pid = Target::Pid(42);
        let cg = Target::Cgroup(PathBuf::from("/sys/fs/cgroup/x"));
        let me = Target::Caller;
        let add = SensitiveChange::Add("/etc/shadow".into());
        let remove = SensitiveChange::Remove("/srv/x".into());
        for (got, want) in [
            (
                msg(Op::Open, libc::ENOENT),
                "/dev/asm not found: is the asm module loaded?",
            ),
            (
                msg(Op::Open, libc::EACCES),
                "permission denied opening /dev/asm",
            ),
            (msg(Op::Info(999), libc::ESRCH), "no agent with id 999"),
            (msg(Op::Unregister(7), libc::ESRCH), "no agent with id 7"),
            (
                msg(Op::Unregister(7), libc::EPERM),
                "permission denied: only the agent's owner or CAP_SYS_ADMIN can unregister agent 7",
            ),
            (
                msg(Op::Register(&pid, 0, 0), libc::EPERM),
                "permission denied: registering another process needs CAP_SYS_ADMIN",
            ),
            (
                msg(Op::Register(&cg, 0, 0), libc::EPERM),
                "permission denied: registering a cgroup needs CAP_SYS_ADMIN",
            ),
            (
                msg(Op::Register(&me, 0, 0), libc::EPERM),
                "permission denied: a restart budget (--auto-restart) or granting Admin needs \
                 CAP_SYS_ADMIN",
            ),
            (
                msg(Op::Register(&me, 730, 0), libc::EPERM),
                "permission denied: choosing agent id 730 needs CAP_SYS_ADMIN \
                 (without --id the kernel allocates one)",
            ),
            (
                msg(Op::Register(&me, 100, 0), libc::EEXIST),
                "agent id 100 is already taken",
            ),
            (
                msg(Op::Register(&pid, 0, 0), libc::EBUSY),
                "the process already belongs to an agent",
            ),
            (
                msg(Op::Register(&cg, 0, 0), libc::EBUSY),
                "a process of the cgroup already belongs to an agent",
            ),
            (
                msg(Op::Register(&pid, 0, 0), libc::ESRCH),
                "no process with pid 42",
            ),
            (
                msg(Op::Register(&cg, 0, 0), libc::ENOTDIR),
                "/sys/fs/cgroup/x is not a cgroup v2 directory",
            ),
            (
                msg(Op::Register(&me, 0, 0), libc::ENOSPC),
                "no room for another agent (4096 registered, or no free id)",
            ),
            (
                msg(Op::OpenCgroup(Path::new("/sys/fs/cgroup/x")), libc::ENOENT),
                "cannot open cgroup /sys/fs/cgroup/x: No such file or directory",
            ),
            (
                msg(Op::List, libc::ENOTTY),
                "/dev/asm does not know this request: asmctl and the asm module differ in version",
            ),
            (
                msg(Op::List, libc::ERANGE),
                "the agent list kept growing; try again",
            ),
            (
                msg(Op::Telemetry, libc::EFAULT),
                "ASM_IOC_GET_TELEMETRY_JSON: Bad address",
            ),
            (msg(Op::History(8), libc::ESRCH), "no agent with id 8"),
            (msg(Op::GetPolicy(8), libc::ESRCH), "no agent with id 8"),
            (msg(Op::SetLimits(8), libc::ESRCH), "no agent with id 8"),
            (msg(Op::SetActions(8), libc::ESRCH), "no agent with id 8"),
            (
                msg(Op::SetLimits(0), libc::EPERM),
                "permission denied: changing the default policy needs CAP_SYS_ADMIN",
            ),
            (
                msg(Op::SetLimits(9), libc::EPERM),
                "permission denied: the owner of agent 9 may only lower its limits; anything else needs CAP_SYS_ADMIN",
            ),
            (
                msg(Op::SetActions(9), libc::EPERM),
                "permission denied: changing the recovery actions of agent 9 needs CAP_SYS_ADMIN",
            ),
            (
                msg(Op::SetLimits(9), libc::EINVAL),
                "the asm module rejected these limits",
            ),
            (
                msg(Op::SetActions(0), libc::EINVAL),
                "the asm module rejected these recovery actions",
            ),
            (
                msg(Op::Heartbeat, libc::ESRCH),
                "this process does not belong to an agent",
            ),
            // An asm module from before the fault detector.
            (
                msg(Op::History(8), libc::ENOTTY),
                "/dev/asm does not know this request: asmctl and the asm module differ in version",
            ),
            (
                msg(Op::GetPolicy(0), libc::EIO),
                "ASM_IOC_GET_FAULT_POLICY: Input/output error",
            ),
            (
                msg(Op::Register(&me, 0, ASM_RISK_UNACCEPTABLE), libc::EPERM),
                "risk level Unacceptable is prohibited: agent not registered",
            ),
            (
                msg(Op::Register(&pid, 0, ASM_RISK_UNACCEPTABLE), libc::EPERM),
                "risk level Unacceptable is prohibited: agent not registered",
            ),
            (
                msg(Op::Register(&pid, 0, asm_abi::ASM_RISK_HIGH), libc::EPERM),
                "permission denied: registering another process needs CAP_SYS_ADMIN",
            ),
            (
                msg(
                    Op::Patch {
                        id: 100,
                        grants_admin: true,
                    },
                    libc::EPERM,
                ),
                "not permitted: Admin can never be granted by a patch; the attempt is audited",
            ),
            (
                msg(
                    Op::Patch {
                        id: 100,
                        grants_admin: false,
                    },
                    libc::EPERM,
                ),
                "not permitted: widening a policy needs CAP_SYS_ADMIN from outside the agent; its owner may only narrow it",
            ),
            (
                msg(
                    Op::Patch {
                        id: 100,
                        grants_admin: false,
                    },
                    libc::ESRCH,
                ),
                "no agent with id 100",
            ),
            (
                msg(Op::Audit, libc::EPERM),
                "not permitted: reading the audit trail needs CAP_SYS_ADMIN",
            ),
            // A module from before the audit trail.
            (
                msg(Op::Audit, libc::ENOTTY),
                "/dev/asm does not know this request: asmctl and the asm module differ in version",
            ),
            (msg(Op::Compliance(5), libc::ESRCH), "no agent with id 5"),
            (
                msg(Op::Oversight(5), libc::EPERM),
                "not permitted: human oversight needs CAP_SYS_ADMIN, from a process outside the agent",
            ),
            (
                msg(Op::Decision, libc::ESRCH),
                "this process does not belong to an agent",
            ),
            (
                msg(Op::Sensitive(&add), libc::EEXIST),
                "/etc/shadow is already marked sensitive",
            ),
            (
                msg(Op::Sensitive(&add), libc::ENOSPC),
                "no room: at most 8 paths can be marked sensitive",
            ),
            (
                msg(Op::Sensitive(&add), libc::EPERM),
                "not permitted: changing the sensitive paths needs CAP_SYS_ADMIN",
            ),
            (
                msg(Op::Sensitive(&remove), libc::ENOENT),
                "/srv/x is not marked sensitive",
            ),
            (
                msg(Op::SensitiveList, libc::EIO),
                "ASM_IOC_SENSITIVE: Input/output error",
            ),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn dependency_messages_name_the_problem() {
        let add = |missing| Op::Deps {
            action: DepsAction::Add {
                dependent: 101,
                dependency: 100,
                kind: asm_abi::ASM_DEP_REQUIRED,
                signal: 0,
            },
            missing,
        };
        let add_usr1 = Op::Deps {
            action: DepsAction::Add {
                dependent: 101,
                dependency: 100,
                kind: asm_abi::ASM_DEP_OPTIONAL,
                signal: 10,
            },
            missing: None,
        };
        let remove = |missing| Op::Deps {
            action: DepsAction::Remove {
                dependent: 101,
                dependency: 100,
            },
            missing,
        };
        for (got, want) in [
            (
                msg(add(None), libc::ELOOP),
                "adding 101 -> 100 would close a cycle: 100 already depends on 101, directly or not",
            ),
            (
                msg(add(None), libc::EEXIST),
                "agents 101 and 100 already have an edge (in one direction or the other)",
            ),
            (msg(add(Some(100)), libc::ESRCH), "no agent with id 100"),
            (msg(remove(Some(101)), libc::ESRCH), "no agent with id 101"),
            (
                msg(add(None), libc::ESRCH),
                "no agent with id 101 or 100 that you can see",
            ),
            (
                msg(add(None), libc::EPERM),
                "not permitted: adding a dependency needs the right to narrow the policy of both \
                 agents (their owner, or CAP_SYS_ADMIN), from a process in no agent",
            ),
            (
                msg(remove(None), libc::EPERM),
                "not permitted: removing a dependency needs CAP_SYS_ADMIN, from a process in no agent",
            ),
            (
                msg(remove(None), libc::ENOENT),
                "agent 101 does not depend on agent 100",
            ),
            (
                msg(add(None), libc::ENOSPC),
                "no room: the asm module keeps at most 1024 dependency edges, of which users \
                 without CAP_SYS_ADMIN add three quarters",
            ),
            (
                msg(add(None), libc::EDQUOT),
                "no room: a user without CAP_SYS_ADMIN adds at most 64 dependency edges",
            ),
            (
                msg(remove(None), libc::EAGAIN),
                "your audit rate is used up (32 audited requests per 60 s without \
                 CAP_SYS_ADMIN): try again later",
            ),
            (
                msg(add(None), libc::EINVAL),
                "the asm module rejected the request: asmctl and the module may differ in ABI version",
            ),
            (
                msg(add_usr1, libc::EINVAL),
                "the asm module refused the edge's signal (SIGUSR1): it may be from before \
                 dependency signals",
            ),
            (msg(add(None), libc::EFAULT), "ASM_IOC_DEPS: Bad address"),
            (
                msg(Op::DepList, libc::ERANGE),
                "the dependency graph kept growing; try again",
            ),
            // A module from before the dependency graph.
            (
                msg(Op::DepList, libc::ENOTTY),
                "/dev/asm does not know this request: asmctl and the asm module differ in version",
            ),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn profile_messages_name_the_problem() {
        let rule = "1 to 31 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'";
        let stats = |agent, op| Op::ProfileStats { agent, op };
        for (got, want) in [
            (
                msg(Op::ProfileRecord("step"), libc::ESRCH),
                "the caller is not a process of an agent: only an agent's processes record its \
                 operations"
                    .to_string(),
            ),
            (
                msg(Op::ProfileBegin, libc::ESRCH),
                "the caller is not a process of an agent: only an agent's processes record its \
                 operations"
                    .to_string(),
            ),
            (
                msg(Op::ProfileRecord("step"), libc::ENOSPC),
                "no room: the agent has 32 operation names already, and step is not one of them \
                 (those keep recording)"
                    .to_string(),
            ),
            (
                msg(Op::ProfileRecord("step"), libc::EINVAL),
                format!(
                    "the asm module rejected the sample: an operation name is {rule}, and a \
                     duration at most 1 hour"
                ),
            ),
            (
                msg(stats(7701, Some("x")), libc::EINVAL),
                format!("the asm module rejected the operation name: it must be {rule}"),
            ),
            (
                msg(stats(7701, Some("step")), libc::ENOENT),
                "agent 7701 has no operation step".into(),
            ),
            (
                msg(stats(0, Some("step")), libc::ENOENT),
                "no agent you can see has an operation step".into(),
            ),
            (
                msg(stats(7701, None), libc::ESRCH),
                "no agent with id 7701".into(),
            ),
            (
                msg(stats(7701, Some("step")), libc::ESRCH),
                "no agent with id 7701".into(),
            ),
            (
                msg(Op::ProfileRecord("step"), libc::ENOMEM),
                "the asm module is out of memory".into(),
            ),
            (
                msg(Op::ProfileBegin, libc::EFAULT),
                "ASM_IOC_PROFILE: Bad address".into(),
            ),
            // A module from before profiling.
            (
                msg(stats(0, Some("step")), libc::ENOTTY),
                "/dev/asm does not know this request: asmctl and the asm module differ in version"
                    .into(),
            ),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn llm_messages_follow_the_gateway_errno_table() {
        let llm = Op::Llm {
            timeout_ms: 30000,
            room: 65536,
            written: 70001,
        };
        for (got, want) in [
            (
                msg(llm, libc::EPERM),
                "not allowed: this process is not in an agent with LlmAccess (or the agent id is not yours)",
            ),
            (
                msg(llm, libc::EAGAIN),
                "rate limited: the agent's token bucket is empty; retry later",
            ),
            (
                msg(llm, libc::ENOTCONN),
                "no gateway helper is running (start asm-gateway)",
            ),
            (
                msg(llm, libc::EBUSY),
                "the gateway is busy: too many requests are in flight (256 in all, or 32 of this agent); retry later",
            ),
            (
                msg(llm, libc::ETIMEDOUT),
                "timed out: no answer within 30000 ms (--timeout-ms sets the limit)",
            ),
            (
                msg(llm, libc::EINTR),
                "interrupted by a signal: the request was cancelled (its token is spent)",
            ),
            (
                msg(llm, libc::EIO),
                "every provider failed (or the gateway helper answered malformed text or went away)",
            ),
            (
                msg(llm, libc::EINVAL),
                "the asm module rejected the request document: asmctl and the module may differ in ABI version",
            ),
            (
                msg(llm, libc::E2BIG),
                "too big: the request document is limited to 65536 bytes, the prompt to 32768 and the \
                 system message to 8192",
            ),
            (
                msg(llm, libc::ENOSPC),
                "the answer did not fit: it needed 70001 bytes, the response buffer holds 65536 (the answer is lost)",
            ),
            (msg(llm, libc::EFAULT), "ASM_IOC_LLM_REQUEST: Bad address"),
            // A module from before the gateway.
            (
                msg(llm, libc::ENOTTY),
                "/dev/asm does not know this request: asmctl and the asm module differ in version",
            ),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn exit_codes_by_kind() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Op::List.fail(Errno(libc::EIO)).exit_code(), 1);
        assert_eq!(Error::Exec("x".into()).exit_code(), 127);
        assert_eq!(Error::Check("x".into()).exit_code(), 3);
        assert_eq!(Error::Below("x".into()).exit_code(), 3);
        let llm = Op::Llm {
            timeout_ms: 1,
            room: 1,
            written: 0,
        };
        assert_eq!(llm.fail(Errno(libc::EAGAIN)).exit_code(), 1);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! [`Device`]: an open `/dev/asm`, with a safe method for each ioctl the
//! tools make, and `poll()` for the LLM requests it submitted. Requests
//! that read an array or a document of unknown size (LIST, the JSON
//! requests, the dependency edges) grow their buffer and retry here, so
//! callers get the whole answer or an errno.

use crate::{cvt, Errno};
use asm_abi::{
    AsmAgentInfo, AsmAuditEntry, AsmAuditRead, AsmCompliance, AsmDepEdge, AsmDeps, AsmFaultPolicy,
    AsmHeartbeat, AsmHistory, AsmJson, AsmList, AsmLlmRequest, AsmNote, AsmPatch, AsmProfile,
    AsmRegister, AsmSensitive, AsmUnregister, AsmWindow, ASM_AUDIT_ENTRIES, ASM_AUDIT_LLM_ENTRIES,
    ASM_AUDIT_TRAIL_LLM, ASM_DEVICE_PATH, ASM_HISTORY_WINDOWS, ASM_IOC_DECISION, ASM_IOC_DEPS,
    ASM_IOC_GET_AGENT_INFO_JSON, ASM_IOC_GET_AUDIT, ASM_IOC_GET_COMPLIANCE,
    ASM_IOC_GET_FAULT_POLICY, ASM_IOC_GET_HISTORY, ASM_IOC_GET_INFO, ASM_IOC_GET_TELEMETRY_JSON,
    ASM_IOC_HEARTBEAT, ASM_IOC_LIST, ASM_IOC_LLM_REQUEST, ASM_IOC_OVERSIGHT, ASM_IOC_PATCH_POLICY,
    ASM_IOC_PROFILE, ASM_IOC_REGISTER, ASM_IOC_SENSITIVE, ASM_IOC_SET_FAULT_POLICY,
    ASM_IOC_UNREGISTER, ASM_PROFILE_OPS_MAX,
};
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// How often a LIST or JSON request is retried when what it reads grew
/// between the call that sized the buffer and the next one.
const MAX_TRIES: usize = 8;
/// First guess for a JSON document: holds the telemetry of a few dozen agents.
const JSON_START: usize = 16 * 1024;
/// Extra room on top of the size the kernel asked for, so that a document
/// that grows by an event or two between calls still fits.
const JSON_SLACK: usize = 4096;
/// Larger than any document the module writes; stops a wrong `len` from
/// making us allocate without bound.
const JSON_MAX: usize = 64 << 20;
/// First guess for the number of agents.
const LIST_START: usize = 64;
/// Extra ids on top of the count the kernel reported.
const LIST_SLACK: usize = 16;
/// Larger than any sane number of agents; same purpose as [`JSON_MAX`].
const LIST_MAX: usize = 1 << 22;
/// First guess for the number of dependency edges.
const DEPS_START: usize = 64;
/// Extra edges on top of the count the kernel reported.
const DEPS_SLACK: usize = 16;
/// Far more edges than the module keeps (`ASM_DEP_EDGES_MAX`); same
/// purpose as [`JSON_MAX`].
const DEPS_MAX: usize = 1 << 20;

/// Converts a buffer length to the ABI's `u32`. The buffers here are bounded
/// by [`JSON_MAX`], [`LIST_MAX`] and [`DEPS_MAX`], so clamping never shrinks
/// them in practice; it only keeps the claimed room within what we
/// allocated.
fn room(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The errnos a collected LLM request ends with: the request's outcome,
/// not the collect's (Documentation/gateway.rst). `ENOSPC`: its answer did
/// not fit the response buffer and is lost.
const LLM_OUTCOMES: [i32; 3] = [libc::EIO, libc::ETIMEDOUT, libc::ENOSPC];

/// What [`Device::llm_collect`] took: one finished request of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// The gateway's number for it, as [`Device::llm_submit`] returned it.
    pub request_id: u64,
    /// The response document's length, or the errno the request failed
    /// with (`EIO`, `ETIMEDOUT`; `ENOSPC` when the answer needed
    /// `written` bytes, more than the buffer had).
    pub outcome: Result<usize, Errno>,
    /// As the kernel left it: with `ENOSPC`, the size the answer needed.
    pub written: u32,
}

/// An operation's name into `req`; a name that does not fit the field
/// (or holds a NUL) is `EINVAL`, as the module answers for a bad name,
/// without asking it.
fn with_op(mut req: AsmProfile, op: &str) -> Result<AsmProfile, Errno> {
    req.set_op(op.as_bytes()).map_err(|_| Errno(libc::EINVAL))?;
    Ok(req)
}

/// An open `/dev/asm`. Holding it open also keeps the module loaded (the
/// device's file operations pin it), so the generic netlink family of its
/// events cannot disappear under a listener that holds one. LLM requests
/// submitted on it ([`Device::llm_submit`]) belong to it: `poll()` on its
/// descriptor ([`Device::wait_readable`], or the caller's own loop through
/// [`AsFd`]) reports one finished, and dropping it withdraws them.
pub struct Device(File);

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Device {
    /// Opens `/dev/asm`, read-write if allowed, else read-only: reading
    /// needs no privilege, and the node's mode is the administrator's choice.
    /// For asmctl, whose views only read.
    pub fn open() -> Result<Self, Errno> {
        let rw = OpenOptions::new()
            .read(true)
            .write(true)
            .open(ASM_DEVICE_PATH);
        match rw {
            Ok(file) => Ok(Self(file)),
            Err(e) if Errno::from_io(&e) == Errno(libc::EACCES) => {
                let ro = File::open(ASM_DEVICE_PATH);
                ro.map(Self).map_err(|e| Errno::from_io(&e))
            }
            Err(e) => Err(Errno::from_io(&e)),
        }
    }

    /// Opens `/dev/asm` read-write, or fails: for a caller that registers
    /// agents and sets policies (asmd), which should fail at the start
    /// rather than at its first request.
    pub fn open_rw() -> Result<Self, Errno> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(ASM_DEVICE_PATH)
            .map(Self)
            .map_err(|e| Errno::from_io(&e))
    }

    /// Issues `request` with `arg`.
    ///
    /// # Safety
    ///
    /// `request` must be an `ASM_IOC_*` number whose argument type is `T`,
    /// and every user pointer inside `*arg` must be valid for the access the
    /// request makes through it.
    unsafe fn ioctl<T>(&self, request: u32, arg: &mut T) -> Result<(), Errno> {
        // SAFETY: the caller's contract is `ioctl_value`'s.
        unsafe { self.ioctl_value(request, arg) }.map(|_| ())
    }

    /// Issues `request` with `arg` and returns the ioctl's non-negative
    /// value.
    ///
    /// # Safety
    ///
    /// As for [`Device::ioctl`].
    unsafe fn ioctl_value<T>(&self, request: u32, arg: &mut T) -> Result<libc::c_int, Errno> {
        // SAFETY: `arg` is a live, exclusive borrow of the struct the
        // request expects (caller's contract), so the kernel reads and
        // writes only memory we own.
        let rc = unsafe { libc::ioctl(self.0.as_raw_fd(), request as _, std::ptr::from_mut(arg)) };
        cvt(rc)
    }

    /// `ASM_IOC_REGISTER`; on success the kernel has filled in `agent_id`
    /// and `pid`.
    pub fn register(&self, req: &mut AsmRegister) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_REGISTER takes a struct asm_register, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_REGISTER, req) }
    }

    /// `ASM_IOC_UNREGISTER`.
    pub fn unregister(&self, agent_id: u32) -> Result<(), Errno> {
        let mut req = AsmUnregister::new(agent_id);
        // SAFETY: ASM_IOC_UNREGISTER takes a struct asm_unregister, which
        // has no pointers.
        unsafe { self.ioctl(ASM_IOC_UNREGISTER, &mut req) }
    }

    /// `ASM_IOC_LIST`: every agent id, ascending. Retries with a larger
    /// array while the kernel answers `ERANGE`.
    pub fn list(&self) -> Result<Vec<u32>, Errno> {
        let mut ids = vec![0u32; LIST_START];
        for _ in 0..MAX_TRIES {
            let capacity = room(ids.len());
            let mut req = AsmList::new(ids.as_mut_ptr() as u64, capacity);
            // SAFETY: ASM_IOC_LIST takes a struct asm_list whose `ids`
            // points at `capacity` writable u32s: `ids` is that long and
            // outlives the call.
            match unsafe { self.ioctl(ASM_IOC_LIST, &mut req) } {
                Ok(()) => {
                    // `count` comes from the kernel: never trust it past
                    // what the array holds.
                    ids.truncate(req.count.min(capacity) as usize);
                    return Ok(ids);
                }
                Err(Errno(libc::ERANGE)) => {
                    let wanted = (req.count as usize).saturating_add(LIST_SLACK);
                    if wanted > LIST_MAX {
                        return Err(Errno(libc::ERANGE));
                    }
                    ids.resize(wanted.max(ids.len()), 0);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno(libc::ERANGE))
    }

    /// `ASM_IOC_GET_INFO` for `agent_id`; `ESRCH` when there is no such agent.
    pub fn info(&self, agent_id: u32) -> Result<AsmAgentInfo, Errno> {
        let mut info = AsmAgentInfo::new(agent_id);
        // SAFETY: ASM_IOC_GET_INFO takes a struct asm_agent_info, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_GET_INFO, &mut info) }?;
        Ok(info)
    }

    /// `ASM_IOC_GET_FAULT_POLICY` of `agent_id` (0: the defaults) with
    /// `flags` (0 or `ASM_FP_EFFECTIVE`).
    pub fn fault_policy(&self, agent_id: u32, flags: u32) -> Result<AsmFaultPolicy, Errno> {
        let mut policy = AsmFaultPolicy::new(agent_id, flags);
        // SAFETY: ASM_IOC_GET_FAULT_POLICY takes a struct asm_fault_policy,
        // which has no pointers.
        unsafe { self.ioctl(ASM_IOC_GET_FAULT_POLICY, &mut policy) }?;
        Ok(policy)
    }

    /// `ASM_IOC_SET_FAULT_POLICY` with `policy` as built by the caller.
    pub fn set_fault_policy(&self, policy: &AsmFaultPolicy) -> Result<(), Errno> {
        // The kernel only reads an _IOW argument; a copy keeps the caller's
        // value untouched all the same.
        let mut req = *policy;
        // SAFETY: ASM_IOC_SET_FAULT_POLICY takes a struct asm_fault_policy,
        // which has no pointers.
        unsafe { self.ioctl(ASM_IOC_SET_FAULT_POLICY, &mut req) }
    }

    /// `ASM_IOC_HEARTBEAT`: returns the caller's agent id.
    pub fn heartbeat(&self) -> Result<u32, Errno> {
        let mut req = AsmHeartbeat::new();
        // SAFETY: ASM_IOC_HEARTBEAT takes a struct asm_heartbeat, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_HEARTBEAT, &mut req) }?;
        Ok(req.agent_id)
    }

    /// `ASM_IOC_GET_HISTORY`: the reply (totals, `window_ms`, `throttled`)
    /// and `agent_id`'s newest windows, at most `capacity` (itself at most
    /// `ASM_HISTORY_WINDOWS`), oldest first.
    pub fn history(
        &self,
        agent_id: u32,
        capacity: usize,
    ) -> Result<(AsmHistory, Vec<AsmWindow>), Errno> {
        let mut windows = vec![AsmWindow::default(); capacity.min(ASM_HISTORY_WINDOWS)];
        let capacity = room(windows.len());
        let mut req = AsmHistory::new(agent_id, windows.as_mut_ptr() as u64, capacity);
        // SAFETY: ASM_IOC_GET_HISTORY takes a struct asm_history whose
        // `windows` points at `capacity` writable struct asm_window:
        // `windows` is that long and outlives the call.
        unsafe { self.ioctl(ASM_IOC_GET_HISTORY, &mut req) }?;
        // `count` comes from the kernel: never trust it past what the array
        // holds.
        windows.truncate(req.count.min(capacity) as usize);
        Ok((req, windows))
    }

    /// `ASM_IOC_PATCH_POLICY`; on success the kernel has filled in
    /// `audit_seq`.
    pub fn patch(&self, req: &mut AsmPatch) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_PATCH_POLICY takes a struct asm_patch, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_PATCH_POLICY, req) }
    }

    /// `ASM_IOC_GET_AUDIT` of `trail` (`ASM_AUDIT_TRAIL_*`): the reply
    /// (`first_seq`, `next_seq`, `dropped`) and up to `capacity` (itself at
    /// most what the trail keeps, `ASM_AUDIT_ENTRIES` or
    /// `ASM_AUDIT_LLM_ENTRIES`) entries from `from_seq` on, oldest first.
    pub fn audit(
        &self,
        trail: u32,
        from_seq: u64,
        capacity: usize,
    ) -> Result<(AsmAuditRead, Vec<AsmAuditEntry>), Errno> {
        let kept = if trail == ASM_AUDIT_TRAIL_LLM {
            ASM_AUDIT_LLM_ENTRIES
        } else {
            ASM_AUDIT_ENTRIES
        };
        let mut entries = vec![AsmAuditEntry::ZERO; capacity.clamp(1, kept)];
        let capacity = room(entries.len());
        let mut req = AsmAuditRead::new(from_seq, entries.as_mut_ptr() as u64, capacity);
        req.trail = trail;
        // SAFETY: ASM_IOC_GET_AUDIT takes a struct asm_audit_read whose
        // `entries` points at `capacity` writable struct asm_audit_entry:
        // `entries` is that long and outlives the call.
        unsafe { self.ioctl(ASM_IOC_GET_AUDIT, &mut req) }?;
        // `count` comes from the kernel: never trust it past what the array
        // holds.
        entries.truncate(req.count.min(capacity) as usize);
        Ok((req, entries))
    }

    /// `ASM_IOC_GET_COMPLIANCE` for `agent_id`.
    pub fn compliance(&self, agent_id: u32) -> Result<AsmCompliance, Errno> {
        let mut req = AsmCompliance::new(agent_id);
        // SAFETY: ASM_IOC_GET_COMPLIANCE takes a struct asm_compliance,
        // which has no pointers.
        unsafe { self.ioctl(ASM_IOC_GET_COMPLIANCE, &mut req) }?;
        Ok(req)
    }

    /// `ASM_IOC_OVERSIGHT`; on success the kernel has filled in
    /// `audit_seq`.
    pub fn oversight(&self, req: &mut AsmNote) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_OVERSIGHT takes a struct asm_note, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_OVERSIGHT, req) }
    }

    /// `ASM_IOC_DECISION`; on success the kernel has filled in `agent_id`
    /// and `audit_seq`.
    pub fn decision(&self, req: &mut AsmNote) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_DECISION takes a struct asm_note, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_DECISION, req) }
    }

    /// `ASM_IOC_SENSITIVE`; the kernel fills in `count` (and `path` for
    /// GET).
    pub fn sensitive(&self, req: &mut AsmSensitive) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_SENSITIVE takes a struct asm_sensitive, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_SENSITIVE, req) }
    }

    /// `ASM_IOC_DEPS` as built by the caller: ADD and REMOVE (the kernel
    /// fills in `audit_seq`), or a LIST that only counts. `edges` and
    /// `capacity` are set to 0 first, so that no user pointer of the
    /// caller's reaches the kernel: [`Device::dep_list`] reads the edges.
    pub fn deps(&self, req: &mut AsmDeps) -> Result<(), Errno> {
        req.edges = 0;
        req.capacity = 0;
        // SAFETY: ASM_IOC_DEPS takes a struct asm_deps, whose only pointer,
        // `edges`, is null with a capacity of 0: the kernel writes no edge.
        unsafe { self.ioctl(ASM_IOC_DEPS, req) }
    }

    /// `ASM_IOC_DEPS` with ADD: `dependent` depends on `dependency`, an
    /// edge of `kind` (`ASM_DEP_*`) that sends `signal` when the dependency
    /// ends (0: none; an Optional edge only, one of `DEP_SIGNALS`). Returns
    /// the audit entry's seq.
    pub fn dep_add(
        &self,
        dependent: u32,
        dependency: u32,
        kind: u32,
        signal: u32,
    ) -> Result<u64, Errno> {
        let mut req = AsmDeps::add(dependent, dependency, kind, signal);
        self.deps(&mut req)?;
        Ok(req.audit_seq)
    }

    /// `ASM_IOC_DEPS` with REMOVE of the edge `dependent` -> `dependency`.
    /// Returns the audit entry's seq.
    pub fn dep_remove(&self, dependent: u32, dependency: u32) -> Result<u64, Errno> {
        let mut req = AsmDeps::remove(dependent, dependency);
        self.deps(&mut req)?;
        Ok(req.audit_seq)
    }

    /// `ASM_IOC_DEPS` with LIST: every edge the caller sees, in the
    /// kernel's order. Retries with a larger array while the kernel counts
    /// more edges than it had room for.
    pub fn dep_list(&self) -> Result<Vec<AsmDepEdge>, Errno> {
        let mut edges = vec![AsmDepEdge::default(); DEPS_START];
        for _ in 0..MAX_TRIES {
            let capacity = room(edges.len());
            let mut req = AsmDeps::list(edges.as_mut_ptr() as u64, capacity);
            // SAFETY: ASM_IOC_DEPS takes a struct asm_deps whose `edges`
            // points at `capacity` writable struct asm_dep_edge: `edges` is
            // that long and outlives the call.
            unsafe { self.ioctl(ASM_IOC_DEPS, &mut req) }?;
            if req.count <= capacity {
                edges.truncate(req.count as usize);
                return Ok(edges);
            }
            // More than fitted: only `capacity` were written.
            let wanted = (req.count as usize).saturating_add(DEPS_SLACK);
            if wanted > DEPS_MAX {
                return Err(Errno(libc::ERANGE));
            }
            edges.resize(wanted.max(edges.len()), AsmDepEdge::default());
        }
        Err(Errno(libc::ERANGE))
    }

    /// `ASM_IOC_PROFILE` as built by the caller; the kernel fills in what
    /// the command returns (`token`, `duration_ns`, the statistics).
    pub fn profile(&self, req: &mut AsmProfile) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_PROFILE takes a struct asm_profile, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_PROFILE, req) }
    }

    /// `ASM_PROFILE_RECORD`: one sample of operation `op` of the caller's
    /// agent (`ESRCH` from a process of no agent).
    pub fn profile_record(&self, op: &str, duration_ns: u64, success: bool) -> Result<(), Errno> {
        let mut req = with_op(AsmProfile::record(duration_ns, success), op)?;
        self.profile(&mut req)
    }

    /// `ASM_PROFILE_BEGIN`: the token [`Device::profile_end`] takes, the
    /// time now (`CLOCK_MONOTONIC` ns). The module keeps no state between
    /// the two.
    pub fn profile_begin(&self) -> Result<u64, Errno> {
        let mut req = AsmProfile::begin();
        self.profile(&mut req)?;
        Ok(req.token)
    }

    /// `ASM_PROFILE_END`: records operation `op` of the caller's agent as
    /// taking the time since `token`; returns that duration in ns.
    pub fn profile_end(&self, op: &str, token: u64, success: bool) -> Result<u64, Errno> {
        let mut req = with_op(AsmProfile::end(token, success), op)?;
        self.profile(&mut req)?;
        Ok(req.duration_ns)
    }

    /// `ASM_PROFILE_STATS` of operation `op` of `agent_id`, or (`agent_id`
    /// 0) over every agent the caller sees that has it. `ENOENT`: no such
    /// operation; `ESRCH`: no such agent the caller sees.
    pub fn profile_stats(&self, agent_id: u32, op: &str) -> Result<AsmProfile, Errno> {
        let mut req = with_op(AsmProfile::stats(agent_id), op)?;
        self.profile(&mut req)?;
        Ok(req)
    }

    /// Every operation of `agent_id` with its statistics, in the order
    /// they were first reported: STATS by index until the kernel says
    /// there is none (`ENOENT`) or `ops` are read. An operation first
    /// reported meanwhile may be left out; none is read twice.
    pub fn profile_ops(&self, agent_id: u32) -> Result<Vec<(String, AsmProfile)>, Errno> {
        let mut ops = Vec::new();
        // The module keeps at most ASM_PROFILE_OPS_MAX; the bound only
        // keeps a reply whose `ops` keeps growing from looping forever.
        for index in 0..ASM_PROFILE_OPS_MAX * 2 {
            let mut req = AsmProfile::stats_index(agent_id, index as u32);
            match self.profile(&mut req) {
                Ok(()) => {}
                Err(Errno(libc::ENOENT)) => break,
                Err(e) => return Err(e),
            }
            let name = String::from_utf8_lossy(req.op()).into_owned();
            ops.push((name, req));
            if ops.len() >= req.ops as usize {
                break;
            }
        }
        Ok(ops)
    }

    /// `ASM_IOC_LLM_REQUEST`: returns the ioctl's value, the response
    /// document's length. On success and with `ENOSPC` the kernel has filled
    /// in `written`, and `request_id` once the request was queued.
    ///
    /// `req.request` and `req.response` are user addresses: the caller sets
    /// them to buffers of `request_len` and `response_len` bytes (the
    /// response one writable) that live across the call. Prefer
    /// [`Device::llm`], which does so from slices.
    ///
    /// # Safety
    ///
    /// `req.request` must point at `req.request_len` readable bytes and
    /// `req.response` at `req.response_len` writable bytes, both valid for
    /// the duration of the call.
    pub unsafe fn llm_request(&self, req: &mut AsmLlmRequest) -> Result<usize, Errno> {
        // SAFETY: ASM_IOC_LLM_REQUEST takes a struct asm_llm_request; its
        // two addresses are valid for their lengths (caller's contract).
        let rc = unsafe { self.ioctl_value(ASM_IOC_LLM_REQUEST, req) }?;
        Ok(usize::try_from(rc).unwrap_or(0))
    }

    /// `ASM_IOC_LLM_REQUEST` with the request document `request` and
    /// `response` as the buffer for the response document: sets `req`'s
    /// addresses and lengths from the slices (its other fields are the
    /// caller's, e.g. from [`AsmLlmRequest::new`]) and returns the response's
    /// length, at most `response.len()`. `req` is left as the kernel wrote
    /// it, on failure too: with `ENOSPC`, `written` is the size the answer
    /// needed.
    pub fn llm(
        &self,
        req: &mut AsmLlmRequest,
        request: &[u8],
        response: &mut [u8],
    ) -> Result<usize, Errno> {
        // A length beyond u32 is refused by the kernel anyway (E2BIG for
        // the request); clamping only keeps the claimed room within the
        // buffers.
        req.request = request.as_ptr() as u64;
        req.request_len = room(request.len());
        req.response = response.as_mut_ptr() as u64;
        req.response_len = room(response.len());
        // SAFETY: `request` is readable and `response` writable for the
        // lengths just set (at most their lengths), and both outlive the
        // call.
        let len = unsafe { self.llm_request(req) }?;
        Ok(len.min(response.len()))
    }

    /// `ASM_IOC_LLM_REQUEST` with `ASM_LLM_SUBMIT`: queues the request
    /// document `request` and returns at once with the request's id. The
    /// request belongs to this open file: collect it with
    /// [`Device::llm_collect`] once `poll()` says one has finished.
    pub fn llm_submit(&self, request: &[u8]) -> Result<u64, Errno> {
        let mut req = AsmLlmRequest::submit(request.as_ptr() as u64, room(request.len()));
        // SAFETY: `request` is readable for `request_len` bytes (at most
        // its length) and outlives the call; SUBMIT has no response buffer
        // (address and length 0).
        unsafe { self.llm_request(&mut req) }?;
        Ok(req.request_id)
    }

    /// `ASM_IOC_LLM_REQUEST` with `ASM_LLM_COLLECT`: takes request
    /// `request_id` of this file (0: any finished one) with `response` as
    /// the buffer for its answer. `Err` when nothing was collected:
    /// `EAGAIN` while the request (with 0, every request of the file) is
    /// unfinished, `ENOENT` for an id this file did not submit or that was
    /// collected already, `EPERM` from a process of another agent. A
    /// request that failed is collected too, with its errno in
    /// [`Collected::outcome`].
    pub fn llm_collect(&self, request_id: u64, response: &mut [u8]) -> Result<Collected, Errno> {
        let mut req = AsmLlmRequest::collect(
            request_id,
            response.as_mut_ptr() as u64,
            room(response.len()),
        );
        // SAFETY: `response` is writable for `response_len` bytes (at most
        // its length) and outlives the call; COLLECT has no request
        // document (address and length 0).
        let outcome = match unsafe { self.llm_request(&mut req) } {
            Ok(len) => Ok(len.min(response.len())),
            Err(e) if LLM_OUTCOMES.contains(&e.0) => Err(e),
            Err(e) => return Err(e),
        };
        Ok(Collected {
            request_id: req.request_id,
            outcome,
            written: req.written,
        })
    }

    /// Waits up to `timeout_ms` (negative: for ever) for `POLLIN`, which
    /// the device reports while a request this file submitted has finished
    /// and waits to be collected; returns whether it came. A signal ends
    /// the wait early (`Ok(false)`), as for a timeout.
    pub fn wait_readable(&self, timeout_ms: i32) -> Result<bool, Errno> {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid, writable pollfd for the call.
        match cvt(unsafe { libc::poll(&mut pfd, 1, timeout_ms) }) {
            Ok(n) => Ok(n > 0 && pfd.revents & libc::POLLIN != 0),
            Err(Errno(libc::EINTR)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `ASM_IOC_GET_TELEMETRY_JSON`: the system telemetry document.
    pub fn telemetry_json(&self) -> Result<Vec<u8>, Errno> {
        self.json(ASM_IOC_GET_TELEMETRY_JSON, 0)
    }

    /// `ASM_IOC_GET_AGENT_INFO_JSON`: `agent_id`'s document.
    pub fn agent_info_json(&self, agent_id: u32) -> Result<Vec<u8>, Errno> {
        self.json(ASM_IOC_GET_AGENT_INFO_JSON, agent_id)
    }

    /// One of the JSON requests. On `ERANGE` the kernel has set `len` to the
    /// size it needs; the document can still grow before the retry, hence
    /// the slack and the loop.
    fn json(&self, request: u32, agent_id: u32) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; JSON_START];
        for _ in 0..MAX_TRIES {
            let len = room(buf.len());
            let mut req = AsmJson::new(agent_id, buf.as_mut_ptr() as u64, len);
            // SAFETY: `request` is one of the two JSON ioctls, which take a
            // struct asm_json whose `buf` points at `len` writable bytes:
            // `buf` is that long and outlives the call.
            match unsafe { self.ioctl(request, &mut req) } {
                Ok(()) => {
                    buf.truncate(req.len.min(len) as usize);
                    return Ok(buf);
                }
                Err(Errno(libc::ERANGE)) => {
                    let wanted = (req.len as usize).saturating_add(JSON_SLACK);
                    if wanted > JSON_MAX {
                        return Err(Errno(libc::ERANGE));
                    }
                    buf.resize(wanted.max(buf.len()), 0);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno(libc::ERANGE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{FromRawFd, OwnedFd};

    /// A "device" that is the read end of a pipe, and the write end.
    fn pipe() -> (Device, File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).unwrap();
        // SAFETY: pipe2 just opened both, and nothing else owns them.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        (Device(File::from(r)), File::from(w))
    }

    #[test]
    fn wait_readable_reports_pollin() {
        let (dev, mut w) = pipe();
        assert_eq!(dev.wait_readable(0), Ok(false));
        w.write_all(b"x").unwrap();
        assert_eq!(dev.wait_readable(1000), Ok(true));
        assert_eq!(dev.as_fd().as_raw_fd(), dev.as_raw_fd());
    }

    /// A file that is not the device: every request fails, with nothing
    /// collected (`ENOTTY` is the collect's error, not a request's).
    #[test]
    fn requests_on_another_file_fail_whole() {
        let (dev, _w) = pipe();
        assert_eq!(dev.llm_submit(b"{}"), Err(Errno(libc::ENOTTY)));
        let mut buf = [0u8; 256];
        assert_eq!(dev.llm_collect(0, &mut buf), Err(Errno(libc::ENOTTY)));
        assert_eq!(
            dev.audit(ASM_AUDIT_TRAIL_LLM, 0, 4).map(|(r, _)| r.count),
            Err(Errno(libc::ENOTTY))
        );
        // An asm module from before the dependency graph answers the same.
        assert_eq!(dev.dep_list(), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.dep_add(101, 100, 1, 0), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.dep_add(101, 100, 2, 10), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.dep_remove(101, 100), Err(Errno(libc::ENOTTY)));
        // The caller's pointer never reaches the kernel.
        let mut req = asm_abi::AsmDeps::list(0x1000, 4);
        assert_eq!(dev.deps(&mut req), Err(Errno(libc::ENOTTY)));
        assert_eq!((req.edges, req.capacity), (0, 0));
        // And one from before profiling.
        assert_eq!(dev.profile_begin(), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.profile_record("x", 1, true), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.profile_end("x", 1, false), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.profile_stats(0, "x"), Err(Errno(libc::ENOTTY)));
        assert_eq!(dev.profile_ops(7), Err(Errno(libc::ENOTTY)));
        // A name that does not fit never reaches the kernel.
        let long = "x".repeat(32);
        assert_eq!(dev.profile_record(&long, 1, true), Err(Errno(libc::EINVAL)));
        assert_eq!(dev.profile_end("a\0b", 1, true), Err(Errno(libc::EINVAL)));
        assert_eq!(dev.profile_stats(7, &long), Err(Errno(libc::EINVAL)));
    }

    /// The module checks an edge's signal by number: on this host they
    /// must be the signals of those names.
    #[test]
    fn dependency_signals_are_this_hosts() {
        let host = [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGTERM,
            libc::SIGWINCH,
        ];
        let abi: Vec<i32> = asm_abi::DEP_SIGNALS
            .iter()
            .map(|&(n, _)| n as i32)
            .collect();
        assert_eq!(abi, host);
    }
}

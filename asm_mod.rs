// SPDX-License-Identifier: GPL-2.0

//! asm.ko, the Agent Supervision Module: crate root.
//!
//! Holds `module!`, the module list and the thin `extern "C"` entry points the
//! C glue (src/shim/shim.c) calls: each turns raw arguments into safe types
//! and calls the concept code.

use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::{c_int, c_long, c_ulong};
use kernel::prelude::*;

#[path = "src/agent.rs"]
mod agent;
#[path = "src/audit.rs"]
mod audit;
#[path = "src/cascade.rs"]
mod cascade;
#[path = "src/compliance.rs"]
mod compliance;
#[path = "src/deps.rs"]
mod deps;
#[path = "src/faults.rs"]
mod faults;
#[path = "src/ffi.rs"]
mod ffi;
#[path = "src/filter.rs"]
mod filter;
#[path = "src/gateway.rs"]
mod gateway;
#[path = "src/ioctl.rs"]
mod ioctl;
#[path = "src/json.rs"]
mod json;
#[path = "src/lifecycle.rs"]
mod lifecycle;
#[path = "src/patch.rs"]
mod patch;
#[path = "src/policy.rs"]
mod policy;
#[path = "src/probe_cost.rs"]
mod probe_cost;
#[path = "src/profile.rs"]
mod profile;
#[path = "src/registry.rs"]
mod registry;
#[path = "src/report.rs"]
mod report;
#[path = "src/resources.rs"]
mod resources;
#[path = "src/ring.rs"]
mod ring;
#[path = "src/snapshot.rs"]
mod snapshot;
#[path = "src/syscalls.rs"]
mod syscalls;
#[path = "src/telemetry.rs"]
mod telemetry;
#[path = "src/uapi.rs"]
mod uapi;
#[path = "src/viewer.rs"]
mod viewer;

module! {
    type: AsmModule,
    name: "asm",
    author: "ASM developers",
    description: "Agent Supervision Module: lifecycle tracking and telemetry of AI agents",
    license: "GPL",
}

/// The module's state, shared by the probes, /proc, debugfs and /dev/asm.
#[pin_data]
pub(crate) struct Asm {
    #[pin]
    pub(crate) registry: registry::Registry,
    #[pin]
    pub(crate) telemetry: telemetry::Telemetry,
    #[pin]
    pub(crate) faults: faults::Faults,
    #[pin]
    pub(crate) sampler: resources::Sampler,
    #[pin]
    pub(crate) policies: policy::Policies,
    #[pin]
    pub(crate) audit: audit::Audit,
    #[pin]
    pub(crate) gateway: gateway::Gateway,
    #[pin]
    pub(crate) deps: deps::Graph,
    #[pin]
    pub(crate) profiler: profile::Profiler,
    #[pin]
    pub(crate) cascade: cascade::Cascade,
}

impl Asm {
    /// The locks that guard parts of every agent.
    pub(crate) fn locks(&self) -> agent::Locks<'_> {
        agent::Locks {
            sampler: &self.sampler,
            faults: &self.faults,
            policies: &self.policies,
            gateway: &self.gateway,
            profiler: &self.profiler,
        }
    }
}

/// The state the entry points use: set before the glue registers anything
/// and cleared after it unregistered everything.
static ASM: AtomicPtr<Asm> = AtomicPtr::new(null_mut());

fn asm() -> Option<&'static Asm> {
    // SAFETY: `ASM` is either null or points to the pinned state owned by
    // `AsmModule`, which outlives every entry point call: the glue's objects
    // are unregistered (and probes synchronised) before the state is freed.
    unsafe { ASM.load(Ordering::Acquire).as_ref() }
}

struct AsmModule {
    asm: Pin<KBox<Asm>>,
}

impl kernel::Module for AsmModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let asm = KBox::pin_init(
            try_pin_init!(Asm {
                registry <- registry::Registry::new(),
                telemetry <- telemetry::Telemetry::new(),
                faults <- faults::Faults::new(),
                sampler <- resources::Sampler::new(),
                policies <- policy::Policies::new(),
                audit <- audit::Audit::new(uapi::AUDIT_ENTRIES),
                gateway <- gateway::Gateway::new(),
                deps <- deps::Graph::new(),
                profiler <- profile::Profiler::new(),
                cascade <- cascade::Cascade::new(),
            }? Error),
            GFP_KERNEL,
        )?;
        ASM.store((&*asm as *const Asm).cast_mut(), Ordering::Release);
        if let Err(e) = ffi::shim_init() {
            ASM.store(null_mut(), Ordering::Release);
            return Err(e);
        }
        pr_info!("[ASM] Agent Supervision Module initialized\n");
        Ok(Self { asm })
    }
}

impl Drop for AsmModule {
    fn drop(&mut self) {
        ffi::shim_exit();
        // Nothing answers requests any more: their callers are woken.
        gateway::close(&self.asm);
        // The sampler has stopped: no agent stays stopped by a throttle.
        resources::release_all(&self.asm);
        ASM.store(null_mut(), Ordering::Release);
        pr_info!(
            "[ASM] Agent Supervision Module unloaded ({} agents forgotten)\n",
            self.asm.registry.len()
        );
    }
}

/// `unlocked_ioctl` of /dev/asm.
#[no_mangle]
pub extern "C" fn asm_rust_ioctl(file: u64, cmd: u32, arg: c_ulong) -> c_long {
    let Some(asm) = asm() else {
        return ENODEV.to_errno() as c_long;
    };
    match ioctl::dispatch(asm, ffi::FileToken(file), cmd, arg) {
        Ok(ret) => ret as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// `poll` of /dev/asm: whether a request submitted through `file` has
/// finished.
#[no_mangle]
pub extern "C" fn asm_rust_poll(file: u64) -> bool {
    asm().is_some_and(|asm| gateway::poll(asm, ffi::FileToken(file)))
}

/// `release` of /dev/asm: withdraws the requests submitted through `file`.
#[no_mangle]
pub extern "C" fn asm_rust_release(file: u64) {
    if let Some(asm) = asm() {
        gateway::release(asm, ffi::FileToken(file));
    }
}

/// Show callback of /proc/agentsys/status, for a reader whose file was
/// opened with effective uid `uid` (an administrator if `admin`).
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_status_show(
    m: NonNull<ffi::RawSeqFile>,
    uid: u32,
    admin: bool,
) -> c_int {
    // SAFETY: By the safety requirement.
    unsafe {
        show(m, |asm, seq| {
            report::status(asm, &viewer::Viewer::new(uid, admin), seq)
        })
    }
}

/// Fills the seq_file `m` with `f`; the show callbacks' common part.
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
unsafe fn show(
    m: NonNull<ffi::RawSeqFile>,
    f: impl FnOnce(&Asm, &mut ffi::SeqFile<'_>) -> Result,
) -> c_int {
    let Some(asm) = asm() else {
        return ENODEV.to_errno();
    };
    // SAFETY: `m` is valid for the call by the safety requirement, and only
    // this show callback writes it.
    let mut seq = unsafe { ffi::SeqFile::from_raw(m) };
    match f(asm, &mut seq) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Show callback of debugfs asm/events, for a reader whose file was opened
/// with effective uid `uid` (an administrator if `admin`).
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_events_show(
    m: NonNull<ffi::RawSeqFile>,
    uid: u32,
    admin: bool,
) -> c_int {
    // SAFETY: By the safety requirement.
    unsafe {
        show(m, |asm, seq| {
            if !viewer::Viewer::new(uid, admin).sees_every_agent() {
                return Err(EPERM);
            }
            report::events(asm, seq).map_err(|_| ENOMEM)
        })
    }
}

/// The buffer a /proc view with `per_agent` bytes per agent starts with
/// for an opener of effective uid `uid` (`admin`: with `CAP_SYS_ADMIN`):
/// a page of headers and footers plus the part of the agents it may see,
/// at most 2 MiB. Opening the view pins no more than reading it would.
#[no_mangle]
pub extern "C" fn asm_rust_view_size(per_agent: usize, uid: u32, admin: bool) -> usize {
    let agents = asm().map_or(0, |asm| {
        snapshot::visible(asm, &viewer::Viewer::new(uid, admin))
    });
    agents
        .saturating_mul(per_agent)
        .saturating_add(4096)
        .min(2 << 20)
}

/// Whether process `tgid` is an agent's: one load (the filter) for most.
#[no_mangle]
pub extern "C" fn asm_rust_agent_process(tgid: i32) -> bool {
    asm().is_some_and(|asm| asm.registry.with_agent(tgid, |_, _| ()).is_some())
}

/// Show callback of debugfs asm/sampler.
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_sampler_show(m: NonNull<ffi::RawSeqFile>) -> c_int {
    // SAFETY: By the safety requirement.
    unsafe {
        show(m, |asm, seq| {
            probe_cost::sampler_cost(asm, seq).map_err(|_| ENOMEM)
        })
    }
}

/// Show callback of debugfs asm/probe_cost, read by process `tgid`.
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_probe_cost_show(m: NonNull<ffi::RawSeqFile>, tgid: i32) -> c_int {
    // SAFETY: By the safety requirement.
    unsafe {
        show(m, |asm, seq| {
            probe_cost::probe_cost(asm, tgid, seq).map_err(|_| ENOMEM)
        })
    }
}

/// Probe of sched_process_fork for a new process (not a thread), put in
/// cgroup v2 `child_cgroup` if that is not 0, created at `start_ns`
/// (CLOCK_BOOTTIME); returns `ASM_FORK_*`.
///
/// # Safety
///
/// Called under `rcu_read_lock()`.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_on_fork(
    parent_tgid: i32,
    child_tgid: i32,
    child_cgroup: u64,
    start_ns: u64,
) -> c_int {
    let verdict = asm().map_or(lifecycle::ForkVerdict::Outside, |asm| {
        // SAFETY: Under RCU by the safety requirement.
        unsafe {
            ffi::RcuGuard::with_held(|rcu| {
                lifecycle::on_fork(asm, parent_tgid, child_tgid, child_cgroup, start_ns, rcu)
            })
        }
    });
    verdict as c_int
}

/// Probe of sched_process_exec: process `tgid` now runs `file`.
///
/// # Safety
///
/// `file` points to `len` readable bytes for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_on_exec(tgid: i32, file: *const u8, len: usize) {
    if let Some(asm) = asm() {
        // SAFETY: Valid for the call by the safety requirement.
        let file = unsafe { core::slice::from_raw_parts(file, len) };
        lifecycle::on_exec(asm, tgid, file);
    }
}

/// Probe of sched_process_exit.
#[no_mangle]
pub extern "C" fn asm_rust_on_exit(
    tgid: i32,
    group_dead: bool,
    status: c_int,
    runtime_ns: u64,
    io_ops: u64,
) {
    if let Some(asm) = asm() {
        lifecycle::on_exit(asm, tgid, group_dead, status, runtime_ns, io_ops);
    }
}

/// Probe of cgroup_attach_task, for a cgroup v2.
///
/// # Safety
///
/// `task` is the migrated leader, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_on_attach(
    cgroup_id: u64,
    tgid: i32,
    task: NonNull<ffi::RawTask>,
    cpu_ns: u64,
) {
    if let Some(asm) = asm() {
        // SAFETY: `task` is valid for the call by the safety requirement.
        let task = unsafe { ffi::TaskRef::from_raw(task) };
        lifecycle::on_attach(asm, cgroup_id, tgid, &task, cpu_ns);
    }
}

/// The notify work item: sends new events to netlink listeners.
#[no_mangle]
pub extern "C" fn asm_rust_notify() {
    if let Some(asm) = asm() {
        telemetry::notify(&asm.telemetry);
    }
}

/// The sampler's work item; returns the ms until it wants to run again.
#[no_mangle]
pub extern "C" fn asm_rust_sample() -> u32 {
    asm().map_or(0, |asm| {
        let next_ms = resources::sample(asm);
        // Submitted LLM requests time out on this tick.
        match gateway::expire(asm) {
            true if next_ms == 0 => 1000,
            true => next_ms.min(1000),
            false => next_ms,
        }
    })
}

/// The cascade work item; returns the ms until it wants to run again.
#[no_mangle]
pub extern "C" fn asm_rust_cascade() -> u32 {
    asm().map_or(0, cascade::run)
}

/// Whether any agent is registered: the fork probe's first check.
#[no_mangle]
pub extern "C" fn asm_rust_any_agent() -> bool {
    asm().is_some_and(|asm| !asm.registry.is_empty())
}

/// Whether process `tgid` may be an agent's: the syscall probes' first
/// check.
#[no_mangle]
pub extern "C" fn asm_rust_may_be_agent(tgid: i32) -> bool {
    asm().is_some_and(|asm| asm.registry.may_be_agent(tgid))
}

/// Probe of raw_syscalls:sys_enter (registered while agents exist): system
/// call `nr` with `args` by process `tgid`. Returns 0, or the check
/// (`enum asm_violation`) to make on socket `*fd` with
/// [`asm_rust_socket_verdict`].
///
/// # Safety
///
/// `args` points to 6 readable words and `fd` to a writable one for the
/// duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_on_sys_enter(
    tgid: i32,
    nr: c_long,
    args: *const c_ulong,
    compat: bool,
    fd: *mut c_ulong,
) -> u32 {
    let Some(asm) = asm() else {
        return 0;
    };
    // SAFETY: Six readable words by the safety requirement; `c_ulong` and
    // `usize` have the same layout.
    let args = unsafe { &*args.cast::<[usize; 6]>() };
    match lifecycle::on_sys_enter(asm, tgid, nr as i64, args, compat) {
        Some((what, socket)) => {
            // SAFETY: Writable by the safety requirement.
            unsafe { fd.write(socket as c_ulong) };
            what.raw()
        }
        None => 0,
    }
}

/// The verdict on the check `check` of socket `fd` (of address family
/// `family` and `protocol`) that [`asm_rust_on_sys_enter`] asked for.
#[no_mangle]
pub extern "C" fn asm_rust_socket_verdict(
    tgid: i32,
    check: u32,
    fd: c_ulong,
    family: c_int,
    protocol: c_int,
) -> c_int {
    let skip = asm().is_some_and(|asm| {
        policy::Violation::try_from(check)
            .is_ok_and(|what| lifecycle::socket_verdict(asm, tgid, what, fd, family, protocol))
    });
    ffi::Verdict::skip_if(skip) as c_int
}

/// The verdict on a TCP SYN (`ASM_NET_TCP_SYN`, from netfilter's
/// LOCAL_OUT) or a socket entering TCP_LISTEN (`ASM_NET_TCP_LISTEN`) of
/// process `tgid`, on a socket of `family` and `protocol`.
#[no_mangle]
pub extern "C" fn asm_rust_net_verdict(
    tgid: i32,
    what: u32,
    family: c_int,
    protocol: c_int,
) -> c_int {
    let seen = match ffi::NetHook::try_from(what) {
        Ok(ffi::NetHook::TcpSyn) => policy::NetSeen::TcpSyn,
        Ok(ffi::NetHook::TcpListen) => policy::NetSeen::TcpListen,
        Err(_) => return ffi::Verdict::Allow as c_int,
    };
    let refused =
        asm().is_some_and(|asm| lifecycle::net_verdict(asm, tgid, seen, family, protocol));
    ffi::Verdict::skip_if(refused) as c_int
}

/// Probe of raw_syscalls:sys_exit: whether the successful call `nr` of
/// process `tgid` is an open the policy looks at.
#[no_mangle]
pub extern "C" fn asm_rust_open_watched(tgid: i32, nr: c_long, compat: bool) -> bool {
    asm().is_some_and(|asm| lifecycle::open_watched(asm, tgid, nr as i64, compat))
}

/// Probe of raw_syscalls:sys_exit: process `tgid` opened the file named
/// `path` (null when it could not be named), with the facts `facts`
/// (`ASM_FILE_*`), by the call `nr` with `args`.
///
/// # Safety
///
/// `path` is null or points to `len` readable bytes, and `args` to 6
/// readable words, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_on_open(
    tgid: i32,
    path: *const u8,
    len: usize,
    facts: u32,
    nr: c_long,
    args: *const c_ulong,
    compat: bool,
) {
    let Some(asm) = asm() else {
        return;
    };
    let path = if path.is_null() {
        None
    } else {
        // SAFETY: Not null, so valid for the call by the safety requirement.
        Some(unsafe { core::slice::from_raw_parts(path, len) })
    };
    // SAFETY: Six readable words by the safety requirement; `c_ulong` and
    // `usize` have the same layout.
    let args = unsafe { &*args.cast::<[usize; 6]>() };
    let open = policy::Opened {
        path,
        writable: facts & ffi::FILE_WRITE != 0,
        created: facts & ffi::FILE_CREATED != 0,
        pseudo: facts & ffi::FILE_PSEUDO != 0,
        foreign_view: facts & ffi::FILE_FOREIGN_VIEW != 0,
        flags: policy::open_flags(syscalls::classify(nr as i64, compat), args),
    };
    lifecycle::on_open(asm, tgid, &open);
}

/// Show callback of /proc/agentsys/compliance, for a reader as in
/// [`asm_rust_status_show`].
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_compliance_show(
    m: NonNull<ffi::RawSeqFile>,
    uid: u32,
    admin: bool,
) -> c_int {
    // SAFETY: By the safety requirement.
    unsafe {
        show(m, |asm, seq| {
            report::compliance(asm, &viewer::Viewer::new(uid, admin), seq)
        })
    }
}

/// `ASM_CMD_GW_REGISTER` from netlink port `portid` (CAP_NET_ADMIN checked
/// by genetlink); 0 or a negative errno.
#[no_mangle]
pub extern "C" fn asm_rust_gw_register(portid: u32) -> c_int {
    match asm().map_or(Err(ENODEV), |asm| gateway::register_helper(asm, portid)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Netlink port `portid` of the generic netlink protocol was released.
#[no_mangle]
pub extern "C" fn asm_rust_gw_released(portid: u32) {
    if let Some(asm) = asm() {
        gateway::port_released(asm, portid);
    }
}

/// `ASM_CMD_GW_PULL` from `portid`: fills the reply `skb` with the oldest
/// queued request and its number in `*id`; 0 or a negative errno.
///
/// # Safety
///
/// `skb` is the reply being built, touched by nothing else during the
/// call; `id` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_gw_pull(
    portid: u32,
    skb: *mut ffi::RawSkb,
    id: *mut u64,
) -> c_int {
    // SAFETY: By the safety requirement.
    let Some(mut msg) = (unsafe { ffi::NlMsg::from_raw(skb) }) else {
        return EINVAL.to_errno();
    };
    match asm().map_or(Err(ENODEV), |asm| gateway::pull(asm, portid, &mut msg)) {
        Ok(pulled) => {
            // SAFETY: Valid for a write by the safety requirement.
            unsafe { id.write(pulled) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The reply of the pull that took request `id` was not delivered.
#[no_mangle]
pub extern "C" fn asm_rust_gw_unpull(id: u64) {
    if let Some(asm) = asm() {
        gateway::unpull(asm, id);
    }
}

/// `ASM_CMD_GW_COMPLETE` from `portid` (shim.h `struct asm_gw_completion`).
#[repr(C)]
pub struct GwCompletion {
    id: u64,
    status: u32,
    provider: u32,
    tokens_used: u32,
    fallback: u32,
    text: *const u8,
    text_len: usize,
    tried: *const u8,
    tried_len: usize,
}

/// `ASM_CMD_GW_COMPLETE` from `portid`; 0 or a negative errno.
///
/// # Safety
///
/// `c` is valid for the call, its `text` for `text_len` bytes and its
/// `tried` for `tried_len` bytes (each may be null instead).
#[no_mangle]
pub unsafe extern "C" fn asm_rust_gw_complete(portid: u32, c: *const GwCompletion) -> c_int {
    // SAFETY: By the safety requirement.
    let Some(c) = (unsafe { c.as_ref() }) else {
        return EINVAL.to_errno();
    };
    let text = if c.text.is_null() {
        &[][..]
    } else {
        // SAFETY: Not null, so valid for `text_len` bytes by the safety
        // requirement.
        unsafe { core::slice::from_raw_parts(c.text, c.text_len) }
    };
    let tried = if c.tried.is_null() {
        &[][..]
    } else {
        // SAFETY: Not null, so valid for `tried_len` bytes by the safety
        // requirement.
        unsafe { core::slice::from_raw_parts(c.tried, c.tried_len) }
    };
    let completion = gateway::Completion {
        id: c.id,
        status: c.status,
        provider: c.provider,
        text,
        tokens_used: c.tokens_used,
        fallback: c.fallback != 0,
        tried,
    };
    match asm().map_or(Err(ENODEV), |asm| {
        gateway::complete(asm, portid, &completion)
    }) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Show callback of /proc/agentsys/cloud_gateway (`status` false) and
/// /proc/agentsys/gateway_status (`status` true), for a reader as in
/// [`asm_rust_status_show`].
///
/// # Safety
///
/// `m` is the seq_file being filled, valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn asm_rust_gateway_show(
    m: NonNull<ffi::RawSeqFile>,
    uid: u32,
    admin: bool,
    status: bool,
) -> c_int {
    // SAFETY: By the safety requirement.
    unsafe {
        show(m, |asm, seq| {
            if status {
                gateway::status_text(asm, &viewer::Viewer::new(uid, admin), seq)
            } else {
                gateway::metrics_text(asm, seq).map_err(|_| ENOMEM)
            }
        })
    }
}

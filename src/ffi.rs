// SPDX-License-Identifier: GPL-2.0

//! The C glue's functions (src/shim/shim.h) and safe wrappers around them.
//!
//! This is the one place, with the crate root's entry points and the uapi
//! mirror's byte views, where asm.ko uses `unsafe`: raw kernel objects
//! become typed ones here. The concept files only see safe types
//! ([`XArray`], [`RcuArc`] and [`RcuRef`], [`RcuGuard`], [`PidRef`], [`TaskRef`],
//! [`TaskInfo`], [`SeqFile`], [`SyscallProbe`]) and plain functions.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use kernel::error::to_result;
use kernel::ffi::{c_int, c_uint, c_ulong, c_void};
use kernel::prelude::*;

use crate::uapi::GenlAttr;

/// Opaque `struct xarray`.
#[repr(C)]
pub(crate) struct RawXArray {
    _private: [u8; 0],
}

/// Opaque `struct pid`.
#[repr(C)]
pub(crate) struct RawPid {
    _private: [u8; 0],
}

/// Opaque `struct task_struct`.
#[repr(C)]
pub struct RawTask {
    _private: [u8; 0],
}

/// Opaque `struct seq_file`.
#[repr(C)]
pub struct RawSeqFile {
    _private: [u8; 0],
}

/// Opaque `struct sk_buff`.
#[repr(C)]
pub struct RawSkb {
    _private: [u8; 0],
}

/// `struct asm_task_info` of shim.h.
#[repr(C)]
pub(crate) struct TaskInfo {
    /// The process's thread group leader, valid during the callback.
    task: *mut RawTask,
    /// Process id in the initial namespace.
    pub(crate) tgid: i32,
    _pad: u32,
    /// cgroup v2 id.
    pub(crate) cgroup_id: u64,
    /// Runtime of its live threads.
    pub(crate) cpu_ns: u64,
    /// Resident set size.
    pub(crate) rss_bytes: u64,
    /// Read and write system calls of the process (I/O accounting).
    pub(crate) io_ops: u64,
}

extern "C" {
    fn asm_shim_init() -> c_int;
    fn asm_shim_exit();
    fn asm_shim_syscall_probe(on: bool) -> c_int;
    fn asm_sampler_kick();
    fn asm_sampler_ensure(ms: u32);
    fn asm_cascade_kick();
    fn asm_notify_kick() -> bool;
    fn asm_syscall_tp_exclusive() -> bool;
    fn asm_task_syscall_work(task: *mut RawTask, on: bool);
    fn asm_pid_syscall_work(pid: *mut RawPid, on: bool);
    fn asm_genl_listening() -> bool;
    fn asm_genl_send(ev: *const GenlEvent) -> c_int;
    fn asm_signal_task(task: *mut RawTask, sig: c_int) -> c_int;
    fn asm_xa_new() -> *mut RawXArray;
    fn asm_xa_free(xa: *mut RawXArray);
    fn asm_xa_load(xa: *mut RawXArray, index: c_ulong) -> *mut c_void;
    fn asm_xa_tag(xa: *mut RawXArray, index: c_ulong) -> c_uint;
    fn asm_xa_insert(xa: *mut RawXArray, index: c_ulong, entry: *mut c_void) -> c_int;
    fn asm_xa_erase(xa: *mut RawXArray, index: c_ulong) -> *mut c_void;
    fn asm_xa_lock(xa: *mut RawXArray);
    fn asm_xa_unlock(xa: *mut RawXArray);
    fn asm_xa_insert_locked(
        xa: *mut RawXArray,
        index: c_ulong,
        entry: *mut c_void,
        tag: c_uint,
    ) -> c_int;
    fn asm_xa_erase_locked(xa: *mut RawXArray, index: c_ulong) -> *mut c_void;
    fn asm_xa_erase_if_locked(
        xa: *mut RawXArray,
        index: c_ulong,
        entry: *mut c_void,
    ) -> *mut c_void;
    fn asm_xa_find(xa: *mut RawXArray, index: *mut c_ulong) -> *mut c_void;
    fn asm_rcu_read_lock();
    fn asm_rcu_read_unlock();
    fn asm_call_rcu(head: *mut RawRcuHead, func: unsafe extern "C" fn(*mut RawRcuHead));
    fn asm_rcu_barrier();
    fn asm_now_ns() -> u64;
    fn asm_param_max_agents_per_uid() -> u32;
    fn asm_param_reclaim_ms() -> u32;
    fn asm_param_cascade_term_ms() -> u32;
    fn asm_param_cascade_hold_ms() -> u32;
    fn asm_param_llm_audit_prompts() -> bool;
    fn asm_capable_admin() -> bool;
    fn asm_capable_admin_noaudit() -> bool;
    fn asm_current_euid() -> u32;
    fn asm_current_process(tgid: *mut i32) -> *mut RawPid;
    fn asm_find_process(vnr: i32, tgid: *mut i32) -> *mut RawPid;
    fn asm_pid_vnr(pid: *mut RawPid) -> i32;
    fn asm_put_pid(pid: *mut RawPid);
    fn asm_pid_alive(pid: *mut RawPid) -> bool;
    fn asm_pid_group_dead(pid: *mut RawPid) -> bool;
    fn asm_task_group_dead(task: *mut RawTask) -> bool;
    fn asm_cgroup_id_from_fd(fd: c_int, id: *mut u64) -> c_int;
    fn asm_for_each_process(
        cb: unsafe extern "C" fn(ctx: *mut c_void, info: *const TaskInfo),
        ctx: *mut c_void,
    );
    fn asm_with_process(
        tgid: i32,
        cb: unsafe extern "C" fn(ctx: *mut c_void, info: *const TaskInfo),
        ctx: *mut c_void,
    );
    fn asm_seq_write(m: *mut RawSeqFile, buf: *const c_void, len: usize) -> c_int;
    fn asm_bench_probe(m: *mut RawSeqFile, path: u32, calls: u32) -> u64;
    fn asm_nla_put(skb: *mut RawSkb, attr: u16, len: u32, data: *const c_void) -> c_int;
    fn asm_nla_put_u64(skb: *mut RawSkb, attr: u16, value: u64) -> c_int;
    fn asm_gw_notify(id: u64);
    fn asm_gw_wake_pollers();
}

/// Registers /proc/agentsys, debugfs asm/, /dev/asm and the lifecycle probes.
pub(crate) fn shim_init() -> Result {
    // SAFETY: No preconditions; called once from module init.
    kernel::error::to_result(unsafe { asm_shim_init() })
}

/// Undoes [`shim_init`] and waits until no probe or file operation runs.
pub(crate) fn shim_exit() {
    // SAFETY: Called once from module exit, after a successful `shim_init`.
    unsafe { asm_shim_exit() }
}

/// The right to turn the syscall probes on and off. There is one, kept
/// behind the registry's write lock, so that calls are serialised.
pub(crate) struct SyscallProbe(());

impl SyscallProbe {
    /// The one token; `None` once it was taken.
    pub(crate) fn take() -> Option<Self> {
        static TAKEN: AtomicBool = AtomicBool::new(false);
        (!TAKEN.swap(true, Ordering::Relaxed)).then_some(Self(()))
    }

    /// Turns the `sys_enter` and `sys_exit` probes on or off.
    pub(crate) fn set(&mut self, on: bool) -> Result {
        // SAFETY: `&mut self` of the only token serialises calls.
        kernel::error::to_result(unsafe { asm_shim_syscall_probe(on) })
    }
}

// The layouts shim.h declares (shim.c asserts the same numbers).
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<TaskInfo>() == 48);
    assert!(offset_of!(TaskInfo, tgid) == 8);
    assert!(offset_of!(TaskInfo, cgroup_id) == 16);
    assert!(offset_of!(TaskInfo, io_ops) == 40);
    assert!(size_of::<GenlEvent>() == 64);
    assert!(offset_of!(GenlEvent, kind) == 32);
    assert!(offset_of!(GenlEvent, action) == 56);
};

/// Has the sampler run within `ms` unless it is already due: unlike
/// [`sampler_kick`], it never brings a tick forward.
pub(crate) fn sampler_ensure(ms: u32) {
    // SAFETY: Callable in any context; the work item is static.
    unsafe { asm_sampler_ensure(ms) }
}

/// Runs the sampler soon; it re-arms itself for as long as it has work.
pub(crate) fn sampler_kick() {
    // SAFETY: Callable in any context; the work item is static.
    unsafe { asm_sampler_kick() }
}

/// Runs the cascade work soon ([`crate::cascade`]). Any context.
pub(crate) fn cascade_kick() {
    // SAFETY: Callable in any context; the work item is static.
    unsafe { asm_cascade_kick() }
}

/// `struct asm_genl_event` of shim.h.
#[repr(C)]
#[derive(Default)]
pub(crate) struct GenlEvent {
    pub(crate) seq: u64,
    pub(crate) timestamp_ns: u64,
    pub(crate) value: u64,
    pub(crate) limit: u64,
    pub(crate) kind: u32,
    pub(crate) agent_id: u32,
    pub(crate) pid: i32,
    pub(crate) exit_code: i32,
    pub(crate) signal: i32,
    pub(crate) fault: u32,
    pub(crate) action: u32,
    pub(crate) pad: u32,
}

/// Whether the module's syscall probe is the only user of the syscall
/// tracepoints, so tasks that are no agent's may skip them.
pub(crate) fn syscall_tp_exclusive() -> bool {
    // SAFETY: No preconditions.
    unsafe { asm_syscall_tp_exclusive() }
}

/// Has the notify work run soon if a socket listens to the events group;
/// returns whether it will. Callable in any context.
pub(crate) fn notify_kick() -> bool {
    // SAFETY: Callable in any context; the work item is static.
    unsafe { asm_notify_kick() }
}

/// Whether a socket listens to the events group.
pub(crate) fn genl_listening() -> bool {
    // SAFETY: No preconditions.
    unsafe { asm_genl_listening() }
}

/// Multicasts one event to the events group.
pub(crate) fn genl_send(ev: &GenlEvent) -> Result {
    // SAFETY: `ev` is valid for the call; the glue copies it into a message.
    kernel::error::to_result(unsafe { asm_genl_send(ev) })
}

/// Tells the gateway group that request `id` is queued. Sleeps.
pub(crate) fn gw_notify(id: u64) {
    // SAFETY: Process context, no lock held: the glue allocates and sends.
    unsafe { asm_gw_notify(id) }
}

/// Wakes the pollers of /dev/asm: a submitted request finished.
pub(crate) fn gw_wake_pollers() {
    // SAFETY: Callable in any context; the wait queue is static.
    unsafe { asm_gw_wake_pollers() }
}

/// The open file of /dev/asm an ioctl came through: the owner of the LLM
/// requests submitted through it. Only compared, never dereferenced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileToken(pub(crate) u64);

/// A netlink message the glue is building for a reply, for `'a`.
///
/// # Invariants
///
/// `skb` is a message being built that nothing else touches during `'a`.
pub(crate) struct NlMsg<'a> {
    skb: NonNull<RawSkb>,
    _msg: PhantomData<&'a mut RawSkb>,
}

impl NlMsg<'_> {
    /// # Safety
    ///
    /// `skb` is a message being built that only the returned value
    /// touches while it lives.
    pub(crate) unsafe fn from_raw(skb: *mut RawSkb) -> Option<Self> {
        // INVARIANT: The caller's promise.
        NonNull::new(skb).map(|skb| Self {
            skb,
            _msg: PhantomData,
        })
    }

    /// Adds attribute `attr` with the bytes of `data`.
    pub(crate) fn put_bytes(&mut self, attr: GenlAttr, data: &[u8]) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| E2BIG)?;
        // SAFETY: By the type invariant the message is ours; `data` is
        // valid for `len` bytes, which are copied.
        to_result(unsafe { asm_nla_put(self.skb.as_ptr(), attr as u16, len, data.as_ptr().cast()) })
    }

    /// Adds a u32 attribute.
    pub(crate) fn put_u32(&mut self, attr: GenlAttr, value: u32) -> Result {
        self.put_bytes(attr, &value.to_ne_bytes())
    }

    /// Adds a u64 attribute (aligned with `ASM_A_PAD`).
    pub(crate) fn put_u64(&mut self, attr: GenlAttr, value: u64) -> Result {
        // SAFETY: By the type invariant the message is ours.
        to_result(unsafe { asm_nla_put_u64(self.skb.as_ptr(), attr as u16, value) })
    }
}

/// Facts about an opened file (shim.h `ASM_FILE_*`).
pub(crate) const FILE_WRITE: u32 = 0x1;
pub(crate) const FILE_CREATED: u32 = 0x2;
pub(crate) const FILE_FOREIGN_VIEW: u32 = 0x4;
pub(crate) const FILE_PSEUDO: u32 = 0x8;

/// What `asm_rust_net_verdict` judges (shim.h `ASM_NET_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum NetHook {
    /// A task sends a TCP SYN (netfilter LOCAL_OUT).
    TcpSyn = 1,
    /// A task's socket enters TCP_LISTEN (`sock:inet_sock_set_state`).
    TcpListen = 2,
}

impl TryFrom<u32> for NetHook {
    type Error = Error;

    fn try_from(raw: u32) -> Result<Self> {
        match raw {
            1 => Ok(Self::TcpSyn),
            2 => Ok(Self::TcpListen),
            _ => Err(EINVAL),
        }
    }
}

/// A socket check's verdict (shim.h `ASM_VERDICT_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Verdict {
    /// The call or packet goes on.
    Allow = 0,
    /// The call is skipped, the packet dropped.
    Skip = 1,
}

impl Verdict {
    /// `Skip` if `refused`.
    pub(crate) fn skip_if(refused: bool) -> Self {
        if refused {
            Self::Skip
        } else {
            Self::Allow
        }
    }
}

/// `SIGKILL`, `SIGSTOP` and `SIGCONT`.
pub(crate) const SIGKILL: i32 = 9;
pub(crate) const SIGCONT: i32 = 18;
pub(crate) const SIGSTOP: i32 = 19;

/// `CLOCK_BOOTTIME` in nanoseconds.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: No preconditions.
    unsafe { asm_now_ns() }
}

/// Module parameter `max_agents_per_uid`.
pub(crate) fn max_agents_per_uid() -> u32 {
    // SAFETY: No preconditions.
    unsafe { asm_param_max_agents_per_uid() }
}

/// Module parameter `reclaim_ms`.
pub(crate) fn reclaim_ms() -> u32 {
    // SAFETY: No preconditions.
    unsafe { asm_param_reclaim_ms() }
}

/// Module parameter `cascade_term_ms`.
pub(crate) fn cascade_term_ms() -> u32 {
    // SAFETY: No preconditions.
    unsafe { asm_param_cascade_term_ms() }
}

/// Module parameter `cascade_hold_ms`.
pub(crate) fn cascade_hold_ms() -> u32 {
    // SAFETY: No preconditions.
    unsafe { asm_param_cascade_hold_ms() }
}

/// Module parameter `llm_audit_prompts`.
pub(crate) fn llm_audit_prompts() -> bool {
    // SAFETY: No preconditions.
    unsafe { asm_param_llm_audit_prompts() }
}

/// Whether the caller has `CAP_SYS_ADMIN` (and is audited as using it).
pub(crate) fn capable_admin() -> bool {
    // SAFETY: No preconditions; called in process context.
    unsafe { asm_capable_admin() }
}

/// Whether the caller has `CAP_SYS_ADMIN` in the initial user namespace,
/// checked without an audit record.
pub(crate) fn capable_admin_noaudit() -> bool {
    // SAFETY: No preconditions; called in process context.
    unsafe { asm_capable_admin_noaudit() }
}

/// The caller's effective uid in its user namespace.
pub(crate) fn current_euid() -> u32 {
    // SAFETY: No preconditions; called in process context.
    unsafe { asm_current_euid() }
}

/// An RCU read-side critical section, ended on drop.
pub(crate) struct RcuGuard(PhantomData<*mut ()>);

impl RcuGuard {
    /// Enters an RCU read-side critical section.
    pub(crate) fn new() -> Self {
        // SAFETY: Balanced by the unlock in `drop`; the guard is `!Send`.
        unsafe { asm_rcu_read_lock() };
        Self(PhantomData)
    }

    /// Calls `f` with a guard of the read-side section the caller is in
    /// already (a C probe's), which the caller also ends: a probe's path
    /// then takes the lock once.
    ///
    /// # Safety
    ///
    /// The caller holds `rcu_read_lock()` for the whole call.
    pub(crate) unsafe fn with_held<R>(f: impl FnOnce(&RcuGuard) -> R) -> R {
        // Never dropped: the section is the caller's to end. The borrow
        // cannot outlive the call.
        let guard = ManuallyDrop::new(Self(PhantomData));
        f(&guard)
    }
}

impl Drop for RcuGuard {
    fn drop(&mut self) {
        // SAFETY: `new` took the read lock on this CPU's task.
        unsafe { asm_rcu_read_unlock() }
    }
}

/// `struct rcu_head`: two pointers, opaque (shim.c asserts the size).
#[repr(C, align(8))]
struct RawRcuHead {
    _storage: [u8; 16],
}

/// What an [`RcuArc`] points to; `head` first, so that the RCU callback
/// finds the whole from it.
#[repr(C)]
struct RcuInner<T> {
    head: UnsafeCell<MaybeUninit<RawRcuHead>>,
    refs: AtomicUsize,
    value: T,
}

/// A reference-counted object freed a grace period after its last
/// reference is dropped (as `kfree_rcu` frees): an RCU reader that found it
/// where a reference was kept (an [`XArray`]) may use it until the end of
/// its read-side section, and dropping a reference never sleeps.
///
/// # Invariants
///
/// `ptr` points to a live `RcuInner<T>` allocated by [`RcuArc::new`] with
/// `refs` counting the `RcuArc`s; it is handed to `call_rcu` once, when
/// `refs` reaches zero, and freed by [`rcu_free`] after a grace period.
pub(crate) struct RcuArc<T> {
    ptr: NonNull<RcuInner<T>>,
    _owns: PhantomData<RcuInner<T>>,
}

// SAFETY: Like `Arc<T>`: the value is shared between threads and dropped by
// whichever thread (or RCU callback) lets the last reference go.
unsafe impl<T: Send + Sync> Send for RcuArc<T> {}
// SAFETY: As above.
unsafe impl<T: Send + Sync> Sync for RcuArc<T> {}

impl<T: Send + Sync + 'static> RcuArc<T> {
    /// Allocates `value` with one reference. `T`'s `drop` runs in an RCU
    /// callback (softirq, on any CPU), so it must not sleep, and `T` may
    /// borrow nothing: the callback runs after any borrow could end.
    pub(crate) fn new(value: T) -> Result<Self> {
        let inner = KBox::new(
            RcuInner {
                head: UnsafeCell::new(MaybeUninit::uninit()),
                refs: AtomicUsize::new(1),
                value,
            },
            GFP_KERNEL,
        )?;
        // INVARIANT: A new allocation with one reference, this one.
        Ok(Self {
            ptr: NonNull::from(KBox::leak(inner)),
            _owns: PhantomData,
        })
    }
}

impl<T> RcuArc<T> {
    fn inner(&self) -> &RcuInner<T> {
        // SAFETY: By the type invariant `ptr` is live while `self` holds a
        // reference.
        unsafe { self.ptr.as_ref() }
    }

    /// A borrow for as long as `self` lives.
    pub(crate) fn borrow(&self) -> RcuRef<'_, T> {
        // INVARIANT: `self` keeps the object alive for the borrow's lifetime.
        RcuRef {
            ptr: self.ptr,
            _borrow: PhantomData,
        }
    }
}

impl<T> Clone for RcuArc<T> {
    fn clone(&self) -> Self {
        // Bounded by the references kept in xarrays and on stacks.
        self.inner().refs.fetch_add(1, Ordering::Relaxed);
        // INVARIANT: The count includes the new reference.
        Self {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> core::ops::Deref for RcuArc<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T> Drop for RcuArc<T> {
    fn drop(&mut self) {
        if self.inner().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // The whole allocation's pointer: `head` is its first field.
        let head = self.ptr.as_ptr().cast::<RawRcuHead>();
        // SAFETY: The last reference is gone: no `RcuArc` and no new
        // `RcuRef::to_arc` (which never revives a zero count) can reach the
        // object again; readers that borrowed it before finish within the
        // grace period `call_rcu` waits for. `head` is ours to hand over,
        // once, and `rcu_free::<T>` matches the object's type.
        unsafe { asm_call_rcu(head, rcu_free::<T>) }
    }
}

/// Frees an [`RcuInner<T>`] whose last reference went a grace period ago.
///
/// # Safety
///
/// `head` is the `head` of an `RcuInner<T>` handed to `call_rcu` by
/// [`RcuArc::drop`].
unsafe extern "C" fn rcu_free<T>(head: *mut RawRcuHead) {
    // SAFETY: `head` is the first field of a `#[repr(C)]` `RcuInner<T>`
    // that came from `KBox::leak` in `RcuArc::new`; nothing references it.
    drop(unsafe { KBox::from_raw(head.cast::<RcuInner<T>>()) });
}

/// A borrow of an [`RcuArc`]'s object, for `'a`: the lifetime of the
/// `RcuArc` it came from, or of the RCU read-side section in which it was
/// found in an [`XArray`].
///
/// # Invariants
///
/// `ptr` points to a `RcuInner<T>` that is not freed during `'a`.
pub(crate) struct RcuRef<'a, T> {
    ptr: NonNull<RcuInner<T>>,
    _borrow: PhantomData<&'a T>,
}

impl<T> Clone for RcuRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for RcuRef<'_, T> {}

impl<'a, T> RcuRef<'a, T> {
    /// The object, for `'a`.
    pub(crate) fn get(self) -> &'a T {
        // SAFETY: By the type invariant the object lives during `'a`.
        unsafe { &self.ptr.as_ref().value }
    }

    /// A reference of its own, unless the last one is already gone (the
    /// object then only waits for its grace period to be freed).
    pub(crate) fn to_arc(self) -> Option<RcuArc<T>> {
        // SAFETY: By the type invariant the object lives during `'a`.
        let refs = unsafe { &self.ptr.as_ref().refs };
        let mut n = refs.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match refs.compare_exchange_weak(n, n + 1, Ordering::Relaxed, Ordering::Relaxed) {
                // INVARIANT: The count includes the new reference.
                Ok(_) => {
                    return Some(RcuArc {
                        ptr: self.ptr,
                        _owns: PhantomData,
                    })
                }
                Err(now) => n = now,
            }
        }
    }

    /// Whether `self` and `other` are the same object.
    pub(crate) fn ptr_eq(self, other: &T) -> bool {
        core::ptr::eq(self.get(), other)
    }
}

impl<T> core::ops::Deref for RcuRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

/// An xarray of [`RcuArc`]s, in the style of later kernels'
/// `kernel::xarray::XArray<T: ForeignOwnable>`: [`Self::insert`] moves a
/// reference in, [`Self::load`] borrows the object for as long as an RCU
/// read-side section lasts, [`Self::erase`] moves the reference out (and
/// dropping it anywhere is fine: the object is freed a grace period after
/// its last reference).
///
/// Writers are serialised by the xarray's own lock; readers need only RCU.
///
/// # Invariants
///
/// `ptr` points to an initialised xarray owned by this object. Every entry
/// is the `ptr` of an `RcuArc<T>` whose reference the xarray owns.
pub(crate) struct XArray<T> {
    ptr: NonNull<RawXArray>,
    _owns: PhantomData<RcuArc<T>>,
}

// SAFETY: The xarray locks its writers itself; its references move between
// threads with it, which `RcuArc<T>: Send` allows.
unsafe impl<T: Send + Sync> Send for XArray<T> {}
// SAFETY: `&XArray` lends objects to several threads at once and lets any
// thread take references out: `T: Send + Sync`, as for `RcuArc`.
unsafe impl<T: Send + Sync> Sync for XArray<T> {}

impl<T> XArray<T> {
    /// Allocates an empty xarray.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: No preconditions.
        let ptr = NonNull::new(unsafe { asm_xa_new() }).ok_or(ENOMEM)?;
        // INVARIANT: `asm_xa_new` returned an initialised, empty xarray.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// A borrow of entry `entry` for the read-side section `'a`.
    fn borrowed<'a>(entry: *mut c_void, _rcu: &'a RcuGuard) -> Option<RcuRef<'a, T>> {
        // INVARIANT: The entry was in the xarray, which held a reference,
        // during the read-side section `'a`: its object is freed no sooner
        // than a grace period after that reference went, so not during `'a`.
        NonNull::new(entry.cast::<RcuInner<T>>()).map(|ptr| RcuRef {
            ptr,
            _borrow: PhantomData,
        })
    }

    /// The object at `index`, borrowed for the read-side section `rcu`.
    pub(crate) fn load<'a>(&'a self, index: usize, rcu: &'a RcuGuard) -> Option<RcuRef<'a, T>> {
        // SAFETY: By the type invariant, under RCU (`rcu`).
        Self::borrowed(unsafe { asm_xa_load(self.ptr.as_ptr(), index) }, rcu)
    }

    /// Whether there is an entry at `index`.
    pub(crate) fn contains(&self, index: usize) -> bool {
        let _rcu = RcuGuard::new();
        // SAFETY: By the type invariant, under RCU; only the entry's value
        // is read.
        !unsafe { asm_xa_load(self.ptr.as_ptr(), index) }.is_null()
    }

    /// The first object at or after `*index`, borrowed for the read-side
    /// section `rcu`; `*index` becomes its index.
    pub(crate) fn find<'a>(
        &'a self,
        index: &mut usize,
        rcu: &'a RcuGuard,
    ) -> Option<RcuRef<'a, T>> {
        // SAFETY: By the type invariant; `index` is valid for reads and writes.
        Self::borrowed(unsafe { asm_xa_find(self.ptr.as_ptr(), index) }, rcu)
    }

    /// Moves `value` into the empty slot `index` (EBUSY if taken). May
    /// sleep. On failure `value` is dropped.
    pub(crate) fn insert(&self, index: usize, value: RcuArc<T>) -> Result {
        let ptr = ManuallyDrop::new(value).ptr;
        // SAFETY: By the type invariant.
        let rc = unsafe { asm_xa_insert(self.ptr.as_ptr(), index, ptr.as_ptr().cast()) };
        Self::inserted(rc, ptr)
    }

    /// The result of storing the reference `ptr`: on failure it is the
    /// caller's again, and is dropped.
    fn inserted(rc: c_int, ptr: NonNull<RcuInner<T>>) -> Result {
        kernel::error::to_result(rc).inspect_err(|_| {
            // INVARIANT: Not stored: the reference is the caller's again,
            // and goes with this value.
            drop(RcuArc::<T> {
                ptr,
                _owns: PhantomData,
            });
        })
    }

    /// A reference the xarray gave up (`entry`, untagged), the caller's now.
    fn taken(entry: *mut c_void) -> Option<RcuArc<T>> {
        // INVARIANT: The xarray owned this reference; it is the caller's now.
        NonNull::new(entry.cast::<RcuInner<T>>()).map(|ptr| RcuArc {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Moves the reference at `index` out.
    pub(crate) fn erase(&self, index: usize) -> Option<RcuArc<T>> {
        // SAFETY: By the type invariant.
        Self::taken(unsafe { asm_xa_erase(self.ptr.as_ptr(), index) })
    }

    /// Whether the entry at `index` is tagged ([`XaLocked::insert`]).
    pub(crate) fn tagged(&self, index: usize, _rcu: &RcuGuard) -> bool {
        // SAFETY: By the type invariant, under RCU (`_rcu`).
        let tag = unsafe { asm_xa_tag(self.ptr.as_ptr(), index) };
        tag == 1
    }

    /// Takes the xarray's own lock: writes that never sleep, and whatever
    /// else must happen atomically with them, until the guard goes.
    pub(crate) fn lock(&self) -> XaLocked<'_, T> {
        // SAFETY: By the type invariant; unlocked when the guard drops.
        unsafe { asm_xa_lock(self.ptr.as_ptr()) };
        XaLocked {
            xa: self,
            _not_send: PhantomData,
        }
    }
}

/// An [`XArray`]'s lock, held: its writes under the lock, which never
/// sleep. A spinlock: what runs under it must not sleep either.
pub(crate) struct XaLocked<'a, T> {
    xa: &'a XArray<T>,
    /// Unlocked by the task that locked it.
    _not_send: PhantomData<*mut ()>,
}

impl<T> XaLocked<'_, T> {
    fn raw(&self) -> *mut RawXArray {
        self.xa.ptr.as_ptr()
    }

    /// Moves `value` into the empty slot `index` (EBUSY if taken, ENOMEM
    /// when no node could be had without sleeping), its entry tagged if
    /// `tagged` ([`XArray::tagged`]). On failure `value` is dropped.
    pub(crate) fn insert(&self, index: usize, value: RcuArc<T>, tagged: bool) -> Result {
        let ptr = ManuallyDrop::new(value).ptr;
        let (xa, entry) = (self.raw(), ptr.as_ptr().cast());
        // SAFETY: By the type invariant of `XArray`; the lock is held.
        let rc = unsafe { asm_xa_insert_locked(xa, index, entry, tagged.into()) };
        XArray::inserted(rc, ptr)
    }

    /// Moves the reference at `index` out.
    pub(crate) fn erase(&self, index: usize) -> Option<RcuArc<T>> {
        // SAFETY: By the type invariant of `XArray`; the lock is held.
        XArray::taken(unsafe { asm_xa_erase_locked(self.raw(), index) })
    }

    /// Moves the reference at `index` out if it is one to `value`: the
    /// check and the erase in one walk.
    pub(crate) fn erase_if(&self, index: usize, value: &T) -> Option<RcuArc<T>> {
        // What an entry holding `value` holds: its `RcuInner`. Only
        // compared, never dereferenced: wrapping arithmetic.
        let inner = core::ptr::from_ref(value)
            .cast::<u8>()
            .wrapping_sub(core::mem::offset_of!(RcuInner<T>, value))
            .cast_mut();
        // SAFETY: By the type invariant of `XArray`; the lock is held; the
        // shim only compares `inner`.
        XArray::taken(unsafe { asm_xa_erase_if_locked(self.raw(), index, inner.cast()) })
    }
}

impl<T> Drop for XaLocked<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Locked by `XArray::lock`, in this task.
        unsafe { asm_xa_unlock(self.raw()) };
    }
}

impl<T> Drop for XArray<T> {
    fn drop(&mut self) {
        let mut index = 0usize;
        // SAFETY: By the type invariant; `index` is valid.
        while !unsafe { asm_xa_find(self.ptr.as_ptr(), &mut index) }.is_null() {
            drop(self.erase(index));
            index = index.saturating_add(1);
        }
        // SAFETY: By the type invariant; the xarray is empty and unused.
        unsafe { asm_xa_free(self.ptr.as_ptr()) };
        // The frees of the last references run in the module's code: they
        // must be done before it can go away (this runs at unload). Every
        // `RcuArc` of the module lives in the registry's xarrays or on the
        // stack of a request or probe, all gone by now.
        // SAFETY: No preconditions; process context.
        unsafe { asm_rcu_barrier() };
    }
}

/// A counted reference to a process's `struct pid`.
///
/// # Invariants
///
/// `ptr` holds a reference on a valid `struct pid`.
pub(crate) struct PidRef {
    ptr: NonNull<RawPid>,
}

// SAFETY: `struct pid` is reference counted and immutable for our uses.
unsafe impl Send for PidRef {}
// SAFETY: As above.
unsafe impl Sync for PidRef {}

impl PidRef {
    /// The calling process, with its tgid in the initial namespace.
    pub(crate) fn current() -> Option<(Self, i32)> {
        let mut tgid = 0;
        // SAFETY: `tgid` is valid for writing.
        let ptr = NonNull::new(unsafe { asm_current_process(&mut tgid) })?;
        // INVARIANT: `asm_current_process` took a reference.
        Some((Self { ptr }, tgid))
    }

    /// The process `vnr` names in the caller's pid namespace, with its tgid
    /// in the initial namespace.
    pub(crate) fn find(vnr: i32) -> Option<(Self, i32)> {
        let mut tgid = 0;
        // SAFETY: `tgid` is valid for writing.
        let ptr = NonNull::new(unsafe { asm_find_process(vnr, &mut tgid) })?;
        // INVARIANT: `asm_find_process` took a reference.
        Some((Self { ptr }, tgid))
    }

    /// Its number in the caller's pid namespace, 0 once it has no process.
    pub(crate) fn vnr(&self) -> i32 {
        // SAFETY: By the type invariant.
        unsafe {
            if asm_pid_alive(self.ptr.as_ptr()) {
                asm_pid_vnr(self.ptr.as_ptr())
            } else {
                0
            }
        }
    }
}

impl PidRef {
    /// Whether every thread of the process has started exiting.
    pub(crate) fn group_dead(&self) -> bool {
        // SAFETY: By the type invariant.
        unsafe { asm_pid_group_dead(self.ptr.as_ptr()) }
    }

    /// Turns the syscall tracepoints on for the process's threads.
    pub(crate) fn trace_syscalls(&self) {
        // SAFETY: By the type invariant; the glue takes RCU itself.
        unsafe { asm_pid_syscall_work(self.ptr.as_ptr(), true) }
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference.
        unsafe { asm_put_pid(self.ptr.as_ptr()) }
    }
}

impl TaskInfo {
    /// Turns the syscall tracepoints on or off for the process's threads.
    pub(crate) fn syscall_work(&self, on: bool) {
        // SAFETY: `task` is valid during the callback, under RCU.
        unsafe { asm_task_syscall_work(self.task, on) }
    }

    /// Sends `sig` to the whole process; a process already gone is not an
    /// error worth reporting.
    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: `task` is valid during the callback, under RCU.
        let _ = unsafe { asm_signal_task(self.task, sig) };
    }

    /// Whether every thread of the process has started exiting.
    pub(crate) fn group_dead(&self) -> bool {
        // SAFETY: `task` is valid while the `for_each_process` callback that
        // was given this record runs, and the record lives no longer.
        unsafe { asm_task_group_dead(self.task) }
    }
}

/// A task a probe was given, valid for the probe's duration `'a`.
///
/// # Invariants
///
/// The pointer is a valid task for `'a`.
pub(crate) struct TaskRef<'a>(NonNull<RawTask>, PhantomData<&'a RawTask>);

impl<'a> TaskRef<'a> {
    /// Wraps a probe's task.
    ///
    /// # Safety
    ///
    /// `task` must be a valid task for `'a`.
    pub(crate) unsafe fn from_raw(task: NonNull<RawTask>) -> Self {
        // INVARIANT: By the safety requirement.
        Self(task, PhantomData)
    }

    /// Whether every thread of its process has started exiting.
    pub(crate) fn group_dead(&self) -> bool {
        // SAFETY: Valid by the type invariant.
        unsafe { asm_task_group_dead(self.0.as_ptr()) }
    }

    /// Sends `sig` to its whole process.
    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: Valid by the type invariant.
        let _ = unsafe { asm_signal_task(self.0.as_ptr(), sig) };
    }

    /// Turns the syscall tracepoints on for its process's threads; the
    /// caller is in an RCU read-side section.
    pub(crate) fn trace_syscalls(&self, _rcu: &RcuGuard) {
        // SAFETY: Valid by the type invariant; RCU is held.
        unsafe { asm_task_syscall_work(self.0.as_ptr(), true) }
    }
}

/// The id of the cgroup v2 directory open at `fd`.
pub(crate) fn cgroup_id_from_fd(fd: i32) -> Result<u64> {
    let mut id = 0;
    // SAFETY: `id` is valid for writing.
    kernel::error::to_result(unsafe { asm_cgroup_id_from_fd(fd, &mut id) })?;
    Ok(id)
}

/// Calls `f` for every process, under RCU: `f` must not sleep. The
/// records carry the process and its cgroup, not its usage (0): that is
/// [`with_process`]'s.
pub(crate) fn for_each_process<F: FnMut(&TaskInfo)>(mut f: F) {
    /// # Safety
    ///
    /// `ctx` is a `&mut F` and `info` a valid record, both for the call.
    unsafe extern "C" fn trampoline<F: FnMut(&TaskInfo)>(ctx: *mut c_void, info: *const TaskInfo) {
        // SAFETY: `ctx` is the `&mut F` passed below, alive for the whole
        // walk; `info` points to a valid record for the duration of the call.
        unsafe { (*ctx.cast::<F>())(&*info) }
    }
    // SAFETY: The trampoline matches the callback type and `ctx` outlives the call.
    unsafe { asm_for_each_process(trampoline::<F>, (&mut f as *mut F).cast()) }
}

/// Calls `f` for process `tgid` (initial pid namespace) if it exists,
/// under RCU: `f` must not sleep. One lookup, whatever the number of
/// processes on the system.
pub(crate) fn with_process<F: FnMut(&TaskInfo)>(tgid: i32, mut f: F) {
    /// # Safety
    ///
    /// `ctx` is a `&mut F` and `info` a valid record, both for the call.
    unsafe extern "C" fn trampoline<F: FnMut(&TaskInfo)>(ctx: *mut c_void, info: *const TaskInfo) {
        // SAFETY: `ctx` is the `&mut F` passed below, alive for the call;
        // `info` points to a valid record for the duration of the call.
        unsafe { (*ctx.cast::<F>())(&*info) }
    }
    // SAFETY: The trampoline matches the callback type and `ctx` outlives the call.
    unsafe { asm_with_process(tgid, trampoline::<F>, (&mut f as *mut F).cast()) }
}

/// Bytes a [`SeqFile`] gathers before it hands them to the seq_file:
/// `core::fmt` writes a line in many small pieces (each padding character
/// alone), and a view of 4096 agents has over 8000 lines.
const SEQ_BUF: usize = 256;

/// A `seq_file` being filled by a show callback that runs for `'a`.
///
/// # Invariants
///
/// The pointer is a valid seq_file, not written by anyone else, for `'a`.
pub(crate) struct SeqFile<'a> {
    m: NonNull<RawSeqFile>,
    buf: [u8; SEQ_BUF],
    len: usize,
    _p: PhantomData<&'a mut RawSeqFile>,
}

impl<'a> SeqFile<'a> {
    /// Wraps the seq_file a show callback was given.
    ///
    /// # Safety
    ///
    /// `m` must be a valid seq_file that only this object writes for `'a`.
    pub(crate) unsafe fn from_raw(m: NonNull<RawSeqFile>) -> Self {
        // INVARIANT: By the safety requirement.
        Self {
            m,
            buf: [0; SEQ_BUF],
            len: 0,
            _p: PhantomData,
        }
    }

    /// Hands `bytes` to the seq_file.
    fn put(&self, bytes: &[u8]) {
        // SAFETY: By the type invariant. On overflow seq_file retries the
        // show callback with a bigger buffer, so the result can be ignored.
        unsafe { asm_seq_write(self.m.as_ptr(), bytes.as_ptr().cast(), bytes.len()) };
    }

    /// Hands what was gathered to the seq_file.
    fn flush(&mut self) {
        if self.len > 0 {
            self.put(&self.buf[..self.len]);
            self.len = 0;
        }
    }

    /// Calls probe path `path` (shim.h `ASM_BENCH_*`) `calls` times in
    /// place, for the reading process; returns the nanoseconds they took.
    pub(crate) fn bench_probe(&mut self, path: u32, calls: u32) -> u64 {
        // SAFETY: By the type invariant the seq_file, and its file, are
        // valid; the shim knows every path number (others do nothing).
        unsafe { asm_bench_probe(self.m.as_ptr(), path, calls) }
    }
}

impl Drop for SeqFile<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl core::fmt::Write for SeqFile<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let bytes = s.as_bytes();
        if bytes.len() > SEQ_BUF - self.len {
            self.flush();
        }
        if bytes.len() >= SEQ_BUF {
            self.put(bytes);
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

extern "C" {
    fn asm_kill_current();
    fn asm_signal_tgid(tgid: i32, sig: i32);
    fn asm_sha256(data: *const c_void, len: c_uint, out: *mut u8);
    fn asm_real_ns() -> u64;
    fn asm_current_tgid() -> i32;
}

/// Sends `SIGKILL` to the calling process (every thread). Any context.
pub(crate) fn kill_current() {
    // SAFETY: No preconditions; `kill_pid` takes RCU itself.
    unsafe { asm_kill_current() }
}

/// Sends `sig` to process `tgid` (a pid of the initial namespace), if it
/// exists. Any context but hard IRQ.
pub(crate) fn signal_process(tgid: i32, sig: i32) {
    // SAFETY: No preconditions; the glue looks the pid up under RCU.
    unsafe { asm_signal_tgid(tgid, sig) }
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `data` is valid for reads of its length, `out` for 32 bytes.
    unsafe { asm_sha256(data.as_ptr().cast(), data.len() as _, out.as_mut_ptr()) };
    out
}

/// `CLOCK_REALTIME` in nanoseconds.
pub(crate) fn real_ns() -> u64 {
    // SAFETY: No preconditions.
    unsafe { asm_real_ns() }
}

/// The calling process's tgid in the initial pid namespace.
pub(crate) fn current_tgid() -> i32 {
    // SAFETY: No preconditions.
    unsafe { asm_current_tgid() }
}

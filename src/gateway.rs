// SPDX-License-Identifier: GPL-2.0

//! The LLM gateway: agents ask for completions with `ASM_IOC_LLM_REQUEST`;
//! the module checks who asks (a process of an agent with LlmAccess) and
//! the agent's token bucket, queues the request, tells the registered
//! helper over the `gateway` netlink group, and either sleeps until the
//! helper answers (`ASM_CMD_GW_PULL`, then `ASM_CMD_GW_COMPLETE`), the
//! request times out or a signal comes, or (`ASM_LLM_SUBMIT`) returns at
//! once and lets the caller poll its open file and collect the answer.
//!
//! The channel follows the kernel's handshake family: the kernel queues,
//! notifies a multicast group, the helper pulls and completes. One helper
//! socket is registered at a time; when it closes, every request it has
//! or that waits fails with `EIO`, and new ones fail at once with
//! `ENOTCONN` until a helper registers again.
//!
//! Every request that passes the bucket is counted and recorded (an
//! `llm_request` event, an entry in the LLM trail) once, when it ends.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::new_condvar;
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::{CondVar, LockedBy, SpinLock};
use kernel::time::{msecs_to_jiffies, Jiffies};

use crate::agent::Agent;
use crate::audit::{Audit, Kind, Record};
use crate::ffi::{self, FileToken, NlMsg, RcuArc, RcuGuard};
use crate::json::{self, Value};
use crate::policy::{self, Violation};
use crate::report::JsonStr;
use crate::telemetry::{Event, EventKind};
pub(crate) use crate::uapi::LlmProvider;
use crate::uapi::{
    GenlAttr, AUDIT_DETAIL_LEN, AUDIT_LLM_ENTRIES, CAP_LLM_ACCESS, LLM_BURST_DEFAULT,
    LLM_MAX_TOKENS_MAX, LLM_PROMPT_MAX, LLM_REFILL_DEFAULT, LLM_SYSTEM_MAX, LLM_TEXT_MAX,
    LLM_TIMEOUT_MAX_MS,
};
use crate::Asm;

fn enotconn() -> Error {
    Error::from_errno(-(kernel::bindings::ENOTCONN as i32))
}

fn etimedout() -> Error {
    Error::from_errno(-(kernel::bindings::ETIMEDOUT as i32))
}

fn ecanceled() -> Error {
    Error::from_errno(-(kernel::bindings::ECANCELED as i32))
}

/// Default bucket: the user guide's burst and refill.
const BUCKET_BURST: u32 = LLM_BURST_DEFAULT;
const BUCKET_REFILL_PER_S: u32 = LLM_REFILL_DEFAULT;
/// Requests queued or in the helper's hands at once, system-wide and per
/// agent.
const INFLIGHT_MAX: usize = 256;
const AGENT_INFLIGHT_MAX: usize = 32;

/// An agent's token bucket, in thousandths of a request.
pub(crate) struct Bucket {
    milli: u64,
    last_ns: u64,
    burst: u32,
    refill_per_s: u32,
}

impl Bucket {
    fn new() -> Self {
        Self {
            milli: u64::from(BUCKET_BURST) * 1000,
            last_ns: 0,
            burst: BUCKET_BURST,
            refill_per_s: BUCKET_REFILL_PER_S,
        }
    }

    /// Thousandths of a request in the bucket at `now`, refilled since the
    /// last take; does not change the bucket (the views read it).
    fn level(&self, now: u64) -> u64 {
        if self.last_ns == 0 {
            return self.milli;
        }
        let elapsed = now.saturating_sub(self.last_ns);
        // refill_per_s * 1000 thousandths per 10^9 ns.
        let add = elapsed.saturating_mul(u64::from(self.refill_per_s)) / 1_000_000;
        self.milli
            .saturating_add(add)
            .min(u64::from(self.burst) * 1000)
    }

    /// Sets the size and refill at `now`: the tokens refilled so far are
    /// kept, up to the new size.
    fn set(&mut self, burst: u32, refill_per_s: u32, now: u64) {
        self.milli = self.level(now).min(u64::from(burst) * 1000);
        self.last_ns = self.last_ns.max(now);
        self.burst = burst;
        self.refill_per_s = refill_per_s;
    }

    /// Takes one request's token at `now` if there is one.
    fn take(&mut self, now: u64) -> bool {
        let level = self.level(now);
        if level < 1000 {
            return false;
        }
        self.milli = level - 1000;
        // A clock read before another caller's take must not run it back.
        self.last_ns = self.last_ns.max(now);
        true
    }
}

/// An agent's gateway state: its bucket (behind the gateway's lock) and
/// its counters.
pub(crate) struct AgentLlm {
    bucket: LockedBy<Bucket, State>,
    pub(crate) requests: AtomicU64,
    pub(crate) tokens_used: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    /// Requests the bucket let through that did not get an answer.
    pub(crate) failures: AtomicU64,
}

/// An agent's LLM requests the bucket let through, tokens its answers
/// used, requests the bucket refused, and requests without an answer.
#[derive(Clone, Copy)]
pub(crate) struct LlmCounts {
    pub(crate) requests: u64,
    pub(crate) tokens_used: u64,
    pub(crate) rate_limited: u64,
    pub(crate) failures: u64,
}

impl AgentLlm {
    /// Its counters now.
    pub(crate) fn counts(&self) -> LlmCounts {
        LlmCounts {
            requests: self.requests.load(Relaxed),
            tokens_used: self.tokens_used.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
            failures: self.failures.load(Relaxed),
        }
    }

    pub(crate) fn new(gateway: &Gateway) -> Self {
        Self {
            bucket: LockedBy::new(&gateway.state, Bucket::new()),
            requests: AtomicU64::new(0),
            tokens_used: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }
}

/// What a request asks, read from its document.
pub(crate) struct Ask {
    agent_id: u32,
    prompt: KVVec<u8>,
    system: KVVec<u8>,
    max_tokens: u32,
    /// Thousandths, 0 to 1000.
    temperature: u32,
    provider: Option<LlmProvider>,
    timeout_ms: u32,
}

impl Ask {
    /// Reads the user guide's request document.
    pub(crate) fn parse(doc: &[u8]) -> Result<Self> {
        let mut ask = Ask {
            agent_id: 0,
            prompt: KVVec::new(),
            system: KVVec::new(),
            max_tokens: 1000,
            temperature: 700,
            provider: None,
            timeout_ms: 30_000,
        };
        let mut has_prompt = false;
        let max_str = |key: &[u8]| match key {
            b"prompt" => LLM_PROMPT_MAX,
            b"system_message" => LLM_SYSTEM_MAX,
            _ => 64,
        };
        json::read_object(doc, max_str, |key, value| {
            if matches!(value, Value::Null) && key != b"prompt" {
                // An optional member given as null keeps its default.
                return Ok(());
            }
            match key {
                b"agent_id" => ask.agent_id = value.integer(0, u32::MAX.into())? as u32,
                b"prompt" => {
                    ask.prompt = value.into_str()?;
                    has_prompt = true;
                }
                b"max_tokens" => {
                    ask.max_tokens = value.integer(1, LLM_MAX_TOKENS_MAX.into())? as u32
                }
                b"temperature" => ask.temperature = value.thousandths(0, 1000)? as u32,
                b"preferred_provider" => {
                    let name = value.into_str()?;
                    ask.provider = Some(LlmProvider::from_name(&name).ok_or(EINVAL)?);
                }
                b"system_message" => ask.system = value.into_str()?,
                b"timeout_ms" => {
                    ask.timeout_ms = value.integer(1, LLM_TIMEOUT_MAX_MS.into())? as u32
                }
                _ => return Err(EINVAL),
            }
            Ok(())
        })?;
        if !has_prompt || ask.prompt.is_empty() {
            return Err(EINVAL);
        }
        Ok(ask)
    }
}

/// A helper's answer.
struct Answer {
    provider: LlmProvider,
    text: KVVec<u8>,
    tokens_used: u32,
    fallback: bool,
}

enum Stage {
    Queued,
    /// Pulled by the helper.
    Taken,
    /// Finished at `at_ns`: the helper's answer or failure, the timeout, a
    /// signal, or the helper gone.
    Done {
        result: Result<Answer>,
        at_ns: u64,
    },
}

/// A request in the gateway.
struct Pending {
    id: u64,
    agent: RcuArc<Agent>,
    /// The asking process: its effective uid and thread group id.
    uid: u32,
    tgid: i32,
    /// The agent's capabilities when it asked.
    capabilities: u64,
    /// The open file a submitted request belongs to; `None` while its
    /// caller waits for it.
    file: Option<FileToken>,
    started_ns: u64,
    deadline_ns: u64,
    ask: Ask,
    stage: Stage,
    /// Whether the LLM trail gets the prompt's start (the
    /// `llm_audit_prompts` parameter when it asked).
    audit_prompt: bool,
    /// Whether its end is counted and recorded.
    record: RecordState,
}

/// How far the records of a request's end are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RecordState {
    /// Not counted yet.
    Unwritten,
    /// Counted; its event and trail entry are being written without the
    /// lock: a collector waits (its answer is not ready to hand out).
    Writing,
    /// Counted and written.
    Written,
}

impl Pending {
    fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done { .. })
    }

    /// Ends it with `err` at `now` unless it has ended.
    fn fail(&mut self, err: Error, now: u64) {
        if !self.is_done() {
            self.stage = Stage::Done {
                result: Err(err),
                at_ns: now,
            };
        }
    }

    /// Ends it with `ETIMEDOUT` if its deadline has passed at `now`;
    /// returns whether it has ended.
    fn expire(&mut self, now: u64) -> bool {
        if now >= self.deadline_ns {
            // Ended at its deadline, whenever it is looked at.
            self.fail(etimedout(), self.deadline_ns);
        }
        self.is_done()
    }

    /// Whether a collector may take it: it has ended (or will end with
    /// `ETIMEDOUT` on the next look) and its records are not being
    /// written. Does not change it.
    fn finished(&self, now: u64) -> bool {
        self.record != RecordState::Writing && (self.is_done() || now >= self.deadline_ns)
    }
}

/// Gateway totals.
#[derive(Default, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) requests: u64,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) rate_limited: u64,
    pub(crate) fallbacks: u64,
    /// Per provider (index `LlmProvider::raw() - 1`).
    pub(crate) by_provider: [ProviderStats; 4],
}

/// One provider's figures, as the helper reported its attempts.
#[derive(Default, Clone, Copy)]
pub(crate) struct ProviderStats {
    pub(crate) attempts: u64,
    pub(crate) successes: u64,
    /// Sum of the durations of the requests it answered.
    pub(crate) answer_us: u64,
}

impl Stats {
    fn provider(&mut self, p: LlmProvider) -> Option<&mut ProviderStats> {
        self.by_provider.get_mut((p.raw() as usize).wrapping_sub(1))
    }
}

/// What the gateway's lock guards.
pub(crate) struct State {
    /// The registered helper's netlink port, if one is registered.
    helper: Option<u32>,
    next_id: u64,
    /// [`INFLIGHT_MAX`] slots, allocated at load.
    pending: KVec<Option<KBox<Pending>>>,
    stats: Stats,
}

impl State {
    fn find(&mut self, id: u64) -> Option<&mut Pending> {
        self.pending
            .iter_mut()
            .flatten()
            .find(|p| p.id == id)
            .map(|p| &mut **p)
    }

    /// Takes request `id` out of the table. Free it after the lock: its
    /// buffers may be vmalloc'ed, and vfree() may sleep.
    fn remove(&mut self, id: u64) -> Option<KBox<Pending>> {
        self.pending
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|p| p.id == id))
            .and_then(Option::take)
    }

    /// The requests submitted through `file`.
    fn of_file(&mut self, file: FileToken) -> impl Iterator<Item = &mut Pending> {
        self.pending
            .iter_mut()
            .flatten()
            .map(|p| &mut **p)
            .filter(move |p| p.file == Some(file))
    }

    /// The oldest request no helper has yet.
    fn oldest_queued(&mut self) -> Option<&mut Pending> {
        self.pending
            .iter_mut()
            .flatten()
            .filter(|p| matches!(p.stage, Stage::Queued))
            .min_by_key(|p| p.id)
            .map(|p| &mut **p)
    }

    /// Fails every request the helper has or that waits for one.
    fn fail_all(&mut self, err: Error, now: u64) {
        for p in self.pending.iter_mut().flatten() {
            p.fail(err, now);
        }
    }
}

/// The request table: [`INFLIGHT_MAX`] empty slots.
fn slots() -> Result<KVec<Option<KBox<Pending>>>> {
    let mut slots = KVec::with_capacity(INFLIGHT_MAX, GFP_KERNEL)?;
    for _ in 0..INFLIGHT_MAX {
        slots.push(None, GFP_KERNEL)?;
    }
    Ok(slots)
}

/// The gateway.
#[pin_data]
pub(crate) struct Gateway {
    /// Taken by the views under RCU: nothing allocates or sleeps under it
    /// (waiting on `done` releases it).
    #[pin]
    state: SpinLock<State>,
    /// Notified when a request is done.
    #[pin]
    done: CondVar,
    /// The LLM trail: one entry per request the buckets let through, its
    /// own hash chain, without the policy trail's rate limits.
    #[pin]
    pub(crate) audit: Audit,
}

impl Gateway {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            state <- new_spinlock!(
                State {
                    helper: None,
                    next_id: 1,
                    pending: slots()?,
                    stats: Stats::default(),
                },
                "Gateway::state"
            ),
            done <- new_condvar!("Gateway::done"),
            audit <- Audit::new(AUDIT_LLM_ENTRIES),
        }? Error)
    }

    /// The totals.
    pub(crate) fn stats(&self) -> Stats {
        self.state.lock().stats
    }

    /// Wakes the callers waiting for their answers and the pollers of
    /// submitted requests.
    fn wake(&self) {
        self.done.notify_all();
        ffi::gw_wake_pollers();
    }
}

/// Sets `agent`'s bucket to `burst` requests refilled at `refill_per_s`
/// if `allowed` says so of its current (burst, refill); returns the
/// outcome (`EPERM` when not allowed) and the current values.
pub(crate) fn set_rate(
    asm: &Asm,
    agent: &Agent,
    burst: u32,
    refill_per_s: u32,
    allowed: impl FnOnce((u32, u32)) -> bool,
) -> (Result, (u32, u32)) {
    let now = ffi::now_ns();
    let mut state = asm.gateway.state.lock();
    let bucket = agent.llm.bucket.access_mut(&mut state);
    let old = (bucket.burst, bucket.refill_per_s);
    if !allowed(old) {
        return (Err(EPERM), old);
    }
    bucket.set(burst, refill_per_s, now);
    (Ok(()), old)
}

/// Counts a request refused before it reached the gateway (a bad
/// argument struct, an unreadable or oversize document).
pub(crate) fn count_failure(asm: &Asm) {
    asm.gateway.state.lock().stats.failures += 1;
}

/// The checks before a request of the calling process `tgid` with
/// document `doc` is queued: the caller is a process of an agent with
/// LlmAccess (else `EPERM`, audited, and a capability fault of the
/// agent), the document is valid and claims no other agent.
fn admit(asm: &Asm, tgid: i32, doc: &[u8]) -> Result<(RcuArc<Agent>, Ask)> {
    let fail = |err: Error| {
        count_failure(asm);
        err
    };
    let rcu = RcuGuard::new();
    let Some(agent) = asm.registry.agent_of(tgid, &rcu).and_then(|a| a.to_arc()) else {
        drop(rcu);
        let mut r = Record::new(Kind::Violation, Violation::Llm.raw(), 0).result(Err(EPERM));
        let _ = r.write_str("LLM request by a process of no agent");
        asm.audit.append_request(r, None);
        return Err(fail(EPERM));
    };
    drop(rcu);
    if agent.capabilities.load(Relaxed) & CAP_LLM_ACCESS == 0 {
        policy::violation(
            asm,
            &agent,
            Violation::Llm,
            b"LLM request without LlmAccess",
        );
        return Err(fail(EPERM));
    }
    let ask = Ask::parse(doc).map_err(fail)?;
    if ask.agent_id != 0 && ask.agent_id != agent.id {
        let mut r = Record::new(Kind::Violation, Violation::Llm.raw(), agent.id)
            .values(u64::from(ask.agent_id), 0)
            .result(Err(EPERM));
        let _ = write!(r, "LLM request claiming agent {}", ask.agent_id);
        asm.audit.append_request(r, Some(&agent));
        return Err(fail(EPERM));
    }
    Ok((agent, ask))
}

/// Queues `agent`'s request `ask` by process `tgid` (for `file` when
/// submitted) if its bucket has a token; returns its number.
fn queue(
    asm: &Asm,
    agent: RcuArc<Agent>,
    ask: Ask,
    tgid: i32,
    file: Option<FileToken>,
) -> Result<u64> {
    let gw = &asm.gateway;
    let now = ffi::now_ns();
    let deadline_ns = now + u64::from(ask.timeout_ms) * 1_000_000;
    // Allocated before the lock, which is a spinlock; on a refusal it is
    // freed after the lock.
    let mut p = Some(KBox::new(
        Pending {
            id: 0,
            capabilities: agent.capabilities.load(Relaxed),
            agent,
            uid: ffi::current_euid(),
            tgid,
            file,
            started_ns: now,
            deadline_ns,
            ask,
            stage: Stage::Queued,
            audit_prompt: ffi::llm_audit_prompts(),
            record: RecordState::Unwritten,
        },
        GFP_KERNEL,
    )?);
    let queued = {
        let mut state = gw.state.lock();
        let Some(pending) = p.as_deref() else {
            return Err(EINVAL);
        };
        let llm = &pending.agent.llm;
        if !llm.bucket.access_mut(&mut state).take(now) {
            state.stats.rate_limited += 1;
            llm.rate_limited.fetch_add(1, Relaxed);
            return Err(EAGAIN);
        }
        state.stats.requests += 1;
        llm.requests.fetch_add(1, Relaxed);
        let mine = state
            .pending
            .iter()
            .flatten()
            .filter(|q| core::ptr::eq(&*q.agent, &*pending.agent))
            .count();
        let id = state.next_id;
        if state.helper.is_none() {
            Err(enotconn())
        } else if mine >= AGENT_INFLIGHT_MAX {
            Err(EBUSY)
        } else if let Some(slot) = state.pending.iter_mut().find(|slot| slot.is_none()) {
            *slot = p.take().map(|mut p| {
                p.id = id;
                p
            });
            state.next_id += 1;
            Ok(id)
        } else {
            Err(EBUSY)
        }
    };
    // A request past the bucket that could not be queued ends here, and
    // is recorded like every other.
    let id = match (queued, p) {
        (Ok(id), _) => id,
        (Err(err), Some(mut p)) => {
            p.fail(err, now);
            let _ = finish(asm, p);
            return Err(err);
        }
        (Err(err), None) => return Err(err),
    };
    ffi::gw_notify(id);
    if file.is_some() {
        // Its timeout is checked on the sampler's tick.
        ffi::sampler_ensure(1000);
    }
    Ok(id)
}

/// A request by the calling process `tgid`, which waits for the answer:
/// `doc` is its document. Returns the response document; `id` gets the
/// request's number once queued.
pub(crate) fn request(asm: &Asm, tgid: i32, doc: &[u8], id: &mut u64) -> Result<KVec<u8>> {
    let (agent, ask) = admit(asm, tgid, doc)?;
    *id = queue(asm, agent, ask, tgid, None)?;
    let id = *id;
    let gw = &asm.gateway;
    let mut state = gw.state.lock();
    let ended = loop {
        let Some(p) = state.find(id) else {
            break None;
        };
        let now = ffi::now_ns();
        if p.expire(now) {
            break state.remove(id);
        }
        let left_ms = ((p.deadline_ns - now) / 1_000_000).max(1) as u32;
        let jiffies: Jiffies = msecs_to_jiffies(left_ms);
        if let kernel::sync::CondVarTimeoutResult::Signal { .. } =
            gw.done.wait_interruptible_timeout(&mut state, jiffies)
        {
            // An answer that came with the signal is delivered.
            if let Some(p) = state.find(id) {
                p.fail(EINTR, ffi::now_ns());
            }
            break state.remove(id);
        }
    };
    drop(state);
    // Only the caller removes a request it waits for.
    finish(asm, ended.ok_or(EIO)?)
}

/// `ASM_LLM_SUBMIT`: queues the request of process `tgid` for `file` and
/// returns its number at once.
pub(crate) fn submit(asm: &Asm, tgid: i32, file: FileToken, doc: &[u8]) -> Result<u64> {
    let (agent, ask) = admit(asm, tgid, doc)?;
    queue(asm, agent, ask, tgid, Some(file))
}

/// `ASM_LLM_COLLECT` through `file` by process `tgid`: takes request `id`
/// (0: the oldest that has finished) once it has finished. Returns its
/// number and its response document or errno.
pub(crate) fn collect(
    asm: &Asm,
    tgid: i32,
    file: FileToken,
    id: u64,
) -> Result<(u64, Result<KVec<u8>>)> {
    let now = ffi::now_ns();
    // The caller's agent, compared by identity (an id may be reused once
    // the agent that submitted is gone), under RCU so that no other agent
    // can take its place meanwhile. Never dereferenced.
    let rcu = RcuGuard::new();
    let caller: Option<*const Agent> = asm
        .registry
        .agent_of(tgid, &rcu)
        .map(|a| &*a as *const Agent);
    let p = {
        let mut state = asm.gateway.state.lock();
        let (mut own, mut foreign) = (false, false);
        let mut found = None;
        for p in state.of_file(file).filter(|p| id == 0 || p.id == id) {
            // Only the agent that asked learns anything of its requests.
            if caller != Some(&*p.agent as *const Agent) {
                foreign = true;
                continue;
            }
            own = true;
            if p.finished(now) && !found.is_some_and(|f| f < p.id) {
                found = Some(p.id);
            }
        }
        match found {
            Some(found) => {
                if let Some(p) = state.find(found) {
                    p.expire(now);
                }
                state.remove(found).ok_or(ENOENT)?
            }
            None if own => return Err(EAGAIN),
            None if foreign => return Err(EPERM),
            None => return Err(ENOENT),
        }
    };
    drop(rcu);
    Ok((p.id, finish(asm, p)))
}

/// Whether a request submitted through `file` has finished.
pub(crate) fn poll(asm: &Asm, file: FileToken) -> bool {
    let now = ffi::now_ns();
    asm.gateway
        .state
        .lock()
        .of_file(file)
        .any(|p| p.finished(now))
}

/// `file` was closed: its requests are withdrawn (`ECANCELED` for those
/// that had not finished).
pub(crate) fn release(asm: &Asm, file: FileToken) {
    loop {
        let p = {
            let mut state = asm.gateway.state.lock();
            let id = state.of_file(file).next().map(|p| p.id);
            id.and_then(|id| state.remove(id))
        };
        let Some(mut p) = p else {
            return;
        };
        p.fail(ecanceled(), ffi::now_ns());
        let _ = finish(asm, p);
    }
}

/// Times out the submitted requests whose deadline has passed; returns
/// whether any submitted request is still unfinished.
pub(crate) fn expire(asm: &Asm) -> bool {
    let now = ffi::now_ns();
    let (mut ended, mut waiting) = (false, false);
    {
        let mut state = asm.gateway.state.lock();
        for p in state.pending.iter_mut().flatten() {
            if p.file.is_none() || p.is_done() {
                continue;
            }
            if p.expire(now) {
                ended = true;
            } else {
                waiting = true;
            }
        }
    }
    if ended {
        ffi::gw_wake_pollers();
        record_ended(asm);
    }
    waiting
}

/// What the records of an ended request need, copied out of the table
/// under the lock.
struct Ended {
    id: u64,
    agent: RcuArc<Agent>,
    uid: u32,
    tgid: i32,
    at_ns: u64,
    duration_us: u64,
    /// The answering provider, tokens and fallback; `Err` for a failure.
    outcome: Result<(LlmProvider, u32, bool)>,
    /// The prompt's start, when it is to be audited.
    prompt: [u8; AUDIT_DETAIL_LEN],
    prompt_len: usize,
}

impl Pending {
    /// Marks it recorded and counts it in `stats` if it has ended; returns
    /// what its event and trail entry need, `None` if it has not ended or
    /// was recorded already.
    fn take_record(&mut self, stats: &mut Stats) -> Option<Ended> {
        if self.record != RecordState::Unwritten {
            return None;
        }
        let Stage::Done { result, at_ns } = &self.stage else {
            return None;
        };
        self.record = RecordState::Writing;
        let duration_us = at_ns.saturating_sub(self.started_ns) / 1000;
        let llm = &self.agent.llm;
        let outcome = match result {
            Ok(a) => {
                stats.successes += 1;
                if a.fallback {
                    stats.fallbacks += 1;
                }
                if let Some(s) = stats.provider(a.provider) {
                    s.successes += 1;
                    s.answer_us += duration_us;
                }
                llm.tokens_used.fetch_add(u64::from(a.tokens_used), Relaxed);
                Ok((a.provider, a.tokens_used, a.fallback))
            }
            Err(e) => {
                stats.failures += 1;
                llm.failures.fetch_add(1, Relaxed);
                Err(*e)
            }
        };
        let mut prompt = [0; AUDIT_DETAIL_LEN];
        let prompt_len = match self.audit_prompt {
            true => self.ask.prompt.len().min(AUDIT_DETAIL_LEN),
            false => 0,
        };
        prompt[..prompt_len].copy_from_slice(&self.ask.prompt[..prompt_len]);
        Some(Ended {
            id: self.id,
            agent: self.agent.clone(),
            uid: self.uid,
            tgid: self.tgid,
            at_ns: *at_ns,
            duration_us,
            outcome,
            prompt,
            prompt_len,
        })
    }
}

impl Ended {
    /// Records its event and its entry in the LLM trail. Called without
    /// the gateway's lock.
    fn write(&self, asm: &Asm) {
        let (provider, tokens_used) = match self.outcome {
            Ok((p, tokens, _)) => (p.raw(), tokens),
            Err(_) => (0, 0),
        };
        let errno = self.outcome.as_ref().err().map_or(0, |e| e.to_errno());
        let mut event = Event::new(EventKind::LlmRequest, self.agent.id, self.tgid, self.at_ns);
        event.fault = provider as u8;
        event.exit_code = errno;
        event.value = u64::from(tokens_used);
        event.limit = self.duration_us;
        asm.telemetry.record(event);

        let mut r = Record::new(Kind::LlmRequest, provider, self.agent.id)
            .values(u64::from(tokens_used), self.duration_us)
            .result(self.outcome.as_ref().map(|_| ()).map_err(|e| *e))
            .by(self.uid, self.tgid);
        let _ = write!(r, "request {}: ", self.id);
        match self.outcome {
            Ok((p, _, fallback)) => {
                let _ = write!(r, "ok via {}", p.name());
                if fallback {
                    let _ = r.write_str(" (fallback)");
                }
            }
            Err(e) => {
                let _ = r.write_str(errno_name(e));
            }
        }
        if self.prompt_len > 0 {
            let _ = r.write_str("; prompt: ");
            r.bytes(&self.prompt[..self.prompt_len]);
        }
        asm.gateway.audit.append(r, None);
    }
}

/// Records every submitted request that has ended and is not recorded
/// yet, one at a time (the records are written without the lock), then
/// wakes the pollers: a collector never gets an answer before its
/// records exist. A waiting caller records its own request (in
/// [`finish`]) before it returns.
fn record_ended(asm: &Asm) {
    let mut any = false;
    loop {
        let ended = {
            let mut state = asm.gateway.state.lock();
            let State { pending, stats, .. } = &mut *state;
            pending
                .iter_mut()
                .flatten()
                .find(|p| p.file.is_some() && p.is_done() && p.record == RecordState::Unwritten)
                .and_then(|p| p.take_record(stats))
        };
        let Some(e) = ended else {
            break;
        };
        e.write(asm);
        if let Some(p) = asm.gateway.state.lock().find(e.id) {
            p.record = RecordState::Written;
        }
        any = true;
    }
    if any {
        ffi::gw_wake_pollers();
    }
}

/// Ends request `p`, taken out of the table and ended: records it if that
/// is still to do, and returns its response document or errno. Called
/// without the gateway's lock; frees `p`.
fn finish(asm: &Asm, mut p: KBox<Pending>) -> Result<KVec<u8>> {
    let ended = p.take_record(&mut asm.gateway.state.lock().stats);
    if let Some(e) = ended {
        e.write(asm);
    }
    let response = match core::mem::replace(&mut p.stage, Stage::Queued) {
        Stage::Done { result, at_ns } => {
            let duration_us = at_ns.saturating_sub(p.started_ns) / 1000;
            result.and_then(|a| response_json(&a, duration_us))
        }
        _ => Err(EIO),
    };
    drop(p);
    response
}

/// The name of an error an LLM request ends with.
fn errno_name(e: Error) -> &'static str {
    match e.to_errno().unsigned_abs() {
        kernel::bindings::EIO => "EIO",
        kernel::bindings::ETIMEDOUT => "ETIMEDOUT",
        kernel::bindings::EINTR => "EINTR",
        kernel::bindings::ECANCELED => "ECANCELED",
        kernel::bindings::ENOTCONN => "ENOTCONN",
        kernel::bindings::EBUSY => "EBUSY",
        kernel::bindings::EPERM => "EPERM",
        _ => "error",
    }
}

/// The response document.
fn response_json(a: &Answer, duration_us: u64) -> Result<KVec<u8>> {
    let text = core::str::from_utf8(&a.text).map_err(|_| EIO)?;
    crate::report::render(|w| {
        write!(
            w,
            "{{\"provider\":\"{}\",\"text\":{},\"tokens_used\":{},\"duration_us\":{},\
             \"was_fallback\":{}}}",
            a.provider.json(),
            JsonStr(text),
            a.tokens_used,
            duration_us,
            a.fallback
        )
    })
}

/// `ASM_CMD_GW_REGISTER` from netlink port `portid` (the family checked
/// CAP_NET_ADMIN).
pub(crate) fn register_helper(asm: &Asm, portid: u32) -> Result {
    // The sender's own context: genetlink runs the command in the calling
    // process. An agent (even a root one) must not read the other agents'
    // prompts or forge their answers.
    if let Some(id) = asm.registry.caller_agent_id() {
        let mut r = Record::new(Kind::Escalation, 0, id).result(Err(EPERM));
        let _ = r.write_str("gateway helper registration by an agent's process");
        asm.audit.append_request(r, None);
        return Err(EPERM);
    }
    let mut state = asm.gateway.state.lock();
    match state.helper {
        Some(p) if p != portid => Err(EBUSY),
        _ => {
            state.helper = Some(portid);
            Ok(())
        }
    }
}

/// Netlink port `portid` was released: if it was the helper, every request
/// it had or that waits fails with `EIO`.
pub(crate) fn port_released(asm: &Asm, portid: u32) {
    let mut state = asm.gateway.state.lock();
    if state.helper == Some(portid) {
        state.helper = None;
        state.fail_all(EIO, ffi::now_ns());
        drop(state);
        asm.gateway.wake();
        record_ended(asm);
    }
}

/// The module is going away: nothing is answered any more.
pub(crate) fn close(asm: &Asm) {
    let mut state = asm.gateway.state.lock();
    state.helper = None;
    state.fail_all(EIO, ffi::now_ns());
    drop(state);
    asm.gateway.wake();
    record_ended(asm);
}

/// `ASM_CMD_GW_PULL` from `portid`: puts the oldest queued request's
/// attributes in `msg` and hands it to the helper. A queued request whose
/// agent was unregistered or lost LlmAccess meanwhile ends with `EPERM`
/// instead: nobody may use its answer.
pub(crate) fn pull(asm: &Asm, portid: u32, msg: &mut NlMsg<'_>) -> Result<u64> {
    let mut refused = false;
    let result = (|| {
        let mut state = asm.gateway.state.lock();
        if state.helper != Some(portid) {
            return Err(EPERM);
        }
        let p = loop {
            let p = state.oldest_queued().ok_or(ENOENT)?;
            let agent = &p.agent;
            if !agent.dead.load(Relaxed) && agent.capabilities.load(Relaxed) & CAP_LLM_ACCESS != 0 {
                break p;
            }
            p.fail(EPERM, ffi::now_ns());
            refused = true;
        };
        msg.put_u64(GenlAttr::ReqId, p.id)?;
        msg.put_u32(GenlAttr::AgentId, p.agent.id)?;
        msg.put_u32(GenlAttr::Uid, p.agent.owner_uid)?;
        msg.put_u64(GenlAttr::Caps, p.capabilities)?;
        msg.put_bytes(GenlAttr::Prompt, &p.ask.prompt)?;
        if !p.ask.system.is_empty() {
            msg.put_bytes(GenlAttr::System, &p.ask.system)?;
        }
        msg.put_u32(GenlAttr::MaxTokens, p.ask.max_tokens)?;
        msg.put_u32(GenlAttr::Temperature, p.ask.temperature)?;
        msg.put_u32(GenlAttr::Provider, p.ask.provider.map_or(0, |p| p.raw()))?;
        msg.put_u32(GenlAttr::TimeoutMs, p.ask.timeout_ms)?;
        p.stage = Stage::Taken;
        Ok(p.id)
    })();
    if refused {
        asm.gateway.wake();
        record_ended(asm);
    }
    result
}

/// The reply to the pull that took request `id` could not be sent: it is
/// queued again for the next pull.
pub(crate) fn unpull(asm: &Asm, id: u64) {
    let mut state = asm.gateway.state.lock();
    if let Some(p) = state.find(id) {
        if matches!(p.stage, Stage::Taken) {
            p.stage = Stage::Queued;
        }
    }
}

/// What `ASM_CMD_GW_COMPLETE` carries.
pub(crate) struct Completion<'a> {
    pub(crate) id: u64,
    /// 0, or a positive errno the request fails with.
    pub(crate) status: u32,
    pub(crate) provider: u32,
    pub(crate) text: &'a [u8],
    pub(crate) tokens_used: u32,
    pub(crate) fallback: bool,
    /// The providers tried, in order (`ASM_A_TRIED`, native u32s); on
    /// success the last one answered.
    pub(crate) tried: &'a [u8],
}

impl Completion<'_> {
    /// What the request gets: the answer, or the helper's failure (all
    /// providers failed: EIO; it gave up at the request's timeout:
    /// ETIMEDOUT). A malformed answer is `None`: it fails the request
    /// with EIO and the command with EINVAL. Copies the text: call it
    /// before taking the gateway's spinlock.
    fn outcome(&self) -> Result<Option<Result<Answer>>> {
        let tried_ok = self.tried.len() % 4 == 0;
        if self.status != 0 {
            let failure = if self.status == kernel::bindings::ETIMEDOUT {
                etimedout()
            } else {
                EIO
            };
            return Ok(tried_ok.then_some(Err(failure)));
        }
        let provider = LlmProvider::try_from(self.provider);
        let text_ok = self.text.len() <= LLM_TEXT_MAX && core::str::from_utf8(self.text).is_ok();
        let (Ok(provider), true, true) = (provider, text_ok, tried_ok) else {
            return Ok(None);
        };
        let mut text = KVVec::with_capacity(self.text.len(), GFP_KERNEL)?;
        text.extend_from_slice(self.text, GFP_KERNEL)?;
        Ok(Some(Ok(Answer {
            provider,
            text,
            tokens_used: self.tokens_used,
            fallback: self.fallback,
        })))
    }
}

/// `ASM_CMD_GW_COMPLETE` from `portid`: answers a request it pulled.
pub(crate) fn complete(asm: &Asm, portid: u32, c: &Completion<'_>) -> Result {
    let outcome = c.outcome()?;
    let mut state = asm.gateway.state.lock();
    if state.helper != Some(portid) {
        return Err(EPERM);
    }
    let Some(p) = state.find(c.id).filter(|p| matches!(p.stage, Stage::Taken)) else {
        return Err(ENOENT);
    };
    let (result, reply) = match outcome {
        Some(result) => (result, Ok(())),
        None => (Err(EIO), Err(EINVAL)),
    };
    p.stage = Stage::Done {
        result,
        at_ns: ffi::now_ns(),
    };
    if reply.is_ok() {
        for raw in c.tried.chunks_exact(4) {
            let raw = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
            if let Some(p) = LlmProvider::try_from(raw)
                .ok()
                .and_then(|provider| state.stats.provider(provider))
            {
                p.attempts += 1;
            }
        }
    }
    drop(state);
    asm.gateway.wake();
    record_ended(asm);
    reply
}

/// /proc/agentsys/cloud_gateway, in the user guide's layout.
pub(crate) fn metrics_text(asm: &Asm, w: &mut impl Write) -> core::fmt::Result {
    let s = asm.gateway.stats();
    w.write_str("Cloud Gateway Metrics:\n")?;
    w.write_str("====================\n")?;
    writeln!(w, "{:<22}{}", "Total Requests:", s.requests)?;
    writeln!(w, "{:<22}{}", "Successful:", s.successes)?;
    writeln!(w, "{:<22}{}", "Failed:", s.failures)?;
    writeln!(w, "{:<22}{}", "Rate Limited:", s.rate_limited)?;
    writeln!(w, "{:<22}{}", "Fallback Used:", s.fallbacks)?;
    w.write_str("\nProvider Success Rates:\n")?;
    let mut answered = 0;
    let mut answer_us = 0;
    for (provider, p) in [
        LlmProvider::Claude,
        LlmProvider::Gpt4,
        LlmProvider::Gemini,
        LlmProvider::Local,
    ]
    .into_iter()
    .zip(s.by_provider.iter())
    {
        answered += p.successes;
        answer_us += p.answer_us;
        let label = match provider {
            LlmProvider::Claude => "Claude:",
            LlmProvider::Gpt4 => "GPT-4:",
            LlmProvider::Gemini => "Gemini:",
            LlmProvider::Local => "Local:",
        };
        let ratio = {
            let mut b = crate::report::TextBuf(KVec::new());
            let _ = write!(b, "{}/{}", p.successes, p.attempts);
            b.0
        };
        let ratio = core::str::from_utf8(&ratio).unwrap_or("");
        write!(w, "  {label:<10}{ratio:<9}")?;
        match (p.successes * 1000).checked_div(p.attempts) {
            Some(1000) => w.write_str("(100%)\n")?,
            Some(t) => writeln!(w, "({}.{}%)", t / 10, t % 10)?,
            None => w.write_str("(-)\n")?,
        }
    }
    match answer_us.checked_div(answered) {
        Some(us) => writeln!(w, "\nAverage Response Time: {}ms", us / 1000),
        None => w.write_str("\nAverage Response Time: -\n"),
    }
}

/// /proc/agentsys/gateway_status: the helper, and each agent with
/// LlmAccess that `viewer` sees, with its bucket and usage.
pub(crate) fn status_text(asm: &Asm, viewer: &crate::viewer::Viewer, w: &mut impl Write) -> Result {
    // Allocated before RCU; agents registered meanwhile wait for the next
    // read.
    let mut rows = KVVec::with_capacity(asm.registry.len() as usize, GFP_KERNEL)?;
    {
        let rcu = ffi::RcuGuard::new();
        let mut from = 0;
        while let Some(agent) = asm.registry.next(&mut from, &rcu) {
            if agent.capabilities.load(Relaxed) & CAP_LLM_ACCESS == 0 || !viewer.sees(&agent) {
                continue;
            }
            let row = (
                agent.id,
                agent.name,
                BucketView::of(&asm.gateway, &agent),
                agent.llm.counts(),
            );
            // Within the capacity: does not allocate.
            if rows.push(row, GFP_NOWAIT).is_err() {
                break;
            }
        }
    }
    let (helper, in_flight) = {
        let state = asm.gateway.state.lock();
        (
            state.helper,
            state
                .pending
                .iter()
                .flatten()
                .filter(|p| !p.is_done())
                .count(),
        )
    };
    let mut text = || -> core::fmt::Result {
        w.write_str("Gateway Status:\n")?;
        w.write_str("===============\n")?;
        match helper {
            Some(port) => writeln!(w, "{:<20}registered (netlink port {})", "Helper:", port)?,
            None => writeln!(w, "{:<20}not registered", "Helper:")?,
        }
        writeln!(w, "{:<20}{}", "In Flight:", in_flight)?;
        writeln!(
            w,
            "\n{:<8}{:<20}{:>7}{:>7}{:>10}{:>10}{:>14}{:>13}",
            "Agent",
            "Name",
            "Tokens",
            "Burst",
            "Refill/s",
            "Requests",
            "Rate Limited",
            "Tokens Used"
        )?;
        for (id, name, b, u) in rows.iter() {
            let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = core::str::from_utf8(name.get(..len).unwrap_or(&[])).unwrap_or("?");
            writeln!(
                w,
                "{:<8}{:<20}{:>7}{:>7}{:>10}{:>10}{:>14}{:>13}",
                id,
                name,
                b.tokens,
                b.burst,
                b.refill_per_s,
                u.requests,
                u.rate_limited,
                u.tokens_used
            )?;
        }
        Ok(())
    };
    text().map_err(|_| ENOMEM)
}

/// Agent `id`'s bucket now.
pub(crate) fn bucket(asm: &Asm, id: u32) -> Option<BucketView> {
    let rcu = RcuGuard::new();
    let agent = asm.registry.get(id, &rcu)?;
    Some(BucketView::of(&asm.gateway, &agent))
}

/// An agent's bucket, as the views show it: its whole tokens now, its
/// burst and refill per second.
#[derive(Clone, Copy)]
pub(crate) struct BucketView {
    pub(crate) tokens: u64,
    pub(crate) burst: u32,
    pub(crate) refill_per_s: u32,
}

impl BucketView {
    /// `agent`'s bucket now. Does not sleep.
    fn of(gateway: &Gateway, agent: &Agent) -> Self {
        let now = ffi::now_ns();
        let state = gateway.state.lock();
        let b = agent.llm.bucket.access(&state);
        Self {
            tokens: b.level(now) / 1000,
            burst: b.burst,
            refill_per_s: b.refill_per_s,
        }
    }
}

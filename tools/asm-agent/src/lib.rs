// SPDX-License-Identifier: GPL-2.0

//! A client library for agents supervised by the Agent Supervision
//! Module: what a process of an agent tells the module about itself
//! through `/dev/asm`.
//!
//! - [`Agent::operation`] times an operation with an RAII guard
//!   ([`Operation`]): `ASM_PROFILE_BEGIN` when it is made, `ASM_PROFILE_END`
//!   when it is dropped, a success unless [`Operation::fail`] was called or
//!   the thread is panicking. [`Operation::finish`] ends it explicitly and
//!   returns the duration the module recorded, or the error.
//! - [`Agent::record`] reports a sample timed elsewhere (`ASM_PROFILE_RECORD`).
//! - [`Agent::heartbeat`] (`ASM_IOC_HEARTBEAT`) and [`Agent::decision`]
//!   (`ASM_IOC_DECISION`, audited).
//!
//! Every call concerns the caller's own agent: from a process that is not
//! an agent's, the module answers `ESRCH`. Operation names (1 to 31 bytes
//! of `[A-Za-z0-9_.:-]`) and decision texts (at most 127 bytes, no control
//! characters) are checked here before any ioctl, so a bad one is an
//! `EINVAL` [`Error`] without a round trip to the kernel.
//!
//! ```no_run
//! use asm_agent::{Agent, Error};
//! use std::time::Duration;
//!
//! fn main() -> Result<(), Error> {
//!     let agent = Agent::open()?;
//!
//!     // BEGIN now, END (success) when `op` goes out of scope.
//!     {
//!         let _op = agent.operation("plan.step")?;
//!         std::thread::sleep(Duration::from_millis(10));
//!     }
//!
//!     // Mark a failure: END then says success = false.
//!     {
//!         let mut op = agent.operation("cache.read")?;
//!         if std::fs::metadata("/nonexistent").is_err() {
//!             op.fail();
//!         }
//!     }
//!
//!     // End explicitly to see the duration the module recorded, or the error.
//!     let op = agent.operation("tool.call")?;
//!     let ok = std::fs::metadata("/etc/hostname").is_ok();
//!     let took = op.finish(ok)?;
//!     println!("tool.call took {took:?}");
//!
//!     // A sample timed by the caller, a heartbeat, an audited decision.
//!     agent.record("llm.call", Duration::from_millis(3), true)?;
//!     let id = agent.heartbeat()?;
//!     let seq = agent.decision("chose plan B")?;
//!     println!("agent {id}: decision recorded (audit #{seq})");
//!     Ok(())
//! }
//! ```

use asm_abi::{
    profile_op_valid, AsmNote, ASM_NOTE_LEN, ASM_PROFILE_DURATION_MAX, ASM_PROFILE_OP_LEN,
};
use asm_sys::Device;
pub use asm_sys::Errno;
use std::fmt;
use std::thread;
use std::time::Duration;

/// Why a call failed: the errno (from the module, or `EINVAL` for an
/// argument refused before the ioctl) and what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    errno: Errno,
    message: String,
}

impl Error {
    fn new(errno: Errno, message: impl Into<String>) -> Self {
        Self {
            errno,
            message: message.into(),
        }
    }

    /// The errno, e.g. `Errno(libc::ESRCH)` from a process of no agent.
    pub fn errno(&self) -> Errno {
        self.errno
    }

    /// The errno as a number, as [`std::io::Error::raw_os_error`] has it.
    pub fn raw_os_error(&self) -> i32 {
        self.errno.0
    }

    /// What failed, without the errno, e.g. "ending operation rust.work".
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    /// The message and the errno's text and C name, e.g. "heartbeat: No
    /// such process (ESRCH)", with a hint for `ESRCH`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.message, self.errno)?;
        if self.errno == Errno(libc::ESRCH) {
            f.write_str(" (is this process an agent's?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = std::io::Error::from_raw_os_error(e.errno.0).kind();
        std::io::Error::new(kind, e)
    }
}

/// The ioctls the library makes; a trait so that the guard's logic can be
/// tested without the module.
trait Kernel: Send + Sync {
    fn begin(&self) -> Result<u64, Errno>;
    fn end(&self, op: &str, token: u64, success: bool) -> Result<u64, Errno>;
    fn record(&self, op: &str, duration_ns: u64, success: bool) -> Result<(), Errno>;
    fn heartbeat(&self) -> Result<u32, Errno>;
    /// The caller's agent id and the audit entry's seq.
    fn decision(&self, note: &mut AsmNote) -> Result<(), Errno>;
}

impl Kernel for Device {
    fn begin(&self) -> Result<u64, Errno> {
        self.profile_begin()
    }

    fn end(&self, op: &str, token: u64, success: bool) -> Result<u64, Errno> {
        self.profile_end(op, token, success)
    }

    fn record(&self, op: &str, duration_ns: u64, success: bool) -> Result<(), Errno> {
        self.profile_record(op, duration_ns, success)
    }

    fn heartbeat(&self) -> Result<u32, Errno> {
        Device::heartbeat(self)
    }

    fn decision(&self, note: &mut AsmNote) -> Result<(), Errno> {
        Device::decision(self, note)
    }
}

/// Checks an operation name as the module does (`profile_op_valid`).
fn check_op(name: &str) -> Result<(), Error> {
    if profile_op_valid(name.as_bytes()) {
        Ok(())
    } else {
        Err(Error::new(
            Errno(libc::EINVAL),
            format!(
                "invalid operation name {name:?}: 1 to {} bytes of [A-Za-z0-9_.:-]",
                ASM_PROFILE_OP_LEN - 1
            ),
        ))
    }
}

/// Checks a decision's text: it fits the note, and is printable (the
/// module refuses control characters).
fn check_text(text: &str) -> Result<(), Error> {
    let bad = |why: String| Err(Error::new(Errno(libc::EINVAL), why));
    if text.is_empty() {
        return bad("the decision is empty".into());
    }
    if text.len() >= ASM_NOTE_LEN {
        return bad(format!(
            "the decision is {} bytes long, more than {}",
            text.len(),
            ASM_NOTE_LEN - 1
        ));
    }
    if text.chars().any(char::is_control) {
        return bad(
            "the decision must be printable text (no newlines or control characters)".into(),
        );
    }
    Ok(())
}

/// The calling process's agent, through an open `/dev/asm`.
pub struct Agent {
    kernel: Box<dyn Kernel>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

impl Agent {
    /// Opens `/dev/asm` (read-write if allowed, else read-only, as asmctl
    /// does). Opening needs no agent: the calls then fail with `ESRCH` if
    /// the process is not an agent's.
    pub fn open() -> Result<Self, Error> {
        let device = Device::open().map_err(|e| Error::new(e, "opening /dev/asm"))?;
        Ok(Self::from_device(device))
    }

    /// An agent on a `/dev/asm` the caller opened.
    pub fn from_device(device: Device) -> Self {
        Self {
            kernel: Box::new(device),
        }
    }

    /// Begins operation `name` (`ASM_PROFILE_BEGIN`) and returns the guard
    /// that ends it: see [`Operation`]. Fails with `EINVAL` for a name that
    /// is not 1 to 31 bytes of `[A-Za-z0-9_.:-]` (no ioctl is made), or
    /// with the module's errno.
    pub fn operation(&self, name: &str) -> Result<Operation<'_>, Error> {
        check_op(name)?;
        let token = self
            .kernel
            .begin()
            .map_err(|e| Error::new(e, format!("beginning operation {name}")))?;
        Ok(Operation {
            agent: self,
            name: name.to_owned(),
            token,
            failed: false,
            done: false,
        })
    }

    /// Records one sample of operation `name` timed by the caller
    /// (`ASM_PROFILE_RECORD`). `EINVAL` without an ioctl for a bad name or
    /// a duration over an hour (`ASM_PROFILE_DURATION_MAX`).
    pub fn record(&self, name: &str, duration: Duration, success: bool) -> Result<(), Error> {
        check_op(name)?;
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        if ns > ASM_PROFILE_DURATION_MAX {
            return Err(Error::new(
                Errno(libc::EINVAL),
                format!("recording operation {name}: {duration:?} is longer than an hour"),
            ));
        }
        self.kernel
            .record(name, ns, success)
            .map_err(|e| Error::new(e, format!("recording operation {name}")))
    }

    /// Tells the module the caller's agent is alive (`ASM_IOC_HEARTBEAT`);
    /// returns the agent's id.
    pub fn heartbeat(&self) -> Result<u32, Error> {
        self.kernel
            .heartbeat()
            .map_err(|e| Error::new(e, "heartbeat"))
    }

    /// Records a decision of the caller's agent in the audit trail
    /// (`ASM_IOC_DECISION`); returns the audit entry's seq. `EINVAL`
    /// without an ioctl for an empty text, one of more than 127 bytes, or
    /// one with control characters (newlines included).
    pub fn decision(&self, text: &str) -> Result<u64, Error> {
        check_text(text)?;
        let mut note = AsmNote::new(0, 0);
        note.set_text(text.as_bytes())
            .map_err(|e| Error::new(Errno(libc::EINVAL), format!("the decision {e}")))?;
        self.kernel
            .decision(&mut note)
            .map_err(|e| Error::new(e, "recording the decision"))?;
        Ok(note.audit_seq)
    }
}

/// An operation being timed: begun by [`Agent::operation`], ended
/// (`ASM_PROFILE_END`) exactly once, by [`Operation::finish`] or
/// [`Operation::finish_default`], or else when dropped.
///
/// When dropped, it ends as a success unless [`Operation::fail`] was
/// called or the thread is panicking; an error from the module is then
/// lost (a destructor cannot return it): call a finish method to see it.
#[must_use = "the operation ends when this guard is dropped: bind it with `let _op = ...`"]
#[derive(Debug)]
pub struct Operation<'a> {
    agent: &'a Agent,
    name: String,
    token: u64,
    failed: bool,
    done: bool,
}

impl Operation<'_> {
    /// The operation's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Marks the operation failed: it will end with success = false.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// Whether it would end as a failure now ([`Operation::fail`] was
    /// called, or the thread is panicking).
    pub fn failed(&self) -> bool {
        self.failed || thread::panicking()
    }

    /// Ends the operation with `success` (which overrides
    /// [`Operation::fail`]) and returns the duration the module recorded.
    pub fn finish(mut self, success: bool) -> Result<Duration, Error> {
        self.end(success)
    }

    /// Ends the operation as dropping it would: a success unless
    /// [`Operation::fail`] was called.
    pub fn finish_default(mut self) -> Result<Duration, Error> {
        let success = !self.failed();
        self.end(success)
    }

    fn end(&mut self, success: bool) -> Result<Duration, Error> {
        self.done = true;
        self.agent
            .kernel
            .end(&self.name, self.token, success)
            .map(Duration::from_nanos)
            .map_err(|e| Error::new(e, format!("ending operation {}", self.name)))
    }
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        if !self.done {
            let success = !self.failed();
            // Nowhere to report an error from a destructor.
            let _ = self.end(success);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Call {
        Begin,
        End(String, u64, bool),
        Record(String, u64, bool),
        Heartbeat,
        Decision(Vec<u8>),
    }

    /// Records the calls; BEGIN returns 99 + the number of calls so far
    /// as the token; END says the operation took 7 ms; `fail` makes every
    /// call fail with it, `fail_end` END only.
    #[derive(Default)]
    struct Mock {
        calls: Arc<Mutex<Vec<Call>>>,
        fail: Option<Errno>,
        fail_end: Option<Errno>,
    }

    impl Mock {
        fn push(&self, call: Call) -> Result<(), Errno> {
            self.calls.lock().unwrap().push(call);
            self.fail.map_or(Ok(()), Err)
        }
    }

    impl Kernel for Mock {
        fn begin(&self) -> Result<u64, Errno> {
            self.push(Call::Begin)?;
            let n = self.calls.lock().unwrap().len() as u64;
            Ok(99 + n)
        }

        fn end(&self, op: &str, token: u64, success: bool) -> Result<u64, Errno> {
            self.push(Call::End(op.into(), token, success))?;
            self.fail_end.map_or(Ok(7_000_000), Err)
        }

        fn record(&self, op: &str, duration_ns: u64, success: bool) -> Result<(), Errno> {
            self.push(Call::Record(op.into(), duration_ns, success))
        }

        fn heartbeat(&self) -> Result<u32, Errno> {
            self.push(Call::Heartbeat)?;
            Ok(7801)
        }

        fn decision(&self, note: &mut AsmNote) -> Result<(), Errno> {
            let text = note.text.split(|&b| b == 0).next().unwrap().to_vec();
            self.push(Call::Decision(text))?;
            note.agent_id = 7801;
            note.audit_seq = 42;
            Ok(())
        }
    }

    fn mock(fail: Option<Errno>) -> (Agent, Arc<Mutex<Vec<Call>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let kernel = Mock {
            calls: Arc::clone(&calls),
            fail,
            fail_end: None,
        };
        let agent = Agent {
            kernel: Box::new(kernel),
        };
        (agent, calls)
    }

    fn taken(calls: &Arc<Mutex<Vec<Call>>>) -> Vec<Call> {
        std::mem::take(&mut *calls.lock().unwrap())
    }

    fn end(op: &str, token: u64, success: bool) -> Call {
        Call::End(op.into(), token, success)
    }

    #[test]
    fn guard_ends_once_as_a_success_on_drop() {
        let (agent, calls) = mock(None);
        {
            let op = agent.operation("rust.work").unwrap();
            assert_eq!(op.name(), "rust.work");
            assert!(!op.failed());
            assert_eq!(taken(&calls), [Call::Begin]);
        }
        assert_eq!(taken(&calls), [end("rust.work", 100, true)]);
    }

    #[test]
    fn fail_marks_the_drop_a_failure() {
        let (agent, calls) = mock(None);
        let mut op = agent.operation("a").unwrap();
        op.fail();
        assert!(op.failed());
        drop(op);
        assert_eq!(taken(&calls), [Call::Begin, end("a", 100, false)]);
    }

    #[test]
    fn panicking_thread_ends_it_failed() {
        let (agent, calls) = mock(None);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _op = agent.operation("boom").unwrap();
            panic!("inside the operation");
        }));
        assert!(r.is_err());
        assert_eq!(taken(&calls), [Call::Begin, end("boom", 100, false)]);
    }

    #[test]
    fn finish_ends_explicitly_and_not_again() {
        let (agent, calls) = mock(None);
        let mut op = agent.operation("x:y-z_1").unwrap();
        op.fail();
        // An explicit success overrides fail().
        assert_eq!(op.finish(true), Ok(Duration::from_millis(7)));
        let op = agent.operation("b").unwrap();
        assert_eq!(op.finish(false), Ok(Duration::from_millis(7)));
        let mut op = agent.operation("c").unwrap();
        op.fail();
        assert_eq!(op.finish_default(), Ok(Duration::from_millis(7)));
        assert_eq!(
            taken(&calls),
            [
                Call::Begin,
                end("x:y-z_1", 100, true),
                Call::Begin,
                end("b", 102, false),
                Call::Begin,
                end("c", 104, false),
            ]
        );
    }

    #[test]
    fn bad_names_are_refused_before_the_ioctl() {
        let (agent, calls) = mock(None);
        for name in ["", "has space", "slash/", "é", &"n".repeat(32)] {
            let e = agent.operation(name).unwrap_err();
            assert_eq!(e.errno(), Errno(libc::EINVAL), "{name:?}");
            assert!(e.message().contains("invalid operation name"), "{e}");
            let e = agent
                .record(name, Duration::from_millis(1), true)
                .unwrap_err();
            assert_eq!(e.raw_os_error(), libc::EINVAL);
        }
        assert!(agent.operation(&"n".repeat(31)).is_ok());
        assert_eq!(
            taken(&calls),
            [Call::Begin, end(&"n".repeat(31), 100, true)]
        );
    }

    #[test]
    fn record_passes_nanoseconds_and_refuses_over_an_hour() {
        let (agent, calls) = mock(None);
        agent
            .record("rust.record", Duration::from_millis(3), true)
            .unwrap();
        agent.record("r", Duration::from_secs(3600), false).unwrap();
        let e = agent
            .record(
                "r",
                Duration::from_secs(3600) + Duration::from_nanos(1),
                true,
            )
            .unwrap_err();
        assert_eq!(e.errno(), Errno(libc::EINVAL));
        assert!(agent.record("r", Duration::MAX, true).is_err());
        assert_eq!(
            taken(&calls),
            [
                Call::Record("rust.record".into(), 3_000_000, true),
                Call::Record("r".into(), ASM_PROFILE_DURATION_MAX, false),
            ]
        );
    }

    #[test]
    fn heartbeat_and_decision() {
        let (agent, calls) = mock(None);
        assert_eq!(agent.heartbeat(), Ok(7801));
        assert_eq!(agent.decision("rust demo done"), Ok(42));
        let longest = "d".repeat(ASM_NOTE_LEN - 1);
        assert_eq!(agent.decision(&longest), Ok(42));
        for bad in ["", "two\nlines", "tab\there", &"d".repeat(ASM_NOTE_LEN)] {
            let e = agent.decision(bad).unwrap_err();
            assert_eq!(e.errno(), Errno(libc::EINVAL), "{bad:?}");
        }
        assert_eq!(
            taken(&calls),
            [
                Call::Heartbeat,
                Call::Decision(b"rust demo done".to_vec()),
                Call::Decision(longest.into_bytes()),
            ]
        );
    }

    #[test]
    fn errors_carry_the_errno_and_what_failed() {
        let (agent, calls) = mock(Some(Errno(libc::ESRCH)));
        let e = agent.operation("w").unwrap_err();
        assert_eq!(e.errno(), Errno(libc::ESRCH));
        assert_eq!(e.message(), "beginning operation w");
        assert!(e.to_string().starts_with("beginning operation w: "), "{e}");
        assert!(e.to_string().contains("(ESRCH)"), "{e}");
        assert!(
            e.to_string().ends_with("(is this process an agent's?)"),
            "{e}"
        );
        assert_eq!(agent.heartbeat().unwrap_err().message(), "heartbeat");
        let e = agent.decision("x").unwrap_err();
        assert_eq!(e.message(), "recording the decision");
        let e = agent
            .record("w", Duration::from_millis(1), true)
            .unwrap_err();
        assert_eq!(e.message(), "recording operation w");
        let io: std::io::Error = e.into();
        assert!(
            io.to_string().starts_with("recording operation w: "),
            "{io}"
        );
        let io: std::io::Error = agent.operation("?").unwrap_err().into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(taken(&calls).len(), 4);
    }

    #[test]
    fn end_errors_reach_finish_and_are_dropped_on_drop() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let agent = Agent {
            kernel: Box::new(Mock {
                calls: Arc::clone(&calls),
                fail: None,
                fail_end: Some(Errno(libc::EINVAL)),
            }),
        };
        let e = agent.operation("e").unwrap().finish(true).unwrap_err();
        assert_eq!(e.message(), "ending operation e");
        assert_eq!(e.errno(), Errno(libc::EINVAL));
        drop(agent.operation("f").unwrap());
        assert_eq!(
            taken(&calls),
            [
                Call::Begin,
                end("e", 100, true),
                Call::Begin,
                end("f", 102, true)
            ]
        );
    }

    #[test]
    fn open_without_the_module() {
        if std::path::Path::new(asm_abi::ASM_DEVICE_PATH).exists() {
            return asm_testutil::skip("open_without_the_module", "/dev/asm exists");
        }
        let e = Agent::open().unwrap_err();
        assert_eq!(e.errno(), Errno(libc::ENOENT));
        assert_eq!(e.message(), "opening /dev/asm");
    }
}

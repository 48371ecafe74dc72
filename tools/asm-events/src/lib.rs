// SPDX-License-Identifier: GPL-2.0

//! The module's lifecycle events over generic netlink, on neli: the `asm`
//! family's `events` group resolved through the controller and joined,
//! each `ASM_CMD_EVENT` message decoded into an [`Event`], and the event
//! numbers (`ASM_A_SEQ`) checked so that a lost event is reported, never
//! silently skipped.
//!
//! The decoding is pure ([`decode`]), so its tests need no kernel.
//! Joining the group needs `CAP_NET_ADMIN` (the events name other users'
//! agents and processes): without it [`Subscription::open`] fails with
//! `EPERM`.

use std::fmt;
use std::io::{self, Cursor};
use std::os::fd::{AsRawFd, RawFd};

use neli::consts::genl::{Cmd, CtrlAttr, CtrlCmd, NlAttrType};
use neli::consts::socket::NlFamily;
use neli::err::RouterError;
use neli::genl::Genlmsghdr;
use neli::neli_enum;
use neli::nl::{NlPayload, Nlmsghdr};
use neli::router::synchronous::NlRouter;
use neli::socket::NlSocket;
use neli::utils::Groups;
use neli::FromBytes;

use asm_abi as abi;

/// `enum asm_genl_cmd`: only events come on the events group.
#[neli_enum(serialized_type = "u8")]
pub enum EvCmd {
    /// Unused.
    Unspec = abi::ASM_CMD_UNSPEC,
    /// One event.
    Event = abi::ASM_CMD_EVENT,
}

impl Cmd for EvCmd {}

/// The attributes of `ASM_CMD_EVENT`.
#[neli_enum(serialized_type = "u16")]
pub enum EvAttr {
    /// Unused.
    Unspec = abi::ASM_A_UNSPEC,
    /// Alignment padding of the u64 attributes.
    Pad = abi::ASM_A_PAD,
    /// u64: the event's number since the module was loaded.
    Seq = abi::ASM_A_SEQ,
    /// u64: `CLOCK_BOOTTIME` nanoseconds.
    TimestampNs = abi::ASM_A_TIMESTAMP_NS,
    /// u32: an `ASM_EV_*` type.
    EventType = abi::ASM_A_EVENT_TYPE,
    /// u32.
    AgentId = abi::ASM_A_AGENT_ID,
    /// s32, in the initial pid namespace; 0 if none.
    Pid = abi::ASM_A_PID,
    /// s32.
    ExitCode = abi::ASM_A_EXIT_CODE,
    /// s32.
    Signal = abi::ASM_A_SIGNAL,
    /// u32: an `ASM_FAULT_*` type, or the LLM provider of `ASM_EV_LLM`.
    Fault = abi::ASM_A_FAULT,
    /// u32: an `ASM_ACTION_*` value.
    Action = abi::ASM_A_ACTION,
    /// u64.
    Value = abi::ASM_A_VALUE,
    /// u64.
    Limit = abi::ASM_A_LIMIT,
}

impl NlAttrType for EvAttr {}

type EvMsg = Nlmsghdr<u16, Genlmsghdr<EvCmd, EvAttr>>;
/// The generic netlink controller's notices (`nlctrl`'s `notify` group).
type CtrlMsg = Nlmsghdr<u16, Genlmsghdr<CtrlCmd, CtrlAttr>>;

/// `GENL_ID_CTRL`: the controller's family id.
const GENL_ID_CTRL: u16 = libc::GENL_ID_CTRL as u16;

/// One event, with every attribute the module sends (0 for one a message
/// left out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event {
    /// `ASM_A_SEQ`: numbers the events from 0 since the module was loaded.
    pub seq: u64,
    /// `ASM_A_TIMESTAMP_NS`: `CLOCK_BOOTTIME`.
    pub timestamp_ns: u64,
    /// `ASM_A_EVENT_TYPE`: an `ASM_EV_*` value.
    pub kind: u32,
    /// `ASM_A_AGENT_ID`.
    pub agent_id: u32,
    /// `ASM_A_PID`, in the initial pid namespace.
    pub pid: i32,
    /// `ASM_A_EXIT_CODE`: EXIT and CRASH; the -errno of an LLM request.
    pub exit_code: i32,
    /// `ASM_A_SIGNAL`.
    pub signal: i32,
    /// `ASM_A_FAULT`: the fault type; for `ASM_EV_LLM`, the provider that
    /// answered.
    pub fault: u32,
    /// `ASM_A_ACTION`.
    pub action: u32,
    /// `ASM_A_VALUE`: the observed value of a fault, the restart count of
    /// the restart events, the tokens of an LLM request, the dependency of
    /// the dependency events.
    pub value: u64,
    /// `ASM_A_LIMIT`: the limit of a fault, the restart budget, an LLM
    /// request's duration in microseconds, the grace of a cascade or hold.
    pub limit: u64,
}

/// What the events socket delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An event.
    Event(Event),
    /// Events `first` to `last` (inclusive) never arrived: the ring
    /// overwrote them before they were sent, or the socket's buffer was
    /// full.
    Lost { first: u64, last: u64 },
    /// The numbers started again at `seq`: the module was reloaded.
    Renumbered { seq: u64 },
    /// The socket's buffer overflowed (`ENOBUFS`); the next event's number
    /// tells how many were lost.
    Overrun,
    /// The module's family went away (the module was unloaded): no event
    /// comes on this subscription any more.
    Unloaded,
    /// A message that could not be decoded, and why.
    Malformed(String),
}

/// Watches the event numbers: the module numbers its events from 0, so
/// anything but the previous number plus one means events were lost, or
/// the module was loaded again.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeqTracker {
    last: Option<u64>,
}

impl SeqTracker {
    /// Records `seq`; the notice of a gap before it, if any. The first
    /// number sets the baseline: the events before the subscription are
    /// none of the subscriber's business.
    pub fn observe(&mut self, seq: u64) -> Option<Notice> {
        let expected = self.last.map(|last| last.wrapping_add(1));
        self.last = Some(seq);
        match expected {
            Some(e) if seq > e => Some(Notice::Lost {
                first: e,
                last: seq - 1,
            }),
            Some(e) if seq < e => Some(Notice::Renumbered { seq }),
            _ => None,
        }
    }
}

/// Decodes one datagram of the events socket (the family's id is
/// `family`): its events, each after the notice of a gap before it.
/// Messages of other families and commands are skipped; attributes this
/// decoder does not know too, so a newer module can add some.
pub fn decode(dgram: &[u8], family: u16, seq: &mut SeqTracker) -> Vec<Notice> {
    let mut out = Vec::new();
    let mut c = Cursor::new(dgram);
    while (c.position() as usize) < dgram.len() {
        // The controller's notice that a family went away.
        let at = c.position() as usize;
        if dgram.get(at + 4..at + 6) == Some(&GENL_ID_CTRL.to_ne_bytes()[..]) {
            match CtrlMsg::from_bytes(&mut c) {
                Ok(msg) => {
                    if let NlPayload::Payload(g) = msg.nl_payload() {
                        let gone = g
                            .attrs()
                            .get_attr_handle()
                            .get_attr_payload_as::<u16>(CtrlAttr::FamilyId)
                            .is_ok_and(|id| id == family);
                        if *g.cmd() == CtrlCmd::Delfamily && gone {
                            out.push(Notice::Unloaded);
                        }
                    }
                    continue;
                }
                Err(e) => {
                    out.push(Notice::Malformed(format!("a controller datagram: {e}")));
                    break;
                }
            }
        }
        let msg = match EvMsg::from_bytes(&mut c) {
            Ok(msg) => msg,
            Err(e) => {
                // The rest of the datagram cannot be framed any more.
                out.push(Notice::Malformed(format!("an events datagram: {e}")));
                break;
            }
        };
        if *msg.nl_type() != family {
            continue;
        }
        let NlPayload::Payload(g) = msg.nl_payload() else {
            continue;
        };
        if *g.cmd() != EvCmd::Event {
            continue;
        }
        match event(g) {
            Ok(ev) => {
                out.extend(seq.observe(ev.seq));
                out.push(Notice::Event(ev));
            }
            Err(e) => out.push(Notice::Malformed(e)),
        }
    }
    out
}

/// The attributes of one `ASM_CMD_EVENT`.
fn event(g: &Genlmsghdr<EvCmd, EvAttr>) -> Result<Event, String> {
    let h = g.attrs().get_attr_handle();
    let bytes = |t: EvAttr, n: usize| -> Option<Vec<u8>> {
        let a = h.get_attribute(t)?;
        a.nla_payload().as_ref().get(..n).map(<[u8]>::to_vec)
    };
    let u64_of = |t| {
        bytes(t, 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes)
    };
    let u32_of = |t| {
        bytes(t, 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    let i32_of = |t| {
        bytes(t, 4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_ne_bytes)
    };
    let required = |v: Option<u64>, what: &str| v.ok_or(format!("an event without {what}"));
    Ok(Event {
        seq: required(u64_of(EvAttr::Seq), "ASM_A_SEQ")?,
        timestamp_ns: u64_of(EvAttr::TimestampNs).unwrap_or(0),
        kind: u32_of(EvAttr::EventType).ok_or("an event without ASM_A_EVENT_TYPE")?,
        agent_id: u32_of(EvAttr::AgentId).ok_or("an event without ASM_A_AGENT_ID")?,
        pid: i32_of(EvAttr::Pid).unwrap_or(0),
        exit_code: i32_of(EvAttr::ExitCode).unwrap_or(0),
        signal: i32_of(EvAttr::Signal).unwrap_or(0),
        fault: u32_of(EvAttr::Fault).unwrap_or(0),
        action: u32_of(EvAttr::Action).unwrap_or(0),
        value: u64_of(EvAttr::Value).unwrap_or(0),
        limit: u64_of(EvAttr::Limit).unwrap_or(0),
    })
}

/// What failed, and its errno when it had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    what: String,
    errno: Option<i32>,
}

impl Error {
    fn io(what: &str, e: &io::Error) -> Self {
        Self {
            what: format!("{what}: {e}"),
            errno: e.raw_os_error(),
        }
    }

    /// The errno, if the failure had one (`EPERM`: no `CAP_NET_ADMIN`).
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Error {}

/// Large enough for any datagram the module sends: one event is about 150
/// bytes, and a read may return one message only.
const RECV_BUF: usize = 64 * 1024;
/// The socket buffer asked for: room for thousands of events while the
/// reader is busy.
const SOCKET_RCVBUF: usize = 4 << 20;

/// A socket in the module's events group.
pub struct Subscription {
    sock: NlSocket,
    family: u16,
    buf: Vec<u8>,
    seq: SeqTracker,
}

impl Subscription {
    /// Resolves the `asm` family and its `events` group, and joins it,
    /// and the controller's `notify` group, which says when the family
    /// goes away.
    pub fn open() -> Result<Self, Error> {
        let (family, group, notify) = resolve()?;
        let sock = NlSocket::connect(NlFamily::Generic, Some(0), Groups::empty())
            .map_err(|e| Error::io("netlink socket", &e))?;
        // Connected to the kernel, the socket takes unicast from no other
        // process (ECONNREFUSED for the sender): a local process cannot
        // fill its buffer with forgeries so that real events are lost.
        let kernel = kernel_addr();
        // SAFETY: the address is readable for the length passed and the fd
        // is the socket's.
        let err = unsafe {
            libc::connect(
                sock.as_raw_fd(),
                std::ptr::from_ref(&kernel).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if err != 0 {
            return Err(Error::io(
                "connecting the events socket to the kernel",
                &io::Error::last_os_error(),
            ));
        }
        sock.add_mcast_membership(Groups::new_groups(&[notify]))
            .map_err(|e| Error::io("joining the generic netlink controller's notify group", &e))?;
        // A larger buffer only makes an overrun rarer; one is reported.
        let _ = sock.set_recv_buffer_size(SOCKET_RCVBUF);
        sock.add_mcast_membership(Groups::new_groups(&[group]))
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EPERM) => Error {
                    what: format!("joining the asm events group needs CAP_NET_ADMIN: {e}"),
                    errno: Some(libc::EPERM),
                },
                _ => Error::io("joining the asm events group", &e),
            })?;
        Ok(Self {
            sock,
            family,
            buf: vec![0; RECV_BUF],
            seq: SeqTracker::default(),
        })
    }

    /// Waits for the next datagram and returns what it brought (possibly
    /// nothing: a message of no interest). `EINTR` returns nothing too, so
    /// that the caller can look at its signals.
    ///
    /// Only the kernel's datagrams count: any local process may send one
    /// to this socket's port, and a forged event must not pass for the
    /// module's.
    pub fn recv(&mut self) -> Result<Vec<Notice>, Error> {
        let mut addr = kernel_addr();
        let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // MSG_TRUNC: the datagram's real length, to tell a cut one.
        // SAFETY: `buf` is writable for its length, `addr` for `len` bytes,
        // and the fd is the socket's for the duration of the call.
        let n = unsafe {
            libc::recvfrom(
                self.sock.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                libc::MSG_TRUNC,
                std::ptr::from_mut(&mut addr).cast(),
                &mut len,
            )
        };
        let Ok(n) = usize::try_from(n) else {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOBUFS) => Ok(vec![Notice::Overrun]),
                Some(libc::EINTR) => Ok(Vec::new()),
                _ => Err(Error::io("netlink receive", &e)),
            };
        };
        if addr.nl_pid != 0 {
            return Ok(vec![Notice::Malformed(format!(
                "a datagram from netlink port {} (not the kernel) was ignored",
                addr.nl_pid
            ))]);
        }
        if n > self.buf.len() {
            return Ok(vec![Notice::Malformed(format!(
                "a datagram of {n} bytes was cut to {}",
                self.buf.len()
            ))]);
        }
        Ok(decode(&self.buf[..n], self.family, &mut self.seq))
    }
}

impl AsRawFd for Subscription {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// The kernel's netlink address (port 0, no groups).
fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: all-zero bytes are a valid sockaddr_nl.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}

/// The `asm` family's id, its `events` group's id, and the controller's
/// `notify` group's id, from the generic netlink controller.
fn resolve() -> Result<(u16, u32, u32), Error> {
    let (router, _) =
        NlRouter::connect(NlFamily::Generic, Some(0), Groups::empty()).map_err(|e| Error {
            what: format!("netlink socket: {e}"),
            errno: None,
        })?;
    // The controller's errno, without neli's dump of the request.
    fn brief<T, P>(what: &str, e: RouterError<T, P>) -> Error
    where
        RouterError<T, P>: fmt::Display,
    {
        match e {
            RouterError::Nlmsgerr(m) => {
                let errno = m.error().saturating_abs();
                Error {
                    what: format!("{what}: {}", io::Error::from_raw_os_error(errno)),
                    errno: Some(errno),
                }
            }
            e => Error {
                what: format!("{what}: {e}"),
                errno: None,
            },
        }
    }
    let family = router
        .resolve_genl_family(abi::ASM_GENL_NAME)
        .map_err(|e| brief("the asm generic netlink family (is asm.ko loaded?)", e))?;
    let group = router
        .resolve_nl_mcast_group(abi::ASM_GENL_NAME, abi::ASM_GENL_MCGRP_EVENTS)
        .map_err(|e| brief("the asm family's events group", e))?;
    let notify = router
        .resolve_nl_mcast_group("nlctrl", "notify")
        .map_err(|e| brief("the generic netlink controller's notify group", e))?;
    Ok((family, group, notify))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: u16 = 0x1c;

    fn nla(t: u16, payload: &[u8]) -> Vec<u8> {
        let len = 4 + payload.len();
        let mut v = Vec::new();
        v.extend_from_slice(&(len as u16).to_ne_bytes());
        v.extend_from_slice(&t.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize(len.next_multiple_of(4), 0);
        v
    }

    /// One netlink message of family `ty` with command `cmd` and `attrs`.
    fn msg(ty: u16, cmd: u8, attrs: &[u8]) -> Vec<u8> {
        let len = 16 + 4 + attrs.len();
        let mut v = Vec::new();
        v.extend_from_slice(&(len as u32).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&[cmd, abi::ASM_GENL_VERSION, 0, 0]);
        v.extend_from_slice(attrs);
        v
    }

    /// An event message as the shim builds it (every attribute).
    fn event_msg(seq: u64, kind: u32, agent: u32, value: u64, limit: u64) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend(nla(abi::ASM_A_SEQ, &seq.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_TIMESTAMP_NS, &123_456_789u64.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_EVENT_TYPE, &kind.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_AGENT_ID, &agent.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_PID, &4242i32.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_EXIT_CODE, &(-3i32).to_ne_bytes()));
        a.extend(nla(abi::ASM_A_SIGNAL, &9i32.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_FAULT, &2u32.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_ACTION, &3u32.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_VALUE, &value.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_LIMIT, &limit.to_ne_bytes()));
        msg(FAMILY, abi::ASM_CMD_EVENT, &a)
    }

    #[test]
    fn every_attribute_decodes() {
        let mut seq = SeqTracker::default();
        let got = decode(
            &event_msg(7, abi::ASM_EV_FAULT, 100, 300, 200),
            FAMILY,
            &mut seq,
        );
        assert_eq!(
            got,
            [Notice::Event(Event {
                seq: 7,
                timestamp_ns: 123_456_789,
                kind: abi::ASM_EV_FAULT,
                agent_id: 100,
                pid: 4242,
                exit_code: -3,
                signal: 9,
                fault: 2,
                action: 3,
                value: 300,
                limit: 200,
            })]
        );
    }

    #[test]
    fn unknown_and_padding_attributes_are_skipped() {
        let mut a = nla(abi::ASM_A_PAD, &[]);
        a.extend(nla(abi::ASM_A_SEQ, &1u64.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_EVENT_TYPE, &abi::ASM_EV_SPAWN.to_ne_bytes()));
        a.extend(nla(abi::ASM_A_AGENT_ID, &5u32.to_ne_bytes()));
        a.extend(nla(200, b"future"));
        let got = decode(
            &msg(FAMILY, abi::ASM_CMD_EVENT, &a),
            FAMILY,
            &mut SeqTracker::default(),
        );
        assert_eq!(
            got,
            [Notice::Event(Event {
                seq: 1,
                kind: abi::ASM_EV_SPAWN,
                agent_id: 5,
                ..Event::default()
            })]
        );
    }

    #[test]
    fn other_families_and_commands_are_skipped() {
        let mut d = msg(FAMILY + 1, abi::ASM_CMD_EVENT, &[]);
        d.extend(msg(
            FAMILY,
            abi::ASM_CMD_GW_NOTIFY,
            &nla(abi::ASM_A_REQ_ID, &1u64.to_ne_bytes()),
        ));
        d.extend(event_msg(3, abi::ASM_EV_EXIT, 9, 0, 0));
        let got = decode(&d, FAMILY, &mut SeqTracker::default());
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(got[0], Notice::Event(Event { seq: 3, .. })));
    }

    #[test]
    fn an_event_without_its_type_is_malformed() {
        let mut a = nla(abi::ASM_A_SEQ, &1u64.to_ne_bytes());
        a.extend(nla(abi::ASM_A_AGENT_ID, &5u32.to_ne_bytes()));
        let got = decode(
            &msg(FAMILY, abi::ASM_CMD_EVENT, &a),
            FAMILY,
            &mut SeqTracker::default(),
        );
        assert_eq!(
            got,
            [Notice::Malformed(
                "an event without ASM_A_EVENT_TYPE".into()
            )]
        );
        let got = decode(&[1, 2, 3], FAMILY, &mut SeqTracker::default());
        assert!(matches!(&got[..], [Notice::Malformed(_)]), "{got:?}");
    }

    #[test]
    fn the_family_going_away() {
        let id = |f: u16| nla(1, &f.to_ne_bytes());
        let mut d = msg(GENL_ID_CTRL, 2, &id(FAMILY + 1));
        d.extend(msg(GENL_ID_CTRL, 1, &id(FAMILY)));
        d.extend(msg(GENL_ID_CTRL, 2, &id(FAMILY)));
        assert_eq!(
            decode(&d, FAMILY, &mut SeqTracker::default()),
            [Notice::Unloaded]
        );
    }

    #[test]
    fn gaps_and_renumbering() {
        let mut seq = SeqTracker::default();
        let mut d = event_msg(10, abi::ASM_EV_SPAWN, 1, 0, 0);
        d.extend(event_msg(11, abi::ASM_EV_EXEC, 1, 0, 0));
        d.extend(event_msg(14, abi::ASM_EV_EXIT, 1, 0, 0));
        let kinds: Vec<String> = decode(&d, FAMILY, &mut seq)
            .iter()
            .map(|n| match n {
                Notice::Event(e) => format!("event {}", e.seq),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "event 10",
                "event 11",
                "Lost { first: 12, last: 13 }",
                "event 14"
            ]
        );
        let got = decode(
            &event_msg(0, abi::ASM_EV_REGISTER, 1, 0, 0),
            FAMILY,
            &mut seq,
        );
        assert_eq!(got[0], Notice::Renumbered { seq: 0 });
        assert_eq!(
            decode(&event_msg(1, abi::ASM_EV_SPAWN, 1, 0, 0), FAMILY, &mut seq).len(),
            1
        );
    }

    /// Joining needs the module (and CAP_NET_ADMIN): without the family the
    /// error says so.
    #[test]
    fn open_without_the_module() {
        if std::path::Path::new("/dev/asm").exists() {
            asm_testutil::skip("open_without_the_module", "/dev/asm exists");
            return;
        }
        let Err(e) = Subscription::open() else {
            panic!("subscribed without the module");
        };
        assert!(e.to_string().contains("is asm.ko loaded?"), "{e}");
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The module's generic netlink family, as asmd uses it: resolving the
//! family and its "events" group through the generic netlink controller,
//! subscribing, and decoding `ASM_CMD_EVENT` messages into [`Event`]s, with
//! the sequence numbers checked for lost events.

use crate::error::Error;
use crate::nlattr::{self, Builder, Message, ParseError, NLMSG_ERROR, NLM_F_REQUEST};
use crate::sys::{self, Errno, NlSocket};
use asm_abi::{
    ASM_A_AGENT_ID, ASM_A_EVENT_TYPE, ASM_A_FAULT, ASM_A_LIMIT, ASM_A_PID, ASM_A_SEQ, ASM_A_SIGNAL,
    ASM_A_VALUE, ASM_CMD_EVENT,
};

/// `GENL_ID_CTRL`: the controller's family id.
const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_NEWFAMILY`: the controller's answer.
const CTRL_CMD_NEWFAMILY: u8 = 1;
/// `CTRL_CMD_GETFAMILY`.
const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_ID`: u16.
const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME`: string.
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `CTRL_ATTR_MCAST_GROUPS`: nested array of nested groups.
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
/// `CTRL_ATTR_MCAST_GRP_NAME`: string.
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
/// `CTRL_ATTR_MCAST_GRP_ID`: u32.
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
/// `GENL_HDRLEN`: cmd u8, version u8, reserved u16.
const GENL_HDRLEN: usize = 4;
/// The controller's interface version this request is written for.
const CTRL_VERSION: u8 = 1;

/// The `CTRL_CMD_GETFAMILY` request for family `name`.
pub fn getfamily_request(name: &str, seq: u32) -> Vec<u8> {
    Builder::new(GENL_ID_CTRL, NLM_F_REQUEST, seq)
        .raw(&[CTRL_CMD_GETFAMILY, CTRL_VERSION, 0, 0])
        .attr_str(CTRL_ATTR_FAMILY_NAME, name)
        .finish()
}

/// A generic netlink family as the controller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Its id: the `nlmsg_type` of its messages.
    pub id: u16,
    /// Its multicast groups: name and id.
    pub groups: Vec<(String, u32)>,
}

impl Family {
    /// The id of group `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }
}

/// The generic netlink header's command and the attributes after it.
fn genl_payload<'a>(msg: &Message<'a>) -> Result<(u8, &'a [u8]), ParseError> {
    if msg.payload.len() < GENL_HDRLEN {
        return Err(ParseError::Short {
            what: "generic netlink message",
            len: msg.payload.len(),
        });
    }
    Ok((msg.payload[0], &msg.payload[GENL_HDRLEN..]))
}

/// The controller's answer to a GETFAMILY request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtrlReply {
    /// The family exists.
    Family(Family),
    /// The request failed with this errno (`ENOENT`: no such family).
    Error(i32),
}

/// Decodes a message received after a GETFAMILY request: `None` for one that
/// is not the answer (another type, or not `CTRL_CMD_NEWFAMILY`).
pub fn parse_ctrl_reply(msg: &Message<'_>) -> Result<Option<CtrlReply>, ParseError> {
    if msg.ty == NLMSG_ERROR {
        let code = msg.error_code()?;
        // 0 is an ack, which a request without NLM_F_ACK does not get.
        return Ok((code != 0).then(|| CtrlReply::Error(code.saturating_neg())));
    }
    if msg.ty != GENL_ID_CTRL {
        return Ok(None);
    }
    let (cmd, payload) = genl_payload(msg)?;
    if cmd != CTRL_CMD_NEWFAMILY {
        return Ok(None);
    }
    let mut id = None;
    let mut groups = Vec::new();
    for attr in nlattr::attrs(payload) {
        let attr = attr?;
        match attr.ty {
            CTRL_ATTR_FAMILY_ID => id = Some(attr.u16()?),
            CTRL_ATTR_MCAST_GROUPS => {
                for group in attr.nested() {
                    let (mut name, mut gid) = (None, None);
                    for a in group?.nested() {
                        let a = a?;
                        match a.ty {
                            CTRL_ATTR_MCAST_GRP_NAME => name = Some(a.str()?.to_owned()),
                            CTRL_ATTR_MCAST_GRP_ID => gid = Some(a.u32()?),
                            _ => {}
                        }
                    }
                    if let (Some(name), Some(gid)) = (name, gid) {
                        groups.push((name, gid));
                    }
                }
            }
            _ => {}
        }
    }
    let id = id.ok_or(ParseError::Missing {
        what: "CTRL_ATTR_FAMILY_ID",
    })?;
    Ok(Some(CtrlReply::Family(Family { id, groups })))
}

/// One lifecycle event of the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// `ASM_A_SEQ`, if the message had one.
    pub seq: Option<u64>,
    /// `ASM_A_EVENT_TYPE`: an `ASM_EV_*` value.
    pub kind: u32,
    /// `ASM_A_AGENT_ID`.
    pub agent_id: u32,
    /// `ASM_A_PID` (0 if none or absent).
    pub pid: i32,
    /// `ASM_A_SIGNAL` (0 if none or absent): for `ASM_EV_CASCADE` and
    /// `ASM_EV_DEP_LOST`, the signal the agent's processes were sent.
    pub signal: i32,
    /// `ASM_A_FAULT` (0 if absent); for `ASM_EV_LLM`, the provider that
    /// answered.
    pub fault: u32,
    /// `ASM_A_VALUE`: the restart count for the restart events; the
    /// tokens used for `ASM_EV_LLM`; the dependency for the dependency
    /// events.
    pub value: u64,
    /// `ASM_A_LIMIT`: the restart budget for the restart events; the
    /// duration in microseconds for `ASM_EV_LLM`; the grace in ms for
    /// `ASM_EV_CASCADE` and `ASM_EV_DEP_HELD`.
    pub limit: u64,
}

/// Decodes an `ASM_CMD_EVENT` message of the family whose id is `family`:
/// `None` for any other message. Attributes it does not know are skipped,
/// so a newer module can add some.
pub fn parse_event(msg: &Message<'_>, family: u16) -> Result<Option<Event>, ParseError> {
    if msg.ty != family {
        return Ok(None);
    }
    let (cmd, payload) = genl_payload(msg)?;
    if cmd != ASM_CMD_EVENT {
        return Ok(None);
    }
    let mut seq = None;
    let mut kind = None;
    let mut agent_id = None;
    let (mut pid, mut signal, mut fault, mut value, mut limit) = (0, 0, 0, 0, 0);
    for attr in nlattr::attrs(payload) {
        let attr = attr?;
        match attr.ty {
            ASM_A_SEQ => seq = Some(attr.u64()?),
            ASM_A_EVENT_TYPE => kind = Some(attr.u32()?),
            ASM_A_AGENT_ID => agent_id = Some(attr.u32()?),
            ASM_A_PID => pid = attr.i32()?,
            ASM_A_SIGNAL => signal = attr.i32()?,
            ASM_A_FAULT => fault = attr.u32()?,
            ASM_A_VALUE => value = attr.u64()?,
            ASM_A_LIMIT => limit = attr.u64()?,
            _ => {}
        }
    }
    Ok(Some(Event {
        seq,
        kind: kind.ok_or(ParseError::Missing {
            what: "ASM_A_EVENT_TYPE",
        })?,
        agent_id: agent_id.ok_or(ParseError::Missing {
            what: "ASM_A_AGENT_ID",
        })?,
        pid,
        signal,
        fault,
        value,
        limit,
    }))
}

/// Watches `ASM_A_SEQ` for gaps: the module numbers its events from 0, so
/// anything but the previous number plus one means events were lost (or the
/// module was reloaded and started again from 0).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeqTracker {
    last: Option<u64>,
}

impl SeqTracker {
    /// Records `seq`; returns the number expected instead when there is a
    /// gap. The first number seen sets the baseline: events before asmd
    /// subscribed are none of its business.
    pub fn observe(&mut self, seq: u64) -> Option<u64> {
        let expected = self.last.map(|last| last.wrapping_add(1));
        self.last = Some(seq);
        expected.filter(|&e| e != seq)
    }

    /// Forgets the baseline, after a loss already reported another way.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// What the event socket delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An event.
    Event(Event),
    /// Events were lost; the string says how.
    Lost(String),
    /// A message that could not be decoded; the string says why.
    Malformed(String),
}

/// Large enough for any datagram the module sends (one event is about 120
/// bytes; the kernel may batch several into one read).
const RECV_BUF: usize = 64 * 1024;
/// Receive buffer asked for: room for thousands of events while asmd is
/// busy starting agents.
const SOCKET_RCVBUF: i32 = 4 << 20;
/// The sequence number of our one request.
const CTRL_SEQ: u32 = 1;
/// How long the controller may take to answer, in ms.
const CTRL_TIMEOUT_MS: i32 = 5000;

/// A socket subscribed to the module's events group.
pub struct EventSocket {
    sock: NlSocket,
    family: Family,
    buf: Vec<u8>,
    seq: SeqTracker,
}

impl EventSocket {
    /// Resolves the family and its events group and joins the group.
    pub fn subscribe(family_name: &str, group_name: &str) -> Result<Self, Error> {
        let fail = |what: &str, e: Errno| Error::new(format!("generic netlink: {what}: {e}"));
        let sock = NlSocket::open_generic().map_err(|e| fail("socket", e))?;
        let family = resolve(&sock, family_name)?;
        let group = family.group(group_name).ok_or_else(|| {
            Error::new(format!(
                "generic netlink family {family_name} has no multicast group {group_name}"
            ))
        })?;
        // A larger buffer only makes ENOBUFS rarer; asmd copes without it.
        let _ = sock.set_rcvbuf(SOCKET_RCVBUF);
        sock.add_membership(group)
            .map_err(|e| fail(&format!("joining group {group_name} ({group})"), e))?;
        Ok(Self {
            sock,
            family,
            buf: vec![0; RECV_BUF],
            seq: SeqTracker::default(),
        })
    }

    /// The family, as resolved.
    pub fn family(&self) -> &Family {
        &self.family
    }

    /// The socket's fd, for poll.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.sock.fd()
    }

    /// Reads everything queued on the socket, without waiting.
    pub fn drain(&mut self) -> Result<Vec<Notice>, Error> {
        let mut out = Vec::new();
        loop {
            let got = match self.sock.recv(&mut self.buf) {
                Ok(got) => got,
                Err(Errno(libc::EAGAIN)) => return Ok(out),
                Err(Errno(libc::EINTR)) => continue,
                Err(Errno(libc::ENOBUFS)) => {
                    self.seq.reset();
                    out.push(Notice::Lost(
                        "socket receive buffer overrun (ENOBUFS)".into(),
                    ));
                    continue;
                }
                Err(e) => return Err(Error::new(format!("generic netlink: recv: {e}"))),
            };
            if !got.from_kernel {
                continue;
            }
            if got.truncated {
                self.seq.reset();
                out.push(Notice::Lost(
                    "a datagram larger than the buffer was cut".into(),
                ));
                continue;
            }
            decode(
                &self.buf[..got.len],
                self.family.id,
                &mut self.seq,
                &mut out,
            );
        }
    }
}

/// Decodes one datagram of the events socket into notices.
fn decode(dgram: &[u8], family: u16, seq: &mut SeqTracker, out: &mut Vec<Notice>) {
    for msg in nlattr::messages(dgram) {
        let parsed = msg.and_then(|m| parse_event(&m, family));
        match parsed {
            Ok(Some(ev)) => {
                if let Some(expected) = ev.seq.and_then(|s| seq.observe(s)) {
                    out.push(Notice::Lost(format!(
                        "event {} arrived where {} was expected",
                        ev.seq.unwrap_or_default(),
                        expected
                    )));
                }
                out.push(Notice::Event(ev));
            }
            Ok(None) => {}
            Err(e) => out.push(Notice::Malformed(e.to_string())),
        }
    }
}

/// Asks the controller for family `name`.
fn resolve(sock: &NlSocket, name: &str) -> Result<Family, Error> {
    let fail = |what: &str, e: Errno| Error::new(format!("generic netlink: {what}: {e}"));
    sock.send_to_kernel(&getfamily_request(name, CTRL_SEQ))
        .map_err(|e| fail("CTRL_CMD_GETFAMILY", e))?;
    let mut buf = vec![0; RECV_BUF];
    loop {
        let ready =
            sys::poll_readable(&[sock.fd()], CTRL_TIMEOUT_MS).map_err(|e| fail("poll", e))?;
        if !ready[0] {
            return Err(Error::new(format!(
                "generic netlink: no answer to CTRL_CMD_GETFAMILY {name}"
            )));
        }
        let got = match sock.recv(&mut buf) {
            Ok(got) => got,
            Err(Errno(libc::EAGAIN | libc::EINTR)) => continue,
            Err(e) => return Err(fail("recv", e)),
        };
        if !got.from_kernel || got.truncated {
            continue;
        }
        for msg in nlattr::messages(&buf[..got.len]) {
            let msg = msg.map_err(|e| Error::new(format!("generic netlink: {e}")))?;
            if msg.seq != CTRL_SEQ {
                continue;
            }
            match parse_ctrl_reply(&msg) {
                Ok(Some(CtrlReply::Family(f))) => return Ok(f),
                Ok(Some(CtrlReply::Error(libc::ENOENT))) => {
                    return Err(Error::new(format!(
                        "generic netlink family {name} not found (is asm.ko loaded?)"
                    )))
                }
                Ok(Some(CtrlReply::Error(errno))) => {
                    return Err(fail(&format!("CTRL_CMD_GETFAMILY {name}"), Errno(errno)))
                }
                Ok(None) => {}
                Err(e) => return Err(Error::new(format!("generic netlink: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Besides the attributes asmd reads, the shim sends these, which asmd
    // skips.
    use asm_abi::{
        ASM_A_ACTION, ASM_A_EXIT_CODE, ASM_A_PAD, ASM_A_TIMESTAMP_NS, ASM_EV_FAILED,
        ASM_EV_RECOVERY, ASM_GENL_VERSION,
    };

    const FAMILY: u16 = 0x1b;

    /// An ASM_CMD_EVENT message as the module's shim builds it.
    fn event_msg(seq: u64, kind: u32, agent: u32, value: u64, limit: u64) -> Vec<u8> {
        Builder::new(FAMILY, 0, 0)
            .raw(&[ASM_CMD_EVENT, ASM_GENL_VERSION, 0, 0])
            .attr(ASM_A_SEQ, &seq.to_ne_bytes())
            .attr(ASM_A_PAD, &[])
            .attr(ASM_A_TIMESTAMP_NS, &123_456u64.to_ne_bytes())
            .attr(ASM_A_EVENT_TYPE, &kind.to_ne_bytes())
            .attr(ASM_A_AGENT_ID, &agent.to_ne_bytes())
            .attr(ASM_A_PID, &0i32.to_ne_bytes())
            .attr(ASM_A_EXIT_CODE, &0i32.to_ne_bytes())
            .attr(ASM_A_SIGNAL, &0i32.to_ne_bytes())
            .attr(ASM_A_FAULT, &0u32.to_ne_bytes())
            .attr(ASM_A_ACTION, &0u32.to_ne_bytes())
            .attr(ASM_A_VALUE, &value.to_ne_bytes())
            .attr(ASM_A_LIMIT, &limit.to_ne_bytes())
            .attr(99, b"from a newer module")
            .finish()
    }

    #[test]
    fn getfamily_request_bytes() {
        let req = getfamily_request("asm", 1);
        let mut want = vec![];
        want.extend_from_slice(&28u32.to_ne_bytes()); // nlmsg_len
        want.extend_from_slice(&0x10u16.to_ne_bytes()); // GENL_ID_CTRL
        want.extend_from_slice(&1u16.to_ne_bytes()); // NLM_F_REQUEST
        want.extend_from_slice(&1u32.to_ne_bytes()); // seq
        want.extend_from_slice(&0u32.to_ne_bytes()); // pid
        want.extend_from_slice(&[3, 1, 0, 0]); // GETFAMILY, version 1
        want.extend_from_slice(&8u16.to_ne_bytes()); // nla_len: 4 + "asm\0"
        want.extend_from_slice(&2u16.to_ne_bytes()); // CTRL_ATTR_FAMILY_NAME
        want.extend_from_slice(b"asm\0");
        assert_eq!(req, want);
    }

    #[test]
    fn newfamily_reply() {
        let group = |idx: u16, name: &str, id: u32| {
            let inner = Builder::new(0, 0, 0)
                .attr_str(CTRL_ATTR_MCAST_GRP_NAME, name)
                .attr(CTRL_ATTR_MCAST_GRP_ID, &id.to_ne_bytes())
                .finish();
            (idx, inner[16..].to_vec())
        };
        let (i1, g1) = group(1, "other", 4);
        let (i2, g2) = group(2, "events", 9);
        let mut groups = Builder::new(0, 0, 0)
            .attr(i1 | (1 << 15), &g1)
            .attr(i2 | (1 << 15), &g2)
            .finish();
        groups.drain(..16);
        let reply = Builder::new(GENL_ID_CTRL, 0, 1)
            .raw(&[CTRL_CMD_NEWFAMILY, 2, 0, 0])
            .attr_str(CTRL_ATTR_FAMILY_NAME, "asm")
            .attr(CTRL_ATTR_FAMILY_ID, &FAMILY.to_ne_bytes())
            .attr(3, &1u32.to_ne_bytes())
            .attr(CTRL_ATTR_MCAST_GROUPS | (1 << 15), &groups)
            .finish();
        let msg = nlattr::messages(&reply).next().unwrap().unwrap();
        let Some(CtrlReply::Family(f)) = parse_ctrl_reply(&msg).unwrap() else {
            panic!("not a family");
        };
        assert_eq!(f.id, FAMILY);
        assert_eq!(f.group("events"), Some(9));
        assert_eq!(f.group("other"), Some(4));
        assert_eq!(f.group("nope"), None);
    }

    #[test]
    fn enoent_reply() {
        let mut payload = (-libc::ENOENT).to_ne_bytes().to_vec();
        payload.extend_from_slice(&getfamily_request("asm", 1)[..16]);
        let reply = Builder::new(NLMSG_ERROR, 0, 1).raw(&payload).finish();
        let msg = nlattr::messages(&reply).next().unwrap().unwrap();
        assert_eq!(
            parse_ctrl_reply(&msg),
            Ok(Some(CtrlReply::Error(libc::ENOENT)))
        );
    }

    /// An LLM request's event: asmd acts on none, but decodes it like any
    /// other (its negative exit code is one of the attributes it skips).
    #[test]
    fn llm_event_decodes() {
        use asm_abi::{ASM_EV_LLM, ASM_LLM_CLAUDE};
        let bytes = Builder::new(FAMILY, 0, 0)
            .raw(&[ASM_CMD_EVENT, ASM_GENL_VERSION, 0, 0])
            .attr(ASM_A_SEQ, &7u64.to_ne_bytes())
            .attr(ASM_A_EVENT_TYPE, &ASM_EV_LLM.to_ne_bytes())
            .attr(ASM_A_AGENT_ID, &100u32.to_ne_bytes())
            .attr(ASM_A_PID, &42i32.to_ne_bytes())
            .attr(ASM_A_EXIT_CODE, &(-libc::ETIMEDOUT).to_ne_bytes())
            .attr(ASM_A_FAULT, &ASM_LLM_CLAUDE.to_ne_bytes())
            .attr(ASM_A_VALUE, &12u64.to_ne_bytes())
            .attr(ASM_A_LIMIT, &35_120u64.to_ne_bytes())
            .finish();
        let msg = nlattr::messages(&bytes).next().unwrap().unwrap();
        assert_eq!(
            parse_event(&msg, FAMILY),
            Ok(Some(Event {
                seq: Some(7),
                kind: ASM_EV_LLM,
                agent_id: 100,
                pid: 42,
                signal: 0,
                fault: ASM_LLM_CLAUDE,
                value: 12,
                limit: 35_120,
            }))
        );
    }

    /// A cascade's SIGKILL: the signal is read, the dependency and the
    /// grace are the value and the limit.
    #[test]
    fn cascade_event_decodes() {
        use asm_abi::ASM_EV_CASCADE;
        let bytes = Builder::new(FAMILY, 0, 0)
            .raw(&[ASM_CMD_EVENT, ASM_GENL_VERSION, 0, 0])
            .attr(ASM_A_SEQ, &8u64.to_ne_bytes())
            .attr(ASM_A_EVENT_TYPE, &ASM_EV_CASCADE.to_ne_bytes())
            .attr(ASM_A_AGENT_ID, &7002u32.to_ne_bytes())
            .attr(ASM_A_PID, &0i32.to_ne_bytes())
            .attr(ASM_A_SIGNAL, &libc::SIGKILL.to_ne_bytes())
            .attr(ASM_A_VALUE, &7001u64.to_ne_bytes())
            .attr(ASM_A_LIMIT, &800u64.to_ne_bytes())
            .finish();
        let msg = nlattr::messages(&bytes).next().unwrap().unwrap();
        let ev = parse_event(&msg, FAMILY).unwrap().unwrap();
        assert_eq!(
            (ev.kind, ev.agent_id, ev.signal, ev.value, ev.limit),
            (ASM_EV_CASCADE, 7002, libc::SIGKILL, 7001, 800)
        );
    }

    #[test]
    fn event_with_unknown_and_pad_attributes() {
        let bytes = event_msg(41, ASM_EV_RECOVERY, 100, 1, 3);
        let msg = nlattr::messages(&bytes).next().unwrap().unwrap();
        let ev = parse_event(&msg, FAMILY).unwrap().unwrap();
        assert_eq!(
            ev,
            Event {
                seq: Some(41),
                kind: ASM_EV_RECOVERY,
                agent_id: 100,
                pid: 0,
                signal: 0,
                fault: 0,
                value: 1,
                limit: 3,
            }
        );
        // Another family's message is not ours.
        assert_eq!(parse_event(&msg, FAMILY + 1), Ok(None));
    }

    #[test]
    fn event_from_literal_bytes() {
        // An ASM_EV_FAILED of agent 100 after 3 of 3 restarts, event 9, as
        // an x86-64 kernel lays it out (little-endian; no ASM_A_PAD there).
        #[rustfmt::skip]
        let bytes: [u8; 72] = [
            72, 0, 0, 0,  0x1b, 0,  0, 0,  0, 0, 0, 0,  0, 0, 0, 0, // nlmsghdr
            1, 1, 0, 0,                                           // ASM_CMD_EVENT v1
            12, 0, 2, 0,  9, 0, 0, 0, 0, 0, 0, 0,                 // ASM_A_SEQ 9
            8, 0, 4, 0,  12, 0, 0, 0,                             // ASM_A_EVENT_TYPE
            8, 0, 5, 0,  100, 0, 0, 0,                            // ASM_A_AGENT_ID
            12, 0, 11, 0,  3, 0, 0, 0, 0, 0, 0, 0,                // ASM_A_VALUE 3
            12, 0, 12, 0,  3, 0, 0, 0, 0, 0, 0, 0,                // ASM_A_LIMIT 3
        ];
        if cfg!(target_endian = "big") {
            return;
        }
        let msgs: Vec<Message> = nlattr::messages(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 1);
        let ev = parse_event(&msgs[0], FAMILY).unwrap().unwrap();
        assert_eq!(
            (ev.seq, ev.kind, ev.agent_id, ev.value, ev.limit),
            (Some(9), ASM_EV_FAILED, 100, 3, 3)
        );
    }

    #[test]
    fn event_missing_type_is_malformed() {
        let bytes = Builder::new(FAMILY, 0, 0)
            .raw(&[ASM_CMD_EVENT, ASM_GENL_VERSION, 0, 0])
            .attr(ASM_A_AGENT_ID, &5u32.to_ne_bytes())
            .finish();
        let msg = nlattr::messages(&bytes).next().unwrap().unwrap();
        assert_eq!(
            parse_event(&msg, FAMILY),
            Err(ParseError::Missing {
                what: "ASM_A_EVENT_TYPE"
            })
        );
        // A u32 attribute of the wrong size.
        let bytes = Builder::new(FAMILY, 0, 0)
            .raw(&[ASM_CMD_EVENT, ASM_GENL_VERSION, 0, 0])
            .attr(ASM_A_EVENT_TYPE, &[1, 0])
            .finish();
        let msg = nlattr::messages(&bytes).next().unwrap().unwrap();
        assert!(parse_event(&msg, FAMILY).is_err());
    }

    #[test]
    fn seq_gaps() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(7), None);
        assert_eq!(t.observe(8), None);
        assert_eq!(t.observe(10), Some(9));
        assert_eq!(t.observe(11), None);
        // A reloaded module starts again from 0.
        assert_eq!(t.observe(0), Some(12));
        t.reset();
        assert_eq!(t.observe(5), None);
    }

    #[test]
    fn decode_datagram_with_two_events_and_a_gap() {
        let mut dgram = event_msg(1, 3, 100, 0, 0);
        dgram.extend(event_msg(3, 12, 100, 3, 3));
        let mut seq = SeqTracker::default();
        let mut out = vec![];
        decode(&dgram, FAMILY, &mut seq, &mut out);
        assert_eq!(out.len(), 3);
        assert!(matches!(out[0], Notice::Event(Event { seq: Some(1), .. })));
        assert!(
            matches!(&out[1], Notice::Lost(s) if s.contains("event 3") && s.contains("2 was expected"))
        );
        assert!(matches!(
            out[2],
            Notice::Event(Event {
                kind: 12,
                value: 3,
                ..
            })
        ));
    }
}

/// Against the running kernel's generic netlink controller, which every
/// Linux has: the family "nlctrl" and its group "notify" stand in for the
/// module's. Skipped where the sandbox has no netlink.
#[cfg(test)]
mod live_tests {
    use super::*;

    fn netlink_available() -> bool {
        match NlSocket::open_generic() {
            Ok(_) => true,
            Err(e) => {
                asm_testutil::skip("live_tests", &format!("no generic netlink here: {e}"));
                false
            }
        }
    }

    #[test]
    fn subscribe_to_the_controller() {
        if !netlink_available() {
            return;
        }
        let mut s = EventSocket::subscribe("nlctrl", "notify").unwrap();
        assert_eq!(s.family().id, GENL_ID_CTRL);
        // Nothing queued (or only controller notifications, not events).
        let notices = s.drain().unwrap();
        assert!(notices.iter().all(|n| !matches!(n, Notice::Event(_))));
    }

    #[test]
    fn unknown_family_and_group() {
        if !netlink_available() {
            return;
        }
        let e = EventSocket::subscribe("asm-nosuch", "events")
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "generic netlink family asm-nosuch not found (is asm.ko loaded?)"
        );
        let e = EventSocket::subscribe("nlctrl", "events").err().unwrap();
        assert_eq!(
            e.to_string(),
            "generic netlink family nlctrl has no multicast group events"
        );
    }
}

//! The helper's channel to the module: the `asm` generic netlink family's
//! gateway commands (REGISTER, PULL, COMPLETE) on a command socket, and the
//! `gateway` multicast group's notices on a second socket.  Messages are
//! built and read with neli; the encoding functions are pure so the unit
//! tests check them byte by byte without a kernel.

use std::fmt;
use std::io::Cursor;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use neli::consts::genl::{Cmd, NlAttrType};
use neli::consts::nl::NlmF;
use neli::consts::socket::{Msg, NlFamily};
use neli::err::RouterError;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder};
use neli::neli_enum;
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::router::synchronous::NlRouter;
use neli::socket::NlSocket;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;
use neli::{FromBytes, ToBytes};

use asm_abi as abi;

/// `enum asm_genl_cmd`, with asm-abi's values.
#[neli_enum(serialized_type = "u8")]
pub enum GwCmd {
    /// Unused.
    Unspec = abi::ASM_CMD_UNSPEC,
    /// A ring event (not the helper's).
    Event = abi::ASM_CMD_EVENT,
    /// The sending socket becomes the helper.
    Register = abi::ASM_CMD_GW_REGISTER,
    /// A request is queued (multicast).
    Notify = abi::ASM_CMD_GW_NOTIFY,
    /// The oldest queued request.
    Pull = abi::ASM_CMD_GW_PULL,
    /// The answer to a pulled request.
    Complete = abi::ASM_CMD_GW_COMPLETE,
}

impl Cmd for GwCmd {}

/// `enum asm_genl_attr`, the attributes the helper uses, with asm-abi's
/// values.
#[neli_enum(serialized_type = "u16")]
pub enum GwAttr {
    /// Unused.
    Unspec = abi::ASM_A_UNSPEC,
    /// Padding.
    Pad = abi::ASM_A_PAD,
    /// u32: the agent.
    AgentId = abi::ASM_A_AGENT_ID,
    /// u64: the request's number.
    ReqId = abi::ASM_A_REQ_ID,
    /// u32: the agent's owner.
    Uid = abi::ASM_A_UID,
    /// u64: the agent's capabilities.
    Caps = abi::ASM_A_CAPS,
    /// Binary UTF-8: the prompt.
    Prompt = abi::ASM_A_PROMPT,
    /// Binary UTF-8: the system message.
    System = abi::ASM_A_SYSTEM,
    /// u32: max tokens.
    MaxTokens = abi::ASM_A_MAX_TOKENS,
    /// u32: temperature in thousandths.
    Temperature = abi::ASM_A_TEMPERATURE,
    /// u32: a provider (preference in a pull, the answering one in a completion).
    Provider = abi::ASM_A_PROVIDER,
    /// u32: the request's timeout.
    TimeoutMs = abi::ASM_A_TIMEOUT_MS,
    /// u32: 0, EIO or ETIMEDOUT.
    Status = abi::ASM_A_STATUS,
    /// Binary UTF-8: the answer.
    Text = abi::ASM_A_TEXT,
    /// u32: tokens used.
    TokensUsed = abi::ASM_A_TOKENS_USED,
    /// Flag: a fallback provider answered.
    Fallback = abi::ASM_A_FALLBACK,
    /// Binary: native-endian u32 providers tried, in order.
    Tried = abi::ASM_A_TRIED,
}

impl NlAttrType for GwAttr {}

/// A gateway message: a netlink header around a generic netlink header.
pub type GwMsg = Nlmsghdr<u16, Genlmsghdr<GwCmd, GwAttr>>;

/// The receive buffer: the largest pull reply (prompt, system message,
/// headers) fits with room to spare.
const RECV_BUF: usize = 128 * 1024;

/// How long a command waits for the kernel's answer.  The kernel answers
/// while handling the send, so an answer that has not come by then is
/// lost, and the socket's state (which command the next answer belongs
/// to) can no longer be trusted.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A netlink failure: a socket error, an errno from the kernel, no answer
/// in time, or a message that could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenlError {
    /// The kernel answered with this (positive) errno.
    Errno(i32),
    /// A socket call failed: what was done and the (positive) errno, 0
    /// when the error carried none.
    Socket(String, i32),
    /// The kernel did not answer a command within [`REPLY_TIMEOUT`].
    Timeout,
    /// Anything else, described.
    Other(String),
}

impl GenlError {
    /// Whether the helper must stop (and be restarted) rather than log the
    /// failure, back off and try again.  The rule: only failures that no
    /// retry on this socket can cure are fatal --
    ///
    /// * a socket that is itself broken: `EBADF`, `ENOTSOCK`, `ENOTCONN`,
    ///   `ECONNREFUSED`, `EPIPE`;
    /// * a kernel answer saying this socket is no longer the helper or the
    ///   module is going away: `EPERM` (not the registered helper, e.g.
    ///   after the module was reloaded), `ENODEV` (module unloading),
    ///   `EOPNOTSUPP` (the family no longer has the command);
    /// * no answer within [`REPLY_TIMEOUT`]: the socket's sequence of
    ///   answers is lost.
    ///
    /// Everything else (`ENOMEM`, `ENOBUFS`, `EINTR`, `EMSGSIZE`, an
    /// unreadable answer, ...) is transient.  A family that vanished
    /// answers `ENOENT` like an empty queue; the module fails its requests
    /// with `EIO` when it goes, and once it is back the next PULL answers
    /// `EPERM` (nobody registered), which is fatal.
    pub fn is_fatal(&self) -> bool {
        match self {
            GenlError::Timeout => true,
            GenlError::Errno(e) => [libc::EPERM, libc::ENODEV, libc::EOPNOTSUPP].contains(e),
            GenlError::Socket(_, e) => [
                libc::EBADF,
                libc::ENOTSOCK,
                libc::ENOTCONN,
                libc::ECONNREFUSED,
                libc::EPIPE,
            ]
            .contains(e),
            GenlError::Other(_) => false,
        }
    }
}

impl fmt::Display for GenlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenlError::Errno(e) => write!(f, "{}", std::io::Error::from_raw_os_error(*e)),
            GenlError::Socket(what, 0) => write!(f, "{what} failed"),
            GenlError::Socket(what, e) => {
                write!(f, "{what}: {}", std::io::Error::from_raw_os_error(*e))
            }
            GenlError::Timeout => write!(
                f,
                "the module did not answer within {} s",
                REPLY_TIMEOUT.as_secs()
            ),
            GenlError::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for GenlError {}

/// Shorthand for [`GenlError::Other`] from anything printable.
fn other(what: &str, e: impl fmt::Display) -> GenlError {
    GenlError::Other(format!("{what}: {e}"))
}

/// Shorthand for [`GenlError::Socket`] from an I/O error.
fn socket(what: &str, e: &std::io::Error) -> GenlError {
    match e.raw_os_error() {
        Some(n) => GenlError::Socket(what.into(), n),
        None => GenlError::Socket(format!("{what}: {e}"), 0),
    }
}

/// A request the kernel handed over (a PULL reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `ASM_A_REQ_ID`.
    pub id: u64,
    /// `ASM_A_AGENT_ID`.
    pub agent: u32,
    /// `ASM_A_UID`.
    pub uid: u32,
    /// `ASM_A_CAPS`.
    pub caps: u64,
    /// `ASM_A_PROMPT`.
    pub prompt: String,
    /// `ASM_A_SYSTEM`.
    pub system: Option<String>,
    /// `ASM_A_MAX_TOKENS`.
    pub max_tokens: u32,
    /// `ASM_A_TEMPERATURE`, thousandths.
    pub temperature: u32,
    /// `ASM_A_PROVIDER`: the preference, 0 for none.
    pub provider: u32,
    /// `ASM_A_TIMEOUT_MS`.
    pub timeout_ms: u32,
}

/// The answer to a request (a COMPLETE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// `ASM_A_REQ_ID`.
    pub id: u64,
    /// `ASM_A_STATUS`: 0, EIO or ETIMEDOUT.
    pub status: u32,
    /// `ASM_A_PROVIDER`: the answering provider (success only).
    pub provider: u32,
    /// `ASM_A_TEXT` (success only).
    pub text: String,
    /// `ASM_A_TOKENS_USED` (success only).
    pub tokens_used: u32,
    /// `ASM_A_FALLBACK` (success only).
    pub fallback: bool,
    /// `ASM_A_TRIED`, always.
    pub tried: Vec<u32>,
}

/// An attribute of `t` carrying `payload`'s native bytes.
fn attr<P: neli::Size + ToBytes>(
    t: GwAttr,
    payload: P,
) -> Result<neli::genl::Nlattr<GwAttr, Buffer>, GenlError> {
    let ty = AttrTypeBuilder::default()
        .nla_type(t)
        .build()
        .map_err(|e| other("attribute type", e))?;
    NlattrBuilder::default()
        .nla_type(ty)
        .nla_payload(payload)
        .build()
        .map_err(|e| other("attribute", e))
}

/// The bytes of a gateway message `cmd` to the family `family`.
fn encode(
    family: u16,
    cmd: GwCmd,
    flags: NlmF,
    seq: u32,
    attrs: GenlBuffer<GwAttr, Buffer>,
) -> Result<Vec<u8>, GenlError> {
    let genl = GenlmsghdrBuilder::default()
        .cmd(cmd)
        .version(asm_abi::ASM_GENL_VERSION)
        .attrs(attrs)
        .build()
        .map_err(|e| other("genl header", e))?;
    let msg: GwMsg = NlmsghdrBuilder::default()
        .nl_type(family)
        .nl_flags(NlmF::REQUEST | flags)
        .nl_seq(seq)
        .nl_payload(NlPayload::Payload(genl))
        .build()
        .map_err(|e| other("netlink header", e))?;
    let mut c = Cursor::new(Vec::new());
    msg.to_bytes(&mut c).map_err(|e| other("encoding", e))?;
    Ok(c.into_inner())
}

/// `ASM_CMD_GW_REGISTER`, acknowledged.
pub fn register_message(family: u16, seq: u32) -> Result<Vec<u8>, GenlError> {
    encode(family, GwCmd::Register, NlmF::ACK, seq, GenlBuffer::new())
}

/// `ASM_CMD_GW_PULL`: answered by a request or an error.
pub fn pull_message(family: u16, seq: u32) -> Result<Vec<u8>, GenlError> {
    encode(family, GwCmd::Pull, NlmF::empty(), seq, GenlBuffer::new())
}

/// `ASM_CMD_GW_COMPLETE` of `c`, acknowledged.  Text, provider, tokens and
/// the fallback flag go only with status 0; the tried list always.
pub fn complete_message(family: u16, seq: u32, c: &Completion) -> Result<Vec<u8>, GenlError> {
    let mut attrs = GenlBuffer::new();
    attrs.push(attr(GwAttr::ReqId, c.id)?);
    attrs.push(attr(GwAttr::Status, c.status)?);
    if c.status == 0 {
        attrs.push(attr(GwAttr::Provider, c.provider)?);
        attrs.push(attr(
            GwAttr::Text,
            Buffer::from(c.text.as_bytes().to_vec()),
        )?);
        attrs.push(attr(GwAttr::TokensUsed, c.tokens_used)?);
        if c.fallback {
            attrs.push(attr(GwAttr::Fallback, ())?);
        }
    }
    let tried: Vec<u8> = c
        .tried
        .iter()
        .take(asm_abi::ASM_LLM_TRIED_MAX)
        .flat_map(|p| p.to_ne_bytes())
        .collect();
    attrs.push(attr(GwAttr::Tried, Buffer::from(tried))?);
    encode(family, GwCmd::Complete, NlmF::ACK, seq, attrs)
}

/// What the kernel answered to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// An ACK (error 0).
    Ack,
    /// A PULL's request.
    Request(Request),
}

/// Reads the kernel's answer in `buf` to the command numbered `seq`.
/// Messages of other sequence numbers (stale answers) are skipped; `None`
/// when `buf` holds no answer to `seq`.
pub fn decode_reply(buf: &[u8], seq: u32) -> Result<Option<Reply>, GenlError> {
    let mut c = Cursor::new(buf);
    while (c.position() as usize) < buf.len() {
        let msg = GwMsg::from_bytes(&mut c).map_err(|e| other("reading a reply", e))?;
        if *msg.nl_seq() != seq {
            continue;
        }
        return match msg.nl_payload() {
            NlPayload::Ack(_) => Ok(Some(Reply::Ack)),
            NlPayload::Err(e) if *e.error() == 0 => Ok(Some(Reply::Ack)),
            NlPayload::Err(e) => Err(GenlError::Errno(e.error().saturating_abs())),
            NlPayload::Payload(g) => decode_request(g).map(|r| Some(Reply::Request(r))),
            NlPayload::DumpExtAck(_) | NlPayload::Empty => Ok(None),
        };
    }
    Ok(None)
}

/// A PULL reply's attributes as a [`Request`].  The id, agent and prompt
/// are required; the others default as the kernel's defaults would.
pub fn decode_request(g: &Genlmsghdr<GwCmd, GwAttr>) -> Result<Request, GenlError> {
    let h = g.attrs().get_attr_handle();
    let u32_of = |t: GwAttr| h.get_attr_payload_as::<u32>(t).ok();
    let u64_of = |t: GwAttr| -> Option<u64> {
        let a = h.get_attribute(t)?;
        let b: [u8; 8] = a.nla_payload().as_ref().get(..8)?.try_into().ok()?;
        Some(u64::from_ne_bytes(b))
    };
    let text_of = |t: GwAttr| -> Result<Option<String>, GenlError> {
        match h.get_attribute(t) {
            None => Ok(None),
            Some(a) => {
                // Binary, not NUL-terminated: every byte is the text's.
                String::from_utf8(a.nla_payload().as_ref().to_vec())
                    .map(Some)
                    .map_err(|_| GenlError::Other(format!("{t:?} is not UTF-8")))
            }
        }
    };
    let id = u64_of(GwAttr::ReqId)
        .ok_or_else(|| GenlError::Other("pull reply without ASM_A_REQ_ID".into()))?;
    Ok(Request {
        id,
        agent: u32_of(GwAttr::AgentId).unwrap_or(0),
        uid: u32_of(GwAttr::Uid).unwrap_or(0),
        caps: u64_of(GwAttr::Caps).unwrap_or(0),
        prompt: text_of(GwAttr::Prompt)?
            .ok_or_else(|| GenlError::Other("pull reply without ASM_A_PROMPT".into()))?,
        system: text_of(GwAttr::System)?,
        max_tokens: u32_of(GwAttr::MaxTokens).unwrap_or(1000),
        temperature: u32_of(GwAttr::Temperature).unwrap_or(700),
        provider: u32_of(GwAttr::Provider).unwrap_or(0),
        timeout_ms: u32_of(GwAttr::TimeoutMs).unwrap_or(30_000),
    })
}

/// The `asm` family's id and its `gateway` group's id, from the
/// generic netlink controller.
pub fn resolve() -> Result<(u16, u32), GenlError> {
    let (router, _) = NlRouter::connect(NlFamily::Generic, Some(0), Groups::empty())
        .map_err(|e| other("netlink socket", e))?;
    // The controller's answer, without neli's dump of the request.
    fn brief<T, P>(e: RouterError<T, P>) -> String
    where
        RouterError<T, P>: fmt::Display,
    {
        match e {
            RouterError::Nlmsgerr(m) => {
                std::io::Error::from_raw_os_error(m.error().saturating_abs()).to_string()
            }
            e => e.to_string(),
        }
    }
    let family = router
        .resolve_genl_family(asm_abi::ASM_GENL_NAME)
        .map_err(|e| {
            other(
                "the asm generic netlink family (is asm.ko loaded?)",
                brief(e),
            )
        })?;
    let group = router
        .resolve_nl_mcast_group(asm_abi::ASM_GENL_NAME, asm_abi::ASM_GENL_MCGRP_GATEWAY)
        .map_err(|e| other("the asm family's gateway group", brief(e)))?;
    Ok((family, group))
}

/// The helper's command socket: REGISTER, PULL and COMPLETE go through it,
/// one at a time, each waiting for its answer.  The kernel answers a
/// generic netlink command while handling the send, so the answer is
/// queued by the time `send` returns.
pub struct CmdSocket {
    sock: NlSocket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
    timeout: Duration,
}

impl CmdSocket {
    /// A command socket for the family `family`, blocking, its receives
    /// bounded by [`REPLY_TIMEOUT`] (`SO_RCVTIMEO`): a lost answer must not
    /// block the helper forever while it holds the socket.
    pub fn open(family: u16) -> Result<CmdSocket, GenlError> {
        let sock = NlSocket::connect(NlFamily::Generic, Some(0), Groups::empty())
            .map_err(|e| other("netlink socket", e))?;
        sock.block().map_err(|e| other("netlink socket", e))?;
        set_recv_timeout(sock.as_raw_fd(), REPLY_TIMEOUT)
            .map_err(|e| socket("netlink socket SO_RCVTIMEO", &e))?;
        Ok(CmdSocket {
            sock,
            family,
            seq: 0,
            buf: vec![0; RECV_BUF],
            timeout: REPLY_TIMEOUT,
        })
    }

    /// Changes the answer timeout (the tests shorten it).
    #[cfg(test)]
    fn set_timeout(&mut self, t: Duration) -> Result<(), GenlError> {
        set_recv_timeout(self.sock.as_raw_fd(), t).map_err(|e| socket("SO_RCVTIMEO", &e))?;
        self.timeout = t;
        Ok(())
    }

    /// The next sequence number.
    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `msg` (numbered `seq`) and waits for its answer, at most
    /// [`REPLY_TIMEOUT`] ([`GenlError::Timeout`] then).
    fn call(&mut self, msg: &[u8], seq: u32) -> Result<Reply, GenlError> {
        self.sock
            .send(msg, Msg::empty())
            .map_err(|e| socket("netlink send", &e))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let (n, _) = match self.sock.recv(&mut self.buf[..], Msg::empty()) {
                Ok(r) => r,
                // SO_RCVTIMEO ran out.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(GenlError::Timeout)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(socket("netlink receive", &e)),
            };
            let got = self.buf.get(..n).unwrap_or(&[]);
            if let Some(r) = decode_reply(got, seq)? {
                return Ok(r);
            }
            // Stale answers to other commands do not extend the wait.
            if Instant::now() >= deadline {
                return Err(GenlError::Timeout);
            }
        }
    }

    /// Makes this socket the helper.
    pub fn register(&mut self) -> Result<(), GenlError> {
        let seq = self.next_seq();
        let m = register_message(self.family, seq)?;
        self.call(&m, seq).map(|_| ())
    }

    /// The oldest queued request; `None` when none is queued (ENOENT).
    pub fn pull(&mut self) -> Result<Option<Request>, GenlError> {
        let seq = self.next_seq();
        let m = pull_message(self.family, seq)?;
        match self.call(&m, seq) {
            Ok(Reply::Request(r)) => Ok(Some(r)),
            Ok(Reply::Ack) => Ok(None),
            Err(GenlError::Errno(libc::ENOENT)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Answers a request.
    pub fn complete(&mut self, c: &Completion) -> Result<(), GenlError> {
        let seq = self.next_seq();
        let m = complete_message(self.family, seq, c)?;
        self.call(&m, seq).map(|_| ())
    }
}

/// Sets `SO_RCVTIMEO` of `fd` to `t`.
fn set_recv_timeout(fd: RawFd, t: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: `tv` is a valid timeval for the duration of the call and the
    // length passed is its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The socket that receives the `gateway` group's notices.
pub struct NotifySocket {
    sock: NlSocket,
    buf: Vec<u8>,
}

impl NotifySocket {
    /// Joins the group `group`.
    pub fn open(group: u32) -> Result<NotifySocket, GenlError> {
        let sock = NlSocket::connect(NlFamily::Generic, Some(0), Groups::empty())
            .map_err(|e| other("netlink socket", e))?;
        sock.add_mcast_membership(Groups::new_groups(&[group]))
            .map_err(|e| other("joining the gateway group", e))?;
        sock.nonblock().map_err(|e| other("netlink socket", e))?;
        Ok(NotifySocket {
            sock,
            buf: vec![0; 8192],
        })
    }

    /// Waits up to `timeout_ms` for a notice and drains every queued one.
    /// Returns whether any arrived.  A lost notice (a full socket buffer)
    /// is caught by the caller's periodic pull.
    pub fn wait(&mut self, timeout_ms: i32) -> Result<bool, GenlError> {
        let mut pfd = libc::pollfd {
            fd: self.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(socket("poll", &e));
        }
        self.drain()
    }

    /// Reads every queued notice without waiting; returns whether any
    /// arrived.
    pub fn drain(&mut self) -> Result<bool, GenlError> {
        let mut any = false;
        loop {
            match self.sock.recv(&mut self.buf[..], Msg::empty()) {
                Ok((0, _)) => break,
                Ok(_) => any = true,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ENOBUFS: notices were dropped; the pull finds their requests.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => any = true,
                Err(e) => return Err(socket("netlink receive", &e)),
            }
        }
        Ok(any)
    }
}

impl AsRawFd for NotifySocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: u16 = 0x1d;

    /// Native-endian u16/u32 helpers for the expected bytes.
    fn u16b(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }
    fn u32b(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    /// An attribute as the kernel lays it out: len, type, payload, padding.
    fn nla(t: u16, payload: &[u8]) -> Vec<u8> {
        let len = 4 + payload.len();
        let mut v = Vec::new();
        v.extend(u16b(len as u16));
        v.extend(u16b(t));
        v.extend(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    /// A whole message: nlmsghdr, genlmsghdr, attributes.
    fn msg(ty: u16, flags: u16, seq: u32, pid: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(u32b((16 + 4 + attrs.len()) as u32));
        v.extend(u16b(ty));
        v.extend(u16b(flags));
        v.extend(u32b(seq));
        v.extend(u32b(pid));
        v.extend([cmd, asm_abi::ASM_GENL_VERSION, 0, 0]);
        v.extend(attrs);
        v
    }

    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;

    #[test]
    fn register_and_pull_bytes() {
        assert_eq!(
            register_message(FAMILY, 1).unwrap(),
            msg(FAMILY, NLM_F_REQUEST | NLM_F_ACK, 1, 0, 2, &[])
        );
        assert_eq!(
            pull_message(FAMILY, 9).unwrap(),
            msg(FAMILY, NLM_F_REQUEST, 9, 0, 4, &[])
        );
    }

    #[test]
    fn complete_success_bytes() {
        let c = Completion {
            id: 0x0102_0304_0506_0708,
            status: 0,
            provider: 2,
            text: "hello".into(),
            tokens_used: 12,
            fallback: true,
            tried: vec![1, 2],
        };
        let mut attrs = Vec::new();
        attrs.extend(nla(13, &0x0102_0304_0506_0708u64.to_ne_bytes()));
        attrs.extend(nla(22, &u32b(0)));
        attrs.extend(nla(20, &u32b(2)));
        attrs.extend(nla(23, b"hello"));
        attrs.extend(nla(24, &u32b(12)));
        attrs.extend(nla(25, &[]));
        let mut tried = Vec::new();
        tried.extend(u32b(1));
        tried.extend(u32b(2));
        attrs.extend(nla(26, &tried));
        let want = msg(FAMILY, NLM_F_REQUEST | NLM_F_ACK, 3, 0, 5, &attrs);
        assert_eq!(complete_message(FAMILY, 3, &c).unwrap(), want);
        // The text attribute's length is unpadded, its padding zero.
        let text_at = 20 + 12 + 8 + 8;
        assert_eq!(&want[text_at..text_at + 4], &[9, 0, 23, 0][..]);
    }

    #[test]
    fn complete_failure_bytes() {
        let c = Completion {
            id: 5,
            status: libc::ETIMEDOUT as u32,
            provider: 0,
            text: String::new(),
            tokens_used: 0,
            fallback: false,
            tried: vec![4],
        };
        let mut attrs = Vec::new();
        attrs.extend(nla(13, &5u64.to_ne_bytes()));
        attrs.extend(nla(22, &u32b(110)));
        attrs.extend(nla(26, &u32b(4)));
        assert_eq!(
            complete_message(FAMILY, 4, &c).unwrap(),
            msg(FAMILY, NLM_F_REQUEST | NLM_F_ACK, 4, 0, 5, &attrs)
        );
        // No provider tried at all: an empty tried list.
        let c = Completion {
            status: 5,
            tried: vec![],
            ..c
        };
        let mut attrs = Vec::new();
        attrs.extend(nla(13, &5u64.to_ne_bytes()));
        attrs.extend(nla(22, &u32b(5)));
        attrs.extend(nla(26, &[]));
        assert_eq!(
            complete_message(FAMILY, 4, &c).unwrap(),
            msg(FAMILY, NLM_F_REQUEST | NLM_F_ACK, 4, 0, 5, &attrs)
        );
    }

    /// A PULL reply as the kernel builds it.
    fn pull_reply(seq: u32, with_system: bool) -> Vec<u8> {
        let mut attrs = Vec::new();
        // nla_put_u64_64bit() pads with an empty ASM_A_PAD where u64s
        // need alignment.
        attrs.extend(nla(1, &[]));
        attrs.extend(nla(13, &42u64.to_ne_bytes()));
        attrs.extend(nla(5, &u32b(100)));
        attrs.extend(nla(14, &u32b(1000)));
        attrs.extend(nla(15, &(1u64 << 5).to_ne_bytes()));
        attrs.extend(nla(16, "héllo".as_bytes()));
        if with_system {
            attrs.extend(nla(17, b"be brief"));
        }
        attrs.extend(nla(18, &u32b(256)));
        attrs.extend(nla(19, &u32b(300)));
        attrs.extend(nla(20, &u32b(3)));
        attrs.extend(nla(21, &u32b(5000)));
        msg(FAMILY, 0, seq, 0, 4, &attrs)
    }

    #[test]
    fn decodes_a_pull_reply() {
        let r = decode_reply(&pull_reply(7, true), 7).unwrap();
        assert_eq!(
            r,
            Some(Reply::Request(Request {
                id: 42,
                agent: 100,
                uid: 1000,
                caps: 1 << 5,
                prompt: "héllo".into(),
                system: Some("be brief".into()),
                max_tokens: 256,
                temperature: 300,
                provider: 3,
                timeout_ms: 5000,
            }))
        );
        let Some(Reply::Request(r)) = decode_reply(&pull_reply(7, false), 7).unwrap() else {
            panic!("no request");
        };
        assert_eq!(r.system, None);
    }

    #[test]
    fn skips_other_sequence_numbers() {
        let mut two = pull_reply(6, false);
        two.extend(pull_reply(7, true));
        let Some(Reply::Request(r)) = decode_reply(&two, 7).unwrap() else {
            panic!("no request");
        };
        assert_eq!(r.system.as_deref(), Some("be brief"));
        assert_eq!(decode_reply(&pull_reply(6, false), 7).unwrap(), None);
    }

    /// An NLMSG_ERROR answer with `error` to the message numbered `seq`.
    fn error_reply(seq: u32, error: i32) -> Vec<u8> {
        let orig = pull_message(FAMILY, seq).unwrap();
        let mut v = Vec::new();
        v.extend(u32b((16 + 4 + orig.len()) as u32));
        v.extend(u16b(2)); // NLMSG_ERROR
        v.extend(u16b(0));
        v.extend(u32b(seq));
        v.extend(u32b(0));
        v.extend(error.to_ne_bytes());
        v.extend(&orig);
        v
    }

    #[test]
    fn decodes_errors_and_acks() {
        assert_eq!(
            decode_reply(&error_reply(3, -libc::ENOENT), 3),
            Err(GenlError::Errno(libc::ENOENT))
        );
        assert_eq!(
            decode_reply(&error_reply(3, -libc::EBUSY), 3),
            Err(GenlError::Errno(libc::EBUSY))
        );
        assert_eq!(decode_reply(&error_reply(3, 0), 3), Ok(Some(Reply::Ack)));
    }

    #[test]
    fn rejects_bad_pull_replies() {
        // No request id.
        let attrs = nla(16, b"x");
        assert!(decode_reply(&msg(FAMILY, 0, 1, 0, 4, &attrs), 1).is_err());
        // A prompt that is not UTF-8.
        let mut attrs = nla(13, &1u64.to_ne_bytes());
        attrs.extend(nla(16, &[0xff, 0xfe]));
        assert!(decode_reply(&msg(FAMILY, 0, 1, 0, 4, &attrs), 1).is_err());
        // Truncated.
        let r = pull_reply(1, true);
        assert!(decode_reply(&r[..r.len() - 6], 1).is_err());
    }

    #[test]
    fn fatal_errors() {
        for e in [
            GenlError::Timeout,
            GenlError::Errno(libc::EPERM),
            GenlError::Errno(libc::ENODEV),
            GenlError::Socket("netlink send".into(), libc::EBADF),
            GenlError::Socket("netlink send".into(), libc::ECONNREFUSED),
        ] {
            assert!(e.is_fatal(), "{e:?}");
        }
        for e in [
            GenlError::Errno(libc::ENOMEM),
            GenlError::Errno(libc::EMSGSIZE),
            GenlError::Errno(libc::EINVAL),
            GenlError::Socket("netlink receive".into(), libc::ENOBUFS),
            GenlError::Socket("netlink receive".into(), 0),
            GenlError::Other("reading a reply: short".into()),
        ] {
            assert!(!e.is_fatal(), "{e:?}");
        }
        assert_eq!(
            GenlError::Socket("netlink send".into(), libc::EBADF).to_string(),
            format!(
                "netlink send: {}",
                std::io::Error::from_raw_os_error(libc::EBADF)
            )
        );
    }

    /// A command the kernel never answers (no NLM_F_REQUEST: netlink
    /// ignores it) times out instead of blocking forever.
    #[test]
    fn a_lost_answer_times_out() {
        // The generic netlink controller's id; any family would do.
        const GENL_ID_CTRL: u16 = 0x10;
        let mut s = match CmdSocket::open(GENL_ID_CTRL) {
            Ok(s) => s,
            // No netlink here (a sandbox): nothing to test.
            Err(e) => return asm_testutil::skip("a_lost_answer_times_out", &e.to_string()),
        };
        s.set_timeout(Duration::from_millis(200)).unwrap();
        let m = msg(GENL_ID_CTRL, 0, 77, 0, 3, &[]);
        let t = Instant::now();
        assert_eq!(s.call(&m, 77), Err(GenlError::Timeout));
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn complete_roundtrips_through_the_reader() {
        let c = Completion {
            id: 9,
            status: 0,
            provider: 4,
            text: "x".repeat(5),
            tokens_used: 3,
            fallback: false,
            tried: vec![4],
        };
        let bytes = complete_message(FAMILY, 1, &c).unwrap();
        let m = GwMsg::from_bytes(&mut Cursor::new(&bytes[..])).unwrap();
        let NlPayload::Payload(g) = m.nl_payload() else {
            panic!("no payload");
        };
        assert_eq!(*g.cmd(), GwCmd::Complete);
        let h = g.attrs().get_attr_handle();
        assert_eq!(h.get_attr_payload_as::<u32>(GwAttr::Provider).unwrap(), 4);
        assert!(h.get_attribute(GwAttr::Fallback).is_none());
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Netlink framing: splitting a datagram into messages, a message's payload
//! into attributes, and building a request. Pure byte handling in host
//! order, as netlink uses; the socket itself is in `sys`.
//!
//! Every length comes from the other end, so every step checks it against
//! the bytes actually there: a malformed message is an error, never a read
//! past the buffer.

use std::fmt;

/// `sizeof(struct nlmsghdr)`: len u32, type u16, flags u16, seq u32, pid u32.
pub const NLMSG_HDRLEN: usize = 16;
/// `sizeof(struct nlattr)`: len u16, type u16.
pub const NLA_HDRLEN: usize = 4;

/// `NLMSG_ERROR`: payload is an `int` error (negative errno, 0 for an ack)
/// followed by the request's header.
pub const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 1;

/// `NLA_F_NESTED`.
const NLA_F_NESTED: u16 = 1 << 15;
/// `NLA_F_NET_BYTEORDER`.
const NLA_F_NET_BYTEORDER: u16 = 1 << 14;

/// `NLMSG_ALIGN` / `NLA_ALIGN`: rounds up to 4 bytes, or `None` on overflow.
pub fn align4(n: usize) -> Option<usize> {
    Some(n.checked_add(3)? & !3)
}

/// A malformed message or attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A message header claims `claimed` bytes where `left` remain (or fewer
    /// than a header).
    MessageLength { claimed: usize, left: usize },
    /// An attribute header claims `claimed` bytes where `left` remain (or
    /// fewer than a header).
    AttrLength { claimed: usize, left: usize },
    /// Attribute `ty` has `len` payload bytes where its type needs another
    /// size.
    AttrSize { ty: u16, len: usize },
    /// Attribute `ty` should be a NUL-terminated string and is not one.
    AttrString { ty: u16 },
    /// A payload is shorter than the fixed header it must start with.
    Short { what: &'static str, len: usize },
    /// A required attribute is missing.
    Missing { what: &'static str },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MessageLength { claimed, left } => {
                write!(f, "message length {claimed} with {left} bytes left")
            }
            ParseError::AttrLength { claimed, left } => {
                write!(f, "attribute length {claimed} with {left} bytes left")
            }
            ParseError::AttrSize { ty, len } => {
                write!(f, "attribute {ty} has {len} bytes")
            }
            ParseError::AttrString { ty } => {
                write!(f, "attribute {ty} is not a NUL-terminated string")
            }
            ParseError::Short { what, len } => write!(f, "{what} of {len} bytes"),
            ParseError::Missing { what } => write!(f, "no {what} attribute"),
        }
    }
}

/// One netlink message: its header fields and the bytes after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`: a family id, or `NLMSG_ERROR` and friends.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`: the request's for a reply, 0 for a multicast.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// What follows the header, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

impl Message<'_> {
    /// For `NLMSG_ERROR`: the error code, 0 for an ack or a negative errno.
    pub fn error_code(&self) -> Result<i32, ParseError> {
        let b = self.payload.get(..4).ok_or(ParseError::Short {
            what: "NLMSG_ERROR payload",
            len: self.payload.len(),
        })?;
        Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The messages of one datagram, in order. After the first malformed one
/// it yields that error and stops: its length cannot be trusted to find the
/// next.
pub struct Messages<'a> {
    rest: &'a [u8],
}

/// Splits `buf`, one received datagram, into messages.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let left = self.rest.len();
        let claimed = if left >= NLMSG_HDRLEN {
            u32_at(self.rest, 0) as usize
        } else {
            0
        };
        if claimed < NLMSG_HDRLEN || claimed > left {
            self.rest = &[];
            return Some(Err(ParseError::MessageLength { claimed, left }));
        }
        let b = self.rest;
        let msg = Message {
            ty: u16_at(b, 4),
            flags: u16_at(b, 6),
            seq: u32_at(b, 8),
            pid: u32_at(b, 12),
            payload: &b[NLMSG_HDRLEN..claimed],
        };
        // The last message of a datagram may lack its padding.
        let next = align4(claimed).map_or(left, |n| n.min(left));
        self.rest = &b[next..];
        Some(Ok(msg))
    }
}

/// One attribute: its type (without the nested and byte-order flags) and
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// `nla_type & NLA_TYPE_MASK`.
    pub ty: u16,
    /// The bytes after the header, up to `nla_len`.
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    fn fixed<const N: usize>(&self) -> Result<[u8; N], ParseError> {
        self.payload.try_into().map_err(|_| ParseError::AttrSize {
            ty: self.ty,
            len: self.payload.len(),
        })
    }

    /// A `u16` payload.
    pub fn u16(&self) -> Result<u16, ParseError> {
        self.fixed().map(u16::from_ne_bytes)
    }

    /// A `u32` payload.
    pub fn u32(&self) -> Result<u32, ParseError> {
        self.fixed().map(u32::from_ne_bytes)
    }

    /// An `s32` payload.
    pub fn i32(&self) -> Result<i32, ParseError> {
        self.fixed().map(i32::from_ne_bytes)
    }

    /// A `u64` payload.
    pub fn u64(&self) -> Result<u64, ParseError> {
        self.fixed().map(u64::from_ne_bytes)
    }

    /// A NUL-terminated string payload (`NLA_NUL_STRING`), without the NUL.
    pub fn str(&self) -> Result<&'a str, ParseError> {
        let bad = ParseError::AttrString { ty: self.ty };
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .ok_or(bad.clone())?;
        std::str::from_utf8(&self.payload[..end]).map_err(|_| bad)
    }

    /// The attributes nested in this one.
    pub fn nested(&self) -> Attrs<'a> {
        attrs(self.payload)
    }
}

/// The attributes of a payload, in order; stops after the first malformed
/// one, like [`Messages`].
pub struct Attrs<'a> {
    rest: &'a [u8],
}

/// Splits `buf` (a payload after any fixed header) into attributes.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let left = self.rest.len();
        let claimed = if left >= NLA_HDRLEN {
            usize::from(u16_at(self.rest, 0))
        } else {
            0
        };
        if claimed < NLA_HDRLEN || claimed > left {
            self.rest = &[];
            return Some(Err(ParseError::AttrLength { claimed, left }));
        }
        let b = self.rest;
        let attr = Attr {
            ty: u16_at(b, 2) & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER),
            payload: &b[NLA_HDRLEN..claimed],
        };
        let next = align4(claimed).map_or(left, |n| n.min(left));
        self.rest = &b[next..];
        Some(Ok(attr))
    }
}

/// Builds one netlink message: header, a fixed family header, attributes.
pub struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    /// Starts a message of type `ty` with `flags` and sequence number `seq`;
    /// the length is filled in by [`Builder::finish`], the port is 0 (the
    /// kernel fills in the sender's).
    pub fn new(ty: u16, flags: u16, seq: u32) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        Self { buf }
    }

    /// Appends raw bytes (a family header) and pads them to 4 bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// Appends attribute `ty` with `payload`.
    ///
    /// # Panics
    ///
    /// If the payload does not fit an attribute (64 KiB); asmd only builds
    /// small requests from constants.
    pub fn attr(mut self, ty: u16, payload: &[u8]) -> Self {
        let len = u16::try_from(NLA_HDRLEN + payload.len()).expect("netlink attribute too long");
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    /// Appends attribute `ty` holding `s` and a NUL.
    pub fn attr_str(self, ty: u16, s: &str) -> Self {
        let mut payload = Vec::with_capacity(s.len() + 1);
        payload.extend_from_slice(s.as_bytes());
        payload.push(0);
        self.attr(ty, &payload)
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// The finished message, with its length written in.
    ///
    /// # Panics
    ///
    /// If it is longer than 4 GiB, which the small requests asmd builds
    /// never are.
    pub fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).expect("netlink message too long");
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NLMSG_DONE`.
    const NLMSG_DONE: u16 = 3;

    /// An attribute as the kernel lays it out: header, payload, padding.
    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn align() {
        assert_eq!(align4(0), Some(0));
        assert_eq!(align4(1), Some(4));
        assert_eq!(align4(4), Some(4));
        assert_eq!(align4(5), Some(8));
        assert_eq!(align4(usize::MAX), None);
    }

    #[test]
    fn attrs_of_every_size_with_padding() {
        let mut buf = Vec::new();
        buf.extend(nla(2, &7u64.to_ne_bytes()));
        buf.extend(nla(4, &10u32.to_ne_bytes()));
        buf.extend(nla(6, &(-5i32).to_ne_bytes()));
        buf.extend(nla(9, &3u16.to_ne_bytes())); // 6 bytes + 2 padding
        buf.extend(nla(1, &[])); // ASM_A_PAD carries nothing
        buf.extend(nla(20, b"events\0")); // 11 bytes + 1 padding
        let got: Vec<Attr> = attrs(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 6);
        assert_eq!((got[0].ty, got[0].u64()), (2, Ok(7)));
        assert_eq!((got[1].ty, got[1].u32()), (4, Ok(10)));
        assert_eq!((got[2].ty, got[2].i32()), (6, Ok(-5)));
        assert_eq!((got[3].ty, got[3].u16()), (9, Ok(3)));
        assert_eq!((got[4].ty, got[4].payload.len()), (1, 0));
        assert_eq!((got[5].ty, got[5].str()), (20, Ok("events")));
    }

    #[test]
    fn fixed_bytes_little_endian_fixture() {
        // ASM_A_AGENT_ID = 100 and ASM_A_VALUE = 2 as an x86 kernel sends
        // them (the test only runs this fixture on little-endian hosts).
        let buf: [u8; 20] = [
            8, 0, 5, 0, 100, 0, 0, 0, // len 8, type 5, u32 100
            12, 0, 11, 0, 2, 0, 0, 0, 0, 0, 0, 0, // len 12, type 11, u64 2
        ];
        if cfg!(target_endian = "little") {
            let a: Vec<Attr> = attrs(&buf).collect::<Result<_, _>>().unwrap();
            assert_eq!((a[0].ty, a[0].u32()), (5, Ok(100)));
            assert_eq!((a[1].ty, a[1].u64()), (11, Ok(2)));
        }
    }

    #[test]
    fn last_attr_without_padding_is_accepted() {
        let mut buf = nla(3, &1u32.to_ne_bytes());
        buf.extend_from_slice(&5u16.to_ne_bytes());
        buf.extend_from_slice(&8u16.to_ne_bytes());
        buf.push(b'x'); // len 5, no padding after it
        let got: Vec<Attr> = attrs(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got[1].ty, 8);
        assert_eq!(got[1].payload, b"x");
    }

    #[test]
    fn flags_are_masked_from_the_type() {
        let buf = nla(7 | NLA_F_NESTED, &nla(1, &9u32.to_ne_bytes()));
        let outer: Vec<Attr> = attrs(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(outer[0].ty, 7);
        let inner: Vec<Attr> = outer[0].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!((inner[0].ty, inner[0].u32()), (1, Ok(9)));
    }

    #[test]
    fn bad_lengths_are_errors_not_panics() {
        // Claims 12 bytes, only 8 there.
        let mut buf = nla(2, &1u32.to_ne_bytes());
        buf[0] = 12;
        let got: Vec<_> = attrs(&buf).collect();
        assert_eq!(
            got,
            vec![Err(ParseError::AttrLength {
                claimed: 12,
                left: 8
            })]
        );
        // Shorter than a header.
        let got: Vec<_> = attrs(&[3, 0, 1, 0]).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
        // Two trailing bytes: not even a header.
        let mut buf = nla(2, &1u32.to_ne_bytes());
        buf.extend_from_slice(&[1, 2]);
        let got: Vec<_> = attrs(&buf).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(ParseError::AttrLength {
                claimed: 0,
                left: 2
            })
        );
    }

    #[test]
    fn wrong_sizes_and_strings() {
        let buf = nla(5, &[1, 2, 3]);
        let a = attrs(&buf).next().unwrap().unwrap();
        assert_eq!(a.u32(), Err(ParseError::AttrSize { ty: 5, len: 3 }));
        assert!(a.u64().is_err());
        assert_eq!(a.str(), Err(ParseError::AttrString { ty: 5 }));
    }

    #[test]
    fn messages_split_a_datagram() {
        let first = Builder::new(0x10, NLM_F_REQUEST, 1)
            .raw(&[3, 1, 0, 0])
            .attr_str(2, "asm")
            .finish();
        assert_eq!(first.len(), 16 + 4 + 8);
        let second = Builder::new(NLMSG_DONE, 0, 2).finish();
        let mut dgram = first.clone();
        dgram.extend_from_slice(&second);
        let got: Vec<Message> = messages(&dgram).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].ty, got[0].flags, got[0].seq),
            (0x10, NLM_F_REQUEST, 1)
        );
        assert_eq!(&got[0].payload[..4], &[3, 1, 0, 0]);
        let a: Vec<Attr> = attrs(&got[0].payload[4..])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(a[0].str(), Ok("asm"));
        assert_eq!(
            (got[1].ty, got[1].seq, got[1].payload.len()),
            (NLMSG_DONE, 2, 0)
        );
    }

    #[test]
    fn truncated_message_is_an_error() {
        let mut msg = Builder::new(0x10, 0, 0).attr(1, &[0; 8]).finish();
        msg.truncate(20);
        let got: Vec<_> = messages(&msg).collect();
        assert_eq!(
            got,
            vec![Err(ParseError::MessageLength {
                claimed: 28,
                left: 20
            })]
        );
    }

    #[test]
    fn error_message_code() {
        let mut payload = (-2i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0; 16]);
        let msg = Builder::new(NLMSG_ERROR, 0, 1).raw(&payload).finish();
        let m = messages(&msg).next().unwrap().unwrap();
        assert_eq!(m.ty, NLMSG_ERROR);
        assert_eq!(m.error_code(), Ok(-2));
    }
}

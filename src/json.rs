// SPDX-License-Identifier: GPL-2.0

//! A strict reader of flat JSON objects (RFC 8259), for the documents user
//! space hands the module: one object whose values are strings, numbers,
//! `true`, `false` or `null`. Nested objects and arrays, duplicate keys,
//! invalid UTF-8, bad escapes and trailing bytes are errors (`EINVAL`).

use kernel::prelude::*;

/// One value of a flat object.
pub(crate) enum Value {
    Null,
    /// `true` or `false`; no member of the request takes one yet.
    #[allow(dead_code)]
    Bool(bool),
    /// A number as thousandths (`0.7` is 700, `30000` is 30 000 000), so
    /// that decimals need no floating point. Exponents are refused.
    Number(i64),
    /// A string, unescaped.
    Str(KVVec<u8>),
}

impl Value {
    /// A whole number in `min..=max`.
    pub(crate) fn integer(&self, min: u64, max: u64) -> Result<u64> {
        match *self {
            Self::Number(milli) if milli >= 0 && milli % 1000 == 0 => {
                let n = (milli / 1000) as u64;
                if (min..=max).contains(&n) {
                    Ok(n)
                } else {
                    Err(EINVAL)
                }
            }
            _ => Err(EINVAL),
        }
    }

    /// A number in thousandths, in `min..=max`.
    pub(crate) fn thousandths(&self, min: i64, max: i64) -> Result<i64> {
        match *self {
            Self::Number(milli) if (min..=max).contains(&milli) => Ok(milli),
            _ => Err(EINVAL),
        }
    }

    /// A string.
    pub(crate) fn into_str(self) -> Result<KVVec<u8>> {
        match self {
            Self::Str(s) => Ok(s),
            _ => Err(EINVAL),
        }
    }
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8> {
        let b = self.peek().ok_or(EINVAL)?;
        self.at += 1;
        Ok(b)
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result {
        self.skip_space();
        if self.next()? != b {
            return Err(EINVAL);
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result {
        let end = self.at.checked_add(word.len()).ok_or(EINVAL)?;
        if self.input.get(self.at..end) != Some(word) {
            return Err(EINVAL);
        }
        self.at = end;
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.next()? {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(EINVAL),
            };
            v = v << 4 | u32::from(d);
        }
        Ok(v)
    }

    /// A string after its opening quote; at most `max` bytes unescaped
    /// (`E2BIG` beyond).
    fn string(&mut self, max: usize) -> Result<KVVec<u8>> {
        let mut out = KVVec::new();
        loop {
            let b = self.next()?;
            let mut utf8 = [0u8; 4];
            let bytes: &[u8] = match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char()?,
                        _ => return Err(EINVAL),
                    };
                    c.encode_utf8(&mut utf8).as_bytes()
                }
                // Control characters must be escaped.
                0..=0x1f => return Err(EINVAL),
                _ => {
                    utf8[0] = b;
                    &utf8[..1]
                }
            };
            if out.len() + bytes.len() > max {
                return Err(E2BIG);
            }
            out.extend_from_slice(bytes, GFP_KERNEL)?;
        }
    }

    /// The character of a `\u` escape (after the `u`), a surrogate pair
    /// taking two escapes.
    fn escaped_char(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        let code = match hi {
            0xd800..=0xdbff => {
                self.literal(b"\\u")?;
                let lo = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&lo) {
                    return Err(EINVAL);
                }
                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(EINVAL),
            c => c,
        };
        char::from_u32(code).ok_or(EINVAL)
    }

    /// A number, in thousandths; at most three decimals, no exponent.
    fn number(&mut self) -> Result<i64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let mut int: i64 = 0;
        let mut digits = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if digits == 1 && int == 0 {
                // No leading zeros.
                return Err(EINVAL);
            }
            int = int
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(c - b'0')))
                .ok_or(EINVAL)?;
            digits += 1;
            self.at += 1;
        }
        if digits == 0 {
            return Err(EINVAL);
        }
        let mut frac = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let mut places = 0;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                if places == 3 {
                    if c != b'0' {
                        return Err(EINVAL);
                    }
                } else {
                    frac = frac * 10 + i64::from(c - b'0');
                    places += 1;
                }
                self.at += 1;
            }
            if places == 0 {
                return Err(EINVAL);
            }
            for _ in places..3 {
                frac *= 10;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return Err(EINVAL);
        }
        let milli = int
            .checked_mul(1000)
            .and_then(|v| v.checked_add(frac))
            .ok_or(EINVAL)?;
        Ok(if negative { -milli } else { milli })
    }

    fn value(&mut self, max_str: usize) -> Result<Value> {
        self.skip_space();
        match self.peek().ok_or(EINVAL)? {
            b'"' => {
                self.at += 1;
                Ok(Value::Str(self.string(max_str)?))
            }
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            _ => Err(EINVAL),
        }
    }
}

/// Reads the flat object in `input`, calling `field(key, value)` for each
/// member in order. `max_str(key)` bounds each string value (`E2BIG`
/// beyond). A key seen twice is `EINVAL`; so are the errors above.
pub(crate) fn read_object(
    input: &[u8],
    max_str: impl Fn(&[u8]) -> usize,
    mut field: impl FnMut(&[u8], Value) -> Result,
) -> Result {
    core::str::from_utf8(input).map_err(|_| EINVAL)?;
    let mut r = Reader { input, at: 0 };
    let mut keys: KVec<KVVec<u8>> = KVec::new();
    r.expect(b'{')?;
    r.skip_space();
    if r.peek() == Some(b'}') {
        r.at += 1;
    } else {
        loop {
            r.expect(b'"')?;
            let key = r.string(64).map_err(|_| EINVAL)?;
            if keys.iter().any(|k| k[..] == key[..]) {
                return Err(EINVAL);
            }
            r.expect(b':')?;
            let value = r.value(max_str(&key))?;
            field(&key, value)?;
            keys.push(key, GFP_KERNEL)?;
            r.skip_space();
            match r.next()? {
                b',' => continue,
                b'}' => break,
                _ => return Err(EINVAL),
            }
        }
    }
    r.skip_space();
    if r.at != input.len() {
        return Err(EINVAL);
    }
    Ok(())
}

// SPDX-License-Identifier: GPL-2.0

//! asmd's runtime error: a sentence naming what failed (the file, the agent,
//! the call) and why (the errno), printed as `asmd: error: ...`.

use std::fmt;

/// A runtime error; usage errors are `args::Usage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with `msg`, which should name what failed and why.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// The same error with `context` (e.g. "agent 100 (crashy)") in front.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self(format!("{context}: {}", self.0))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

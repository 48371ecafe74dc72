// SPDX-License-Identifier: GPL-2.0

//! asmd's log: one line per action on stdout, errors on stderr, each line
//! flushed at once so that a supervisor reading a pipe or a file sees it
//! when it happens (and nothing is lost when asmd is killed).

use std::fmt;
use std::io::{self, Write};

/// Writes `asmd: <args>` to stdout and flushes it.
pub fn info(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    // Nobody is left to tell when stdout itself is gone.
    let _ = writeln!(out, "asmd: {args}");
    let _ = out.flush();
}

/// Writes `asmd: error: <args>` to stderr.
pub fn error(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "asmd: error: {args}");
    let _ = err.flush();
}

/// `say!("agent {id}: ...")`: one line of the log.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::log::info(format_args!($($arg)*))
    };
}

/// `complain!("...")`: one error line, for errors asmd survives.
macro_rules! complain {
    ($($arg:tt)*) => {
        $crate::log::error(format_args!($($arg)*))
    };
}

pub(crate) use {complain, say};

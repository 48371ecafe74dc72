// SPDX-License-Identifier: GPL-2.0

//! asmctl: the command-line client of the Agent Supervision Module.
//!
//! One binary, several names: run as `asmstatus`, `asmlist`, `asminfo`,
//! `asmpolicy` or `compliance` it behaves as `asmctl status`, `asmctl list`,
//! `asmctl info`, `asmctl policy` or `asmctl compliance`. This file
//! owns the process boundary: reading argv, and turning an error into a
//! message and an exit status.

mod args;
mod commands;
mod deps;
mod error;
mod metrics;
mod model;
mod monitor;
mod profile;
mod render;
mod supervise;
mod sys;

use error::Error;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    let invocation = match args::parse(&argv0, argv.collect()) {
        Ok(invocation) => invocation,
        // Help and --version on stdout with 0, usage errors on stderr with 2.
        Err(e) => e.exit(),
    };
    // Indented for a person, one line for a pipe, unless --pretty.
    render::set_pretty(invocation.pretty || io::stdout().is_terminal());
    let command = invocation.command;
    let json = command.json();
    match commands::execute(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, json),
    }
}

/// Prints `e` where the caller looks for it: a JSON consumer reads stdout
/// and needs a document there, a person reads stderr.
fn report(e: &Error, json: bool) -> ExitCode {
    if let Error::Check(verdict) = e {
        // The verdict of a check is its output, for a person or a script.
        println!("{verdict}");
    } else if let Error::Below(verdict) = e {
        // After the report on stdout, which stays one document.
        eprintln!("asmctl: {verdict}");
    } else if json {
        // Nothing is left to tell if stdout is gone too.
        let _ = writeln!(
            io::stdout(),
            "{}",
            serde_json::json!({ "error": e.message() })
        );
    } else {
        eprintln!("Error: {}", e.message());
    }
    ExitCode::from(e.exit_code())
}

// SPDX-License-Identifier: GPL-2.0

//! asmd: the launcher of the Agent Supervision Module.
//!
//! It starts the agents described by spec files, each in its own cgroup
//! under `/sys/fs/cgroup/agentsys/`, listens to the module's lifecycle
//! events over generic netlink, and restarts an agent when the module's
//! verdict says so. The module counts the restarts and decides when an
//! agent has failed for good; asmd keeps no state, so a restarted asmd
//! re-attaches to running agents and never starts a second copy.
//!
//! This file owns the process boundary: argv, and turning the outcome into
//! an exit status (0 done, 1 runtime error, 2 usage error).

mod args;
mod cgroup;
mod depends;
mod error;
mod genl;
mod log;
mod nlattr;
mod reconcile;
mod spec;
mod supervisor;
mod sys;

use args::Parsed;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cfg = match args::parse(std::env::args_os()) {
        Ok(Parsed::Run(cfg)) => cfg,
        Ok(Parsed::Completions(shell)) => {
            args::write_completions(shell, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::ManPage(dir)) => {
            return match args::write_man_page(&dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error(format_args!(
                        "writing the man page to {}: {e}",
                        dir.display()
                    ));
                    ExitCode::FAILURE
                }
            };
        }
        // Help and --version on stdout with 0, usage errors on stderr with 2.
        Err(e) => e.exit(),
    };

    let specs = match spec::load_dir(&cfg.spec_dir, &sys::SystemAccounts) {
        Ok(specs) => specs,
        Err(errors) => {
            for e in errors {
                log::error(format_args!("{e}"));
            }
            return ExitCode::FAILURE;
        }
    };

    if cfg.check {
        for spec in &specs {
            log::info(format_args!("{}", spec.summary()));
        }
        if let Some(line) = depends::order_line(&specs, &depends::start_order(&specs)) {
            log::info(format_args!("{line}"));
        }
        log::info(format_args!(
            "{} spec file(s) in {} are valid",
            specs.len(),
            cfg.spec_dir.display()
        ));
        return ExitCode::SUCCESS;
    }

    match supervisor::run(&cfg, &specs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(format_args!("{e}"));
            ExitCode::FAILURE
        }
    }
}

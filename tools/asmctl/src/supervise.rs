// SPDX-License-Identifier: GPL-2.0

//! `asmctl run`: the supervising parent. It forks the process that
//! becomes the agent (new session, `no_new_privs`, Landlock, REGISTER, no
//! capability, exec),
//! waits for the agent's last process, and acts on the module's verdict:
//! a restart (`ASM_REGISTER_RESTART` from a new child) while the agent is
//! in Recovery, else one line on stderr saying why the agent ended when the
//! module ended it, and an exit status (Documentation/admin-guide.rst,
//! "asmctl run").

use crate::args::{Launch, Target};
use crate::error::{Error, Op};
use crate::model::{AgentInfo, FaultRecord};
use crate::render::printable;
use crate::sys::{self, Device, Errno};
use asm_abi::{text_name, AsmRegister, ASM_REGISTER_RESTART};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// The exit status when the module ended the agent for a fault (a kill or
/// restart action with no restart left, or an oversight stop).
pub const STOPPED_BY_ASM: u8 = 124;

/// What the child reports through the pipe before it execs.
enum Report {
    /// It registered (or restarted) agent `id`; the exec follows.
    Registered(u32),
    /// It could not: the message and the exit status.
    Failed(String, u8),
}

/// Runs the agent until the module's last verdict; does not return but by
/// an error before the first start.
pub fn run(launch: Launch) -> Result<(), Error> {
    // Checked first for a clear error; not kept open, which would keep the
    // module from being unloaded while the agent runs.
    drop(Device::open().map_err(|e| Op::Open.fail(e))?);
    let mut restart_of = None;
    loop {
        let started_ns = sys::boottime_ns().unwrap_or(0);
        let (pid, report) = start(&launch, restart_of)?;
        let id = match report {
            Report::Registered(id) => id,
            Report::Failed(message, code) => {
                sys::reap(pid);
                return Err(match code {
                    127 => Error::Exec(message),
                    _ => Error::Failed(message),
                });
            }
        };
        if restart_of.is_none() && !launch.quiet {
            if launch.spec.id == 0 {
                eprintln!("asmctl: agent {id}");
            }
            if launch.spec.capabilities == 0 {
                eprintln!("asmctl: notice: {}", no_capabilities(id));
            }
        }
        let status = sys::wait_forwarding(pid, !launch.keep_tty);
        let info = ended(id);
        match verdict(info.as_ref(), id, status, started_ns) {
            // Ctrl-C or a kill of asmctl ends the agent, not one run of it;
            // so does a Ctrl-C that reached the agent from the terminal it
            // shares with asmctl (--keep-tty).
            Verdict::Restart(_)
                if sys::signalled()
                    || (launch.keep_tty
                        && matches!(status & 0x7f, libc::SIGINT | libc::SIGQUIT)) =>
            {
                std::process::exit(shell_status(status).into());
            }
            Verdict::Restart(line) => {
                if !launch.quiet {
                    eprintln!("asmctl: {line}");
                }
                restart_of = Some(id);
            }
            Verdict::End(line, code) => {
                if let Some(line) = line {
                    eprintln!("asmctl: {line}");
                }
                std::process::exit(code.into());
            }
        }
    }
}

/// The notice for an agent without capabilities.
fn no_capabilities(id: u32) -> String {
    format!(
        "agent {id} has no capabilities: it may read only the system files, \
         exec nothing it forked (ProcessSpawn), connect (NetClient), listen \
         (NetServer) or ask for LLM completions (LlmAccess)"
    )
}

/// Forks the process that becomes the agent; returns its pid and what it
/// reported before its exec.
fn start(launch: &Launch, restart_of: Option<u32>) -> Result<(i32, Report), Error> {
    let (rfd, wfd) = sys::pipe().map_err(|e| Error::Failed(format!("pipe: {}", e.text())))?;
    let pid = sys::fork_blocked().map_err(|e| Error::Failed(format!("fork: {}", e.text())))?;
    if pid == 0 {
        drop(rfd);
        become_agent(launch, restart_of, wfd);
    }
    drop(wfd);
    let mut text = String::new();
    let _ = std::fs::File::from(rfd).read_to_string(&mut text);
    // "ok ID" once registered, then "CODE MESSAGE" if the exec failed: the
    // last line says how the start went.
    let report = match text.lines().last().and_then(|l| l.split_once(' ')) {
        Some(("ok", id)) => id.parse().map(Report::Registered).ok(),
        Some((code, message)) => code
            .parse()
            .ok()
            .map(|code| Report::Failed(message.to_owned(), code)),
        None => None,
    }
    .unwrap_or_else(|| Report::Failed("the agent's process ended before it ran".into(), 1));
    Ok((pid, report))
}

/// The child: becomes the agent and execs the command; never returns.
fn become_agent(launch: &Launch, restart_of: Option<u32>, wfd: OwnedFd) -> ! {
    let mut pipe = std::fs::File::from(wfd);
    let fail = |pipe: &mut std::fs::File, e: Error| -> ! {
        let _ = write!(pipe, "{} {}", e.exit_code(), e.message());
        std::process::exit(e.exit_code().into());
    };
    if let Err(e) = prepare(launch, restart_of.is_some()) {
        fail(&mut pipe, e);
    }
    let dev = match Device::open() {
        Ok(dev) => dev,
        Err(e) => fail(&mut pipe, Op::Open.fail(e)),
    };
    let registered = match restart_of {
        None => crate::commands::register(&dev, &launch.spec, &Target::Caller),
        Some(id) => restart(&dev, id),
    };
    match registered {
        Ok(id) => {
            let _ = write!(pipe, "ok {id}");
        }
        Err(e) => fail(&mut pipe, e),
    }
    // The command gets no handle on its supervisor; the pipe is O_CLOEXEC,
    // so the parent reads its end once the exec succeeded.
    drop(dev);
    // No capability reaches the agent, root's included: its powers are its
    // ASM capabilities. After REGISTER, which may need CAP_SYS_ADMIN (a
    // chosen id, a restart budget).
    if let Err(e) = sys::drop_capabilities() {
        let _ = write!(pipe, "\n1 cannot give up the capabilities: {}", e.text());
        std::process::exit(1)
    }
    let errno = sys::exec(&launch.program, &launch.args);
    let _ = write!(
        pipe,
        "\n127 cannot run '{}': {}",
        launch.program.to_string_lossy(),
        errno.text()
    );
    std::process::exit(127)
}

/// The agent's process, before REGISTER: its own session (unless
/// `--keep-tty`), no new privileges, and Landlock.
fn prepare(launch: &Launch, restart: bool) -> Result<(), Error> {
    if !launch.keep_tty {
        sys::setsid().map_err(|e| {
            Error::Failed(format!("cannot start a new session (setsid): {}", e.text()))
        })?;
    }
    // Whatever Landlock does (it sets it too), the agent never gains
    // privileges through a set-user-id program or file capabilities.
    sys::no_new_privs()
        .map_err(|e| Error::Failed(format!("cannot set no_new_privs: {}", e.text())))?;
    if launch.no_landlock {
        return Ok(());
    }
    // Landlock before REGISTER: opening the rules' paths is not the agent's
    // doing. It governs opens only, so /dev/asm keeps working. What it
    // enforces (or that it is missing) is said once, at the first start.
    let spec = &launch.spec;
    let scope = (!spec.scope.is_empty()).then(|| std::path::Path::new(&spec.scope));
    match asm_landlock::apply(spec.capabilities, scope, &launch.program) {
        Ok(asm_landlock::Status::Applied(report)) => {
            if !launch.quiet && !restart {
                eprintln!("asmctl: {report}");
            }
            Ok(())
        }
        Ok(asm_landlock::Status::Unsupported) => {
            if !launch.quiet && !restart {
                eprintln!(
                    "asmctl: warning: the kernel has no Landlock: running without it (the \
                     module still detects violations)"
                );
            }
            Ok(())
        }
        Err(e) => Err(Error::Failed(format!(
            "cannot apply the Landlock ruleset: {}: {}",
            e.what(),
            Errno(e.errno()).text()
        ))),
    }
}

/// `ASM_REGISTER_RESTART` of agent `id` by the calling process.
fn restart(dev: &Device, id: u32) -> Result<u32, Error> {
    let mut req = AsmRegister::new();
    req.agent_id = id;
    req.flags = ASM_REGISTER_RESTART;
    req.risk_level = 0;
    dev.register(&mut req)
        .map_err(|e| Op::Restart(id).fail(e))?;
    Ok(id)
}

/// Waits until agent `id` has no process left (the command's children may
/// outlive it) and returns its document; `None` if it cannot be read (the
/// agent was unregistered, the module unloaded). `/dev/asm` is open only
/// for each look.
fn ended(id: u32) -> Option<AgentInfo> {
    loop {
        // Asked to stop: the agent's document as it is.
        let stop = sys::signalled();
        let doc = Device::open().ok()?.agent_info_json(id).ok()?;
        let info: AgentInfo = serde_json::from_slice(&doc).ok()?;
        if info.nr_processes == 0 || stop {
            return Some(info);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `asmctl run` does once the agent has no process left.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Start it again, after saying this.
    Restart(String),
    /// Exit with this status, after saying this if anything.
    End(Option<String>, u8),
}

/// The status a shell reports for a wait(2) `status`.
fn shell_status(status: i32) -> u8 {
    if status & 0x7f == 0 {
        ((status >> 8) & 0xff) as u8
    } else {
        128u8.wrapping_add((status & 0x7f) as u8)
    }
}

/// How a wait(2) status reads: "exit code 3", "signal 9 (SIGKILL)".
fn how(status: i32) -> String {
    match status & 0x7f {
        0 => format!("exit code {}", (status >> 8) & 0xff),
        sig => format!(
            "signal {sig}{}",
            signal_name(sig).map_or(String::new(), |n| format!(" ({n})"))
        ),
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Judges how agent `id` ended: `info` is its document once its last
/// process ended (`None` if it is gone), `status` the wait(2) status of the
/// command's process, `started_ns` when this run started (CLOCK_BOOTTIME).
fn verdict(info: Option<&AgentInfo>, id: u32, status: i32, started_ns: u64) -> Verdict {
    let own = shell_status(status);
    let Some(info) = info else {
        return Verdict::End(None, own);
    };
    // The fault, of this run, that the module ended the agent for.
    let ended_for = info.recent_faults.iter().flatten().rev().find(|f| {
        f.timestamp_ns >= started_ns
            && f.kind != "Crash"
            && (f.action == "Kill" || f.action == "Restart")
    });
    let last = info.last_exit_code.map_or(status, |s| s as i32);
    let restarts = format!("restart {} of {}", info.restart_count, info.max_restarts);
    match (info.state.as_str(), ended_for) {
        ("Recovery", Some(f)) => Verdict::Restart(format!(
            "agent {id} stopped by ASM: {}; {}",
            fault_text(f, info),
            next_restart(info)
        )),
        ("Recovery", None) => Verdict::Restart(format!(
            "agent {id} crashed ({}): {}",
            how(last),
            next_restart(info)
        )),
        ("Failed", Some(f)) => Verdict::End(
            Some(format!(
                "agent {id} stopped by ASM: {}",
                fault_text(f, info)
            )),
            STOPPED_BY_ASM,
        ),
        ("Failed", None) if info.max_restarts > 0 && last & 0x7f != 9 => Verdict::End(
            Some(format!(
                "agent {id} failed: {} after {restarts} (the restart budget is used up)",
                how(last)
            )),
            own,
        ),
        // A crash with no budget, or a SIGKILL with no fault: an oversight
        // stop, or a process that was killed by someone else.
        ("Failed", None) if last & 0x7f == 9 => Verdict::End(
            Some(format!("agent {id} was killed (SIGKILL) and ended Failed")),
            own,
        ),
        _ => Verdict::End(None, own),
    }
}

/// "restart 1 of 2".
fn next_restart(info: &AgentInfo) -> String {
    format!(
        "restart {} of {}",
        info.restart_count + 1,
        info.max_restarts
    )
}

/// What a fault was, in a line: the violation's operation and detail, or
/// the observed value against the limit.
fn fault_text(f: &FaultRecord, info: &AgentInfo) -> String {
    match f.kind.as_str() {
        "CapabilityViolation" => match &info.last_violation {
            // The path is the agent's choice: no escape sequence of its
            // reaches the terminal.
            Some(v) => format!(
                "capability violation: {} {} ({})",
                printable(text_name(&v.kind).as_bytes()),
                printable(v.detail.as_bytes()),
                needs(&v.kind)
            ),
            None => "capability violation".into(),
        },
        "Memory" => format!(
            "memory limit exceeded: {} bytes resident, limit {}",
            f.observed, f.limit
        ),
        "CpuQuota" => format!(
            "CPU quota exceeded: {} ms in a window, quota {} ms",
            f.observed, f.limit
        ),
        "SyscallFlood" => format!(
            "syscall flood: {} per second, limit {}",
            f.observed, f.limit
        ),
        "Unresponsive" => format!(
            "unresponsive: no heartbeat for {} ms, watchdog {} ms",
            f.observed, f.limit
        ),
        other => format!(
            "{} ({} > {} {})",
            text_name(other),
            f.observed,
            f.limit,
            text_name(&f.unit)
        ),
    }
}

/// What an operation of violation type `kind` needs.
fn needs(kind: &str) -> &'static str {
    match kind {
        "Exec" => "a forked process needs ProcessSpawn to exec",
        "Connect" => "needs NetClient",
        "Listen" => "needs NetServer",
        "Llm" => "needs LlmAccess",
        _ => "outside what FsBasic, FsExtended and the scope allow",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LastViolation;

    fn info(state: &str) -> AgentInfo {
        let mut i = AgentInfo::from(&asm_abi::AsmAgentInfo::new(7));
        i.agent_id = 7;
        i.state = state.into();
        i.recent_faults = Some(Vec::new());
        i
    }

    fn fault(kind: &str, action: &str, at: u64) -> FaultRecord {
        FaultRecord {
            timestamp_ns: at,
            kind: kind.into(),
            observed: 5,
            limit: 0,
            unit: "Violation".into(),
            action: action.into(),
        }
    }

    #[test]
    fn a_crash_with_restarts_left_is_restarted() {
        let mut i = info("Recovery");
        i.max_restarts = 2;
        i.last_exit_code = Some(3 << 8);
        assert_eq!(
            verdict(Some(&i), 7, 3 << 8, 0),
            Verdict::Restart("agent 7 crashed (exit code 3): restart 1 of 2".into())
        );
    }

    #[test]
    fn a_used_up_budget_says_so_and_keeps_the_commands_status() {
        let mut i = info("Failed");
        i.max_restarts = 2;
        i.restart_count = 2;
        i.last_exit_code = Some(3 << 8);
        assert_eq!(
            verdict(Some(&i), 7, 3 << 8, 0),
            Verdict::End(
                Some(
                    "agent 7 failed: exit code 3 after restart 2 of 2 (the restart budget is \
                     used up)"
                        .into()
                ),
                3
            )
        );
    }

    #[test]
    fn a_violation_kill_names_the_operation_and_the_program() {
        let mut i = info("Failed");
        i.recent_faults = Some(vec![fault("CapabilityViolation", "Kill", 100)]);
        i.last_violation = Some(LastViolation {
            kind: "Exec".into(),
            detail: "/usr/bin/sleep".into(),
        });
        assert_eq!(
            verdict(Some(&i), 7, 9, 50),
            Verdict::End(
                Some(
                    "agent 7 stopped by ASM: capability violation: exec /usr/bin/sleep (a \
                     forked process needs ProcessSpawn to exec)"
                        .into()
                ),
                STOPPED_BY_ASM
            )
        );
    }

    #[test]
    fn a_fault_of_an_earlier_run_is_not_this_runs() {
        let mut i = info("Exited");
        i.recent_faults = Some(vec![fault("Memory", "Kill", 10)]);
        assert_eq!(verdict(Some(&i), 7, 0, 50), Verdict::End(None, 0));
    }

    #[test]
    fn a_plain_exit_or_crash_keeps_its_status_quietly() {
        assert_eq!(
            verdict(Some(&info("Exited")), 7, 0, 0),
            Verdict::End(None, 0)
        );
        let mut i = info("Failed");
        i.last_exit_code = Some(3 << 8);
        assert_eq!(verdict(Some(&i), 7, 3 << 8, 0), Verdict::End(None, 3));
        assert_eq!(verdict(None, 7, 15, 0), Verdict::End(None, 143));
    }
}

// SPDX-License-Identifier: GPL-2.0

//! What each command does: the requests it makes through `sys`, in which
//! order, and which view of the answer it prints.

use crate::args::{AgentSpec, Command, Target};
use crate::error::{Error, Op};
use crate::model::{AgentInfo, Telemetry};
use crate::render;
use crate::sys::{self, Device, Errno};
use asm_abi::{AsmRegister, ASM_DEVICE_PATH, ASM_TARGET_CGROUP, ASM_TARGET_PID, ASM_TARGET_SELF};
use serde::Deserialize;
use serde_json::Value;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

/// Runs `command`; returns only when it is done (`run` on success does not
/// return: the process has become the agent's command).
pub fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Help => print(&crate::args::usage()),
        Command::Status { json } => status(json),
        Command::List { all, json } => list(all, json),
        Command::Info { id, json } => info(id, json),
        Command::Run {
            spec,
            quiet,
            program,
            args,
        } => {
            let dev = open()?;
            let id = register(&dev, &spec, &Target::Caller)?;
            if spec.id == 0 && !quiet {
                eprintln!("asmctl: agent {id}");
            }
            // The command gets no handle on its supervisor (the fd is
            // O_CLOEXEC as well; this also covers a failed exec).
            drop(dev);
            let errno = sys::exec(&program, &args);
            Err(Error::Exec(format!(
                "cannot run '{}': {errno}",
                program.to_string_lossy()
            )))
        }
        Command::Register { spec, target } => {
            let dev = open()?;
            let id = register(&dev, &spec, &target)?;
            print(&format!("{id}\n"))
        }
        Command::Unregister { id } => open()?
            .unregister(id)
            .map_err(|e| Op::Unregister(id).fail(e)),
    }
}

/// Writes `text` to stdout. A closed pipe (`asmlist | head -1`) is not an
/// error worth reporting; anything else is.
fn print(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Error::Failed(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

fn open() -> Result<Device, Error> {
    Device::open().map_err(|e| Op::Open.fail(e))
}

/// Parses a document the module wrote.
fn parse_doc(bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(malformed)
}

fn malformed(e: serde_json::Error) -> Error {
    Error::Failed(format!("malformed JSON from {ASM_DEVICE_PATH}: {e}"))
}

fn status(json: bool) -> Result<(), Error> {
    let bytes = open()?
        .telemetry_json()
        .map_err(|e| Op::Telemetry.fail(e))?;
    let doc = parse_doc(&bytes)?;
    if json {
        return print(&render::json(&doc));
    }
    let telemetry = Telemetry::deserialize(&doc).map_err(malformed)?;
    print(&render::status(&telemetry))
}

fn list(all: bool, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let ids = dev.list().map_err(|e| Op::List.fail(e))?;
    if json {
        let mut docs = Vec::new();
        for id in ids {
            // An agent unregistered since LIST is simply no longer listed.
            let bytes = match dev.agent_info_json(id) {
                Err(Errno(libc::ESRCH)) => continue,
                other => other.map_err(|e| Op::Info(id).fail(e))?,
            };
            let doc = parse_doc(&bytes)?;
            if AgentInfo::deserialize(&doc).map_err(malformed)?.listed(all) {
                docs.push(doc);
            }
        }
        return print(&render::json(&Value::Array(docs)));
    }
    let mut agents = Vec::new();
    for id in ids {
        match dev.info(id) {
            Ok(raw) => agents.push(AgentInfo::from(&raw)),
            // Unregistered since LIST: no longer listed.
            Err(Errno(libc::ESRCH)) => {}
            Err(e) => return Err(Op::Info(id).fail(e)),
        }
    }
    agents.retain(|a| a.listed(all));
    print(&render::list(&agents, all))
}

fn info(id: u32, json: bool) -> Result<(), Error> {
    let bytes = open()?
        .agent_info_json(id)
        .map_err(|e| Op::Info(id).fail(e))?;
    let doc = parse_doc(&bytes)?;
    if json {
        return print(&render::json(&doc));
    }
    let agent = AgentInfo::deserialize(&doc).map_err(malformed)?;
    let now = sys::boottime_ns().map_err(|e| Op::Clock.fail(e))?;
    print(&render::info(&agent, now))
}

/// `ASM_IOC_REGISTER` of `target` as `spec` says; returns the agent's id.
fn register(dev: &Device, spec: &AgentSpec, target: &Target) -> Result<u32, Error> {
    let mut req = request(spec)?;
    // Held until the ioctl is done: the kernel resolves the fd during it.
    let cgroup = match target {
        Target::Caller => {
            req.target = ASM_TARGET_SELF;
            None
        }
        Target::Pid(pid) => {
            req.target = ASM_TARGET_PID;
            req.pid = *pid;
            None
        }
        Target::Cgroup(path) => {
            let fd = sys::open_dir(path).map_err(|e| Op::OpenCgroup(path).fail(e))?;
            req.target = ASM_TARGET_CGROUP;
            req.cgroup_fd = fd.as_raw_fd();
            Some(fd)
        }
    };
    dev.register(&mut req)
        .map_err(|e| Op::Register(target, spec.id).fail(e))?;
    drop(cgroup);
    Ok(req.agent_id)
}

/// The part of the request that does not depend on the target.
fn request(spec: &AgentSpec) -> Result<AsmRegister, Error> {
    let mut req = AsmRegister::new();
    req.agent_id = spec.id;
    req.capabilities = spec.capabilities;
    req.auto_restart = spec.auto_restart;
    // args.rs bounded both lengths already; NUL cannot come from argv.
    req.set_name(spec.name.as_bytes())
        .map_err(|e| Error::Usage(format!("agent name {e}")))?;
    req.set_scope(spec.scope.as_bytes())
        .map_err(|e| Error::Usage(format!("scope {e}")))?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_CAP_ADMIN, ASM_CAP_NET_CLIENT};

    #[test]
    fn register_request_from_spec() {
        let spec = AgentSpec {
            name: "net_agent".into(),
            id: 101,
            capabilities: ASM_CAP_NET_CLIENT | ASM_CAP_ADMIN,
            scope: "/srv/x".into(),
            auto_restart: 2,
        };
        let req = request(&spec).unwrap();
        assert_eq!((req.size, req.version), (360, 1));
        assert_eq!(req.agent_id, 101);
        assert_eq!(req.capabilities, ASM_CAP_NET_CLIENT | ASM_CAP_ADMIN);
        assert_eq!(req.auto_restart, 2);
        assert_eq!(&req.name[..10], b"net_agent\0");
        assert_eq!(&req.scope[..7], b"/srv/x\0");
        assert_eq!(
            (req.target, req.pid, req.cgroup_fd, req.flags),
            (0, 0, 0, 0)
        );
        assert_eq!(req.reserved, [0; 4]);
    }
}

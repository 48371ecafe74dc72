// SPDX-License-Identifier: GPL-2.0

//! The command line: which command the user asked for, the multi-call
//! aliases (`asmstatus`, `asmlist`, `asminfo`), and the usage text.
//!
//! Everything a user can get wrong is checked here, before `/dev/asm` is
//! opened, so a typo never reaches the kernel.

use crate::error::Error;
use asm_abi::{parse_capability, ASM_ID_MAX, ASM_NAME_LEN, ASM_SCOPE_LEN, CAPABILITIES};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the usage text.
    Help,
    /// System metrics and recent events.
    Status { json: bool },
    /// Agents with live processes, or every agent with `all`.
    List { all: bool, json: bool },
    /// One agent in detail.
    Info { id: u32, json: bool },
    /// Register this process, then exec `program` with `args`.
    Run {
        spec: AgentSpec,
        quiet: bool,
        program: OsString,
        args: Vec<OsString>,
    },
    /// Register another process or a cgroup.
    Register { spec: AgentSpec, target: Target },
    /// Forget an agent.
    Unregister { id: u32 },
}

impl Command {
    /// Whether errors should be reported as JSON on stdout.
    pub fn json(&self) -> bool {
        match self {
            Command::Status { json } | Command::List { json, .. } | Command::Info { json, .. } => {
                *json
            }
            _ => false,
        }
    }
}

/// What `run` and `register` ask the kernel to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// 1 to `ASM_NAME_LEN - 1` bytes.
    pub name: String,
    /// The requested id, or 0 for one the kernel allocates.
    pub id: u32,
    /// `ASM_CAP_*` bits.
    pub capabilities: u64,
    /// An absolute path, or empty for no scope.
    pub scope: String,
    /// Restart budget.
    pub auto_restart: u32,
}

/// Who becomes the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The asmctl process itself (`run`), which then execs the command.
    Caller,
    /// Another process.
    Pid(i32),
    /// Every task of a cgroup v2 directory.
    Cgroup(PathBuf),
}

/// The usage text for `help`.
pub fn usage() -> String {
    let caps: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    format!(
        "\
Usage: asmctl COMMAND [ARGS]
       asmstatus [--json]          same as asmctl status
       asmlist [--all] [--json]    same as asmctl list
       asminfo ID [--json]         same as asmctl info ID

Commands:
  status [--json]           system metrics and the last 10 events
  list [--all] [--json]     agents with live processes (--all: every agent)
  info ID [--json]          one agent in detail
  run --name NAME [--id ID] [--cap CAP]... [--scope PATH]
      [--auto-restart N] [--quiet] -- CMD [ARGS]...
                            register this process as an agent, then exec CMD
  register (--pid PID | --cgroup PATH) --name NAME [--id ID]
      [--cap CAP]... [--scope PATH] [--auto-restart N]
                            register another process or a cgroup v2; prints the id
  unregister ID             forget an agent (its processes keep running)
  help                      this text

Without --id the kernel allocates an id. --cap may be repeated or take a
comma-separated list. Capability names (any case; fs_basic and FS_BASIC
work too):
  {}
",
        caps.join(", ")
    )
}

/// The command a multi-call name stands for, if `argv0` is one.
pub fn alias(argv0: &OsStr) -> Option<&'static str> {
    match Path::new(argv0).file_name()?.to_str()? {
        "asmstatus" => Some("status"),
        "asmlist" => Some("list"),
        "asminfo" => Some("info"),
        _ => None,
    }
}

fn usage_error(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

fn utf8(arg: &OsStr) -> Result<&str, Error> {
    arg.to_str()
        .ok_or_else(|| usage_error(format!("argument {arg:?} is not valid UTF-8")))
}

/// Parses the command line: `argv0` picks an alias, `args` are the rest.
pub fn parse(argv0: &OsStr, args: Vec<OsString>) -> Result<Command, Error> {
    let mut args = args.into_iter();
    let command = match alias(argv0) {
        Some(command) => command.to_string(),
        None => match args.next() {
            Some(arg) => utf8(&arg)?.to_string(),
            None => return Err(usage_error("missing command")),
        },
    };
    let mut args = Args {
        command: command.clone(),
        rest: args,
    };
    match command.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "status" => parse_status(&mut args),
        "list" => parse_list(&mut args),
        "info" => parse_info(&mut args),
        "run" => parse_run(&mut args),
        "register" => parse_register(&mut args),
        "unregister" => parse_unregister(&mut args),
        other => Err(usage_error(format!("unknown command '{other}'"))),
    }
}

/// The arguments after the command name.
struct Args {
    command: String,
    rest: std::vec::IntoIter<OsString>,
}

/// One command-line argument, classified.
enum Arg {
    /// `--opt` or `-o`, with the value of a `--opt=value`.
    Opt(String, Option<String>),
    /// An argument that is not an option (an id, or `run`'s command).
    Positional(OsString),
    /// `--`: what follows is `run`'s command, not options of ours.
    DashDash,
}

impl Args {
    fn next(&mut self) -> Result<Option<Arg>, Error> {
        let Some(arg) = self.rest.next() else {
            return Ok(None);
        };
        if arg == "--" {
            return Ok(Some(Arg::DashDash));
        }
        // "-" alone is a conventional positional (stdin), not an option.
        if arg.len() < 2 || !arg.as_encoded_bytes().starts_with(b"-") {
            return Ok(Some(Arg::Positional(arg)));
        }
        let text = utf8(&arg)?;
        Ok(Some(match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                Arg::Opt(name.to_string(), Some(value.to_string()))
            }
            _ => Arg::Opt(text.to_string(), None),
        }))
    }

    /// The value of option `name`: inline (`--name=x`) or the next argument.
    fn value(&mut self, name: &str, inline: Option<String>) -> Result<String, Error> {
        if let Some(value) = inline {
            return Ok(value);
        }
        match self.rest.next() {
            Some(value) => Ok(utf8(&value)?.to_string()),
            None => Err(usage_error(format!("{name} needs a value"))),
        }
    }

    fn unexpected(&self, arg: &Arg) -> Error {
        let what = match arg {
            Arg::Opt(name, _) => format!("unknown option '{name}'"),
            Arg::Positional(p) => format!("unexpected argument '{}'", p.to_string_lossy()),
            Arg::DashDash => "unexpected '--'".to_string(),
        };
        usage_error(format!("{what} for {}", self.command))
    }
}

/// Rejects `--opt=value` for a flag that takes no value.
fn flag(name: &str, inline: Option<&String>) -> Result<(), Error> {
    match inline {
        Some(_) => Err(usage_error(format!("{name} takes no value"))),
        None => Ok(()),
    }
}

fn is_help(arg: &Arg) -> bool {
    matches!(arg, Arg::Opt(name, None) if name == "-h" || name == "--help")
}

fn parse_status(args: &mut Args) -> Result<Command, Error> {
    let mut json = false;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    Ok(Command::Status { json })
}

fn parse_list(args: &mut Args) -> Result<Command, Error> {
    let (mut all, mut json) = (false, false);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--all" || name == "-a" => {
                flag(name, inline.as_ref())?;
                all = true;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    Ok(Command::List { all, json })
}

fn parse_info(args: &mut Args) -> Result<Command, Error> {
    let (mut id, mut json) = (None, false);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("info needs an agent id"))?;
    Ok(Command::Info { id, json })
}

fn parse_unregister(args: &mut Args) -> Result<Command, Error> {
    let mut id = None;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("unregister needs an agent id"))?;
    Ok(Command::Unregister { id })
}

/// Options shared by `run` and `register`, collected before validation.
#[derive(Default)]
struct SpecBuilder {
    name: Option<String>,
    id: u32,
    capabilities: u64,
    scope: String,
    auto_restart: u32,
}

impl SpecBuilder {
    /// Takes `arg` if it is one of the shared options; `Ok(false)` if not.
    fn take(&mut self, args: &mut Args, arg: &Arg) -> Result<bool, Error> {
        let Arg::Opt(name, inline) = arg else {
            return Ok(false);
        };
        let inline = inline.clone();
        match name.as_str() {
            "--name" => self.name = Some(args.value(name, inline)?),
            "--id" => self.id = parse_id(&args.value(name, inline)?)?,
            "--cap" => self.capabilities |= parse_caps(&args.value(name, inline)?)?,
            "--scope" => self.scope = args.value(name, inline)?,
            "--auto-restart" => {
                let value = args.value(name, inline)?;
                self.auto_restart = value.parse().map_err(|_| {
                    usage_error(format!(
                        "invalid restart count '{value}' for --auto-restart"
                    ))
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn build(self, command: &str) -> Result<AgentSpec, Error> {
        let name = self
            .name
            .ok_or_else(|| usage_error(format!("{command} needs --name")))?;
        if name.is_empty() || name.len() >= ASM_NAME_LEN {
            return Err(usage_error(format!(
                "agent name must be 1 to {} bytes long",
                ASM_NAME_LEN - 1
            )));
        }
        if self.scope.len() >= ASM_SCOPE_LEN {
            return Err(usage_error(format!(
                "scope must be at most {} bytes long",
                ASM_SCOPE_LEN - 1
            )));
        }
        if !self.scope.is_empty() && !self.scope.starts_with('/') {
            return Err(usage_error(format!(
                "scope '{}' is not an absolute path",
                self.scope
            )));
        }
        Ok(AgentSpec {
            name,
            id: self.id,
            capabilities: self.capabilities,
            scope: self.scope,
            auto_restart: self.auto_restart,
        })
    }
}

fn parse_run(args: &mut Args) -> Result<Command, Error> {
    let mut spec = SpecBuilder::default();
    let mut quiet = false;
    let mut program = None;
    while let Some(arg) = args.next()? {
        if spec.take(args, &arg)? {
            continue;
        }
        match arg {
            ref a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(ref name, ref inline) if name == "--quiet" || name == "-q" => {
                flag(name, inline.as_ref())?;
                quiet = true;
            }
            // The command starts after "--", or at the first argument that
            // is not an option; its own options are not ours.
            Arg::DashDash => {
                program = args.rest.next();
                break;
            }
            Arg::Positional(p) => {
                program = Some(p);
                break;
            }
            Arg::Opt(..) => return Err(args.unexpected(&arg)),
        }
    }
    let spec = spec.build("run")?;
    let program = program.ok_or_else(|| usage_error("run needs a command after --"))?;
    Ok(Command::Run {
        spec,
        quiet,
        program,
        args: args.rest.by_ref().collect(),
    })
}

fn parse_register(args: &mut Args) -> Result<Command, Error> {
    let mut spec = SpecBuilder::default();
    let mut target = None;
    while let Some(arg) = args.next()? {
        if spec.take(args, &arg)? {
            continue;
        }
        let new = match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--pid" => {
                let value = args.value(name, inline.clone())?;
                match value.parse::<i32>() {
                    Ok(pid) if pid > 0 => Target::Pid(pid),
                    _ => return Err(usage_error(format!("invalid pid '{value}'"))),
                }
            }
            Arg::Opt(name, inline) if name == "--cgroup" => {
                Target::Cgroup(PathBuf::from(args.value(name, inline.clone())?))
            }
            _ => return Err(args.unexpected(&arg)),
        };
        if target.replace(new).is_some() {
            return Err(usage_error("register takes one of --pid and --cgroup"));
        }
    }
    let target = target.ok_or_else(|| usage_error("register needs --pid or --cgroup"))?;
    let spec = spec.build("register")?;
    Ok(Command::Register { spec, target })
}

/// An agent id the user typed: 1 to `ASM_ID_MAX` (0 means "allocate one"
/// in the ABI, which the user asks for by leaving `--id` out).
fn parse_id(text: &str) -> Result<u32, Error> {
    match text.parse::<u32>() {
        Ok(id) if (1..=ASM_ID_MAX).contains(&id) => Ok(id),
        _ => Err(usage_error(format!(
            "invalid agent id '{text}' (expected 1 to {ASM_ID_MAX})"
        ))),
    }
}

/// A comma-separated list of capability names, as bits.
fn parse_caps(text: &str) -> Result<u64, Error> {
    text.split(',').try_fold(0, |bits, name| {
        parse_capability(name.trim())
            .map(|bit| bits | bit)
            .ok_or_else(|| {
                let known: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
                usage_error(format!(
                    "unknown capability '{name}' (known: {})",
                    known.join(", ")
                ))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_CAP_FS_BASIC, ASM_CAP_LLM_ACCESS, ASM_CAP_NET_CLIENT};

    fn asmctl(args: &[&str]) -> Result<Command, Error> {
        parse(
            OsStr::new("/usr/sbin/asmctl"),
            args.iter().map(OsString::from).collect(),
        )
    }

    fn usage_msg(args: &[&str]) -> String {
        match asmctl(args) {
            Err(Error::Usage(msg)) => msg,
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    fn spec(name: &str) -> AgentSpec {
        AgentSpec {
            name: name.into(),
            id: 0,
            capabilities: 0,
            scope: String::new(),
            auto_restart: 0,
        }
    }

    #[test]
    fn multi_call_names() {
        let call = |argv0: &str, args: &[&str]| {
            parse(OsStr::new(argv0), args.iter().map(OsString::from).collect())
        };
        assert_eq!(call("asmstatus", &[]), Ok(Command::Status { json: false }));
        assert_eq!(
            call("/usr/local/bin/asmlist", &["--all"]),
            Ok(Command::List {
                all: true,
                json: false
            })
        );
        assert_eq!(
            call("./asminfo", &["100", "--json"]),
            Ok(Command::Info {
                id: 100,
                json: true
            })
        );
        // The alias consumes no argument: "status" here is a stray one.
        assert!(matches!(
            call("asmstatus", &["status"]),
            Err(Error::Usage(_))
        ));
        // Any other name is asmctl itself.
        assert_eq!(
            call("asmctl-test", &["status"]),
            Ok(Command::Status { json: false })
        );
        assert_eq!(alias(OsStr::new("/bin/asminfo")), Some("info"));
        assert_eq!(alias(OsStr::new("asmctl")), None);
        assert_eq!(alias(OsStr::new("asminfo/")), Some("info"));
        assert_eq!(alias(OsStr::new("")), None);
    }

    #[test]
    fn read_commands() {
        assert_eq!(asmctl(&["help"]), Ok(Command::Help));
        assert_eq!(asmctl(&["--help"]), Ok(Command::Help));
        assert_eq!(asmctl(&["list", "-h"]), Ok(Command::Help));
        assert_eq!(
            asmctl(&["status", "--json"]),
            Ok(Command::Status { json: true })
        );
        assert_eq!(
            asmctl(&["list"]),
            Ok(Command::List {
                all: false,
                json: false
            })
        );
        assert_eq!(
            asmctl(&["list", "--json", "--all"]),
            Ok(Command::List {
                all: true,
                json: true
            })
        );
        assert_eq!(
            asmctl(&["info", "--json", "2147483647"]),
            Ok(Command::Info {
                id: ASM_ID_MAX,
                json: true
            })
        );
        assert_eq!(
            asmctl(&["unregister", "100"]),
            Ok(Command::Unregister { id: 100 })
        );
        assert!(asmctl(&["status", "--json"]).is_ok_and(|c| c.json()));
        assert!(asmctl(&["unregister", "1"]).is_ok_and(|c| !c.json()));
    }

    #[test]
    fn run_command() {
        assert_eq!(
            asmctl(&[
                "run",
                "--name",
                "fs_monitor",
                "--id=100",
                "--cap",
                "FsBasic",
                "--cap",
                "net_client,LLM_ACCESS",
                "--scope",
                "/tmp/ws/",
                "--auto-restart",
                "3",
                "--quiet",
                "--",
                "python3",
                "agent.py",
                "--name",
                "--",
            ]),
            Ok(Command::Run {
                spec: AgentSpec {
                    name: "fs_monitor".into(),
                    id: 100,
                    capabilities: ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT | ASM_CAP_LLM_ACCESS,
                    scope: "/tmp/ws/".into(),
                    auto_restart: 3,
                },
                quiet: true,
                program: "python3".into(),
                args: vec!["agent.py".into(), "--name".into(), "--".into()],
            })
        );
        // Without "--" the command starts at the first non-option.
        assert_eq!(
            asmctl(&["run", "--name", "a", "sleep", "-x"]),
            Ok(Command::Run {
                spec: spec("a"),
                quiet: false,
                program: "sleep".into(),
                args: vec!["-x".into()],
            })
        );
    }

    #[test]
    fn register_command() {
        assert_eq!(
            asmctl(&["register", "--pid", "42", "--name", "n", "--cap", "admin"]),
            Ok(Command::Register {
                spec: AgentSpec {
                    capabilities: asm_abi::ASM_CAP_ADMIN,
                    ..spec("n")
                },
                target: Target::Pid(42),
            })
        );
        assert_eq!(
            asmctl(&["register", "--name=n", "--cgroup", "/sys/fs/cgroup/a"]),
            Ok(Command::Register {
                spec: spec("n"),
                target: Target::Cgroup("/sys/fs/cgroup/a".into()),
            })
        );
    }

    #[test]
    fn bad_command_lines() {
        for (args, want) in [
            (&[][..], "missing command"),
            (&["frobnicate"], "unknown command 'frobnicate'"),
            (&["status", "--all"], "unknown option '--all' for status"),
            (&["status", "--json=yes"], "--json takes no value"),
            (&["list", "x"], "unexpected argument 'x' for list"),
            (&["info"], "info needs an agent id"),
            (&["info", "1", "2"], "unexpected argument '2' for info"),
            (
                &["info", "abc"],
                "invalid agent id 'abc' (expected 1 to 2147483647)",
            ),
            (
                &["info", "0"],
                "invalid agent id '0' (expected 1 to 2147483647)",
            ),
            (
                &["info", "2147483648"],
                "invalid agent id '2147483648' (expected 1 to 2147483647)",
            ),
            (&["unregister"], "unregister needs an agent id"),
            (&["run", "--name", "a"], "run needs a command after --"),
            (
                &["run", "--name", "a", "--"],
                "run needs a command after --",
            ),
            (&["run", "--", "true"], "run needs --name"),
            (&["run", "--name"], "--name needs a value"),
            (
                &["run", "--name", "", "true"],
                "agent name must be 1 to 31 bytes long",
            ),
            (
                &["run", "--name", &"x".repeat(32), "true"],
                "agent name must be 1 to 31 bytes long",
            ),
            (
                &["run", "--name", "a", "--scope", "tmp", "true"],
                "scope 'tmp' is not an absolute path",
            ),
            (
                &[
                    "run",
                    "--name",
                    "a",
                    "--scope",
                    &format!("/{}", "x".repeat(255)),
                    "true",
                ],
                "scope must be at most 255 bytes long",
            ),
            (
                &["run", "--name", "a", "--auto-restart", "-1", "true"],
                "invalid restart count '-1' for --auto-restart",
            ),
            (
                &["run", "--name", "a", "--pid", "1", "true"],
                "unknown option '--pid' for run",
            ),
            (
                &["run", "--name", "a", "--cap", "Foo", "true"],
                "unknown capability 'Foo' (known: FsBasic, FsExtended, NetClient, \
                 NetServer, AudioControl, LlmAccess, ProcessSpawn, Admin)",
            ),
            (
                &["run", "--name", "a", "--cap", "FsBasic,", "true"],
                "unknown capability '' (known: FsBasic, FsExtended, NetClient, \
                 NetServer, AudioControl, LlmAccess, ProcessSpawn, Admin)",
            ),
            (
                &["register", "--name", "a"],
                "register needs --pid or --cgroup",
            ),
            (
                &["register", "--name", "a", "--pid", "1", "--cgroup", "/x"],
                "register takes one of --pid and --cgroup",
            ),
            (
                &["register", "--name", "a", "--pid", "0"],
                "invalid pid '0'",
            ),
            (
                &["register", "--name", "a", "--pid", "x"],
                "invalid pid 'x'",
            ),
            (&["register", "--pid", "1"], "register needs --name"),
            (
                &["register", "--pid", "1", "--name", "a", "cmd"],
                "unexpected argument 'cmd' for register",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
        }
    }

    #[test]
    fn usage_lists_capabilities() {
        assert!(usage().ends_with(
            "work too):\n  FsBasic, FsExtended, NetClient, NetServer, AudioControl, \
             LlmAccess, ProcessSpawn, Admin\n"
        ));
    }
}

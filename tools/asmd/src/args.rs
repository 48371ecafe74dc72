// SPDX-License-Identifier: GPL-2.0

//! asmd's command line.

use std::ffi::OsString;
use std::path::PathBuf;

/// The one-line synopsis, printed after a usage error and for `--help`.
pub const USAGE: &str = "usage: asmd --spec DIR [--log-dir DIR] [--lock PATH] [--check]";

const HELP: &str = "\
Starts the agents described by DIR/*.toml, each in its own cgroup under
/sys/fs/cgroup/agentsys/, and restarts them when the asm module says so.
Each agent runs as its spec's user and group (default: nobody), with
no_new_privs; asmd acts only on agents it registered itself.

  --spec DIR      directory of agent spec files (required)
  --log-dir DIR   where each agent's stdout and stderr go, as <id>.log
                  (default /run/asmd)
  --lock PATH     lock file that keeps a second asmd from running
                  (default /run/asmd.lock)
  --check         check the spec files, print one line per agent, exit
  -h, --help      this text";

/// Where asmd's files are and what it should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `--spec`.
    pub spec_dir: PathBuf,
    /// `--log-dir`.
    pub log_dir: PathBuf,
    /// `--lock`.
    pub lock: PathBuf,
    /// `--check`: validate the specs and exit.
    pub check: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run (or check) with this configuration.
    Run(Config),
    /// Print the help text.
    Help,
}

/// The help text.
pub fn help() -> String {
    format!("{USAGE}\n\n{HELP}")
}

/// Parses the arguments after argv[0]. An error is a usage error (exit 2),
/// with the message to print.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut spec_dir = None;
    let mut log_dir = None;
    let mut lock = None;
    let mut check = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("unknown argument {}", a.to_string_lossy()))?;
        // Both `--opt VALUE` and `--opt=VALUE`.
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(OsString::from(v))),
            _ => (arg.clone(), None),
        };
        let slot = match opt.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--check" if inline.is_none() => {
                check = true;
                continue;
            }
            "--spec" => &mut spec_dir,
            "--log-dir" => &mut log_dir,
            "--lock" => &mut lock,
            _ => return Err(format!("unknown argument {arg}")),
        };
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{opt} needs a value"))?,
        };
        if value.is_empty() {
            return Err(format!("{opt} needs a value"));
        }
        if slot.replace(PathBuf::from(value)).is_some() {
            return Err(format!("{opt} given twice"));
        }
    }
    Ok(Parsed::Run(Config {
        spec_dir: spec_dir.ok_or("--spec DIR is required")?,
        log_dir: log_dir.unwrap_or_else(|| PathBuf::from("/run/asmd")),
        lock: lock.unwrap_or_else(|| PathBuf::from("/run/asmd.lock")),
        check,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_and_forms() {
        assert_eq!(
            p(&["--spec", "agents"]),
            Ok(Parsed::Run(Config {
                spec_dir: "agents".into(),
                log_dir: "/run/asmd".into(),
                lock: "/run/asmd.lock".into(),
                check: false,
            }))
        );
        assert_eq!(
            p(&[
                "--check",
                "--spec=a",
                "--log-dir",
                "/tmp/l",
                "--lock=/tmp/k"
            ]),
            Ok(Parsed::Run(Config {
                spec_dir: "a".into(),
                log_dir: "/tmp/l".into(),
                lock: "/tmp/k".into(),
                check: true,
            }))
        );
        assert_eq!(p(&["--spec", "a", "-h"]), Ok(Parsed::Help));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(p(&[]), Err("--spec DIR is required".into()));
        assert_eq!(p(&["--spec"]), Err("--spec needs a value".into()));
        assert_eq!(p(&["--spec="]), Err("--spec needs a value".into()));
        assert_eq!(
            p(&["--spec", "a", "--spec", "b"]),
            Err("--spec given twice".into())
        );
        assert_eq!(p(&["--spec", "a", "x"]), Err("unknown argument x".into()));
        assert_eq!(
            p(&["--check=yes"]),
            Err("unknown argument --check=yes".into())
        );
        assert_eq!(p(&["--verbose"]), Err("unknown argument --verbose".into()));
    }
}

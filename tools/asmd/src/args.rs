// SPDX-License-Identifier: GPL-2.0

//! asmd's command line, on clap, and the completion scripts and man page
//! made from it.

use clap::{CommandFactory, Parser};
use clap_complete::Shell;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The launcher of the Agent Supervision Module.
///
/// Starts the agents described by DIR/*.toml, each in its own cgroup under
/// /sys/fs/cgroup/agentsys/, and restarts them when the asm module says so.
/// Each agent runs as its spec's user and group (default: nobody), with
/// no_new_privs, under the Landlock ruleset of its capabilities; asmd acts
/// only on agents it registered itself.
#[derive(Parser, Debug)]
#[command(name = "asmd", version, after_long_help = EXIT_STATUS)]
struct Cli {
    /// Directory of agent spec files.
    #[arg(long, value_name = "DIR", value_parser = non_empty,
          required_unless_present_any = ["completions", "man_page"])]
    spec: Option<PathBuf>,
    /// Where each agent's stdout and stderr go, as <id>.log.
    #[arg(long, value_name = "DIR", value_parser = non_empty, default_value = "/run/asmd")]
    log_dir: PathBuf,
    /// Lock file that keeps a second asmd from running.
    #[arg(long, value_name = "PATH", value_parser = non_empty, default_value = "/run/asmd.lock")]
    lock: PathBuf,
    /// Check the spec files, print one line per agent, exit.
    #[arg(long)]
    check: bool,
    /// Print the completion script of SHELL and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<Shell>,
    /// Write the man page (asmd.8) to DIR and exit.
    #[arg(long, value_name = "DIR", exclusive = true, hide = true)]
    man_page: Option<PathBuf>,
}

const EXIT_STATUS: &str = "\
Exit status: 0 when done (or the specs are valid, with --check), 1 on a
runtime error or an invalid spec, 2 for a command line asmd refused.";

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
    /// Print the completion script of a shell.
    Completions(Shell),
    /// Write the man page to a directory.
    ManPage(PathBuf),
}

fn non_empty(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("a path, not an empty string".to_string());
    }
    Ok(PathBuf::from(text))
}

/// Parses argv (with argv[0]). Help and `--version` are errors of their
/// own kinds, as clap has them: `Error::exit` prints them on stdout with
/// status 0, and usage errors on stderr with 2.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, clap::Error> {
    let cli = Cli::try_parse_from(args)?;
    if let Some(shell) = cli.completions {
        return Ok(Parsed::Completions(shell));
    }
    if let Some(dir) = cli.man_page {
        return Ok(Parsed::ManPage(dir));
    }
    let Some(spec_dir) = cli.spec else {
        // clap requires --spec without the two above.
        return Err(Cli::command().error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--spec DIR is required",
        ));
    };
    Ok(Parsed::Run(Config {
        spec_dir,
        log_dir: cli.log_dir,
        lock: cli.lock,
        check: cli.check,
    }))
}

/// Writes asmd's completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "asmd", out);
}

/// Writes asmd.8 to `dir`: asmd is a daemon, in section 8.
pub fn write_man_page(dir: &Path) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command())
        .section("8")
        .generate_to(dir)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn p(args: &[&str]) -> Result<Parsed, String> {
        let argv = std::iter::once("asmd").chain(args.iter().copied());
        parse(argv.map(OsString::from)).map_err(|e| e.to_string())
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
        assert_eq!(
            p(&["--completions", "zsh"]),
            Ok(Parsed::Completions(Shell::Zsh))
        );
        let help = parse(["asmd", "--spec", "a", "-h"].map(OsString::from));
        assert!(matches!(help, Err(e) if e.kind() == ErrorKind::DisplayHelp));
    }

    #[test]
    fn usage_errors() {
        for (args, want) in [
            (
                &[][..],
                "the following required arguments were not provided:\n  --spec <DIR>",
            ),
            (
                &["--spec"],
                "a value is required for '--spec <DIR>' but none was supplied",
            ),
            (
                &["--spec="],
                "invalid value '' for '--spec <DIR>': a path, not an empty string",
            ),
            (
                &["--spec", "a", "--spec", "b"],
                "the argument '--spec <DIR>' cannot be used multiple times",
            ),
            (&["--spec", "a", "x"], "unexpected argument 'x' found"),
            (
                &["--check=yes"],
                "unexpected value 'yes' for '--check' found",
            ),
            (&["--verbose"], "unexpected argument '--verbose' found"),
            (
                &["--spec", "a", "--completions", "bash"],
                "the argument '--completions <SHELL>' cannot be used with one or more of the other \
                 specified arguments",
            ),
            (
                &["--completions", "tcsh"],
                "invalid value 'tcsh' for '--completions <SHELL>'",
            ),
        ] {
            let err = p(args).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
}

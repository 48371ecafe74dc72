// SPDX-License-Identifier: GPL-2.0

//! Which Landlock rules an agent gets: the pure translation of its
//! capabilities, scope and program into handled rights and `(path,
//! rights)` rules. Nothing here touches the system, so every capability
//! combination is checked by the unit tests.
//!
//! The rules mirror what the module detects (the comment above `enum
//! asm_risk` in `include/uapi/linux/asm.h`, and `file_allowed` in
//! `src/policy.rs`): what the module would report as a capability
//! violation is what Landlock refuses, and what the module allows is
//! allowed. Landlock adds to the module's detection, it does not replace
//! it: the module still sees what Landlock cannot stop (see the admin
//! guide).

use crate::abi::{fs, fs_rights, net, net_rights};
use std::path::{Path, PathBuf};

/// `ASM_CAP_FS_BASIC`: open files inside the scope (anywhere without one).
pub const CAP_FS_BASIC: u64 = 1 << 0;
/// `ASM_CAP_FS_EXTENDED`: read anywhere, write inside the scope.
pub const CAP_FS_EXTENDED: u64 = 1 << 1;
/// `ASM_CAP_NET_CLIENT`: `connect()` an inet socket.
pub const CAP_NET_CLIENT: u64 = 1 << 2;
/// `ASM_CAP_NET_SERVER`: `listen()` on an inet socket.
pub const CAP_NET_SERVER: u64 = 1 << 3;

/// The read-only half of the system set: every agent may read and execute
/// beneath these.
pub const SYSTEM_READ_ONLY: [&str; 8] = [
    "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys",
];

/// The read-write half of the system set: devices every agent may open
/// for reading and writing. `/dev/asm` is one (the module allows it), so
/// that an agent can send its heartbeat.
pub const SYSTEM_DEVICES: [&str; 7] = [
    "/dev/asm",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// Read and execute, what the read-only system set grants.
const READ_EXEC: u64 = fs::EXECUTE | fs::READ_FILE | fs::READ_DIR;

/// What the devices of the system set grant. No `TRUNCATE`: the kernel
/// drops `O_TRUNC` on a file that is not a regular one before Landlock
/// looks, so a shell's `> /dev/null` needs only `WRITE_FILE`.
const DEVICE: u64 = fs::READ_FILE | fs::WRITE_FILE | fs::IOCTL_DEV;

/// One rule: `access` on the file hierarchy beneath `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// An absolute path.
    pub path: PathBuf,
    /// `LANDLOCK_ACCESS_FS_*` bits, all of them handled by the ruleset.
    pub access: u64,
    /// The rule is left out when `path` does not exist (a system path
    /// this distribution does not have); a missing scope or program is an
    /// error instead.
    pub optional: bool,
}

/// The ruleset an agent gets on one Landlock ABI version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The ABI version the masks were taken for.
    pub abi: u32,
    /// The filesystem rights the ruleset restricts; 0 leaves the
    /// filesystem alone.
    pub handled_fs: u64,
    /// The network rights the ruleset restricts; 0 leaves the network
    /// alone. No rule grants any of them back.
    pub handled_net: u64,
    /// What the agent may do on the handled filesystem rights.
    pub rules: Vec<PathRule>,
}

impl Plan {
    /// Whether there is anything to enforce at all.
    pub fn restricts(&self) -> bool {
        self.handled_fs != 0 || self.handled_net != 0
    }
}

/// Whether the module restricts the agent's file accesses: an FS
/// capability without a scope means "anywhere", the only case that is not
/// restricted.
pub fn fs_restricted(capabilities: u64, scope: Option<&Path>) -> bool {
    let fs_cap = capabilities & (CAP_FS_BASIC | CAP_FS_EXTENDED) != 0;
    !fs_cap || scope.is_some()
}

/// The ruleset of an agent with `capabilities` (`ASM_CAP_*` bits) and
/// `scope` (`None` or empty: no scope) that is about to exec `program`
/// (canonical, as [`crate::resolve_program`] returns it; `None` when it
/// was not found, the exec will fail anyway), on Landlock ABI `abi`.
///
/// Only the rights `abi` knows are handled, so the plan can be applied
/// as it is; ABI 0 (no Landlock) gives a plan that restricts nothing.
pub fn derive(capabilities: u64, scope: Option<&Path>, program: Option<&Path>, abi: u32) -> Plan {
    let scope = scope.filter(|s| !s.as_os_str().is_empty());
    let all_fs = fs_rights(abi);
    let mut plan = Plan {
        abi,
        handled_fs: 0,
        handled_net: 0,
        rules: Vec::new(),
    };

    if fs_restricted(capabilities, scope) && all_fs != 0 {
        plan.handled_fs = all_fs;
        let mut rule = |path: &Path, access: u64, optional: bool| {
            plan.rules.push(PathRule {
                path: path.to_owned(),
                access: access & all_fs,
                optional,
            });
        };
        for dir in SYSTEM_READ_ONLY {
            rule(Path::new(dir), READ_EXEC, true);
        }
        for dev in SYSTEM_DEVICES {
            rule(Path::new(dev), DEVICE, true);
        }
        let scope_granted = capabilities & (CAP_FS_BASIC | CAP_FS_EXTENDED) != 0;
        if capabilities & CAP_FS_EXTENDED != 0 {
            rule(Path::new("/"), fs::READ_FILE | fs::READ_DIR, false);
        }
        if let (Some(scope), true) = (scope, scope_granted) {
            rule(scope, all_fs, false);
        }
        // The launch itself must work whatever the capabilities: the
        // module allows the exec of a process that joined the agent. The
        // rule is on the program's directory: on file systems whose inodes
        // are not stable across lookups (9p, as the test VM mounts the
        // host), a rule on the file itself does not match the exec.
        if let Some(program) = program {
            let in_system = SYSTEM_READ_ONLY.iter().any(|d| program.starts_with(d));
            if !in_system {
                let dir = program.parent().filter(|d| !d.as_os_str().is_empty());
                rule(dir.unwrap_or(program), fs::EXECUTE | fs::READ_FILE, false);
            }
        }
    }

    let all_net = net_rights(abi);
    if capabilities & CAP_NET_CLIENT == 0 {
        plan.handled_net |= net::CONNECT_TCP & all_net;
    }
    if capabilities & CAP_NET_SERVER == 0 {
        plan.handled_net |= net::BIND_TCP & all_net;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::fs::*;

    const ALL: u64 = 0xffff;
    const SCOPE: &str = "/srv/agents/a";

    fn scope() -> Option<&'static Path> {
        Some(Path::new(SCOPE))
    }

    /// The rights of the rule on `path`, or `None` without one.
    fn rights(plan: &Plan, path: &str) -> Option<u64> {
        let mut found = plan.rules.iter().filter(|r| r.path == Path::new(path));
        let rule = found.next()?;
        assert!(found.next().is_none(), "two rules for {path}");
        Some(rule.access)
    }

    fn paths(plan: &Plan) -> Vec<&str> {
        plan.rules
            .iter()
            .map(|r| r.path.to_str().unwrap())
            .collect()
    }

    fn system_set() -> Vec<&'static str> {
        SYSTEM_READ_ONLY
            .iter()
            .chain(&SYSTEM_DEVICES)
            .copied()
            .collect()
    }

    #[test]
    fn capability_bits_are_the_abis() {
        assert_eq!(CAP_FS_BASIC, asm_abi::ASM_CAP_FS_BASIC);
        assert_eq!(CAP_FS_EXTENDED, asm_abi::ASM_CAP_FS_EXTENDED);
        assert_eq!(CAP_NET_CLIENT, asm_abi::ASM_CAP_NET_CLIENT);
        assert_eq!(CAP_NET_SERVER, asm_abi::ASM_CAP_NET_SERVER);
    }

    #[test]
    fn no_fs_capability_gets_the_system_set_only() {
        let plan = derive(0, None, Some(Path::new("/usr/bin/python3")), 7);
        assert_eq!(plan.handled_fs, ALL);
        assert_eq!(paths(&plan), system_set());
        for dir in SYSTEM_READ_ONLY {
            assert_eq!(
                rights(&plan, dir),
                Some(EXECUTE | READ_FILE | READ_DIR),
                "{dir}"
            );
        }
        for dev in SYSTEM_DEVICES {
            assert_eq!(
                rights(&plan, dev),
                Some(READ_FILE | WRITE_FILE | IOCTL_DEV),
                "{dev}"
            );
        }
        assert!(plan.rules.iter().all(|r| r.optional));
        // A scope without an FS capability grants nothing.
        let scoped = derive(0, scope(), Some(Path::new("/usr/bin/python3")), 7);
        assert_eq!(scoped, plan);
    }

    #[test]
    fn fs_capability_without_scope_leaves_the_filesystem_alone() {
        for cap in [
            CAP_FS_BASIC,
            CAP_FS_EXTENDED,
            CAP_FS_BASIC | CAP_FS_EXTENDED,
        ] {
            let plan = derive(cap, None, Some(Path::new("/opt/agent")), 7);
            assert_eq!((plan.handled_fs, plan.rules.len()), (0, 0), "cap {cap}");
            // An empty scope is no scope.
            let empty = derive(cap, Some(Path::new("")), Some(Path::new("/opt/agent")), 7);
            assert_eq!(empty, plan);
        }
        assert!(!fs_restricted(CAP_FS_BASIC, None));
        assert!(fs_restricted(CAP_FS_BASIC, scope()));
        assert!(fs_restricted(0, None));
    }

    #[test]
    fn fs_basic_with_scope_gets_every_right_in_the_scope() {
        let plan = derive(CAP_FS_BASIC, scope(), None, 7);
        assert_eq!(plan.handled_fs, ALL);
        let mut want = system_set();
        want.push(SCOPE);
        assert_eq!(paths(&plan), want);
        assert_eq!(rights(&plan, SCOPE), Some(ALL));
        assert_eq!(rights(&plan, "/"), None);
        assert!(!plan.rules.last().unwrap().optional, "a scope must exist");
    }

    #[test]
    fn fs_extended_with_scope_also_reads_everywhere() {
        let plan = derive(CAP_FS_EXTENDED, scope(), None, 7);
        assert_eq!(plan.handled_fs, ALL);
        assert_eq!(rights(&plan, "/"), Some(READ_FILE | READ_DIR));
        assert_eq!(rights(&plan, SCOPE), Some(ALL));
        assert_eq!(plan.rules.len(), system_set().len() + 2);
        // Both FS capabilities: the same as FsExtended alone.
        let both = derive(CAP_FS_BASIC | CAP_FS_EXTENDED, scope(), None, 7);
        assert_eq!(both.rules, plan.rules);
    }

    #[test]
    fn program_outside_the_system_set_may_be_executed() {
        for (prog, dir) in [
            ("/opt/agent/run", "/opt/agent"),
            ("/usr2/bin/x", "/usr2/bin"),
            ("/srv/tools/agent.sh", "/srv/tools"),
        ] {
            let plan = derive(CAP_FS_BASIC, scope(), Some(Path::new(prog)), 7);
            assert_eq!(rights(&plan, dir), Some(EXECUTE | READ_FILE), "{prog}");
            assert_eq!(rights(&plan, prog), None, "{prog}");
            assert!(!plan.rules.last().unwrap().optional);
        }
        for prog in ["/usr/bin/python3", "/bin/sh", "/lib64/ld-linux-x86-64.so.2"] {
            let plan = derive(0, None, Some(Path::new(prog)), 7);
            assert_eq!(rights(&plan, prog), None, "{prog}");
            assert_eq!(plan.rules.len(), system_set().len());
        }
        // Nothing to add when the filesystem is not restricted.
        let plan = derive(CAP_FS_BASIC, None, Some(Path::new("/opt/agent/run")), 7);
        assert!(plan.rules.is_empty());
    }

    #[test]
    fn network_rights_follow_the_net_capabilities() {
        use crate::abi::net::*;
        let fs = CAP_FS_BASIC;
        assert_eq!(
            derive(fs, None, None, 7).handled_net,
            BIND_TCP | CONNECT_TCP
        );
        assert_eq!(
            derive(fs | CAP_NET_CLIENT, None, None, 7).handled_net,
            BIND_TCP
        );
        assert_eq!(
            derive(fs | CAP_NET_SERVER, None, None, 7).handled_net,
            CONNECT_TCP
        );
        let open = derive(fs | CAP_NET_CLIENT | CAP_NET_SERVER, None, None, 7);
        assert_eq!(open.handled_net, 0);
        assert!(!open.restricts());
        // Landlock has no network rights before ABI 4.
        assert_eq!(derive(fs, None, None, 3).handled_net, 0);
        assert!(!derive(fs, None, None, 3).restricts());
        assert_eq!(
            derive(fs, None, None, 4).handled_net,
            BIND_TCP | CONNECT_TCP
        );
    }

    #[test]
    fn only_rights_of_the_running_abi_are_used() {
        let prog = Some(Path::new("/opt/agent/run"));
        for (abi, all) in [(1, 0x1fff), (2, 0x3fff), (3, 0x7fff), (4, 0x7fff), (5, ALL)] {
            let plan = derive(CAP_FS_EXTENDED, scope(), prog, abi);
            assert_eq!(plan.handled_fs, all, "abi {abi}");
            assert!(plan.rules.iter().all(|r| r.access & !all == 0), "abi {abi}");
            assert_eq!(rights(&plan, SCOPE), Some(all), "abi {abi}");
        }
        let dev = |abi| rights(&derive(0, None, None, abi), "/dev/null");
        assert_eq!(dev(1), Some(READ_FILE | WRITE_FILE));
        assert_eq!(dev(3), Some(READ_FILE | WRITE_FILE));
        assert_eq!(dev(5), Some(READ_FILE | WRITE_FILE | IOCTL_DEV));
        // ABI 0 is no Landlock: nothing to do.
        let none = derive(0, scope(), prog, 0);
        assert!(!none.restricts() && none.rules.is_empty());
    }

    #[test]
    fn device_and_program_rules_fit_a_file() {
        // A rule on a file that is not a directory may only hold file
        // rights; the kernel refuses the rest with EINVAL.
        let plan = derive(0, None, Some(Path::new("/opt/agent/run")), 7);
        for rule in &plan.rules {
            if rule.path.starts_with("/dev") || rule.path.starts_with("/opt/agent") {
                assert_eq!(rule.access & !FILE, 0, "{}", rule.path.display());
            }
        }
    }
}

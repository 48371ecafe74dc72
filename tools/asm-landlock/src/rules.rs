// SPDX-License-Identifier: GPL-2.0

//! Which Landlock rules an agent gets: the pure translation of its
//! capabilities, scope and program into handled rights, scopes and `(path,
//! rights)` rules. Nothing here touches the system, so every capability
//! combination is checked by the unit tests.
//!
//! The rules mirror what the module detects (the comment above `enum
//! asm_risk` in `include/uapi/linux/asm.h`, and `file_allowed` in
//! `src/policy.rs`): what the module would report as a capability
//! violation is what Landlock refuses, and what the module allows is
//! allowed. Landlock adds to the module's detection, it does not replace
//! it: the module still sees what Landlock cannot stop (see the admin
//! guide). The two scopes go further than the module: an agent cannot
//! signal, nor connect to an abstract UNIX socket of, a process outside
//! its sandbox.
//!
//! The plan asks for the rights of [`TARGET_ABI`]; on a kernel with an
//! older ABI the `landlock` crate drops what that kernel lacks (see
//! `ruleset.rs`), so nothing here depends on the running kernel.

use landlock::{make_bitflags, Access, AccessFs, AccessNet, BitFlags, Scope, ABI};
use std::path::{Path, PathBuf};

/// The Landlock ABI whose rights ASM asks for: ABI 6 (Linux 6.12), the
/// newest its rules were written and tested for, the first with scopes.
/// A newer kernel's further rights (ABI 9's `connect` to a pathname UNIX
/// socket, ABI 10's UDP) are not asked for, so they stay allowed, as the
/// `landlock` crate advises: each new one is a decision to take and test.
pub const TARGET_ABI: ABI = ABI::V6;

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
const READ_EXEC: BitFlags<AccessFs> = make_bitflags!(AccessFs::{Execute | ReadFile | ReadDir});

/// What the devices of the system set grant. No `Truncate`: the kernel
/// drops `O_TRUNC` on a file that is not a regular one before Landlock
/// looks, so a shell's `> /dev/null` needs only `WriteFile`.
const DEVICE: BitFlags<AccessFs> = make_bitflags!(AccessFs::{ReadFile | WriteFile | IoctlDev});

/// The rights a rule on a file that is not a directory may grant: the
/// kernel refuses the others (`EINVAL`) on such a rule.
pub fn file_rights() -> BitFlags<AccessFs> {
    AccessFs::from_file(TARGET_ABI)
}

/// One rule: `access` on the file hierarchy beneath `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// An absolute path.
    pub path: PathBuf,
    /// Rights all of which the ruleset handles.
    pub access: BitFlags<AccessFs>,
    /// The rule is left out when `path` does not exist (a system path
    /// this distribution does not have); a missing scope or program is an
    /// error instead.
    pub optional: bool,
}

/// The ruleset an agent gets, in [`TARGET_ABI`]'s rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The filesystem rights the ruleset restricts; none leaves the
    /// filesystem alone.
    pub handled_fs: BitFlags<AccessFs>,
    /// The network rights the ruleset restricts; none leaves the network
    /// alone. No rule grants any of them back.
    pub handled_net: BitFlags<AccessNet>,
    /// What the agent may not reach outside its sandbox: signals and
    /// abstract UNIX sockets, for every agent.
    pub scoped: BitFlags<Scope>,
    /// What the agent may do on the handled filesystem rights.
    pub rules: Vec<PathRule>,
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
/// was not found, the exec will fail anyway).
///
/// Every agent gets the scopes, whatever its capabilities: no capability
/// lets it signal or connect out of its sandbox, so a plan always
/// restricts something.
pub fn derive(capabilities: u64, scope: Option<&Path>, program: Option<&Path>) -> Plan {
    let scope = scope.filter(|s| !s.as_os_str().is_empty());
    let all_fs = AccessFs::from_all(TARGET_ABI);
    let mut plan = Plan {
        handled_fs: BitFlags::EMPTY,
        handled_net: BitFlags::EMPTY,
        scoped: Scope::from_all(TARGET_ABI),
        rules: Vec::new(),
    };

    if fs_restricted(capabilities, scope) {
        plan.handled_fs = all_fs;
        let mut rule = |path: &Path, access: BitFlags<AccessFs>, optional: bool| {
            plan.rules.push(PathRule {
                path: path.to_owned(),
                access,
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
            rule(
                Path::new("/"),
                AccessFs::ReadFile | AccessFs::ReadDir,
                false,
            );
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
                rule(
                    dir.unwrap_or(program),
                    AccessFs::Execute | AccessFs::ReadFile,
                    false,
                );
            }
        }
    }

    if capabilities & CAP_NET_CLIENT == 0 {
        plan.handled_net |= AccessNet::ConnectTcp;
    }
    if capabilities & CAP_NET_SERVER == 0 {
        plan.handled_net |= AccessNet::BindTcp;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessFs::*;

    const SCOPE: &str = "/srv/agents/a";

    fn all() -> BitFlags<AccessFs> {
        AccessFs::from_all(TARGET_ABI)
    }

    fn scope() -> Option<&'static Path> {
        Some(Path::new(SCOPE))
    }

    /// The rights of the rule on `path`, or `None` without one.
    fn rights(plan: &Plan, path: &str) -> Option<BitFlags<AccessFs>> {
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
    fn target_is_abi_6_and_its_rights_are_the_uapi_bits() {
        // The bits of include/uapi/linux/landlock.h: 16 filesystem rights
        // (ABI 5), two TCP rights (ABI 4), two scopes (ABI 6).
        assert_eq!(all().bits(), 0xffff);
        assert_eq!(AccessNet::from_all(TARGET_ABI).bits(), 0b11);
        assert_eq!(Scope::from_all(TARGET_ABI).bits(), 0b11);
        assert_eq!(
            file_rights(),
            Execute | WriteFile | ReadFile | Truncate | IoctlDev
        );
    }

    #[test]
    fn every_agent_is_scoped() {
        let open = CAP_FS_BASIC | CAP_NET_CLIENT | CAP_NET_SERVER;
        for (caps, scope) in [(0, None), (CAP_FS_BASIC, scope()), (open, None)] {
            let plan = derive(caps, scope, None);
            assert_eq!(
                plan.scoped,
                Scope::Signal | Scope::AbstractUnixSocket,
                "{caps}"
            );
        }
        // Every capability and no scope: the scopes are all there is.
        let plan = derive(open, None, None);
        assert!(plan.handled_fs.is_empty() && plan.handled_net.is_empty());
        assert!(plan.rules.is_empty());
    }

    #[test]
    fn no_fs_capability_gets_the_system_set_only() {
        let plan = derive(0, None, Some(Path::new("/usr/bin/python3")));
        assert_eq!(plan.handled_fs, all());
        assert_eq!(paths(&plan), system_set());
        for dir in SYSTEM_READ_ONLY {
            assert_eq!(
                rights(&plan, dir),
                Some(Execute | ReadFile | ReadDir),
                "{dir}"
            );
        }
        for dev in SYSTEM_DEVICES {
            assert_eq!(
                rights(&plan, dev),
                Some(ReadFile | WriteFile | IoctlDev),
                "{dev}"
            );
        }
        assert!(plan.rules.iter().all(|r| r.optional));
        // A scope without an FS capability grants nothing.
        let scoped = derive(0, scope(), Some(Path::new("/usr/bin/python3")));
        assert_eq!(scoped, plan);
    }

    #[test]
    fn fs_capability_without_scope_leaves_the_filesystem_alone() {
        for cap in [
            CAP_FS_BASIC,
            CAP_FS_EXTENDED,
            CAP_FS_BASIC | CAP_FS_EXTENDED,
        ] {
            let plan = derive(cap, None, Some(Path::new("/opt/agent")));
            assert!(plan.handled_fs.is_empty(), "cap {cap}");
            assert!(plan.rules.is_empty(), "cap {cap}");
            // An empty scope is no scope.
            let empty = derive(cap, Some(Path::new("")), Some(Path::new("/opt/agent")));
            assert_eq!(empty, plan);
        }
        assert!(!fs_restricted(CAP_FS_BASIC, None));
        assert!(fs_restricted(CAP_FS_BASIC, scope()));
        assert!(fs_restricted(0, None));
    }

    #[test]
    fn fs_basic_with_scope_gets_every_right_in_the_scope() {
        let plan = derive(CAP_FS_BASIC, scope(), None);
        assert_eq!(plan.handled_fs, all());
        let mut want = system_set();
        want.push(SCOPE);
        assert_eq!(paths(&plan), want);
        assert_eq!(rights(&plan, SCOPE), Some(all()));
        assert_eq!(rights(&plan, "/"), None);
        assert!(!plan.rules.last().unwrap().optional, "a scope must exist");
    }

    #[test]
    fn fs_extended_with_scope_also_reads_everywhere() {
        let plan = derive(CAP_FS_EXTENDED, scope(), None);
        assert_eq!(plan.handled_fs, all());
        assert_eq!(rights(&plan, "/"), Some(ReadFile | ReadDir));
        assert_eq!(rights(&plan, SCOPE), Some(all()));
        assert_eq!(plan.rules.len(), system_set().len() + 2);
        // Both FS capabilities: the same as FsExtended alone.
        let both = derive(CAP_FS_BASIC | CAP_FS_EXTENDED, scope(), None);
        assert_eq!(both.rules, plan.rules);
    }

    #[test]
    fn program_outside_the_system_set_may_be_executed() {
        for (prog, dir) in [
            ("/opt/agent/run", "/opt/agent"),
            ("/usr2/bin/x", "/usr2/bin"),
            ("/srv/tools/agent.sh", "/srv/tools"),
        ] {
            let plan = derive(CAP_FS_BASIC, scope(), Some(Path::new(prog)));
            assert_eq!(rights(&plan, dir), Some(Execute | ReadFile), "{prog}");
            assert_eq!(rights(&plan, prog), None, "{prog}");
            assert!(!plan.rules.last().unwrap().optional);
        }
        for prog in ["/usr/bin/python3", "/bin/sh", "/lib64/ld-linux-x86-64.so.2"] {
            let plan = derive(0, None, Some(Path::new(prog)));
            assert_eq!(rights(&plan, prog), None, "{prog}");
            assert_eq!(plan.rules.len(), system_set().len());
        }
        // Nothing to add when the filesystem is not restricted.
        let plan = derive(CAP_FS_BASIC, None, Some(Path::new("/opt/agent/run")));
        assert!(plan.rules.is_empty());
    }

    #[test]
    fn network_rights_follow_the_net_capabilities() {
        use AccessNet::*;
        let fs = CAP_FS_BASIC;
        assert_eq!(derive(fs, None, None).handled_net, BindTcp | ConnectTcp);
        assert_eq!(derive(fs | CAP_NET_CLIENT, None, None).handled_net, BindTcp);
        assert_eq!(
            derive(fs | CAP_NET_SERVER, None, None).handled_net,
            ConnectTcp
        );
        let open = derive(fs | CAP_NET_CLIENT | CAP_NET_SERVER, None, None);
        assert!(open.handled_net.is_empty());
    }

    #[test]
    fn rules_grant_only_handled_rights_and_fit_a_file() {
        let prog = Some(Path::new("/opt/agent/run"));
        for caps in [0, CAP_FS_BASIC, CAP_FS_EXTENDED] {
            let plan = derive(caps, scope(), prog);
            for rule in &plan.rules {
                assert!(plan.handled_fs.contains(rule.access), "{rule:?}");
                // A rule on a file that is not a directory may only hold
                // file rights; the kernel refuses the rest with EINVAL.
                if rule.path.starts_with("/dev") || rule.path.starts_with("/opt/agent") {
                    assert!(file_rights().contains(rule.access), "{rule:?}");
                }
            }
        }
    }
}

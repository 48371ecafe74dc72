// SPDX-License-Identifier: GPL-2.0

//! The agents' cgroups: `/sys/fs/cgroup/agentsys/<id>`, one per agent.
//!
//! asmd only makes directories in a cgroup v2 hierarchy that is already
//! mounted (mounting it is the system's job), and never removes them: a
//! cgroup outlives asmd, which is what lets the next asmd find the agent's
//! processes where the last one left them.
//!
//! An agent must not be able to leave its cgroup: moving a process needs
//! write access to `cgroup.procs` of the destination and of the common
//! ancestor, so the agent's directory and its `cgroup.procs` must belong to
//! asmd's user and be writable by nobody else. asmd makes them so (it
//! creates them as that user, with the cgroup file system's default modes)
//! and refuses a directory someone else made or opened up (a delegated
//! one). The child joins the cgroup before it drops its privileges.

use crate::error::Error;
use crate::sys;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the cgroup v2 hierarchy is mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The parent of every agent's cgroup, under [`CGROUP_ROOT`].
pub const AGENTS_DIR: &str = "agentsys";

/// Fails unless [`CGROUP_ROOT`] is a cgroup v2 mount.
pub fn check_root() -> Result<(), Error> {
    let root = Path::new(CGROUP_ROOT);
    match sys::is_cgroup2(root) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::new(format!(
            "{CGROUP_ROOT} is not a cgroup v2 hierarchy (mount -t cgroup2 none {CGROUP_ROOT})"
        ))),
        Err(e) => Err(Error::new(format!("{CGROUP_ROOT}: {e}"))),
    }
}

/// The cgroup directory of agent `id`.
pub fn agent_dir(id: u32) -> PathBuf {
    Path::new(CGROUP_ROOT).join(AGENTS_DIR).join(id.to_string())
}

/// Makes agent `id`'s cgroup (and `agentsys`) if missing and checks that
/// only `euid` (asmd's) may move processes in or out of it; returns its
/// path.
pub fn ensure(id: u32, euid: u32) -> Result<PathBuf, Error> {
    let dir = agent_dir(id);
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::new(format!(
            "creating {}: {}",
            dir.display(),
            sys::Errno::from_io(&e)
        ))
    })?;
    for path in [dir.clone(), procs_file(&dir)] {
        let meta = std::fs::metadata(&path)
            .map_err(|e| Error::new(format!("{}: {}", path.display(), sys::Errno::from_io(&e))))?;
        check_private(&path, meta.uid(), meta.mode(), euid).map_err(Error::new)?;
    }
    Ok(dir)
}

/// Fails unless `path` (owner `uid`, `mode`) is owned by `euid` and not
/// writable by its group or others: a process that could write there
/// could take itself out of its agent.
pub fn check_private(path: &Path, uid: u32, mode: u32, euid: u32) -> Result<(), String> {
    if uid != euid {
        return Err(format!(
            "{} belongs to uid {uid}, not to asmd's uid {euid}: its agent could leave it",
            path.display()
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "{} is writable by its group or others (mode {:o}): its agent could leave it",
            path.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

/// The cgroup v2 id of the cgroup `dir`, as `ASM_IOC_GET_INFO` reports it:
/// on cgroup2 a directory's inode number is its cgroup's id.
pub fn id(dir: &Path) -> Result<u64, Error> {
    std::fs::metadata(dir)
        .map(|m| m.ino())
        .map_err(|e| Error::new(format!("{}: {}", dir.display(), sys::Errno::from_io(&e))))
}

/// Whether the cgroup `dir` holds a process (false when its `cgroup.procs`
/// cannot be read: asmd then goes on as for an empty one).
pub fn has_processes(dir: &Path) -> bool {
    std::fs::read_to_string(procs_file(dir)).is_ok_and(|procs| !procs.trim().is_empty())
}

/// Kills every process of the cgroup `dir` (`cgroup.kill`, Linux 5.14).
pub fn kill(dir: &Path) -> Result<(), sys::Errno> {
    std::fs::write(dir.join("cgroup.kill"), "1").map_err(|e| sys::Errno::from_io(&e))
}

/// The file a process writes its pid (or "0" for itself) to, to join the
/// cgroup `dir`.
pub fn procs_file(dir: &Path) -> PathBuf {
    dir.join("cgroup.procs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(agent_dir(100), Path::new("/sys/fs/cgroup/agentsys/100"));
        assert_eq!(
            procs_file(&agent_dir(7)),
            Path::new("/sys/fs/cgroup/agentsys/7/cgroup.procs")
        );
    }

    #[test]
    fn processes_are_read_from_cgroup_procs_and_killed_through_cgroup_kill() {
        let dir = std::env::temp_dir().join(format!("asmd-cgroup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // No cgroup.procs: as for an empty cgroup.
        assert!(!has_processes(&dir));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(procs_file(&dir), "").unwrap();
        assert!(!has_processes(&dir));
        std::fs::write(procs_file(&dir), "42\n43\n").unwrap();
        assert!(has_processes(&dir));
        // A plain file stands in for cgroup.kill.
        kill(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.kill")).unwrap(),
            "1"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(kill(&dir), Err(sys::Errno(libc::ENOENT)));
    }

    #[test]
    fn only_asmd_may_write_the_cgroup() {
        let p = Path::new("/sys/fs/cgroup/agentsys/7");
        assert_eq!(check_private(p, 0, 0o40755, 0), Ok(()));
        assert_eq!(check_private(p, 0, 0o100644, 0), Ok(()));
        let e = check_private(p, 65534, 0o40755, 0).unwrap_err();
        assert!(
            e.contains("belongs to uid 65534, not to asmd's uid 0"),
            "{e}"
        );
        let e = check_private(p, 0, 0o100666, 0).unwrap_err();
        assert!(
            e.contains("writable by its group or others (mode 666)"),
            "{e}"
        );
        assert!(check_private(p, 0, 0o40775, 0).is_err());
    }
}

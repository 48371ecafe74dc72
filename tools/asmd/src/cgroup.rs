// SPDX-License-Identifier: GPL-2.0

//! The agents' cgroups: `/sys/fs/cgroup/agentsys/<id>`, one per agent.
//!
//! asmd only makes directories in a cgroup v2 hierarchy that is already
//! mounted (mounting it is the system's job), and never removes them: a
//! cgroup outlives asmd, which is what lets the next asmd find the agent's
//! processes where the last one left them.

use crate::error::Error;
use crate::sys;
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

/// Makes agent `id`'s cgroup (and `agentsys`) if missing; returns its path.
pub fn ensure(id: u32) -> Result<PathBuf, Error> {
    let dir = agent_dir(id);
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::new(format!(
            "creating {}: {}",
            dir.display(),
            sys::Errno::from_io(&e)
        ))
    })?;
    Ok(dir)
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
}

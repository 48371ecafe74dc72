// SPDX-License-Identifier: GPL-2.0

//! Which file an exec of the agent's command will run, found the way
//! execvp(3) finds it, so that the ruleset can let exactly that file be
//! executed.

use crate::sys;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// glibc's search path when `PATH` is not set (`confstr(_CS_PATH)`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The canonical path of the file `execvp(program)` would run with the
/// current `PATH`; `None` if there is none (the exec then fails with
/// `ENOENT` or `EACCES` whatever the ruleset says).
pub fn resolve_program(program: &OsStr) -> Option<PathBuf> {
    resolve_in(program, std::env::var_os("PATH").as_deref())
}

/// [`resolve_program`] with `path_var` as `PATH`.
fn resolve_in(program: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    // A name with a slash is a path, relative to the working directory;
    // execvp does not search for it.
    if program.as_bytes().contains(&b'/') {
        return runnable(Path::new(program));
    }
    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    path_var.as_bytes().split(|&b| b == b':').find_map(|dir| {
        // An empty entry is the working directory.
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        runnable(&Path::new(OsStr::from_bytes(dir)).join(program))
    })
}

/// `path` canonicalized if it is an executable regular file: execvp goes on
/// to the next `PATH` entry past a directory or a file it may not execute.
fn runnable(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || !sys::is_executable(path) {
        return None;
    }
    std::fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("asm-landlock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    }

    fn file(path: &Path, mode: u32) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn search_follows_path_order_and_skips_what_cannot_run() {
        let dir = scratch("resolve");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        for d in [&a, &b, &c] {
            std::fs::create_dir(d).unwrap();
        }
        // a/tool is a directory, b/tool is not executable, c/tool runs.
        std::fs::create_dir(a.join("tool")).unwrap();
        // Root may execute any file with an x bit: this one has none.
        file(&b.join("tool"), 0o644);
        file(&c.join("tool"), 0o755);
        let var = std::env::join_paths([&a, &b, &c]).unwrap();
        assert_eq!(
            resolve_in("tool".as_ref(), Some(&var)),
            Some(c.join("tool"))
        );
        assert_eq!(resolve_in("none".as_ref(), Some(&var)), None);
        assert_eq!(resolve_in("".as_ref(), Some(&var)), None);

        // The result is canonical: a symlink is followed.
        std::os::unix::fs::symlink(c.join("tool"), dir.join("link")).unwrap();
        let by_path = dir.join("link").into_os_string();
        assert_eq!(resolve_in(&by_path, None), Some(c.join("tool")));
        // A name with a slash is not searched.
        assert_eq!(resolve_in("c/tool".as_ref(), Some(dir.as_os_str())), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unset_path_is_glibcs_default() {
        let sh = resolve_in("sh".as_ref(), None).expect("sh in /bin or /usr/bin");
        assert!(sh.is_absolute() && sh.is_file(), "{}", sh.display());
    }
}

//! A commit's files written out as a plain tree, and the paths two commits differ in.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use git2::{Commit, Repository, Tree};

use super::GitError;

/// Write the files of `commit` into `dir` (created if missing, refused if not empty).
pub(super) fn write(repo: &Repository, commit: &Commit<'_>, dir: &Path) -> Result<(), GitError> {
    let failed = |reason: String| GitError::Checkout {
        commit: commit.id().to_string(),
        dir: dir.into(),
        reason,
    };
    ensure_empty_dir(dir).map_err(failed)?;
    let tree = commit.tree().map_err(|e| failed(e.message().to_string()))?;
    write_tree(repo, &tree, dir).map_err(failed)
}

/// The paths (old and new side) of every file that differs between two commits, sorted.
pub(super) fn changed_paths(
    repo: &Repository,
    from: &Commit<'_>,
    to: &Commit<'_>,
) -> Result<Vec<PathBuf>, git2::Error> {
    let diff = repo.diff_tree_to_tree(Some(&from.tree()?), Some(&to.tree()?), None)?;
    let mut paths: Vec<PathBuf> = diff
        .deltas()
        .flat_map(|delta| [delta.old_file().path(), delta.new_file().path()])
        .flatten()
        .map(Path::to_path_buf)
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Whether `dir` is missing or holds nothing.
pub(super) fn is_empty_or_missing(dir: &Path) -> std::io::Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

fn ensure_empty_dir(dir: &Path) -> Result<(), String> {
    match is_empty_or_missing(dir) {
        Ok(true) => fs::create_dir_all(dir).map_err(|e| e.to_string()),
        Ok(false) => Err("the directory is not empty".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn write_tree(repo: &Repository, tree: &Tree<'_>, dir: &Path) -> Result<(), String> {
    for entry in tree {
        let name = OsStr::from_bytes(entry.name_bytes());
        if !is_safe_name(name) {
            return Err(format!(
                "refusing the unsafe file name {name:?} in the tree"
            ));
        }
        let path = dir.join(name);
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        let blob = || {
            repo.find_blob(entry.id())
                .map_err(|e| e.message().to_string())
        };
        match entry.filemode() {
            0o040_000 => {
                fs::create_dir(&path).map_err(io)?;
                let subtree = repo
                    .find_tree(entry.id())
                    .map_err(|e| e.message().to_string())?;
                write_tree(repo, &subtree, &path)?;
            }
            mode @ (0o100_644 | 0o100_664 | 0o100_755) => {
                fs::write(&path, blob()?.content()).map_err(io)?;
                let permissions = if mode == 0o100_755 { 0o755 } else { 0o644 };
                fs::set_permissions(&path, fs::Permissions::from_mode(permissions)).map_err(io)?;
            }
            0o120_000 => {
                let target = OsStr::from_bytes(blob()?.content()).to_owned();
                std::os::unix::fs::symlink(target, &path).map_err(io)?;
            }
            // A submodule: an empty directory, as git leaves it until `submodule update`.
            0o160_000 => fs::create_dir(&path).map_err(io)?,
            mode => {
                return Err(format!(
                    "{}: unknown git file mode {mode:o}",
                    path.display()
                ));
            }
        }
    }
    Ok(())
}

/// A name that stays inside the directory it is written to; `.git` is refused as git does.
fn is_safe_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes != b"."
        && bytes != b".."
        && !bytes.contains(&b'/')
        && !bytes.eq_ignore_ascii_case(b".git")
}

//! `GitSource` against `file://` remotes built with git2 (no subprocess: clippy forbids them in
//! src/). The same behaviours over real http and ssh servers are in tests/stackctl.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use git2::{Oid, Repository, Signature};

use super::*;

/// A bare "remote" repository and commits made straight into it.
struct Remote {
    dir: tempfile::TempDir,
    repo: Repository,
}

impl Remote {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path().join("origin.git")).unwrap();
        Self { dir, repo }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().join("origin.git").display())
    }

    /// Commit `files` (path, content, mode) as the whole tree on top of `refs/heads/main`.
    fn commit(&self, files: &[(&str, &str, i32)]) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, content, mode) in files {
            let id = self.repo.blob(content.as_bytes()).unwrap();
            let mut entry = index_entry(path, id);
            entry.mode = mode.cast_unsigned();
            index.add(&entry).unwrap();
        }
        let tree = self
            .repo
            .find_tree(index.write_tree_to(&self.repo).unwrap())
            .unwrap();
        let sig = Signature::now("t", "t@example.com").unwrap();
        let parent = self.repo.find_reference("refs/heads/main").ok();
        let parent = parent.map(|r| r.peel_to_commit().unwrap());
        let parents: Vec<_> = parent.iter().collect();
        let id = self
            .repo
            .commit(None, &sig, &sig, "c", &tree, &parents)
            .unwrap();
        self.set_branch(id);
        id
    }

    fn set_branch(&self, id: Oid) {
        self.repo
            .reference("refs/heads/main", id, true, "test")
            .unwrap();
    }
}

fn index_entry(path: &str, id: Oid) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100_644,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn source(url: &str, reference: GitRef, cache: &Path) -> GitSource {
    let remote = GitRemote {
        url: url.into(),
        reference,
        ..GitRemote::default()
    };
    GitSource::open(remote, cache).unwrap()
}

fn main() -> GitRef {
    GitRef::Branch("main".into())
}

#[test]
fn polls_follow_the_branch_forward_and_back() {
    let remote = Remote::new();
    let cache = tempfile::tempdir().unwrap();
    let first = remote.commit(&[("a", "1", 0o100_644)]);
    let mut src = source(&remote.url(), main(), &cache.path().join("repo.git"));
    assert_eq!(src.tip(), None);
    assert_eq!(src.poll().unwrap(), Polled::Changed(first.to_string()));
    assert_eq!(src.poll().unwrap(), Polled::Unchanged(first.to_string()));
    let second = remote.commit(&[("a", "2", 0o100_644)]);
    assert_eq!(src.poll().unwrap(), Polled::Changed(second.to_string()));
    // A force-push back: the remote's tip is the truth.
    remote.set_branch(first);
    assert_eq!(src.poll().unwrap(), Polled::Changed(first.to_string()));
    let changed = src
        .changed_paths(&first.to_string(), &second.to_string())
        .unwrap();
    assert_eq!(changed, [Path::new("a")]);
}

#[test]
fn a_reopened_cache_knows_its_tip_and_another_url_forgets_it() {
    let (remote, other) = (Remote::new(), Remote::new());
    let cache = tempfile::tempdir().unwrap();
    let first = remote.commit(&[("a", "1", 0o100_644)]);
    source(&remote.url(), main(), cache.path()).poll().unwrap();
    let mut again = source(&remote.url(), main(), cache.path());
    assert_eq!(again.tip(), Some(first.to_string()));
    assert_eq!(again.poll().unwrap(), Polled::Unchanged(first.to_string()));
    assert_eq!(source(&other.url(), main(), cache.path()).tip(), None);
}

#[test]
fn tags_and_fixed_commits() {
    let remote = Remote::new();
    let cache = tempfile::tempdir().unwrap();
    let first = remote.commit(&[("a", "1", 0o100_644)]);
    let sig = Signature::now("t", "t@example.com").unwrap();
    let object = remote.repo.find_object(first, None).unwrap();
    remote
        .repo
        .tag("v1", &object, &sig, "annotated", false)
        .unwrap();
    remote.commit(&[("a", "2", 0o100_644)]);

    let mut tag = source(
        &remote.url(),
        GitRef::Tag("v1".into()),
        &cache.path().join("t"),
    );
    assert_eq!(tag.poll().unwrap(), Polled::Changed(first.to_string()));
    let short = first.to_string()[..10].to_string();
    let mut fixed = source(
        &remote.url(),
        GitRef::Commit(short),
        &cache.path().join("c"),
    );
    assert_eq!(fixed.poll().unwrap(), Polled::Changed(first.to_string()));
    // Fetched once: from now on no remote is needed at all.
    fs::remove_dir_all(remote.dir.path()).unwrap();
    assert_eq!(fixed.poll().unwrap(), Polled::Unchanged(first.to_string()));
}

#[test]
fn missing_refs_and_remotes_are_told_apart() {
    let remote = Remote::new();
    let cache = tempfile::tempdir().unwrap();
    remote.commit(&[("a", "1", 0o100_644)]);
    let err = source(
        &remote.url(),
        GitRef::Branch("nope".into()),
        &cache.path().join("b"),
    )
    .poll()
    .unwrap_err();
    assert!(matches!(err, GitError::RefNotFound { .. }), "{err:?}");
    let missing = format!("{}-gone", remote.url());
    let err = source(&missing, main(), &cache.path().join("m"))
        .poll()
        .unwrap_err();
    assert!(
        matches!(err, GitError::Unreachable { .. }) && err.is_retryable(),
        "{err:?}"
    );
    let fixed = GitRef::Commit("0123456789abcdef".into());
    let err = source(&remote.url(), fixed, &cache.path().join("c"))
        .poll()
        .unwrap_err();
    assert!(matches!(err, GitError::CommitNotFound { .. }), "{err:?}");
}

#[test]
fn invalid_references_are_refused_at_open() {
    let cache = tempfile::tempdir().unwrap();
    for reference in [GitRef::Branch("a..b".into()), GitRef::Commit("xyz".into())] {
        let remote = GitRemote {
            url: "file:///x".into(),
            reference,
            ..GitRemote::default()
        };
        let err = GitSource::open(remote, cache.path()).err().unwrap();
        assert!(matches!(err, GitError::InvalidReference { .. }), "{err:?}");
    }
}

#[test]
fn a_cache_dir_that_is_no_repository_is_a_cache_problem() {
    let cache = tempfile::tempdir().unwrap();
    fs::write(cache.path().join("junk"), "x").unwrap();
    let remote = GitRemote {
        url: "file:///x".into(),
        ..GitRemote::default()
    };
    let err = GitSource::open(remote, cache.path()).err().unwrap();
    assert!(err.is_cache_problem(), "{err:?}");
}

#[test]
fn checkout_writes_the_tree_with_modes_and_symlinks() {
    let remote = Remote::new();
    let cache = tempfile::tempdir().unwrap();
    let files = [
        ("stack.yml", "services: {}\n", 0o100_644),
        ("bin/run.sh", "#!/bin/sh\n", 0o100_755),
        ("link", "stack.yml", 0o120_000),
    ];
    let commit = remote.commit(&files).to_string();
    let mut src = source(&remote.url(), main(), cache.path());
    src.poll().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("tree");
    src.checkout(&commit, &dir).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("stack.yml")).unwrap(),
        "services: {}\n"
    );
    let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("stack.yml"), mode("bin/run.sh")), (0o644, 0o755));
    assert_eq!(
        fs::read_link(dir.join("link")).unwrap(),
        Path::new("stack.yml")
    );
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["bin", "link", "stack.yml"]);
    let err = src.checkout(&commit, &dir).unwrap_err();
    assert!(
        matches!(err, GitError::Checkout { .. }),
        "a non-empty dir is refused: {err:?}"
    );
}

#[test]
fn a_source_can_move_to_a_blocking_thread_and_errors_into_reports() {
    fn send<T: Send>() {}
    fn report<T: Send + Sync + 'static>() {}
    send::<GitSource>();
    report::<GitError>();
}

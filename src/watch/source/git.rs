//! A git remote followed at a branch, tag or commit, fetched into a local cache with git2.

//! The one integration-test binary: runs the real `stackctl` binary and the library.

// Tests drive the real binary (and later the docker CLI oracle) as subprocesses.
#![allow(clippy::disallowed_methods)]

mod apply;
mod apply_examples;
mod apply_failure;
mod apply_faults;
mod apply_interrupt;
mod apply_lock;
mod apply_objects;
mod apply_plan_file;
mod apply_progress;
mod apply_rollout;
mod apply_stack_commands;
mod ci_examples;
mod color;
mod completions;
mod converge;
mod engine;
mod examples;
mod fault_proxy;
mod fuzz;
mod git_server;
mod hostile_input;
mod invalid_files;
mod loading;
mod namespaces;
mod nodes;
mod oracle;
mod oracle_accepts;
mod oracle_edges;
mod oracle_overrides;
mod plan_cli;
mod plan_markdown;
mod plan_scale;
mod preflight;
mod secrets_output;
mod stack_config;
mod swarm;
mod util;
mod version;
mod watch_config;
mod watch_drift;
mod watch_git;
mod watch_lifecycle;
mod watch_reconcile;
mod watch_service;
mod watch_source;
mod watch_sources;
mod watcher;

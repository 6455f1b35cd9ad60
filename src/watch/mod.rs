//! `stackctl watch`: a `GitOps` controller. Sources (git branches, folders) give revisions; each
//! stack is reconciled (load, plan, apply, record) when its inputs change or the cluster drifts.

pub mod backoff;
pub mod clock;
pub mod config;
pub mod controller;
pub mod follow;
pub mod http;
pub mod inputs;
pub mod log;
pub mod memory;
pub mod reconcile;
pub mod source;
pub mod status;
pub mod trigger;

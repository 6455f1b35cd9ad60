//! stackctl: a declarative, GitOps-style deployer for Docker Swarm stacks.
//!
//! The pipeline, one module per stage: [`load`] reads stack files into the [`model`]; later
//! stages convert, observe the cluster, diff, plan and apply.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod convert;
pub mod deploy;
pub mod diff;
pub mod engine;
pub mod load;
pub mod model;
pub mod observe;
pub mod placement;
pub mod plan;
pub mod sensitive;
pub mod watch;

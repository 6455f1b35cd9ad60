//! Applying a plan to the cluster: objects first, then watched service rollouts.

pub mod converge;

//! Watching service rollouts until they converge (being written).

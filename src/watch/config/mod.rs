//! The watcher's configuration: `watch.yml` (sources and stacks), or the single-stack flags.

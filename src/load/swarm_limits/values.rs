//! Values Swarm refuses (swarmkit's `validateServiceSpec`) or no container can start with:
//! health-check durations under 1ms, negative update and restart delays, out-of-range failure
//! ratios, tiny CPU and memory amounts, clashing ports and mount targets, NUL characters.

use std::collections::BTreeSet;

use super::place::Places;
use crate::load::diagnostic::{Diagnostic, Diagnostics};
use crate::load::node::Span;
use crate::model::{Duration, Service, Stack};

/// swarmkit's `minimumDuration` for health-check durations (0 means "the default").
const MIN_HEALTH_NANOS: i64 = 1_000_000;
/// swarmkit's `validateResources`: at least 0.001 CPU and 4 MiB, when set.
const MIN_NANO_CPUS: i64 = 1_000_000;
const MIN_MEMORY: i64 = 4 * 1024 * 1024;

const CODE: &str = "stackctl::load::swarm_value";

/// One service's findings, with the places its values were written.
struct Check<'a, 'p> {
    key: &'a str,
    service: &'a Service,
    places: &'a Places<'p>,
    diags: &'a mut Diagnostics,
}

impl Check<'_, '_> {
    fn at(&self, path: &[&str]) -> Span {
        let mut full = vec!["services", self.key];
        full.extend_from_slice(path);
        self.places.value_or(&full, self.service.name.span)
    }

    fn refuse(&mut self, span: Span, message: &str, help: &str) {
        self.error(span, message, "refused by Swarm", help);
    }

    fn error(&mut self, span: Span, message: &str, label: &str, help: &str) {
        let message = format!("services.{}.{message}", self.key);
        let diag = Diagnostic::error(CODE, message).at(span, label);
        self.diags.push(diag.with_help(help));
    }

    fn durations(&mut self) {
        if let Some(health) = self.service.healthcheck.as_ref().filter(|h| !h.disable) {
            for (key, value) in [
                ("interval", health.interval),
                ("timeout", health.timeout),
                ("start_period", health.start_period),
            ] {
                let Some(Duration(nanos)) = value else {
                    continue;
                };
                if nanos != 0 && nanos < MIN_HEALTH_NANOS {
                    let span = self.at(&["healthcheck", key]);
                    let message = format!(
                        "healthcheck.{key}: {} is under 1ms, which Swarm refuses",
                        Duration(nanos)
                    );
                    self.refuse(
                        span,
                        &message,
                        "use at least `1ms` (or `0s` for the default)",
                    );
                }
            }
        }
        if let Some(update) = &self.service.deploy.update_config {
            for (key, value) in [("delay", update.delay), ("monitor", update.monitor)] {
                self.not_negative(&["deploy", "update_config", key], value);
            }
            let ratio = update.max_failure_ratio;
            if !(0.0..=1.0).contains(&ratio) {
                let span = self.at(&["deploy", "update_config", "max_failure_ratio"]);
                let message = format!(
                    "deploy.update_config.max_failure_ratio: {ratio} is outside 0..1, which Swarm refuses"
                );
                self.refuse(
                    span,
                    &message,
                    "a ratio of failed tasks: 0 to 1, e.g. `0.1`",
                );
            }
        }
        if let Some(restart) = &self.service.deploy.restart_policy {
            for (key, value) in [("delay", restart.delay), ("window", restart.window)] {
                if let Some(value) = value {
                    self.not_negative(&["deploy", "restart_policy", key], value);
                }
            }
        }
    }

    fn not_negative(&mut self, path: &[&str], value: Duration) {
        if value.nanos() < 0 {
            let span = self.at(path);
            let message = format!(
                "{}: {value} is negative, which Swarm refuses",
                path.join(".")
            );
            self.refuse(span, &message, "use `0s` or a positive duration");
        }
    }

    fn resources(&mut self) {
        let resources = &self.service.deploy.resources;
        let limits = resources
            .limits
            .as_ref()
            .map(|l| (l.nano_cpus, l.memory_bytes));
        let reservations = resources
            .reservations
            .as_ref()
            .map(|r| (r.nano_cpus, r.memory_bytes));
        for (block, amounts) in [("limits", limits), ("reservations", reservations)] {
            let Some((cpus, memory)) = amounts else {
                continue;
            };
            if cpus != 0 && cpus < MIN_NANO_CPUS {
                let span = self.at(&["deploy", "resources", block, "cpus"]);
                let message = format!(
                    "deploy.resources.{block}.cpus: {} CPUs is less than the 0.001 Swarm accepts",
                    cpus as f64 / 1e9
                );
                self.refuse(span, &message, "use at least `0.001`");
            }
            if memory != 0 && memory < MIN_MEMORY {
                let span = self.at(&["deploy", "resources", block, "memory"]);
                let message = format!(
                    "deploy.resources.{block}.memory: {memory} bytes is less than the 4MiB Swarm accepts"
                );
                self.refuse(span, &message, "use at least `4M`");
            }
        }
    }

    fn ports(&mut self) {
        let dnsrr = self
            .service
            .deploy
            .endpoint_mode
            .eq_ignore_ascii_case("dnsrr");
        let mut published = BTreeSet::new();
        for port in &self.service.ports {
            // An empty mode or protocol is the daemon's default: ingress, tcp.
            let ingress = matches!(port.mode.as_str(), "" | "ingress");
            if dnsrr && ingress {
                let span = self.at(&["ports"]);
                let message = format!(
                    "ports: port {} is published in ingress mode, which Swarm refuses with `endpoint_mode: dnsrr`",
                    port.target
                );
                self.refuse(
                    span,
                    &message,
                    "publish it with `mode: host`, or use `endpoint_mode: vip`",
                );
                return;
            }
            let protocol = if port.protocol.is_empty() {
                "tcp"
            } else {
                &port.protocol
            };
            if port.published != 0 && !published.insert((port.published, protocol.to_owned())) {
                let span = self.at(&["ports"]);
                let message = format!(
                    "ports: {}/{protocol} is published twice, which Swarm refuses",
                    port.published
                );
                self.refuse(span, &message, "publish each port and protocol once");
            }
        }
    }

    fn mounts(&mut self) {
        let mut targets = BTreeSet::new();
        for volume in &self.service.volumes {
            if !targets.insert(volume.target.as_str()) {
                let message = format!(
                    "volumes: two mounts at {:?}, which Swarm refuses",
                    volume.target
                );
                self.refuse(volume.span, &message, "mount one volume per container path");
            }
        }
    }

    /// The runtime refuses NUL in environment variables and in the words it executes: Swarm
    /// accepts the service, then every task fails to start.
    fn nul_characters(&mut self) {
        let has_nul = |s: &str| s.contains('\0');
        let env = self.service.environment.iter();
        for (var, _) in env.filter(|(k, v)| has_nul(k) || v.as_deref().is_some_and(has_nul)) {
            let span = self
                .places
                .env(self.key, var)
                .unwrap_or(self.service.name.span);
            let message = format!(
                "environment.{}: contains a NUL character; Swarm accepts it, but every task then fails to start",
                var.replace('\0', "\\0")
            );
            self.error(
                span,
                &message,
                "no task can start with this",
                "remove the NUL (`\\0`) from the variable",
            );
        }
        let words = [
            ("command", self.service.command.as_ref()),
            ("entrypoint", self.service.entrypoint.as_ref()),
            (
                "healthcheck.test",
                self.service
                    .healthcheck
                    .as_ref()
                    .and_then(|h| h.test.as_ref()),
            ),
        ];
        for (key, words) in words {
            if words.is_some_and(|w| w.iter().any(|word| has_nul(word))) {
                let path: Vec<&str> = key.split('.').collect();
                let span = self.at(&path);
                let message = format!(
                    "{key}: contains a NUL character; Swarm accepts it, but the container cannot run it"
                );
                self.error(
                    span,
                    &message,
                    "no task can start with this",
                    "remove the NUL (`\\0`)",
                );
            }
        }
    }
}

pub(super) fn check(stack: &Stack, places: &Places<'_>, diags: &mut Diagnostics) {
    for (key, service) in &stack.services {
        let mut check = Check {
            key,
            service,
            places,
            diags,
        };
        check.durations();
        check.resources();
        check.ports();
        check.mounts();
        check.nul_characters();
    }
}

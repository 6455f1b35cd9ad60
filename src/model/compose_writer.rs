//! A loaded [`Stack`] written back as one compose file (`stackctl config`): long syntax
//! throughout, paths absolute, `env_file:` already read into `environment:`, so that loading
//! the output gives the same stack again.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::Path;

use super::yaml_writer::Yaml;
use crate::sensitive::{MASK, is_sensitive_name, mask_text};

use super::{
    Deploy, External, FileObject, Healthcheck, Network, ObjectRef, Port, Resources, Service,
    ServiceNetwork, ServiceVolume, Stack, Ulimit, UpdateConfig, Volume,
};

/// How strings are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dollars {
    /// The stack was interpolated: a `$` left in a value is literal, written `$$` so that
    /// loading the output does not interpolate it a second time.
    Escape,
    /// Interpolation was skipped: `${VAR}` and `$$` are written as they were.
    Keep,
}

/// How the stack is written.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    pub dollars: Dollars,
    /// Mask what the [`crate::sensitive`] rule hides (values of sensitive environment
    /// variables, labels and options, `--password=` arguments). A masked stack is for reading:
    /// deploying it would deploy the mask.
    pub mask: bool,
}

/// The stack as a YAML tree, keys in compose's usual order, and how many values were masked.
#[must_use]
pub fn stack_to_yaml(stack: &Stack, options: WriteOptions) -> (Yaml, usize) {
    let w = Writer {
        dollars: options.dollars,
        mask: options.mask,
        masked: Cell::new(0),
    };
    let mut top = Entries::default();
    top.push("version", Yaml::str(&stack.version));
    if let Some(name) = &stack.name {
        top.push("name", w.text(&name.value));
    }
    let services = stack
        .services
        .iter()
        .map(|(k, s)| (k.clone(), w.service(s)));
    top.push("services", Yaml::Map(services.collect()));
    let networks = stack
        .networks
        .iter()
        .map(|(k, n)| (k.clone(), w.network(n)));
    top.push_nonempty("networks", networks.collect());
    let volumes = stack.volumes.iter().map(|(k, v)| (k.clone(), w.volume(v)));
    top.push_nonempty("volumes", volumes.collect());
    let secrets = stack
        .secrets
        .iter()
        .map(|(k, s)| (k.clone(), w.file_object(s)));
    top.push_nonempty("secrets", secrets.collect());
    let configs = stack
        .configs
        .iter()
        .map(|(k, c)| (k.clone(), w.file_object(c)));
    top.push_nonempty("configs", configs.collect());
    (Yaml::Map(top.0), w.masked.get())
}

/// A mapping under construction; empty values are left out where absent means the same.
#[derive(Default)]
struct Entries(Vec<(String, Yaml)>);

impl Entries {
    fn push(&mut self, key: &str, value: Yaml) {
        self.0.push((key.to_owned(), value));
    }
    fn push_text(&mut self, key: &str, value: Yaml) {
        if value != Yaml::Str(String::new()) {
            self.push(key, value);
        }
    }
    fn push_nonempty(&mut self, key: &str, entries: Vec<(String, Yaml)>) {
        if !entries.is_empty() {
            self.push(key, Yaml::Map(entries));
        }
    }
    fn push_list(&mut self, key: &str, items: Vec<Yaml>) {
        if !items.is_empty() {
            self.push(key, Yaml::Seq(items));
        }
    }
    fn push_if(&mut self, key: &str, value: Option<Yaml>) {
        if let Some(value) = value {
            self.push(key, value);
        }
    }
    fn push_true(&mut self, key: &str, flag: bool) {
        if flag {
            self.push(key, Yaml::Bool(true));
        }
    }
}

struct Writer {
    dollars: Dollars,
    mask: bool,
    masked: Cell<usize>,
}

impl Writer {
    fn text(&self, s: &str) -> Yaml {
        match self.dollars {
            Dollars::Escape => Yaml::Str(s.replace('$', "$$")),
            Dollars::Keep => Yaml::str(s),
        }
    }

    fn texts<'a>(&self, items: impl IntoIterator<Item = &'a String>) -> Vec<Yaml> {
        items.into_iter().map(|s| self.text(s)).collect()
    }

    /// A value under a name the user chose: masked when the name is sensitive.
    fn named(&self, name: &str, value: &str) -> Yaml {
        if self.mask && is_sensitive_name(name) {
            self.masked.set(self.masked.get() + 1);
            return Yaml::str(MASK);
        }
        self.text(value)
    }

    fn map(&self, map: &BTreeMap<String, String>) -> Vec<(String, Yaml)> {
        map.iter()
            .map(|(k, v)| (k.clone(), self.named(k, v)))
            .collect()
    }

    /// Command-line words, with `--token=value` style secrets masked.
    fn args(&self, items: &[String]) -> Yaml {
        let words = items.iter().map(|item| {
            let shown = if self.mask {
                mask_text(item)
            } else {
                item.clone()
            };
            if shown != *item {
                self.masked.set(self.masked.get() + 1);
            }
            self.text(&shown)
        });
        Yaml::Seq(words.collect())
    }

    fn path(&self, path: &Path) -> Yaml {
        self.text(&path.to_string_lossy())
    }

    // One line per compose key, in docker's order; splitting it would scatter the mapping.
    #[allow(clippy::too_many_lines)]
    fn service(&self, s: &Service) -> Yaml {
        let mut e = Entries::default();
        e.push_if("image", s.image.as_ref().map(|i| self.text(&i.value)));
        e.push_if("command", s.command.as_ref().map(|c| self.args(c)));
        let entrypoint = s.entrypoint.as_ref().map(|c| self.args(c));
        e.push_if("entrypoint", entrypoint);
        let environment = s.environment.iter().map(|(k, v)| {
            let value = v.as_deref().map_or(Yaml::Null, |v| self.named(k, v));
            (k.clone(), value)
        });
        e.push_nonempty("environment", environment.collect());
        e.push_nonempty("labels", self.map(&s.labels));
        for (key, value) in [
            ("hostname", &s.hostname),
            ("user", &s.user),
            ("working_dir", &s.working_dir),
            ("stop_signal", &s.stop_signal),
            ("isolation", &s.isolation),
        ] {
            e.push_text(key, self.text(value));
        }
        e.push_true("read_only", s.read_only);
        e.push_true("tty", s.tty);
        e.push_true("stdin_open", s.stdin_open);
        e.push_if("init", s.init.map(Yaml::Bool));
        e.push_if("stop_grace_period", s.stop_grace_period.map(duration));
        // `host=ip`: the first `=` splits, so an IPv6 address keeps its colons.
        let hosts = s
            .extra_hosts
            .iter()
            .map(|h| self.text(&h.replacen(':', "=", 1)));
        e.push_list("extra_hosts", hosts.collect());
        e.push_list("dns", self.texts(&s.dns));
        e.push_list("dns_search", self.texts(&s.dns_search));
        e.push_list("cap_add", self.texts(&s.cap_add));
        e.push_list("cap_drop", self.texts(&s.cap_drop));
        let ulimits = s.ulimits.iter().map(|(k, u)| (k.clone(), ulimit(u)));
        e.push_nonempty("ulimits", ulimits.collect());
        e.push_nonempty("sysctls", self.map(&s.sysctls));
        e.push_if(
            "healthcheck",
            s.healthcheck.as_ref().map(|h| self.healthcheck(h)),
        );
        if let Some(logging) = &s.logging {
            let mut l = Entries::default();
            l.push_text("driver", self.text(&logging.driver));
            l.push_nonempty("options", self.map(&logging.options));
            e.push("logging", Yaml::Map(l.0));
        }
        if let Some(spec) = &s.credential_spec {
            let mut c = Entries::default();
            c.push_text("config", self.text(&spec.config));
            c.push_text("file", self.text(&spec.file));
            c.push_text("registry", self.text(&spec.registry));
            e.push("credential_spec", Yaml::Map(c.0));
        }
        let secrets = s.secrets.iter().map(|r| self.object_ref(r));
        e.push_list("secrets", secrets.collect());
        let configs = s.configs.iter().map(|r| self.object_ref(r));
        e.push_list("configs", configs.collect());
        let volumes = s.volumes.iter().map(|v| self.mount(v));
        e.push_list("volumes", volumes.collect());
        if let Some(networks) = &s.networks {
            let networks = networks
                .iter()
                .map(|(k, n)| (k.clone(), self.attachment(n)));
            e.push("networks", Yaml::Map(networks.collect()));
        }
        let ports = s.ports.iter().map(|p| self.port(p));
        e.push_list("ports", ports.collect());
        let deploy = self.deploy(&s.deploy);
        e.push_nonempty("deploy", deploy);
        e.push_if("restart", s.restart.as_ref().map(|r| self.text(&r.value)));
        let depends_on = s.depends_on.iter().map(|d| self.text(&d.value));
        e.push_list("depends_on", depends_on.collect());
        e.push_if("oom_score_adj", s.oom_score_adj.map(Yaml::Int));
        Yaml::Map(e.0)
    }

    fn healthcheck(&self, h: &Healthcheck) -> Yaml {
        let mut e = Entries::default();
        e.push_if("test", h.test.as_ref().map(|t| self.args(t)));
        e.push_if("interval", h.interval.map(duration));
        e.push_if("timeout", h.timeout.map(duration));
        e.push_if("start_period", h.start_period.map(duration));
        e.push_if("start_interval", h.start_interval.map(duration));
        e.push_if("retries", h.retries.map(|r| Yaml::Int(r as i64)));
        e.push_true("disable", h.disable);
        Yaml::Map(e.0)
    }

    fn object_ref(&self, r: &ObjectRef) -> Yaml {
        let mut e = Entries::default();
        e.push("source", self.text(&r.source.value));
        e.push_text("target", self.text(&r.target));
        e.push_text("uid", self.text(&r.uid));
        e.push_text("gid", self.text(&r.gid));
        e.push_if("mode", r.mode.map(|m| Yaml::Int(i64::from(m))));
        Yaml::Map(e.0)
    }

    fn mount(&self, v: &ServiceVolume) -> Yaml {
        let mut e = Entries::default();
        e.push("type", Yaml::str(v.kind.as_str()));
        e.push_text("source", self.text(&v.source));
        e.push_text("target", self.text(&v.target));
        e.push_true("read_only", v.read_only);
        e.push_text("consistency", self.text(&v.consistency));
        if let Some(propagation) = &v.bind_propagation {
            let mut b = Entries::default();
            b.push_text("propagation", self.text(propagation));
            e.push("bind", Yaml::Map(b.0));
        }
        if let Some(nocopy) = v.volume_nocopy {
            let mut o = Entries::default();
            o.push_true("nocopy", nocopy);
            o.push_text("subpath", self.text(&v.volume_subpath));
            e.push("volume", Yaml::Map(o.0));
        }
        if let Some(size) = v.tmpfs_size {
            e.push(
                "tmpfs",
                Yaml::Map(vec![("size".to_owned(), Yaml::Int(size))]),
            );
        }
        Yaml::Map(e.0)
    }

    fn attachment(&self, n: &ServiceNetwork) -> Yaml {
        let mut e = Entries::default();
        e.push_list("aliases", self.texts(&n.aliases));
        e.push_nonempty("driver_opts", self.map(&n.driver_opts));
        e.push_text("ipv4_address", self.text(&n.ipv4_address));
        e.push_text("ipv6_address", self.text(&n.ipv6_address));
        if e.0.is_empty() {
            Yaml::Null
        } else {
            Yaml::Map(e.0)
        }
    }

    fn port(&self, p: &Port) -> Yaml {
        let mut e = Entries::default();
        e.push_text("mode", self.text(&p.mode));
        e.push("target", Yaml::Int(i64::from(p.target)));
        if p.published != 0 {
            e.push("published", Yaml::Int(i64::from(p.published)));
        }
        e.push_text("protocol", self.text(&p.protocol));
        Yaml::Map(e.0)
    }

    fn deploy(&self, d: &Deploy) -> Vec<(String, Yaml)> {
        let mut e = Entries::default();
        e.push_if("mode", d.mode.as_ref().map(|m| self.text(&m.value)));
        e.push_if("replicas", d.replicas.map(|r| Yaml::Int(r as i64)));
        e.push_nonempty("labels", self.map(&d.labels));
        e.push_if(
            "update_config",
            d.update_config.as_ref().map(|u| self.update(u)),
        );
        let rollback = d.rollback_config.as_ref().map(|u| self.update(u));
        e.push_if("rollback_config", rollback);
        if d.resources != Resources::default() {
            e.push("resources", resources(&d.resources));
        }
        if let Some(policy) = &d.restart_policy {
            let mut r = Entries::default();
            r.push_text("condition", self.text(&policy.condition));
            r.push_if("delay", policy.delay.map(duration));
            r.push_if(
                "max_attempts",
                policy.max_attempts.map(|n| Yaml::Int(n as i64)),
            );
            r.push_if("window", policy.window.map(duration));
            e.push("restart_policy", Yaml::Map(r.0));
        }
        let mut p = Entries::default();
        p.push_list("constraints", self.texts(&d.placement.constraints));
        let spread = d
            .placement
            .preferences
            .iter()
            .map(|s| Yaml::Map(vec![("spread".to_owned(), self.text(s))]));
        p.push_list("preferences", spread.collect());
        if d.placement.max_replicas_per_node != 0 {
            let max = Yaml::Int(d.placement.max_replicas_per_node as i64);
            p.push("max_replicas_per_node", max);
        }
        e.push_nonempty("placement", p.0);
        e.push_text("endpoint_mode", self.text(&d.endpoint_mode));
        e.0
    }

    fn update(&self, u: &UpdateConfig) -> Yaml {
        let mut e = Entries::default();
        e.push_if("parallelism", u.parallelism.map(|p| Yaml::Int(p as i64)));
        if u.delay.nanos() != 0 {
            e.push("delay", duration(u.delay));
        }
        e.push_text("failure_action", self.text(&u.failure_action));
        if u.monitor.nanos() != 0 {
            e.push("monitor", duration(u.monitor));
        }
        if u.max_failure_ratio != 0.0 {
            e.push(
                "max_failure_ratio",
                Yaml::Number(u.max_failure_ratio.to_string()),
            );
        }
        e.push_text("order", self.text(&u.order));
        Yaml::Map(e.0)
    }

    fn naming(&self, e: &mut Entries, naming: &External) {
        e.push_text("name", self.text(&naming.name));
        e.push_true("external", naming.external);
    }

    fn network(&self, n: &Network) -> Yaml {
        let mut e = Entries::default();
        self.naming(&mut e, &n.naming);
        e.push_text("driver", self.text(&n.driver));
        e.push_nonempty("driver_opts", self.map(&n.driver_opts));
        let mut ipam = Entries::default();
        ipam.push_text("driver", self.text(&n.ipam_driver));
        let subnets = n
            .ipam_subnets
            .iter()
            .map(|s| Yaml::Map(vec![("subnet".to_owned(), self.text(s))]));
        ipam.push_list("config", subnets.collect());
        e.push_nonempty("ipam", ipam.0);
        e.push_true("internal", n.internal);
        e.push_true("attachable", n.attachable);
        e.push_nonempty("labels", self.map(&n.labels));
        Yaml::Map(e.0)
    }

    fn volume(&self, v: &Volume) -> Yaml {
        let mut e = Entries::default();
        self.naming(&mut e, &v.naming);
        e.push_text("driver", self.text(&v.driver));
        e.push_nonempty("driver_opts", self.map(&v.driver_opts));
        e.push_nonempty("labels", self.map(&v.labels));
        Yaml::Map(e.0)
    }

    fn file_object(&self, o: &FileObject) -> Yaml {
        let mut e = Entries::default();
        self.naming(&mut e, &o.naming);
        e.push_if("file", o.file.as_deref().map(|f| self.path(f)));
        e.push_nonempty("labels", self.map(&o.labels));
        e.push_text("driver", self.text(&o.driver));
        e.push_nonempty("driver_opts", self.map(&o.driver_opts));
        e.push_text("template_driver", self.text(&o.template_driver));
        Yaml::Map(e.0)
    }
}

fn duration(d: super::Duration) -> Yaml {
    Yaml::Str(d.to_string())
}

fn ulimit(u: &Ulimit) -> Yaml {
    match u {
        Ulimit::Single(n) => Yaml::Int(*n),
        Ulimit::SoftHard { soft, hard } => Yaml::Map(vec![
            ("soft".to_owned(), Yaml::Int(*soft)),
            ("hard".to_owned(), Yaml::Int(*hard)),
        ]),
    }
}

/// CPUs as a decimal string and memory in bytes: the loader wants both quoted.
fn resources(r: &Resources) -> Yaml {
    let mut e = Entries::default();
    if let Some(limits) = &r.limits {
        let mut l = Entries::default();
        if limits.nano_cpus != 0 {
            l.push("cpus", Yaml::Str(cpus(limits.nano_cpus)));
        }
        if limits.memory_bytes != 0 {
            l.push("memory", Yaml::Str(limits.memory_bytes.to_string()));
        }
        if limits.pids != 0 {
            l.push("pids", Yaml::Int(limits.pids));
        }
        e.push("limits", Yaml::Map(l.0));
    }
    if let Some(reservations) = &r.reservations {
        let mut l = Entries::default();
        if reservations.nano_cpus != 0 {
            l.push("cpus", Yaml::Str(cpus(reservations.nano_cpus)));
        }
        if reservations.memory_bytes != 0 {
            l.push("memory", Yaml::Str(reservations.memory_bytes.to_string()));
        }
        let generic = reservations.generic_resources.iter().map(|(kind, value)| {
            let spec = Yaml::Map(vec![
                ("kind".to_owned(), Yaml::str(kind)),
                ("value".to_owned(), Yaml::Int(*value)),
            ]);
            Yaml::Map(vec![("discrete_resource_spec".to_owned(), spec)])
        });
        l.push_list("generic_resources", generic.collect());
        e.push("reservations", Yaml::Map(l.0));
    }
    Yaml::Map(e.0)
}

/// Nano-CPUs as the shortest exact decimal (`500000000` is `0.5`).
fn cpus(nanos: i64) -> String {
    let whole = nanos / 1_000_000_000;
    let fraction = (nanos % 1_000_000_000).abs();
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_are_exact_decimals() {
        assert_eq!(cpus(500_000_000), "0.5");
        assert_eq!(cpus(2_000_000_000), "2");
        assert_eq!(cpus(1_250_000_000), "1.25");
        assert_eq!(cpus(1), "0.000000001");
    }
}

//! The plan for people: grouped by object, `+ ~ -` markers, `old → new` per field, a rollout
//! line per updated service and a one-line summary. Sensitive values are masked.

use std::fmt::Write;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{Action, ObjectPlan, Plan, Rollout, ServicePlan};
use crate::diff::FieldChange;
use crate::model::Duration;
use crate::sensitive::{MASK, is_sensitive_path, mask_change};

#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions {
    pub color: bool,
    /// Show values the [`crate::sensitive`] rule hides (never in JSON or saved plans).
    pub show_sensitive: bool,
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn marker(&self, action: Action) -> String {
        match action {
            Action::Create => self.paint("32", "+"),
            Action::Update => self.paint("33", "~"),
            Action::Remove => self.paint("31", "-"),
            Action::Unchanged => " ".to_owned(),
        }
    }
}

pub(super) fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Remove => "remove",
        Action::Unchanged => "unchanged",
    }
}

/// The whole plan as text.
#[must_use]
pub fn render_text(plan: &Plan, options: RenderOptions) -> String {
    let painter = Painter {
        color: options.color,
    };
    let mut out = String::new();
    if !plan.has_changes() {
        let _ = writeln!(
            out,
            "No changes. Stack {} matches the files ({} objects).",
            plan.stack, plan.summary.unchanged
        );
        render_placement(&mut out, plan, &painter);
        render_notes(&mut out, plan, &painter, options);
        render_kept(&mut out, plan);
        return out;
    }
    let changed_services: Vec<&ServicePlan> = plan
        .services
        .iter()
        .filter(|s| s.action != Action::Unchanged)
        .collect();
    if !changed_services.is_empty() {
        out.push_str("Services:\n");
        for service in changed_services {
            render_service(&mut out, service, &painter, options);
        }
    }
    for (title, list) in [
        ("Networks", &plan.networks),
        ("Configs", &plan.configs),
        ("Secrets", &plan.secrets),
    ] {
        let changed: Vec<&ObjectPlan> = list
            .iter()
            .filter(|o| o.action != Action::Unchanged)
            .collect();
        if changed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:");
        for object in changed {
            let _ = writeln!(
                out,
                "  {} {} ({})",
                painter.marker(object.action),
                object.name,
                verb(object.action)
            );
            render_changes(&mut out, &object.changes, &painter, options);
            if let Some(note) = &object.note {
                let _ = writeln!(out, "      note: {note}");
            }
        }
    }
    render_placement(&mut out, plan, &painter);
    render_notes(&mut out, plan, &painter, options);
    render_kept(&mut out, plan);
    let s = plan.summary;
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} to remove, {} unchanged.",
        s.create, s.update, s.remove, s.unchanged
    );
    out
}

/// Eligible nodes per service and placement warnings. On a one-node swarm every service is
/// eligible on its one node, which says nothing: the section then only appears for warnings.
fn render_placement(out: &mut String, plan: &Plan, painter: &Painter) {
    let placement = &plan.placement;
    if placement.nodes <= 1 && !placement.has_warnings() {
        return;
    }
    let _ = writeln!(
        out,
        "Placement ({} node(s), {} taking new tasks):",
        placement.nodes, placement.schedulable_nodes
    );
    for service in &placement.services {
        let _ = writeln!(
            out,
            "  {}: {} of {} node(s) eligible",
            service.name, service.eligible_nodes, placement.nodes
        );
        for warning in &service.warnings {
            let _ = writeln!(out, "    {} {warning}", painter.paint("33", "warning:"));
        }
    }
}

/// Drift stackctl reports but does not act on (networks Swarm cannot update).
fn render_notes(out: &mut String, plan: &Plan, painter: &Painter, options: RenderOptions) {
    for network in plan.noted_networks() {
        let _ = writeln!(
            out,
            "Network {} {}:",
            network.name,
            network.note.as_deref().unwrap_or_default()
        );
        render_changes(out, &network.changes, painter, options);
    }
}

fn render_kept(out: &mut String, plan: &Plan) {
    if plan.kept.is_empty() {
        return;
    }
    let items: Vec<String> = plan
        .kept
        .iter()
        .map(|k| format!("{} {}", k.kind, k.name))
        .collect();
    let _ = writeln!(
        out,
        "Not in the files, kept (use --prune to remove): {}",
        items.join(", ")
    );
}

fn render_service(
    out: &mut String,
    service: &ServicePlan,
    painter: &Painter,
    options: RenderOptions,
) {
    let _ = writeln!(
        out,
        "  {} {} ({})",
        painter.marker(service.action),
        service.name,
        verb(service.action)
    );
    if let (Action::Create, Some(spec)) = (service.action, &service.spec) {
        let _ = writeln!(out, "      {}", describe_new_service(spec));
    }
    if service.action == Action::Update {
        render_changes(out, &service.changes, painter, options);
        if service.requires_recreate {
            let _ = writeln!(
                out,
                "      note: Swarm cannot change a service's mode; it is removed and created again"
            );
        }
        match &service.rollout {
            Some(rollout) => {
                let _ = writeln!(out, "      rollout: {}", describe_rollout(rollout));
            }
            None => {
                let _ = writeln!(out, "      rollout: none (running tasks are kept)");
            }
        }
    }
}

/// One line about a service being created: image, mode, published ports.
pub(super) fn describe_new_service(spec: &Value) -> String {
    let image = spec
        .pointer("/TaskTemplate/ContainerSpec/Image")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mode = match spec
        .get("Mode")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
    {
        Some((kind, body)) if kind == "Replicated" => {
            format!("{} replica(s)", body["Replicas"].as_u64().unwrap_or(1))
        }
        Some((kind, body)) if kind == "ReplicatedJob" => format!(
            "job, {} completion(s)",
            body["TotalCompletions"].as_u64().unwrap_or(1)
        ),
        Some((kind, _)) if kind == "GlobalJob" => "global job".to_owned(),
        Some(_) => "global".to_owned(),
        None => "1 replica(s)".to_owned(),
    };
    let ports: Vec<String> = spec
        .pointer("/EndpointSpec/Ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}:{}",
                p["PublishedPort"].as_u64().unwrap_or(0),
                p["TargetPort"].as_u64().unwrap_or(0)
            )
        })
        .collect();
    let ports = if ports.is_empty() {
        String::new()
    } else {
        format!(", ports {}", ports.join(" "))
    };
    format!("image {image}, {mode}{ports}")
}

#[must_use]
pub fn describe_rollout(r: &Rollout) -> String {
    let batches = match (r.batches, r.parallelism) {
        (Some(n), 0) => format!("all {n} task(s) at once"),
        (Some(n), p) => format!("{n} batch(es) of {p}"),
        (None, 0) => "every node at once".to_owned(),
        (None, p) => format!("{p} node(s) at a time"),
    };
    let delay = if r.delay_seconds > 0.0 {
        format!(", {} apart", seconds(r.delay_seconds))
    } else {
        String::new()
    };
    let ratio = if r.max_failure_ratio > 0.0 {
        format!(" above {}% failures", r.max_failure_ratio * 100.0)
    } else {
        String::new()
    };
    format!(
        "{batches}{delay}, {}, monitor {}, on failure{ratio}: {}",
        r.order,
        seconds(r.monitor_seconds),
        r.failure_action
    )
}

fn seconds(s: f64) -> String {
    Duration((s * 1e9) as i64).to_string()
}

fn render_changes(
    out: &mut String,
    changes: &[FieldChange],
    painter: &Painter,
    options: RenderOptions,
) {
    for change in changes {
        let show = |v: &Option<Value>| match v {
            None => "(none)".to_owned(),
            Some(v) if options.show_sensitive => format_value(&change.path, v),
            Some(v) => shown(&change.path, v),
        };
        let (old, new) = (show(&change.old), show(&change.new));
        if old.contains('\n') || new.contains('\n') {
            let _ = writeln!(out, "      {}:", change.path);
            for line in TextDiff::from_lines(&old, &new).iter_all_changes() {
                let (sign, code) = match line.tag() {
                    ChangeTag::Delete => ("-", "31"),
                    ChangeTag::Insert => ("+", "32"),
                    ChangeTag::Equal => (" ", "0"),
                };
                let text = format!("{sign} {}", line.value().trim_end_matches('\n'));
                let _ = writeln!(out, "        {}", painter.paint(code, &text));
            }
        } else {
            let _ = writeln!(
                out,
                "      {}: {} → {}",
                change.path,
                painter.paint("31", &old),
                painter.paint("32", &new)
            );
        }
    }
}

/// One line per change, sensitive values masked, long values cut: the drift report and the
/// history's diff summary (`app_web: deploy.replicas: 3 → 1`).
#[must_use]
pub fn change_lines(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    let objects = plan
        .networks
        .iter()
        .chain(&plan.configs)
        .chain(&plan.secrets);
    for object in objects.filter(|o| o.action != Action::Unchanged) {
        lines.push(format!(
            "{} {} {}",
            verb(object.action),
            object.kind.word(),
            object.name
        ));
    }
    for service in plan
        .services
        .iter()
        .filter(|s| s.action != Action::Unchanged)
    {
        if service.action != Action::Update {
            lines.push(format!("{} service {}", verb(service.action), service.name));
            continue;
        }
        for change in &service.changes {
            let show = |v: &Option<Value>| match v {
                None => "(none)".to_owned(),
                Some(v) => shorten(&shown(&change.path, v).replace('\n', " ")),
            };
            let (old, new) = (show(&change.old), show(&change.new));
            lines.push(format!("{}: {}: {old} → {new}", service.name, change.path));
        }
    }
    lines
}

/// A changed value as text, with what the sensitive rule hides masked.
pub(super) fn shown(path: &str, value: &Value) -> String {
    if is_sensitive_path(path) {
        MASK.to_owned()
    } else {
        format_value(path, &mask_change(path, value))
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.trim_end().to_owned(),
    }
}

/// Durations, sizes and CPU counts as a stack file writes them; long lists one per line.
fn format_value(path: &str, value: &Value) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let is_duration = matches!(
        last,
        "delay"
            | "monitor"
            | "interval"
            | "timeout"
            | "start_period"
            | "start_interval"
            | "window"
            | "stop_grace_period"
    );
    match value {
        Value::Number(n) if is_duration => Duration(n.as_i64().unwrap_or(0)).to_string(),
        Value::Number(n) if last == "memory" => bytes(n.as_i64().unwrap_or(0)),
        Value::Number(n) if last == "cpus" => format!("{}", n.as_f64().unwrap_or(0.0) / 1e9),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) if items.len() > 3 || value.to_string().len() > 60 => {
            items.iter().fold(String::new(), |mut text, item| {
                let _ = writeln!(text, "{item}");
                text
            })
        }
        other => other.to_string(),
    }
}

fn bytes(n: i64) -> String {
    const UNITS: &[(i64, &str)] = &[(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(size, _)| n >= *size && n % size == 0)
        .map_or_else(
            || format!("{n} B"),
            |(size, unit)| format!("{}{unit}", n / size),
        )
}

//! The plan as Markdown for a pull-request comment or a CI job summary: a summary line, a table
//! of changes, each object's field diffs in a collapsible block, and the rollout waves as a
//! Mermaid diagram (GitHub and GitLab draw it). Sensitive values are always masked: these
//! outputs are read by everyone who can read the pull request.

use std::fmt::Write;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::render::{describe_new_service, describe_rollout, shown, verb};
use super::waves::waves;
use super::{Action, ObjectPlan, Plan, ServicePlan};
use crate::diff::FieldChange;

/// The whole plan as Markdown.
#[must_use]
pub fn render_markdown(plan: &Plan) -> String {
    let mut out = format!("### stackctl plan: stack `{}`\n\n", code_text(&plan.stack));
    let s = plan.summary;
    if plan.has_changes() {
        let _ = writeln!(
            out,
            "**Plan:** {} to create, {} to update, {} to remove, {} unchanged.\n",
            s.create, s.update, s.remove, s.unchanged
        );
        table(&mut out, plan);
        field_diffs(&mut out, plan);
        diagram(&mut out, plan);
    } else {
        let _ = writeln!(
            out,
            "**No changes.** The stack matches the files ({} objects).\n",
            s.unchanged
        );
    }
    notes(&mut out, plan);
    out
}

/// One row per object that changes.
fn table(out: &mut String, plan: &Plan) {
    out.push_str("| | Kind | Name | Action | Details |\n|---|---|---|---|---|\n");
    for service in changed_services(plan) {
        let details = service_details(service);
        row(out, service.action, "service", &service.name, &details);
    }
    for object in changed_objects(plan) {
        let mut details = fields_summary(&object.changes);
        if let Some(note) = &object.note {
            details = join_nonempty(&details, note);
        }
        row(
            out,
            object.action,
            object.kind.word(),
            &object.name,
            &details,
        );
    }
    out.push('\n');
}

fn row(out: &mut String, action: Action, kind: &str, name: &str, details: &str) {
    let marker = match action {
        Action::Create => "`+`",
        Action::Update => "`~`",
        Action::Remove => "`-`",
        Action::Unchanged => "",
    };
    let _ = writeln!(
        out,
        "| {marker} | {kind} | `{}` | {} | {} |",
        cell(&code_text(name)),
        verb(action),
        cell(details)
    );
}

fn service_details(service: &ServicePlan) -> String {
    match service.action {
        Action::Create => service
            .spec
            .as_ref()
            .map(describe_new_service)
            .unwrap_or_default(),
        Action::Update => {
            let mut details = fields_summary(&service.changes);
            if service.requires_recreate {
                details = join_nonempty(&details, "removed and created again (mode change)");
            }
            let rollout = service.rollout.as_ref().map_or_else(
                || "no restart (running tasks are kept)".to_owned(),
                |r| format!("rollout: {}", describe_rollout(r)),
            );
            join_nonempty(&details, &rollout)
        }
        Action::Remove | Action::Unchanged => String::new(),
    }
}

/// `3 fields: deploy.replicas, image, environment.LOG_LEVEL` (paths never hold values).
fn fields_summary(changes: &[FieldChange]) -> String {
    const SHOWN: usize = 4;
    if changes.is_empty() {
        return String::new();
    }
    let mut paths: Vec<String> = changes
        .iter()
        .take(SHOWN)
        .map(|c| format!("`{}`", code_text(&c.path)))
        .collect();
    if changes.len() > SHOWN {
        paths.push(format!("{} more", changes.len() - SHOWN));
    }
    format!("{} field(s): {}", changes.len(), paths.join(", "))
}

fn join_nonempty(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_owned(),
        (_, true) => first.to_owned(),
        _ => format!("{first}; {second}"),
    }
}

/// A collapsible block per changed object that has field changes, each a `diff` code block.
fn field_diffs(out: &mut String, plan: &Plan) {
    let services = changed_services(plan).map(|s| (s.name.as_str(), "service", &s.changes));
    let objects = changed_objects(plan).map(|o| (o.name.as_str(), o.kind.word(), &o.changes));
    let unchanged_notes = plan
        .noted_networks()
        .map(|n| (n.name.as_str(), "network (not changed)", &n.changes));
    for (name, kind, changes) in services.chain(objects).chain(unchanged_notes) {
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<details><summary>{kind} <code>{}</code>: {} field change(s)</summary>\n",
            html(name),
            changes.len()
        );
        let body = diff_body(changes);
        let fence = fence_for(&body);
        let _ = writeln!(out, "{fence}diff\n{body}{fence}\n\n</details>\n");
    }
}

/// `@@ path @@` then the old lines (`-`) and the new ones (`+`), masked.
fn diff_body(changes: &[FieldChange]) -> String {
    let mut body = String::new();
    for change in changes {
        let show = |v: &Option<Value>| match v {
            None => "(none)".to_owned(),
            Some(v) => shown(&change.path, v),
        };
        let (old, new) = (show(&change.old), show(&change.new));
        let _ = writeln!(body, "@@ {} @@", change.path);
        if old.contains('\n') || new.contains('\n') {
            for line in TextDiff::from_lines(&old, &new).iter_all_changes() {
                let sign = match line.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                let _ = writeln!(body, "{sign} {}", line.value().trim_end_matches('\n'));
            }
        } else {
            let _ = writeln!(body, "- {old}\n+ {new}");
        }
    }
    body
}

/// A code fence longer than any run of backticks in `body`, so no value can close it.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// The rollout waves: a box per wave (in order), a node per service created or updated, an
/// arrow per `depends_on` between them.
fn diagram(out: &mut String, plan: &Plan) {
    let waves = waves(plan);
    if waves.is_empty() {
        return;
    }
    out.push_str("**Rollout waves** (a wave starts when the one before has converged):\n\n");
    out.push_str("```mermaid\nflowchart LR\n");
    let id_of = |name: &str| {
        waves
            .iter()
            .flatten()
            .position(|s| s.name == name)
            .map(|i| format!("s{i}"))
    };
    for (number, wave) in waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph wave{}[\"wave {}\"]",
            number + 1,
            number + 1
        );
        for service in wave {
            let id = id_of(&service.name).unwrap_or_default();
            let label = format!("{} ({})", service.name, verb(service.action));
            let _ = writeln!(out, "    {id}[\"{}\"]", mermaid_label(&label));
        }
        out.push_str("  end\n");
    }
    for service in waves.iter().flatten() {
        for dependency in &service.depends_on {
            if let (Some(from), Some(to)) = (id_of(dependency), id_of(&service.name)) {
                let _ = writeln!(out, "  {from} --> {to}");
            }
        }
    }
    out.push_str("```\n\n");
}

/// Objects stackctl leaves alone, said after the rest.
fn notes(out: &mut String, plan: &Plan) {
    for network in plan.noted_networks() {
        let _ = writeln!(
            out,
            "- network `{}` {}\n",
            code_text(&network.name),
            network.note.as_deref().unwrap_or_default()
        );
    }
    if !plan.kept.is_empty() {
        let items: Vec<String> = plan
            .kept
            .iter()
            .map(|k| format!("{} `{}`", k.kind, code_text(&k.name)))
            .collect();
        let _ = writeln!(
            out,
            "Not in the files, kept (use `--prune` to remove): {}\n",
            items.join(", ")
        );
    }
}

fn changed_services(plan: &Plan) -> impl Iterator<Item = &ServicePlan> {
    plan.services
        .iter()
        .filter(|s| s.action != Action::Unchanged)
}

fn changed_objects(plan: &Plan) -> impl Iterator<Item = &ObjectPlan> {
    plan.networks
        .iter()
        .chain(&plan.configs)
        .chain(&plan.secrets)
        .filter(|o| o.action != Action::Unchanged)
}

/// Text for a table cell: one line, and `|` must not end the cell.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// Text inside a one-backtick code span (names never hold backticks; one would end the span).
fn code_text(text: &str) -> String {
    text.replace('`', "'")
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A quoted Mermaid label: a `"` would end it, so it is written as Mermaid's entity.
fn mermaid_label(text: &str) -> String {
    text.replace('"', "#quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("`````"), "``````");
    }

    #[test]
    fn cells_stay_one_line_and_one_cell() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}

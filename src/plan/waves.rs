//! Rollout waves: the order in which `apply` writes services, so a service starts rolling out
//! only after the services it `depends_on` have converged. `plan` shows the same waves.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Plan, ServicePlan};

/// Group the services to create or update into waves: each wave only depends on earlier ones.
/// Dependencies on services that do not change are already met. Within a wave, services are
/// in name order.
#[must_use]
pub fn waves(plan: &Plan) -> Vec<Vec<&ServicePlan>> {
    let changing: BTreeMap<&str, &ServicePlan> = plan
        .services
        .iter()
        .filter(|s| matches!(s.action, Action::Create | Action::Update))
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut waves = Vec::new();
    while placed.len() < changing.len() {
        let ready: Vec<&ServicePlan> = changing
            .values()
            .filter(|s| !placed.contains(s.name.as_str()))
            .filter(|s| {
                s.depends_on
                    .iter()
                    .all(|d| !changing.contains_key(d.as_str()) || placed.contains(d.as_str()))
            })
            .copied()
            .collect();
        // A dependency cycle: roll the rest out together rather than never.
        let wave = if ready.is_empty() {
            changing
                .values()
                .filter(|s| !placed.contains(s.name.as_str()))
                .copied()
                .collect()
        } else {
            ready
        };
        placed.extend(wave.iter().map(|s| s.name.as_str()));
        waves.push(wave);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Summary;

    fn service(name: &str, action: Action, depends_on: &[&str]) -> ServicePlan {
        ServicePlan {
            name: name.to_owned(),
            key: None,
            action,
            changes: Vec::new(),
            restarts_tasks: true,
            rollout: None,
            requires_recreate: false,
            live_id: None,
            live_version: None,
            spec: None,
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn names(plan: &Plan) -> Vec<Vec<&str>> {
        waves(plan)
            .iter()
            .map(|w| w.iter().map(|s| s.name.as_str()).collect())
            .collect()
    }

    fn plan(services: Vec<ServicePlan>) -> Plan {
        Plan {
            stack: "s".to_owned(),
            services,
            networks: Vec::new(),
            configs: Vec::new(),
            secrets: Vec::new(),
            kept: Vec::new(),
            summary: Summary::default(),
            existing_ids: crate::plan::ObjectIds::default(),
            observed: std::collections::BTreeMap::new(),
            placement: crate::placement::Placement::default(),
        }
    }

    #[test]
    fn a_service_waits_for_the_changing_services_it_depends_on() {
        let plan = plan(vec![
            service("web", Action::Update, &["api"]),
            service("api", Action::Create, &["db", "cache"]),
            service("db", Action::Create, &[]),
            service("cache", Action::Unchanged, &[]),
            service("worker", Action::Update, &[]),
            service("old", Action::Remove, &[]),
        ]);
        assert_eq!(
            names(&plan),
            [vec!["db", "worker"], vec!["api"], vec!["web"]]
        );
    }

    #[test]
    fn a_dependency_cycle_rolls_out_together_rather_than_never() {
        let plan = plan(vec![
            service("a", Action::Update, &["b"]),
            service("b", Action::Update, &["a"]),
            service("c", Action::Update, &[]),
        ]);
        assert_eq!(names(&plan), [vec!["c"], vec!["a", "b"]]);
    }
}

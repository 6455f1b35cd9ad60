//! A stack only ever touches its own objects: a name another stack's object holds, or one an
//! unlabelled object holds, is refused before anything is written (docker would adopt the
//! configs and secrets, relabelling them, and fail on the services half-way through).
//!
//! Stack names may contain `_`, so `<stack>_<key>` is ambiguous: stack `a` key `b_c` and stack
//! `a_b` key `c` are both `a_b_c`. The namespace label says whose an object is.

use super::PlanError;
use crate::convert::Desired;
use crate::model::StackName;
use crate::observe::{Holder, LiveState};

/// Every name `desired` would create, update or use as this stack's, checked against the
/// objects that hold it in the cluster.
pub(super) fn check(
    stack: &StackName,
    desired: &Desired,
    live: &LiveState,
) -> Result<(), PlanError> {
    let names = desired
        .services
        .keys()
        .map(|n| ("service", n))
        .chain(desired.networks.keys().map(|n| ("network", n)))
        .chain(desired.configs.keys().map(|n| ("config", n)))
        .chain(desired.secrets.keys().map(|n| ("secret", n)));
    for (kind, name) in names {
        let holders = live
            .holders
            .iter()
            .filter(|h| h.kind == kind && h.name == *name);
        if let Some(holder) = holders.into_iter().find(|h| !is_ours(h, stack)) {
            return Err(refusal(stack, holder));
        }
    }
    Ok(())
}

fn is_ours(holder: &Holder, stack: &StackName) -> bool {
    holder.stack.as_deref() == Some(stack.as_str())
}

fn refusal(stack: &StackName, holder: &Holder) -> PlanError {
    let (kind, name) = (holder.kind, holder.name.clone());
    let Some(owner) = &holder.stack else {
        let adopt = if kind == "service" {
            format!(
                "to make it this stack's, label it: `docker service update --label-add com.docker.stack.namespace={stack} {name}`"
            )
        } else {
            format!("to use it as it is, declare it `external: true` with `name: {name}`")
        };
        return PlanError::UnlabelledObject {
            kind,
            name,
            stack: stack.to_string(),
            adopt,
        };
    };
    PlanError::OtherStacksObject {
        kind,
        name,
        owner: owner.clone(),
        stack: stack.to_string(),
    }
}

#[cfg(test)]
mod tests {

    use super::check;
    use crate::convert::{Desired, DesiredObject};
    use crate::diff::DaemonApi;
    use crate::model::StackName;
    use crate::observe::{Holder, LiveState};
    use crate::plan::PlanError;

    fn live(holders: Vec<Holder>) -> LiveState {
        LiveState {
            holders,
            ..LiveState::empty(DaemonApi::parse("1.41"))
        }
    }

    fn holder(kind: &'static str, name: &str, stack: Option<&str>) -> Holder {
        Holder {
            kind,
            name: name.to_owned(),
            stack: stack.map(str::to_owned),
        }
    }

    fn desired_config(name: &str) -> Desired {
        let mut desired = Desired::default();
        let object = DesiredObject {
            key: "c".into(),
            name: name.into(),
            spec: serde_json::json!({}),
            data: b"x".to_vec(),
        };
        desired.configs.insert(name.into(), object);
        desired
    }

    #[test]
    fn a_name_is_taken_only_from_this_stack() {
        let stack = StackName::new("a").unwrap();
        let desired = desired_config("a_b_c");
        let ours = live(vec![holder("config", "a_b_c", Some("a"))]);
        assert!(check(&stack, &desired, &ours).is_ok());
        // Another kind with the same name is no conflict.
        let other_kind = live(vec![holder("secret", "a_b_c", None)]);
        assert!(check(&stack, &desired, &other_kind).is_ok());
        let theirs = live(vec![holder("config", "a_b_c", Some("a_b"))]);
        let err = check(&stack, &desired, &theirs).unwrap_err();
        assert!(matches!(&err, PlanError::OtherStacksObject { owner, .. } if owner == "a_b"));
        let nobody = live(vec![holder("config", "a_b_c", None)]);
        let err = check(&stack, &desired, &nobody).unwrap_err();
        assert!(matches!(err, PlanError::UnlabelledObject { .. }));
    }
}

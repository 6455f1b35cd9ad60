//! [`Probe`]: what one `GET /info` tells about the daemon and its place in the swarm.

use bollard::models::{LocalNodeState, SystemInfo};

use super::EngineError;

/// The daemon's versions and swarm role, from one `GET /info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The daemon's version, e.g. `20.10.24+dfsg1`.
    pub server_version: String,
    /// The Engine API version requests use, e.g. `1.41`: negotiated at connect time (the lower
    /// of the daemon's and bollard's), or `DOCKER_API_VERSION` when set.
    pub api_version: String,
    /// This node's swarm ID; empty when it is not in a swarm.
    pub node_id: String,
    pub local_node_state: LocalNodeState,
    /// Whether this node is a manager that can read and change cluster state.
    pub control_available: bool,
    /// The swarm's own error text, when `local_node_state` is `error`.
    pub swarm_error: String,
}

impl Probe {
    pub(crate) fn from_info(info: SystemInfo, api_version: String) -> Self {
        let swarm = info.swarm.unwrap_or_default();
        Self {
            server_version: info.server_version.unwrap_or_default(),
            api_version,
            node_id: swarm.node_id.unwrap_or_default(),
            local_node_state: swarm.local_node_state.unwrap_or_default(),
            control_available: swarm.control_available.unwrap_or(false),
            swarm_error: swarm.error.unwrap_or_default(),
        }
    }

    /// Whether stack commands can run here: an active swarm member with control available.
    #[must_use]
    pub fn is_manager(&self) -> bool {
        self.local_node_state == LocalNodeState::ACTIVE && self.control_available
    }

    /// `Ok` on a manager; otherwise [`EngineError::NotManager`] with docker's advice, so callers
    /// fail before listing anything (the list calls would fail with a vaguer 503).
    pub fn require_manager(&self) -> Result<(), EngineError> {
        if self.is_manager() {
            return Ok(());
        }
        let (message, advice) = match self.local_node_state {
            LocalNodeState::ACTIVE => (
                "this node is not a swarm manager: worker nodes can't view or modify cluster state"
                    .to_owned(),
                "run stackctl against a manager node, or promote this node: `docker node promote <node>`",
            ),
            LocalNodeState::LOCKED => (
                "this swarm manager is locked".to_owned(),
                "unlock it with `docker swarm unlock`",
            ),
            LocalNodeState::PENDING => (
                "this node is still joining the swarm".to_owned(),
                "wait for the join to finish, then try again",
            ),
            LocalNodeState::ERROR => (
                format!("this node's swarm is in error: {}", self.swarm_error),
                "see `docker info`; the node may need to leave and rejoin the swarm",
            ),
            LocalNodeState::INACTIVE | LocalNodeState::EMPTY => (
                "this node is not a swarm manager (swarm mode is inactive)".to_owned(),
                "make this node a manager: `docker swarm init`, or `docker swarm join` an existing swarm",
            ),
        };
        Err(EngineError::NotManager {
            message,
            advice: advice.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{LocalNodeState, SwarmInfo, SystemInfo};

    use super::Probe;
    use crate::engine::EngineError;

    fn probe(state: LocalNodeState, control: bool) -> Probe {
        let info = SystemInfo {
            server_version: Some("20.10.24".into()),
            swarm: Some(SwarmInfo {
                node_id: Some("n1".into()),
                local_node_state: Some(state),
                control_available: Some(control),
                ..SwarmInfo::default()
            }),
            ..SystemInfo::default()
        };
        Probe::from_info(info, "1.41".into())
    }

    #[test]
    fn only_an_active_manager_passes() {
        assert!(
            probe(LocalNodeState::ACTIVE, true)
                .require_manager()
                .is_ok()
        );
        let cases = [
            (LocalNodeState::ACTIVE, false, "docker node promote"),
            (LocalNodeState::INACTIVE, false, "docker swarm init"),
            (LocalNodeState::EMPTY, false, "docker swarm join"),
            (LocalNodeState::LOCKED, true, "docker swarm unlock"),
            (LocalNodeState::PENDING, false, "wait"),
        ];
        for (state, control, expected) in cases {
            let err = probe(state, control).require_manager().unwrap_err();
            let EngineError::NotManager { advice, .. } = err else {
                panic!("{err:?}")
            };
            assert!(advice.contains(expected), "{state:?}: {advice}");
        }
    }

    #[test]
    fn an_info_without_swarm_section_is_not_a_manager() {
        let probe = Probe::from_info(SystemInfo::default(), "1.41".into());
        assert!(!probe.is_manager());
        assert_eq!(probe.node_id, "");
    }
}

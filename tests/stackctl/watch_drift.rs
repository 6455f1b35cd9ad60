//! Drift under `stackctl watch` on the real swarm: a service changed outside stackctl is
//! reported with the field diff within moments of the change and left alone (`self_heal` off),
//! healed back to its files (`self_heal` on, recorded in the history), and no longer healed once
//! it keeps coming back (`heal_limit`).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::apply::Stack;
use super::git_server::Repo;
use super::swarm::docker;
use super::watcher::{DEPLOYED, Watcher, deployed, history, short};

/// The replicas the service `app` of `stack` is set to.
pub(crate) fn replicas(stack: &Stack) -> u64 {
    stack.inspect("app")["Spec"]["Mode"]["Replicated"]["Replicas"]
        .as_u64()
        .unwrap_or_default()
}

/// The writes this watcher process made to the engine so far.
pub(crate) fn writes(watcher: &Watcher) -> u64 {
    let status = watcher.status().expect("the watcher answers /status");
    status["engine_calls"]["writes"]
        .as_u64()
        .expect("engine_calls.writes is a number")
}

/// [`deployed`], checking the one replica of app:1 is there.
fn deployed_one(stack: &Stack, stack_keys: &[&str], controller: &str) -> (Repo, Watcher, String) {
    let deployed = deployed(stack, stack_keys, controller);
    assert_eq!(replicas(stack), 1, "{}", deployed.1.log());
    deployed
}

/// `docker service scale --detach <stack>_app=N`: returns as soon as the spec is written.
fn scale(stack: &Stack, replicas: u32) {
    let target = format!("{}={replicas}", stack.service_name("app"));
    docker(&["service", "scale", "--detach", &target]);
}

/// The stack's drift in `/status`, when it lists `change`.
fn drift_with<'a>(status: &'a Value, stack: &Stack, change: &str) -> Option<&'a Value> {
    let drift = &status["stacks"][&stack.name]["drift"];
    let changes = drift["changes"].as_array()?;
    changes
        .iter()
        .any(|c| c.as_str().is_some_and(|c| c.contains(change)))
        .then_some(drift)
}

/// The change line a scale to 2 of a one-replica service shows (cluster → files).
fn scaled_to_two(stack: &Stack) -> String {
    format!("{}: deploy.replicas: 2 → 1", stack.service_name("app"))
}

/// How many times `needle` occurs in the watcher's log.
fn count(watcher: &Watcher, needle: &str) -> usize {
    watcher.log().matches(needle).count()
}

#[test]
fn a_manual_scale_is_reported_with_the_field_diff_and_left_alone() {
    let stack = Stack::new("wdrift-report");
    let (_repo, watcher, revision) = deployed_one(&stack, &[], "");
    let change = scaled_to_two(&stack);
    let (_, history_before) = history(&stack);
    let writes_before = writes(&watcher);
    scale(&stack, 2);
    let scaled = Instant::now();
    let status = watcher.wait_until("the drift is reported", Duration::from_secs(20), |s| {
        drift_with(s, &stack, &change).is_some()
    });
    let reaction = scaled.elapsed();
    assert!(
        reaction < Duration::from_millis(2500),
        "the drift was reported {reaction:?} after the scale\n{}",
        watcher.log()
    );
    let drift = drift_with(&status, &stack, &change).unwrap();
    assert_eq!(
        drift["action"],
        "reported (self_heal is off)",
        "{status:#}\n{}",
        watcher.log()
    );
    let message = format!(
        "drift: the cluster differs from revision {} (cluster → files), changed outside stackctl; reported (self_heal is off)\n    {change}",
        short(&revision)
    );
    assert!(watcher.log().contains(&message), "{}", watcher.log());
    // Only reported: nothing written, the service keeps its two replicas.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(replicas(&stack), 2, "{}", watcher.log());
    assert_eq!(writes(&watcher), writes_before, "{}", watcher.log());
    assert_eq!(history(&stack).1, history_before, "{}", watcher.log());
    assert!(
        !watcher.log().contains("healing revision"),
        "{}",
        watcher.log()
    );
    let status = watcher.status().unwrap();
    assert!(
        drift_with(&status, &stack, &change).is_some(),
        "the drift is still shown\n{status:#}\n{}",
        watcher.log()
    );
}

#[test]
fn a_manual_scale_is_healed_with_self_heal_and_recorded() {
    let stack = Stack::new("wdrift-heal");
    let (_repo, watcher, revision) = deployed_one(&stack, &["self_heal: true"], "");
    let change = scaled_to_two(&stack);
    let (_, history_before) = history(&stack);
    scale(&stack, 2);
    let scaled = Instant::now();
    let healing = format!(
        "drift: the cluster differs from revision {} (cluster → files), changed outside stackctl; healing\n    {change}",
        short(&revision)
    );
    watcher.wait_until("the drift is being healed", Duration::from_secs(20), |_| {
        watcher.log().contains(&healing)
    });
    let reaction = scaled.elapsed();
    assert!(
        reaction < Duration::from_millis(2500),
        "the heal started {reaction:?} after the scale\n{}",
        watcher.log()
    );
    let applied = format!("applied revision {}", short(&revision));
    let status = watcher.wait_until("the drift is healed", DEPLOYED, |s| {
        // The first deploy, then the heal.
        count(&watcher, &applied) == 2 && s["stacks"][&stack.name]["state"] == "idle"
    });
    assert_eq!(replicas(&stack), 1, "{}", watcher.log());
    let line = format!("healing revision {} (drift (service ", short(&revision));
    assert!(watcher.log().contains(&line), "{}", watcher.log());
    let stack_status = &status["stacks"][&stack.name];
    assert_eq!(stack_status["deployed_revision"], revision.as_str());
    // The board keeps the healed drift until the next one.
    assert_eq!(stack_status["drift"]["action"], "healed", "{status:#}");
    assert_eq!(
        stack_status["drift"]["changes"][0],
        change.as_str(),
        "{status:#}"
    );
    // The heal is in the history: one entry more, from the same revision, with the diff.
    let (_, after) = history(&stack);
    assert_eq!(
        after.len(),
        history_before.len() + 1,
        "{after:#?}\n{}",
        watcher.log()
    );
    let entry = after.last().unwrap();
    assert_eq!(entry["revision"], revision.as_str(), "{entry:#}");
    assert_eq!(entry["outcome"], "succeeded", "{entry:#}");
    assert!(entry["changes"].to_string().contains(&change), "{entry:#}");
    assert_eq!(entry["updated"][0], stack.service_name("app"), "{entry:#}");
}

#[test]
fn a_flapping_service_is_healed_up_to_the_limit_then_only_reported() {
    let stack = Stack::new("wdrift-flap");
    let (_repo, watcher, revision) = deployed_one(&stack, &["self_heal: true"], "heal_limit: 2");
    let change = scaled_to_two(&stack);
    let applied = format!("applied revision {}", short(&revision));
    for heal in 1..=2 {
        scale(&stack, 2);
        let status = watcher.wait_until(&format!("heal {heal} is done"), DEPLOYED, |s| {
            let s = &s["stacks"][&stack.name];
            // The first deploy and one apply per heal.
            count(&watcher, &applied) == 1 + heal && s["state"] == "idle"
        });
        assert_eq!(
            replicas(&stack),
            1,
            "heal {heal}\n{status:#}\n{}",
            watcher.log()
        );
    }
    let writes_before = writes(&watcher);
    scale(&stack, 2);
    let status = watcher.wait_until(
        "the third drift is reported, not healed",
        Duration::from_secs(20),
        |s| {
            drift_with(s, &stack, &change).is_some_and(|d| {
                d["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("healing stopped"))
            })
        },
    );
    let drift = drift_with(&status, &stack, &change).unwrap();
    assert_eq!(
        drift["action"],
        "healing stopped: 2 heals within 600s (another controller or person keeps changing it?)",
        "{status:#}\n{}",
        watcher.log()
    );
    assert_eq!(status["stacks"][&stack.name]["heals"], 2, "{status:#}");
    let stopped = format!(
        "warning: drift: the cluster differs from revision {} (cluster → files), changed outside stackctl; healing stopped: 2 heals within 600s",
        short(&revision)
    );
    assert!(watcher.log().contains(&stopped), "{}", watcher.log());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(replicas(&stack), 2, "{}", watcher.log());
    assert_eq!(writes(&watcher), writes_before, "{}", watcher.log());
    assert_eq!(count(&watcher, "healing revision"), 2, "{}", watcher.log());
}

/// `/status` documents `heals` as the self-heals in the current window: once a heal is done it
/// counts, not only when the next drift comes.
#[test]
fn status_counts_a_heal_once_it_is_done() {
    let stack = Stack::new("wdrift-count");
    let (_repo, watcher, revision) = deployed_one(&stack, &["self_heal: true"], "");
    scale(&stack, 2);
    let applied = format!("applied revision {}", short(&revision));
    let status = watcher.wait_until("the drift is healed", DEPLOYED, |s| {
        count(&watcher, &applied) == 2 && s["stacks"][&stack.name]["state"] == "idle"
    });
    assert_eq!(replicas(&stack), 1, "{}", watcher.log());
    assert_eq!(
        status["stacks"][&stack.name]["heals"],
        1,
        "one heal was made within the window, /status says otherwise\n{status:#}\n{}",
        watcher.log()
    );
}

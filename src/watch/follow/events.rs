//! Drift: the swarm's event stream, narrowed to the watched stacks' objects. The stream is
//! resumed from the last event seen after a disconnection, so nothing in between is missed.

use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use tokio::sync::mpsc::UnboundedSender;

use crate::apply::Stop;
use crate::engine::{Engine, EngineEvent};
use crate::watch::backoff::Backoff;
use crate::watch::log::Log;

/// A change to one of a stack's objects, as the daemon reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drifted {
    pub stack: String,
    /// `service web_app update`.
    pub what: String,
}

/// Follow the events until stopped.
pub async fn follow_events<E: Engine>(
    engine: &E,
    stacks: &[String],
    sink: UnboundedSender<Drifted>,
    log: Log,
    stop: Stop,
) {
    let mut since = Some(now_nanos());
    let mut backoff = Backoff::events();
    loop {
        let mut stream = std::pin::pin!(engine.events(since));
        loop {
            tokio::select! {
                next = stream.next() => match next {
                    Some(Ok(event)) => {
                        backoff.reset();
                        since = Some(event.time_nanos + 1);
                        for stack in stacks_of(&event, stacks) {
                            let what = format!("{} {} {}", event.kind, event.name, event.action);
                            let _ = sink.send(Drifted { stack, what });
                        }
                    }
                    Some(Err(err)) => {
                        log.warn("events", &format!("event stream interrupted: {err}"));
                        break;
                    }
                    None => break,
                },
                () = stop.wait() => return,
            }
        }
        let wait = backoff.next().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.wait() => return,
        }
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The watched stacks an event is about: objects are named `<stack>_<key>`. Stack names may
/// contain `_`, so an object may match two stacks; both are checked (a plan costs little).
/// stackctl's own lock and history configs are not stack objects.
fn stacks_of(event: &EngineEvent, stacks: &[String]) -> Vec<String> {
    if event.name.starts_with("stackctl-") {
        return Vec::new();
    }
    stacks
        .iter()
        .filter(|s| {
            event
                .name
                .strip_prefix(s.as_str())
                .is_some_and(|rest| rest.starts_with('_'))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_matched_to_stacks_by_name_prefix() {
        let stacks = ["web".to_owned(), "web_x".to_owned(), "db".to_owned()];
        let cases = [
            ("web_app", vec!["web"]),
            ("web_x_app", vec!["web", "web_x"]),
            ("webapp", vec![]),
            ("db_data", vec!["db"]),
            ("stackctl-lock_web", vec![]),
            ("other_app", vec![]),
        ];
        for (name, expected) in cases {
            let event = EngineEvent {
                name: name.into(),
                ..EngineEvent::default()
            };
            assert_eq!(stacks_of(&event, &stacks), expected, "{name}");
        }
    }
}

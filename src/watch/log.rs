//! The watcher's log: one line per decision (why a reconcile ran, what changed, the outcome),
//! for people (`human`) or log collectors (`json`, one object per line).

use serde::Serialize;
use serde_json::{Map, Value};

use super::clock;
pub use super::config::LogFormat;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Log {
    pub format: LogFormat,
}

impl Log {
    /// One line: what happened to `subject` (a stack or source), with details for machines.
    pub fn line(&self, level: Level, subject: &str, message: &str, fields: &[(&str, Value)]) {
        eprintln!("{}", self.format_line(level, subject, message, fields));
    }

    #[must_use]
    pub fn format_line(
        &self,
        level: Level,
        subject: &str,
        message: &str,
        fields: &[(&str, Value)],
    ) -> String {
        let time = clock::now();
        match self.format {
            LogFormat::Human => {
                let mark = match level {
                    Level::Info => "",
                    Level::Warn => "warning: ",
                    Level::Error => "error: ",
                };
                let mut line = format!("{time} {subject}: {mark}{message}");
                // Lists (changes, diagnostics) go one per line under the decision.
                for (_, value) in fields {
                    if let Value::Array(items) = value {
                        for item in items {
                            let text = item
                                .as_str()
                                .map_or_else(|| item.to_string(), str::to_owned);
                            line.push_str("\n    ");
                            line.push_str(&text);
                        }
                    }
                }
                line
            }
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("time".into(), time.into());
                object.insert(
                    "level".into(),
                    serde_json::to_value(level).unwrap_or_default(),
                );
                object.insert("subject".into(), subject.into());
                object.insert("message".into(), message.into());
                for (key, value) in fields {
                    object.insert((*key).to_owned(), value.clone());
                }
                Value::Object(object).to_string()
            }
        }
    }

    /// A decision with a list under it (changes, diagnostics): one line each for people, one
    /// array field for machines.
    pub fn list(&self, level: Level, subject: &str, message: &str, key: &str, items: &[String]) {
        let items = items.iter().map(|i| Value::String(i.clone())).collect();
        self.line(level, subject, message, &[(key, Value::Array(items))]);
    }

    pub fn info(&self, subject: &str, message: &str) {
        self.line(Level::Info, subject, message, &[]);
    }

    pub fn warn(&self, subject: &str, message: &str) {
        self.line(Level::Warn, subject, message, &[]);
    }

    pub fn error(&self, subject: &str, message: &str) {
        self.line(Level::Error, subject, message, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_lines_list_changes_under_the_decision() {
        let log = Log::default();
        let line = log.format_line(
            Level::Warn,
            "web",
            "drift",
            &[("changes", json!(["web_app: deploy.replicas: 3 → 1"]))],
        );
        let (first, rest) = line.split_once('\n').unwrap();
        assert!(first.ends_with(" web: warning: drift"), "{first}");
        assert_eq!(rest, "    web_app: deploy.replicas: 3 → 1");
    }

    #[test]
    fn json_lines_are_one_object_each() {
        let log = Log {
            format: LogFormat::Json,
        };
        let line = log.format_line(Level::Info, "web", "applied", &[("revision", json!("abc"))]);
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["revision"], "abc");
        assert_eq!(value["level"], "info");
        assert_eq!(value["subject"], "web");
    }
}

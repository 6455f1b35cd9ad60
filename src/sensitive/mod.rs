//! Which values stackctl never prints: one rule on names, applied to every output.
//!
//! # The rule
//!
//! A name (an environment variable, a label, a logging option, a `--flag=` of a command) is
//! *sensitive* when one of its words is a secret word. Words are split at every character that
//! is not a letter or digit and where a lower-case letter meets an upper-case one (`dbPassword`
//! is `db` `Password`); case does not matter and trailing digits are ignored (`PASSWORD1`).
//!
//! * `PASSWORD`, `PASSWD`, `PASSPHRASE`, `SECRET`, `TOKEN`, `CREDENTIAL`, `PRIVATE` are secret
//!   anywhere in a word: `DBPASSWORD`, `CLIENTSECRETS`, `X_AUTHTOKEN`.
//! * `PASS`, `PWD`, `KEY`, `AUTH`, `CREDS`, `CERT`, `DSN`, `SALT`, `AUTHORIZATION` are secret as
//!   a whole word or at a word's end, plural or not: `SMTP_PASS`, `PGPASS`, `DB_PWD`, `API_KEY`,
//!   `APIKEYS`, `OAUTH`.
//!
//! The rule errs on the side of hiding (`MONKEY` and `BYPASS` are hidden too); values are never
//! inspected, so a secret under an innocent name (`DATABASE_URL=postgres://u:pw@db`) is shown:
//! keep such values in Docker secrets, or give them a name the rule catches.

pub mod excerpt;

use serde_json::Value;

/// What a hidden value is shown as.
pub const MASK: &str = "(sensitive)";

/// Secret wherever they appear inside a word.
const ANYWHERE: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "CREDENTIAL",
    "PRIVATE",
];

/// Secret as a whole word or at the end of one (`PGPASS`, `APIKEY`), singular or plural.
const AT_END: &[&str] = &[
    "PASS",
    "PWD",
    "KEY",
    "AUTH",
    "CREDS",
    "CERT",
    "DSN",
    "SALT",
    "AUTHORIZATION",
];

/// Whether values under `name` must not be shown (see the module documentation).
#[must_use]
pub fn is_sensitive_name(name: &str) -> bool {
    words(name).iter().any(|word| is_secret_word(word))
}

fn is_secret_word(word: &str) -> bool {
    let word = word.trim_end_matches(|c: char| c.is_ascii_digit());
    let singular = word.strip_suffix('S').unwrap_or(word);
    ANYWHERE.iter().any(|w| word.contains(w))
        || AT_END
            .iter()
            .any(|w| word.ends_with(w) || singular.ends_with(w))
}

/// The upper-cased words of a name: split at non-alphanumerics and at `aB` case changes.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        let boundary = !c.is_alphanumeric() || (previous_lower && c.is_uppercase());
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_uppercase());
        }
        previous_lower = c.is_lowercase();
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Plan paths whose last part is a name the user chose (`environment.DB_PASSWORD`,
/// `labels.com.example.token`), and so subject to the rule.
const NAMED: &[&str] = &[
    "environment.",
    "labels.",
    "deploy.labels.",
    "logging.options.",
];

/// Whether a plan change path names a sensitive value (`environment.DB_PASSWORD`).
#[must_use]
pub fn is_sensitive_path(path: &str) -> bool {
    NAMED
        .iter()
        .filter_map(|prefix| path.strip_prefix(prefix))
        .any(is_sensitive_name)
}

/// A changed value as it may be shown: [`MASK`] for a sensitive path, and otherwise the value
/// with sensitive entries inside it masked (a network's whole `labels` map, a `command` list).
#[must_use]
pub fn mask_change(path: &str, value: &Value) -> Value {
    if is_sensitive_path(path) {
        return Value::String(MASK.to_owned());
    }
    let mut value = value.clone();
    match path {
        "labels" | "deploy.labels" | "logging.options" => mask_map(&mut value),
        "environment" | "command" | "entrypoint" => mask_assignments(&mut value),
        _ => mask_spec(&mut value),
    }
    value
}

/// Mask, in place, every sensitive value of an Engine API object (a service, network, config
/// or secret spec, or any part of one): entries of `Labels`, `Options` and `DriverOpts` maps and
/// `NAME=value` items of `Env`, `Args` and `Command` lists whose names are sensitive.
pub fn mask_spec(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match key.as_str() {
                    "Labels" | "Options" | "DriverOpts" => mask_map(item),
                    "Env" | "Args" | "Command" => mask_assignments(item),
                    _ => mask_spec(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_spec),
        _ => {}
    }
}

fn mask_map(value: &mut Value) {
    if let Value::Object(map) = value {
        for (key, item) in map.iter_mut() {
            if is_sensitive_name(key) && !item.is_null() {
                *item = Value::String(MASK.to_owned());
            }
        }
    }
}

fn mask_assignments(value: &mut Value) {
    if let Value::Array(items) = value {
        for item in items {
            if let Some(masked) = item.as_str().and_then(mask_assignment) {
                *item = Value::String(masked);
            }
        }
    }
}

/// `NAME=value` with the value masked when the name is sensitive (`--db-password=x` too);
/// `None` when there is nothing to hide.
#[must_use]
pub fn mask_assignment(text: &str) -> Option<String> {
    let (name, _) = text.split_once('=')?;
    is_sensitive_name(name).then(|| format!("{name}={MASK}"))
}

/// Free text (a daemon's error, a task's status) with the value of every `NAME=value` whose
/// name is sensitive masked: messages that echo part of a spec must not echo a secret with it.
#[must_use]
pub fn mask_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    for range in sensitive_assignments(text) {
        out.push_str(&text[kept..range.start]);
        out.push_str(MASK);
        kept = range.end;
    }
    out.push_str(&text[kept..]);
    out
}

/// Byte ranges of the values of the `NAME=value` pairs in `text` whose names are sensitive; a
/// value ends at whitespace, a quote or `,;)]`.
#[must_use]
pub fn sensitive_assignments(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find('=') {
        let equals = from + found;
        let before = &text[from..equals];
        let name_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let value = &text[equals + 1..];
        let value_len = value
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ')' | ']'))
            .unwrap_or(value.len());
        from = equals + 1;
        if value_len > 0 && is_sensitive_name(&before[name_start..]) {
            ranges.push(from..from + value_len);
            from += value_len;
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The documented rule, name by name.
    #[test]
    fn names() {
        let cases: &[(&str, bool)] = &[
            // Secret words anywhere in a word.
            ("PASSWORD", true),
            ("DB_PASSWORD", true),
            ("PASSWORD1", true),
            ("MYSQL_ROOT_PASSWORD_FILE", true),
            ("DBPASSWORD", true),
            ("PASSWD", true),
            ("PASSPHRASE", true),
            ("SSH_PASSPHRASE", true),
            ("SECRET", true),
            ("SECRETS", true),
            ("CLIENT_SECRET", true),
            ("aws_secret_access_key", true),
            ("TOKEN", true),
            ("API_TOKEN", true),
            ("CREDENTIALS", true),
            ("GOOGLE_APPLICATION_CREDENTIALS", true),
            ("PRIVATE_KEY", true),
            // Secret words at the end of a word or alone, plural or not.
            ("SMTP_PASS", true),
            ("PGPASS", true),
            ("DB_PWD", true),
            ("PWD2", true),
            ("API_KEY", true),
            ("ACCESS_KEY", true),
            ("APIKEY", true),
            ("SSH_KEYS", true),
            ("KEY_2", true),
            ("AUTH", true),
            ("BASIC_AUTH", true),
            ("OAUTH", true),
            ("HTTP_AUTHORIZATION", true),
            ("DB_CREDS", true),
            ("TLS_CERT", true),
            ("SENTRY_DSN", true),
            ("PASSWORD_SALT", true),
            // Labels, options and flags: any separator, and camelCase.
            ("com.example.api-key", true),
            ("com.example.token", true),
            ("splunk-token", true),
            ("--db-password", true),
            ("dbPassword", true),
            ("apiKey", true),
            ("authMode", true),
            // The rule errs on the side of hiding.
            ("MONKEY_MODE", true),
            ("BYPASS_CACHE", true),
            // Not secret.
            ("LOG_LEVEL", false),
            ("KEYCLOAK_URL", false),
            ("PASSENGER_COUNT", false),
            ("AUTHOR", false),
            ("com.docker.stack.namespace", false),
            ("DATABASE_URL", false),
            ("PATH", false),
            ("", false),
        ];
        for &(name, want) in cases {
            assert_eq!(is_sensitive_name(name), want, "{name}");
        }
    }

    #[test]
    fn paths() {
        let cases: &[(&str, bool)] = &[
            ("environment.DB_PASSWORD", true),
            ("labels.com.example.token", true),
            ("deploy.labels.api_key", true),
            ("logging.options.splunk-token", true),
            ("environment.LOG_LEVEL", false),
            // Names of secrets and their settings are not secret.
            ("secrets.db_password:db_password", false),
            ("secrets", false),
            ("image", false),
        ];
        for &(path, want) in cases {
            assert_eq!(is_sensitive_path(path), want, "{path}");
        }
    }

    #[test]
    fn changes_mask_what_is_inside() {
        let labels = json!({"api_key": "k", "team": "a"});
        assert_eq!(
            mask_change("labels", &labels),
            json!({"api_key": MASK, "team": "a"})
        );
        let command = json!(["serve", "--db-password=x", "--port=80"]);
        assert_eq!(
            mask_change("command", &command),
            json!(["serve", format!("--db-password={MASK}"), "--port=80"])
        );
        assert_eq!(mask_change("environment.TOKEN", &json!("t")), json!(MASK));
        let secret_ref = json!({"SecretName": "db_password", "File": {"Name": "db_password"}});
        assert_eq!(
            mask_change("secrets.db_password:db_password", &secret_ref),
            secret_ref
        );
    }

    #[test]
    fn free_text() {
        let cases: &[(&str, &str)] = &[
            (
                "invalid env \"DB_PASSWORD=hunter2\" in spec",
                "invalid env \"DB_PASSWORD=(sensitive)\" in spec",
            ),
            (
                "exec: serve --api-key=k1 --port=80",
                "exec: serve --api-key=(sensitive) --port=80",
            ),
            ("a=b, TOKEN=t;x=1", "a=b, TOKEN=(sensitive);x=1"),
            ("TOKEN= empty", "TOKEN= empty"),
            ("no assignments", "no assignments"),
            ("é=TOKEN=x", "é=TOKEN=(sensitive)"),
        ];
        for &(text, want) in cases {
            assert_eq!(mask_text(text), want, "{text}");
        }
    }

    #[test]
    fn specs_mask_env_labels_and_options() {
        let mut spec = json!({
            "Labels": {"com.example.token": "t", "tier": "web"},
            "TaskTemplate": {
                "ContainerSpec": {
                    "Env": ["DB_PASSWORD=p", "MODE=x", "BARE_TOKEN"],
                    "Args": ["--api-key=k"],
                    "Secrets": [{"SecretName": "db_password"}],
                },
                "LogDriver": {"Options": {"splunk-token": "s"}},
            },
        });
        mask_spec(&mut spec);
        assert_eq!(
            spec,
            json!({
                "Labels": {"com.example.token": MASK, "tier": "web"},
                "TaskTemplate": {
                    "ContainerSpec": {
                        "Env": [format!("DB_PASSWORD={MASK}"), "MODE=x", "BARE_TOKEN"],
                        "Args": [format!("--api-key={MASK}")],
                        "Secrets": [{"SecretName": "db_password"}],
                    },
                    "LogDriver": {"Options": {"splunk-token": MASK}},
                },
            })
        );
    }
}

//! Names of things in the cluster: the stack, and the `<stack>_<key>` names derived from it.

use std::fmt;

/// The label every stack-created object carries, valued with the stack name.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// The service label holding the image exactly as the stack file wrote it.
pub const IMAGE_LABEL: &str = "com.docker.stack.image";

/// A validated stack name: the names derived from it must be valid service and network names
/// (`[a-zA-Z0-9][a-zA-Z0-9_-]*`, at most 63 characters with the longest key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackName(String);

impl StackName {
    pub fn new(name: &str) -> Result<Self, String> {
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if name.is_empty() || !valid_chars || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(format!(
                "invalid stack name {name:?}: use letters, digits, `-` and `_`, starting with a letter or digit"
            ));
        }
        if name.len() > 50 {
            return Err(format!(
                "stack name {name:?} is too long: at most 50 characters"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<stack>_<key>`: the cluster name of a stack object without a `name:` override.
    #[must_use]
    pub fn scope(&self, key: &str) -> String {
        format!("{}_{key}", self.0)
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::StackName;

    #[test]
    fn stack_names() {
        assert_eq!(
            StackName::new("web-prod_1").unwrap().scope("db"),
            "web-prod_1_db"
        );
        for bad in ["", "-x", "a.b", "a b", "ä"] {
            assert!(StackName::new(bad).is_err(), "{bad}");
        }
    }
}

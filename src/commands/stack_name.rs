//! The stack name a command acts on: `--stack`, else the files' `name:`, else the first file's
//! name without its extension.

use std::path::Path;

use crate::model::{Stack, StackName};

/// Where the stack name came from, to tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    Flag,
    TopLevelName,
    FileName,
}

impl NameSource {
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Flag => "from --stack",
            Self::TopLevelName => "from the files' `name:`",
            Self::FileName => "from the first file's name; set it with --stack",
        }
    }
}

pub fn resolve(
    flag: Option<&str>,
    stack: &Stack,
    first_file: Option<&Path>,
) -> Result<(StackName, NameSource), String> {
    let (raw, source) = if let Some(flag) = flag {
        (flag.to_owned(), NameSource::Flag)
    } else if let Some(name) = &stack.name {
        (name.value.clone(), NameSource::TopLevelName)
    } else if first_file == Some(Path::new(crate::load::read::STDIN)) {
        return Err(
            "the stack file is read from standard input, so it gives no stack name: pass --stack NAME or set a top-level `name:`"
                .to_owned(),
        );
    } else {
        let stem = first_file
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned());
        (stem.unwrap_or_default(), NameSource::FileName)
    };
    StackName::new(&raw).map(|name| (name, source))
}

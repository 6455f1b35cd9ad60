//! `stackctl config`: the stack files merged and interpolated, printed as one compose file
//! (what `docker stack config` prints), to see what stackctl will deploy.

use super::output::emit;
use super::{exit, print_diagnostics};
use crate::cli::ConfigArgs;
use crate::load::load;
use crate::model::compose_writer::{Dollars, WriteOptions, stack_to_yaml};
use crate::model::yaml_writer::to_yaml;

#[must_use]
pub fn run(args: &ConfigArgs) -> i32 {
    let options = crate::load::LoadOptions {
        skip_interpolation: args.skip_interpolation,
        ..args.files.load_options()
    };
    let loaded = match load(&options) {
        Ok(loaded) => loaded,
        Err(failure) => {
            let errors = print_diagnostics(&failure.diagnostics, &failure.sources);
            eprintln!("{errors} error(s) found");
            return exit::ERROR;
        }
    };
    let _ = print_diagnostics(&loaded.warnings, &loaded.sources);
    let write = WriteOptions {
        dollars: if args.skip_interpolation {
            Dollars::Keep
        } else {
            Dollars::Escape
        },
        mask: !args.show_sensitive,
    };
    let (yaml, masked) = stack_to_yaml(&loaded.stack, write);
    emit(&to_yaml(&yaml));
    if masked > 0 {
        eprintln!(
            "note: {masked} value(s) whose names look secret are masked; \
             --show-sensitive prints them (needed to deploy this output)"
        );
    }
    exit::OK
}

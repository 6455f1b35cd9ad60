//! What Swarm would refuse that the stack files already show, refused at load time with
//! `file:line:col` instead of by the daemon half-way through an apply: names it does not accept
//! (and their lengths, stack prefix included), values it rejects, and values no task can start
//! with. Limits are swarmkit's (`manager/controlapi`), checked against the real daemon.

mod names;
mod place;
mod values;

use super::diagnostic::Diagnostics;
use super::node::Node;
use super::source::Sources;
use super::yaml;
use crate::model::{Stack, StackName};
use place::Places;

/// The checks that need only the files: called by the loader with each file's tree (in merge
/// order) to find where a merged value was written.
pub(super) fn check(stack: &Stack, roots: &[Node], diags: &mut Diagnostics) {
    let places = Places { roots };
    names::check(stack, &places, diags);
    values::check(stack, &places, diags);
}

/// The lengths of the `<stack>_<key>` names, once the stack name is known (after loading:
/// `--stack` may name it). `sources` are the loaded stack files, read again for the places.
#[must_use]
pub fn check_stack_names(stack: &Stack, name: &StackName, sources: &Sources) -> Diagnostics {
    let roots: Vec<Node> = sources
        .iter()
        .filter_map(|(id, file)| yaml::parse(id, &file.text).ok())
        .collect();
    let mut diags = Diagnostics::default();
    names::check_prefixed(stack, name, &Places { roots: &roots }, &mut diags);
    diags
}

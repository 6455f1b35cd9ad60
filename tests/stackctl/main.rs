//! The one integration-test binary: runs the real `stackctl` binary and the library.

mod examples;
mod fuzz;
mod invalid_files;
mod loading;
mod util;

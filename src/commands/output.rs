//! Writing results to stdout: a closed pipe (`stackctl plan | head`) ends the output quietly.

use std::io::Write;

/// Print `text` to stdout; if the reader has gone away, stop without an error.
pub fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(err) = written {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            return;
        }
        eprintln!("error: cannot write the output: {err}");
    }
}

//! Reading a file stackctl was given, once and safely: at most [`MAX_BYTES`], a FIFO nothing is
//! writing to is refused rather than waited on, and `-` (for stack files) is standard input.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most any one input may hold. Stack files, `.env` files, secrets and configs (Swarm caps
/// those at 500 KB and 1000 KB) and saved plans are far smaller; a device such as `/dev/zero`
/// stops here instead of growing the process without end.
pub const MAX_BYTES: u64 = 16 << 20;

/// How the command line names standard input as a stack file (`docker stack deploy -c -`).
pub const STDIN: &str = "-";

/// The bytes of `path`, read once.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    if std::fs::metadata(path)?.file_type().is_fifo() {
        return read_fifo(path);
    }
    read_bounded(File::open(path)?)
}

/// The text of `path`, which must be UTF-8.
pub fn read_text(path: &Path) -> io::Result<String> {
    into_text(read(path)?)
}

/// The text on standard input, to its end.
pub fn read_stdin_text() -> io::Result<String> {
    into_text(read_bounded(io::stdin().lock())?)
}

fn into_text(bytes: Vec<u8>) -> io::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        io::Error::new(
            ErrorKind::InvalidData,
            format!("not UTF-8 text (invalid byte at offset {at})"),
        )
    })
}

fn read_bounded(reader: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(io::Error::new(
            ErrorKind::FileTooLarge,
            format!("larger than the {} MiB stackctl reads", MAX_BYTES >> 20),
        ));
    }
    Ok(bytes)
}

/// Read a FIFO without waiting for a writer: opening one blocks until something opens the
/// other end, which may never happen. Opened non-blocking, a read finds end of file only when
/// there is no writer and nothing left in the pipe; a writer that is there (even one still
/// opening its end) makes it wait for data instead.
fn read_fifo(path: &Path) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let mut first = [0u8; 1];
    let got = loop {
        match (&file).read(&mut first) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break 0,
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::BrokenPipe,
                    "a FIFO with no writer and nothing in it; start what writes to it first",
                ));
            }
            other => break other?,
        }
    };
    set_blocking(&file)?;
    // The byte the probe took goes in front of the rest.
    read_bounded((&first[..got]).chain(&file))
}

fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function's caller owns; F_GETFL/F_SETFL touch only
    // its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

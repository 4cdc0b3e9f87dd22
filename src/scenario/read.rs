//! Reading a scenario file without trusting it: only a regular file, and at most
//! `MAX_SCENARIO_BYTES` of it.
//!
//! The file is opened non-blocking and checked with `fstat` on the open handle (not the path),
//! so a FIFO never blocks the open and a device such as `/dev/zero` is refused before a byte is
//! read; the read itself stops one byte past the cap, whatever the file claims its size is.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest scenario read: 1 MiB (the shipped ones are under 4 KiB).
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// The bytes of the scenario at `path`, or what is wrong (the caller names the file).
pub fn scenario_file(path: &Path) -> Result<Vec<u8>, String> {
    regular_file(
        path,
        MAX_SCENARIO_BYTES,
        "scenario",
        "e.g. scenarios/golden-path.toml",
    )
}

/// The bytes of the regular file at `path`, at most `max` of them; `what` names it in messages
/// ("scenario", "data file") and `example` follows "give a ... file,".
pub fn regular_file(path: &Path, max: u64, what: &str, example: &str) -> Result<Vec<u8>, String> {
    let fail = |why: &dyn std::fmt::Display| format!("cannot read {what}: {why}");
    let file = open(path).map_err(|e| fail(&e))?;
    let meta = file.metadata().map_err(|e| fail(&e))?;
    if meta.is_dir() {
        return Err(fail(&format!(
            "it is a directory; give a {what} file, {example}"
        )));
    }
    if !meta.is_file() {
        return Err(fail(&format!(
            "not a regular file (a pipe, socket or device); save the {what} to a file first"
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > max {
        return Err(fail(&format!(
            "larger than {} KiB, the most a {what} may be",
            max / 1024
        )));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = scenario_file(dir.path()).unwrap_err();
        assert!(
            e.starts_with("cannot read scenario: it is a directory"),
            "{e}"
        );

        let e = scenario_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("scenario: not a regular file"), "{e}");

        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_SCENARIO_BYTES as usize + 1]).unwrap();
        let e = scenario_file(&big).unwrap_err();
        assert!(e.contains("scenario: larger than 1024 KiB"), "{e}");
        let fits = dir.path().join("fits.toml");
        std::fs::write(&fits, vec![b'#'; MAX_SCENARIO_BYTES as usize]).unwrap();
        assert_eq!(
            scenario_file(&fits).unwrap().len() as u64,
            MAX_SCENARIO_BYTES
        );

        let e = scenario_file(&dir.path().join("missing.toml")).unwrap_err();
        assert!(e.contains("scenario: No such file"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = scenario_file(&fifo).unwrap_err();
        assert!(e.contains("scenario: not a regular file"), "{e}");
    }
}

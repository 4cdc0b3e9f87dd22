//! Where results go: every output path checked before the run starts, files written atomically
//! under a unique temporary name, and `-` meaning standard output.
//!
//! Design choice: the check does what the final write will do (create the directory, create a
//! temporary sibling, or open a device) and then undoes it, so a path that cannot be written is
//! found before the first request instead of after an hour of load; and the temporary name is
//! unique per write (`tempfile`), so several runs sharing one directory never collide.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A results destination: standard output (`-`) or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Stdout,
    File(PathBuf),
}

impl Dest {
    /// `-` is standard output; anything else a file path.
    pub fn of(path: &Path) -> Dest {
        if path.as_os_str() == "-" {
            Dest::Stdout
        } else {
            Dest::File(path.to_path_buf())
        }
    }
}

/// A path that cannot be written, with the OS error.
#[derive(Debug)]
pub struct OutputError {
    pub path: PathBuf,
    /// What failed, e.g. "cannot create its directory /x".
    pub what: String,
    pub source: io::Error,
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.path.display(), self.what, self.source)
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The directory a file goes into (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An existing path that is not a regular file nor a directory (`/dev/null`, a FIFO): written
/// in place, since no temporary file can be renamed over it.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Checks that `path` can be written as the final write will write it: its directory is created,
/// and a temporary sibling created and removed (or a device opened). Leaves nothing behind but
/// the directory.
pub fn check(path: &Path) -> Result<(), OutputError> {
    let err = |what: String, source: io::Error| OutputError {
        path: path.to_path_buf(),
        what,
        source,
    };
    let dir = parent(path);
    std::fs::create_dir_all(dir)
        .map_err(|e| err(format!("cannot create its directory {}", dir.display()), e))?;
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(err(
                "is a directory".into(),
                io::Error::from(io::ErrorKind::IsADirectory),
            ))
        }
        Ok(m) if !m.is_file() => {
            let mut open = std::fs::OpenOptions::new();
            open.write(true);
            // A FIFO without a reader would block the check: fail it instead.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NONBLOCK);
            return open
                .open(path)
                .map(drop)
                .map_err(|e| err("cannot open it for writing".into(), e));
        }
        _ => {}
    }
    tempfile::Builder::new()
        .prefix(".load-tester-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            err(
                format!("cannot create a file in {}", dir.display()),
                os_error(e),
            )
        })
}

/// `tempfile` wraps the OS error with its random temporary name; keep the OS error alone (the
/// path to name is the caller's).
fn os_error(e: io::Error) -> io::Error {
    let inner = e
        .get_ref()
        .and_then(|x| x.source())
        .and_then(|x| x.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error);
    match inner.or(e.raw_os_error()) {
        Some(code) => io::Error::from_raw_os_error(code),
        None => e,
    }
}

/// Writes a file atomically: a uniquely named temporary file in the same directory, flushed, then
/// renamed over `path`, so a reader never sees half a file and parallel writers never share a
/// temporary name. The file gets the usual permissions (0666 less the umask).
pub fn write_atomic(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if is_special(path) {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        return write(&mut f);
    }
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".load-tester-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir)?;
    {
        let mut w = io::BufWriter::new(tmp.as_file());
        write(&mut w)?;
        w.flush()?;
    }
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn check_creates_the_directory_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/results.json");
        check(&path).unwrap();
        assert!(dir.path().join("a/b").is_dir());
        assert!(entries(&dir.path().join("a/b")).is_empty());
    }

    #[test]
    fn check_names_the_path_and_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        // A directory that would have to be created under a regular file.
        let path = file.join("sub/results.json");
        let e = check(&path).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(e.contains("cannot create its directory"), "{e}");
        assert!(
            e.contains("Not a directory") || e.contains("File exists"),
            "{e}"
        );
        let e = check(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn check_accepts_a_device() {
        check(Path::new("/dev/null")).unwrap();
        write_atomic(Path::new("/dev/null"), &mut |w| w.write_all(b"x")).unwrap();
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_atomic(&path, &mut |w| w.write_all(b"one")).unwrap();
        write_atomic(&path, &mut |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(entries(dir.path()), ["r.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o600, 0o600, "readable and writable by its owner");
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_atomic(&path, &mut |w| w.write_all(b"old")).unwrap();
        let e = write_atomic(&path, &mut |_| Err(io::Error::other("disk full")));
        assert!(e.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(entries(dir.path()), ["r.json"]);
    }

    #[test]
    fn dash_is_stdout() {
        assert_eq!(Dest::of(Path::new("-")), Dest::Stdout);
        assert_eq!(Dest::of(Path::new("./-")), Dest::File("./-".into()));
    }
}

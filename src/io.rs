//! The process edges, injected: output streams, environment look-up and the stop signals.
//!
//! `main` builds the real ones; tests build one with buffers and their own tokens, so the whole
//! CLI runs in-process without touching the real process state.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// Looks an environment variable up.
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A shared, cloneable writer (stdout, stderr, or a test buffer).
pub type Out = Arc<Mutex<dyn Write + Send>>;

pub struct Io {
    pub out: Out,
    pub err: Out,
    /// Reads an environment variable (for `{{env.NAME}}`).
    pub env: EnvFn,
    /// Cancelled on the first Ctrl-C / SIGTERM.
    pub interrupt: CancellationToken,
    /// Cancelled on the second signal.
    pub abort: CancellationToken,
    /// Whether stderr is a terminal (progress display).
    pub tty: bool,
    /// This program, for `--processes` children.
    pub program: std::path::PathBuf,
    /// The command line after the program name (a child mock takes it as it was given).
    pub args: Vec<std::ffi::OsString>,
}

impl Io {
    /// The real process: stdout, stderr, `std::env`.
    pub fn process() -> Io {
        use std::io::IsTerminal;
        Io {
            out: Arc::new(Mutex::new(std::io::stdout())),
            err: Arc::new(Mutex::new(std::io::stderr())),
            env: Arc::new(|k| std::env::var(k).ok()),
            interrupt: CancellationToken::new(),
            abort: CancellationToken::new(),
            tty: std::io::stderr().is_terminal(),
            program: std::env::current_exe().unwrap_or_else(|_| "load-tester".into()),
            args: std::env::args_os().skip(1).collect(),
        }
    }

    /// Writes to stdout, ignoring a closed pipe.
    pub fn print(&self, text: &str) {
        if let Ok(mut w) = self.out.lock() {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        }
    }

    /// Writes to stderr.
    pub fn eprint(&self, text: &str) {
        if let Ok(mut w) = self.err.lock() {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        }
    }
}

/// A test buffer usable as `Out`, readable afterwards.
#[derive(Clone, Default)]
pub struct Buffer(pub Arc<Mutex<Vec<u8>>>);

impl Buffer {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

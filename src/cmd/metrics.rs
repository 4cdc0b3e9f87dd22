//! `--metrics-listen` for run and probe: the Prometheus server bound before anything runs, and
//! the linger that keeps the final page served after the results are written.

use std::time::Duration;

use crate::exit::Exit;
use crate::io::Io;
use crate::report::prometheus::Server;

/// Binds `listen` (none: no server); a bad address is a usage error, before any traffic.
pub(crate) fn start(listen: Option<&str>, quiet: bool, io: &Io) -> Result<Option<Server>, Exit> {
    match listen.map(Server::listen) {
        None => Ok(None),
        Some(Ok(server)) => {
            if !quiet {
                io.eprint(&format!("metrics on http://{}/metrics\n", server.addr()));
            }
            Ok(Some(server))
        }
        Some(Err(e)) => {
            io.eprint(&format!("error: {e} (nothing was run)\n"));
            Err(Exit::Usage)
        }
    }
}

/// `--metrics-linger`: the final metrics stay served this long after the results are written;
/// a signal (a further one when a signal already stopped the run) ends it early.
pub(crate) async fn linger(metrics: Option<&Server>, linger: Duration, quiet: bool, io: &Io) {
    let Some(server) = metrics else { return };
    if linger.is_zero() {
        return;
    }
    if !quiet {
        io.eprint(&format!(
            "metrics: serving the final values at http://{}/metrics for {} (a signal ends it)\n",
            server.addr(),
            crate::duration::human(linger)
        ));
    }
    let signal = if io.interrupt.is_cancelled() {
        &io.abort
    } else {
        &io.interrupt
    };
    server.linger(linger, signal).await;
}

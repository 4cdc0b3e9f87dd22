//! `mock`: serve the built-in mock target until a signal (or as several processes), then print
//! its counters as one JSON line on stderr.

use crate::cli::MockArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::mock::MockServer;

pub(super) async fn mock(a: MockArgs, io: &Io) -> Exit {
    if a.processes > 1 {
        if a.config.listen.iter().any(|l| l.port() == 0) {
            io.eprint("error: mock --processes needs fixed ports (port 0 would give each process its own)\n");
            return Exit::Usage;
        }
        // One secret for all the processes, so a token minted by one verifies at another.
        let secret = a
            .config
            .jwt_secret
            .clone()
            .unwrap_or_else(crate::mock::Secret::random);
        let args = crate::fanout::mock_args(&io.args);
        return crate::fanout::mock(args, a.processes, secret.expose(), io).await;
    }
    let mut config = a.config;
    config.reuse_port = a.reuse_port;
    let server = match MockServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            io.eprint(&format!("error: cannot start the mock: {e}\n"));
            return Exit::Error;
        }
    };
    let addrs: Vec<String> = server
        .addrs()
        .iter()
        .map(|a| format!("http://{a}"))
        .collect();
    io.eprint(&format!(
        "mock target listening on {} (Ctrl-C to stop)\n",
        addrs.join(", ")
    ));
    io.interrupt.cancelled().await;
    let counts = server.counts();
    server.shutdown().await;
    // What it sent, as one JSON line (the body of GET /__mock/stats), for scripts to read.
    io.eprint(&format!("{}\n", counts.to_json_line()));
    Exit::Passed
}

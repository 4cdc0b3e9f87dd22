//! The binary: parse the command line, build the runtime and signal handling, map the result to an exit code.

use clap::Parser;
use load_tester::{cli::Cli, exit::Exit, io::Io};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            if let Some(note) = load_tester::env::hint(&e, &argv, &|k| std::env::var(k).ok()) {
                eprintln!("{note}");
            }
            // clap: help/version are successes; anything else is a usage error (2).
            std::process::exit(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(Exit::Error.code());
        }
    };
    let io = Io::process();
    let exit = runtime.block_on(async {
        spawn_signal_handler(&io);
        load_tester::run(cli, &io).await
    });
    // Users cut off by a hard stop may still hold sockets; do not wait for them.
    runtime.shutdown_background();
    std::process::exit(exit.code());
}

/// First Ctrl-C / SIGTERM: graceful stop. Second: skip the grace period (results are still written).
fn spawn_signal_handler(io: &Io) {
    let (interrupt, abort) = (io.interrupt.clone(), io.abort.clone());
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut count = 0;
        loop {
            #[cfg(unix)]
            let got = tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                s = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => s.is_some(),
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got {
                return;
            }
            count += 1;
            if count == 1 {
                eprintln!("\nstopping: finishing in-flight flows (signal again to stop at once)");
                interrupt.cancel();
            } else {
                abort.cancel();
            }
        }
    });
}

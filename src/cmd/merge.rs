//! `merge`: several generators' results into one, without loss; the exit code follows the merged verdict.

use super::{render, write_out};
use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::Summary;
use crate::report::text::Text;

pub(super) fn merge(a: MergeArgs, io: &Io) -> Exit {
    let mut parts = Vec::new();
    for path in &a.inputs {
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Summary>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(s) => parts.push(s),
            Err(e) => {
                io.eprint(&format!(
                    "error: {}: not a load-tester results file: {e}\n",
                    path.display()
                ));
                return Exit::Usage;
            }
        }
    }
    let merged = match crate::metrics::merge::merge(&parts) {
        Ok(m) => m,
        Err(e) => {
            io.eprint(&format!("error: cannot merge: {e}\n"));
            return Exit::Usage;
        }
    };
    let written = write_out(a.out.as_deref(), &merged, io);
    io.print(&format!(
        "merged {} result files ({} generators)\n",
        parts.len(),
        merged.generators
    ));
    io.print(&render(&Text, &merged));
    if let Err(e) = written {
        return e;
    }
    merged.verdict.exit()
}

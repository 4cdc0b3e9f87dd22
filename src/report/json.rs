//! JSON results (`--out`): the `Summary` as is, versioned; schema in schema/results.schema.json.

use std::io::{self, Write};

use super::Render;
use crate::metrics::summary::Summary;

pub struct Json;

impl Render for Json {
    fn write(&self, summary: &Summary, w: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, summary)?;
        w.write_all(b"\n")
    }
}

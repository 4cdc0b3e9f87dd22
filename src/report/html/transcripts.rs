//! The HTML report's failure transcripts: one collapsed section per kept transcript, its frames
//! one per line (as `probe` prints them), secrets already masked in the results.

use super::escape;
use crate::metrics::summary::Summary;

/// The section, when any transcript was kept (nothing otherwise).
pub fn section(s: &Summary, page: &mut String) {
    if s.transcripts.is_empty() {
        return;
    }
    page.push_str("<h2 id=\"transcripts\">Failure transcripts</h2>\n");
    page.push_str(&format!(
        "<p>The frames of the first {} failing flows of each error kind, secrets masked.</p>\n",
        s.transcripts_per_kind
    ));
    for t in &s.transcripts {
        page.push_str(&format!(
            "<details class=\"transcript\"><summary>{}: {} [{}], user {}, {} frames</summary>\n\
             <pre>{}</pre></details>\n",
            escape(&t.step),
            escape(&t.detail),
            t.kind,
            t.user,
            t.frames.len() as u64 + t.frames_left_out,
            escape(&t.render(""))
        ));
    }
}

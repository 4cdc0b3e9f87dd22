//! The summary's thresholds section: every threshold's row, and the note on unjudged failures.

use super::*;

#[test]
fn the_summary_lists_every_threshold_and_notes_unjudged_failures() {
    use crate::report::{text::Text, Render};
    let plan = plan();
    let mut s = empty(&plan);
    s.flows.started = 12;
    s.flows.passed = 10;
    s.flows.failed = 2;
    s.iteration = latency(&[(10, 200)]);
    let set = [
        parse("iteration.p99 < 100ms").unwrap(),
        parse("flows.passed >= 5").unwrap(),
        parse("chat.p99.9 < 1s").unwrap(),
    ];
    let render = |s: &Summary| {
        let mut out = Vec::new();
        Text.write(s, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let text = render(&judge(s.clone(), &set, &[]));
    let o = evaluate(&set[0], &s).observed.unwrap();
    for line in [
        "thresholds (they are the verdict):".to_string(),
        format!(
            "  BREACHED  iteration.p99 < 100ms   observed {o:.2} ms   BREACHED by {:.2} ms{}(--threshold)",
            o - 100.0,
            " ".repeat(11)
        ),
        format!(
            "  ok        flows.passed >= 5       observed 10          margin 5{}(--threshold)",
            " ".repeat(24)
        ),
        "  BREACHED  chat.p99.9 < 1s         nothing measured     BREACHED: no samples to judge   \
         (--threshold)"
            .to_string(),
        "  note: 2 flow(s) failed, and no threshold judges failures".to_string(),
        "verdict: THRESHOLDS BREACHED (exit 4)".to_string(),
    ] {
        assert!(text.contains(&line), "{line}\n{text}");
    }
    // A threshold about failures: no note.
    let set = [parse("flows.failed_rate < 50%").unwrap()];
    let text = render(&judge(s, &set, &[]));
    assert!(
        !text.contains("note:") && text.contains("verdict: PASSED"),
        "{text}"
    );
}

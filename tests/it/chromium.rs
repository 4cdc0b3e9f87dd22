//! Headless Chromium for the HTML report's test: found on PATH (a clear failure naming the
//! package when it is not), run with a fresh profile and a deadline (killed past it), and the
//! screenshot's pixels counted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::tempdir;

/// How long Chromium may take for one page before the test kills it.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(90);

pub fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "`chromium` is not on PATH: the HTML report's screenshot test needs Debian's chromium \
             (apt-get install --no-install-recommends chromium fonts-dejavu-core; .ci/run installs it)"
        )
    })
}

/// Runs headless Chromium on `page` with `args`, stdout into `stdout`; killed after the limit.
pub fn run_chromium(page: &Path, args: &[String], stdout: &Path) {
    let profile = tempdir();
    let out = std::fs::File::create(stdout).expect("create chromium's stdout file");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + CHROMIUM_LIMIT;
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                assert!(status.success(), "chromium {args:?} exited with {status}");
                return;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {args:?} did not finish within {CHROMIUM_LIMIT:?}: killed");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Pixels that are not white, and distinct colours, of a PNG.
pub fn ink(png_path: &Path) -> (u32, u32, usize, usize) {
    let file = std::fs::File::open(png_path).expect("the screenshot exists");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("the screenshot is a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a PNG of a known size")];
    let info = reader.next_frame(&mut buf).expect("the screenshot decodes");
    let channels = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0;
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let rgb = (px[0], px[1], px.get(2).copied().unwrap_or(px[0]));
        if rgb != (255, 255, 255) {
            inked += 1;
        }
        colours.insert(rgb);
    }
    (info.width, info.height, inked, colours.len())
}

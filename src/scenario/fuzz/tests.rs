//! Property test of scenario compilation: seeded structured mutations of the shipped scenarios and
//! the broken fixtures, each fed to `fuzz_compile` (the short version of the fuzz target).

use std::path::PathBuf;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::fuzz_compile;

/// Mutated scenarios per seed file: about 40 seed files, a few thousand cases in all.
const CASES_PER_SEED: usize = 60;

/// Values dropped into key places: edge numbers, bad URLs, template traps, deep nesting.
const VALUES: [&str; 30] = [
    "\"\"",
    "0",
    "-1",
    "99999999999999999999",
    "1e400",
    "nan",
    "-inf",
    "true",
    "[]",
    "{}",
    "[[1]]",
    "\"{{\"",
    "\"}}{{\"",
    "\"{{env.SECRET}}\"",
    "\"{{env.LOADTEST_PASSWORD}}\"",
    "\"http://user:{{env.SECRET}}@h/\"",
    "\"{{env.SECRET}}@h\"",
    "\"http://u:p@h:1\"",
    "\"ws://h:99999/ws\"",
    "\"http://[::1\"",
    "\"\\u0000\"",
    "\"((((a))))*|\"",
    "\"a b c d e f g h i j k l m n o p q r s t u v w x y z\"",
    "{ a = { b = { c = [1, { d = 2 }] } } }",
    "\"1.5s\"",
    "\"18446744073709551616ms\"",
    "{ min = \"3s\", max = \"1s\" }",
    "{ Content-Length = \"1\", content-length = \"2\" }",
    "{ code = 70000 }",
    "1979-05-27T07:32:00Z",
];

/// Keys worth setting in a step or a section.
const KEYS: [&str; 16] = [
    "name",
    "http.url",
    "http.method",
    "http.headers",
    "http.status",
    "http.json",
    "ws.connect",
    "ws.headers",
    "ws.expect",
    "ws.send",
    "ws.within",
    "ws.close",
    "think",
    "base_url",
    "users",
    "stages",
];

fn seeds() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["scenarios", "tests/fixtures/bad", "tests/fixtures/good"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "toml") {
                let bytes = std::fs::read(&path).expect("seed readable");
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    out.sort();
    out
}

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

/// One structured mutation of `text`.
fn mutate(rng: &mut SmallRng, text: &mut Vec<u8>) {
    let mut ls = lines(text);
    let n = ls.len().max(1);
    match rng.gen_range(0..8) {
        0 if !ls.is_empty() => {
            ls.remove(rng.gen_range(0..ls.len()));
        }
        1 if !ls.is_empty() => {
            let i = rng.gen_range(0..ls.len());
            let line = ls[i].clone();
            ls.insert(rng.gen_range(0..=ls.len()), line);
        }
        2 if !ls.is_empty() => {
            let last = ls.len() - 1;
            let (a, b) = (rng.gen_range(0..n).min(last), rng.gen_range(0..n).min(last));
            ls.swap(a, b);
        }
        3 if !ls.is_empty() => {
            // A new value for an existing key.
            let i = rng.gen_range(0..ls.len());
            if let Some(eq) = ls[i].iter().position(|b| *b == b'=') {
                let value = VALUES[rng.gen_range(0..VALUES.len())];
                ls[i].truncate(eq + 1);
                ls[i].extend_from_slice(b" ");
                ls[i].extend_from_slice(value.as_bytes());
            }
        }
        4 => {
            // A new key with a random value.
            let key = KEYS[rng.gen_range(0..KEYS.len())];
            let value = VALUES[rng.gen_range(0..VALUES.len())];
            let line = format!("{key} = {value}").into_bytes();
            ls.insert(rng.gen_range(0..=ls.len()), line);
        }
        5 => {
            let header = ["[[steps]]", "[[setup]]", "[target]", "[load]", "[vars]"];
            let line = header[rng.gen_range(0..header.len())].as_bytes().to_vec();
            ls.insert(rng.gen_range(0..=ls.len()), line);
        }
        _ => {
            *text = ls.join(&b'\n');
            if text.is_empty() {
                return;
            }
            let i = rng.gen_range(0..text.len());
            match rng.gen_range(0..3) {
                0 => text[i] ^= 1 << rng.gen_range(0..8),
                1 => text.truncate(i),
                _ => text.insert(i, rng.gen()),
            }
            return;
        }
    }
    *text = ls.join(&b'\n');
}

#[test]
fn the_seeds_compile_without_breaking_promises() {
    let seeds = seeds();
    assert!(seeds.len() >= 20, "seed files found: {}", seeds.len());
    for (_, bytes) in &seeds {
        fuzz_compile(bytes);
    }
}

#[test]
fn mutated_scenarios_never_panic_and_every_error_has_a_place() {
    let seeds = seeds();
    let mut rng = SmallRng::seed_from_u64(0x5ce7_a210);
    let mut cases = 0;
    for (name, bytes) in &seeds {
        for _ in 0..CASES_PER_SEED {
            let mut text = bytes.clone();
            for _ in 0..rng.gen_range(1..=4) {
                mutate(&mut rng, &mut text);
            }
            let result = std::panic::catch_unwind(|| fuzz_compile(&text));
            if result.is_err() {
                panic!(
                    "a mutation of {name} broke compilation:\n{}",
                    String::from_utf8_lossy(&text)
                );
            }
            cases += 1;
        }
    }
    assert_eq!(cases, seeds.len() * CASES_PER_SEED);
}

#[test]
fn hostile_shapes_are_errors_with_places() {
    let deep_array = format!(
        "name = \"x\"\nv = {}1{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let deep_expect = format!(
        "name = \"x\"\n[[steps]]\nname = \"c\"\nws.connect = \"ws://h/\"\n[[steps]]\nname = \"e\"\nws.expect = \"{}a{}\"\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let many_steps: String = (0..3000)
        .map(|i| format!("[[steps]]\nname = \"s{i}\"\nthink = \"x\"\n"))
        .collect();
    for text in [
        deep_array,
        deep_expect,
        format!("name = \"x\"\n{many_steps}"),
        "\u{feff}name = \"x\"".into(),
        String::new(),
    ] {
        fuzz_compile(text.as_bytes());
    }
    fuzz_compile(b"name = \"x\"\n\xff\xfe[[steps]]\n");
    fuzz_compile(&[0u8; 64]);
}

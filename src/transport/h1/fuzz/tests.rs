//! The short property-test version of the `http_response` fuzz target: valid responses of every
//! framing, mutated in ways hostile servers do (huge numbers, repeated lines, cut, flipped and
//! inserted bytes), with seeded randomness so a failure replays.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::http_response;

/// Valid responses to start from.
const SEEDS: [&[u8]; 8] = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nConnection: close, Upgrade\r\n\r\nuntil the end",
    b"HTTP/1.1 500 Oops\nContent-Length: 3\n\nbad",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\nA: b\r\n\r\nbody",
];

/// Fragments a hostile server might splice in.
const SPLICES: [&[u8]; 12] = [
    b"ffffffffffffffff",
    b"99999999999999999999",
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 7\r\n",
    b"0\r\n\r\n",
    b";ext=\"v\"",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b" ",
    b"\0",
];

fn mutate(rng: &mut SmallRng, input: &mut Vec<u8>) {
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..=input.len());
        match rng.gen_range(0..6) {
            0 if !input.is_empty() => {
                let i = rng.gen_range(0..input.len());
                input[i] = rng.gen();
            }
            1 => {
                let s = SPLICES[rng.gen_range(0..SPLICES.len())];
                input.splice(at..at, s.iter().copied());
            }
            2 => input.truncate(at),
            3 => {
                let end = rng.gen_range(at..=input.len());
                input.drain(at..end);
            }
            4 => {
                // A repeated line: the many-headers server in small.
                let line = b"X-Filler: 1\r\n".repeat(rng.gen_range(1..50));
                input.splice(at..at, line);
            }
            _ => {
                let n = rng.gen_range(0..16);
                let junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                input.splice(at..at, junk);
            }
        }
    }
}

#[test]
fn hostile_responses_never_panic_and_respect_the_limits() {
    let mut rng = SmallRng::seed_from_u64(7);
    for case in 0..100_000u32 {
        let mut data: Vec<u8> = (0..4).map(|_| rng.gen()).collect();
        data.extend_from_slice(SEEDS[case as usize % SEEDS.len()]);
        let start = data.split_off(4);
        let mut body = start;
        mutate(&mut rng, &mut body);
        data.extend_from_slice(&body);
        let result = std::panic::catch_unwind(|| http_response(&data));
        assert!(
            result.is_ok(),
            "case {case}: {:?}",
            data.escape_ascii().to_string()
        );
    }
}

#[test]
fn unmutated_responses_and_edge_inputs_pass() {
    for seed in SEEDS {
        for ctl in [[0u8, 0, 0, 0], [255, 255, 255, 255], [8, 3, 1, 9]] {
            let mut data = ctl.to_vec();
            data.extend_from_slice(seed);
            http_response(&data);
        }
    }
    http_response(b"");
    http_response(&[0; 3]);
    http_response(&[b'\n'; 300]);
    let mut endless = vec![255, 4, 255, 1];
    endless.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    endless.extend_from_slice(&b"10\r\n0123456789abcdef\r\n".repeat(2000));
    http_response(&endless);
}

/// The harness's reader gives the right answer, not only no panic: each seed, with room to
/// spare and split anyhow, reads to its status and body (the gzip coding is refused).
#[test]
fn valid_responses_read_to_their_status_and_body() {
    use super::{read, Pieces};
    let roomy = super::Limits {
        head: 1 << 16,
        headers: 100,
        body: 1 << 20,
    };
    let want: [Option<(u16, &[u8])>; 8] = [
        Some((200, b"hello")),
        Some((201, b"abcdefg")),
        Some((204, b"")),
        Some((200, b"ok")),
        Some((200, b"until the end")),
        Some((500, b"bad")),
        None,
        Some((200, b"body")),
    ];
    for (seed, want) in SEEDS.iter().zip(want) {
        for pieces in [Pieces::greedy(), Pieces::seeded(3), Pieces::seeded(11)] {
            let got = read(seed, &roomy, &mut { pieces });
            match want {
                Some((status, body)) => assert_eq!(
                    got.as_ref().map(|(s, b)| (*s, b.as_slice())),
                    Ok((status, body)),
                    "{:?}",
                    seed.escape_ascii().to_string()
                ),
                None => assert!(got.is_err(), "{got:?}"),
            }
        }
    }
}

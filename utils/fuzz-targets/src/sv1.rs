//! Stratum V1: the line reader, the message parsers, and the server (pool side) of a session.

use crate::chunks::Chunker;
use sv1_api::client::Client;
use sv1_api::server::{Server, ServerConfig, ServerEvent};
use sv1_api::{ClientMessage, LineError, LineReader, Message, Notify, ServerMessage};

/// Line limits a reader may be built with (picked by a byte of the input).
const MAX_LINES: [usize; 4] = [sv1_api::DEFAULT_MAX_LINE, 16, 64, 1024];

/// What the reader promises, written out plainly: lines split at `\n`, one trailing `\r`
/// removed, blank lines skipped, and a line (or unterminated rest) longer than `max` an error.
fn reference_lines(stream: &[u8], max: usize) -> (Vec<String>, Option<LineError>) {
    let mut lines = Vec::new();
    let mut rest = stream;
    while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
        if pos > max {
            return (lines, Some(LineError::TooLong { max }));
        }
        let mut line = &rest[..pos];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let text = String::from_utf8_lossy(line).into_owned();
        if !text.trim().is_empty() {
            lines.push(text);
        }
        rest = &rest[pos + 1..];
    }
    let err = (rest.len() > max).then_some(LineError::TooLong { max });
    (lines, err)
}

fn read_lines(chunks: &[&[u8]], max: usize) -> (Vec<String>, Option<LineError>) {
    let mut r = LineReader::new(max);
    let mut lines = Vec::new();
    for chunk in chunks {
        r.push(chunk);
        loop {
            match r.next_line() {
                Ok(Some(l)) => lines.push(l),
                Ok(None) => {
                    assert!(r.pending() <= max, "holds more than a line");
                    break;
                }
                Err(e) => return (lines, Some(e)),
            }
        }
    }
    (lines, None)
}

/// One line as a miner or a pool would parse it: the JSON-RPC envelope, then the method.
/// Whatever parses writes back as a line that parses to the same thing.
fn check_line(line: &str) {
    let Ok(msg) = Message::parse(line) else {
        return;
    };
    let out = msg.to_line();
    assert!(out.ends_with('\n') && !out[..out.len() - 1].contains('\n'));
    let back = Message::parse(&out).unwrap_or_else(|e| panic!("{out:?} does not parse: {e}"));
    assert_eq!(back.to_line(), out, "to_line is not stable");
    let Message::Request { id, method, params } = msg else {
        return;
    };
    if let Ok(Some(mut m)) = ClientMessage::from_request(&method, &params) {
        // An authorize without a password is written with "" (pools expect two params).
        if let ClientMessage::Authorize(a) = &mut m {
            a.password.get_or_insert_with(String::new);
        }
        let line = m.to_message(id.clone()).to_line();
        let again = match Message::parse(&line) {
            Ok(Message::Request { method, params, .. }) => {
                ClientMessage::from_request(&method, &params)
            }
            other => panic!("{line:?} parses as {other:?}"),
        };
        match again {
            Ok(Some(m2)) => assert_eq!(m2, m, "{line:?}"),
            other => panic!("{m:?} written as {line:?} reads back as {other:?}"),
        }
    }
    if let Ok(Some(m)) = ServerMessage::from_request(&method, &params) {
        let line = m.to_message(id).to_line();
        let again = match Message::parse(&line) {
            Ok(Message::Request { method, params, .. }) => {
                ServerMessage::from_request(&method, &params)
            }
            other => panic!("{line:?} parses as {other:?}"),
        };
        match again {
            Ok(Some(m2)) => assert_eq!(m2, m, "{line:?}"),
            other => panic!("{m:?} written as {line:?} reads back as {other:?}"),
        }
    }
}

/// sv1_api's LineReader and message parsers. Input: a byte choosing the line limit, four
/// bytes seeding the chunking, then the stream. The lines must be the same as the reference
/// splitting, whatever the chunking; each line goes through the JSON-RPC envelope, the client
/// and server method parsers, and a client that has subscribed and authorized.
pub fn sv1_line(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let (ctl, stream) = data.split_at(5);
    let max = MAX_LINES[ctl[0] as usize % MAX_LINES.len()];
    let expected = reference_lines(stream, max);
    assert_eq!(read_lines(&[stream], max), expected, "read whole");
    let chunks = Chunker::new(Chunker::seed_from(&ctl[1..])).split(stream);
    assert_eq!(
        read_lines(&chunks, max),
        expected,
        "read in {} chunks",
        chunks.len()
    );

    let mut client = Client::new("fuzz");
    client.configure(Some(0x1fff_e000), Some(2));
    client.subscribe();
    client.authorize("w", "x");
    for line in &expected.0 {
        check_line(line);
        let (_, out) = client.handle_line(line);
        for l in out {
            assert!(Message::parse(&l).is_ok(), "the client wrote {l:?}");
        }
    }
}

fn job(id: u32, clean: bool) -> Notify {
    Notify {
        job_id: format!("{id:x}"),
        prev_hash: [id as u8; 32],
        coinb1: vec![1, 0, 0, 0, 1, 0xaa],
        coinb2: vec![0xbb, 0xff, 0xff, 0xff, 0xff, 0],
        merkle_branch: vec![[3; 32]],
        version: 0x2000_0000,
        nbits: 0x207f_ffff,
        ntime: 1_700_000_000,
        clean_jobs: clean,
    }
}

/// Difficulties the server may start with or switch to: one so low that every share meets
/// it (so the accepted-share paths run), the usual 1, and a high one.
const DIFFICULTIES: [f64; 3] = [1e-12, 1.0, 1e9];

/// sv1_api's Server fed a whole session of lines. Input: a control byte (extranonce2 size,
/// starting difficulty, a forward target), then lines; a line `!n` makes the application send
/// a new job, `!c` a clean one, `!d` change the difficulty, `!x` change the extranonce. Every
/// line the server writes must be one JSON-RPC line, and an accepted share's hash must be the
/// hash of its header.
pub fn sv1_server(data: &[u8]) {
    let Some((&c, rest)) = data.split_first() else {
        return;
    };
    let cfg = ServerConfig {
        extranonce2_size: [4, 0, 1, 8][c as usize & 3],
        initial_difficulty: DIFFICULTIES[(c as usize >> 2) % 3],
        max_jobs: 2,
        ..ServerConfig::default()
    };
    let mut s = Server::new(cfg);
    if c & 0x40 != 0 {
        s.set_forward_target(Some([0xff; 32]));
    }
    let mut next_job = 1;
    let mut lines = vec![s.notify(job(next_job, true))];
    let mut d = 0;
    for raw in rest.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        match line.trim() {
            "!n" | "!c" => {
                next_job += 1;
                lines.push(s.notify(job(next_job, line.trim() == "!c")));
            }
            "!d" => {
                d += 1;
                lines.push(s.set_difficulty(DIFFICULTIES[d % 3]));
            }
            "!x" => lines.extend(s.set_extranonce(vec![9, 9], 2)),
            _ => {
                let out = s.handle_line(&line);
                lines.extend(out.lines);
                for e in out.events {
                    if let ServerEvent::ShareAccepted {
                        header, hash, held, ..
                    } = e
                    {
                        assert_eq!(sv1_api::share::sha256d(&header), hash);
                        if let Some(id) = held {
                            lines.push(s.answer_held(id, Err((23, "upstream said no"))));
                        }
                    }
                }
            }
        }
    }
    for l in &lines {
        assert!(
            l.ends_with('\n') && !l[..l.len() - 1].contains('\n'),
            "not one line: {l:?}"
        );
        if let Err(e) = Message::parse(l) {
            panic!("the server wrote {l:?}, which does not parse: {e}");
        }
    }
}

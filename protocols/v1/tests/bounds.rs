//! What one miner can make a server hold, and the rules a server applies to what it sends:
//! a cap on worker names, nTime within the job's and two hours ahead, a new version-rolling
//! mask after the application changes it, and the BIP310 minimum difficulty.

use quickcheck::quickcheck;
use sv1_api::client::{Client, ClientEvent};
use sv1_api::methods::*;
use sv1_api::server::{Server, ServerConfig, ServerEvent, NTIME_OUT_OF_RANGE};
use sv1_api::share::*;
use sv1_api::*;

const JOB_NTIME: u32 = 1_700_000_000;

fn job(id: &str) -> Notify {
    Notify {
        job_id: id.into(),
        prev_hash: [5; 32],
        coinb1: vec![1, 2, 3, 4],
        coinb2: vec![5, 6, 7, 8],
        merkle_branch: vec![[7; 32]],
        version: 0x2000_0000,
        nbits: 0x1d00ffff,
        ntime: JOB_NTIME,
        clean_jobs: true,
    }
}

/// Feed `line` to the server and every answer to the client; the client's events.
fn exchange(server: &mut Server, client: &mut Client, line: &str) -> Vec<ClientEvent> {
    let mut events = vec![];
    for l in server.handle_line(line).lines {
        events.extend(client.handle_line(&l).0);
    }
    events
}

/// A server with a job and a client that configured version rolling with the mask `rolling`
/// (when given), subscribed and authorized "w".
fn session(cfg: ServerConfig, rolling: Option<u32>) -> (Server, Client) {
    let mut server = Server::new(cfg);
    server.notify(job("j1"));
    let mut client = Client::new("bounds/1");
    let mut lines = vec![];
    if let Some(mask) = rolling {
        lines.push(client.configure(Some(mask), Some(2)));
    }
    lines.push(client.subscribe());
    lines.push(client.authorize("w", "x"));
    for l in lines {
        exchange(&mut server, &mut client, &l);
    }
    assert!(client.is_authorized("w"));
    (server, client)
}

fn easy() -> ServerConfig {
    ServerConfig {
        initial_difficulty: 1e-6,
        ..ServerConfig::default()
    }
}

/// A share for the client's job with this nTime and these version bits that meets the
/// client's target.
fn share(client: &Client, ntime: u32, version_bits: Option<u32>, nonce_from: u32) -> Submit {
    let job = client.current_job().expect("job").clone();
    let (en1, size) = client.extranonce().expect("subscribed");
    let mut s = Submit {
        worker: "w".into(),
        job_id: job.job_id.clone(),
        extranonce2: vec![9; size],
        ntime,
        nonce: 0,
        version_bits,
    };
    // The header as the miner builds it, under the mask it was given.
    let mut h = header(&job, en1, &s, client.version_mask().unwrap_or(0));
    for nonce in nonce_from..=u32::MAX {
        h[76..80].copy_from_slice(&nonce.to_le_bytes());
        if meets_target(&sha256d(&h), &client.target()) {
            s.nonce = nonce;
            return s;
        }
    }
    panic!("no nonce")
}

fn result(server: &mut Server, client: &mut Client, s: Submit) -> (bool, Option<(i64, String)>) {
    let line = client.submit(s);
    for e in exchange(server, client, &line) {
        if let ClientEvent::ShareResult {
            accepted, error, ..
        } = e
        {
            return (accepted, error.map(|e| (e.code, e.message)));
        }
    }
    panic!("no share result")
}

#[test]
fn one_connection_holds_at_most_max_workers_names() {
    let (mut server, mut client) = session(easy(), None);
    let mut refused = 0;
    let mut reported = 0;
    for i in 0..100_000 {
        let line = client.authorize(&format!("farm.rig{i}"), "x");
        let out = server.handle_line(&line);
        reported += out
            .events
            .iter()
            .filter(|e| matches!(e, ServerEvent::TooManyWorkers { max_workers: 64 }))
            .count();
        for l in &out.lines {
            for e in client.handle_line(l).0 {
                if let ClientEvent::Authorized { ok: false, .. } = e {
                    refused += 1;
                    // Refused as deployed pools do: false, with error 24 beside it.
                    assert!(
                        l.contains("\"result\":false") && l.contains("[24,\"too many workers"),
                        "{l}"
                    );
                }
            }
        }
    }
    // "w" and 63 of the new names; everything else refused, reported once.
    assert_eq!(server.authorized_workers().count(), 64);
    assert_eq!(refused, 100_000 - 63);
    assert_eq!(reported, 1, "reported once per connection, not per line");
    assert!(server.is_authorized("farm.rig62") && !server.is_authorized("farm.rig63"));
    // A name already held may authorize again; its shares count, a refused name's do not.
    let line = client.authorize("farm.rig0", "x");
    assert!(matches!(
        &exchange(&mut server, &mut client, &line)[..],
        [ClientEvent::Authorized { ok: true, .. }]
    ));
    let mut s = share(&client, JOB_NTIME, None, 0);
    s.worker = "farm.rig99999".into();
    assert_eq!(
        result(&mut server, &mut client, s).1.map(|e| e.0),
        Some(codes::UNAUTHORIZED)
    );
}

#[test]
fn overlong_and_empty_worker_names_are_refused() {
    let (mut server, mut client) = session(easy(), None);
    let long = "a".repeat(257);
    let line = client.authorize(&long, "x");
    let out = server.handle_line(&line);
    assert!(
        out.lines[0].contains("worker name longer than 256 bytes"),
        "{:?}",
        out.lines
    );
    assert!(!server.is_authorized(&long));
    let line = client.authorize(&"b".repeat(256), "x");
    assert!(matches!(
        &exchange(&mut server, &mut client, &line)[..],
        [ClientEvent::Authorized { ok: true, .. }]
    ));
    let line = client.authorize("  ", "x");
    assert!(matches!(
        &exchange(&mut server, &mut client, &line)[..],
        [ClientEvent::Authorized { ok: false, .. }]
    ));
}

#[test]
fn ntime_must_be_from_the_job_on_and_at_most_two_hours_ahead() {
    let (mut server, mut client) = session(easy(), None);
    let now = JOB_NTIME + 600;
    server.set_now(now);
    let refused = |r: (bool, Option<(i64, String)>)| {
        r == (
            false,
            Some((codes::UNKNOWN, NTIME_OUT_OF_RANGE.to_string())),
        )
    };
    let s = share(&client, JOB_NTIME - 1, None, 0);
    assert!(
        refused(result(&mut server, &mut client, s)),
        "before the job"
    );
    let s = share(&client, now + 7201, None, 0);
    assert!(
        refused(result(&mut server, &mut client, s)),
        "too far ahead"
    );
    let s = share(&client, u32::MAX, None, 0);
    assert!(refused(result(&mut server, &mut client, s)), "the largest");
    // The bounds themselves are allowed, and so is rolled time in between.
    for ntime in [JOB_NTIME, now, now + 7200] {
        let s = share(&client, ntime, None, 0);
        assert_eq!(result(&mut server, &mut client, s), (true, None), "{ntime}");
    }
}

#[test]
fn a_clock_behind_the_upstream_does_not_refuse_honest_shares() {
    // No clock at all: the newest job's time stands in for now.
    let (mut server, mut client) = session(easy(), None);
    let s = share(&client, JOB_NTIME + 7200, None, 0);
    assert_eq!(result(&mut server, &mut client, s), (true, None));
    let s = share(&client, JOB_NTIME + 7201, None, 0);
    assert_eq!(
        result(&mut server, &mut client, s).1.unwrap().0,
        codes::UNKNOWN
    );
    // A clock three hours behind the job's time: the job's time still counts.
    server.set_now(JOB_NTIME - 3 * 3600);
    let s = share(&client, JOB_NTIME + 60, None, 0);
    assert_eq!(result(&mut server, &mut client, s), (true, None));
}

#[test]
fn a_new_mask_reaches_miners_that_negotiated_rolling_and_judges_their_shares() {
    let (mut server, mut client) = session(easy(), Some(0x1fff_e000));
    assert_eq!(client.version_mask(), Some(0x1fff_e000));
    let s = share(&client, JOB_NTIME, Some(0x0000_2000), 0);
    assert_eq!(result(&mut server, &mut client, s), (true, None));
    // An upstream that allows no rolling: the miner is told, and rolled bits are refused.
    let line = server.set_version_rolling_mask(0).expect("a new mask");
    assert_eq!(
        line,
        "{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\"00000000\"]}\n"
    );
    assert_eq!(
        client.handle_line(&line).0,
        vec![ClientEvent::VersionMaskChanged(0)]
    );
    assert_eq!(server.version_mask(), Some(0));
    let s = share(&client, JOB_NTIME, Some(0x0000_4000), 0);
    let (ok, err) = result(&mut server, &mut client, s);
    assert!(!ok && err.unwrap().1.contains("outside the negotiated mask"));
    let s = share(&client, JOB_NTIME, None, 1000);
    assert_eq!(result(&mut server, &mut client, s), (true, None));
    // The same mask again says nothing; rolling allowed again brings the miner's mask back.
    assert_eq!(server.set_version_rolling_mask(0), None);
    let line = server.set_version_rolling_mask(0x1fff_e000).expect("mask");
    client.handle_line(&line);
    assert_eq!(client.version_mask(), Some(0x1fff_e000));
    let s = share(&client, JOB_NTIME, Some(0x0000_8000), 0);
    assert_eq!(result(&mut server, &mut client, s), (true, None));
}

#[test]
fn the_new_mask_keeps_to_the_bits_the_miner_asked_for() {
    let (mut server, _client) = session(easy(), Some(0x00ff_e000));
    assert_eq!(server.version_mask(), Some(0x00ff_e000));
    let line = server.set_version_rolling_mask(0x1f00_6000).unwrap();
    assert!(line.contains("\"00006000\""), "{line}");
}

#[test]
fn miners_that_did_not_negotiate_rolling_get_no_mask() {
    let (mut server, _client) = session(easy(), None);
    assert_eq!(server.set_version_rolling_mask(0), None);
    assert_eq!(server.version_mask(), None);
    // A miner that configures later gets the new rules.
    let out = server.handle_line(
        r#"{"id":9,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]}"#,
    );
    assert!(
        out.lines[0].contains("\"version-rolling\":false"),
        "{:?}",
        out.lines
    );
}

#[test]
fn the_bip310_minimum_difficulty_is_a_floor() {
    let mut server = Server::new(ServerConfig {
        initial_difficulty: 1.0,
        ..ServerConfig::default()
    });
    server.notify(job("j1"));
    let out = server.handle_line(
        r#"{"id":1,"method":"mining.configure","params":[["minimum-difficulty"],{"minimum-difficulty.value":8}]}"#,
    );
    assert_eq!(out.lines.len(), 1, "nothing to raise before subscribe");
    assert_eq!(server.minimum_difficulty(), Some(8.0));
    let out = server.handle_line(r#"{"id":2,"method":"mining.subscribe","params":[]}"#);
    assert!(out.lines[1].contains("\"params\":[8.0]"), "{:?}", out.lines);
    assert!(server.set_difficulty(2.0).contains("[8.0]"));
    assert_eq!(server.difficulty(), 8.0);
    assert!(server.set_difficulty(16.0).contains("[16.0]"));
    // A higher minimum after subscribe: the miner is told at once.
    let out = server.handle_line(
        r#"{"id":3,"method":"mining.configure","params":[["minimum-difficulty"],{"minimum-difficulty.value":32}]}"#,
    );
    assert_eq!(out.lines.len(), 2, "{:?}", out.lines);
    assert!(out.lines[1].contains("mining.set_difficulty") && out.lines[1].contains("[32.0]"));
    assert_eq!(server.difficulty(), 32.0);
}

/// Re-sending the current job (to apply a new difficulty at once) must not make its shares
/// new again: a miner could otherwise have one share counted twice by asking for a
/// difficulty change in between.
#[test]
fn a_job_sent_again_keeps_its_shares_duplicates() {
    let (mut server, mut client) = session(easy(), None);
    let s = share(&client, JOB_NTIME, None, 0);
    assert_eq!(result(&mut server, &mut client, s.clone()), (true, None));
    client.handle_line(&server.notify(job("j1")));
    assert_eq!(
        result(&mut server, &mut client, s).1.map(|e| e.0),
        Some(codes::DUPLICATE_SHARE)
    );
}

quickcheck! {
    /// Any nTime, clock and job time: an answer, never an overflow.
    fn ntime_checks_never_panic(now: u32, job_ntime: u32, ntime: u32, ahead: u32) -> bool {
        let mut server = Server::new(ServerConfig {
            initial_difficulty: 1e-12,
            max_ntime_ahead_secs: ahead,
            ..ServerConfig::default()
        });
        let mut j = job("j");
        j.ntime = job_ntime;
        server.notify(j);
        server.set_now(now);
        server.handle_line(r#"{"id":1,"method":"mining.subscribe","params":[]}"#);
        server.handle_line(r#"{"id":2,"method":"mining.authorize","params":["w"]}"#);
        let line = format!(
            r#"{{"id":3,"method":"mining.submit","params":["w","j","00000000","{ntime:08x}","00000000"]}}"#
        );
        let out = server.handle_line(&line);
        let in_range = ntime >= job_ntime
            && u64::from(ntime) <= u64::from(now.max(job_ntime)) + u64::from(ahead);
        out.lines.len() == 1 && out.lines[0].contains(NTIME_OUT_OF_RANGE) != in_range
    }

    /// Masks changed at random never let bits outside the current mask through.
    fn random_masks_are_always_the_intersection(asked: u32, allowed: Vec<u32>) -> bool {
        let mut server = Server::new(ServerConfig::default());
        let line = format!(
            r#"{{"id":1,"method":"mining.configure","params":[["version-rolling"],{{"version-rolling.mask":"{asked:08x}"}}]}}"#
        );
        server.handle_line(&line);
        allowed.into_iter().all(|a| {
            let before = server.version_mask();
            let line = server.set_version_rolling_mask(a);
            let now = server.version_mask();
            now == before.map(|_| asked & a)
                && line.is_some() == (before.is_some() && before != now)
        })
    }
}

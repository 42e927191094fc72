//! Share math against a real block, and whole client/server sessions with shares really
//! computed: accepted, low difficulty, duplicate, stale, unauthorized, not subscribed,
//! version bits outside the mask, wrong extranonce2 size.

use sv1_api::client::{Client, ClientEvent};
use sv1_api::methods::*;
use sv1_api::server::{Server, ServerConfig, ServerEvent};
use sv1_api::share::*;
use sv1_api::*;

#[test]
fn genesis_block_header_hashes_to_its_known_hash() {
    let merkle = {
        let mut m = hex::decode("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
            .unwrap();
        m.reverse();
        <[u8; 32]>::try_from(m).unwrap()
    };
    let h = header_from_parts(1, &[0; 32], &merkle, 1231006505, 0x1d00ffff, 2083236893);
    let mut hash = sha256d(&h);
    assert!(meets_target(&hash, &target_from_nbits(0x1d00ffff)));
    hash.reverse();
    assert_eq!(
        hex::encode(hash),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    );
}

#[test]
fn targets_and_difficulty() {
    assert_eq!(target_from_difficulty(1.0), DIFF1_TARGET);
    assert_eq!(target_from_nbits(0x1d00ffff), DIFF1_TARGET);
    let t2 = target_from_difficulty(2.0);
    assert_eq!((t2[25], t2[26], t2[27]), (0x80, 0xff, 0x7f));
    assert_eq!(target_from_difficulty(0.0), [0xff; 32]);
    assert!((difficulty_of_hash(&DIFF1_TARGET) - 1.0).abs() < 1e-9);
    assert!((difficulty_of_hash(&target_from_difficulty(1024.0)) - 1024.0).abs() < 1e-6);
    // Fractional difficulties (CPU miners) give larger targets.
    assert!(meets_target(
        &target_from_difficulty(1.0),
        &target_from_difficulty(0.5)
    ));
    assert_eq!(
        prev_hash_header_order(&prev_hash_stratum_order(&[7; 32])),
        [7; 32]
    );
    assert_eq!(
        rolled_version(0x2000_0000, Some(0x1fff_e000), 0x1fff_e000),
        0x3fff_e000
    );
}

fn job(id: &str, clean: bool) -> Notify {
    Notify {
        job_id: id.into(),
        prev_hash: [3; 32],
        coinb1: hex::decode("01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0d03").unwrap(),
        coinb2: hex::decode("ffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000").unwrap(),
        merkle_branch: vec![[9; 32], [10; 32]],
        version: 0x2000_0000,
        nbits: 0x1d00ffff,
        ntime: 1_700_000_000,
        clean_jobs: clean,
    }
}

/// Connect a client to a server: configure, subscribe, authorize; returns both.
fn session(difficulty: f64) -> (Server, Client) {
    let mut server = Server::new(ServerConfig {
        initial_difficulty: difficulty,
        ..Default::default()
    });
    server.notify(job("j1", true));
    let mut client = Client::new("test-miner/1");
    for line in [
        client.configure(Some(0x1fff_e000), Some(2)),
        client.subscribe(),
        client.authorize("w1", "x"),
    ] {
        let out = server.handle_line(&line);
        for l in out.lines {
            client.handle_line(&l);
        }
    }
    (server, client)
}

/// Mine a share for the client's current job at its target (and report what the server said).
fn mine(client: &Client, nonce_start: u32, want_valid: bool) -> Submit {
    let job = client.current_job().unwrap().clone();
    let (en1, en2_size) = client.extranonce().unwrap();
    let target = client.target();
    let mut s = Submit {
        worker: "w1".into(),
        job_id: job.job_id.clone(),
        extranonce2: vec![1; en2_size],
        ntime: job.ntime,
        nonce: nonce_start,
        version_bits: Some(0x0000_2000),
    };
    // Like a real miner: build the header once, then roll the nonce.
    let mut h = header(&job, en1, &s, client.version_mask().unwrap());
    for nonce in nonce_start..=u32::MAX {
        h[76..80].copy_from_slice(&nonce.to_le_bytes());
        if meets_target(&sha256d(&h), &target) == want_valid {
            s.nonce = nonce;
            return s;
        }
    }
    panic!("no nonce found")
}

fn submit(server: &mut Server, client: &mut Client, s: Submit) -> (bool, Option<i64>) {
    let line = client.submit(s);
    let out = server.handle_line(&line);
    for l in &out.lines {
        for e in client.handle_line(l).0 {
            if let ClientEvent::ShareResult {
                accepted, error, ..
            } = e
            {
                return (accepted, error.map(|e| e.code));
            }
        }
    }
    panic!("no answer: {:?}", out.lines)
}

#[test]
fn full_session_with_real_shares() {
    let (mut server, mut client) = session(1e-6); // ~4300 hashes a share
    assert!(server.is_authorized("w1") && client.is_authorized("w1"));
    assert_eq!(client.version_mask(), Some(0x1fff_e000));
    assert_eq!(server.version_mask(), Some(0x1fff_e000));
    assert_eq!(
        client.current_job().unwrap().job_id,
        "j1",
        "the job arrives with the subscribe answer"
    );
    assert_eq!(client.difficulty(), 1e-6);

    let good = mine(&client, 0, true);
    assert_eq!(submit(&mut server, &mut client, good.clone()), (true, None));
    // The same share again: duplicate.
    assert_eq!(
        submit(&mut server, &mut client, good),
        (false, Some(codes::DUPLICATE_SHARE))
    );
    // A share that misses the target.
    let bad = mine(&client, 0, false);
    assert_eq!(
        submit(&mut server, &mut client, bad),
        (false, Some(codes::LOW_DIFFICULTY))
    );
    // Version bits outside the mask.
    let mut s = mine(&client, 0, true);
    s.version_bits = Some(0x0000_0001);
    assert_eq!(
        submit(&mut server, &mut client, s),
        (false, Some(codes::UNKNOWN))
    );
    // Wrong extranonce2 size.
    let mut s = mine(&client, 0, true);
    s.extranonce2 = vec![0; 3];
    assert_eq!(
        submit(&mut server, &mut client, s),
        (false, Some(codes::UNKNOWN))
    );
    // Unauthorized worker name.
    let mut s = mine(&client, 0, true);
    s.worker = "mallory".into();
    assert_eq!(
        submit(&mut server, &mut client, s),
        (false, Some(codes::UNAUTHORIZED))
    );
    // A new job with clean_jobs: the old one is stale.
    let old = mine(&client, 1000, true);
    let line = server.notify(job("j2", true));
    client.handle_line(&line);
    assert_eq!(
        submit(&mut server, &mut client, old),
        (false, Some(codes::JOB_NOT_FOUND))
    );
    let fresh = mine(&client, 0, true);
    assert_eq!(submit(&mut server, &mut client, fresh), (true, None));
}

#[test]
fn submit_before_subscribe_and_before_authorize() {
    let mut server = Server::new(ServerConfig::default());
    server.notify(job("j1", true));
    let s = r#"{"id":4,"method":"mining.submit","params":["w1","j1","00000000","6553f100","00000000"]}"#;
    let out = server.handle_line(s);
    assert!(out.lines[0].contains("25"), "{:?}", out.lines);
    server.handle_line(r#"{"id":1,"method":"mining.subscribe","params":[]}"#);
    let out = server.handle_line(s);
    assert!(matches!(
        &out.events[0],
        ServerEvent::ShareRejected { code: 24, .. }
    ));
}

#[test]
fn subscribe_twice_and_without_configure() {
    let mut server = Server::new(ServerConfig::default());
    server.notify(job("j1", true));
    for _ in 0..2 {
        let out = server.handle_line(r#"{"id":1,"method":"mining.subscribe","params":["x"]}"#);
        // Answer, difficulty and the current job.
        assert_eq!(out.lines.len(), 3);
        assert!(out.lines[2].contains("mining.notify"));
    }
    assert_eq!(server.version_mask(), None);
}

#[test]
fn client_answers_get_version_and_tracks_notifications() {
    let mut c = Client::new("agent/9");
    let (_, replies) = c.handle_line(r#"{"id":77,"method":"client.get_version","params":[]}"#);
    assert_eq!(
        replies[0],
        "{\"id\":77,\"result\":\"agent/9\",\"error\":null}\n"
    );
    let (ev, _) =
        c.handle_line(r#"{"id":null,"method":"mining.set_extranonce","params":["aabb",6]}"#);
    assert!(matches!(
        ev[0],
        ClientEvent::ExtranonceChanged {
            extranonce2_size: 6,
            ..
        }
    ));
    assert_eq!(c.extranonce().unwrap(), (&[0xaa, 0xbb][..], 6));
    // Answers to ids never asked are ignored.
    let (ev, _) = c.handle_line(r#"{"id":999,"result":true,"error":null}"#);
    assert!(ev.is_empty());
}

/// A translator holds the shares it forwards and answers them with the upstream's verdict.
#[test]
fn shares_meeting_the_forward_target_wait_for_their_answer() {
    let (mut server, mut client) = session(1e-6);
    // About one share in 16 meets a target 16 times harder.
    server.set_forward_target(Some(target_from_difficulty(16e-6)));
    let mut nonce = 0;
    let (mut local, mut held) = (0, Vec::new());
    while held.len() < 2 {
        let s = mine(&client, nonce, true);
        nonce = s.nonce + 1;
        let out = server.handle_line(&client.submit(s));
        match &out.events[..] {
            [ServerEvent::ShareAccepted {
                held: Some(id),
                extranonce2,
                ..
            }] => {
                assert!(out.lines.is_empty(), "no answer before the upstream's");
                assert_eq!(extranonce2.len(), 4);
                held.push(id.clone());
            }
            [ServerEvent::ShareAccepted { held: None, .. }] => {
                local += 1;
                for l in &out.lines {
                    client.handle_line(l);
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(local > 0);
    let ok = server.answer_held(held[0].clone(), Ok(()));
    assert!(matches!(
        &client.handle_line(&ok).0[..],
        [ClientEvent::ShareResult { accepted: true, .. }]
    ));
    let refused = server.answer_held(held[1].clone(), Err((codes::JOB_NOT_FOUND, "stale-share")));
    assert!(matches!(
        &client.handle_line(&refused).0[..],
        [ClientEvent::ShareResult { accepted: false, error: Some(e), .. }] if e.code == codes::JOB_NOT_FOUND
    ));
}

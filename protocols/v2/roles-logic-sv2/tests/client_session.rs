//! A `ClientSession` and a server `Session` wired back to back in memory, no sockets: setup,
//! channels of each kind, jobs and tips, shares and their answers, targets, reconnect, custom
//! jobs, timeouts, and bad input.

use binary_sv2::{Seq0255, Str0255, B0255, B064K, U256};
use common_messages_sv2::SetupConnection;
use const_sv2::{error_codes, mining_flags, PROTOCOL_MINING};
use framing_sv2::Sv2Message;
use mining_sv2::*;
use quickcheck::quickcheck;
use roles_logic_sv2::extranonce::ExtranonceAllocator;
use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};
use roles_logic_sv2::mining_client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Share, ShareRefusal, Work,
};
use roles_logic_sv2::mining_server::{PrevHash, ServerConfig, Session};
use roles_logic_sv2::parsers::{AnyMessage, Mining};
use roles_logic_sv2::{sha256d, target, Now};
use std::sync::Arc;

const T0: u64 = 1_700_000_000_000;
const MIN_NTIME: u32 = 1_700_000_000;
const HARD_NBITS: u32 = 0x0300_0001;

fn template(id: u64, future: bool) -> Arc<JobTemplate> {
    let t = template_distribution_sv2::NewTemplate {
        template_id: id,
        future_template: future,
        version: 0x2000_0000,
        coinbase_tx_version: 2,
        coinbase_prefix: B0255::new(vec![0x01, 0x05]).unwrap(),
        coinbase_tx_input_sequence: 0xffff_ffff,
        coinbase_tx_value_remaining: 5_000_000_000,
        coinbase_tx_outputs_count: 0,
        coinbase_tx_outputs: B064K::new(vec![]).unwrap(),
        coinbase_tx_locktime: 0,
        merkle_path: Seq0255::from_items([U256([1; 32])]).unwrap(),
    };
    let cfg = CoinbaseConfig {
        payout_outputs: vec![PayoutOutput {
            script_pubkey: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
            weight: 1,
        }],
        pool_tag: b"test".to_vec(),
        extranonce_len: 16,
    };
    Arc::new(JobTemplate::from_template(&t, &cfg).unwrap())
}

fn setup_msg(flags: u32) -> SetupConnection<'static> {
    let s = |v: &str| Str0255::new(v.as_bytes().to_vec()).unwrap();
    SetupConnection {
        protocol: PROTOCOL_MINING,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: s("pool"),
        endpoint_port: 3333,
        vendor: s("test"),
        hardware_version: s(""),
        firmware: s(""),
        device_id: s("d"),
    }
}

fn frame(m: AnyMessage<'static>) -> (u16, u8, Vec<u8>) {
    let f = m.to_frame().unwrap();
    let h = f.header();
    (h.extension_type(), h.msg_type(), f.payload().to_vec())
}

/// The two ends and a clock, in the manner of quinn-proto's test `Pair`.
struct Pair {
    server: Session,
    client: ClientSession<u32>,
    now: u64,
    events: Vec<ClientEvent<u32>>,
    server_events: Vec<roles_logic_sv2::mining_server::ServerEvent>,
}

impl Pair {
    fn new(server_cfg: ServerConfig, client_cfg: ClientConfig) -> Pair {
        Self::with_flags(server_cfg, client_cfg, 0)
    }

    fn with_flags(server_cfg: ServerConfig, client_cfg: ClientConfig, flags: u32) -> Pair {
        let mut a = ExtranonceAllocator::new(vec![], 16, 4).unwrap();
        let mut server = Session::new(Arc::new(server_cfg), &a.allocate().unwrap()).unwrap();
        server.on_new_template(template(1, true));
        assert!(server.on_set_new_prev_hash(PrevHash {
            template_id: 1,
            prev_hash: [7; 32],
            min_ntime: MIN_NTIME,
            nbits: HARD_NBITS,
        }));
        let client = ClientSession::new(client_cfg, setup_msg(flags), Now::from_unix_ms(T0));
        let mut p = Pair {
            server,
            client,
            now: T0,
            events: Vec::new(),
            server_events: Vec::new(),
        };
        p.drive();
        assert!(matches!(p.events[..], [ClientEvent::SetupDone { .. }]));
        p.events.clear();
        p
    }

    fn now(&self) -> Now {
        Now::from_unix_ms(self.now)
    }

    /// Move messages both ways until both are quiet; collect the client's events.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(m) = self.client.poll_message() {
                let (e, t, p) = frame(m);
                self.server.handle_frame(e, t, &p, self.now()).unwrap();
                moved = true;
            }
            self.server.flush_share_acks();
            while let Some(m) = self.server.poll_message() {
                let (e, t, p) = frame(m);
                self.client.handle_frame(e, t, &p, self.now()).unwrap();
                moved = true;
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            self.events
                .extend(std::iter::from_fn(|| self.client.poll_event()));
            if !moved {
                return;
            }
        }
    }

    fn open_extended(&mut self, hashrate: f32) -> (u32, Work) {
        let req = self
            .client
            .open_extended("alice", hashrate, [0xff; 32], 4)
            .unwrap();
        self.drive();
        let channel_id = match self.events.first() {
            Some(ClientEvent::ChannelOpened {
                request_id,
                channel_id,
            }) if *request_id == req => *channel_id,
            other => panic!("{other:?}"),
        };
        let work = self.last_work(channel_id).expect("work with the channel");
        self.events.clear();
        (channel_id, work)
    }

    fn last_work(&self, channel_id: u32) -> Option<Work> {
        self.events.iter().rev().find_map(|e| match e {
            ClientEvent::Work {
                channel_id: c,
                work,
            } if *c == channel_id => Some(work.clone()),
            _ => None,
        })
    }

    fn results(&mut self) -> Vec<(u32, Result<(), ShareRefusal>)> {
        let r = self
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::ShareResult { route, result, .. } => Some((*route, result.clone())),
                _ => None,
            })
            .collect();
        self.events.clear();
        r
    }
}

fn nonce_for(work: &Work, extranonce: &[u8], meets: bool, from: u32) -> u32 {
    let root = work.merkle_root(extranonce).unwrap();
    (from..)
        .find(|&n| {
            let h = sha256d(&work.header(&root, work.min_ntime, n, work.version));
            target::hash_meets_target(&h, &work.target) == meets
        })
        .unwrap()
}

fn share<'a>(channel_id: u32, w: &Work, nonce: u32, extranonce: Option<&'a [u8]>) -> Share<'a> {
    Share {
        channel_id,
        job_id: w.job_id,
        nonce,
        ntime: w.min_ntime,
        version: w.version,
        extranonce,
    }
}

#[test]
fn shares_on_an_extended_channel_get_their_answers_by_route() {
    let mut p = Pair::new(
        ServerConfig {
            share_batch_size: 3,
            ..ServerConfig::default()
        },
        ClientConfig::default(),
    );
    let (ch, w) = p.open_extended(10.0);
    let en = vec![0x5a; p.client.channel(ch).unwrap().extranonce_size];
    let mut n = 0;
    for route in 0..5 {
        n = nonce_for(&w, &en, true, n + 1);
        assert!(p
            .client
            .submit(share(ch, &w, n, Some(&en)), route)
            .is_some());
    }
    let low = nonce_for(&w, &en, false, 0);
    p.client.submit(share(ch, &w, low, Some(&en)), 99);
    p.drive();
    let mut r = p.results();
    r.sort_by_key(|x| x.0);
    assert_eq!(r.len(), 6, "{r:?}");
    assert!(r[..5].iter().all(|x| x.1.is_ok()));
    assert_eq!(
        r[5],
        (
            99,
            Err(ShareRefusal::Upstream(
                error_codes::DIFFICULTY_TOO_LOW.to_string()
            ))
        )
    );
    assert_eq!(p.client.waiting_shares(ch), 0);
}

#[test]
fn standard_channels_in_a_group_get_work_from_the_group_job() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let a = p.client.open_standard("a", 10.0, [0xff; 32]).unwrap();
    let b = p.client.open_standard("b", 10.0, [0xff; 32]).unwrap();
    p.drive();
    let opened: Vec<(u32, u32)> = p
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::ChannelOpened {
                request_id,
                channel_id,
            } => Some((*request_id, *channel_id)),
            _ => None,
        })
        .collect();
    assert_eq!(opened.iter().map(|x| x.0).collect::<Vec<_>>(), vec![a, b]);
    let (ca, cb) = (opened[0].1, opened[1].1);
    let group = p.client.channel(ca).unwrap().group_channel_id;
    assert_eq!(group, p.client.channel(cb).unwrap().group_channel_id);
    p.events.clear();
    // A new template on the tip goes to the group as one extended job; both members get work.
    p.server.on_new_template(template(2, false));
    p.drive();
    assert!(p.events.iter().any(|e| matches!(
        e,
        ClientEvent::NewExtendedMiningJob { channel_id, .. } if *channel_id == group
    )));
    let (wa, wb) = (p.last_work(ca).unwrap(), p.last_work(cb).unwrap());
    assert_eq!(wa.job_id, wb.job_id);
    assert_ne!(
        wa.merkle_root(&[]).unwrap(),
        wb.merkle_root(&[]).unwrap(),
        "each member's own extranonce"
    );
    // A share on a member, checked by the server against that member's root.
    p.events.clear();
    let n = nonce_for(&wa, &[], true, 0);
    p.client.submit(share(ca, &wa, n, None), 1);
    p.drive();
    assert_eq!(p.results(), vec![(1, Ok(()))]);
}

#[test]
fn future_jobs_wait_for_their_tip() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let (ch, w0) = p.open_extended(10.0);
    p.server.on_new_template(template(2, true));
    p.drive();
    assert!(p.last_work(ch).is_none(), "a future job is not work yet");
    assert!(p.server.on_set_new_prev_hash(PrevHash {
        template_id: 2,
        prev_hash: [8; 32],
        min_ntime: MIN_NTIME + 5,
        nbits: HARD_NBITS,
    }));
    p.drive();
    let w = p.last_work(ch).expect("the tip activates it");
    assert_ne!(w.job_id, w0.job_id);
    assert_eq!((w.prev_hash, w.min_ntime), ([8; 32], MIN_NTIME + 5));
    assert!(p
        .events
        .iter()
        .any(|e| matches!(e, ClientEvent::SetNewPrevHash { .. })));
}

#[test]
fn set_target_reaches_the_channel_and_its_work() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let (ch, w) = p.open_extended(1e9);
    // UpdateChannel with a far lower hashrate: the server answers with an easier target.
    p.client.update_channel(ch, 10.0, [0xff; 32]).unwrap();
    p.drive();
    let t = p
        .events
        .iter()
        .find_map(|e| match e {
            ClientEvent::SetTarget { target, .. } => Some(*target),
            _ => None,
        })
        .expect("SetTarget");
    assert!(target::difficulty(&t) < target::difficulty(&w.target));
    assert_eq!(p.last_work(ch).unwrap().target, t);
    assert_eq!(p.client.channel(ch).unwrap().target, t);
}

#[test]
fn extranonce_prefix_changes_apply_to_later_jobs() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let (ch, _) = p.open_extended(10.0);
    let m = Mining::SetExtranoncePrefix(SetExtranoncePrefix {
        channel_id: ch,
        extranonce_prefix: binary_sv2::B032::new(vec![9; 6]).unwrap(),
    });
    let (e, t, pl) = frame(m.into());
    p.client.handle_frame(e, t, &pl, p.now()).unwrap();
    assert_eq!(
        p.client.poll_event(),
        Some(ClientEvent::SetExtranoncePrefix {
            channel_id: ch,
            prefix: vec![9; 6]
        })
    );
    assert_eq!(p.client.channel(ch).unwrap().extranonce_prefix, vec![9; 6]);
}

#[test]
fn reconnect_and_channel_close_reach_the_client() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let (ch, w) = p.open_extended(10.0);
    let en = vec![1; p.client.channel(ch).unwrap().extranonce_size];
    // A share in flight when the upstream closes the channel is reported closed.
    p.client.submit(share(ch, &w, 1, Some(&en)), 5);
    let m = Mining::CloseChannel(CloseChannel {
        channel_id: ch,
        reason_code: Str0255::new(b"bye".to_vec()).unwrap(),
    });
    let (e, t, pl) = frame(m.into());
    p.client.handle_frame(e, t, &pl, p.now()).unwrap();
    p.events
        .extend(std::iter::from_fn(|| p.client.poll_event()));
    assert!(p.events.contains(&ClientEvent::ShareResult {
        channel_id: ch,
        sequence_number: 0,
        route: 5,
        result: Err(ShareRefusal::Closed)
    }));
    assert!(p.client.channel(ch).is_none());
    p.events.clear();
    p.server.reconnect();
    p.drive();
    assert_eq!(
        p.events,
        vec![ClientEvent::Reconnect {
            new_host: String::new(),
            new_port: 0
        }]
    );
}

#[test]
fn unanswered_shares_time_out_on_the_clock_the_session_asks_for() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig {
            answer_timeout_ms: 5_000,
            ..ClientConfig::default()
        },
    );
    let (ch, w) = p.open_extended(10.0);
    let en = vec![2; p.client.channel(ch).unwrap().extranonce_size];
    // Sent, but the frame is lost on its way.
    p.client.submit(share(ch, &w, 3, Some(&en)), 7);
    while p.client.poll_message().is_some() {}
    assert_eq!(p.client.poll_timeout(), Some(T0 + 5_000));
    p.client.handle_timeout(Now::from_unix_ms(T0 + 4_999));
    assert_eq!(p.client.poll_event(), None);
    p.client.handle_timeout(Now::from_unix_ms(T0 + 5_000));
    assert!(matches!(
        p.client.poll_event(),
        Some(ClientEvent::ShareResult {
            route: 7,
            result: Err(ShareRefusal::Timeout),
            ..
        })
    ));
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn waiting_shares_per_channel_are_bounded() {
    let mut p = Pair::new(
        ServerConfig::default(),
        ClientConfig {
            max_waiting_shares: 2,
            ..ClientConfig::default()
        },
    );
    let (ch, w) = p.open_extended(10.0);
    let en = vec![3; p.client.channel(ch).unwrap().extranonce_size];
    assert!(p.client.submit(share(ch, &w, 1, Some(&en)), 1).is_some());
    assert!(p.client.submit(share(ch, &w, 2, Some(&en)), 2).is_some());
    assert!(p.client.submit(share(ch, &w, 3, Some(&en)), 3).is_none());
    assert!(matches!(
        p.client.poll_event(),
        Some(ClientEvent::ShareResult {
            route: 3,
            result: Err(ShareRefusal::Backlog),
            ..
        })
    ));
    // Wrong extranonce size and unknown channel are refused here too, each answered once.
    assert!(p.client.submit(share(ch, &w, 4, Some(&[1])), 4).is_none());
    assert!(p.client.submit(share(999, &w, 4, None), 5).is_none());
    let r: Vec<_> = std::iter::from_fn(|| p.client.poll_event()).collect();
    assert_eq!(r.len(), 2);
}

/// Work selection: the server reports the custom job, the role accepts it, and shares on it
/// are validated like any other, for that channel only.
#[test]
fn a_custom_job_accepted_by_the_role_is_mined_on_its_channel_only() {
    use roles_logic_sv2::mining_server::ServerEvent;
    let mut p = Pair::with_flags(
        ServerConfig {
            work_selection: true,
            share_batch_size: 1,
            ..ServerConfig::default()
        },
        ClientConfig::default(),
        mining_flags::REQUIRES_WORK_SELECTION,
    );
    let (ch, _) = p.open_extended(10.0);
    let (other, _) = p.open_extended(10.0);
    let c = p.client.channel(ch).unwrap().clone();
    // The job a JDC would declare: the pool's template with another tag.
    let own = template(7, false);
    let (v, seq, outputs, lock) = own.coinbase_fields().unwrap();
    let job = SetCustomMiningJob {
        channel_id: ch,
        request_id: 0,
        mining_job_token: B0255::new(vec![1]).unwrap(),
        version: own.version,
        prev_hash: U256([7; 32]),
        min_ntime: MIN_NTIME + 3,
        nbits: HARD_NBITS,
        coinbase_tx_version: v,
        coinbase_prefix: B0255::new(own.script_sig_prefix().to_vec()).unwrap(),
        coinbase_tx_input_n_sequence: seq,
        coinbase_tx_outputs: B064K::new(outputs).unwrap(),
        coinbase_tx_locktime: lock,
        merkle_path: Seq0255::from_items(own.merkle_path.iter().map(|h| U256(*h))).unwrap(),
    };
    let req = p.client.set_custom_mining_job(job).unwrap();
    p.drive();
    let (m, len) = p
        .server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::CustomJobRequested {
                job,
                extranonce_len,
                ..
            } => Some((job.clone(), *extranonce_len)),
            _ => None,
        })
        .expect("reported to the role");
    assert_eq!(len, c.extranonce_prefix.len() + c.extranonce_size);
    let t = Arc::new(JobTemplate::from_custom_job(&m, len).unwrap());
    let prev = PrevHash {
        template_id: 99,
        prev_hash: [7; 32],
        min_ntime: MIN_NTIME + 3,
        nbits: HARD_NBITS,
    };
    let job_id = p
        .server
        .accept_custom_job(ch, req, t.clone(), prev)
        .unwrap();
    p.drive();
    assert!(p.events.contains(&ClientEvent::CustomJobAccepted {
        request_id: req,
        channel_id: ch,
        job_id
    }));
    // A share on it: the header uses the custom job's root and min_ntime.
    let rolled = vec![0x33; c.extranonce_size];
    let full = [c.extranonce_prefix.clone(), rolled.clone()].concat();
    let root = t.merkle_root(&full).unwrap();
    let nonce = (0u32..)
        .find(|&n| {
            let h = roles_logic_sv2::job::block_header(
                t.version,
                &[7; 32],
                &root,
                MIN_NTIME + 3,
                HARD_NBITS,
                n,
            );
            target::hash_meets_target(&sha256d(&h), &c.target)
        })
        .unwrap();
    let s = Share {
        channel_id: ch,
        job_id,
        nonce,
        ntime: MIN_NTIME + 3,
        version: t.version,
        extranonce: Some(&rolled),
    };
    p.events.clear();
    p.client.submit(s, 1);
    // The same job id on the other channel is not its job.
    let o = p.client.channel(other).unwrap().extranonce_size;
    let wrong = Share {
        channel_id: other,
        extranonce: Some(&vec![0; o]),
        ..s
    };
    p.client.submit(wrong, 2);
    p.drive();
    let mut r = p.results();
    r.sort_by_key(|x| x.0);
    assert_eq!(r[0], (1, Ok(())));
    assert_eq!(
        r[1],
        (
            2,
            Err(ShareRefusal::Upstream(error_codes::INVALID_JOB_ID.into()))
        )
    );
    // A refused one.
    let mut job2 = m.clone();
    job2.request_id = 0;
    let req2 = p.client.set_custom_mining_job(job2).unwrap();
    p.drive();
    p.server
        .refuse_custom_job(ch, req2, "invalid-mining-job-token");
    p.drive();
    assert!(p.events.iter().any(|e| matches!(
        e,
        ClientEvent::CustomJobRefused { request_id, error_code, .. }
            if *request_id == req2 && error_code == "invalid-mining-job-token"
    )));
}

#[test]
fn custom_jobs_without_a_job_declarator_are_refused() {
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let (ch, _) = p.open_extended(10.0);
    let job = SetCustomMiningJob {
        channel_id: ch,
        request_id: 0,
        mining_job_token: B0255::new(vec![1, 2]).unwrap(),
        version: 0x2000_0000,
        prev_hash: U256([7; 32]),
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
        coinbase_tx_version: 2,
        coinbase_prefix: B0255::new(vec![1, 5]).unwrap(),
        coinbase_tx_input_n_sequence: 0xffff_ffff,
        coinbase_tx_outputs: B064K::new(vec![]).unwrap(),
        coinbase_tx_locktime: 0,
        merkle_path: Seq0255::new(),
    };
    let req = p.client.set_custom_mining_job(job).unwrap();
    p.drive();
    assert!(p.events.iter().any(|e| matches!(
        e,
        ClientEvent::CustomJobRefused { request_id, .. } if *request_id == req
    )));
}

#[test]
fn bad_input_closes_the_connection_with_a_reason() {
    let mut c: ClientSession<()> =
        ClientSession::new(ClientConfig::default(), setup_msg(0), Now::from_unix_ms(T0));
    let now = Now::from_unix_ms(T0);
    // A mining message before the setup answer.
    let st = Mining::SetTarget(SetTarget {
        channel_id: 1,
        maximum_target: U256([0; 32]),
    });
    let (e, t, p) = frame(st.into());
    assert_eq!(
        c.handle_frame(e, t, &p, now),
        Err(ClientError::NotSetUp { name: "SetTarget" })
    );
    // A refused setup.
    let err = common_messages_sv2::SetupConnectionError {
        flags: mining_flags::REQUIRES_WORK_SELECTION,
        error_code: Str0255::new(b"unsupported-feature-flags".to_vec()).unwrap(),
    };
    let (e, t, p) =
        frame(roles_logic_sv2::parsers::CommonMessages::SetupConnectionError(err).into());
    assert!(matches!(
        c.handle_frame(e, t, &p, now),
        Err(ClientError::SetupRefused { .. })
    ));
    // Truncated and unknown frames.
    assert!(matches!(
        c.handle_frame(0, SetupConnectionSuccess::MSG_TYPE, &[1, 2], now),
        Err(ClientError::Parser(_))
    ));
    assert!(c.handle_frame(0, 0xfe, &[], now).is_err());
    // An answer to an open nobody asked for.
    let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
    let ok = Mining::OpenExtendedMiningChannelSuccess(OpenExtendedMiningChannelSuccess {
        request_id: 77,
        channel_id: 5,
        target: U256([0xff; 32]),
        extranonce_size: 4,
        extranonce_prefix: binary_sv2::B032::new(vec![]).unwrap(),
        group_channel_id: 1,
    });
    let (e, t, pl) = frame(ok.into());
    assert!(p.client.handle_frame(e, t, &pl, p.now()).is_err());
    // A message only a server receives.
    let (e, t, pl) = frame(AnyMessage::Common(
        roles_logic_sv2::parsers::CommonMessages::SetupConnection(setup_msg(0)),
    ));
    assert!(p.client.handle_frame(e, t, &pl, p.now()).is_err());
}

use common_messages_sv2::SetupConnectionSuccess;

quickcheck! {
    /// Random frames never panic a set-up session.
    fn random_frames_never_panic(frames: Vec<(u8, Vec<u8>)>) -> bool {
        let mut p = Pair::new(ServerConfig::default(), ClientConfig::default());
        for (t, payload) in frames {
            let _ = p.client.handle_frame(0, t, &payload, p.now());
            let _ = p.client.handle_frame(0x8000, t, &payload, p.now());
            while p.client.poll_event().is_some() {}
            p.client.handle_timeout(Now::from_unix_ms(T0 + 1_000_000));
        }
        true
    }
}

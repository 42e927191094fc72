//! A whole mining connection driven without sockets: setup, channels of each kind, jobs,
//! shares good and bad, blocks, vardiff and acknowledgements.

use binary_sv2::{Seq0255, Str0255, B0255, B064K, U256};
use common_messages_sv2::SetupConnection;
use const_sv2::{error_codes, mining_flags};
use framing_sv2::Sv2Message;
use mining_sv2::*;
use roles_logic_sv2::extranonce::ExtranonceAllocator;
use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};
use roles_logic_sv2::mining_client::{ClientChannel, Work};
use roles_logic_sv2::mining_server::{PrevHash, ServerConfig, ServerEvent, Session};
use roles_logic_sv2::parsers::{AnyMessage, CommonMessages, Mining};
use roles_logic_sv2::{sha256d, target, Now};
use std::sync::Arc;

const NOW_MS: u64 = 1_700_000_000_000;
const MIN_NTIME: u32 = 1_700_000_000;
/// Regtest's nbits: about half of all hashes meet it.
const EASY_NBITS: u32 = 0x207f_ffff;
/// A network target no share will meet.
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
        merkle_path: Seq0255::from_items([U256([1; 32]), U256([2; 32])]).unwrap(),
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

fn encode(m: impl Into<AnyMessage<'static>>) -> (u16, u8, Vec<u8>) {
    let m: AnyMessage = m.into();
    let f = m.to_frame().unwrap();
    (
        f.header().extension_type(),
        f.header().msg_type(),
        f.payload().to_vec(),
    )
}

struct Harness {
    s: Session,
    now: u64,
}

impl Harness {
    fn new(cfg: ServerConfig, nbits: u32) -> Self {
        let mut pool = ExtranonceAllocator::new(vec![], 16, 4).unwrap();
        let range = pool.allocate().unwrap();
        let mut s = Session::new(Arc::new(cfg), &range).unwrap();
        s.on_new_template(template(1, true));
        assert!(s.on_set_new_prev_hash(PrevHash {
            template_id: 1,
            prev_hash: [7; 32],
            min_ntime: MIN_NTIME,
            nbits,
        }));
        Harness { s, now: NOW_MS }
    }

    fn feed<M: Into<AnyMessage<'static>>>(
        &mut self,
        m: M,
    ) -> Result<(), roles_logic_sv2::mining_server::SessionError> {
        let (e, t, p) = encode(m);
        self.s.handle_frame(e, t, &p, Now::from_unix_ms(self.now))
    }

    fn out(&mut self) -> Vec<AnyMessage<'static>> {
        std::iter::from_fn(|| self.s.poll_message()).collect()
    }

    fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    fn setup(&mut self, flags: u32) {
        self.feed(CommonMessages::SetupConnection(setup_msg(0, flags)))
            .unwrap();
        match &self.out()[..] {
            [AnyMessage::Common(CommonMessages::SetupConnectionSuccess(s))] => {
                assert_eq!(s.used_version, 2)
            }
            other => panic!("{other:?}"),
        }
    }

    /// Open a channel and return the client end fed with everything the server sent.
    fn open(&mut self, extended: bool, hashrate: f32) -> (ClientChannel, Work) {
        let max_target = U256([0xff; 32]);
        let user = Str0255::new(b"alice.rig1".to_vec()).unwrap();
        if extended {
            self.feed(Mining::OpenExtendedMiningChannel(
                OpenExtendedMiningChannel {
                    request_id: 9,
                    user_identity: user,
                    nominal_hash_rate: hashrate,
                    max_target,
                    min_extranonce_size: 4,
                },
            ))
            .unwrap();
        } else {
            self.feed(Mining::OpenStandardMiningChannel(
                OpenStandardMiningChannel {
                    request_id: 9,
                    user_identity: user,
                    nominal_hash_rate: hashrate,
                    max_target,
                },
            ))
            .unwrap();
        }
        let out = self.out();
        let mut ch = match &out[0] {
            AnyMessage::Mining(Mining::OpenStandardMiningChannelSuccess(m)) => {
                assert_eq!(m.request_id, 9);
                assert_eq!(
                    m.extranonce_prefix.len(),
                    16,
                    "a standard channel's whole extranonce"
                );
                ClientChannel::standard(
                    m.channel_id,
                    m.group_channel_id,
                    m.target.0,
                    m.extranonce_prefix.as_bytes(),
                )
            }
            AnyMessage::Mining(Mining::OpenExtendedMiningChannelSuccess(m)) => {
                assert_eq!(m.extranonce_prefix.len() + m.extranonce_size as usize, 16);
                assert!(m.extranonce_size >= 4);
                ClientChannel::extended(
                    m.channel_id,
                    m.group_channel_id,
                    m.target.0,
                    m.extranonce_prefix.as_bytes(),
                    m.extranonce_size as usize,
                )
            }
            other => panic!("{other:?}"),
        };
        // The first job is a future job, then SetNewPrevHash activates it.
        match &out[1] {
            AnyMessage::Mining(Mining::NewMiningJob(j)) => {
                assert!(!extended && j.min_ntime.is_none())
            }
            AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) => {
                assert!(extended && j.min_ntime.is_none())
            }
            other => panic!("{other:?}"),
        }
        for m in &out[1..] {
            apply(&mut ch, m);
        }
        let work = ch
            .current_work()
            .expect("work after the first job and prevhash");
        (ch, work)
    }
}

fn setup_msg(protocol: u8, flags: u32) -> SetupConnection<'static> {
    SetupConnection {
        protocol,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: Str0255::new(b"127.0.0.1".to_vec()).unwrap(),
        endpoint_port: 3333,
        vendor: Str0255::new(b"test".to_vec()).unwrap(),
        hardware_version: Str0255::new(vec![]).unwrap(),
        firmware: Str0255::new(vec![]).unwrap(),
        device_id: Str0255::new(vec![]).unwrap(),
    }
}

fn apply(ch: &mut ClientChannel, m: &AnyMessage<'_>) -> Option<Work> {
    match m {
        AnyMessage::Mining(Mining::NewMiningJob(j)) if ch.addressed(j.channel_id) => {
            ch.on_new_mining_job(j)
        }
        AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) if ch.addressed(j.channel_id) => {
            ch.on_new_extended_mining_job(j).unwrap()
        }
        AnyMessage::Mining(Mining::SetNewPrevHash(p)) if ch.addressed(p.channel_id) => {
            ch.on_set_new_prev_hash(p)
        }
        AnyMessage::Mining(Mining::SetTarget(t)) if ch.addressed(t.channel_id) => {
            ch.on_set_target(t)
        }
        _ => None,
    }
}

/// Search nonces from `start` for one whose hash does (or does not) meet `t`.
fn find_nonce(
    work: &Work,
    extranonce: &[u8],
    t: &target::Target,
    meets: bool,
    start: u32,
) -> (u32, [u8; 32]) {
    let root = work.merkle_root(extranonce).unwrap();
    (start..)
        .map(|n| {
            (
                n,
                sha256d(&work.header(&root, work.min_ntime, n, work.version)),
            )
        })
        .find(|(_, h)| target::hash_meets_target(h, t) == meets)
        .unwrap()
}

fn submit(
    h: &mut Harness,
    ch: &mut ClientChannel,
    work: &Work,
    nonce: u32,
    ntime: u32,
    version: u32,
    extranonce: &[u8],
) {
    if ch.extended {
        let m = ch
            .submit_extended(work, nonce, ntime, version, extranonce)
            .unwrap();
        h.feed(Mining::SubmitSharesExtended(m)).unwrap();
    } else {
        let m = ch.submit_standard(work, nonce, ntime, version);
        h.feed(Mining::SubmitSharesStandard(m)).unwrap();
    }
}

fn error_code(out: &[AnyMessage<'_>]) -> String {
    match out {
        [AnyMessage::Mining(Mining::SubmitSharesError(e))] => {
            e.error_code.to_string_lossy().into_owned()
        }
        other => panic!("expected one SubmitShares.Error, got {other:?}"),
    }
}

fn cfg() -> ServerConfig {
    ServerConfig {
        share_batch_size: 1,
        ..ServerConfig::default()
    }
}

#[test]
fn setup_is_required_and_checked() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    let err = h
        .feed(Mining::CloseChannel(CloseChannel {
            channel_id: 1,
            reason_code: Str0255::new(vec![]).unwrap(),
        }))
        .unwrap_err();
    assert!(err.to_string().contains("before SetupConnection"), "{err}");

    let mut h = Harness::new(cfg(), HARD_NBITS);
    assert!(h
        .feed(CommonMessages::SetupConnection(setup_msg(2, 0)))
        .is_err());
    match &h.out()[..] {
        [AnyMessage::Common(CommonMessages::SetupConnectionError(e))] => {
            assert_eq!(
                e.error_code.as_bytes(),
                error_codes::UNSUPPORTED_PROTOCOL.as_bytes()
            )
        }
        other => panic!("{other:?}"),
    }

    let mut h = Harness::new(cfg(), HARD_NBITS);
    let mut m = setup_msg(0, 0);
    m.min_version = 3;
    m.max_version = 4;
    assert!(h.feed(CommonMessages::SetupConnection(m)).is_err());

    let mut h = Harness::new(cfg(), HARD_NBITS);
    assert!(h
        .feed(CommonMessages::SetupConnection(setup_msg(
            0,
            mining_flags::REQUIRES_WORK_SELECTION
        )))
        .is_err());
    match &h.out()[..] {
        [AnyMessage::Common(CommonMessages::SetupConnectionError(e))] => {
            assert_eq!(e.flags, mining_flags::REQUIRES_WORK_SELECTION);
            assert_eq!(e.error_code.as_bytes(), b"unsupported-feature-flags");
        }
        other => panic!("{other:?}"),
    }

    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    assert!(
        h.feed(CommonMessages::SetupConnection(setup_msg(0, 0)))
            .is_err(),
        "second setup"
    );
}

#[test]
fn open_channel_errors() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let open = |hr: f32, max: [u8; 32], min_en: u16| {
        Mining::OpenExtendedMiningChannel(OpenExtendedMiningChannel {
            request_id: 3,
            user_identity: Str0255::new(b"u".to_vec()).unwrap(),
            nominal_hash_rate: hr,
            max_target: U256(max),
            min_extranonce_size: min_en,
        })
    };
    for (m, code) in [
        (
            open(f32::NAN, [0xff; 32], 4),
            error_codes::INVALID_NOMINAL_HASHRATE,
        ),
        (
            open(-1.0, [0xff; 32], 4),
            error_codes::INVALID_NOMINAL_HASHRATE,
        ),
        (open(1e6, [0; 32], 4), error_codes::MAX_TARGET_OUT_OF_RANGE),
        (
            open(1e6, [0xff; 32], 11),
            error_codes::MIN_EXTRANONCE_SIZE_TOO_LARGE,
        ),
    ] {
        h.feed(m).unwrap();
        match &h.out()[..] {
            [AnyMessage::Mining(Mining::OpenMiningChannelError(e))] => {
                assert_eq!(e.request_id, 3);
                assert_eq!(e.error_code.as_bytes(), code.as_bytes());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(h.s.channel_count(), 0);
}

#[test]
fn channel_target_respects_max_target() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let max = target::from_difficulty(1000.0);
    h.feed(Mining::OpenStandardMiningChannel(
        OpenStandardMiningChannel {
            request_id: 1,
            user_identity: Str0255::new(b"u".to_vec()).unwrap(),
            nominal_hash_rate: 1.0,
            max_target: U256(max),
        },
    ))
    .unwrap();
    match &h.out()[0] {
        AnyMessage::Mining(Mining::OpenStandardMiningChannelSuccess(m)) => {
            assert_eq!(m.target.0, max)
        }
        other => panic!("{other:?}"),
    }
}

fn good_and_bad_shares(extended: bool, setup_flags: u32) {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(setup_flags);
    let (mut ch, work) = h.open(extended, 1.0);
    h.events();
    let en = vec![0xab; ch.extranonce_size];
    let t = ch.target;

    // A good share: SubmitShares.Success for it (batch size 1).
    let (nonce, hash) = find_nonce(&work, &en, &t, true, 0);
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(s))] => {
            assert_eq!(s.channel_id, ch.channel_id);
            assert_eq!(s.new_submits_accepted_count, 1);
            assert_eq!(s.last_sequence_number, 0);
        }
        other => panic!("{other:?}"),
    }
    match &h.events()[..] {
        [ServerEvent::ShareAccepted(a)] => {
            assert_eq!(a.hash, hash);
            assert_eq!(&*a.user_identity, "alice.rig1");
        }
        other => panic!("{other:?}"),
    }

    // The same share again.
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "duplicate-share");
    // Too easy.
    let (low, _) = find_nonce(&work, &en, &t, false, 0);
    submit(
        &mut h,
        &mut ch,
        &work,
        low,
        work.min_ntime,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "difficulty-too-low");
    // Version bits outside BIP320.
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce + 1,
        work.min_ntime,
        work.version ^ 0x4000_0000,
        &en,
    );
    assert_eq!(error_code(&h.out()), "version-rolling-not-allowed");
    // nTime before min_ntime, and far in the future.
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        work.min_ntime - 1,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "invalid-share");
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        MIN_NTIME + 100_000,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "invalid-share");
    // Unknown job, unknown channel.
    let mut bad = work.clone();
    bad.job_id = 999;
    submit(
        &mut h,
        &mut ch,
        &bad,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "invalid-job-id");
    let mut other = ch.clone();
    other.channel_id = 77;
    submit(
        &mut h,
        &mut other,
        &work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "invalid-channel-id");
    if extended {
        // Wrong extranonce length.
        let m = ch
            .submit_extended(&work, nonce, work.min_ntime, work.version, &en[1..])
            .unwrap();
        h.feed(Mining::SubmitSharesExtended(m)).unwrap();
        assert_eq!(error_code(&h.out()), "bad-extranonce-size");
        // A standard submit on an extended channel has no extranonce.
        let m = ch.submit_standard(&work, nonce, work.min_ntime, work.version);
        h.feed(Mining::SubmitSharesStandard(m)).unwrap();
        assert_eq!(error_code(&h.out()), "bad-extranonce-size");
    }
    // Version rolling inside the mask is fine.
    let rolled = work.version | 0x0000_e000;
    let root = work.merkle_root(&en).unwrap();
    let n = (0u32..)
        .find(|&n| {
            target::hash_meets_target(&sha256d(&work.header(&root, work.min_ntime, n, rolled)), &t)
        })
        .unwrap();
    submit(&mut h, &mut ch, &work, n, work.min_ntime, rolled, &en);
    assert!(matches!(
        &h.out()[..],
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(_))]
    ));

    // New tip: the old job is stale, the new one works.
    h.s.on_new_template(template(2, true));
    for m in h.out() {
        apply(&mut ch, &m);
    }
    assert!(h.s.on_set_new_prev_hash(PrevHash {
        template_id: 2,
        prev_hash: [8; 32],
        min_ntime: MIN_NTIME + 10,
        nbits: HARD_NBITS,
    }));
    let mut new_work = None;
    for m in h.out() {
        if let Some(w) = apply(&mut ch, &m) {
            new_work = Some(w);
        }
    }
    let new_work = new_work.expect("new work after the tip");
    assert_ne!(new_work.job_id, work.job_id);
    let (n2, _) = find_nonce(&work, &en, &t, true, nonce + 1);
    submit(
        &mut h,
        &mut ch,
        &work,
        n2,
        MIN_NTIME + 10,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "stale-share");
    let (n3, _) = find_nonce(&new_work, &en, &ch.target, true, 0);
    submit(
        &mut h,
        &mut ch,
        &new_work,
        n3,
        new_work.min_ntime,
        new_work.version,
        &en,
    );
    assert!(matches!(
        &h.out()[..],
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(_))]
    ));
    // Nothing here was a block: the network target is out of reach.
    assert!(!h
        .events()
        .iter()
        .any(|e| matches!(e, ServerEvent::BlockFound(_))));
}

#[test]
fn extended_channel_shares() {
    good_and_bad_shares(true, 0);
}

#[test]
fn standard_channel_shares_with_standard_jobs() {
    good_and_bad_shares(false, mining_flags::REQUIRES_STANDARD_JOBS);
}

#[test]
fn grouped_standard_channel_shares() {
    good_and_bad_shares(false, 0);
}

#[test]
fn group_members_get_one_broadcast_per_job() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (a, _) = h.open(false, 1.0);
    let (b, _) = h.open(false, 1.0);
    assert_eq!(a.group_channel_id, b.group_channel_id);
    h.s.on_new_template(template(5, false));
    let out = h.out();
    assert_eq!(out.len(), 1, "{out:?}");
    match &out[0] {
        AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) => {
            assert_eq!(j.channel_id, a.group_channel_id);
            assert_eq!(
                j.min_ntime,
                Some(MIN_NTIME),
                "a job on the current tip is active"
            );
        }
        other => panic!("{other:?}"),
    }
    // Closing the group closes its members.
    h.feed(Mining::CloseChannel(CloseChannel {
        channel_id: a.group_channel_id,
        reason_code: Str0255::new(vec![]).unwrap(),
    }))
    .unwrap();
    assert_eq!(h.s.channel_count(), 0);
}

#[test]
fn blocks_are_reported_with_a_full_coinbase() {
    let mut h = Harness::new(cfg(), EASY_NBITS);
    h.setup(0);
    let (mut ch, work) = h.open(true, 1.0);
    h.events();
    let en = vec![1; ch.extranonce_size];
    let net = target::from_nbits(EASY_NBITS);
    let t = target::harder(ch.target, net);
    let (nonce, hash) = find_nonce(&work, &en, &t, true, 0);
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    let block = h
        .events()
        .into_iter()
        .find_map(|e| match e {
            ServerEvent::BlockFound(b) => Some(b),
            _ => None,
        })
        .expect("block");
    assert_eq!(block.block_hash, hash);
    assert_eq!(block.template_id, 1);
    assert_eq!(block.header_nonce, nonce);
    let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&block.coinbase_tx).unwrap();
    assert!(tx.is_coinbase());
}

#[test]
fn acknowledgements_are_batched() {
    let mut h = Harness::new(
        ServerConfig {
            share_batch_size: 3,
            ..ServerConfig::default()
        },
        HARD_NBITS,
    );
    h.setup(0);
    let (mut ch, work) = h.open(true, 1.0);
    let en = vec![0; ch.extranonce_size];
    let mut start = 0;
    for _ in 0..4 {
        let (n, _) = find_nonce(&work, &en, &ch.target, true, start);
        start = n + 1;
        submit(&mut h, &mut ch, &work, n, work.min_ntime, work.version, &en);
    }
    let acks: Vec<SubmitSharesSuccess> = h
        .out()
        .into_iter()
        .filter_map(|m| match m {
            AnyMessage::Mining(Mining::SubmitSharesSuccess(s)) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(
        (
            acks[0].new_submits_accepted_count,
            acks[0].last_sequence_number
        ),
        (3, 2)
    );
    h.s.flush_share_acks();
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(s))] => {
            assert_eq!(
                (s.new_submits_accepted_count, s.last_sequence_number),
                (1, 3)
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn vardiff_raises_difficulty_of_a_fast_channel() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (mut ch, work) = h.open(true, 1.0);
    let en = vec![0; ch.extranonce_size];
    let t0 = ch.target;
    let mut start = 0;
    for _ in 0..30 {
        let (n, _) = find_nonce(&work, &en, &t0, true, start);
        start = n + 1;
        submit(&mut h, &mut ch, &work, n, work.min_ntime, work.version, &en);
    }
    h.out();
    h.now += 10_000;
    h.s.handle_timeout(Now::from_unix_ms(h.now));
    let set = h
        .out()
        .into_iter()
        .find_map(|m| match m {
            AnyMessage::Mining(Mining::SetTarget(t)) => Some(t),
            _ => None,
        })
        .expect("SetTarget");
    assert!(target::to_f64(&set.maximum_target.0) < target::to_f64(&t0));
    // A share at the old target is still taken during the grace period.
    let (n, _) = find_nonce(&work, &en, &t0, true, start);
    let meets_new = target::hash_meets_target(
        &sha256d(&work.header(
            &work.merkle_root(&en).unwrap(),
            work.min_ntime,
            n,
            work.version,
        )),
        &set.maximum_target.0,
    );
    submit(&mut h, &mut ch, &work, n, work.min_ntime, work.version, &en);
    let out = h.out();
    assert!(
        matches!(
            &out[..],
            [AnyMessage::Mining(Mining::SubmitSharesSuccess(_))]
        ),
        "{out:?} {meets_new}"
    );
}

#[test]
fn update_channel_lowers_the_target_to_the_new_maximum() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (ch, _) = h.open(true, 1.0);
    let max = target::from_difficulty(5000.0);
    h.feed(Mining::UpdateChannel(UpdateChannel {
        channel_id: ch.channel_id,
        nominal_hash_rate: 1.0,
        maximum_target: U256(max),
    }))
    .unwrap();
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SetTarget(t))] => assert_eq!(t.maximum_target.0, max),
        other => panic!("{other:?}"),
    }
    h.feed(Mining::UpdateChannel(UpdateChannel {
        channel_id: 999,
        nominal_hash_rate: 1.0,
        maximum_target: U256(max),
    }))
    .unwrap();
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::UpdateChannelError(e))] => {
            assert_eq!(e.error_code.as_bytes(), b"invalid-channel-id")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_direction_and_garbage_close_the_connection_only() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    assert!(h
        .feed(Mining::SetTarget(SetTarget {
            channel_id: 1,
            maximum_target: U256([0; 32])
        }))
        .is_err());
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    assert!(h
        .s
        .handle_frame(
            0,
            SubmitSharesStandard::MSG_TYPE,
            &[1, 2, 3],
            Now::from_unix_ms(NOW_MS)
        )
        .is_err());
    assert!(h
        .s
        .handle_frame(0, 0xee, &[], Now::from_unix_ms(NOW_MS))
        .is_err());
}

#[test]
fn random_frames_never_panic() {
    fn prop(msg_type: u8, payload: Vec<u8>) -> bool {
        let mut h = Harness::new(cfg(), EASY_NBITS);
        h.setup(0);
        let _ = h.open(true, 1.0);
        let _ =
            h.s.handle_frame(0, msg_type, &payload, Now::from_unix_ms(NOW_MS));
        let _ =
            h.s.handle_frame(0, 0x1b, &payload, Now::from_unix_ms(NOW_MS));
        let _ =
            h.s.handle_frame(0, 0x1a, &payload, Now::from_unix_ms(NOW_MS));
        h.s.handle_timeout(Now::from_unix_ms(NOW_MS + 100_000));
        true
    }
    quickcheck::QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(u8, Vec<u8>) -> bool);
}

#[test]
fn new_extended_job_seen_by_a_client_gives_the_servers_root() {
    // The client's merkle root for a share equals the one the server checks: otherwise no
    // share could pass, so `good_and_bad_shares` covers it; here the job also survives the wire.
    let t = template(3, true);
    let job = NewExtendedMiningJob {
        channel_id: 1,
        job_id: 1,
        min_ntime: None,
        version: t.version,
        version_rolling_allowed: true,
        merkle_path: Seq0255::from_items(t.merkle_path.iter().map(|h| U256(*h))).unwrap(),
        coinbase_tx_prefix: B064K::new(t.coinbase_tx_prefix.clone()).unwrap(),
        coinbase_tx_suffix: B064K::new(t.coinbase_tx_suffix.clone()).unwrap(),
    };
    let (e, ty, p) = encode(Mining::NewExtendedMiningJob(job));
    let back = match AnyMessage::parse(e, ty, &p).unwrap() {
        AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) => j,
        other => panic!("{other:?}"),
    };
    let mut ch = ClientChannel::extended(1, 1, [0xff; 32], &[0; 6], 10);
    assert!(
        ch.on_new_extended_mining_job(&back).unwrap().is_none(),
        "future job"
    );
}

/// The proxy's path: shares that meet the upstream target wait for the upstream's answer;
/// the others are acknowledged at once.
#[test]
fn forwarded_shares_wait_for_the_upstream_answer() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (mut ch, work) = h.open(true, 1.0);
    let en = vec![0; ch.extranonce_size];
    // About one channel share in four meets the upstream target.
    let upstream = target::from_f64(target::to_f64(&ch.target) / 4.0);
    h.s.set_upstream_target(Some(upstream));
    assert!(h.out().is_empty(), "the channel target is already easier");
    h.events();

    let (n, _) = find_nonce(&work, &en, &upstream, true, 0);
    submit(&mut h, &mut ch, &work, n, work.min_ntime, work.version, &en);
    assert!(h.out().is_empty(), "no answer before the upstream's");
    let accepted = match &h.events()[..] {
        [ServerEvent::ShareAccepted(s)] => s.clone(),
        other => panic!("{other:?}"),
    };
    assert!(accepted.forward);
    assert_eq!(accepted.sequence_number, 0);

    // A share under the channel target only is answered by the session itself.
    let mut start = 0;
    let n2 = loop {
        let (n2, hash) = find_nonce(&work, &en, &ch.target, true, start);
        if !target::hash_meets_target(&hash, &upstream) {
            break n2;
        }
        start = n2 + 1;
    };
    submit(
        &mut h,
        &mut ch,
        &work,
        n2,
        work.min_ntime,
        work.version,
        &en,
    );
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(s))] => {
            assert_eq!(
                (s.last_sequence_number, s.new_submits_accepted_count),
                (1, 1)
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&h.events()[..], [ServerEvent::ShareAccepted(s)] if !s.forward));

    // The upstream accepts the first share: now it is acknowledged.
    h.s.resolve_forwarded_share(ch.channel_id, 0, accepted.difficulty, Ok(()));
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(s))] => {
            assert_eq!(
                (s.last_sequence_number, s.new_submits_accepted_count),
                (0, 1)
            )
        }
        other => panic!("{other:?}"),
    }

    // Another forwarded share that the upstream refuses: the miner gets the upstream's code.
    let (n3, _) = find_nonce(&work, &en, &upstream, true, n + 1);
    submit(
        &mut h,
        &mut ch,
        &work,
        n3,
        work.min_ntime,
        work.version,
        &en,
    );
    assert!(h.out().is_empty());
    h.events();
    h.s.resolve_forwarded_share(ch.channel_id, 2, 1.0, Err(error_codes::STALE_SHARE));
    assert_eq!(error_code(&h.out()), error_codes::STALE_SHARE);
    assert!(matches!(
        &h.events()[..],
        [ServerEvent::ShareRejected { sequence_number: 2, error, .. }]
            if error.error_code() == error_codes::STALE_SHARE
    ));
    // Answers for channels that are gone are dropped.
    h.s.resolve_forwarded_share(999, 3, 1.0, Ok(()));
    h.s.resolve_forwarded_share(999, 3, 1.0, Err("x"));
    h.s.flush_share_acks();
    assert!(h.out().is_empty());
}

/// A channel's target is never harder than the upstream's, or the proxy would drop shares
/// the pool credits; it follows the upstream target when it changes.
#[test]
fn upstream_target_caps_channel_difficulty() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (ch, _) = h.open(true, 1e15);
    let upstream = target::from_difficulty(1.0);
    assert!(target::to_f64(&ch.target) < target::to_f64(&upstream));
    h.s.set_upstream_target(Some(upstream));
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SetTarget(t))] => {
            assert_eq!(
                (t.channel_id, t.maximum_target.0),
                (ch.channel_id, upstream)
            )
        }
        other => panic!("{other:?}"),
    }
    // Without an upstream target, vardiff's own target again.
    h.s.set_upstream_target(None);
    match &h.out()[..] {
        [AnyMessage::Mining(Mining::SetTarget(t))] => assert_eq!(t.maximum_target.0, ch.target),
        other => panic!("{other:?}"),
    }
}

/// An upstream that requires a fixed version: downstreams that require rolling are refused,
/// the others are told so, and rolled shares are refused.
#[test]
fn fixed_version_is_passed_down() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.s.set_version_rolling(false);
    let err = h
        .feed(CommonMessages::SetupConnection(setup_msg(
            0,
            mining_flags::REQUIRES_VERSION_ROLLING,
        )))
        .unwrap_err();
    assert!(
        err.to_string().contains("unsupported-feature-flags"),
        "{err}"
    );
    match &h.out()[..] {
        [AnyMessage::Common(CommonMessages::SetupConnectionError(e))] => {
            assert_eq!(e.flags, mining_flags::REQUIRES_VERSION_ROLLING)
        }
        other => panic!("{other:?}"),
    }

    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.s.set_version_rolling(false);
    h.feed(CommonMessages::SetupConnection(setup_msg(0, 0)))
        .unwrap();
    match &h.out()[..] {
        [AnyMessage::Common(CommonMessages::SetupConnectionSuccess(s))] => {
            assert_eq!(s.flags, mining_flags::SUCCESS_REQUIRES_FIXED_VERSION)
        }
        other => panic!("{other:?}"),
    }
    let (mut ch, work) = h.open(true, 1.0);
    assert!(!work.version_rolling_allowed);
    let en = vec![0; ch.extranonce_size];
    let rolled = work.version | 0x0000_2000;
    submit(&mut h, &mut ch, &work, 0, work.min_ntime, rolled, &en);
    assert_eq!(
        error_code(&h.out()),
        error_codes::VERSION_ROLLING_NOT_ALLOWED
    );
}

/// A job from an upstream that forbids rolling keeps that flag down to the miner.
#[test]
fn upstream_jobs_without_rolling_are_enforced() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (mut ch, _) = h.open(true, 1.0);
    let mut t = (*template(2, false)).clone();
    t.version_rolling_allowed = false;
    h.s.on_new_template(Arc::new(t));
    let mut work = None;
    for m in h.out() {
        if let AnyMessage::Mining(Mining::NewExtendedMiningJob(j)) = &m {
            assert!(!j.version_rolling_allowed);
        }
        work = apply(&mut ch, &m).or(work);
    }
    let work = work.expect("the new job is mined at once");
    let en = vec![0; ch.extranonce_size];
    submit(
        &mut h,
        &mut ch,
        &work,
        0,
        work.min_ntime,
        work.version | 0x4000,
        &en,
    );
    assert_eq!(
        error_code(&h.out()),
        error_codes::VERSION_ROLLING_NOT_ALLOWED
    );
}

/// A session that fell behind its job broadcast is brought up to date by replaying the
/// templates and the tip it already has. Before, the replayed tip opened a new epoch, which
/// emptied the duplicate set: the same header was credited twice.
#[test]
fn replaying_known_templates_and_tip_does_not_credit_a_share_twice() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (mut ch, work) = h.open(true, 1.0);
    h.events();
    let en = vec![0x11; ch.extranonce_size];
    let (nonce, _) = find_nonce(&work, &en, &ch.target, true, 0);
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    assert!(matches!(
        &h.out()[..],
        [AnyMessage::Mining(Mining::SubmitSharesSuccess(_))]
    ));
    h.events();

    // The replay a lagged feed does: the active template again, as a future one, its tip.
    let mut again = (*template(1, true)).clone();
    again.future = true;
    h.s.on_new_template(Arc::new(again));
    assert!(h.s.on_set_new_prev_hash(PrevHash {
        template_id: 1,
        prev_hash: [7; 32],
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
    }));
    let resent = h.out();
    for m in &resent {
        apply(&mut ch, m);
    }
    // The same header, on whatever job the miner now holds for this template.
    let now_work = ch.current_work().unwrap();
    submit(
        &mut h,
        &mut ch,
        &now_work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "duplicate-share");
    assert!(resent.is_empty(), "nothing new to send: {resent:?}");
    assert!(matches!(
        &h.events()[..],
        [ServerEvent::ShareRejected { .. }]
    ));

    // A real new tip still opens a new epoch: the old job is stale.
    h.s.on_new_template(template(2, true));
    assert!(h.s.on_set_new_prev_hash(PrevHash {
        template_id: 2,
        prev_hash: [8; 32],
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
    }));
    h.out();
    submit(
        &mut h,
        &mut ch,
        &work,
        nonce,
        work.min_ntime,
        work.version,
        &en,
    );
    assert_eq!(error_code(&h.out()), "stale-share");
}

#[test]
fn min_share_difficulty_floors_a_tiny_declared_hashrate() {
    let floor = 0.5;
    let mut h = Harness::new(
        ServerConfig {
            min_share_difficulty: floor,
            ..cfg()
        },
        HARD_NBITS,
    );
    h.setup(0);
    // 1 h/s would give a target every hash meets.
    let (ch, _) = h.open(true, 1.0);
    let d = target::difficulty(&ch.target);
    assert!((d - floor).abs() < 1e-9, "difficulty {d}");
    // Without the floor the same channel gets an almost free target.
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    let (ch, _) = h.open(true, 1.0);
    assert!(target::difficulty(&ch.target) < 1e-6);
}

/// On a test network the block target may be easier than what vardiff asks: every hash that
/// is a block must still reach the pool.
#[test]
fn a_channel_target_is_never_harder_than_the_network_target() {
    let mut h = Harness::new(cfg(), EASY_NBITS);
    h.setup(0);
    let (ch, _) = h.open(true, 1e15);
    assert_eq!(ch.target, target::from_nbits(EASY_NBITS));
    // A harder network tip later lets vardiff's target apply again, with a SetTarget.
    let mut h = Harness::new(cfg(), EASY_NBITS);
    h.setup(0);
    let (ch, _) = h.open(true, 1e15);
    h.s.on_new_template(template(2, true));
    assert!(h.s.on_set_new_prev_hash(PrevHash {
        template_id: 2,
        prev_hash: [8; 32],
        min_ntime: MIN_NTIME,
        nbits: HARD_NBITS,
    }));
    let set_target = h.out().into_iter().find_map(|m| match m {
        AnyMessage::Mining(Mining::SetTarget(t)) => Some(t),
        _ => None,
    });
    let t = set_target.expect("SetTarget after the network target moved");
    assert_eq!(t.channel_id, ch.channel_id);
    assert!(target::difficulty(&t.maximum_target.0) > target::difficulty(&ch.target));
}

#[test]
fn reconnect_asks_the_downstream_to_come_back_to_the_same_server() {
    let mut h = Harness::new(cfg(), HARD_NBITS);
    h.setup(0);
    h.s.reconnect();
    match &h.out()[..] {
        [AnyMessage::Common(CommonMessages::Reconnect(r))] => {
            assert!(r.new_host.as_bytes().is_empty());
            assert_eq!(r.new_port, 0);
        }
        other => panic!("{other:?}"),
    }
}

//! roles_logic_sv2's `mining_server::Session`: what a pool runs for each downstream.

use binary_sv2::{Seq0255, B0255, B064K, U256};
use framing_sv2::Frame;
use roles_logic_sv2::extranonce::ExtranonceAllocator;
use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};
use roles_logic_sv2::mining_server::{PrevHash, ServerConfig, ServerEvent, Session};
use roles_logic_sv2::parsers::AnyMessage;
use roles_logic_sv2::{target, Now};
use std::collections::HashSet;
use std::sync::Arc;

/// Frames with this raw extension_type (not a real extension: 0x7fff with the channel bit)
/// are the application's commands instead of a downstream's message.
pub const COMMAND_EXTENSION: u16 = 0xffff;
/// Commands, by msg_type.
pub const CMD_TICK: u8 = 0;
pub const CMD_TEMPLATE: u8 = 1;
pub const CMD_NEW_TIP: u8 = 2;
pub const CMD_FLUSH: u8 = 3;
pub const CMD_UPSTREAM_TARGET: u8 = 4;

pub(crate) const NOW_MS: u64 = 1_700_000_000_000;
pub(crate) const MIN_NTIME: u32 = 1_700_000_000;
const MAX_CHANNELS: usize = 8;
/// Regtest's nbits: about half of all hashes meet it, so block paths run too.
const EASY_NBITS: u32 = 0x207f_ffff;

fn template(id: u64, future: bool) -> Arc<JobTemplate> {
    let t = template_distribution_sv2::NewTemplate {
        template_id: id,
        future_template: future,
        version: 0x2000_0000,
        coinbase_tx_version: 2,
        coinbase_prefix: B0255::new(vec![0x01, 0x05]).expect("short"),
        coinbase_tx_input_sequence: 0xffff_ffff,
        coinbase_tx_value_remaining: 5_000_000_000,
        coinbase_tx_outputs_count: 0,
        coinbase_tx_outputs: B064K::new(vec![]).expect("empty"),
        coinbase_tx_locktime: 0,
        merkle_path: Seq0255::from_items([U256([1; 32]), U256([2; 32])]).expect("two"),
    };
    let cfg = CoinbaseConfig {
        payout_outputs: vec![PayoutOutput {
            script_pubkey: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
            weight: 1,
        }],
        pool_tag: b"fuzz".to_vec(),
        extranonce_len: 16,
    };
    Arc::new(JobTemplate::from_template(&t, &cfg).expect("a valid template"))
}

/// Hashes of the shares accepted so far in the session: the same header twice would be the
/// same work credited twice.
type Credited = HashSet<[u8; 32]>;

fn drain(s: &mut Session, nbits: u32, credited: &mut Credited) {
    while let Some(m) = s.poll_message() {
        let f = m
            .to_frame()
            .unwrap_or_else(|e| panic!("{} does not encode: {e}", m.name()));
        let h = f.header();
        let back = AnyMessage::parse(h.extension_type(), h.msg_type(), f.payload())
            .unwrap_or_else(|e| panic!("{} does not parse back: {e}", m.name()));
        assert_eq!(back.name(), m.name());
    }
    while let Some(e) = s.poll_event() {
        match e {
            ServerEvent::BlockFound(b) => assert!(
                target::hash_meets_target(&b.block_hash, &target::from_nbits(nbits)),
                "a block that does not meet the network target"
            ),
            ServerEvent::ShareAccepted(a) => assert!(
                credited.insert(a.hash),
                "the same header credited twice: {a:?}"
            ),
            _ => {}
        }
    }
}

/// The pool's per-connection logic fed a downstream's frames. The session starts with a
/// template and a prev hash (so jobs exist and shares are judged); the input is a sequence of
/// Sv2 frames (header and payload, as on the wire), each handed to `handle_frame` as
/// (extension_type, msg_type, payload), until one is an error that closes the connection.
/// Frames with extension_type 0xffff are the application's commands instead (see the
/// `CMD_*` constants): a clock tick, a new template, a new tip, flushing acknowledgements,
/// an upstream target. Every message the session queues must encode and parse back, a block
/// must meet the network target, and no header may be credited twice.
pub fn mining_session(data: &[u8]) {
    let mut pool = ExtranonceAllocator::new(vec![], 16, 4).expect("allocator");
    let range = pool.allocate().expect("a range");
    let cfg = ServerConfig {
        share_batch_size: 3,
        max_channels: MAX_CHANNELS,
        ..ServerConfig::default()
    };
    let mut s = Session::new(Arc::new(cfg), &range).expect("session");
    let mut template_id = 1;
    s.on_new_template(template(template_id, true));
    let mut tip = PrevHash {
        template_id,
        prev_hash: [7; 32],
        min_ntime: MIN_NTIME,
        nbits: EASY_NBITS,
    };
    assert!(s.on_set_new_prev_hash(tip));
    let mut credited = Credited::new();
    drain(&mut s, EASY_NBITS, &mut credited);

    let mut now = NOW_MS;
    let mut rest = data;
    while let Ok((f, after)) = Frame::parse_prefix(rest) {
        rest = after;
        now += 250;
        let h = f.header;
        if h.raw_extension_type() == COMMAND_EXTENSION {
            match h.msg_type() {
                CMD_TICK => {
                    now += 60_000;
                    s.handle_timeout(Now::from_unix_ms(now));
                }
                CMD_TEMPLATE => {
                    template_id += 1;
                    s.on_new_template(template(template_id, false));
                }
                CMD_NEW_TIP => {
                    template_id += 1;
                    s.on_new_template(template(template_id, true));
                    tip.template_id = template_id;
                    tip.prev_hash[0] = tip.prev_hash[0].wrapping_add(1);
                    tip.min_ntime += 600;
                    assert!(s.on_set_new_prev_hash(tip));
                }
                CMD_FLUSH => s.flush_share_acks(),
                CMD_UPSTREAM_TARGET => {
                    let t = f.payload.first_chunk::<32>().copied();
                    s.set_upstream_target(t);
                }
                _ => {}
            }
            drain(&mut s, EASY_NBITS, &mut credited);
            continue;
        }
        let r = s.handle_frame(
            h.raw_extension_type(),
            h.msg_type(),
            f.payload,
            Now::from_unix_ms(now),
        );
        drain(&mut s, EASY_NBITS, &mut credited);
        assert!(
            s.channel_count() <= MAX_CHANNELS,
            "more channels than allowed"
        );
        if r.is_err() {
            break;
        }
    }
}

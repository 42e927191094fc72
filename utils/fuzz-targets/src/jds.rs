//! roles_logic_sv2's `job_declaration::JdsSession`: what the pool's job declaration server runs
//! for each job declaration client.

use crate::session::{CMD_NEW_TIP, CMD_TICK, COMMAND_EXTENSION};
use binary_sv2::{Decodable, Encodable, Seq0255, B0255, B064K, U256};
use framing_sv2::Frame;
use job_declaration_sv2::DeclareMiningJob;
use roles_logic_sv2::bitcoin::ScriptBuf;
use roles_logic_sv2::job::{CoinbaseConfig, JobTemplate, PayoutOutput};
use roles_logic_sv2::job_declaration::{JdsEvent, JdsSession, JobRegistry, RegistryConfig, Tip};
use roles_logic_sv2::parsers::{AnyMessage, JobDeclaration};
use roles_logic_sv2::Now;

const NOW_MS: u64 = 1_700_000_000_000;
const HEIGHT: u32 = 800_000;
const MAX_TOKENS: usize = 64;

/// A DeclareMiningJob whose token is this placeholder gets the last token the session
/// allocated instead (tokens are unguessable, so the fuzzer could not find one).
pub const TOKEN_PLACEHOLDER: &[u8] = b"TOKEN";

fn pool_script() -> ScriptBuf {
    let mut s = vec![0x00, 0x14];
    s.extend([0xab; 20]);
    ScriptBuf::from_bytes(s)
}

fn registry(coinbase_only: bool) -> JobRegistry {
    let mut r = JobRegistry::new(
        RegistryConfig {
            pool_payout: pool_script(),
            extra_outputs: vec![],
            min_pool_payout_fraction: 0.5,
            max_tokens: MAX_TOKENS,
            max_tokens_per_connection: 8,
            token_ttl_ms: 600_000,
            coinbase_only,
        },
        [7; 32],
    );
    r.set_tip(tip(HEIGHT, 1));
    r
}

fn tip(height: u32, tag: u8) -> Tip {
    Tip {
        prev_hash: [tag; 32],
        height,
        nbits: 0x207f_ffff,
    }
}

/// The coinbase of a job with no other transactions that pays the pool everything: what a
/// client declares (prefix and suffix around an 8-byte extranonce).
pub(crate) fn declared_coinbase(height: u32) -> (Vec<u8>, Vec<u8>) {
    let mut script_sig = vec![0x03];
    script_sig.extend_from_slice(&height.to_le_bytes()[..3]);
    let t = template_distribution_sv2::NewTemplate {
        template_id: 5,
        future_template: false,
        version: 0x2000_0000,
        coinbase_tx_version: 2,
        coinbase_prefix: B0255::new(script_sig).expect("short"),
        coinbase_tx_input_sequence: 0xffff_ffff,
        coinbase_tx_value_remaining: 312_500_000,
        coinbase_tx_outputs_count: 0,
        coinbase_tx_outputs: B064K::new(vec![]).expect("empty"),
        coinbase_tx_locktime: 0,
        merkle_path: Seq0255::from_items(Vec::<U256>::new()).expect("empty"),
    };
    let cfg = CoinbaseConfig {
        payout_outputs: vec![PayoutOutput {
            script_pubkey: pool_script(),
            weight: 1,
        }],
        pool_tag: b"jdc".to_vec(),
        extranonce_len: 8,
    };
    JobTemplate::from_template(&t, &cfg)
        .and_then(|j| j.full_coinbase_parts())
        .expect("a valid job")
}

fn drain(s: &mut JdsSession, reg: &mut JobRegistry, token: &mut Option<Vec<u8>>) {
    loop {
        let mut lookups = Vec::new();
        while let Some(e) = s.poll_event() {
            if let JdsEvent::LookupTransactions { request_id, wtxids } = e {
                lookups.push((request_id, wtxids.len()));
            }
        }
        while let Some(m) = s.poll_message() {
            let f = m
                .to_frame()
                .unwrap_or_else(|e| panic!("{} does not encode: {e}", m.name()));
            let h = f.header();
            AnyMessage::parse(h.extension_type(), h.msg_type(), f.payload())
                .unwrap_or_else(|e| panic!("{} does not parse back: {e}", m.name()));
            if let AnyMessage::JobDeclaration(JobDeclaration::AllocateMiningJobTokenSuccess(a)) = &m
            {
                *token = Some(a.mining_job_token.as_bytes().to_vec());
            }
        }
        if lookups.is_empty() {
            return;
        }
        // The node's mempool has none of them: the client is asked for them.
        for (request_id, n) in lookups {
            s.mempool_answer(request_id, vec![None; n], reg);
        }
    }
}

/// The job declaration server's per-connection logic fed a client's frames, like
/// [`crate::mining_session`]: the first byte chooses coinbase-only mode (bit 0), the rest is
/// a sequence of frames; extension_type 0xffff frames are commands (msg_type 0: the clock
/// moves a minute; 2: a new tip). A DeclareMiningJob whose token is `TOKEN` is sent with the
/// last token the server allocated. Every message queued must encode and parse back.
pub fn jds_session(data: &[u8]) {
    let Some((&c, mut rest)) = data.split_first() else {
        return;
    };
    let mut reg = registry(c & 1 == 1);
    let mut now = Now::from_unix_ms(NOW_MS);
    let mut s = JdsSession::new(1, now);
    let mut token = None;
    let mut height = HEIGHT;
    while let Ok((f, after)) = Frame::parse_prefix(rest) {
        rest = after;
        now = Now::from_unix_ms(now.monotonic_ms + 250);
        let h = f.header;
        if h.raw_extension_type() == COMMAND_EXTENSION {
            match h.msg_type() {
                CMD_TICK => {
                    now = Now::from_unix_ms(now.monotonic_ms + 60_000);
                    s.handle_timeout(now, &mut reg);
                }
                CMD_NEW_TIP => {
                    height += 1;
                    reg.set_tip(tip(height, height as u8));
                    s.handle_timeout(now, &mut reg);
                }
                _ => {}
            }
            drain(&mut s, &mut reg, &mut token);
            continue;
        }
        let mut payload = f.payload.to_vec();
        if h.extension_type() == 0 && h.msg_type() == const_sv2::MESSAGE_TYPE_DECLARE_MINING_JOB {
            if let (Ok(mut m), Some(t)) = (DeclareMiningJob::decode(f.payload), &token) {
                if m.mining_job_token.as_bytes() == TOKEN_PLACEHOLDER {
                    m.mining_job_token = B0255::new(t.clone()).expect("a token fits");
                    payload = vec![0; m.encoded_len()];
                    m.encode(&mut payload).expect("encode");
                }
            }
        }
        let r = s.handle_frame(
            h.raw_extension_type(),
            h.msg_type(),
            &payload,
            now,
            &mut reg,
        );
        drain(&mut s, &mut reg, &mut token);
        assert!(reg.len() <= MAX_TOKENS, "the registry grew past max_tokens");
        if r.is_err() {
            break;
        }
    }
}

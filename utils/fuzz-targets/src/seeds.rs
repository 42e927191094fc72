//! Seed inputs for every target, built from real encoded messages so the fuzzers start deep:
//! the frames of test/vectors/sv2-messages.jsonl (given by the caller), real handshake
//! messages made with the targets' fixed keys, encrypted frames, Sv1 sessions, and a mining
//! session that sets up, opens channels and submits shares. `examples/seed_corpus.rs`
//! writes them under fuzz/corpus/.

use crate::codec::{initiator, responder, NOW};
use crate::session::{
    CMD_FLUSH, CMD_NEW_TIP, CMD_TEMPLATE, CMD_TICK, COMMAND_EXTENSION, MIN_NTIME,
};
use binary_sv2::{Seq064K, Str0255, B016M, B0255, B032, B064K, U256};
use common_messages_sv2::SetupConnection;
use framing_sv2::Frame;
use mining_sv2::{
    OpenExtendedMiningChannel, OpenStandardMiningChannel, SubmitSharesExtended,
    SubmitSharesStandard, UpdateChannel,
};
use roles_logic_sv2::parsers::{
    AnyMessage, CommonMessages, JobDeclaration, MessageInfo, Mining, TemplateDistribution,
};

fn frame_of(m: impl Into<AnyMessage<'static>>) -> Vec<u8> {
    let m: AnyMessage<'static> = m.into();
    m.to_frame().expect("frame").as_bytes().to_vec()
}

fn command(msg_type: u8, payload: &[u8]) -> Vec<u8> {
    let h =
        framing_sv2::Header::new(COMMAND_EXTENSION, true, msg_type, payload.len()).expect("header");
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn setup(flags: u32) -> Vec<u8> {
    frame_of(CommonMessages::SetupConnection(SetupConnection {
        protocol: 0,
        min_version: 2,
        max_version: 2,
        flags,
        endpoint_host: Str0255::new(b"127.0.0.1".to_vec()).expect("short"),
        endpoint_port: 3333,
        vendor: Str0255::new(b"fuzz".to_vec()).expect("short"),
        hardware_version: Str0255::new(vec![]).expect("empty"),
        firmware: Str0255::new(vec![]).expect("empty"),
        device_id: Str0255::new(vec![]).expect("empty"),
    }))
}

fn user() -> Str0255<'static> {
    Str0255::new(b"alice.rig1".to_vec()).expect("short")
}

fn mining_sessions() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (flags, extended) in [(0u32, false), (1, false), (0, true), (6, true)] {
        let mut s = setup(flags);
        if extended {
            s.extend(frame_of(Mining::OpenExtendedMiningChannel(
                OpenExtendedMiningChannel {
                    request_id: 9,
                    user_identity: user(),
                    nominal_hash_rate: 1.0,
                    max_target: U256([0xff; 32]),
                    min_extranonce_size: 4,
                },
            )));
        } else {
            s.extend(frame_of(Mining::OpenStandardMiningChannel(
                OpenStandardMiningChannel {
                    request_id: 9,
                    user_identity: user(),
                    nominal_hash_rate: 1.0,
                    max_target: U256([0xff; 32]),
                },
            )));
        }
        for seq in 0..6u32 {
            if extended {
                s.extend(frame_of(Mining::SubmitSharesExtended(
                    SubmitSharesExtended {
                        channel_id: 2,
                        sequence_number: seq,
                        job_id: 1,
                        nonce: seq * 7919,
                        ntime: MIN_NTIME,
                        version: 0x2000_0000,
                        extranonce: B032::new(vec![seq as u8; 10]).expect("short"),
                    },
                )));
            } else {
                s.extend(frame_of(Mining::SubmitSharesStandard(
                    SubmitSharesStandard {
                        channel_id: 2,
                        sequence_number: seq,
                        job_id: 1,
                        nonce: seq * 7919,
                        ntime: MIN_NTIME,
                        version: 0x2000_0000,
                    },
                )));
            }
            if seq == 2 {
                s.extend(command(CMD_TEMPLATE, &[]));
                s.extend(command(CMD_NEW_TIP, &[]));
            }
        }
        s.extend(frame_of(Mining::UpdateChannel(UpdateChannel {
            channel_id: 2,
            nominal_hash_rate: 1e12,
            maximum_target: U256([0xff; 32]),
        })));
        s.extend(command(CMD_TICK, &[]));
        s.extend(command(CMD_FLUSH, &[]));
        out.push(s);
    }
    out
}

/// For one subprotocol's target: the index of the message in its list, then the payload.
fn subprotocol_seeds(messages: &[MessageInfo], frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in frames {
        let Ok(f) = Frame::parse(f) else { continue };
        let Some(i) = messages.iter().position(|m| {
            m.msg_type == f.header.msg_type() && m.extension_type == f.header.extension_type()
        }) else {
            continue;
        };
        let mut s = vec![i as u8];
        s.extend_from_slice(f.payload);
        out.push(s);
    }
    out
}

fn sv1_miner_lines() -> &'static str {
    concat!(
        "{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"version-rolling\",\"minimum-difficulty\",\"subscribe-extranonce\"],{\"version-rolling.mask\":\"1fffe000\",\"version-rolling.min-bit-count\":2,\"minimum-difficulty.value\":0.5}]}\n",
        "{\"id\":2,\"method\":\"mining.subscribe\",\"params\":[\"cgminer/4.12.0\",\"deadbeef\"]}\n",
        "{\"id\":3,\"method\":\"mining.authorize\",\"params\":[\"alice.rig1\",\"x\"]}\n",
        "{\"id\":4,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n",
        "{\"id\":5,\"method\":\"mining.suggest_difficulty\",\"params\":[0.001]}\n",
        "{\"id\":6,\"method\":\"mining.submit\",\"params\":[\"alice.rig1\",\"1\",\"00000001\",\"6553f100\",\"0000a0b1\"]}\n",
        "{\"id\":7,\"method\":\"mining.submit\",\"params\":[\"alice.rig1\",\"1\",\"00000002\",\"6553f100\",\"0000a0b2\",\"00002000\"]}\n",
        "{\"id\":8,\"method\":\"mining.submit\",\"params\":[\"alice.rig1\",\"1\",\"00000002\",\"6553f100\",\"0000a0b2\",\"00002000\"]}\n",
    )
}

fn sv1_pool_lines() -> &'static str {
    concat!(
        "{\"id\":1,\"result\":[[[\"mining.set_difficulty\",\"ab\"],[\"mining.notify\",\"ab\"]],\"08000002\",4],\"error\":null}\n",
        "{\"id\":2,\"result\":true,\"error\":null}\n",
        "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[2.5]}\n",
        "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"bf\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\",\"01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008\",\"072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000\",[\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\"],\"00000002\",\"1c2ac4af\",\"504e86b9\",false]}\n",
        "{\"id\":null,\"method\":\"mining.set_extranonce\",\"params\":[\"0a0b\",4]}\n",
        "{\"id\":3,\"result\":false,\"error\":[23,\"Low difficulty share\",null]}\n",
        "{\"id\":4,\"result\":false,\"reject-reason\":\"stale\"}\n",
        "{\"id\":5,\"result\":{\"version-rolling\":true,\"version-rolling.mask\":\"1fffe000\"},\"error\":null}\n",
        "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\"pool.example\",3333,0]}\n",
        "{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\"1fffe000\"]}\n",
        "{\"id\":9,\"method\":\"client.get_version\",\"params\":[]}\n",
    )
}

/// Every target's seeds, as (target, input). `frames` are whole Sv2 frames (header and
/// payload), e.g. those of test/vectors/sv2-messages.jsonl.
pub fn all(frames: &[Vec<u8>]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let stream: Vec<u8> = frames.concat();
    let mut small_stream = Vec::new();
    for f in frames.iter().filter(|f| f.len() < 200).take(12) {
        small_stream.extend_from_slice(f);
    }

    for f in frames {
        out.push(("frame", f.clone()));
    }
    out.push(("frame", small_stream.clone()));
    for s in subprotocol_seeds(CommonMessages::MESSAGES, frames) {
        out.push(("common", s));
    }
    for s in subprotocol_seeds(Mining::MESSAGES, frames) {
        out.push(("mining", s));
    }
    for s in subprotocol_seeds(TemplateDistribution::MESSAGES, frames) {
        out.push(("template_distribution", s));
    }
    for s in subprotocol_seeds(JobDeclaration::MESSAGES, frames) {
        out.push(("job_declaration", s));
    }

    // Streams: control bytes, then the frames.
    for ctl in [
        [0u8, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 2, 9, 9],
        [2, 3, 1, 1],
        [3, 1, 5, 0],
    ] {
        let mut s = ctl.to_vec();
        s.extend_from_slice(&small_stream);
        out.push(("standard_decoder", s));
    }
    let mut whole = vec![0u8, 3, 0, 0];
    whole.extend_from_slice(&stream);
    out.push(("standard_decoder", whole));
    for ctl in [
        [0u8, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [2, 2, 7, 1, 0],
        [16, 3, 0, 0, 0],
    ] {
        let mut s = ctl.to_vec();
        s.extend_from_slice(&small_stream);
        out.push(("noise_decoder", s));
    }

    // Handshakes with the targets' fixed keys.
    let mut i = initiator();
    let msg1 = i.start().expect("start");
    let (msg2, _) = responder().respond(&msg1, NOW).expect("respond");
    let mut s = vec![0];
    s.extend_from_slice(&msg2);
    out.push(("handshake_initiator", s));
    for (c, validity, resp_now, init_now) in [
        (1u8, 3600u32, NOW, NOW),
        (1, 60, NOW, NOW + 3600),
        (3, 3600, NOW, NOW),
        (1, 3600, NOW, NOW - 11),
    ] {
        let mut s = vec![c];
        for v in [validity, resp_now, init_now] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        out.push(("handshake_initiator", s));
    }
    let mut s = vec![0];
    s.extend_from_slice(&msg1);
    out.push(("handshake_responder", s));
    let mut s = vec![1];
    s.extend_from_slice(&msg1);
    s.extend_from_slice(&[0x55; 40]);
    out.push(("handshake_responder", s));
    let mut s = vec![0, 1, 0, 0, 0];
    s.extend_from_slice(&msg1);
    s.extend_from_slice(&[0x55; 40]);
    out.push(("handshake_codec", s));
    out.push(("handshake_codec", vec![3, 0, 0, 0, 0, 1, 2, 3]));
    out.push(("handshake_codec", {
        let mut s = vec![1, 2, 0, 0, 0];
        s.extend_from_slice(&msg2);
        s
    }));

    // Sv1.
    for ctl in [[0u8, 0, 0, 0, 0], [0, 1, 2, 3, 4], [3, 2, 0, 0, 0]] {
        let mut s = ctl.to_vec();
        s.extend_from_slice(sv1_miner_lines().as_bytes());
        out.push(("sv1_line", s.clone()));
        let mut s = ctl.to_vec();
        s.extend_from_slice(sv1_pool_lines().as_bytes());
        out.push(("sv1_line", s));
    }
    for c in [0u8, 0x40, 0x04] {
        let mut s = vec![c];
        s.extend_from_slice(sv1_miner_lines().as_bytes());
        s.extend_from_slice(b"!n\n!d\n!x\n!c\n");
        s.extend_from_slice(sv1_miner_lines().as_bytes());
        out.push(("sv1_server", s));
    }

    // TLVs: a user_identity field, and SubmitShares.Extended followed by one.
    let id_tlv = [0x02, 0x00, 0x01, 0x05, 0x00, b'a', b'l', b'i', b'c', b'e'];
    out.push(("tlv", id_tlv.to_vec()));
    let submit = frame_of(Mining::SubmitSharesExtended(SubmitSharesExtended {
        channel_id: 2,
        sequence_number: 0,
        job_id: 1,
        nonce: 0,
        ntime: MIN_NTIME,
        version: 0x2000_0000,
        extranonce: B032::new(vec![1; 4]).expect("short"),
    }));
    let mut s = vec![1];
    s.extend_from_slice(&submit[6..]);
    s.extend_from_slice(&id_tlv);
    out.push(("tlv", s));

    // The C API: plain streams fed in chunks of several sizes, and a responder's message 1.
    for c in [0u8, 6, 0x3e, 0xfe] {
        let mut s = vec![c];
        s.extend_from_slice(&small_stream);
        out.push(("ffi_decode", s));
    }
    let mut s = vec![0xfe];
    s.extend_from_slice(&stream);
    out.push(("ffi_decode", s));
    let mut s = vec![0xff];
    s.extend_from_slice(&msg1);
    out.push(("ffi_decode", s));

    for s in mining_sessions() {
        out.push(("mining_session", s));
    }
    for s in jds_sessions() {
        out.push(("jds_session", s));
    }
    out
}

fn jds_sessions() -> Vec<Vec<u8>> {
    use job_declaration_sv2::{
        AllocateMiningJobToken, DeclareMiningJob, ProvideMissingTransactionsSuccess,
    };
    let (prefix, suffix) = crate::jds::declared_coinbase(800_000);
    let declare = |request_id: u32, wtxids: Vec<U256>| {
        frame_of(JobDeclaration::DeclareMiningJob(DeclareMiningJob {
            request_id,
            mining_job_token: B0255::new(crate::jds::TOKEN_PLACEHOLDER.to_vec()).expect("short"),
            version: 0x2000_0000,
            coinbase_tx_prefix: B064K::new(prefix.clone()).expect("short"),
            coinbase_tx_suffix: B064K::new(suffix.clone()).expect("short"),
            wtxid_list: Seq064K::from_items(wtxids).expect("short"),
            excess_data: B064K::new(vec![]).expect("empty"),
        }))
    };
    let allocate = |request_id: u32| {
        frame_of(JobDeclaration::AllocateMiningJobToken(
            AllocateMiningJobToken {
                user_identifier: Str0255::new(b"alice".to_vec()).expect("short"),
                request_id,
            },
        ))
    };
    let mut out = Vec::new();
    for (c, flags) in [(0u8, 1u32), (0, 0), (1, 0)] {
        let mut s = vec![c];
        let mut setup = setup(flags);
        setup[6] = const_sv2::PROTOCOL_JOB_DECLARATION;
        s.extend(setup);
        s.extend(allocate(1));
        s.extend(declare(2, vec![]));
        s.extend(allocate(3));
        s.extend(declare(4, vec![U256([0x11; 32]), U256([0x22; 32])]));
        s.extend(frame_of(JobDeclaration::ProvideMissingTransactionsSuccess(
            ProvideMissingTransactionsSuccess {
                request_id: 4,
                transaction_list: Seq064K::from_items([
                    B016M::new(vec![2, 0, 0, 0, 0, 0]).expect("short")
                ])
                .expect("one"),
            },
        )));
        s.extend(command(CMD_TICK, &[]));
        s.extend(command(CMD_NEW_TIP, &[]));
        s.extend(allocate(5));
        out.push(s);
    }
    out
}

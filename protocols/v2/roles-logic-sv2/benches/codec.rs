//! Codec benchmarks (issue 2): encode and decode of NewExtendedMiningJob (12 merkle path
//! entries), SubmitSharesExtended and SetNewPrevHash, and the streaming decoder over a buffer
//! of one million mixed frames, each frame turned into a typed message.
//!
//! `cargo bench -p roles_logic_sv2 --bench codec`

use binary_sv2::{Seq0255, B032, B064K, U256};
use codec_sv2::{Encoder, StandardDecoder};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use framing_sv2::{Frame, Sv2Message};
use mining_sv2::{NewExtendedMiningJob, SetNewPrevHash, SubmitSharesExtended};
use roles_logic_sv2::parsers::{AnyMessage, Mining};

fn share() -> SubmitSharesExtended<'static> {
    SubmitSharesExtended {
        channel_id: 1,
        sequence_number: 12345,
        job_id: 77,
        nonce: 0xdeadbeef,
        ntime: 1_700_000_000,
        version: 0x2000_0000,
        extranonce: B032::new(vec![0x5a; 8]).unwrap(),
    }
}

fn job() -> NewExtendedMiningJob<'static> {
    NewExtendedMiningJob {
        channel_id: 1,
        job_id: 77,
        min_ntime: Some(1_700_000_000),
        version: 0x2000_0000,
        version_rolling_allowed: true,
        merkle_path: Seq0255::from_items((0..12u8).map(|i| U256([i; 32]))).unwrap(),
        // A typical coinbase split: ~60 bytes before the extranonce, ~100 after.
        coinbase_tx_prefix: B064K::new(vec![0x11; 60]).unwrap(),
        coinbase_tx_suffix: B064K::new(vec![0x22; 100]).unwrap(),
    }
}

fn prev_hash() -> SetNewPrevHash {
    SetNewPrevHash {
        channel_id: 1,
        job_id: 77,
        prev_hash: U256([0x33; 32]),
        min_ntime: 1_700_000_000,
        nbits: 0x1703_4219,
    }
}

fn frame_of<M: Sv2Message>(m: &M) -> Vec<u8> {
    Encoder::new().encode(m).unwrap().to_vec()
}

/// Frame bytes -> typed message (header parse, dispatch, field decode).
fn typed<'a>(bytes: &'a [u8]) -> AnyMessage<'a> {
    let f = Frame::parse(bytes).unwrap();
    AnyMessage::parse(f.header.extension_type(), f.header.msg_type(), f.payload).unwrap()
}

fn bench_messages(c: &mut Criterion) {
    let mut g = c.benchmark_group("messages");
    macro_rules! pair {
        ($name:literal, $msg:expr) => {{
            let msg = $msg;
            let bytes = frame_of(&msg);
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function(concat!("decode_frame_to_typed/", $name), |b| {
                b.iter(|| black_box(typed(black_box(&bytes))))
            });
            // What a role does on a connection whose subprotocol it knows: parse as `Mining`.
            g.bench_function(concat!("decode_frame_to_mining/", $name), |b| {
                b.iter(|| {
                    let f = Frame::parse(black_box(&bytes)).unwrap();
                    black_box(Mining::parse(f.header.msg_type(), f.payload).unwrap())
                })
            });
            let mut enc = Encoder::new();
            g.bench_function(concat!("encode_to_frame/", $name), |b| {
                b.iter(|| black_box(enc.encode(black_box(&msg)).unwrap().len()))
            });
        }};
    }
    pair!("SubmitSharesExtended", share());
    pair!("NewExtendedMiningJob_12_path", job());
    pair!("SetNewPrevHash", prev_hash());
    g.finish();
}

fn mixed_stream(n: usize) -> Vec<u8> {
    // A pool's downstream mix: mostly shares and their acknowledgements, some jobs and
    // prev hashes.
    let frames = [
        frame_of(&share()),
        frame_of(&share()),
        frame_of(&share()),
        frame_of(&share()),
        frame_of(&mining_sv2::SubmitSharesSuccess {
            channel_id: 1,
            last_sequence_number: 9,
            new_submits_accepted_count: 4,
            new_shares_sum: 4096,
        }),
        frame_of(&mining_sv2::SetTarget {
            channel_id: 1,
            maximum_target: U256([0xff; 32]),
        }),
        frame_of(&job()),
        frame_of(&prev_hash()),
    ];
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(&frames[i % frames.len()]);
    }
    out
}

fn bench_stream(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let stream = mixed_stream(N);
    let mut g = c.benchmark_group("stream");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    // Reads of 64 KiB, as from a socket: frames cross chunk boundaries.
    g.bench_function("decode_1M_mixed_frames_typed_64KiB_reads", |b| {
        b.iter_batched(
            StandardDecoder::new,
            |mut dec| {
                let mut n = 0usize;
                for chunk in stream.chunks(64 * 1024) {
                    let mut rest = chunk;
                    while !rest.is_empty() {
                        let (used, frame) = dec.decode(rest).unwrap();
                        if let Some(f) = frame {
                            let m = AnyMessage::parse(
                                f.header.extension_type(),
                                f.header.msg_type(),
                                f.payload,
                            )
                            .unwrap();
                            n += m.msg_type() as usize;
                        }
                        rest = &rest[used..];
                    }
                }
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("decode_1M_mixed_frames_typed_bytes", |b| {
        b.iter(|| {
            let mut dec = StandardDecoder::new();
            let mut rest = &stream[..];
            let mut n = 0usize;
            while !rest.is_empty() {
                let (used, frame) = dec.decode(rest).unwrap();
                if let Some(f) = frame {
                    let m = AnyMessage::parse(
                        f.header.extension_type(),
                        f.header.msg_type(),
                        f.payload,
                    )
                    .unwrap();
                    n += m.msg_type() as usize;
                }
                rest = &rest[used..];
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_messages, bench_stream);
criterion_main!(benches);

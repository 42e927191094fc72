//! What the C ABI costs over the Rust codec: decoding a frame into a C message (copying the
//! payload, NUL-terminating strings) and freeing it, and encoding a C message into a frame.
//!
//! `cargo bench -p sv2_ffi`

use binary_sv2::{Decodable, B032, B064K};
use codec_sv2::{Encoder, StandardDecoder};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use sv2_ffi::*;

fn share() -> mining_sv2::SubmitSharesExtended<'static> {
    mining_sv2::SubmitSharesExtended {
        channel_id: 1,
        sequence_number: 2,
        job_id: 3,
        nonce: 4,
        ntime: 5,
        version: 6,
        extranonce: B032::new(vec![7u8; 8]).unwrap(),
    }
}

fn solution() -> template_distribution_sv2::SubmitSolution<'static> {
    template_distribution_sv2::SubmitSolution {
        template_id: 1,
        version: 2,
        header_timestamp: 3,
        header_nonce: 4,
        coinbase_tx: B064K::new(vec![5u8; 200]).unwrap(),
    }
}

fn bench<M: framing_sv2::Sv2Message>(c: &mut Criterion, name: &str, m: M, decode: fn(&[u8])) {
    let frame = Encoder::new().encode(&m).unwrap().to_vec();
    let mut codec = std::ptr::null_mut();
    unsafe { sv2_codec_new_plain(&mut codec) };

    c.bench_function(&format!("{name}: rust decode"), |b| {
        let mut dec = StandardDecoder::new();
        b.iter(|| {
            let (_, f) = dec.decode(black_box(&frame)).unwrap();
            let f = f.unwrap();
            decode(f.payload);
        })
    });
    c.bench_function(&format!("{name}: C ABI decode + free"), |b| {
        b.iter(|| unsafe {
            sv2_codec_feed(codec, black_box(frame.as_ptr()), frame.len());
            let mut m: Sv2Message = std::mem::zeroed();
            assert_eq!(sv2_codec_next(codec, &mut m), Sv2Status::SV2_OK);
            sv2_message_free(&mut m);
        })
    });

    // A decoded C message to encode (owned by the codec's storage until freed below).
    let mut msg: Sv2Message = unsafe { std::mem::zeroed() };
    unsafe {
        sv2_codec_feed(codec, frame.as_ptr(), frame.len());
        sv2_codec_next(codec, &mut msg);
    }
    c.bench_function(&format!("{name}: rust encode"), |b| {
        let mut enc = Encoder::new();
        b.iter(|| black_box(enc.encode(black_box(&m)).unwrap().len()))
    });
    c.bench_function(&format!("{name}: C ABI encode + take output"), |b| {
        b.iter(|| unsafe {
            assert_eq!(sv2_codec_encode(codec, black_box(&msg)), Sv2Status::SV2_OK);
            let (mut p, mut n) = (std::ptr::null(), 0);
            sv2_codec_output(codec, &mut p, &mut n);
            sv2_codec_consume_output(codec, n);
            black_box(n)
        })
    });
    unsafe {
        sv2_message_free(&mut msg);
        sv2_codec_free(codec);
    }
}

fn benches(c: &mut Criterion) {
    bench(c, "SubmitSharesExtended", share(), |p| {
        black_box(mining_sv2::SubmitSharesExtended::decode(p).unwrap());
    });
    bench(c, "SubmitSolution", solution(), |p| {
        black_box(template_distribution_sv2::SubmitSolution::decode(p).unwrap());
    });
}

criterion_group!(ffi, benches);
criterion_main!(ffi);

//! Noise benchmarks (issue 3): full handshakes, and transport encrypt + decrypt of one frame
//! beside the bare AEAD (ring's ChaCha20-Poly1305 seal + open of the same payload), which is
//! the limit.
//!
//! `cargo bench -p noise_sv2 --bench noise`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use noise_sv2::*;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

fn bench_handshake(c: &mut Criterion) {
    let authority = AuthoritySecretKey::generate().unwrap();
    let keypair = authority.keypair();
    let pubkey = authority.public_key().0;
    let static_key = HandshakeKey::generate().unwrap();
    c.bench_function("handshake/full_initiator_and_responder", |b| {
        b.iter(|| {
            // Fresh ephemeral keys and signing randomness, as on every real connection.
            let mut i = Initiator::new(pubkey).unwrap();
            let r = Responder::new(keypair, static_key, 3600).unwrap();
            let m1 = i.start().unwrap();
            let (m2, server) = r.respond(&m1, 1_800_000_000).unwrap();
            let (client, _) = i.finish(&m2, 1_800_000_000).unwrap();
            black_box((client, server))
        })
    });
}

fn session() -> (NoiseSession, NoiseSession) {
    let authority = AuthoritySecretKey::generate().unwrap();
    let mut i = Initiator::new(authority.public_key().0).unwrap();
    let r = Responder::new(authority.keypair(), HandshakeKey::generate().unwrap(), 3600).unwrap();
    let (m2, s) = r.respond(&i.start().unwrap(), 1_800_000_000).unwrap();
    let (c, _) = i.finish(&m2, 1_800_000_000).unwrap();
    (c, s)
}

fn bench_transport(c: &mut Criterion) {
    for size in [64usize, 1024, 65_536] {
        let mut g = c.benchmark_group(format!("transport_{size}B"));
        g.throughput(Throughput::Bytes(size as u64));

        let (mut client, mut server) = session();
        let mut frame = vec![0u8; 6 + size];
        frame[..6].copy_from_slice(&framing_header(size));
        let mut wire = vec![0u8; encrypted_frame_len(size)];
        g.bench_function("frame_encrypt_decrypt", |b| {
            b.iter(|| {
                let n = client.encryptor.encrypt_frame(&frame, &mut wire).unwrap();
                let (h, p) = wire[..n].split_at_mut(ENCRYPTED_HEADER_LEN);
                let h: &mut [u8; ENCRYPTED_HEADER_LEN] = h.try_into().unwrap();
                server.decryptor.decrypt_header(h).unwrap();
                black_box(server.decryptor.decrypt_payload(p).unwrap().len())
            })
        });

        // The limit: one seal and one open of the payload with the same AEAD.
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7; 32]).unwrap());
        let mut buf = vec![0u8; size + 16];
        let mut n = 0u64;
        g.bench_function("bare_aead_seal_open", |b| {
            b.iter(|| {
                n += 1;
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&n.to_le_bytes());
                let (pt, tag) = buf.split_at_mut(size);
                let t = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::empty(),
                        pt,
                    )
                    .unwrap();
                tag.copy_from_slice(t.as_ref());
                black_box(
                    key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
                        .unwrap()
                        .len(),
                )
            })
        });
        // The limit for the wire format: a frame is two AEAD messages (the 6-byte header
        // alone, then the payload), so the same two seal + open pairs with no framing work.
        let mut hbuf = [0u8; 6 + 16];
        g.bench_function("bare_aead_header_and_payload", |b| {
            b.iter(|| {
                for (buf, len) in [(&mut hbuf[..], 6), (&mut buf[..], size)] {
                    n += 1;
                    let mut nonce = [0u8; 12];
                    nonce[4..].copy_from_slice(&n.to_le_bytes());
                    let (pt, tag) = buf.split_at_mut(len);
                    let t = key
                        .seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key(nonce),
                            Aad::empty(),
                            pt,
                        )
                        .unwrap();
                    tag.copy_from_slice(t.as_ref());
                    black_box(
                        key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), buf)
                            .unwrap()
                            .len(),
                    );
                }
            })
        });
        g.finish();
    }
}

fn framing_header(len: usize) -> [u8; 6] {
    let l = (len as u32).to_le_bytes();
    [0, 0x80, 0x1b, l[0], l[1], l[2]]
}

criterion_group!(benches, bench_handshake, bench_transport);
criterion_main!(benches);

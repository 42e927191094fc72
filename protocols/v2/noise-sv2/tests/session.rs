//! Handshakes between our own initiator and responder, large frames, and hostile input.

use noise_sv2::*;
use quickcheck::{quickcheck, TestResult};

const NOW: u32 = 1_767_000_000;

fn pair(validity: u32) -> (NoiseSession, NoiseSession, HandshakeResult) {
    let authority = AuthoritySecretKey::generate().unwrap();
    let mut i = Initiator::new(authority.public_key().0).unwrap();
    let r = Responder::new(
        authority.keypair(),
        HandshakeKey::generate().unwrap(),
        validity,
    )
    .unwrap();
    let m1 = i.start().unwrap();
    let (m2, server) = r.respond(&m1, NOW).unwrap();
    let (client, result) = i.finish(&m2, NOW).unwrap();
    (client, server, result)
}

fn round_trip(from: &mut Encryptor, to: &mut Decryptor, frame: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    from.encrypt_frame_to_vec(frame, &mut wire).unwrap();
    assert_eq!(wire.len(), encrypted_frame_len(frame.len() - 6));
    let mut header = [0u8; ENCRYPTED_HEADER_LEN];
    header.copy_from_slice(&wire[..ENCRYPTED_HEADER_LEN]);
    let mut out = to.decrypt_header(&mut header).unwrap().to_vec();
    if wire.len() > ENCRYPTED_HEADER_LEN {
        out.extend_from_slice(
            to.decrypt_payload(&mut wire[ENCRYPTED_HEADER_LEN..])
                .unwrap(),
        );
    }
    out
}

fn frame_with_payload(len: usize) -> Vec<u8> {
    let l = (len as u32).to_le_bytes();
    let mut f = vec![0, 0, 0x71, l[0], l[1], l[2]];
    f.extend((0..len).map(|i| (i * 7 + 3) as u8));
    f
}

#[test]
fn handshake_succeeds_and_both_directions_work() {
    let (mut c, mut s, result) = pair(60);
    assert_eq!(result.certificate.valid_from, NOW);
    assert_eq!(result.certificate.not_valid_after, NOW + 60);
    for len in [0, 1, 64, 1024] {
        let f = frame_with_payload(len);
        assert_eq!(round_trip(&mut c.encryptor, &mut s.decryptor, &f), f);
        assert_eq!(round_trip(&mut s.encryptor, &mut c.decryptor, &f), f);
    }
}

#[test]
fn one_mebibyte_frame_is_split_and_joined() {
    let (mut c, mut s, _) = pair(60);
    let f = frame_with_payload(1 << 20);
    let before = c.encryptor.nonce();
    assert_eq!(round_trip(&mut c.encryptor, &mut s.decryptor, &f), f);
    // header + ceil(2^20 / 65519) = 1 + 17 AEAD messages
    assert_eq!(c.encryptor.nonce() - before, 18);
    assert_eq!(encrypted_payload_len(1 << 20), (1 << 20) + 17 * 16);
    // Exactly one and one-plus-a-byte pieces.
    for len in [MAX_PLAINTEXT, MAX_PLAINTEXT + 1, 2 * MAX_PLAINTEXT] {
        let f = frame_with_payload(len);
        assert_eq!(round_trip(&mut c.encryptor, &mut s.decryptor, &f), f);
    }
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused() {
    let authority = AuthoritySecretKey::generate().unwrap();
    for (issued, checked) in [(NOW - 3600, NOW), (NOW + 3600, NOW)] {
        let mut i = Initiator::new(authority.public_key().0).unwrap();
        let r = Responder::new(authority.keypair(), HandshakeKey::generate().unwrap(), 60).unwrap();
        let (m2, _) = r.respond(&i.start().unwrap(), issued).unwrap();
        assert!(matches!(
            i.finish(&m2, checked),
            Err(NoiseError::CertificateNotValidNow { .. })
        ));
    }
}

#[test]
fn truncated_and_oversized_handshake_messages_are_refused() {
    let authority = AuthoritySecretKey::generate().unwrap();
    let r = || Responder::new(authority.keypair(), HandshakeKey::generate().unwrap(), 60).unwrap();
    assert_eq!(
        r().respond(&[0u8; 63], NOW).unwrap_err(),
        NoiseError::HandshakeMessageLength {
            expected: 64,
            got: 63
        }
    );
    assert!(r().respond(&[0u8; 65], NOW).is_err());
    let mut i = Initiator::new(authority.public_key().0).unwrap();
    let (m2, _) = r().respond(&i.start().unwrap(), NOW).unwrap();
    for cut in [0, 1, 64, 144, 233] {
        let mut i = Initiator::new(authority.public_key().0).unwrap();
        i.start().unwrap();
        assert_eq!(
            i.finish(&m2[..cut], NOW).unwrap_err(),
            NoiseError::HandshakeMessageLength {
                expected: 234,
                got: cut
            }
        );
    }
    // finish() before start()
    let i = Initiator::new(authority.public_key().0).unwrap();
    assert!(matches!(
        i.finish(&m2, NOW),
        Err(NoiseError::WrongState { .. })
    ));
}

#[test]
fn nonce_exhaustion_closes_the_session() {
    let (mut c, _, _) = pair(60);
    c.encryptor.set_nonce(u64::MAX);
    let mut out = Vec::new();
    assert_eq!(
        c.encryptor
            .encrypt_frame_to_vec(&frame_with_payload(1), &mut out),
        Err(NoiseError::NonceExhausted)
    );
}

#[test]
fn invalid_ciphertext_lengths_are_refused() {
    let (_, mut s, _) = pair(60);
    assert!(s.decryptor.decrypt_payload(&mut [0u8; 10]).is_err());
    assert!(s.decryptor.decrypt_payload(&mut [0u8; 16]).is_err());
}

quickcheck! {
    // Any 64 bytes are a valid ElligatorSwift encoding, so the responder answers them; it
    // must never panic, and the other lengths are refused.
    fn random_bytes_to_a_responder_never_panic(bytes: Vec<u8>) -> TestResult {
        let authority = AuthoritySecretKey::generate().unwrap();
        let r = Responder::new(authority.keypair(), HandshakeKey::generate().unwrap(), 60).unwrap();
        let ok = r.respond(&bytes, NOW).is_ok();
        TestResult::from_bool(ok == (bytes.len() == 64))
    }

    fn random_bytes_to_an_initiator_never_panic(bytes: Vec<u8>) -> bool {
        let authority = AuthoritySecretKey::generate().unwrap();
        let mut i = Initiator::new(authority.public_key().0).unwrap();
        i.start().unwrap();
        let mut m = bytes.clone();
        m.resize(234, 0);
        i.finish(&m, NOW).is_err()
    }

    fn random_bytes_to_a_decryptor_never_panic(bytes: Vec<u8>) -> bool {
        let (_, mut s, _) = pair(60);
        let mut header = [0u8; ENCRYPTED_HEADER_LEN];
        for (d, b) in header.iter_mut().zip(&bytes) { *d = *b; }
        let mut rest = bytes.clone();
        s.decryptor.decrypt_header(&mut header).is_err() && s.decryptor.decrypt_payload(&mut rest).is_err()
    }
}

#[test]
fn key_strings_with_errors_say_what_is_wrong() {
    let e = "not-a-key".parse::<AuthorityPublicKey>().unwrap_err();
    assert!(
        e.to_string().starts_with("not a base58check or hex key"),
        "{e}"
    );
    // Valid base58check, wrong length.
    let short = bs58_check(&[1, 0, 1, 2, 3]);
    assert_eq!(
        short.parse::<AuthorityPublicKey>().unwrap_err(),
        KeyError::Length {
            expected: 34,
            got: 5
        }
    );
    // Wrong version prefix.
    let mut b = vec![2, 0];
    b.extend_from_slice(
        &AuthoritySecretKey::generate()
            .unwrap()
            .public_key()
            .0
            .serialize(),
    );
    assert_eq!(
        bs58_check(&b).parse::<AuthorityPublicKey>().unwrap_err(),
        KeyError::Version([2, 0])
    );
    // A checksum error.
    let good = AuthoritySecretKey::generate()
        .unwrap()
        .public_key()
        .to_base58();
    let mut chars: Vec<char> = good.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '1' { '2' } else { '1' };
    let bad: String = chars.into_iter().collect();
    assert!(bad.parse::<AuthorityPublicKey>().is_err());
    // Secret keys: zero is not a key.
    assert_eq!(
        "0".repeat(64).parse::<AuthoritySecretKey>().unwrap_err(),
        KeyError::InvalidKey
    );
}

fn bs58_check(b: &[u8]) -> String {
    noise_sv2::keys::base58check(b)
}

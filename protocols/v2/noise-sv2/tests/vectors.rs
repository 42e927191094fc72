//! The public noise transcripts (test/vectors/noise-handshake.jsonl, from another
//! implementation): our responder reproduces handshake message 2 byte for byte, our initiator
//! accepts it and reads the certificate, and both sides encrypt and decrypt the transport
//! frames exactly. Then the negative checks the vectors imply.

use noise_sv2::secp256k1::{Keypair, Secp256k1, SecretKey, XOnlyPublicKey};
use noise_sv2::*;
use serde_json::Value;

const TRANSCRIPTS: &str = include_str!("../../../../test/vectors/noise-handshake.jsonl");

fn transcripts() -> Vec<Value> {
    TRANSCRIPTS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    h(v).try_into().unwrap()
}

fn secret(v: &Value) -> SecretKey {
    SecretKey::from_slice(&h(&v["secret_hex"])).unwrap()
}

fn key(v: &Value) -> HandshakeKey {
    HandshakeKey::with_encoding(secret(v), arr(&v["ellswift_hex"]))
}

fn authority(t: &Value) -> (Keypair, XOnlyPublicKey) {
    let kp = Keypair::from_secret_key(&Secp256k1::new(), &secret(&t["authority"]));
    (kp, kp.x_only_public_key().0)
}

fn responder(t: &Value) -> Responder {
    Responder::with_keys(
        authority(t).0,
        key(&t["responder_static"]),
        key(&t["responder_ephemeral"]),
        t["cert_validity_secs"].as_u64().unwrap() as u32,
        arr(&t["certificate_aux_rand_hex"]),
    )
}

fn initiator(t: &Value, authority: XOnlyPublicKey) -> Initiator {
    Initiator::with_ephemeral(authority, key(&t["initiator_ephemeral"]))
}

fn now(t: &Value) -> u32 {
    t["now"].as_u64().unwrap() as u32
}

#[test]
fn our_key_encoding_matches_the_reference() {
    for t in transcripts() {
        for k in [
            "initiator_ephemeral",
            "responder_ephemeral",
            "responder_static",
        ] {
            let ours = HandshakeKey::from_secret(secret(&t[k]));
            assert_eq!(
                ours.encoding.to_array().to_vec(),
                h(&t[k]["ellswift_hex"]),
                "{k}"
            );
        }
    }
}

#[test]
fn authority_keys_parse_and_print_in_the_deployed_forms() {
    for t in transcripts() {
        let a = &t["authority"];
        let pk: AuthorityPublicKey = a["pubkey_base58"].as_str().unwrap().parse().unwrap();
        assert_eq!(pk.to_hex(), a["pubkey_xonly_hex"].as_str().unwrap());
        assert_eq!(pk.to_base58(), a["pubkey_base58"].as_str().unwrap());
        let sk: AuthoritySecretKey = a["secret_base58"].as_str().unwrap().parse().unwrap();
        assert_eq!(sk.to_hex(), a["secret_hex"].as_str().unwrap());
        assert_eq!(sk.to_base58(), a["secret_base58"].as_str().unwrap());
        assert_eq!(sk.public_key(), pk);
        // Hex forms are accepted too.
        assert_eq!(
            a["pubkey_xonly_hex"]
                .as_str()
                .unwrap()
                .parse::<AuthorityPublicKey>()
                .unwrap(),
            pk
        );
    }
}

#[test]
fn responder_reproduces_message_2() {
    for t in transcripts() {
        let (msg2, _) = responder(&t)
            .respond(&h(&t["handshake_message_1_hex"]), now(&t))
            .unwrap();
        assert_eq!(
            hex::encode(msg2),
            t["handshake_message_2_hex"].as_str().unwrap(),
            "{}",
            t["name"]
        );
    }
}

#[test]
fn initiator_reproduces_message_1_and_accepts_message_2() {
    for t in transcripts() {
        let (_, auth) = authority(&t);
        let mut i = initiator(&t, auth);
        assert_eq!(
            i.start().unwrap().to_vec(),
            h(&t["handshake_message_1_hex"])
        );
        let (_, result) = i
            .finish(&h(&t["handshake_message_2_hex"]), now(&t))
            .unwrap();
        let c = &t["certificate"];
        assert_eq!(
            result.certificate.version as u64,
            c["version"].as_u64().unwrap()
        );
        assert_eq!(
            result.certificate.valid_from as u64,
            c["valid_from"].as_u64().unwrap()
        );
        assert_eq!(
            result.certificate.not_valid_after as u64,
            c["not_valid_after"].as_u64().unwrap()
        );
        assert_eq!(
            result.certificate.signature.to_vec(),
            h(&c["signature_hex"])
        );
        assert_eq!(
            result.certificate.to_bytes().to_vec(),
            h(&c["plaintext_hex"])
        );
        assert_eq!(
            result.responder_static.serialize().to_vec(),
            h(&c["server_pubkey_xonly_hex"])
        );
        assert_eq!(
            result.handshake_hash.to_vec(),
            h(&t["handshake_state"]["h_final"])
        );
        assert_eq!(
            Certificate::signed_hash(
                0,
                result.certificate.valid_from,
                result.certificate.not_valid_after,
                &result.responder_static
            )
            .to_vec(),
            h(&c["signed_hash_hex"])
        );
    }
}

fn sessions(t: &Value) -> (NoiseSession, NoiseSession) {
    let (_, auth) = authority(t);
    let mut i = initiator(t, auth);
    let m1 = i.start().unwrap();
    let (m2, server) = responder(t).respond(&m1, now(t)).unwrap();
    let (client, _) = i.finish(&m2, now(t)).unwrap();
    (client, server)
}

fn decrypt_frame(d: &mut Decryptor, wire: &[u8]) -> Result<Vec<u8>, NoiseError> {
    let mut header = [0u8; ENCRYPTED_HEADER_LEN];
    header.copy_from_slice(&wire[..ENCRYPTED_HEADER_LEN]);
    let plain_header = d.decrypt_header(&mut header)?;
    let mut rest = wire[ENCRYPTED_HEADER_LEN..].to_vec();
    let mut out = plain_header.to_vec();
    if !rest.is_empty() {
        out.extend_from_slice(d.decrypt_payload(&mut rest)?);
    }
    Ok(out)
}

#[test]
fn transport_frames_match_both_ways() {
    for t in transcripts() {
        let (mut client, mut server) = sessions(&t);
        for f in t["transport"]["initiator_to_responder"].as_array().unwrap() {
            let plain = h(&f["plaintext_frame_hex"]);
            let mut wire = Vec::new();
            client
                .encryptor
                .encrypt_frame_to_vec(&plain, &mut wire)
                .unwrap();
            assert_eq!(hex::encode(&wire), f["ciphertext_hex"].as_str().unwrap());
            assert_eq!(decrypt_frame(&mut server.decryptor, &wire).unwrap(), plain);
        }
        for f in t["transport"]["responder_to_initiator"].as_array().unwrap() {
            let plain = h(&f["plaintext_frame_hex"]);
            let mut wire = Vec::new();
            server
                .encryptor
                .encrypt_frame_to_vec(&plain, &mut wire)
                .unwrap();
            assert_eq!(hex::encode(&wire), f["ciphertext_hex"].as_str().unwrap());
            assert_eq!(decrypt_frame(&mut client.decryptor, &wire).unwrap(), plain);
        }
    }
}

#[test]
fn wrong_authority_is_refused() {
    for t in transcripts() {
        let other = AuthoritySecretKey::generate().unwrap().public_key().0;
        let mut i = initiator(&t, other);
        i.start().unwrap();
        assert_eq!(
            i.finish(&h(&t["handshake_message_2_hex"]), now(&t))
                .unwrap_err(),
            NoiseError::CertificateSignature
        );
    }
}

#[test]
fn certificate_window_is_enforced_with_the_reference_tolerance() {
    for t in transcripts() {
        let (_, auth) = authority(&t);
        let from = t["reference_initiator_accepts_now"]["from"]
            .as_u64()
            .unwrap() as u32;
        let to = t["reference_initiator_accepts_now"]["to"].as_u64().unwrap() as u32;
        for (at, ok) in [
            (from - 1, false),
            (from, true),
            (to, true),
            (to + 1, false),
            (0, false),
            (u32::MAX, false),
        ] {
            let mut i = initiator(&t, auth);
            i.start().unwrap();
            let r = i.finish(&h(&t["handshake_message_2_hex"]), at);
            assert_eq!(r.is_ok(), ok, "now = {at}");
            if !ok {
                assert!(matches!(
                    r.unwrap_err(),
                    NoiseError::CertificateNotValidNow { .. }
                ));
            }
        }
    }
}

#[test]
fn every_flipped_bit_of_message_2_is_refused() {
    let t = &transcripts()[0];
    let (_, auth) = authority(t);
    let m2 = h(&t["handshake_message_2_hex"]);
    for bit in 0..m2.len() * 8 {
        let mut bad = m2.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let mut i = initiator(t, auth);
        i.start().unwrap();
        assert!(i.finish(&bad, now(t)).is_err(), "bit {bit} accepted");
    }
}

#[test]
fn every_flipped_bit_of_a_transport_frame_is_refused() {
    let t = &transcripts()[0];
    let f = &t["transport"]["initiator_to_responder"][0];
    let wire = h(&f["ciphertext_hex"]);
    for bit in 0..wire.len() * 8 {
        let (_, mut server) = sessions(t);
        let mut bad = wire.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            decrypt_frame(&mut server.decryptor, &bad).is_err(),
            "bit {bit} accepted"
        );
    }
}

#[test]
fn replayed_and_reordered_frames_are_refused() {
    let t = &transcripts()[0];
    let frames: Vec<Vec<u8>> = t["transport"]["initiator_to_responder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| h(&f["ciphertext_hex"]))
        .collect();
    // Replay: the first frame twice.
    let (_, mut server) = sessions(t);
    decrypt_frame(&mut server.decryptor, &frames[0]).unwrap();
    assert_eq!(
        decrypt_frame(&mut server.decryptor, &frames[0]),
        Err(NoiseError::DecryptionFailed)
    );
    // Reorder: the second frame first.
    let (_, mut server) = sessions(t);
    assert_eq!(
        decrypt_frame(&mut server.decryptor, &frames[1]),
        Err(NoiseError::DecryptionFailed)
    );
    // A frame for the other direction.
    let (_, mut server) = sessions(t);
    let back = h(&t["transport"]["responder_to_initiator"][0]["ciphertext_hex"]);
    assert!(decrypt_frame(&mut server.decryptor, &back).is_err());
}

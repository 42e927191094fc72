//! # noise_sv2
//!
//! The Stratum V2 encryption layer (04-Protocol-Security.md), sans-IO: the Noise NX handshake
//! over secp256k1 with ElligatorSwift-encoded keys, ChaCha20-Poly1305 and SHA-256
//! (`Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256`), the responder's certificate signed by an
//! authority key, and the transport that encrypts frames. Bytes go in, bytes come out; time is
//! passed in as unix seconds.
//!
//! ```
//! use noise_sv2::{AuthoritySecretKey, HandshakeKey, Initiator, Responder};
//!
//! let authority = AuthoritySecretKey::generate().unwrap();
//! let server_static = HandshakeKey::generate().unwrap();
//! let now = 1_700_000_000;
//!
//! let mut initiator = Initiator::new(authority.public_key().0).unwrap();
//! let responder = Responder::new(authority.keypair(), server_static, 3600).unwrap();
//!
//! let msg1 = initiator.start().unwrap();
//! let (msg2, mut server) = responder.respond(&msg1, now).unwrap();
//! let (mut client, result) = initiator.finish(&msg2, now).unwrap();
//! assert_eq!(result.certificate.not_valid_after, now + 3600);
//!
//! // A frame: 6-byte header (CloseChannel, 5-byte payload) and payload.
//! let frame = [0x00, 0x80, 0x18, 0x05, 0x00, 0x00, 1, 0, 0, 0, 0];
//! let mut wire = Vec::new();
//! client.encryptor.encrypt_frame_to_vec(&frame, &mut wire).unwrap();
//! let mut header = [0u8; 22];
//! header.copy_from_slice(&wire[..22]);
//! assert_eq!(server.decryptor.decrypt_header(&mut header).unwrap(), frame[..6]);
//! let payload = server.decryptor.decrypt_payload(&mut wire[22..]).unwrap();
//! assert_eq!(payload, &frame[6..]);
//! ```

pub mod cert;
pub mod cipher;
pub mod error;
pub mod handshake;
pub mod keys;
pub mod transport;

pub use cert::{Certificate, CLOCK_SKEW_SECS, SIGNATURE_NOISE_MESSAGE_LEN};
pub use error::NoiseError;
pub use handshake::{
    HandshakeKey, HandshakeResult, Initiator, Responder, ELLSWIFT_ENCODING_SIZE,
    INITIATOR_MESSAGE_LEN, PROTOCOL_NAME, RESPONDER_MESSAGE_LEN,
};
pub use keys::{AuthorityPublicKey, AuthoritySecretKey, KeyError};
pub use secp256k1;
pub use transport::{
    encrypted_frame_len, encrypted_payload_len, Decryptor, Encryptor, NoiseSession,
    ENCRYPTED_HEADER_LEN,
};

/// Largest plaintext in one AEAD message (65535 - 16).
pub const MAX_PLAINTEXT: usize = const_sv2::NOISE_MAX_PLAINTEXT;

/// A uniformly random valid secret key from the operating system's RNG.
pub(crate) fn random_secret_key() -> Result<secp256k1::SecretKey, NoiseError> {
    loop {
        let mut b = [0u8; 32];
        getrandom::getrandom(&mut b).map_err(|_| NoiseError::Randomness)?;
        // Out of range (zero or >= the group order) with probability ~2^-128: draw again.
        if let Ok(sk) = secp256k1::SecretKey::from_slice(&b) {
            return Ok(sk);
        }
    }
}

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! The NX handshake of 04-Protocol-Security.md, as two sans-IO state machines.
//!
//! ```text
//! -> e                              (message 1: 64 bytes)
//! <- e, ee, s, es, SIGNATURE_NOISE_MESSAGE   (message 2: 64 + 80 + 90 = 234 bytes)
//! ```
//!
//! Public keys travel as 64-byte ElligatorSwift encodings (BIP324) and enter the handshake hash
//! in that form; ECDH is BIP324's x-only ECDH, hashed with the initiator's encoding first. The
//! spec's prose still gives 170 bytes for message 2 (from before 64-byte encodings); its steps
//! give 234, which is what deployed implementations send.

use crate::cert::{Certificate, SIGNATURE_NOISE_MESSAGE_LEN};
use crate::cipher::{CipherState, MAC_LEN};
use crate::error::NoiseError;
use crate::keys::even_y;
use crate::transport::NoiseSession;
use hmac::{Hmac, Mac};
use secp256k1::ellswift::{ElligatorSwift, ElligatorSwiftParty};
use secp256k1::{Keypair, PublicKey, SecretKey, XOnlyPublicKey, SECP256K1};
use sha2::{Digest, Sha256};

/// The protocol name, hashed into the initial state.
pub const PROTOCOL_NAME: &[u8] = b"Noise_NX_Secp256k1+EllSwift_ChaChaPoly_SHA256";
/// Size of an ElligatorSwift-encoded public key.
pub const ELLSWIFT_ENCODING_SIZE: usize = 64;
/// Handshake message 1 (initiator -> responder).
pub const INITIATOR_MESSAGE_LEN: usize = ELLSWIFT_ENCODING_SIZE;
/// Handshake message 2 (responder -> initiator).
pub const RESPONDER_MESSAGE_LEN: usize = ELLSWIFT_ENCODING_SIZE
    + (ELLSWIFT_ENCODING_SIZE + MAC_LEN)
    + (SIGNATURE_NOISE_MESSAGE_LEN + MAC_LEN);

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Noise HKDF with two outputs.
pub(crate) fn hkdf2(ck: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let temp = hmac(ck, &[ikm]);
    let out1 = hmac(&temp, &[&[0x01]]);
    let out2 = hmac(&temp, &[&out1, &[0x02]]);
    (out1, out2)
}

/// Noise SymmetricState: chaining key, handshake hash, and the current handshake cipher.
struct SymmetricState {
    ck: [u8; 32],
    h: [u8; 32],
    cipher: Option<CipherState>,
}

impl SymmetricState {
    fn new() -> Self {
        // The name is longer than 32 bytes, so it is hashed; the empty prologue is then mixed
        // in, which makes h = SHA-256(ck).
        let ck: [u8; 32] = Sha256::digest(PROTOCOL_NAME).into();
        let h: [u8; 32] = Sha256::digest(ck).into();
        SymmetricState {
            ck,
            h,
            cipher: None,
        }
    }

    fn mix_hash(&mut self, data: &[u8]) {
        let mut d = Sha256::new();
        d.update(self.h);
        d.update(data);
        self.h = d.finalize().into();
    }

    fn mix_key(&mut self, ikm: &[u8; 32]) {
        let (ck, k) = hkdf2(&self.ck, ikm);
        self.ck = ck;
        self.cipher = Some(CipherState::new(k));
    }

    /// Encrypt `buf[..len - 16]` in place, append the tag, and mix the ciphertext.
    fn encrypt_and_hash(&mut self, buf: &mut [u8]) -> Result<(), NoiseError> {
        let h = self.h;
        let cipher = self.cipher.as_mut().ok_or(NoiseError::WrongState {
            expected: "a key before encryption",
        })?;
        let (pt, tag) = buf.split_at_mut(buf.len() - MAC_LEN);
        tag.copy_from_slice(&cipher.encrypt(&h, pt)?);
        self.mix_hash(buf);
        Ok(())
    }

    /// Mix the ciphertext, then decrypt `buf` (ciphertext and tag) in place.
    fn decrypt_and_hash(&mut self, buf: &mut [u8]) -> Result<(), NoiseError> {
        let h = self.h;
        let mut copy = [0u8; 128];
        let ct = copy
            .get_mut(..buf.len())
            .ok_or(NoiseError::CiphertextLength { got: buf.len() })?;
        ct.copy_from_slice(buf);
        let cipher = self.cipher.as_mut().ok_or(NoiseError::WrongState {
            expected: "a key before decryption",
        })?;
        cipher.decrypt(&h, buf)?;
        self.mix_hash(ct);
        Ok(())
    }

    /// The two transport keys: initiator-to-responder, responder-to-initiator.
    fn split(&self) -> ([u8; 32], [u8; 32]) {
        hkdf2(&self.ck, &[])
    }
}

fn ecdh(
    initiator: &ElligatorSwift,
    responder: &ElligatorSwift,
    secret: SecretKey,
    party: ElligatorSwiftParty,
) -> [u8; 32] {
    ElligatorSwift::shared_secret(*initiator, *responder, secret, party, None).to_secret_bytes()
}

/// A handshake key: a secret, the ElligatorSwift encoding that is sent for it, and its x-only
/// public key (computed once: a responder's static key signs into every certificate).
#[derive(Clone, Copy)]
pub struct HandshakeKey {
    pub secret: SecretKey,
    pub encoding: ElligatorSwift,
    pub xonly: XOnlyPublicKey,
}

impl HandshakeKey {
    /// A fresh key from the system RNG (even Y, encoded as libsecp256k1's
    /// `ellswift_encode` with zero randomness, like deployed implementations).
    pub fn generate() -> Result<Self, NoiseError> {
        Ok(Self::from_secret(crate::random_secret_key()?))
    }

    /// The key for `secret` (normalised to even Y).
    pub fn from_secret(secret: SecretKey) -> Self {
        let (secret, pk) = even_y(secret);
        HandshakeKey {
            secret,
            encoding: ElligatorSwift::from_pubkey(pk),
            xonly: pk.x_only_public_key().0,
        }
    }

    /// A key with an explicit encoding (ElligatorSwift encodings are not unique; tests that
    /// replay another implementation's transcript inject the bytes it sent).
    pub fn with_encoding(secret: SecretKey, encoding: [u8; 64]) -> Self {
        HandshakeKey {
            secret,
            encoding: ElligatorSwift::from_array(encoding),
            xonly: secret.x_only_public_key(SECP256K1).0,
        }
    }
}

impl std::fmt::Debug for HandshakeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeKey").finish_non_exhaustive()
    }
}

/// The connecting side (a miner or proxy connecting upstream). It knows the authority public
/// key of the pool it wants and refuses any responder without a valid certificate from it.
pub struct Initiator {
    authority: XOnlyPublicKey,
    ephemeral: HandshakeKey,
    state: Option<SymmetricState>,
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initiator")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

/// What the initiator learned from a successful handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeResult {
    /// The responder's certificate (checked).
    pub certificate: Certificate,
    /// The responder's static key, which the certificate vouches for.
    pub responder_static: XOnlyPublicKey,
    /// The final handshake hash (a channel binding value).
    pub handshake_hash: [u8; 32],
}

impl Initiator {
    /// An initiator with a fresh ephemeral key.
    pub fn new(authority: XOnlyPublicKey) -> Result<Self, NoiseError> {
        Ok(Self::with_ephemeral(authority, HandshakeKey::generate()?))
    }

    /// An initiator with a given ephemeral key (deterministic tests).
    pub fn with_ephemeral(authority: XOnlyPublicKey, ephemeral: HandshakeKey) -> Self {
        Initiator {
            authority,
            ephemeral,
            state: None,
        }
    }

    /// Message 1: the ephemeral key's encoding.
    pub fn start(&mut self) -> Result<[u8; INITIATOR_MESSAGE_LEN], NoiseError> {
        if self.state.is_some() {
            return Err(NoiseError::WrongState {
                expected: "start() once",
            });
        }
        let mut s = SymmetricState::new();
        let msg = self.ephemeral.encoding.to_array();
        s.mix_hash(&msg);
        s.mix_hash(&[]); // EncryptAndHash of the empty payload, without a key
        self.state = Some(s);
        Ok(msg)
    }

    /// Process message 2 at time `now` (unix seconds): check the certificate, and return the
    /// transport session. The initiator is consumed: a failed handshake cannot be retried.
    pub fn finish(
        mut self,
        msg2: &[u8],
        now: u32,
    ) -> Result<(NoiseSession, HandshakeResult), NoiseError> {
        let mut s = self.state.take().ok_or(NoiseError::WrongState {
            expected: "start() before finish()",
        })?;
        if msg2.len() != RESPONDER_MESSAGE_LEN {
            return Err(NoiseError::HandshakeMessageLength {
                expected: RESPONDER_MESSAGE_LEN,
                got: msg2.len(),
            });
        }
        let mut m = [0u8; RESPONDER_MESSAGE_LEN];
        m.copy_from_slice(msg2);
        let (re, rest) = m.split_at_mut(ELLSWIFT_ENCODING_SIZE);
        let (static_ct, cert_ct) = rest.split_at_mut(ELLSWIFT_ENCODING_SIZE + MAC_LEN);

        let mut re_arr = [0u8; 64];
        re_arr.copy_from_slice(re);
        let re = ElligatorSwift::from_array(re_arr);
        s.mix_hash(&re_arr);
        let ie = self.ephemeral.encoding;
        s.mix_key(&ecdh(
            &ie,
            &re,
            self.ephemeral.secret,
            ElligatorSwiftParty::A,
        ));

        s.decrypt_and_hash(static_ct)?;
        let mut rs_arr = [0u8; 64];
        rs_arr.copy_from_slice(&static_ct[..ELLSWIFT_ENCODING_SIZE]);
        let rs = ElligatorSwift::from_array(rs_arr);
        s.mix_key(&ecdh(
            &ie,
            &rs,
            self.ephemeral.secret,
            ElligatorSwiftParty::A,
        ));

        s.decrypt_and_hash(cert_ct)?;
        let mut cert_bytes = [0u8; SIGNATURE_NOISE_MESSAGE_LEN];
        cert_bytes.copy_from_slice(&cert_ct[..SIGNATURE_NOISE_MESSAGE_LEN]);
        let certificate = Certificate::from_bytes(&cert_bytes);
        let responder_static = PublicKey::from_ellswift(rs).x_only_public_key().0;
        certificate.verify(SECP256K1, &self.authority, &responder_static, now)?;

        let (i2r, r2i) = s.split();
        Ok((
            NoiseSession::new(i2r, r2i),
            HandshakeResult {
                certificate,
                responder_static,
                handshake_hash: s.h,
            },
        ))
    }
}

/// The accepting side (a pool or proxy). It proves who it is with a certificate signed by its
/// authority key.
pub struct Responder {
    authority: Keypair,
    static_key: HandshakeKey,
    ephemeral: HandshakeKey,
    cert_validity_secs: u32,
    aux_rand: [u8; 32],
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("cert_validity_secs", &self.cert_validity_secs)
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// A responder for one connection: fresh ephemeral key and signing randomness.
    /// `static_key` is the server's long-lived key; the certificate over it is valid for
    /// `cert_validity_secs` from the moment of the handshake.
    pub fn new(
        authority: Keypair,
        static_key: HandshakeKey,
        cert_validity_secs: u32,
    ) -> Result<Self, NoiseError> {
        let mut aux_rand = [0u8; 32];
        getrandom::getrandom(&mut aux_rand).map_err(|_| NoiseError::Randomness)?;
        Ok(Self::with_keys(
            authority,
            static_key,
            HandshakeKey::generate()?,
            cert_validity_secs,
            aux_rand,
        ))
    }

    /// A responder with every key and random value given (deterministic tests).
    pub fn with_keys(
        authority: Keypair,
        static_key: HandshakeKey,
        ephemeral: HandshakeKey,
        cert_validity_secs: u32,
        aux_rand: [u8; 32],
    ) -> Self {
        Responder {
            authority,
            static_key,
            ephemeral,
            cert_validity_secs,
            aux_rand,
        }
    }

    /// Process message 1 at time `now` and return message 2 and the transport session.
    pub fn respond(
        self,
        msg1: &[u8],
        now: u32,
    ) -> Result<([u8; RESPONDER_MESSAGE_LEN], NoiseSession), NoiseError> {
        if msg1.len() != INITIATOR_MESSAGE_LEN {
            return Err(NoiseError::HandshakeMessageLength {
                expected: INITIATOR_MESSAGE_LEN,
                got: msg1.len(),
            });
        }
        let mut s = SymmetricState::new();
        let mut ie_arr = [0u8; 64];
        ie_arr.copy_from_slice(msg1);
        let ie = ElligatorSwift::from_array(ie_arr);
        s.mix_hash(&ie_arr);
        s.mix_hash(&[]);

        let mut out = [0u8; RESPONDER_MESSAGE_LEN];
        let re = self.ephemeral.encoding;
        out[..64].copy_from_slice(&re.to_array());
        s.mix_hash(&out[..64]);
        s.mix_key(&ecdh(
            &ie,
            &re,
            self.ephemeral.secret,
            ElligatorSwiftParty::B,
        ));

        let rs = self.static_key.encoding;
        out[64..128].copy_from_slice(&rs.to_array());
        s.encrypt_and_hash(&mut out[64..144])?;
        s.mix_key(&ecdh(
            &ie,
            &rs,
            self.static_key.secret,
            ElligatorSwiftParty::B,
        ));

        let cert = Certificate::sign(
            SECP256K1,
            &self.authority,
            &self.static_key.xonly,
            now,
            now.saturating_add(self.cert_validity_secs),
            &self.aux_rand,
        );
        out[144..218].copy_from_slice(&cert.to_bytes());
        s.encrypt_and_hash(&mut out[144..234])?;

        let (i2r, r2i) = s.split();
        Ok((out, NoiseSession::new(r2i, i2r)))
    }
}

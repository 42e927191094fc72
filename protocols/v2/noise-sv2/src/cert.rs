//! The responder's certificate: the SIGNATURE_NOISE_MESSAGE of 04-Protocol-Security.md.
//!
//! Plaintext (74 bytes): version U16, valid_from U32, not_valid_after U32, signature (64-byte
//! BIP340 Schnorr by the authority key). The signed message is
//! SHA-256(version || valid_from || not_valid_after || responder static x-only key), integers
//! little-endian.

use crate::error::NoiseError;
use secp256k1::{schnorr, Keypair, Message, Secp256k1, Signing, Verification, XOnlyPublicKey};
use sha2::{Digest, Sha256};

/// Size of the certificate plaintext.
pub const SIGNATURE_NOISE_MESSAGE_LEN: usize = 74;

/// Clock difference tolerated on both ends of the validity window. Deployed initiators accept
/// a certificate 10 s before `valid_from` and 10 s after `not_valid_after`; the spec names no
/// tolerance. We allow the same, so that peers whose clocks differ a little still connect.
pub const CLOCK_SKEW_SECS: u32 = 10;

/// A responder certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate {
    /// Always 0 in the current spec; anything else is refused.
    pub version: u16,
    /// Unix time (seconds) from which the certificate is valid.
    pub valid_from: u32,
    /// Unix time (seconds) after which the certificate is no longer valid.
    pub not_valid_after: u32,
    /// BIP340 signature by the authority key.
    pub signature: [u8; 64],
}

impl Certificate {
    /// The 32-byte message the authority signs.
    pub fn signed_hash(
        version: u16,
        valid_from: u32,
        not_valid_after: u32,
        server_static: &XOnlyPublicKey,
    ) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(version.to_le_bytes());
        h.update(valid_from.to_le_bytes());
        h.update(not_valid_after.to_le_bytes());
        h.update(server_static.serialize());
        h.finalize().into()
    }

    /// Sign a certificate for `server_static`, valid from `valid_from` to `not_valid_after`.
    pub fn sign<C: Signing>(
        secp: &Secp256k1<C>,
        authority: &Keypair,
        server_static: &XOnlyPublicKey,
        valid_from: u32,
        not_valid_after: u32,
        aux_rand: &[u8; 32],
    ) -> Certificate {
        let hash = Self::signed_hash(0, valid_from, not_valid_after, server_static);
        let sig = secp.sign_schnorr_with_aux_rand(&Message::from_digest(hash), authority, aux_rand);
        Certificate {
            version: 0,
            valid_from,
            not_valid_after,
            signature: *sig.as_ref(),
        }
    }

    /// Check version, signature and validity at `now` (with [`CLOCK_SKEW_SECS`]).
    pub fn verify<C: Verification>(
        &self,
        secp: &Secp256k1<C>,
        authority: &XOnlyPublicKey,
        server_static: &XOnlyPublicKey,
        now: u32,
    ) -> Result<(), NoiseError> {
        if self.version != 0 {
            return Err(NoiseError::CertificateVersion {
                version: self.version,
            });
        }
        let hash = Self::signed_hash(
            self.version,
            self.valid_from,
            self.not_valid_after,
            server_static,
        );
        let sig = schnorr::Signature::from_slice(&self.signature)
            .map_err(|_| NoiseError::CertificateSignature)?;
        secp.verify_schnorr(&sig, &Message::from_digest(hash), authority)
            .map_err(|_| NoiseError::CertificateSignature)?;
        let earliest = self.valid_from.saturating_sub(CLOCK_SKEW_SECS);
        let latest = self.not_valid_after.saturating_add(CLOCK_SKEW_SECS);
        if now < earliest || now > latest {
            return Err(NoiseError::CertificateNotValidNow {
                now,
                valid_from: self.valid_from,
                not_valid_after: self.not_valid_after,
            });
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> [u8; SIGNATURE_NOISE_MESSAGE_LEN] {
        let mut out = [0u8; SIGNATURE_NOISE_MESSAGE_LEN];
        out[0..2].copy_from_slice(&self.version.to_le_bytes());
        out[2..6].copy_from_slice(&self.valid_from.to_le_bytes());
        out[6..10].copy_from_slice(&self.not_valid_after.to_le_bytes());
        out[10..].copy_from_slice(&self.signature);
        out
    }

    pub fn from_bytes(b: &[u8; SIGNATURE_NOISE_MESSAGE_LEN]) -> Certificate {
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[10..]);
        Certificate {
            version: u16::from_le_bytes([b[0], b[1]]),
            valid_from: u32::from_le_bytes([b[2], b[3], b[4], b[5]]),
            not_valid_after: u32::from_le_bytes([b[6], b[7], b[8], b[9]]),
            signature,
        }
    }
}

//! Encrypted frames after the handshake.
//!
//! On the wire a frame is its 6-byte header encrypted alone (6 + 16 = 22 bytes), then its
//! payload encrypted in pieces of at most 65519 bytes (65535 with the tag), each with its own
//! tag and nonce. An empty payload adds no bytes (deployed implementations send none). Each
//! direction has its own key and nonce counter, starting at 0 after the handshake.

use crate::cipher::{CipherState, MAC_LEN};
use crate::error::NoiseError;
use const_sv2::{NOISE_MAX_PLAINTEXT, SV2_FRAME_HEADER_SIZE, SV2_MAX_PAYLOAD_SIZE};

/// An encrypted header on the wire.
pub const ENCRYPTED_HEADER_LEN: usize = SV2_FRAME_HEADER_SIZE + MAC_LEN;

/// Wire size of an encrypted payload of `len` plaintext bytes.
#[inline]
pub fn encrypted_payload_len(len: usize) -> usize {
    len + MAC_LEN * len.div_ceil(NOISE_MAX_PLAINTEXT)
}

/// Wire size of a whole encrypted frame whose payload is `len` bytes.
#[inline]
pub fn encrypted_frame_len(len: usize) -> usize {
    ENCRYPTED_HEADER_LEN + encrypted_payload_len(len)
}

/// Both directions of an established session.
#[derive(Debug)]
pub struct NoiseSession {
    pub encryptor: Encryptor,
    pub decryptor: Decryptor,
}

impl NoiseSession {
    pub(crate) fn new(send_key: [u8; 32], recv_key: [u8; 32]) -> Self {
        NoiseSession {
            encryptor: Encryptor {
                cipher: CipherState::new(send_key),
            },
            decryptor: Decryptor {
                cipher: CipherState::new(recv_key),
            },
        }
    }

    /// The halves, to move into a sending and a receiving task.
    pub fn split(self) -> (Encryptor, Decryptor) {
        (self.encryptor, self.decryptor)
    }
}

/// The sending half: encrypts plaintext frames.
#[derive(Debug)]
pub struct Encryptor {
    cipher: CipherState,
}

impl Encryptor {
    /// Encrypt `frame` (6-byte header and payload, as framing_sv2 writes it) into `out`;
    /// returns the bytes written (`encrypted_frame_len(payload_len)`).
    pub fn encrypt_frame(&mut self, frame: &[u8], out: &mut [u8]) -> Result<usize, NoiseError> {
        let payload = frame
            .get(SV2_FRAME_HEADER_SIZE..)
            .ok_or(NoiseError::CiphertextLength { got: frame.len() })?;
        if payload.len() > SV2_MAX_PAYLOAD_SIZE {
            return Err(NoiseError::PayloadTooLarge {
                len: payload.len(),
                max: SV2_MAX_PAYLOAD_SIZE,
            });
        }
        let total = encrypted_frame_len(payload.len());
        if out.len() < total {
            return Err(NoiseError::BufferTooSmall {
                needed: total,
                available: out.len(),
            });
        }
        out[..SV2_FRAME_HEADER_SIZE].copy_from_slice(&frame[..SV2_FRAME_HEADER_SIZE]);
        let tag = self
            .cipher
            .encrypt(&[], &mut out[..SV2_FRAME_HEADER_SIZE])?;
        out[SV2_FRAME_HEADER_SIZE..ENCRYPTED_HEADER_LEN].copy_from_slice(&tag);
        let mut pos = ENCRYPTED_HEADER_LEN;
        for chunk in payload.chunks(NOISE_MAX_PLAINTEXT) {
            let end = pos + chunk.len();
            out[pos..end].copy_from_slice(chunk);
            let tag = self.cipher.encrypt(&[], &mut out[pos..end])?;
            out[end..end + MAC_LEN].copy_from_slice(&tag);
            pos = end + MAC_LEN;
        }
        Ok(pos)
    }

    /// Append the encrypted frame to `out`.
    pub fn encrypt_frame_to_vec(
        &mut self,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), NoiseError> {
        let start = out.len();
        let len = encrypted_frame_len(frame.len().saturating_sub(SV2_FRAME_HEADER_SIZE));
        out.resize(start + len, 0);
        match self.encrypt_frame(frame, &mut out[start..]) {
            Ok(_) => Ok(()),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Nonce of the next AEAD message.
    pub fn nonce(&self) -> u64 {
        self.cipher.nonce()
    }

    #[doc(hidden)]
    pub fn set_nonce(&mut self, n: u64) {
        self.cipher.set_nonce(n);
    }
}

/// The receiving half: decrypts headers and payloads.
#[derive(Debug)]
pub struct Decryptor {
    cipher: CipherState,
}

impl Decryptor {
    /// Decrypt an encrypted header in place; returns the 6 plaintext header bytes.
    pub fn decrypt_header(
        &mut self,
        ct: &mut [u8; ENCRYPTED_HEADER_LEN],
    ) -> Result<[u8; 6], NoiseError> {
        self.cipher.decrypt(&[], ct)?;
        let mut h = [0u8; 6];
        h.copy_from_slice(&ct[..6]);
        Ok(h)
    }

    /// Decrypt an encrypted payload in place (`encrypted_payload_len(n)` bytes for an `n`-byte
    /// payload). The plaintext is left in the first `n` bytes, which are returned.
    pub fn decrypt_payload<'b>(&mut self, ct: &'b mut [u8]) -> Result<&'b mut [u8], NoiseError> {
        const PIECE: usize = NOISE_MAX_PLAINTEXT + MAC_LEN;
        // Every piece carries at least one plaintext byte and a tag; anything else (an empty
        // or tag-only last piece) is not what an encryptor produces.
        if ct.is_empty() || (!ct.len().is_multiple_of(PIECE) && ct.len() % PIECE <= MAC_LEN) {
            return Err(NoiseError::CiphertextLength { got: ct.len() });
        }
        let pieces = ct.len().div_ceil(PIECE);
        let plain_len = ct.len() - pieces * MAC_LEN;
        let mut written = 0;
        for i in 0..pieces {
            let start = i * PIECE;
            let end = (start + PIECE).min(ct.len());
            let n = self.cipher.decrypt(&[], &mut ct[start..end])?;
            if start != written {
                ct.copy_within(start..start + n, written);
            }
            written += n;
        }
        debug_assert_eq!(written, plain_len);
        Ok(&mut ct[..plain_len])
    }

    /// Nonce of the next AEAD message.
    pub fn nonce(&self) -> u64 {
        self.cipher.nonce()
    }

    #[doc(hidden)]
    pub fn set_nonce(&mut self, n: u64) {
        self.cipher.set_nonce(n);
    }
}

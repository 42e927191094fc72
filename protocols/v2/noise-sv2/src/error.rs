use std::fmt;

/// Why a handshake or a transport message was refused. Every variant is a reason to close
/// that one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseError {
    /// A handshake message of the wrong size.
    HandshakeMessageLength { expected: usize, got: usize },
    /// A handshake step called out of order (or after a failure).
    WrongState { expected: &'static str },
    /// The AEAD tag did not verify: the bytes were changed, replayed, reordered, or encrypted
    /// with another key.
    DecryptionFailed,
    /// The responder's certificate has a version other than 0.
    CertificateVersion { version: u16 },
    /// The certificate's signature is not the authority's over the responder's static key.
    CertificateSignature,
    /// `now` is outside the certificate's validity window (with the allowed clock skew).
    CertificateNotValidNow {
        now: u32,
        valid_from: u32,
        not_valid_after: u32,
    },
    /// A nonce counter reached its limit; the session must be closed.
    NonceExhausted,
    /// A payload larger than a frame can carry.
    PayloadTooLarge { len: usize, max: usize },
    /// An output buffer smaller than needed.
    BufferTooSmall { needed: usize, available: usize },
    /// A ciphertext whose length cannot be a valid encrypted frame part.
    CiphertextLength { got: usize },
    /// The operating system's random number generator failed.
    Randomness,
}

impl fmt::Display for NoiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoiseError::HandshakeMessageLength { expected, got } => write!(
                f,
                "handshake message must be {expected} bytes, got {got}"
            ),
            NoiseError::WrongState { expected } => {
                write!(f, "handshake step out of order: expected {expected}")
            }
            NoiseError::DecryptionFailed => f.write_str(
                "decryption failed: the message was altered, replayed, reordered or not for this key",
            ),
            NoiseError::CertificateVersion { version } => {
                write!(f, "certificate version {version} is not supported (only 0)")
            }
            NoiseError::CertificateSignature => f.write_str(
                "certificate signature does not verify against the authority public key",
            ),
            NoiseError::CertificateNotValidNow {
                now,
                valid_from,
                not_valid_after,
            } => write!(
                f,
                "certificate is valid from {valid_from} to {not_valid_after}, and now is {now}"
            ),
            NoiseError::NonceExhausted => f.write_str("nonce counter exhausted"),
            NoiseError::PayloadTooLarge { len, max } => {
                write!(f, "payload of {len} bytes exceeds the maximum of {max}")
            }
            NoiseError::BufferTooSmall { needed, available } => {
                write!(f, "buffer too small: needs {needed} bytes, has {available}")
            }
            NoiseError::CiphertextLength { got } => {
                write!(f, "ciphertext of {got} bytes cannot hold an encrypted message")
            }
            NoiseError::Randomness => f.write_str("the system random number generator failed"),
        }
    }
}

impl std::error::Error for NoiseError {}

//! Authority keys in the forms people put in configuration files.
//!
//! * Public key: base58check of `[0x01, 0x00]` (version 1 as U16 little-endian) followed by the
//!   32-byte x-only key (04-Protocol-Security.md, the section on public keys). This is what
//!   deployed pools print and what miners configure.
//! * Secret key: base58check of the 32 secret bytes (the form deployed pool configs use).
//!
//! Both are also accepted as plain hex (64 characters), which some tools print.

use secp256k1::{Keypair, Parity, PublicKey, SecretKey, XOnlyPublicKey, SECP256K1};
use std::fmt;
use std::str::FromStr;

/// Version prefix of an encoded authority public key.
pub const AUTHORITY_PUBKEY_VERSION: [u8; 2] = [0x01, 0x00];

/// What is wrong with a key string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not base58 (or hex), or the base58check checksum does not match.
    Encoding(String),
    /// The decoded bytes have the wrong length.
    Length { expected: usize, got: usize },
    /// The public key's version prefix is not 01 00.
    Version([u8; 2]),
    /// The bytes are not a valid secp256k1 key.
    InvalidKey,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Encoding(e) => write!(f, "not a base58check or hex key: {e}"),
            KeyError::Length { expected, got } => {
                write!(f, "decoded key is {got} bytes, expected {expected}")
            }
            KeyError::Version(v) => write!(
                f,
                "authority public key version is {:02x}{:02x}, expected 0100",
                v[0], v[1]
            ),
            KeyError::InvalidKey => f.write_str("not a valid secp256k1 key"),
        }
    }
}

impl std::error::Error for KeyError {}

fn decode(s: &str) -> Result<Vec<u8>, KeyError> {
    let s = s.trim();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex_decode(s);
    }
    bs58::decode(s)
        .with_check(None)
        .into_vec()
        .map_err(|e| KeyError::Encoding(e.to_string()))
}

fn hex_decode(s: &str) -> Result<Vec<u8>, KeyError> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| KeyError::Encoding(e.to_string()))
        })
        .collect()
}

/// base58check of `bytes` (Bitcoin's alphabet, 4-byte double-SHA-256 checksum).
pub fn base58check(bytes: &[u8]) -> String {
    bs58::encode(bytes).with_check().into_string()
}

/// The authority's public key (x-only), as miners configure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthorityPublicKey(pub XOnlyPublicKey);

impl AuthorityPublicKey {
    pub fn to_base58(&self) -> String {
        let mut b = AUTHORITY_PUBKEY_VERSION.to_vec();
        b.extend_from_slice(&self.0.serialize());
        base58check(&b)
    }

    pub fn to_hex(&self) -> String {
        self.0.to_string()
    }
}

impl FromStr for AuthorityPublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bytes = decode(s)?;
        let key = match bytes.len() {
            34 => {
                let v = [bytes[0], bytes[1]];
                if v != AUTHORITY_PUBKEY_VERSION {
                    return Err(KeyError::Version(v));
                }
                &bytes[2..]
            }
            32 => &bytes[..],
            got => return Err(KeyError::Length { expected: 34, got }),
        };
        XOnlyPublicKey::from_slice(key)
            .map(AuthorityPublicKey)
            .map_err(|_| KeyError::InvalidKey)
    }
}

impl fmt::Display for AuthorityPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

/// The authority's secret key, which signs the pool's certificates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuthoritySecretKey(pub SecretKey);

impl AuthoritySecretKey {
    /// A new random key.
    pub fn generate() -> Result<Self, crate::NoiseError> {
        crate::random_secret_key().map(AuthoritySecretKey)
    }

    pub fn keypair(&self) -> Keypair {
        Keypair::from_secret_key(SECP256K1, &self.0)
    }

    pub fn public_key(&self) -> AuthorityPublicKey {
        AuthorityPublicKey(self.keypair().x_only_public_key().0)
    }

    pub fn to_base58(&self) -> String {
        base58check(&self.0.secret_bytes())
    }

    pub fn to_hex(&self) -> String {
        self.0.display_secret().to_string()
    }
}

impl FromStr for AuthoritySecretKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bytes = decode(s)?;
        if bytes.len() != 32 {
            return Err(KeyError::Length {
                expected: 32,
                got: bytes.len(),
            });
        }
        SecretKey::from_slice(&bytes)
            .map(AuthoritySecretKey)
            .map_err(|_| KeyError::InvalidKey)
    }
}

impl fmt::Debug for AuthoritySecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "AuthoritySecretKey(public {})", self.public_key())
    }
}

/// Negate `sk` if its point has odd Y, as deployed implementations do for every handshake key
/// (the x-only ECDH and x-only keys do not depend on it; the ElligatorSwift encoding does, so
/// keys made this way encode like theirs). Returns the key and its public key, computed once.
pub fn even_y(sk: SecretKey) -> (SecretKey, PublicKey) {
    let pk = PublicKey::from_secret_key(SECP256K1, &sk);
    if pk.x_only_public_key().1 == Parity::Odd {
        (sk.negate(), pk.negate(SECP256K1))
    } else {
        (sk, pk)
    }
}

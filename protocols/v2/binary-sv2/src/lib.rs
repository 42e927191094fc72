//! # binary_sv2
//!
//! The Stratum V2 binary encoding (03-Protocol-Overview.md, 3.1): every data type of the spec,
//! the [`Encodable`] and [`Decodable`] traits, and derive macros for structs made of them.
//!
//! * Decoding borrows: byte strings and sequences point into the input, nothing is copied.
//! * Encoding knows its size first ([`Encodable::encoded_len`]) and writes into the caller's
//!   buffer ([`Encodable::encode`]) without allocating.
//! * Every limit is checked both ways with a typed error naming the type, the limit and, inside
//!   a derived struct, the message and field.
//! * [`IntoStatic`] turns a borrowed value into an owned `'static` one.
//!
//! ```
//! use binary_sv2::{Decodable, Encodable, IntoStatic, Seq0255, Str0255, B032, U256};
//!
//! #[derive(Debug, Clone, PartialEq, Encodable, Decodable, IntoStatic)]
//! struct Example<'a> {
//!     id: u32,
//!     name: Str0255<'a>,
//!     extranonce: B032<'a>,
//!     min_ntime: Option<u32>,
//!     path: Seq0255<'a, U256>,
//! }
//!
//! let msg = Example {
//!     id: 7,
//!     name: "worker".try_into().unwrap(),
//!     extranonce: B032::new(&[1u8, 2, 3][..]).unwrap(),
//!     min_ntime: None,
//!     path: Seq0255::from_items([U256([9; 32])]).unwrap(),
//! };
//! let mut buf = [0u8; 128];
//! let n = msg.encode(&mut buf).unwrap();
//! assert_eq!(n, msg.encoded_len());
//! let decoded = Example::decode(&buf[..n]).unwrap(); // borrows from buf
//! let owned: Example<'static> = decoded.into_static();
//! assert_eq!(owned, msg);
//!
//! // Limits are typed errors:
//! let err = B032::new(vec![0u8; 33]).unwrap_err();
//! assert_eq!(err.to_string(), "B0_32 length 33 exceeds its maximum of 32");
//! ```

// Lets the derive macros' `::binary_sv2::` paths resolve inside this crate too.
extern crate self as binary_sv2;

mod codec;
mod error;
mod seq;
mod types;

#[cfg(feature = "quickcheck")]
mod arbitrary;
#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(feature = "serde")]
pub use serde_impls::f32_json;

pub use codec::{sum_fixed_sizes, Decodable, Encodable, IntoStatic, Reader, Writer};
pub use error::{DecodeError, DecodeErrorDetails, DecodeErrorKind, EncodeError, EncodeErrorKind};
pub use seq::{Seq, Seq0255, Seq064K, SeqElement, SeqIter};
pub use types::{Bytes, PubKey, Signature, Str0255, B016M, B0255, B032, B064K, U24, U256};

/// Derive macros. They share their names with the traits (like serde's), so one `use` brings
/// both.
pub use derive_codec_sv2::{Decodable, Encodable, IntoStatic};

#[cfg(feature = "quickcheck")]
pub use derive_codec_sv2::Arbitrary;

/// Re-exported for the derive macros; not part of the API.
#[doc(hidden)]
#[cfg(feature = "quickcheck")]
pub use quickcheck as __quickcheck;

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

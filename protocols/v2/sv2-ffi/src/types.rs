//! The C forms of the binary types (03-Protocol-Overview.md), and their conversion to and from
//! the Rust message types.
//!
//! Going to C, every pointer a decoded message holds points into its payload or its
//! [`Arena`], both owned by the message and freed by `sv2_message_free`. Coming from C, slices borrow the caller's
//! memory only for the duration of the encode call.

use crate::error::{FfiError, SV2_ERR_ENCODE};
use binary_sv2::{Seq, Str0255, B016M, B0255, B032, B064K, U256};
use std::ffi::c_char;

/// Bytes (B0_32, B0_255, B0_64K, B0_16M): `len` bytes at `data`. `data` may be NULL when
/// `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2Bytes {
    pub data: *const u8,
    pub len: usize,
}

/// Text (STR0_255): `len` bytes at `data`, UTF-8 by the spec (not checked). In a decoded
/// message `data[len]` is 0, so `data` is also a C string. When encoding, `data` need not be
/// NUL-terminated and may be NULL when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2Str {
    pub data: *const c_char,
    pub len: usize,
}

/// OPTION[U32]: `value` is meaningful only when `is_some`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2OptionU32 {
    pub is_some: bool,
    pub value: u32,
}

/// SEQ0_255[U256] or SEQ0_64K[U256]: `count` 32-byte values (hashes in the byte order of
/// the wire, i.e. as Bitcoin Core serialises them).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2U256List {
    pub items: *const [u8; 32],
    pub count: usize,
}

/// SEQ0_64K[U16]: `count` values in host byte order.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2U16List {
    pub items: *const u16,
    pub count: usize,
}

/// SEQ0_64K[U32]: `count` values in host byte order.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2U32List {
    pub items: *const u32,
    pub count: usize,
}

/// SEQ0_64K[B0_16M]: `count` byte strings (transactions).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Sv2BytesList {
    pub items: *const Sv2Bytes,
    pub count: usize,
}

/// What a decoded message's pointers point into besides its payload. Each piece is its own
/// heap allocation, so growing these vectors never moves bytes a pointer was already given for.
pub(crate) struct Arena {
    /// The message's payload, which fields usually borrow from.
    payload: std::ops::Range<*const u8>,
    blobs: Vec<Box<[u8]>>,
    u16s: Vec<Box<[u16]>>,
    u32s: Vec<Box<[u32]>>,
    hashes: Vec<Box<[[u8; 32]]>>,
    lists: Vec<Box<[Sv2Bytes]>>,
}

impl Arena {
    /// An arena for a message decoded from `payload`, which must outlive it.
    pub fn new(payload: &[u8]) -> Self {
        Arena {
            payload: payload.as_ptr_range(),
            blobs: Vec::new(),
            u16s: Vec::new(),
            u32s: Vec::new(),
            hashes: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// A pointer to `bytes` that lives as long as `self`: into the payload when the decoded
    /// field borrows from it (the usual case, no copy), else to a copy.
    fn keep(&mut self, bytes: &[u8]) -> *const u8 {
        let b = bytes.as_ptr_range();
        if self.payload.start <= b.start && b.end <= self.payload.end {
            return bytes.as_ptr();
        }
        self.blobs.push(bytes.into());
        self.blobs.last().map_or(std::ptr::null(), |b| b.as_ptr())
    }

    /// A NUL-terminated copy of `bytes`.
    fn keep_str(&mut self, bytes: &[u8]) -> *const c_char {
        let mut v = Vec::with_capacity(bytes.len() + 1);
        v.extend_from_slice(bytes);
        v.push(0);
        self.blobs.push(v.into_boxed_slice());
        self.blobs
            .last()
            .map_or(std::ptr::null(), |b| b.as_ptr().cast())
    }
}

/// A field of a C message struct, convertible from the Rust field `R` (decode) and back
/// (encode).
pub(crate) trait CField<R>: Sized {
    fn to_c(r: &R, owned: &mut Arena) -> Self;

    /// # Safety
    /// The pointers in `self` must be valid for their lengths while the result is used.
    unsafe fn to_rust(&self, field: &'static str) -> Result<R, FfiError>;
}

/// `len` elements at `ptr`, checked for what `slice::from_raw_parts` requires.
///
/// # Safety
/// When the checks pass, `ptr` must point to `len` initialised elements that outlive `'a`.
pub(crate) unsafe fn c_slice<'a, T>(
    ptr: *const T,
    len: usize,
    field: &str,
) -> Result<&'a [T], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::invalid(format!(
            "{field}: data is NULL but len is {len}"
        )));
    }
    if !ptr.is_aligned() {
        return Err(FfiError::invalid(format!(
            "{field}: pointer is not aligned"
        )));
    }
    if len
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|n| n > isize::MAX as usize)
    {
        return Err(FfiError::invalid(format!(
            "{field}: len {len} is impossible"
        )));
    }
    // SAFETY: non-null, aligned, size within isize::MAX; validity is the caller's promise.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

fn encode_error(field: &str, e: impl std::fmt::Display) -> FfiError {
    FfiError::new(SV2_ERR_ENCODE, format!("{field}: {e}"))
}

macro_rules! plain_field {
    ($($t:ty),*) => {$(
        impl CField<$t> for $t {
            fn to_c(r: &$t, _: &mut Arena) -> Self {
                *r
            }
            unsafe fn to_rust(&self, _: &'static str) -> Result<$t, FfiError> {
                Ok(*self)
            }
        }
    )*};
}
plain_field!(u8, u16, u32, u64, f32, bool);

impl CField<U256> for [u8; 32] {
    fn to_c(r: &U256, _: &mut Arena) -> Self {
        r.0
    }
    unsafe fn to_rust(&self, _: &'static str) -> Result<U256, FfiError> {
        Ok(U256(*self))
    }
}

impl CField<Option<u32>> for Sv2OptionU32 {
    fn to_c(r: &Option<u32>, _: &mut Arena) -> Self {
        Sv2OptionU32 {
            is_some: r.is_some(),
            value: r.unwrap_or(0),
        }
    }
    unsafe fn to_rust(&self, _: &'static str) -> Result<Option<u32>, FfiError> {
        Ok(self.is_some.then_some(self.value))
    }
}

macro_rules! bytes_field {
    ($($t:ident),*) => {$(
        impl<'a> CField<$t<'a>> for Sv2Bytes {
            fn to_c(r: &$t<'a>, owned: &mut Arena) -> Self {
                Sv2Bytes { data: owned.keep(r.as_bytes()), len: r.len() }
            }
            unsafe fn to_rust(&self, field: &'static str) -> Result<$t<'a>, FfiError> {
                // SAFETY: the caller's promise, passed on.
                let s = unsafe { c_slice(self.data, self.len, field)? };
                $t::new(s).map_err(|e| encode_error(field, e))
            }
        }
    )*};
}
bytes_field!(B032, B0255, B064K, B016M);

impl<'a> CField<Str0255<'a>> for Sv2Str {
    fn to_c(r: &Str0255<'a>, owned: &mut Arena) -> Self {
        Sv2Str {
            data: owned.keep_str(r.as_bytes()),
            len: r.len(),
        }
    }
    unsafe fn to_rust(&self, field: &'static str) -> Result<Str0255<'a>, FfiError> {
        // SAFETY: the caller's promise, passed on.
        let s = unsafe { c_slice(self.data.cast::<u8>(), self.len, field)? };
        Str0255::new(s).map_err(|e| encode_error(field, e))
    }
}

impl<'a, const MAX: usize, const PREFIX: usize> CField<Seq<'a, U256, MAX, PREFIX>> for Sv2U256List {
    fn to_c(r: &Seq<'a, U256, MAX, PREFIX>, owned: &mut Arena) -> Self {
        owned.hashes.push(r.iter().map(|h| h.0).collect());
        let items = owned.hashes.last().map_or(&[][..], |h| &h[..]);
        Sv2U256List {
            items: items.as_ptr(),
            count: items.len(),
        }
    }
    unsafe fn to_rust(&self, field: &'static str) -> Result<Seq<'a, U256, MAX, PREFIX>, FfiError> {
        // SAFETY: the caller's promise, passed on.
        let s = unsafe { c_slice(self.items, self.count, field)? };
        Seq::from_items(s.iter().map(|h| U256(*h))).map_err(|e| encode_error(field, e))
    }
}

macro_rules! int_list_field {
    ($t:ty, $c:ident, $store:ident) => {
        impl<'a, const MAX: usize, const PREFIX: usize> CField<Seq<'a, $t, MAX, PREFIX>> for $c {
            fn to_c(r: &Seq<'a, $t, MAX, PREFIX>, owned: &mut Arena) -> Self {
                owned.$store.push(r.iter().collect());
                let items = owned.$store.last().map_or(&[][..], |v| &v[..]);
                $c {
                    items: items.as_ptr(),
                    count: items.len(),
                }
            }
            unsafe fn to_rust(
                &self,
                field: &'static str,
            ) -> Result<Seq<'a, $t, MAX, PREFIX>, FfiError> {
                // SAFETY: the caller's promise, passed on.
                let s = unsafe { c_slice(self.items, self.count, field)? };
                Seq::from_items(s.iter().copied()).map_err(|e| encode_error(field, e))
            }
        }
    };
}
int_list_field!(u16, Sv2U16List, u16s);
int_list_field!(u32, Sv2U32List, u32s);

impl<'a, const MAX: usize, const PREFIX: usize> CField<Seq<'a, B016M<'a>, MAX, PREFIX>>
    for Sv2BytesList
{
    fn to_c(r: &Seq<'a, B016M<'a>, MAX, PREFIX>, owned: &mut Arena) -> Self {
        let list: Box<[Sv2Bytes]> = r
            .iter()
            .map(|b| Sv2Bytes {
                data: owned.keep(b.as_bytes()),
                len: b.len(),
            })
            .collect();
        owned.lists.push(list);
        let items = owned.lists.last().map_or(&[][..], |v| &v[..]);
        Sv2BytesList {
            items: items.as_ptr(),
            count: items.len(),
        }
    }
    unsafe fn to_rust(
        &self,
        field: &'static str,
    ) -> Result<Seq<'a, B016M<'a>, MAX, PREFIX>, FfiError> {
        // SAFETY: the caller's promise, passed on (for the list and for each element).
        let list = unsafe { c_slice(self.items, self.count, field)? };
        let items: Vec<B016M<'a>> = list
            .iter()
            .map(|b| unsafe { CField::<B016M<'a>>::to_rust(b, field) })
            .collect::<Result<_, _>>()?;
        Seq::from_items(items).map_err(|e| encode_error(field, e))
    }
}

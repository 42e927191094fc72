//! Status codes, the last error's text, and the guard that keeps panics on the Rust side.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What every function returns. `SV2_OK` and `SV2_NEED_MORE_BYTES` are not errors; every
/// negative value is, and `sv2_last_error()` then says why.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sv2Status {
    /// Done.
    SV2_OK = 0,
    /// No complete message yet: feed more bytes received from the peer.
    SV2_NEED_MORE_BYTES = 1,
    /// A pointer argument that must not be NULL was NULL.
    SV2_ERR_NULL_POINTER = -1,
    /// An argument is malformed: a key that does not parse, a length that does not fit its
    /// field, a pointer that is NULL while its length is not 0, an unknown message type to
    /// encode.
    SV2_ERR_INVALID_ARGUMENT = -2,
    /// A frame of a message type this library does not know. The frame was consumed; the
    /// codec can go on.
    SV2_ERR_UNKNOWN_MESSAGE = -3,
    /// A frame whose payload does not decode as the message its type names (truncated,
    /// trailing bytes, bad values). The frame was consumed; the codec can go on.
    SV2_ERR_DECODE = -4,
    /// A message that cannot be encoded (a field longer than its type allows).
    SV2_ERR_ENCODE = -5,
    /// The byte stream is broken (a frame longer than allowed); the codec cannot go on.
    SV2_ERR_FRAMING = -6,
    /// The noise handshake or the decryption failed (wrong key, bad certificate, changed or
    /// replayed bytes); the codec cannot go on.
    SV2_ERR_NOISE = -7,
    /// The call does not fit the codec's state (encode before the handshake is done, any call
    /// after a fatal error).
    SV2_ERR_STATE = -8,
    /// The library was built without this feature (noise in the rustc-only build).
    SV2_ERR_UNSUPPORTED = -9,
    /// A bug in this library was caught before it could cross into C. Please report it.
    SV2_ERR_PANIC = -10,
}

pub use Sv2Status::*;

/// An error on its way to C: the status and the text for `sv2_last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FfiError {
    pub status: Sv2Status,
    pub message: String,
}

impl FfiError {
    pub fn new(status: Sv2Status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }

    pub fn null(what: &str) -> Self {
        FfiError::new(SV2_ERR_NULL_POINTER, format!("{what} is NULL"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        FfiError::new(SV2_ERR_INVALID_ARGUMENT, message)
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // Interior NULs cannot be in a C string; they cannot come from our own messages either,
    // but peer text could be quoted in one.
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// Run an exported function's body: its error becomes a status and the last error's text,
/// and a panic becomes SV2_ERR_PANIC instead of unwinding into C (undefined behaviour).
pub(crate) fn guard(body: impl FnOnce() -> Result<Sv2Status, FfiError>) -> Sv2Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(&format!("internal error (panic): {what}"));
            SV2_ERR_PANIC
        }
    }
}

/// The text of the last error on the calling thread: why the last call that returned a
/// negative status failed. Never NULL (an empty string before any error).
///
/// Ownership: the string belongs to the library; it stays valid until the next failing call
/// on the same thread. Copy it to keep it; do not free it.
#[no_mangle]
pub extern "C" fn sv2_last_error() -> *const c_char {
    catch_unwind(|| LAST_ERROR.with(|e| e.borrow().as_ptr())).unwrap_or(c"".as_ptr())
}

/// A short fixed description of a status code, e.g. "decode error"; "unknown status" for a
/// value that is not one. Never NULL.
///
/// Ownership: a static string; do not free it.
#[no_mangle]
pub extern "C" fn sv2_status_text(status: i32) -> *const c_char {
    // An int, not Sv2Status: a value outside the enum must not become a Rust enum.
    let s: &'static std::ffi::CStr = match status {
        0 => c"ok",
        1 => c"need more bytes",
        -1 => c"null pointer",
        -2 => c"invalid argument",
        -3 => c"unknown message type",
        -4 => c"decode error",
        -5 => c"encode error",
        -6 => c"framing error",
        -7 => c"noise error",
        -8 => c"wrong state",
        -9 => c"unsupported",
        -10 => c"internal error",
        _ => c"unknown status",
    };
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_a_status_and_text() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, SV2_ERR_PANIC);
        let text = unsafe { CStr::from_ptr(sv2_last_error()) };
        assert!(text.to_str().unwrap().contains("boom"));
    }

    #[test]
    fn errors_set_the_text_and_successes_leave_it() {
        assert_eq!(
            guard(|| Err(FfiError::invalid("length 3 > 2"))),
            SV2_ERR_INVALID_ARGUMENT
        );
        assert_eq!(guard(|| Ok(SV2_OK)), SV2_OK);
        let text = unsafe { CStr::from_ptr(sv2_last_error()) };
        assert_eq!(text.to_str().unwrap(), "length 3 > 2");
    }

    #[test]
    fn every_status_has_a_text() {
        for s in [
            SV2_OK,
            SV2_NEED_MORE_BYTES,
            SV2_ERR_NULL_POINTER,
            SV2_ERR_INVALID_ARGUMENT,
            SV2_ERR_UNKNOWN_MESSAGE,
            SV2_ERR_DECODE,
            SV2_ERR_ENCODE,
            SV2_ERR_FRAMING,
            SV2_ERR_NOISE,
            SV2_ERR_STATE,
            SV2_ERR_UNSUPPORTED,
            SV2_ERR_PANIC,
        ] {
            let t = unsafe { CStr::from_ptr(sv2_status_text(s as i32)) };
            assert_ne!(t.to_str().unwrap(), "unknown status");
        }
    }
}

use std::fmt;

/// Conventional Sv1 error codes (from the original Stratum pool software; every deployed pool
/// and miner understands them).
pub mod codes {
    /// Other/unknown.
    pub const UNKNOWN: i64 = 20;
    /// Job not found (stale).
    pub const JOB_NOT_FOUND: i64 = 21;
    pub const DUPLICATE_SHARE: i64 = 22;
    pub const LOW_DIFFICULTY: i64 = 23;
    pub const UNAUTHORIZED: i64 = 24;
    pub const NOT_SUBSCRIBED: i64 = 25;
}

/// A line or message that could not be understood, naming the method and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sv1Error {
    /// The method, or `"(line)"` when the line is not a JSON-RPC object at all.
    pub method: String,
    /// The field (parameter) at fault, if one is.
    pub field: Option<&'static str>,
    pub reason: String,
}

impl Sv1Error {
    pub fn line(reason: impl Into<String>) -> Self {
        Sv1Error {
            method: "(line)".into(),
            field: None,
            reason: reason.into(),
        }
    }

    pub fn field(method: &str, field: &'static str, reason: impl Into<String>) -> Self {
        Sv1Error {
            method: method.into(),
            field: Some(field),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Sv1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{}: {field}: {}", self.method, self.reason),
            None => write!(f, "{}: {}", self.method, self.reason),
        }
    }
}

impl std::error::Error for Sv1Error {}

//! The translator's TOML configuration. Where the reference translator has a key with the same
//! meaning, it has the same name (downstream_address, downstream_port,
//! downstream_extranonce2_size, `[[upstreams]]`, `[downstream_difficulty_config]`), so
//! existing configs carry over.

use roles_utils::upstream::{self, UpstreamConfig};
use serde::Deserialize;
use std::net::SocketAddr;

/// The default configuration, with a comment for every key. `--generate-config` prints it,
/// and it is what the translator runs with when no file is given.
pub const DEFAULT_CONFIG: &str = concat!(
    r#"# Stratum V2 translator configuration: Stratum V1 miners in, one Sv2 channel out.

# Where Sv1 miners connect (plain Stratum V1 over TCP).
downstream_address = "0.0.0.0"
downstream_port = 34255
# Miners connected at once, at most.
max_connections = 100000
# Bytes of extranonce2 each miner rolls. Each miner also gets a 3-byte extranonce1 of its own,
# so the upstream channel must give at least downstream_extranonce2_size + 3 bytes.
downstream_extranonce2_size = 4

# The upstream channel's user identity: the pool credits the shares to it.
user_identity = "translator"
# While on a lower-priority upstream, try the better ones this often (seconds).
retry_primary_sec = 30
# Seconds a share sent to the pool waits for its answer; after that the miner is told it was
# not accepted (it may have been lost on the way).
upstream_answer_timeout_sec = 60

# Prometheus metrics (GET /metrics). Remove the key to turn the endpoint off.
metrics_address = "127.0.0.1:9184"

# Worker names one miner connection may authorize; an authorize for one more name is refused
# (result false, Sv1 error 24) and logged once for that connection.
max_workers_per_connection = 64
# Seconds a disconnected worker's metrics and last difficulty are kept (a miner that comes
# back within this gets its last difficulty at once).
worker_expiry_sec = 600
# Workers remembered at once, connected or not (metrics series, and last difficulties by
# name). When full, the longest-disconnected is forgotten first; when every one is connected,
# a further worker is served but neither listed nor remembered.
max_tracked_workers = 100000
"#,
    roles_utils::default_limits_toml!(),
    r#"
[downstream_difficulty_config]
# Hashrate (h/s) assumed for a new miner: its first difficulty, and the least a miner's
# difficulty goes down to.
min_individual_miner_hashrate = 1e12
# Vardiff aims each miner at this many shares per minute.
shares_per_minute = 6.0
# Send only powers of two as difficulty (many ASIC firmwares need it). Rounded down, so a
# miner never skips work the upstream would credit; never below the least difficulty above.
difficulty_power_of_two = false

# Sv2 pools or proxies, tried in priority order (lower first). When the active one fails,
# miners stay connected and get the next one's jobs.
[[upstreams]]
address = "127.0.0.1"
port = 34254
# The pool's authority public key (base58check). THIS DEFAULT IS THE LOCAL DEVELOPMENT POOL'S
# PUBLIC KEY; use your pool's.
authority_pubkey = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
priority = 0
"#
);

/// `[downstream_difficulty_config]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifficultyConfig {
    pub min_individual_miner_hashrate: f64,
    pub shares_per_minute: f64,
    #[serde(default)]
    pub difficulty_power_of_two: bool,
}

/// What the file holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatorConfig {
    pub downstream_address: String,
    pub downstream_port: u16,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_en2")]
    pub downstream_extranonce2_size: u16,
    #[serde(default = "default_user")]
    pub user_identity: String,
    #[serde(default = "default_retry")]
    pub retry_primary_sec: u64,
    #[serde(default = "default_answer_timeout")]
    pub upstream_answer_timeout_sec: u64,
    pub metrics_address: Option<SocketAddr>,
    #[serde(default = "default_max_workers")]
    pub max_workers_per_connection: usize,
    #[serde(default = "default_worker_expiry")]
    pub worker_expiry_sec: u64,
    #[serde(default = "default_max_tracked")]
    pub max_tracked_workers: usize,
    #[serde(default)]
    pub limits: roles_utils::limits::Limits,
    pub downstream_difficulty_config: DifficultyConfig,
    pub upstreams: Vec<UpstreamConfig>,
}

fn default_max_connections() -> usize {
    100_000
}
fn default_en2() -> u16 {
    4
}
fn default_user() -> String {
    "translator".into()
}
fn default_answer_timeout() -> u64 {
    60
}
fn default_retry() -> u64 {
    30
}
fn default_max_workers() -> usize {
    64
}
fn default_worker_expiry() -> u64 {
    600
}
fn default_max_tracked() -> usize {
    100_000
}

/// Bytes of extranonce1 that tell miners apart (16 million miners).
pub const MINER_ID_BYTES: usize = 3;

impl TranslatorConfig {
    /// Parse and check a TOML document.
    pub fn from_toml(s: &str) -> Result<Self, String> {
        let c: TranslatorConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.check()?;
        Ok(c)
    }

    /// How long a disconnected worker is remembered.
    pub fn worker_expiry(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.worker_expiry_sec)
    }

    /// Check values (after flags have overridden the file, too).
    pub fn check(&self) -> Result<(), String> {
        upstream::ordered(&self.upstreams)?;
        let d = &self.downstream_difficulty_config;
        if !(d.shares_per_minute.is_finite() && d.shares_per_minute > 0.0) {
            return Err("shares_per_minute must be a positive number".into());
        }
        if !(d.min_individual_miner_hashrate.is_finite() && d.min_individual_miner_hashrate > 0.0) {
            return Err("min_individual_miner_hashrate must be a positive number".into());
        }
        let total = self.downstream_extranonce2_size as usize + MINER_ID_BYTES;
        if !(1..=8).contains(&self.downstream_extranonce2_size)
            || total > roles_logic_sv2::MAX_EXTRANONCE_LEN
        {
            return Err("downstream_extranonce2_size must be between 1 and 8".into());
        }
        if self.max_workers_per_connection == 0 {
            return Err("max_workers_per_connection must be at least 1".into());
        }
        if self.worker_expiry_sec == 0 {
            return Err("worker_expiry_sec must be at least 1".into());
        }
        if self.max_tracked_workers == 0 {
            return Err("max_tracked_workers must be at least 1".into());
        }
        self.limits.check()
    }

    /// The embedded default.
    pub fn default_config() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("the embedded default config is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses() {
        let c = TranslatorConfig::default_config();
        assert_eq!(c.downstream_port, 34255);
        assert_eq!(c.downstream_extranonce2_size, 4);
        assert_eq!(c.upstreams[0].endpoint(), "127.0.0.1:34254");
        assert_eq!(c.downstream_difficulty_config.shares_per_minute, 6.0);
        assert!(!c.downstream_difficulty_config.difficulty_power_of_two);
        assert_eq!(c.max_workers_per_connection, 64);
        assert_eq!(c.worker_expiry_sec, 600);
        assert_eq!(c.max_tracked_workers, 100_000);
    }

    /// A config written for the reference translator (its key names) is read.
    #[test]
    fn reference_key_names_are_read() {
        let doc = r#"
downstream_address = "0.0.0.0"
downstream_port = 34255
downstream_extranonce2_size = 4
[downstream_difficulty_config]
min_individual_miner_hashrate = 10_000_000_000_000.0
shares_per_minute = 6.0
[[upstreams]]
address = "pool.example.com"
port = 3333
authority_pubkey = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
"#;
        let c = TranslatorConfig::from_toml(doc).unwrap();
        assert_eq!(c.upstreams[0].endpoint(), "pool.example.com:3333");
        assert!(c.metrics_address.is_none());
        // Keys it does not have take their defaults.
        assert!(!c.downstream_difficulty_config.difficulty_power_of_two);
        assert_eq!(c.max_workers_per_connection, 64);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = TranslatorConfig::from_toml(&DEFAULT_CONFIG.replace(
            "downstream_extranonce2_size = 4",
            "downstream_extranonce2_size = 0",
        ))
        .unwrap_err();
        assert!(e.contains("downstream_extranonce2_size"), "{e}");
        let e = TranslatorConfig::from_toml(
            &DEFAULT_CONFIG.replace("shares_per_minute = 6.0", "shares_per_minute = 0.0"),
        )
        .unwrap_err();
        assert!(e.contains("shares_per_minute"), "{e}");
        let e = TranslatorConfig::from_toml(&format!("{DEFAULT_CONFIG}\ndownstream_prot = 1"))
            .unwrap_err();
        assert!(e.contains("downstream_prot"), "{e}");
        for (from, to, key) in [
            (
                "max_workers_per_connection = 64",
                "max_workers_per_connection = 0",
                "max_workers_per_connection",
            ),
            (
                "worker_expiry_sec = 600",
                "worker_expiry_sec = 0",
                "worker_expiry_sec",
            ),
            (
                "max_tracked_workers = 100000",
                "max_tracked_workers = 0",
                "max_tracked_workers",
            ),
            (
                "max_tracked_workers = 100000",
                "max_tracked_workers = -1",
                "max_tracked_workers",
            ),
            (
                "difficulty_power_of_two = false",
                "difficulty_power_of_two = 2",
                "difficulty_power_of_two",
            ),
        ] {
            assert!(DEFAULT_CONFIG.contains(from), "{from}");
            let e = TranslatorConfig::from_toml(&DEFAULT_CONFIG.replace(from, to)).unwrap_err();
            assert!(e.contains(key), "{to}: {e}");
        }
    }
}

//! The proxy's TOML configuration. Keys that mean what the pool's keys mean carry the pool's
//! names; `[[upstreams]]` entries use the names deployed proxies and translators use.

use noise_sv2::AuthoritySecretKey;
use roles_utils::upstream::{self, UpstreamConfig};
use serde::Deserialize;
use std::net::SocketAddr;

/// The default configuration, with a comment for every key. `--generate-config` prints it,
/// and it is what the proxy runs with when no file is given.
pub const DEFAULT_CONFIG: &str = concat!(
    r#"# Stratum V2 mining proxy configuration.

# Where devices (and downstream proxies) connect (noise-encrypted Sv2).
listen_address = "127.0.0.1:34256"

# The proxy's own authority key pair, which signs its noise certificates; devices check the
# public key. THESE DEFAULT KEYS ARE PUBLIC: generate your own with `sv2 keygen` before
# running anywhere but on your own machine.
authority_public_key = "9cEPtAX1LMxAUDUC5TAAwaPB5D7nipxiwMyzwMHUj2cmqmHUCx4"
authority_secret_key = "23iLJXBSJ8cmw19feDK4r1hKjWJ51vrDB1oJZoXDQLTEyhJGyq"
# Seconds each noise certificate is valid.
cert_validity_sec = 3600

# Vardiff aims each downstream channel at this many shares per minute. Shares are checked
# here; only those that meet the upstream's target go on to the pool.
shares_per_minute = 6.0
# Accepted shares acknowledged together in one SubmitShares.Success at most.
share_batch_size = 10
# No downstream channel's target is easier than this difficulty, whatever hashrate it
# declares (0: no floor). Targets never go harder than the pool's, so nothing is lost.
min_share_difficulty = 0.0

# Connection limits.
max_connections = 50000
max_channels_per_connection = 1024

# The upstream channel: its user identity (the pool credits shares to it) and the least
# extranonce it must grant (an upstream that grants less is skipped). The proxy uses all that
# is granted: 2 bytes per downstream connection, 2 per channel, and the rest for devices and
# translators to roll, so 12 guarantees them 8 (our pool grants 26, leaving them 22).
user_identity = "proxy"
min_extranonce_size = 12
# Ask upstreams to allow version rolling (BIP320), which ASICs need; an upstream that cannot is
# skipped for the next one.
require_version_rolling = true
# While on a lower-priority upstream, try the better ones this often (seconds).
retry_primary_sec = 30
# Seconds a share sent to the pool waits for its answer; after that the miner is told it was
# not accepted (it may have been lost on the way).
upstream_answer_timeout_sec = 60

"#,
    roles_utils::default_limits_toml!(),
    r#"
# Pools, tried in priority order (lower first; equal priorities in file order). When the
# active one fails, devices move to the next without being disconnected, and back when a
# better one returns.
[[upstreams]]
address = "127.0.0.1"
port = 34254
authority_pubkey = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
priority = 0
"#
);

/// What the file holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub listen_address: SocketAddr,
    pub authority_public_key: Option<String>,
    pub authority_secret_key: String,
    #[serde(default = "default_cert_validity")]
    pub cert_validity_sec: u32,
    #[serde(default = "default_spm")]
    pub shares_per_minute: f64,
    #[serde(default = "default_batch")]
    pub share_batch_size: u32,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_max_channels")]
    pub max_channels_per_connection: usize,
    #[serde(default = "default_user")]
    pub user_identity: String,
    #[serde(default = "default_min_extranonce")]
    pub min_extranonce_size: u16,
    #[serde(default = "default_true")]
    pub require_version_rolling: bool,
    #[serde(default = "default_retry")]
    pub retry_primary_sec: u64,
    #[serde(default = "default_answer_timeout")]
    pub upstream_answer_timeout_sec: u64,
    #[serde(default)]
    pub min_share_difficulty: f64,
    #[serde(default)]
    pub limits: roles_utils::limits::Limits,
    pub upstreams: Vec<UpstreamConfig>,
}

fn default_cert_validity() -> u32 {
    3600
}
fn default_spm() -> f64 {
    6.0
}
fn default_batch() -> u32 {
    10
}
fn default_max_connections() -> usize {
    50_000
}
fn default_max_channels() -> usize {
    1024
}
fn default_user() -> String {
    "proxy".into()
}
fn default_min_extranonce() -> u16 {
    12
}
fn default_true() -> bool {
    true
}
fn default_answer_timeout() -> u64 {
    60
}
fn default_retry() -> u64 {
    30
}

/// Bytes of the upstream extranonce that tell downstream connections apart.
pub const CONNECTION_ID_BYTES: usize = roles_utils::upstream::LAYOUT_CONNECTION_ID_BYTES;

impl ProxyConfig {
    /// Parse and check a TOML document.
    pub fn from_toml(s: &str) -> Result<Self, String> {
        let c: ProxyConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.authority()?;
        upstream::ordered(&c.upstreams)?;
        if !(c.shares_per_minute.is_finite() && c.shares_per_minute > 0.0) {
            return Err("shares_per_minute must be a positive number".into());
        }
        if !(c.min_share_difficulty.is_finite() && c.min_share_difficulty >= 0.0) {
            return Err("min_share_difficulty must be a number, 0 or more".into());
        }
        c.limits.check()?;
        let min = CONNECTION_ID_BYTES + roles_logic_sv2::mining_server::CHANNEL_ID_BYTES;
        if (c.min_extranonce_size as usize) < min
            || c.min_extranonce_size as usize > roles_logic_sv2::MAX_EXTRANONCE_LEN
        {
            return Err(format!(
                "min_extranonce_size must be between {min} and {}",
                roles_logic_sv2::MAX_EXTRANONCE_LEN
            ));
        }
        Ok(c)
    }

    /// The embedded default.
    pub fn default_config() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("the embedded default config is valid")
    }

    pub fn authority(&self) -> Result<AuthoritySecretKey, String> {
        roles_utils::authority_keys(
            &self.authority_secret_key,
            self.authority_public_key.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses() {
        let c = ProxyConfig::default_config();
        assert_eq!(c.listen_address.port(), 34256);
        assert_eq!(c.upstreams.len(), 1);
        assert_eq!(c.upstreams[0].endpoint(), "127.0.0.1:34254");
        assert!(c.upstreams[0].authority().unwrap().is_some());
    }

    #[test]
    fn upstreams_are_ordered_by_priority_then_file_order() {
        let doc = format!(
            "{DEFAULT_CONFIG}
[[upstreams]]
address = \"backup\"
port = 1
priority = 5
[[upstreams]]
address = \"first\"
port = 2
[[upstreams]]
address = \"second\"
port = 3
priority = 5
"
        );
        let c = ProxyConfig::from_toml(&doc).unwrap();
        let order: Vec<_> = upstream::ordered(&c.upstreams)
            .unwrap()
            .into_iter()
            .map(|u| u.address)
            .collect();
        assert_eq!(order, ["127.0.0.1", "first", "backup", "second"]);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = ProxyConfig::from_toml(
            &DEFAULT_CONFIG.replace("min_extranonce_size = 12", "min_extranonce_size = 3"),
        )
        .unwrap_err();
        assert!(e.contains("min_extranonce_size"), "{e}");
        let e =
            ProxyConfig::from_toml(&format!("{DEFAULT_CONFIG}\nlisten_adress = 1")).unwrap_err();
        assert!(e.contains("listen_adress"), "{e}");
        let e = ProxyConfig::from_toml(
            &DEFAULT_CONFIG.replace("authority_pubkey = \"9cEF", "authority_pubkey = \"xx"),
        )
        .unwrap_err();
        assert!(e.contains("authority_pubkey"), "{e}");
        let no_upstreams = &DEFAULT_CONFIG[..DEFAULT_CONFIG.find("[[upstreams]]").unwrap()];
        let e = ProxyConfig::from_toml(&format!("{no_upstreams}upstreams = []")).unwrap_err();
        assert!(e.contains("upstreams"), "{e}");
    }
}

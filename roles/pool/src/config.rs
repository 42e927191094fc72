//! The pool's TOML configuration. Keys carry the names deployed Sv2 pools use for the same
//! meaning, so an existing config needs few changes.

use bitcoin::ScriptBuf;
use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey};
use serde::Deserialize;
use std::net::SocketAddr;
use std::str::FromStr;

/// The default configuration, with a comment for every key. `--generate-config` prints it,
/// and it is what the pool runs with when no file is given.
pub const DEFAULT_CONFIG: &str = concat!(
    r#"# Stratum V2 pool configuration.

# Where miners and proxies connect (noise-encrypted Sv2).
listen_address = "127.0.0.1:34254"

# Authority key pair that signs the pool's noise certificates (base58check, as `sv2 keygen`
# prints them). Miners check the public key. THESE DEFAULT KEYS ARE PUBLIC: generate your own
# with `sv2 keygen` before running anywhere but on your own machine.
authority_public_key = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
authority_secret_key = "jvRuXAe3N2zzAdps41oF4gN82Ft85p48GBPxngwAVqKep9gGu"
# Seconds each noise certificate is valid.
cert_validity_sec = 3600

# Template provider (Template Distribution Protocol) to take block templates from.
tp_address = "127.0.0.1:8442"
# Its authority public key; when set the connection is noise-encrypted and the key checked,
# when absent the connection is plain TCP (a node on the same machine).
# tp_authority_public_key = "9bpB99rJdrGJ4m1N8HbdzKVAVxwRP5QGpTXq8jeethTXWy9mZ7p"

# Ask the template provider for every template's transactions, so that a found block that no
# link can take is logged whole (hex for `bitcoin-cli submitblock`). Costs a block's worth of
# data per template.
keep_block_transactions = true

# Where block rewards go: "addr(<address>)", "raw(<script hex>)" or a script in hex.
coinbase_reward_script = "raw(0014c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff)"
# Written into every coinbase's scriptSig.
pool_signature = "Stratum V2 Rust pool"

# Vardiff aims each channel at this many shares per minute.
shares_per_minute = 6.0
# Accepted shares acknowledged together in one SubmitShares.Success at most (answers are also
# sent whenever the pool has read everything a connection sent).
share_batch_size = 10
# No channel's target is easier than this difficulty (1 = 2^32 hashes per share), whatever
# hashrate it declares. The default suits CPU miners on a test chain; a pool of ASICs sets
# thousands. A target is never made harder than the network's, so every block is submitted.
min_share_difficulty = 0.0001

# Connection limits.
max_connections = 50000
max_channels_per_connection = 1024

# The job declaration server (JDS): miners' job declarator clients declare the jobs they build
# from their own templates, and mine them here with SetCustomMiningJob. Uncomment to enable.
# It needs a Bitcoin node's JSON-RPC (any current Bitcoin Core, or the template-provider
# simulator's --rpc-address) for the mempool and to submit blocks found on declared jobs.
# [jds]
# listen_address = "127.0.0.1:34264"
# rpc_url = "http://127.0.0.1:8332"
# rpc_user = "user"
# rpc_password = "password"
# # or, instead of user and password, the node's cookie file:
# # rpc_cookie_file = "/home/bitcoin/.bitcoin/.cookie"
# # Share of the reward the JDS can verify (subsidy and known fees) that must go to the pool.
# min_pool_payout_fraction = 1.0
# # Accept SetCustomMiningJob with a token used directly (coinbase-only mode), whose
# # transactions the pool never sees.
# coinbase_only = true
# # Unused tokens are forgotten after this many seconds.
# token_ttl_sec = 600
# max_tokens = 100000
"#,
    "\n",
    roles_utils::default_limits_toml!()
);

/// Longest `pool_signature`: 100 bytes of scriptSig less the 32-byte extranonce and its push,
/// the tag's push, and up to 16 bytes of template prefix.
pub const MAX_POOL_SIGNATURE: usize = 100 - 33 - 2 - 16;

/// What the file holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub listen_address: SocketAddr,
    pub authority_public_key: Option<String>,
    pub authority_secret_key: String,
    #[serde(default = "default_cert_validity")]
    pub cert_validity_sec: u32,
    pub tp_address: SocketAddr,
    pub tp_authority_public_key: Option<String>,
    pub coinbase_reward_script: String,
    #[serde(default)]
    pub pool_signature: String,
    #[serde(default = "default_spm")]
    pub shares_per_minute: f64,
    #[serde(default = "default_batch")]
    pub share_batch_size: u32,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_max_channels")]
    pub max_channels_per_connection: usize,
    #[serde(default = "default_min_share_difficulty")]
    pub min_share_difficulty: f64,
    #[serde(default = "default_true")]
    pub keep_block_transactions: bool,
    #[serde(default)]
    pub limits: roles_utils::limits::Limits,
    /// The job declaration server, when the `[jds]` table is present.
    pub jds: Option<JdsConfig>,
}

/// The `[jds]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdsConfig {
    pub listen_address: SocketAddr,
    pub rpc_url: String,
    pub rpc_user: Option<String>,
    pub rpc_password: Option<String>,
    pub rpc_cookie_file: Option<std::path::PathBuf>,
    #[serde(default = "default_payout_fraction")]
    pub min_pool_payout_fraction: f64,
    #[serde(default = "default_true")]
    pub coinbase_only: bool,
    #[serde(default = "default_token_ttl")]
    pub token_ttl_sec: u64,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
}

fn default_payout_fraction() -> f64 {
    1.0
}
fn default_token_ttl() -> u64 {
    600
}
fn default_max_tokens() -> usize {
    100_000
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
fn default_true() -> bool {
    true
}
fn default_min_share_difficulty() -> f64 {
    0.0001
}
fn default_max_connections() -> usize {
    50_000
}
fn default_max_channels() -> usize {
    1024
}

/// A configuration that does not make sense, with the key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl PoolConfig {
    /// Parse and check a TOML document.
    pub fn from_toml(s: &str) -> Result<Self, ConfigError> {
        let c: PoolConfig = toml::from_str(s).map_err(|e| ConfigError(e.to_string()))?;
        c.authority()?;
        c.tp_authority()?;
        c.reward_script()?;
        if !(c.shares_per_minute.is_finite() && c.shares_per_minute > 0.0) {
            return Err(ConfigError(
                "shares_per_minute must be a positive number".into(),
            ));
        }
        // The coinbase scriptSig (at most 100 bytes) holds the template's prefix (BIP34
        // height), this tag and the 32-byte extranonce.
        if c.pool_signature.len() > MAX_POOL_SIGNATURE {
            return Err(ConfigError(format!(
                "pool_signature is {} bytes; at most {MAX_POOL_SIGNATURE} fit the coinbase",
                c.pool_signature.len()
            )));
        }
        if !(c.min_share_difficulty.is_finite() && c.min_share_difficulty >= 0.0) {
            return Err(ConfigError(
                "min_share_difficulty must be a number, 0 or more".into(),
            ));
        }
        c.limits.check().map_err(ConfigError)?;
        if let Some(j) = &c.jds {
            if !(0.0..=1.0).contains(&j.min_pool_payout_fraction) {
                return Err(ConfigError(
                    "jds.min_pool_payout_fraction must be between 0 and 1".into(),
                ));
            }
            if j.rpc_user.is_some() != j.rpc_password.is_some() {
                return Err(ConfigError(
                    "jds.rpc_user and jds.rpc_password go together".into(),
                ));
            }
            if !j.rpc_url.starts_with("http://") {
                return Err(ConfigError("jds.rpc_url must be http://host:port".into()));
            }
        }
        Ok(c)
    }

    /// The embedded default.
    pub fn default_config() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("the embedded default config is valid")
    }

    /// The authority secret key, checked against the public key when both are given.
    pub fn authority(&self) -> Result<AuthoritySecretKey, ConfigError> {
        roles_utils::authority_keys(
            &self.authority_secret_key,
            self.authority_public_key.as_deref(),
        )
        .map_err(ConfigError)
    }

    pub fn tp_authority(&self) -> Result<Option<AuthorityPublicKey>, ConfigError> {
        self.tp_authority_public_key
            .as_deref()
            .map(AuthorityPublicKey::from_str)
            .transpose()
            .map_err(|e| ConfigError(format!("tp_authority_public_key: {e}")))
    }

    /// The payout script: `addr(ADDRESS)`, `raw(HEX)` or plain hex.
    pub fn reward_script(&self) -> Result<ScriptBuf, ConfigError> {
        parse_script(&self.coinbase_reward_script)
            .map_err(|e| ConfigError(format!("coinbase_reward_script: {e}")))
    }
}

/// Parse a payout script description (see [`roles_utils::parse_script`]).
pub use roles_utils::parse_script;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses() {
        let c = PoolConfig::default_config();
        assert_eq!(c.listen_address.port(), 34254);
        assert_eq!(c.reward_script().unwrap().len(), 22);
    }

    #[test]
    fn mismatched_keys_are_refused() {
        let doc = DEFAULT_CONFIG.replace(
            "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8",
            "9bpB99rJdrGJ4m1N8HbdzKVAVxwRP5QGpTXq8jeethTXWy9mZ7p",
        );
        let e = PoolConfig::from_toml(&doc).unwrap_err();
        assert!(e.0.contains("authority_public_key"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e =
            PoolConfig::from_toml(&format!("{DEFAULT_CONFIG}\nlisten_adress = \"x\"")).unwrap_err();
        assert!(e.0.contains("listen_adress"), "{e}");
        let doc = DEFAULT_CONFIG.replace("shares_per_minute = 6.0", "shares_per_minute = -1.0");
        assert!(PoolConfig::from_toml(&doc)
            .unwrap_err()
            .0
            .contains("shares_per_minute"));
    }

    #[test]
    fn scripts_in_each_form() {
        let a = parse_script("addr(bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq)").unwrap();
        assert!(a.is_p2wpkh());
        assert_eq!(parse_script("raw(51)").unwrap().as_bytes(), &[0x51]);
        assert_eq!(parse_script("0051").unwrap().as_bytes(), &[0x00, 0x51]);
        assert!(parse_script("addr(nonsense)").is_err());
        assert!(parse_script("raw()").is_err());
    }
}

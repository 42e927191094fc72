//! The JD client's TOML configuration. Keys with a meaning the reference JD client has carry
//! its names (`listening_address`, `authority_public_key`, `authority_secret_key`,
//! `cert_validity_sec`, `shares_per_minute`, `coinbase_reward_script`, `mode`,
//! `jdc_signature`, `[[upstreams]]` with `authority_pubkey`, `pool_address`, `pool_port`,
//! `jds_address`, `jds_port`, `user_identity`, and `[template_provider_type.Sv2Tp]` with
//! `address` and `public_key`), so that its configs are read as they are. Its older forms
//! (`tp_address`, `tp_authority_public_key`, `pool_address = "host:port"`,
//! `jd_address = "host:port"`) are read too; keys that have no meaning here
//! (`withhold`, `timeout`, `log_file`, the supported versions...) are accepted and logged.

use noise_sv2::{AuthorityPublicKey, AuthoritySecretKey};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;

/// The default configuration, with a comment for every key. `--generate-config` prints it,
/// and it is what the JD client runs with when no file is given.
pub const DEFAULT_CONFIG: &str = concat!(
    r#"# Stratum V2 job declarator client (JDC): mines templates from your own node on a pool.

# Where devices, proxies and translators connect (noise-encrypted Sv2).
listening_address = "127.0.0.1:34265"

# The JDC's own authority key pair, which signs its noise certificates; its downstreams check
# the public key. THESE DEFAULT KEYS ARE PUBLIC: generate your own with `sv2 keygen`.
authority_public_key = "9cDwWSW3k6XwifmY1gLC25aV9RGLMSmR8AF9N7uxK3hwZYfTZWd"
authority_secret_key = "21pXJ4N3GxEFYWvYMRVuSrUdokN91ccy8rXdVdLFVQUddJQ2LC"
cert_validity_sec = 3600

# Vardiff aims each downstream channel at this many shares per minute.
shares_per_minute = 6.0

# Where the block reward goes when no pool is reachable (solo mining, the last fallback).
coinbase_reward_script = "raw(0014c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff)"

# "FULLTEMPLATE": declare every template's transactions to the pool's JDS, which checks them
# and can submit blocks too. "COINBASEONLY": the pool sees only the coinbase.
mode = "FULLTEMPLATE"

# Written into every coinbase's scriptSig.
jdc_signature = "Stratum V2 Rust JDC"

# While on a fallback (a lower pool, or solo), try the better pools this often (seconds).
retry_primary_sec = 30
# The least extranonce a pool must grant (the JDC keeps 4 bytes for its own downstream
# connections and channels, so 12 leaves devices and translators 8).
min_extranonce_size = 12
"#,
    roles_utils::default_limits_toml!(),
    r#"
# Pools, in order of preference: each is a pool (mining) with its job declaration server.
# When the pool or its JDS refuses or drops, the next is used, then solo mining on
# coinbase_reward_script; a better one is used again when it returns.
[[upstreams]]
authority_pubkey = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
pool_address = "127.0.0.1"
pool_port = 34254
jds_address = "127.0.0.1"
jds_port = 34264
user_identity = "jdc"

# Where templates come from: any Sv2 template provider (a Bitcoin Core with Sv2 support, or
# this workspace's simulator). public_key: its authority key, for noise; absent, plain TCP.
[template_provider_type.Sv2Tp]
address = "127.0.0.1:8442"
# public_key = "9bpB99rJdrGJ4m1N8HbdzKVAVxwRP5QGpTXq8jeethTXWy9mZ7p"
"#
);

/// One `[[upstreams]]` entry: a pool and its JDS.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct UpstreamConfig {
    pub authority_pubkey: String,
    /// Host, or `host:port` (the older form, without `pool_port`).
    pub pool_address: String,
    pub pool_port: Option<u16>,
    /// Host, or `host:port` without `jds_port`. The older key `jd_address` is read too.
    #[serde(alias = "jd_address")]
    pub jds_address: String,
    pub jds_port: Option<u16>,
    #[serde(default = "default_user")]
    pub user_identity: String,
}

fn default_user() -> String {
    "jdc".into()
}

/// `host:port` from a host and an optional separate port.
fn endpoint(host: &str, port: Option<u16>, key: &str) -> Result<String, String> {
    match port {
        Some(p) => Ok(if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{p}")
        } else {
            format!("{host}:{p}")
        }),
        None if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok()) =>
        {
            Ok(host.to_string())
        }
        None => Err(format!(
            "{key} has no port (give it as host:port, or set the _port key)"
        )),
    }
}

impl UpstreamConfig {
    pub fn pool_endpoint(&self) -> Result<String, String> {
        endpoint(&self.pool_address, self.pool_port, "pool_address")
    }

    pub fn jds_endpoint(&self) -> Result<String, String> {
        endpoint(&self.jds_address, self.jds_port, "jds_address")
    }

    pub fn authority(&self) -> Result<AuthorityPublicKey, String> {
        AuthorityPublicKey::from_str(&self.authority_pubkey)
            .map_err(|e| format!("upstream {}: authority_pubkey: {e}", self.pool_address))
    }
}

/// `[template_provider_type.Sv2Tp]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Sv2Tp {
    pub address: String,
    pub public_key: Option<String>,
}

/// `[template_provider_type]`: only an Sv2 template provider is supported.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub enum TemplateProviderType {
    Sv2Tp(Sv2Tp),
}

/// Job declaration mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    FullTemplate,
    CoinbaseOnly,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "fulltemplate" => Ok(Mode::FullTemplate),
            "coinbaseonly" => Ok(Mode::CoinbaseOnly),
            _ => Err(format!(
                "mode {s:?}: expected \"FULLTEMPLATE\" or \"COINBASEONLY\""
            )),
        }
    }
}

/// What the file holds.
#[derive(Debug, Clone, Deserialize)]
pub struct JdClientConfig {
    pub listening_address: SocketAddr,
    pub authority_public_key: Option<String>,
    pub authority_secret_key: String,
    #[serde(default = "default_cert_validity")]
    pub cert_validity_sec: u32,
    #[serde(default = "default_spm")]
    pub shares_per_minute: f64,
    pub coinbase_reward_script: String,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default)]
    pub jdc_signature: String,
    #[serde(default = "default_retry")]
    pub retry_primary_sec: u64,
    #[serde(default = "default_min_extranonce")]
    pub min_extranonce_size: u16,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default)]
    pub limits: roles_utils::limits::Limits,
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    pub template_provider_type: Option<TemplateProviderType>,
    /// The older form of the template provider's address.
    pub tp_address: Option<String>,
    pub tp_authority_public_key: Option<String>,
    /// Keys of the reference JD client that have no meaning here, kept to be logged.
    #[serde(flatten)]
    pub ignored: BTreeMap<String, toml::Value>,
}

fn default_cert_validity() -> u32 {
    3600
}
fn default_spm() -> f64 {
    6.0
}
fn default_mode() -> String {
    "FULLTEMPLATE".into()
}
fn default_retry() -> u64 {
    30
}
fn default_min_extranonce() -> u16 {
    12
}
fn default_max_connections() -> usize {
    50_000
}

impl JdClientConfig {
    /// Parse and check a TOML document.
    pub fn from_toml(s: &str) -> Result<Self, String> {
        let c: JdClientConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.authority()?;
        c.reward_script()?;
        c.mode()?;
        c.template_provider()?;
        for u in &c.upstreams {
            u.authority()?;
            u.pool_endpoint()?;
            u.jds_endpoint()?;
        }
        if !(c.shares_per_minute.is_finite() && c.shares_per_minute > 0.0) {
            return Err("shares_per_minute must be a positive number".into());
        }
        let min = roles_utils::upstream::LAYOUT_CONNECTION_ID_BYTES
            + roles_logic_sv2::mining_server::CHANNEL_ID_BYTES;
        if (c.min_extranonce_size as usize) < min + 1
            || c.min_extranonce_size as usize > roles_logic_sv2::MAX_EXTRANONCE_LEN
        {
            return Err(format!(
                "min_extranonce_size must be between {} and {}",
                min + 1,
                roles_logic_sv2::MAX_EXTRANONCE_LEN
            ));
        }
        c.limits.check()?;
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

    pub fn reward_script(&self) -> Result<bitcoin::ScriptBuf, String> {
        roles_utils::parse_script(&self.coinbase_reward_script)
            .map_err(|e| format!("coinbase_reward_script: {e}"))
    }

    pub fn mode(&self) -> Result<Mode, String> {
        self.mode.parse()
    }

    /// The template provider's address and authority key.
    pub fn template_provider(&self) -> Result<(String, Option<AuthorityPublicKey>), String> {
        let (address, key) = match (&self.template_provider_type, &self.tp_address) {
            (Some(TemplateProviderType::Sv2Tp(t)), _) => (t.address.clone(), t.public_key.clone()),
            (None, Some(a)) => (a.clone(), self.tp_authority_public_key.clone()),
            (None, None) => {
                return Err("no template provider: set [template_provider_type.Sv2Tp]".into())
            }
        };
        let key = key
            .as_deref()
            .map(AuthorityPublicKey::from_str)
            .transpose()
            .map_err(|e| format!("template provider public_key: {e}"))?;
        Ok((address, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses() {
        let c = JdClientConfig::default_config();
        assert_eq!(c.listening_address.port(), 34265);
        assert_eq!(c.upstreams[0].pool_endpoint().unwrap(), "127.0.0.1:34254");
        assert_eq!(c.upstreams[0].jds_endpoint().unwrap(), "127.0.0.1:34264");
        assert_eq!(c.mode().unwrap(), Mode::FullTemplate);
        assert_eq!(c.template_provider().unwrap().0, "127.0.0.1:8442");
        assert!(c.ignored.is_empty());
    }

    /// The reference JD client's example config, in its older form, is read.
    #[test]
    fn a_reference_config_is_read() {
        let doc = r#"
listening_address = "127.0.0.1:34265"
max_supported_version = 2
min_supported_version = 2
withhold = false
authority_public_key = "9cDwWSW3k6XwifmY1gLC25aV9RGLMSmR8AF9N7uxK3hwZYfTZWd"
authority_secret_key = "21pXJ4N3GxEFYWvYMRVuSrUdokN91ccy8rXdVdLFVQUddJQ2LC"
cert_validity_sec = 3600
tp_address = "127.0.0.1:8442"
jdc_signature = "JDC"
coinbase_reward_script = "addr(tb1qa0sm0hxzj0x25rh8gw5xlzwlsfvvyz8u96w3p8)"
[timeout]
unit = "secs"
value = 1
[[upstreams]]
authority_pubkey = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8"
pool_address = "127.0.0.1:34254"
jd_address = "127.0.0.1:34264"
"#;
        let c = JdClientConfig::from_toml(doc).unwrap();
        assert_eq!(c.upstreams[0].pool_endpoint().unwrap(), "127.0.0.1:34254");
        assert_eq!(c.upstreams[0].jds_endpoint().unwrap(), "127.0.0.1:34264");
        assert_eq!(c.template_provider().unwrap().0, "127.0.0.1:8442");
        let ignored: Vec<&str> = c.ignored.keys().map(String::as_str).collect();
        assert_eq!(
            ignored,
            [
                "max_supported_version",
                "min_supported_version",
                "timeout",
                "withhold"
            ]
        );
        // The newer form with separate ports and the typed template provider.
        let doc = DEFAULT_CONFIG.replace("mode = \"FULLTEMPLATE\"", "mode = \"COINBASEONLY\"");
        assert_eq!(
            JdClientConfig::from_toml(&doc).unwrap().mode().unwrap(),
            Mode::CoinbaseOnly
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let e =
            JdClientConfig::from_toml(&DEFAULT_CONFIG.replace("FULLTEMPLATE", "FAST")).unwrap_err();
        assert!(e.contains("mode"), "{e}");
        let e = JdClientConfig::from_toml(&DEFAULT_CONFIG.replace("pool_port = 34254\n", ""))
            .unwrap_err();
        assert!(e.contains("pool_address"), "{e}");
        let no_tp = &DEFAULT_CONFIG[..DEFAULT_CONFIG.find("[template_provider_type").unwrap()];
        assert!(JdClientConfig::from_toml(no_tp)
            .unwrap_err()
            .contains("template provider"));
    }
}

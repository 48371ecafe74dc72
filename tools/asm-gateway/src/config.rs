//! The helper's config file (TOML, `/etc/asm/gateway.toml` by default):
//! policy, breaker settings and the providers.  It holds API keys, so it
//! must be owned by root and unreadable by group and others; keys may
//! instead come from environment variables the file names.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::providers::ApiKey;
use crate::route::{BreakerConfig, Policy, Provider};

/// The default config path.
pub const DEFAULT_PATH: &str = "/etc/asm/gateway.toml";

/// The longest per-provider timeout, as the kernel's longest request.
const TIMEOUT_MAX_MS: u64 = 600_000;

/// The largest config file read.
const FILE_MAX: u64 = 1 << 20;

/// A config that cannot be used; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Shorthand for a [`ConfigError`].
fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// The file as written.  No `Debug`: it may hold keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    policy: Option<String>,
    chain: Option<Vec<String>>,
    log_prompts: Option<bool>,
    breaker: Option<RawBreaker>,
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
}

/// `[breaker]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    failures: Option<u32>,
    retry_after_ms: Option<u64>,
}

/// `[providers.NAME]`.  No `Debug`: it may hold a key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    enabled: Option<bool>,
    base_url: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    api_key_env: Option<String>,
    timeout_ms: Option<u64>,
}

/// Where a provider's key came from, for `--check-config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// No key (a local server).
    None,
    /// `api_key` in the file.
    File,
    /// The environment variable of `api_key_env`.
    Env(String),
}

/// One provider's effective settings.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Which provider.
    pub provider: Provider,
    /// Whether requests may use it.
    pub enabled: bool,
    /// Base URL, without the API path.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// The key; its `Debug` is redacted.
    pub api_key: Option<ApiKey>,
    /// Where the key came from.
    pub key_source: KeySource,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// The effective config.
#[derive(Clone, Debug)]
pub struct Config {
    /// The routing policy.
    pub policy: Policy,
    /// Whether log lines carry the prompt.
    pub log_prompts: bool,
    /// Circuit breaker settings.
    pub breaker: BreakerConfig,
    /// Per provider, by [`Provider::index`]; absent sections are disabled.
    pub providers: [ProviderConfig; 4],
}

/// The default base URL of `p`.
fn default_base_url(p: Provider) -> &'static str {
    match p {
        Provider::Claude => "https://api.anthropic.com",
        Provider::Gpt4 => "https://api.openai.com",
        Provider::Gemini => "https://generativelanguage.googleapis.com",
        Provider::Local => "http://127.0.0.1:8080",
    }
}

/// The default model of `p`.
fn default_model(p: Provider) -> &'static str {
    match p {
        Provider::Claude => "claude-sonnet-4-5",
        Provider::Gpt4 => "gpt-4o",
        Provider::Gemini => "gemini-2.0-flash",
        Provider::Local => "local",
    }
}

impl Config {
    /// Reads `path` after checking that only root can read it (see
    /// [`read_protected`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_protected(path, 0)?;
        Config::parse(&text, |name| std::env::var(name).ok())
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Parses `text`, looking keys named by `api_key_env` up with `env`.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError(toml_error(text, &e)))?;
        let policy = match (raw.policy.as_deref().unwrap_or("cost"), raw.chain) {
            ("chain", Some(names)) => {
                let mut chain = Vec::new();
                for n in &names {
                    let p = Provider::from_name(n).ok_or_else(|| {
                        ConfigError(format!(
                            "chain: unknown provider \"{n}\" (claude, gpt4, gemini, local)"
                        ))
                    })?;
                    if chain.contains(&p) {
                        return err(format!("chain: \"{n}\" appears twice"));
                    }
                    chain.push(p);
                }
                if chain.is_empty() {
                    return err("chain: empty");
                }
                Policy::Chain(chain)
            }
            ("chain", None) => return err("policy \"chain\" needs chain = [...]"),
            (_, Some(_)) => return err("chain = [...] needs policy = \"chain\""),
            ("cost", None) => Policy::Cost,
            ("reliability", None) => Policy::Reliability,
            ("local-only", None) => Policy::LocalOnly,
            (other, None) => {
                return err(format!(
                    "unknown policy \"{other}\" (cost, reliability, local-only, chain)"
                ))
            }
        };
        let mut breaker = BreakerConfig::default();
        if let Some(b) = raw.breaker {
            if let Some(f) = b.failures {
                if f == 0 {
                    return err("breaker.failures: must be at least 1");
                }
                breaker.failures = f;
            }
            if let Some(ms) = b.retry_after_ms {
                breaker.retry_after = Duration::from_millis(ms);
            }
        }
        for name in raw.providers.keys() {
            if Provider::from_name(name).is_none() {
                return err(format!(
                    "[providers.{name}]: unknown provider (claude, gpt4, gemini, local)"
                ));
            }
        }
        let mut raw_providers = raw.providers;
        let providers =
            Provider::ALL.map(|p| provider_config(p, raw_providers.remove(p.name()), &env));
        let [a, b, c, d] = providers;
        let providers = [a?, b?, c?, d?];
        if !providers.iter().any(|p| p.enabled) {
            return err("no provider is enabled");
        }
        Ok(Config {
            policy,
            log_prompts: raw.log_prompts.unwrap_or(false),
            breaker,
            providers,
        })
    }

    /// The settings of `p`.
    pub fn provider(&self, p: Provider) -> &ProviderConfig {
        &self.providers[p.index()]
    }

    /// The effective routing, without keys, for `--check-config`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let order: Vec<&str> = self
            .policy
            .order()
            .into_iter()
            .filter(|p| self.provider(*p).enabled)
            .map(Provider::name)
            .collect();
        s.push_str(&format!(
            "policy: {} (order: {})\n",
            self.policy.name(),
            if order.is_empty() {
                "none enabled".to_string()
            } else {
                order.join(" -> ")
            }
        ));
        s.push_str(
            "a request's preferred provider goes first when enabled and its breaker is closed\n",
        );
        s.push_str(&format!(
            "breaker: open after {} consecutive failures, retry after {} ms\n",
            self.breaker.failures,
            self.breaker.retry_after.as_millis()
        ));
        s.push_str(&format!("log_prompts: {}\n", self.log_prompts));
        for p in &self.providers {
            if !p.enabled {
                s.push_str(&format!("{:<7} disabled\n", p.provider.name()));
                continue;
            }
            let key = match &p.key_source {
                KeySource::None => "no key".to_string(),
                KeySource::File => "key in the config file".to_string(),
                KeySource::Env(v) => format!("key from ${v}"),
            };
            s.push_str(&format!(
                "{:<7} enabled  {} model {} timeout {} ms, {}\n",
                p.provider.name(),
                p.base_url,
                p.model,
                p.timeout.as_millis(),
                key
            ));
        }
        s
    }
}

/// The effective settings of `p` from its section `raw`, if any.
fn provider_config(
    p: Provider,
    raw: Option<RawProvider>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ProviderConfig, ConfigError> {
    let name = p.name();
    let Some(raw) = raw else {
        return Ok(ProviderConfig {
            provider: p,
            enabled: false,
            base_url: default_base_url(p).into(),
            model: default_model(p).into(),
            api_key: None,
            key_source: KeySource::None,
            timeout: Duration::from_millis(30_000),
        });
    };
    let enabled = raw.enabled.unwrap_or(true);
    let base_url = raw.base_url.unwrap_or_else(|| default_base_url(p).into());
    let model = raw.model.unwrap_or_else(|| default_model(p).into());
    if model.is_empty() || model.contains(['/', '?', '#', ' ']) {
        return err(format!(
            "[providers.{name}] model: \"{model}\" is not a model name"
        ));
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(30_000);
    if timeout_ms == 0 || timeout_ms > TIMEOUT_MAX_MS {
        return err(format!(
            "[providers.{name}] timeout_ms: {timeout_ms} is not within 1 to {TIMEOUT_MAX_MS}"
        ));
    }
    let (api_key, key_source) = match (raw.api_key, raw.api_key_env) {
        (Some(_), Some(_)) => {
            return err(format!(
                "[providers.{name}]: api_key and api_key_env are exclusive"
            ))
        }
        (Some(k), None) => (Some(k), KeySource::File),
        (None, Some(var)) => match env(&var) {
            Some(k) => (Some(k), KeySource::Env(var)),
            None if enabled => {
                return err(format!("[providers.{name}] api_key_env: ${var} is not set"))
            }
            None => (None, KeySource::Env(var)),
        },
        (None, None) => (None, KeySource::None),
    };
    if api_key.as_deref() == Some("") && enabled {
        return err(format!("[providers.{name}]: the API key is empty"));
    }
    if api_key.is_none() && enabled && p != Provider::Local {
        return err(format!(
            "[providers.{name}]: needs api_key or api_key_env (or enabled = false)"
        ));
    }
    // The cloud providers always send a key; local only when it has one.
    check_base_url(name, &base_url, p != Provider::Local || api_key.is_some())?;
    Ok(ProviderConfig {
        provider: p,
        enabled,
        base_url,
        model,
        api_key: api_key.map(ApiKey::new),
        key_source,
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// A toml parse error without the source line toml's `Display` quotes
/// (it may hold a key): the message, scrubbed of the value it may name,
/// and the line and column.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = scrub_value(e.message().trim());
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// serde's "invalid type: string \"VALUE\", expected ..." (and "invalid
/// value: ...") name the value found, which may be a key written in the
/// wrong place: only its kind is kept.
fn scrub_value(msg: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected") {
                let kind = found.split(' ').next().unwrap_or("");
                return format!("{prefix}{kind}, expected{expected}");
            }
        }
    }
    msg.to_string()
}

/// Whether `host` (a parsed URL's host: IPv6 in brackets, IPv4 in
/// dotted-decimal form) is this machine: 127.0.0.0/8, ::1, localhost.
fn is_loopback(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|a| {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    }
    if let Ok(a) = host.parse::<Ipv4Addr>() {
        return a.is_loopback();
    }
    let d = host.strip_suffix('.').unwrap_or(host);
    d.eq_ignore_ascii_case("localhost")
}

/// Checks `base_url` of a provider whose requests carry a key (`keyed`):
/// an http:// or https:// URL with a host, and https:// unless the host
/// is loopback -- over plain HTTP anyone on the path reads the key.
pub fn check_base_url(name: &str, base_url: &str, keyed: bool) -> Result<(), ConfigError> {
    if !base_url.starts_with("http://") && !base_url.starts_with("https://") {
        return err(format!(
            "[providers.{name}] base_url: \"{base_url}\" is not an http:// or https:// URL"
        ));
    }
    let url = reqwest::Url::parse(base_url).map_err(|e| {
        ConfigError(format!(
            "[providers.{name}] base_url: \"{base_url}\" is not a URL ({e})"
        ))
    })?;
    let Some(host) = url.host_str() else {
        return err(format!(
            "[providers.{name}] base_url: \"{base_url}\" has no host"
        ));
    };
    if keyed && url.scheme() == "http" && !is_loopback(host) {
        return err(format!(
            "[providers.{name}] base_url: \"{base_url}\" is plain http:// to another \
             host; the API key would cross the network in cleartext (use https://, or \
             http:// only to 127.0.0.1, ::1 or localhost)"
        ));
    }
    Ok(())
}

/// Reads the config at `path`, refusing it unless it is safe to hold keys:
///
/// * `path` itself is not a symbolic link (opened with `O_NOFOLLOW`: the
///   name is resolved once, and the file checked is the file read);
/// * the open file (`fstat`) is a regular file owned by `owner` (root)
///   that group and others may neither read nor write ([`check_mode`]);
/// * its directory is not writable by group or others (whoever may write
///   there could swap the file between runs).  Only the immediate parent
///   is checked, and a sticky bit does not make such a directory
///   acceptable.
fn read_protected(path: &Path, owner: u32) -> Result<String, ConfigError> {
    let at = |e: std::io::Error| ConfigError(format!("{}: {e}", path.display()));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dmd = fs::metadata(dir).map_err(|e| ConfigError(format!("{}: {e}", dir.display())))?;
    if dmd.mode() & 0o022 != 0 {
        return err(format!(
            "{}: the directory {} is writable by group or others (mode {:04o}); \
             whoever can write there can replace the config (chmod go-w)",
            path.display(),
            dir.display(),
            dmd.mode() & 0o7777
        ));
    }
    let file = fs::OpenOptions::new()
        .read(true)
        // No blocking on a FIFO put in the file's place.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                ConfigError(format!(
                    "{}: is a symbolic link; name the file itself",
                    path.display()
                ))
            } else {
                at(e)
            }
        })?;
    let md = file.metadata().map_err(at)?;
    if !md.file_type().is_file() {
        return err(format!("{}: not a regular file", path.display()));
    }
    check_mode_of(path, owner, md.uid(), md.mode())?;
    let mut text = String::new();
    file.take(FILE_MAX + 1)
        .read_to_string(&mut text)
        .map_err(at)?;
    if text.len() as u64 > FILE_MAX {
        return err(format!("{}: larger than {FILE_MAX} bytes", path.display()));
    }
    Ok(text)
}

/// Refuses a config file that is not root's or that group or others may
/// read or write (its owner and mode): it holds API keys.
pub fn check_mode(path: &Path, uid: u32, mode: u32) -> Result<(), ConfigError> {
    check_mode_of(path, 0, uid, mode)
}

/// [`check_mode`] with the owner required being `owner`.
fn check_mode_of(path: &Path, owner: u32, uid: u32, mode: u32) -> Result<(), ConfigError> {
    if uid != owner {
        return err(format!(
            "{}: owned by uid {uid}, not root; it holds API keys (chown root)",
            path.display()
        ));
    }
    if mode & 0o077 != 0 {
        return err(format!(
            "{}: mode {:04o} lets group or others access it; it holds API keys (chmod 600)",
            path.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const FULL: &str = r#"
policy = "chain"
chain = ["gemini", "claude", "local"]
log_prompts = true

[breaker]
failures = 5
retry_after_ms = 1000

[providers.claude]
api_key_env = "ANTHROPIC_API_KEY"
timeout_ms = 2000

[providers.gemini]
api_key = "g-key"
model = "gemini-1.5-pro"

[providers.gpt4]
enabled = false

[providers.local]
base_url = "http://127.0.0.1:11434"
model = "llama3"
"#;

    #[test]
    fn parses_a_full_config() {
        let c = Config::parse(FULL, |v| {
            (v == "ANTHROPIC_API_KEY").then(|| "a-key".to_string())
        })
        .unwrap();
        assert_eq!(
            c.policy,
            Policy::Chain(vec![Provider::Gemini, Provider::Claude, Provider::Local])
        );
        assert!(c.log_prompts);
        assert_eq!(c.breaker.failures, 5);
        assert_eq!(c.breaker.retry_after, Duration::from_secs(1));
        let claude = c.provider(Provider::Claude);
        assert!(claude.enabled);
        assert_eq!(claude.api_key.as_ref().map(ApiKey::expose), Some("a-key"));
        assert_eq!(
            claude.key_source,
            KeySource::Env("ANTHROPIC_API_KEY".into())
        );
        assert_eq!(claude.timeout, Duration::from_secs(2));
        assert_eq!(claude.base_url, "https://api.anthropic.com");
        assert!(!c.provider(Provider::Gpt4).enabled);
        assert_eq!(c.provider(Provider::Gemini).model, "gemini-1.5-pro");
        assert_eq!(c.provider(Provider::Local).api_key, None);
    }

    #[test]
    fn defaults_to_cost() {
        let c = Config::parse("[providers.local]\n", no_env).unwrap();
        assert_eq!(c.policy, Policy::Cost);
        assert!(!c.log_prompts);
        assert_eq!(c.breaker, BreakerConfig::default());
        assert!(c.provider(Provider::Local).enabled);
        assert!(!c.provider(Provider::Claude).enabled);
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = [
            ("policy = \"cheap\"\n[providers.local]\n", "unknown policy"),
            ("policy = \"chain\"\n[providers.local]\n", "needs chain"),
            ("chain = [\"local\"]\n[providers.local]\n", "needs policy"),
            (
                "policy = \"chain\"\nchain = [\"local\", \"local\"]\n[providers.local]\n",
                "twice",
            ),
            (
                "policy = \"chain\"\nchain = [\"bard\"]\n[providers.local]\n",
                "unknown provider",
            ),
            ("[providers.bard]\n", "unknown provider"),
            ("[providers.claude]\n", "needs api_key"),
            ("[providers.claude]\napi_key_env = \"NOPE\"\n", "is not set"),
            (
                "[providers.claude]\napi_key = \"k\"\napi_key_env = \"K\"\n",
                "exclusive",
            ),
            ("[providers.local]\nbase_url = \"ftp://x\"\n", "not an http"),
            ("[providers.local]\ntimeout_ms = 0\n", "timeout_ms"),
            (
                "[providers.local]\nenabled = false\n",
                "no provider is enabled",
            ),
            ("[breaker]\nfailures = 0\n[providers.local]\n", "at least 1"),
            ("[providers.local]\nbogus = 1\n", "unknown field"),
            ("", "no provider is enabled"),
        ];
        for (text, want) in bad {
            let e = Config::parse(text, no_env).err();
            let msg = e.map(|e| e.0).unwrap_or_default();
            assert!(msg.contains(want), "{text:?}: {msg:?} lacks {want:?}");
        }
    }

    #[test]
    fn describe_shows_no_keys() {
        let c = Config::parse(FULL, |_| Some("a-secret-key".into())).unwrap();
        let d = c.describe();
        assert!(d.contains("order: gemini -> claude -> local"), "{d}");
        assert!(d.contains("key from $ANTHROPIC_API_KEY"), "{d}");
        assert!(!d.contains("a-secret-key") && !d.contains("g-key"), "{d}");
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("a-secret-key") && !dbg.contains("g-key"),
            "{dbg}"
        );
    }

    #[test]
    fn parse_errors_do_not_quote_the_file() {
        let text = "policy = \"cost\"\n[providers.claude]\napi_key = sk-secret\n";
        let e = Config::parse(text, no_env).unwrap_err().0;
        assert!(!e.contains("sk-secret"), "{e}");
        assert!(e.starts_with("line 3, column 11: "), "{e}");
        // A key in a field of another type: serde would name the value.
        let text = "[providers.local]\ntimeout_ms = \"sk-secret\"\n";
        let e = Config::parse(text, no_env).unwrap_err().0;
        assert!(!e.contains("sk-secret"), "{e}");
        assert!(
            e.contains("line 2") && e.contains("invalid type: string"),
            "{e}"
        );
        let text = "[providers.local]\nmodel = 12345678\n";
        let e = Config::parse(text, no_env).unwrap_err().0;
        assert!(!e.contains("12345678"), "{e}");
    }

    #[test]
    fn scrubs_values_from_serde_messages() {
        assert_eq!(
            scrub_value("invalid type: string \"k\", expected u64"),
            "invalid type: string, expected u64"
        );
        assert_eq!(
            scrub_value("invalid value: integer `7`, expected a bool"),
            "invalid value: integer, expected a bool"
        );
        assert_eq!(
            scrub_value("unknown field `x`, expected one of `a`"),
            "unknown field `x`, expected one of `a`"
        );
    }

    #[test]
    fn keys_need_https_off_loopback() {
        for ok in [
            "https://api.anthropic.com",
            "https://10.0.0.5:8443/v1",
            "http://127.0.0.1:8089",
            "http://127.1.2.3",
            "http://localhost:8080/x",
            "http://LOCALHOST.",
            "http://[::1]:8089",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert_eq!(check_base_url("claude", ok, true), Ok(()), "{ok}");
        }
        for bad in [
            "http://api.openai.com",
            "http://10.0.0.5:8080",
            "http://127.0.0.1.nip.io",
            "http://localhost.evil.com",
            "http://[::2]",
            "http://0.0.0.0:8080",
        ] {
            let e = check_base_url("gpt4", bad, true).unwrap_err().0;
            assert!(e.contains("cleartext"), "{bad}: {e}");
        }
        // Without a key, plain http anywhere is the operator's choice.
        assert_eq!(
            check_base_url("local", "http://10.0.0.5:8080", false),
            Ok(())
        );
        assert!(check_base_url("local", "http://", false).is_err());
        // Through the parser: claude always has a key, local only if given one.
        let e = Config::parse(
            "[providers.claude]\nbase_url = \"http://example.com\"\napi_key = \"k\"\n",
            no_env,
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("[providers.claude]") && e.contains("cleartext"),
            "{e}"
        );
        assert!(Config::parse(
            "[providers.local]\nbase_url = \"http://10.1.1.1:8080\"\n",
            no_env
        )
        .is_ok());
        let e = Config::parse(
            "[providers.local]\nbase_url = \"http://10.1.1.1:8080\"\napi_key = \"k\"\n",
            no_env,
        )
        .unwrap_err()
        .0;
        assert!(e.contains("cleartext"), "{e}");
    }

    /// A fresh directory of mode `mode` for a test.
    fn test_dir(name: &str, mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let d =
            std::env::temp_dir().join(format!("asm-gateway-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
        d
    }

    /// Writes `text` to `path` with `mode`.
    fn write_file(path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn reads_only_a_protected_file() {
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let d = test_dir("protected", 0o700);
        let f = d.join("gateway.toml");
        write_file(&f, "[providers.local]\n", 0o600);
        assert_eq!(read_protected(&f, me).unwrap(), "[providers.local]\n");
        // Somebody else's file.
        let e = read_protected(&f, me.wrapping_add(1)).unwrap_err().0;
        assert!(e.contains("owned by uid"), "{e}");
        // Readable by group.
        write_file(&f, "[providers.local]\n", 0o640);
        let e = read_protected(&f, me).unwrap_err().0;
        assert!(e.contains("0640"), "{e}");
        write_file(&f, "[providers.local]\n", 0o600);
        // A symbolic link to it is refused, not followed.
        let l = d.join("link.toml");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        let e = read_protected(&l, me).unwrap_err().0;
        assert!(e.contains("symbolic link"), "{e}");
        // A directory is not a config.
        let sub = d.join("sub");
        fs::create_dir(&sub).unwrap();
        let e = read_protected(&sub, me).unwrap_err().0;
        assert!(e.contains("not a regular file"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_a_directory_others_may_write() {
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        for mode in [0o777, 0o1777, 0o770] {
            let d = test_dir(&format!("dir{mode:o}"), mode);
            let f = d.join("gateway.toml");
            write_file(&f, "[providers.local]\n", 0o600);
            let e = read_protected(&f, me).unwrap_err().0;
            assert!(e.contains("writable by group or others"), "{mode:o}: {e}");
            fs::remove_dir_all(&d).unwrap();
        }
        let d = test_dir("dir755", 0o755);
        let f = d.join("gateway.toml");
        write_file(&f, "[providers.local]\n", 0o600);
        assert!(read_protected(&f, me).is_ok());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn permissions() {
        let p = Path::new("/etc/asm/gateway.toml");
        assert!(check_mode(p, 0, 0o100600).is_ok());
        assert!(check_mode(p, 0, 0o100400).is_ok());
        let e = check_mode(p, 0, 0o100644).unwrap_err().0;
        assert!(
            e.contains("/etc/asm/gateway.toml") && e.contains("0644"),
            "{e}"
        );
        assert!(check_mode(p, 0, 0o100640).is_err());
        assert!(check_mode(p, 0, 0o100602).is_err());
        let e = check_mode(p, 1000, 0o100600).unwrap_err().0;
        assert!(e.contains("uid 1000"), "{e}");
    }
}

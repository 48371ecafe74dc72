//! Routing: which providers a request tries, in which order, and when a
//! failed attempt falls back to the next one; the per-provider circuit
//! breaker.  Pure logic (the clock is passed in), so all of it is tested
//! without a network.

use std::fmt;
use std::time::{Duration, Instant};

/// A provider, numbered as `enum asm_llm_provider` in the uapi header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Anthropic's Messages API.
    Claude,
    /// OpenAI's Chat Completions API.
    Gpt4,
    /// Google's Gemini generateContent API.
    Gemini,
    /// A local OpenAI-compatible server (llama.cpp, Ollama, vLLM).
    Local,
}

impl Provider {
    /// Every provider, in uapi order.
    pub const ALL: [Provider; 4] = [
        Provider::Claude,
        Provider::Gpt4,
        Provider::Gemini,
        Provider::Local,
    ];

    /// The uapi number (`ASM_LLM_*`).
    pub fn number(self) -> u32 {
        match self {
            Provider::Claude => asm_abi::ASM_LLM_CLAUDE,
            Provider::Gpt4 => asm_abi::ASM_LLM_GPT4,
            Provider::Gemini => asm_abi::ASM_LLM_GEMINI,
            Provider::Local => asm_abi::ASM_LLM_LOCAL,
        }
    }

    /// The provider of uapi number `n`; `None` for 0 (no preference) and
    /// unknown numbers.
    pub fn from_number(n: u32) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.number() == n)
    }

    /// The name the config and the gateway's log use (`[providers.claude]`,
    /// `chain = ["local", "claude"]`), lower case as the user guide's
    /// request document writes it; JSON documents write `Claude`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::Gpt4 => "gpt4",
            Provider::Gemini => "gemini",
            Provider::Local => "local",
        }
    }

    /// The provider called `name`.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Index into per-provider arrays (uapi order).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The routing policy of the config's `policy` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Cheapest first: local, gpt4, claude, gemini (the user guide's default).
    Cost,
    /// Most reliable first: claude, gpt4, gemini, local.
    Reliability,
    /// Only the local server.
    LocalOnly,
    /// An explicit order.
    Chain(Vec<Provider>),
}

impl Policy {
    /// The providers the policy tries, in order.
    pub fn order(&self) -> Vec<Provider> {
        use Provider::*;
        match self {
            Policy::Cost => vec![Local, Gpt4, Claude, Gemini],
            Policy::Reliability => vec![Claude, Gpt4, Gemini, Local],
            Policy::LocalOnly => vec![Local],
            Policy::Chain(c) => c.clone(),
        }
    }

    /// The config's name of the policy.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Cost => "cost",
            Policy::Reliability => "reliability",
            Policy::LocalOnly => "local-only",
            Policy::Chain(_) => "chain",
        }
    }
}

/// The order of providers for one request: the preferred provider first if
/// it is usable, then the policy's order; a provider is usable when
/// `usable` says so (enabled and its breaker not open).  Each provider
/// appears once.  A preferred provider outside the policy's order is still
/// tried first when usable: enabling a provider is the operator's choice,
/// the policy only orders the enabled ones.
pub fn order(
    preferred: Option<Provider>,
    policy: &Policy,
    usable: impl Fn(Provider) -> bool,
) -> Vec<Provider> {
    let mut out = Vec::with_capacity(4);
    for p in preferred.into_iter().chain(policy.order()) {
        if !out.contains(&p) && usable(p) {
            out.push(p);
        }
    }
    out
}

/// How one attempt at a provider ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The provider answered.
    Ok,
    /// No connection, or the connection broke.
    Connect,
    /// The provider's own timeout (or the request's remaining time) ran out.
    Timeout,
    /// An HTTP status other than 2xx.
    Http(u16),
    /// A 2xx answer the wire format could not parse.
    Malformed,
    /// An answer larger than the helper reads (1 MiB).
    TooLarge,
}

impl Attempt {
    /// Whether the request goes on to the next provider after this
    /// attempt.  The rule: every failure falls back, including a 4xx
    /// other than 429.  A 400/401/403 says this provider refused this
    /// request (a wrong key, a model it lacks, a format it reads
    /// differently), which says nothing about the next provider, and the
    /// agent is better served by another provider's answer than by EIO.
    pub fn falls_back(&self) -> bool {
        !matches!(self, Attempt::Ok)
    }

    /// Whether the attempt counts as a failure for the provider's breaker.
    /// All failures do; a 4xx other than 429 too, since a rejected key or
    /// model fails every request until the operator fixes it.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Attempt::Ok)
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attempt::Ok => f.write_str("ok"),
            Attempt::Connect => f.write_str("connect"),
            Attempt::Timeout => f.write_str("timeout"),
            Attempt::Http(s) => write!(f, "http {s}"),
            Attempt::Malformed => f.write_str("malformed"),
            Attempt::TooLarge => f.write_str("too large"),
        }
    }
}

/// Circuit breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// How long an open breaker skips its provider before one more try.
    pub retry_after: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 3,
            retry_after: Duration::from_secs(30),
        }
    }
}

/// One provider's circuit breaker.  Closed: the provider is tried.  Open
/// (after `failures` consecutive failures): it is skipped until
/// `retry_after` has passed; then it is half-open, tried again, and one
/// more failure opens it for another `retry_after`, a success closes it.
#[derive(Clone, Debug, Default)]
pub struct Breaker {
    consecutive: u32,
    opened_at: Option<Instant>,
}

impl Breaker {
    /// Whether the provider may be tried at `now`.
    pub fn allows(&self, cfg: &BreakerConfig, now: Instant) -> bool {
        match self.opened_at {
            None => true,
            Some(t) => now.saturating_duration_since(t) >= cfg.retry_after,
        }
    }

    /// Whether the breaker is open (skipping its provider) at `now`.
    pub fn is_open(&self, cfg: &BreakerConfig, now: Instant) -> bool {
        !self.allows(cfg, now)
    }

    /// Records an attempt's outcome at `now`.
    pub fn record(&mut self, cfg: &BreakerConfig, ok: bool, now: Instant) {
        if ok {
            self.consecutive = 0;
            self.opened_at = None;
            return;
        }
        self.consecutive = self.consecutive.saturating_add(1);
        if self.consecutive >= cfg.failures.max(1) {
            self.opened_at = Some(now);
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.consecutive
    }
}

/// The errno a request completes with when no provider answered: ETIMEDOUT
/// when its own time ran out, EIO otherwise (every provider failed, or
/// none was usable).
pub fn failure_status(deadline_passed: bool) -> u32 {
    if deadline_passed {
        libc::ETIMEDOUT as u32
    } else {
        libc::EIO as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Provider::*;

    #[test]
    fn numbers_match_the_uapi() {
        assert_eq!(Claude.number(), 1);
        assert_eq!(Gpt4.number(), 2);
        assert_eq!(Gemini.number(), 3);
        assert_eq!(Local.number(), 4);
        assert_eq!(Provider::from_number(0), None);
        assert_eq!(Provider::from_number(5), None);
        for p in Provider::ALL {
            assert_eq!(Provider::from_number(p.number()), Some(p));
            assert_eq!(Provider::from_name(p.name()), Some(p));
            assert_eq!(asm_abi::parse_llm_provider(p.name()), Some(p.number()));
        }
    }

    #[test]
    fn policy_orders() {
        assert_eq!(Policy::Cost.order(), vec![Local, Gpt4, Claude, Gemini]);
        assert_eq!(
            Policy::Reliability.order(),
            vec![Claude, Gpt4, Gemini, Local]
        );
        assert_eq!(Policy::LocalOnly.order(), vec![Local]);
    }

    #[test]
    fn preferred_goes_first_once() {
        let o = order(Some(Gemini), &Policy::Cost, |_| true);
        assert_eq!(o, vec![Gemini, Local, Gpt4, Claude]);
        let o = order(None, &Policy::Cost, |_| true);
        assert_eq!(o, vec![Local, Gpt4, Claude, Gemini]);
    }

    #[test]
    fn unusable_providers_are_skipped() {
        let o = order(Some(Claude), &Policy::Reliability, |p| p != Claude);
        assert_eq!(o, vec![Gpt4, Gemini, Local]);
        let o = order(Some(Gemini), &Policy::Chain(vec![Gemini, Local]), |p| {
            p == Local
        });
        assert_eq!(o, vec![Local]);
        assert!(order(None, &Policy::LocalOnly, |p| p != Local).is_empty());
    }

    #[test]
    fn preferred_outside_the_chain_is_tried() {
        let o = order(Some(Claude), &Policy::LocalOnly, |_| true);
        assert_eq!(o, vec![Claude, Local]);
    }

    #[test]
    fn every_failure_falls_back_and_counts() {
        for a in [
            Attempt::Connect,
            Attempt::Timeout,
            Attempt::Http(429),
            Attempt::Http(500),
            Attempt::Http(503),
            Attempt::Http(400),
            Attempt::Http(401),
            Attempt::Http(403),
            Attempt::Malformed,
            Attempt::TooLarge,
        ] {
            assert!(a.falls_back(), "{a}");
            assert!(a.is_failure(), "{a}");
        }
        assert!(!Attempt::Ok.falls_back());
    }

    #[test]
    fn breaker_opens_after_three_and_retries_after_30s() {
        let cfg = BreakerConfig::default();
        let t0 = Instant::now();
        let mut b = Breaker::default();
        b.record(&cfg, false, t0);
        b.record(&cfg, false, t0);
        assert!(b.allows(&cfg, t0));
        b.record(&cfg, false, t0);
        assert!(b.is_open(&cfg, t0));
        assert!(b.is_open(&cfg, t0 + Duration::from_secs(29)));
        // Half-open: one more try; a failure opens it again at once.
        let t1 = t0 + Duration::from_secs(30);
        assert!(b.allows(&cfg, t1));
        b.record(&cfg, false, t1);
        assert!(b.is_open(&cfg, t1 + Duration::from_secs(1)));
        // A success closes it.
        let t2 = t1 + Duration::from_secs(30);
        b.record(&cfg, true, t2);
        assert!(b.allows(&cfg, t2));
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn a_success_resets_the_count() {
        let cfg = BreakerConfig::default();
        let t = Instant::now();
        let mut b = Breaker::default();
        b.record(&cfg, false, t);
        b.record(&cfg, false, t);
        b.record(&cfg, true, t);
        b.record(&cfg, false, t);
        b.record(&cfg, false, t);
        assert!(b.allows(&cfg, t));
    }

    #[test]
    fn failure_statuses() {
        assert_eq!(failure_status(true), 110);
        assert_eq!(failure_status(false), 5);
    }
}

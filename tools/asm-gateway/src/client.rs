//! Answering one request: try the providers in the routing order over
//! HTTP, within each provider's timeout and the request's own, record each
//! attempt in the breakers, and build the completion for the kernel.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::genl::{Completion, Request};
use crate::providers::{self, Answer, Endpoint, Prompt, WireFormat};
use crate::route::{self, Attempt, Breaker, Provider};

/// The largest provider answer read, in bytes.  Real answers are a few
/// KiB (the kernel keeps at most 32 KiB of text); a larger body is a broken
/// or hostile server, and reading it whole would let it fill the helper's
/// memory.
pub const BODY_MAX: usize = 1 << 20;

/// One attempt at a provider, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptLog {
    /// The provider tried.
    pub provider: Provider,
    /// How it ended.
    pub outcome: Attempt,
    /// How long it took.
    pub duration: Duration,
}

/// The result of answering a request.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What goes to the kernel.
    pub completion: Completion,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptLog>,
    /// From the start of the answer to its end.
    pub duration: Duration,
}

/// The providers' HTTP client with the config and the breakers; shared by
/// every request's task.
pub struct Gateway {
    config: Config,
    http: reqwest::Client,
    breakers: Mutex<[Breaker; 4]>,
}

impl Gateway {
    /// A gateway for `config`.
    pub fn new(config: Config) -> Result<Gateway, String> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            // A redirect to another host would carry x-api-key or
            // x-goog-api-key along (reqwest strips only Authorization):
            // no redirects; a 3xx is a failed attempt.
            .redirect(reqwest::redirect::Policy::none())
            // HTTP(S)_PROXY and ALL_PROXY in the environment must not
            // send requests carrying keys through somebody's proxy.
            .no_proxy()
            .user_agent(concat!("asm-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Gateway {
            config,
            http,
            breakers: Mutex::new(Default::default()),
        })
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the breaker of `p` is open (its provider skipped) now.
    pub fn breaker_open(&self, p: Provider) -> bool {
        let now = Instant::now();
        self.breakers
            .lock()
            .map(|b| b[p.index()].is_open(&self.config.breaker, now))
            .unwrap_or(false)
    }

    /// The providers `req` tries, in order, now.
    pub fn order(&self, preferred: Option<Provider>) -> Vec<Provider> {
        let now = Instant::now();
        let cfg = &self.config;
        // A poisoned lock only means another task panicked while holding
        // it; the breakers' counters are still meaningful.
        let breakers = match self.breakers.lock() {
            Ok(b) => b.clone(),
            Err(p) => p.into_inner().clone(),
        };
        route::order(preferred, &cfg.policy, |p| {
            cfg.provider(p).enabled && breakers[p.index()].allows(&cfg.breaker, now)
        })
    }

    /// Records an attempt's outcome in the breaker of `p`.
    fn record(&self, p: Provider, ok: bool) {
        let now = Instant::now();
        let mut b = match self.breakers.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        b[p.index()].record(&self.config.breaker, ok, now);
    }

    /// Answers `req`: the providers in routing order until one answers,
    /// the request's time runs out, or none is left.
    pub async fn answer(&self, req: &Request) -> Outcome {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(u64::from(req.timeout_ms));
        let order = self.order(Provider::from_number(req.provider));
        let prompt = Prompt {
            prompt: &req.prompt,
            system: req.system.as_deref(),
            max_tokens: req.max_tokens,
            temperature_milli: req.temperature,
        };
        let mut attempts = Vec::new();
        let mut answered = None;
        let mut out_of_time = false;
        for p in order {
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                out_of_time = true;
                break;
            }
            let own = self.config.provider(p).timeout;
            let budget = own.min(left);
            let result = self.attempt(p, &prompt, budget).await;
            let outcome = match &result {
                Ok(_) => Attempt::Ok,
                Err(a) => a.clone(),
            };
            // A timeout cut short by the request's own deadline is the
            // request's, not the provider's: it does not count against
            // the breaker.
            let request_timed_out = outcome == Attempt::Timeout && budget < own;
            if !request_timed_out {
                self.record(p, outcome == Attempt::Ok);
            }
            attempts.push(AttemptLog {
                provider: p,
                outcome: outcome.clone(),
                duration: now.elapsed(),
            });
            if let Ok(a) = result {
                answered = Some((p, a));
                break;
            }
            if request_timed_out || Instant::now() >= deadline {
                out_of_time = true;
                break;
            }
        }
        let tried: Vec<u32> = attempts.iter().map(|a| a.provider.number()).collect();
        let completion = match answered {
            Some((p, a)) => Completion {
                id: req.id,
                status: 0,
                provider: p.number(),
                text: providers::truncate_utf8(&a.text, asm_abi::ASM_LLM_TEXT_MAX).to_string(),
                tokens_used: a.tokens,
                fallback: attempts.len() > 1,
                tried,
            },
            None => Completion {
                id: req.id,
                status: route::failure_status(out_of_time),
                provider: 0,
                text: String::new(),
                tokens_used: 0,
                fallback: false,
                tried,
            },
        };
        Outcome {
            completion,
            attempts,
            duration: start.elapsed(),
        }
    }

    /// One attempt at `p` within `budget`.
    async fn attempt(
        &self,
        p: Provider,
        prompt: &Prompt<'_>,
        budget: Duration,
    ) -> Result<Answer, Attempt> {
        let pc = self.config.provider(p);
        let format = WireFormat::of(p);
        let ep = Endpoint {
            base_url: &pc.base_url,
            model: &pc.model,
            api_key: pc.api_key.as_ref(),
        };
        let hr = providers::build_request(format, &ep, prompt);
        let mut rb = self.http.post(&hr.url);
        for (k, v) in &hr.headers {
            rb = rb.header(*k, v);
        }
        let rb = rb.json(&hr.body);
        let call = async move {
            let resp = rb.send().await.map_err(|e| classify(&e))?;
            let status = resp.status();
            // A failure's body is not needed: dropped unread.
            if !status.is_success() {
                return Err(Attempt::Http(status.as_u16()));
            }
            let body = read_body(resp, BODY_MAX).await?;
            providers::parse_response(format, &body).map_err(|_| Attempt::Malformed)
        };
        match tokio::time::timeout(budget, call).await {
            Ok(r) => r,
            Err(_) => Err(Attempt::Timeout),
        }
    }
}

/// The body of `resp`, at most `max` bytes: refused at once when its
/// Content-Length says more, else read chunk by chunk and abandoned as
/// soon as it grows past `max` ([`Attempt::TooLarge`]).
pub async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, Attempt> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(Attempt::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
        if body.len() + chunk.len() > max {
            return Err(Attempt::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The attempt outcome of a transport error.
fn classify(e: &reqwest::Error) -> Attempt {
    if e.is_timeout() {
        Attempt::Timeout
    } else {
        Attempt::Connect
    }
}

/// The errno's name for a log line.
fn status_name(status: u32) -> String {
    match status {
        0 => "ok".into(),
        s if s == libc::EIO as u32 => "EIO".into(),
        s if s == libc::ETIMEDOUT as u32 => "ETIMEDOUT".into(),
        s => format!("errno {s}"),
    }
}

/// The request's log line: request and agent, each attempt, the outcome,
/// the duration; the prompt only when `log_prompts`.
pub fn log_line(req: &Request, out: &Outcome, log_prompts: bool) -> String {
    let tried: Vec<String> = out
        .attempts
        .iter()
        .map(|a| format!("{}:{}/{}ms", a.provider, a.outcome, a.duration.as_millis()))
        .collect();
    let c = &out.completion;
    let result = match Provider::from_number(c.provider) {
        Some(p) if c.status == 0 => format!(
            "answered by {p}{} tokens {}",
            if c.fallback { " (fallback)" } else { "" },
            c.tokens_used
        ),
        _ => status_name(c.status),
    };
    let mut line = format!(
        "req {} agent {} uid {}: tried [{}] -> {} in {} ms",
        req.id,
        req.agent,
        req.uid,
        if tried.is_empty() {
            "no usable provider".to_string()
        } else {
            tried.join(", ")
        },
        result,
        out.duration.as_millis()
    );
    if log_prompts {
        line.push_str(&format!(" prompt {:?}", req.prompt));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request {
            id: 7,
            agent: 100,
            uid: 1000,
            caps: 0,
            prompt: "secret prompt".into(),
            system: None,
            max_tokens: 10,
            temperature: 700,
            provider: 0,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn log_line_hides_the_prompt_by_default() {
        let out = Outcome {
            completion: Completion {
                id: 7,
                status: 0,
                provider: 2,
                text: "answer".into(),
                tokens_used: 12,
                fallback: true,
                tried: vec![1, 2],
            },
            attempts: vec![
                AttemptLog {
                    provider: Provider::Claude,
                    outcome: Attempt::Http(429),
                    duration: Duration::from_millis(3),
                },
                AttemptLog {
                    provider: Provider::Gpt4,
                    outcome: Attempt::Ok,
                    duration: Duration::from_millis(5),
                },
            ],
            duration: Duration::from_millis(9),
        };
        let l = log_line(&req(), &out, false);
        assert_eq!(
            l,
            "req 7 agent 100 uid 1000: tried [claude:http 429/3ms, gpt4:ok/5ms] -> \
             answered by gpt4 (fallback) tokens 12 in 9 ms"
        );
        assert!(log_line(&req(), &out, true).contains("secret prompt"));
    }

    /// Serves one raw HTTP response (`head`, then `chunks` chunks of
    /// `chunk` bytes, chunked) on a loopback port; returns its URL.
    async fn raw_server(head: &'static str, chunks: usize, chunk: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            s.write_all(head.as_bytes()).await.unwrap();
            let data = vec![b'x'; chunk];
            for _ in 0..chunks {
                let ok = s
                    .write_all(format!("{chunk:x}\r\n").as_bytes())
                    .await
                    .and(s.write_all(&data).await)
                    .and(s.write_all(b"\r\n").await);
                // The client hung up once it had read enough.
                if ok.is_err() {
                    return;
                }
            }
            let _ = s.write_all(b"0\r\n\r\n").await;
        });
        url
    }

    /// A plain client, whatever proxy the environment names.
    fn http() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                           transfer-encoding: chunked\r\nconnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_body_within_the_cap_is_read() {
        let url = raw_server(CHUNKED, 4, 1000).await;
        let resp = http().get(url).send().await.unwrap();
        assert_eq!(read_body(resp, 4000).await.unwrap().len(), 4000);
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_cap_is_abandoned() {
        // 2 MiB without a Content-Length.
        let url = raw_server(CHUNKED, 32, 64 * 1024).await;
        let resp = http().get(url).send().await.unwrap();
        assert_eq!(resp.content_length(), None);
        assert_eq!(read_body(resp, BODY_MAX).await, Err(Attempt::TooLarge));
    }

    #[tokio::test]
    async fn a_large_content_length_is_refused_unread() {
        // Announces 2 MiB, sends nothing: refused without waiting for it.
        let url = raw_server("HTTP/1.1 200 OK\r\ncontent-length: 2097152\r\n\r\n", 0, 0).await;
        let resp = http().get(url).send().await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(2), read_body(resp, BODY_MAX)).await;
        assert_eq!(r, Ok(Err(Attempt::TooLarge)));
    }

    #[test]
    fn log_line_of_a_failure() {
        let out = Outcome {
            completion: Completion {
                id: 7,
                status: 110,
                provider: 0,
                text: String::new(),
                tokens_used: 0,
                fallback: false,
                tried: vec![],
            },
            attempts: vec![],
            duration: Duration::from_millis(0),
        };
        assert!(
            log_line(&req(), &out, false).ends_with("[no usable provider] -> ETIMEDOUT in 0 ms")
        );
    }
}

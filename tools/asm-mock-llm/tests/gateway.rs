//! asm-gateway's provider code (the HTTP side, without netlink) against
//! the mock: every wire format answers, 429 and 500 fall back, a hang
//! times out, a failing provider's breaker opens, requests run in parallel,
//! an oversized answer is refused.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asm_gateway::client::Gateway;
use asm_gateway::config::Config;
use asm_gateway::genl::Request;
use asm_gateway::route::Provider;

/// A running mock; killed when dropped.
struct Mock {
    child: Child,
    addr: String,
}

impl Mock {
    /// Starts the mock on an ephemeral port with `args`; waits for its
    /// "listening on" line.
    fn start(args: &[&str]) -> Mock {
        let mut child = Command::new(env!("CARGO_BIN_EXE_asm-mock-llm"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting asm-mock-llm");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("reading the mock's stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Mock { child, addr }
    }

    /// A config with every provider at the mock, `extra` TOML before them.
    fn config(&self, head: &str, timeouts: &[(&str, u64)]) -> Config {
        let t = |p: &str| {
            timeouts
                .iter()
                .find(|(n, _)| *n == p)
                .map_or(5000, |(_, ms)| *ms)
        };
        let a = &self.addr;
        let text = format!(
            r#"{head}
[providers.claude]
base_url = "http://{a}"
api_key = "test-anthropic"
timeout_ms = {}
[providers.gpt4]
base_url = "http://{a}/"
api_key_env = "MOCK_OPENAI_KEY"
timeout_ms = {}
[providers.gemini]
base_url = "http://{a}"
model = "gemini-test"
api_key = "test-gemini"
timeout_ms = {}
[providers.local]
base_url = "http://{a}/local"
timeout_ms = {}
"#,
            t("claude"),
            t("gpt4"),
            t("gemini"),
            t("local")
        );
        Config::parse(&text, |v| {
            (v == "MOCK_OPENAI_KEY").then(|| "test-openai".into())
        })
        .expect("test config")
    }

    /// Requests seen per provider.
    async fn hits(&self, provider: &str) -> u64 {
        let v: serde_json::Value = reqwest::get(format!("http://{}/stats", self.addr))
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        v[provider].as_u64().unwrap_or(0)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request for `prompt` preferring `provider` (0: none).
fn request(prompt: &str, provider: u32, timeout_ms: u32) -> Request {
    Request {
        id: 1,
        agent: 100,
        uid: 0,
        caps: 0,
        prompt: prompt.into(),
        system: Some("be brief".into()),
        max_tokens: 100,
        temperature: 700,
        provider,
        timeout_ms,
    }
}

const EIO: u32 = 5;
const ETIMEDOUT: u32 = 110;

#[tokio::test(flavor = "multi_thread")]
async fn every_wire_format_answers() {
    let mock = Mock::start(&[]);
    for p in Provider::ALL {
        let gw = Gateway::new(mock.config(&format!("policy = \"chain\"\nchain = [\"{p}\"]"), &[]))
            .unwrap();
        let out = gw.answer(&request("hello world", 0, 5000)).await;
        let c = out.completion;
        assert_eq!(c.status, 0, "{p}: {:?}", out.attempts);
        assert_eq!(c.provider, p.number());
        assert_eq!(c.text, format!("{p} says: hello world"));
        // 2 words of prompt, 4 of answer.
        assert_eq!(c.tokens_used, 6, "{p}");
        assert_eq!(c.tried, vec![p.number()]);
        assert!(!c.fallback);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mock_rejects_missing_keys() {
    let mock = Mock::start(&[]);
    let http = reqwest::Client::new();
    let a = &mock.addr;
    let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let r = http
        .post(format!("http://{a}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("http://{a}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let g = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]});
    let r = http
        .post(format!("http://{a}/v1beta/models/m:generateContent"))
        .json(&g)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("http://{a}/local/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_falls_back() {
    let mock = Mock::start(&["--rate-limit", "claude"]);
    let gw = Gateway::new(mock.config("policy = \"reliability\"", &[])).unwrap();
    let c = gw.answer(&request("hi", 0, 5000)).await.completion;
    assert_eq!(c.status, 0);
    assert_eq!(c.provider, Provider::Gpt4.number());
    assert_eq!(c.tried, vec![1, 2]);
    assert!(c.fallback);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_error_falls_back_from_the_preferred_provider() {
    let mock = Mock::start(&["--fail", "gemini"]);
    let gw = Gateway::new(mock.config("", &[])).unwrap();
    // Preferred gemini first, then the cost order: local.
    let c = gw.answer(&request("hi", 3, 5000)).await.completion;
    assert_eq!(c.status, 0);
    assert_eq!(c.provider, Provider::Local.number());
    assert_eq!(c.tried, vec![3, 4]);
    assert!(c.fallback);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_failing_is_eio() {
    let mock = Mock::start(&["--fail", "claude", "--rate-limit", "gpt4"]);
    let gw = Gateway::new(mock.config("policy = \"chain\"\nchain = [\"claude\", \"gpt4\"]", &[]))
        .unwrap();
    let c = gw.answer(&request("hi", 0, 5000)).await.completion;
    assert_eq!(c.status, EIO);
    assert_eq!(c.tried, vec![1, 2]);
    assert!(c.text.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_provider_times_out_and_falls_back() {
    let mock = Mock::start(&["--hang", "claude"]);
    let gw = Gateway::new(mock.config(
        "policy = \"chain\"\nchain = [\"claude\", \"local\"]",
        &[("claude", 300)],
    ))
    .unwrap();
    let t = Instant::now();
    let out = gw.answer(&request("hi", 0, 5000)).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(out.completion.status, 0);
    assert_eq!(out.completion.provider, Provider::Local.number());
    assert_eq!(out.completion.tried, vec![1, 4]);
    assert_eq!(
        out.attempts[0].outcome,
        asm_gateway::route::Attempt::Timeout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_timeout_is_etimedout() {
    let mock = Mock::start(&["--hang", "local"]);
    let gw = Gateway::new(mock.config("policy = \"local-only\"", &[("local", 10_000)])).unwrap();
    let t = Instant::now();
    let c = gw.answer(&request("hi", 0, 300)).await.completion;
    let took = t.elapsed();
    assert_eq!(c.status, ETIMEDOUT);
    assert_eq!(c.tried, vec![4]);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // The request's deadline, not the provider's: no breaker count.
    assert!(!gw.breaker_open(Provider::Local));
}

#[tokio::test(flavor = "multi_thread")]
async fn three_failures_open_the_breaker() {
    let mock = Mock::start(&["--fail", "claude"]);
    let gw = Gateway::new(mock.config(
        "policy = \"chain\"\nchain = [\"claude\", \"local\"]\n[breaker]\nfailures = 3\nretry_after_ms = 60000",
        &[],
    ))
    .unwrap();
    for i in 0..3 {
        let c = gw.answer(&request("hi", 0, 5000)).await.completion;
        assert_eq!(c.tried, vec![1, 4], "request {i}");
        assert_eq!(c.provider, 4);
        assert!(c.fallback);
    }
    assert!(gw.breaker_open(Provider::Claude));
    let c = gw.answer(&request("hi", 1, 5000)).await.completion;
    assert_eq!(c.tried, vec![4], "claude is skipped, even when preferred");
    assert!(!c.fallback);
    assert_eq!(mock.hits("claude").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn magic_prompts_choose_per_request() {
    let mock = Mock::start(&[]);
    let gw = Gateway::new(mock.config("policy = \"reliability\"", &[])).unwrap();
    let c = gw
        .answer(&request("mock:429=claude hi", 0, 5000))
        .await
        .completion;
    assert_eq!((c.provider, c.tried.clone()), (2, vec![1, 2]));
    let c = gw.answer(&request("mock:fail", 0, 5000)).await.completion;
    assert_eq!((c.status, c.tried), (EIO, vec![1, 2, 3, 4]));
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_run_in_parallel() {
    let mock = Mock::start(&["--latency-ms", "local=400"]);
    let gw = Arc::new(Gateway::new(mock.config("policy = \"local-only\"", &[])).unwrap());
    let t = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let gw = gw.clone();
            tokio::spawn(async move { gw.answer(&request(&format!("n {i}"), 0, 5000)).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().completion.status, 0);
    }
    // Sixteen 400 ms answers, not one after another.
    assert!(
        t.elapsed() < Duration::from_millis(2000),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_answer_is_refused_and_falls_back() {
    let mock = Mock::start(&[]);
    let gw = Gateway::new(mock.config("policy = \"chain\"\nchain = [\"claude\", \"local\"]", &[]))
        .unwrap();
    let out = gw.answer(&request("mock:big=claude hi", 0, 5000)).await;
    assert_eq!(
        out.attempts[0].outcome,
        asm_gateway::route::Attempt::TooLarge
    );
    let c = out.completion;
    assert_eq!(c.status, 0);
    assert_eq!((c.provider, c.tried), (4, vec![1, 4]));
    // Within the cap the same provider answers.
    let c = gw.answer(&request("hi", 0, 5000)).await.completion;
    assert_eq!((c.status, c.provider), (0, 1));
}

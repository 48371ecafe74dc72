//! `asm-mock-llm`: a mock LLM provider for the tests and the demo.  One
//! port speaks the four wire formats asm-gateway uses:
//!
//! * `POST /v1/messages`: Anthropic (claude), needs `x-api-key` and
//!   `anthropic-version`;
//! * `POST /v1/chat/completions`: OpenAI (gpt4), needs
//!   `Authorization: Bearer KEY`;
//! * `POST /local/v1/chat/completions`: the local OpenAI-compatible server
//!   (base URL `http://ADDR/local`), no key;
//! * `POST /v1beta/models/MODEL:generateContent`: Gemini, needs
//!   `x-goog-api-key`;
//! * `GET /stats`: requests seen per provider, as JSON.
//!
//! The answer is "PROVIDER says: " and the prompt's first 100 characters;
//! tokens are the words of the prompt plus the words of the answer.
//! Behaviour is injected per provider by flags, or per request by words in
//! the prompt (see [`Magic`]; `mock:big` answers over 2 MiB).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde_json::{json, Value};

/// The providers the mock plays.
const PROVIDERS: [&str; 4] = ["claude", "gpt4", "gemini", "local"];

/// Mock LLM provider: Anthropic, OpenAI, Gemini and local wire formats on one port.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free one; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Answer HTTP 500 for this provider (repeatable).
    #[arg(long, value_name = "PROVIDER", value_parser = provider_name)]
    fail: Vec<String>,
    /// Answer HTTP 429 for this provider (repeatable).
    #[arg(long, value_name = "PROVIDER", value_parser = provider_name)]
    rate_limit: Vec<String>,
    /// Never answer for this provider (repeatable).
    #[arg(long, value_name = "PROVIDER", value_parser = provider_name)]
    hang: Vec<String>,
    /// Delay this provider's answers: PROVIDER=MS (repeatable).
    #[arg(long, value_name = "PROVIDER=MS", value_parser = latency)]
    latency_ms: Vec<(String, u64)>,
}

/// Validates a provider name for clap.
fn provider_name(s: &str) -> Result<String, String> {
    if PROVIDERS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown provider \"{s}\" (claude, gpt4, gemini, local)"
        ))
    }
}

/// Parses PROVIDER=MS for clap.
fn latency(s: &str) -> Result<(String, u64), String> {
    let (p, ms) = s
        .split_once('=')
        .ok_or_else(|| format!("\"{s}\" is not PROVIDER=MS"))?;
    let ms = ms
        .parse()
        .map_err(|_| format!("\"{ms}\" is not a number of milliseconds"))?;
    Ok((provider_name(p)?, ms))
}

/// What the flags inject.
#[derive(Default, Debug)]
struct Behaviour {
    fail: HashSet<String>,
    rate_limit: HashSet<String>,
    hang: HashSet<String>,
    latency: HashMap<String, u64>,
}

/// The server's state.
#[derive(Default)]
struct Mock {
    behaviour: Behaviour,
    hits: Mutex<HashMap<&'static str, u64>>,
}

/// Per-request behaviour from words in the prompt: `mock:fail`,
/// `mock:429`, `mock:hang`, `mock:big` (each optionally `=PROVIDER` to
/// apply to one provider only) and `mock:sleep=MS`.
#[derive(Default, Debug, PartialEq, Eq)]
struct Magic {
    fail: bool,
    rate_limit: bool,
    hang: bool,
    big: bool,
    sleep_ms: u64,
}

/// The answer's length with `mock:big`: over the helper's 1 MiB cap.
const BIG_ANSWER: usize = 2 << 20;

impl Magic {
    /// The magic words of `prompt` that apply to `provider`.
    fn parse(prompt: &str, provider: &str) -> Magic {
        let mut m = Magic::default();
        for w in prompt.split_whitespace() {
            let Some(rest) = w.strip_prefix("mock:") else {
                continue;
            };
            let (word, arg) = match rest.split_once('=') {
                Some((a, b)) => (a, Some(b)),
                None => (rest, None),
            };
            let mine = arg.is_none_or(|a| a == provider);
            match word {
                "fail" if mine => m.fail = true,
                "429" if mine => m.rate_limit = true,
                "hang" if mine => m.hang = true,
                "big" if mine => m.big = true,
                "sleep" => m.sleep_ms = arg.and_then(|a| a.parse().ok()).unwrap_or(0),
                _ => {}
            }
        }
        m
    }
}

/// A JSON error response in the provider's style.
fn error(status: StatusCode, provider: &str, message: &str) -> Response {
    let body = match provider {
        "claude" => json!({"type": "error", "error": {"type": "mock_error", "message": message}}),
        "gemini" => {
            json!({"error": {"code": status.as_u16(), "message": message, "status": "MOCK"}})
        }
        _ => json!({"error": {"message": message, "type": "mock_error", "code": null}}),
    };
    (status, Json(body)).into_response()
}

/// The header `name`, if present and not empty.
fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// Checks the authentication the provider's format requires: `None` when
/// it is there, else the error response.
fn check_auth(provider: &str, h: &HeaderMap) -> Option<Response> {
    let ok = match provider {
        "claude" => {
            if header(h, "anthropic-version").is_none() {
                return Some(error(
                    StatusCode::BAD_REQUEST,
                    provider,
                    "anthropic-version header is required",
                ));
            }
            header(h, "x-api-key").is_some()
        }
        "gpt4" => header(h, "authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|k| !k.is_empty()),
        "gemini" => header(h, "x-goog-api-key").is_some(),
        _ => true,
    };
    (!ok).then(|| error(StatusCode::UNAUTHORIZED, provider, "missing API key"))
}

/// The text of a message's content: a string, or an array of text blocks.
fn content_text(v: &Value) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    let parts: Vec<&str> = v
        .as_array()?
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    (!parts.is_empty()).then(|| parts.concat())
}

/// The user's prompt in a request body of `provider`'s format.
fn prompt_of(provider: &str, body: &Value) -> Option<String> {
    match provider {
        "gemini" => {
            let last = body["contents"].as_array()?.last()?;
            content_text(&last["parts"])
        }
        _ => {
            let msgs = body["messages"].as_array()?;
            let user = msgs.iter().rev().find(|m| m["role"] == "user")?;
            content_text(&user["content"])
        }
    }
}

/// The answer's body in `provider`'s format.
fn answer(provider: &str, model: &str, text: &str, prompt_words: u64, answer_words: u64) -> Value {
    let total = prompt_words + answer_words;
    match provider {
        "claude" => json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": prompt_words, "output_tokens": answer_words},
        }),
        "gemini" => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": prompt_words,
                              "candidatesTokenCount": answer_words,
                              "totalTokenCount": total},
            "modelVersion": model,
        }),
        _ => json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": answer_words,
                      "total_tokens": total},
        }),
    }
}

/// Serves one request for `provider`.
async fn serve(
    mock: &Mock,
    provider: &'static str,
    model: Option<&str>,
    h: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Ok(mut hits) = mock.hits.lock() {
        *hits.entry(provider).or_insert(0) += 1;
    }
    if let Some(r) = check_auth(provider, h) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, provider, "the body is not JSON");
    };
    let Some(prompt) = prompt_of(provider, &v) else {
        return error(StatusCode::BAD_REQUEST, provider, "no user message");
    };
    let b = &mock.behaviour;
    let magic = Magic::parse(&prompt, provider);
    let delay = b.latency.get(provider).copied().unwrap_or(0) + magic.sleep_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if magic.hang || b.hang.contains(provider) {
        std::future::pending::<()>().await;
    }
    if magic.fail || b.fail.contains(provider) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            provider,
            "injected failure",
        );
    }
    if magic.rate_limit || b.rate_limit.contains(provider) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            provider,
            "injected rate limit",
        );
    }
    let head: String = prompt.chars().take(100).collect();
    let mut text = format!("{provider} says: {head}");
    if magic.big {
        text.push(' ');
        text.push_str(&"x".repeat(BIG_ANSWER));
    }
    let words = |s: &str| s.split_whitespace().count() as u64;
    let model = model
        .map(str::to_string)
        .or_else(|| v["model"].as_str().map(str::to_string))
        .unwrap_or_default();
    Json(answer(
        provider,
        &model,
        &text,
        words(&prompt),
        words(&text),
    ))
    .into_response()
}

/// `POST /v1/messages`.
async fn anthropic(State(m): State<Arc<Mock>>, h: HeaderMap, body: Bytes) -> Response {
    serve(&m, "claude", None, &h, &body).await
}

/// `POST /v1/chat/completions`.
async fn openai(State(m): State<Arc<Mock>>, h: HeaderMap, body: Bytes) -> Response {
    serve(&m, "gpt4", None, &h, &body).await
}

/// `POST /local/v1/chat/completions`.
async fn local(State(m): State<Arc<Mock>>, h: HeaderMap, body: Bytes) -> Response {
    serve(&m, "local", None, &h, &body).await
}

/// `POST /v1beta/models/{model}:generateContent`.
async fn gemini(
    State(m): State<Arc<Mock>>,
    Path(target): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    match target.strip_suffix(":generateContent") {
        Some(model) if !model.is_empty() => serve(&m, "gemini", Some(model), &h, &body).await,
        _ => error(StatusCode::NOT_FOUND, "gemini", "unknown method"),
    }
}

/// `GET /stats`.
async fn stats(State(m): State<Arc<Mock>>) -> Response {
    let hits = m.hits.lock().map(|h| h.clone()).unwrap_or_default();
    Json(json!(hits)).into_response()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mock = Mock {
        behaviour: Behaviour {
            fail: cli.fail.into_iter().collect(),
            rate_limit: cli.rate_limit.into_iter().collect(),
            hang: cli.hang.into_iter().collect(),
            latency: cli.latency_ms.into_iter().collect(),
        },
        hits: Mutex::default(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli.listen, mock)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Binds, says where, and serves until SIGINT or SIGTERM.
async fn run(addr: SocketAddr, mock: Mock) -> Result<(), String> {
    let app = Router::new()
        .route("/v1/messages", post(anthropic))
        .route("/v1/chat/completions", post(openai))
        .route("/local/v1/chat/completions", post(local))
        .route("/v1beta/models/{target}", post(gemini))
        .route("/stats", get(stats))
        .with_state(Arc::new(mock));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {bound}");
    let _ = std::io::stdout().flush();
    let shutdown = async {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_words() {
        assert_eq!(Magic::parse("hello", "claude"), Magic::default());
        let m = Magic::parse("mock:fail please", "gpt4");
        assert!(m.fail && !m.hang);
        assert!(!Magic::parse("mock:429=claude", "gpt4").rate_limit);
        assert!(Magic::parse("mock:429=claude", "claude").rate_limit);
        assert!(Magic::parse("x mock:hang=local", "local").hang);
        assert_eq!(Magic::parse("mock:sleep=250", "gemini").sleep_ms, 250);
        assert!(Magic::parse("mock:big=local", "local").big);
        assert!(!Magic::parse("mock:big=local", "claude").big);
    }

    #[test]
    fn prompts_of_each_format() {
        let a = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(prompt_of("claude", &a).as_deref(), Some("hi"));
        let a =
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]});
        assert_eq!(prompt_of("claude", &a).as_deref(), Some("hi"));
        let o = json!({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "yo"}]});
        assert_eq!(prompt_of("gpt4", &o).as_deref(), Some("yo"));
        let g = json!({"contents": [{"role": "user", "parts": [{"text": "g"}]}]});
        assert_eq!(prompt_of("gemini", &g).as_deref(), Some("g"));
        assert_eq!(prompt_of("gemini", &json!({})), None);
    }

    #[test]
    fn flags() {
        assert!(provider_name("bard").is_err());
        assert_eq!(latency("gemini=300"), Ok(("gemini".into(), 300)));
        assert!(latency("gemini").is_err());
        assert!(latency("gemini=x").is_err());
    }
}

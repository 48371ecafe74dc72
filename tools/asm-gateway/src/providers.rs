//! The providers' wire formats: for each, a pure function that builds the
//! HTTP request (method, URL, headers, JSON body) and one that reads the
//! answer's text and token count from the response body.  No I/O here;
//! `client.rs` sends what these build.

use std::fmt;

use serde_json::{json, Value};

use crate::route::Provider;

/// An API key.  Its `Debug` and `Display` print `<redacted>`, so a key
/// cannot reach a log line by accident; [`ApiKey::expose`] is the one way
/// to read it, used only to fill in the request's header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps `key`.
    pub fn new(key: String) -> Self {
        ApiKey(key)
    }

    /// The key itself, for the request's header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A provider's wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFormat {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions (also llama.cpp, Ollama, vLLM).
    OpenAi,
    /// Gemini generateContent.
    Gemini,
}

impl WireFormat {
    /// The wire format `provider` speaks.
    pub fn of(provider: Provider) -> WireFormat {
        match provider {
            Provider::Claude => WireFormat::Anthropic,
            Provider::Gpt4 | Provider::Local => WireFormat::OpenAi,
            Provider::Gemini => WireFormat::Gemini,
        }
    }
}

/// What the agent asked, as the kernel passed it on.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt<'a> {
    /// The prompt text.
    pub prompt: &'a str,
    /// The system message, if any.
    pub system: Option<&'a str>,
    /// The answer's maximum length, in tokens.
    pub max_tokens: u32,
    /// Sampling temperature in thousandths (700 is 0.7).
    pub temperature_milli: u32,
}

/// Where a provider is and how to authenticate to it.
#[derive(Clone, Debug)]
pub struct Endpoint<'a> {
    /// Base URL without the API path, e.g. `https://api.anthropic.com`.
    pub base_url: &'a str,
    /// The model name.
    pub model: &'a str,
    /// The API key; optional for a local server.
    pub api_key: Option<&'a ApiKey>,
}

/// An HTTP request to send.  `Debug` redacts the authentication headers.
#[derive(Clone, PartialEq)]
pub struct HttpRequest {
    /// The method (always POST for these APIs).
    pub method: &'static str,
    /// The full URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Value,
}

/// Headers that carry a key.
const SECRET_HEADERS: [&str; 3] = ["x-api-key", "authorization", "x-goog-api-key"];

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if SECRET_HEADERS.contains(k) {
                    (*k, "<redacted>")
                } else {
                    (*k, v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// The Anthropic API version this helper speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Temperature as the APIs take it: a number from 0 to 1.
fn temperature(milli: u32) -> f64 {
    f64::from(milli) / 1000.0
}

/// `base` without trailing slashes, so `{base}/v1/...` has one slash.
fn trim(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// Builds the request for `format` at `ep` asking `p`.
pub fn build_request(format: WireFormat, ep: &Endpoint<'_>, p: &Prompt<'_>) -> HttpRequest {
    match format {
        WireFormat::Anthropic => anthropic_request(ep, p),
        WireFormat::OpenAi => openai_request(ep, p),
        WireFormat::Gemini => gemini_request(ep, p),
    }
}

/// Anthropic Messages API: `POST {base}/v1/messages`.
pub fn anthropic_request(ep: &Endpoint<'_>, p: &Prompt<'_>) -> HttpRequest {
    let mut body = json!({
        "model": ep.model,
        "max_tokens": p.max_tokens,
        "temperature": temperature(p.temperature_milli),
        "messages": [{"role": "user", "content": p.prompt}],
    });
    if let (Some(s), Some(o)) = (p.system, body.as_object_mut()) {
        o.insert("system".into(), Value::String(s.into()));
    }
    let mut headers = vec![
        ("anthropic-version", ANTHROPIC_VERSION.to_string()),
        ("content-type", "application/json".to_string()),
    ];
    if let Some(k) = ep.api_key {
        headers.insert(0, ("x-api-key", k.expose().to_string()));
    }
    HttpRequest {
        method: "POST",
        url: format!("{}/v1/messages", trim(ep.base_url)),
        headers,
        body,
    }
}

/// OpenAI Chat Completions: `POST {base}/v1/chat/completions`.
pub fn openai_request(ep: &Endpoint<'_>, p: &Prompt<'_>) -> HttpRequest {
    let mut messages = Vec::with_capacity(2);
    if let Some(s) = p.system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": p.prompt}));
    let body = json!({
        "model": ep.model,
        "max_tokens": p.max_tokens,
        "temperature": temperature(p.temperature_milli),
        "messages": messages,
    });
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(k) = ep.api_key {
        headers.insert(0, ("authorization", format!("Bearer {}", k.expose())));
    }
    HttpRequest {
        method: "POST",
        url: format!("{}/v1/chat/completions", trim(ep.base_url)),
        headers,
        body,
    }
}

/// Gemini: `POST {base}/v1beta/models/{model}:generateContent`.
pub fn gemini_request(ep: &Endpoint<'_>, p: &Prompt<'_>) -> HttpRequest {
    let mut body = json!({
        "contents": [{"role": "user", "parts": [{"text": p.prompt}]}],
        "generationConfig": {
            "maxOutputTokens": p.max_tokens,
            "temperature": temperature(p.temperature_milli),
        },
    });
    if let (Some(s), Some(o)) = (p.system, body.as_object_mut()) {
        o.insert("systemInstruction".into(), json!({"parts": [{"text": s}]}));
    }
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(k) = ep.api_key {
        headers.insert(0, ("x-goog-api-key", k.expose().to_string()));
    }
    HttpRequest {
        method: "POST",
        url: format!(
            "{}/v1beta/models/{}:generateContent",
            trim(ep.base_url),
            ep.model
        ),
        headers,
        body,
    }
}

/// A response body the wire format could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// An answer: its text and the tokens the provider counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The text.
    pub text: String,
    /// Tokens used (prompt and answer), as the provider reports them.
    pub tokens: u32,
}

/// A JSON number as u32, saturating; 0 when absent.
fn count(v: &Value) -> u32 {
    v.as_u64()
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Reads the answer from a 2xx response body of `format`.
pub fn parse_response(format: WireFormat, body: &[u8]) -> Result<Answer, ParseError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ParseError(format!("response is not JSON: {e}")))?;
    match format {
        WireFormat::Anthropic => anthropic_response(&v),
        WireFormat::OpenAi => openai_response(&v),
        WireFormat::Gemini => gemini_response(&v),
    }
}

/// Anthropic: the `text` blocks of `content`, joined;
/// `usage.input_tokens + usage.output_tokens`.
pub fn anthropic_response(v: &Value) -> Result<Answer, ParseError> {
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| ParseError("anthropic response without content[]".into()))?;
    let mut text = String::new();
    let mut any = false;
    for b in blocks.iter().filter(|b| b["type"] == "text") {
        if let Some(t) = b["text"].as_str() {
            text.push_str(t);
            any = true;
        }
    }
    if !any {
        return Err(ParseError("anthropic response without a text block".into()));
    }
    let tokens =
        count(&v["usage"]["input_tokens"]).saturating_add(count(&v["usage"]["output_tokens"]));
    Ok(Answer { text, tokens })
}

/// OpenAI: `choices[0].message.content`; `usage.total_tokens` (or the sum
/// of prompt and completion tokens).
pub fn openai_response(v: &Value) -> Result<Answer, ParseError> {
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| ParseError("openai response without choices[0].message.content".into()))?
        .to_string();
    let u = &v["usage"];
    let tokens = match u["total_tokens"].as_u64() {
        Some(_) => count(&u["total_tokens"]),
        None => count(&u["prompt_tokens"]).saturating_add(count(&u["completion_tokens"])),
    };
    Ok(Answer { text, tokens })
}

/// Gemini: the `text` parts of `candidates[0].content`, joined;
/// `usageMetadata.totalTokenCount`.
pub fn gemini_response(v: &Value) -> Result<Answer, ParseError> {
    let parts = v["candidates"][0]["content"]["parts"]
        .as_array()
        .ok_or_else(|| ParseError("gemini response without candidates[0].content.parts".into()))?;
    let mut text = String::new();
    let mut any = false;
    for t in parts.iter().filter_map(|p| p["text"].as_str()) {
        text.push_str(t);
        any = true;
    }
    if !any {
        return Err(ParseError("gemini response without a text part".into()));
    }
    Ok(Answer {
        text,
        tokens: count(&v["usageMetadata"]["totalTokenCount"]),
    })
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("sk-secret-123".into())
    }

    fn prompt() -> Prompt<'static> {
        Prompt {
            prompt: "Hello, world",
            system: Some("Be brief."),
            max_tokens: 1024,
            temperature_milli: 700,
        }
    }

    fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn anthropic_request_format() {
        let k = key();
        let ep = Endpoint {
            base_url: "https://api.anthropic.com/",
            model: "claude-sonnet-4-5",
            api_key: Some(&k),
        };
        let r = anthropic_request(&ep, &prompt());
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(header(&r, "x-api-key"), Some("sk-secret-123"));
        assert_eq!(header(&r, "anthropic-version"), Some("2023-06-01"));
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(
            r.body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 1024,
                "temperature": 0.7,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": "Hello, world"}],
            })
        );
        let nosys = anthropic_request(
            &ep,
            &Prompt {
                system: None,
                ..prompt()
            },
        );
        assert!(nosys.body.get("system").is_none());
    }

    #[test]
    fn openai_request_format() {
        let k = key();
        let ep = Endpoint {
            base_url: "https://api.openai.com",
            model: "gpt-4o",
            api_key: Some(&k),
        };
        let r = openai_request(&ep, &prompt());
        assert_eq!(r.url, "https://api.openai.com/v1/chat/completions");
        assert_eq!(header(&r, "authorization"), Some("Bearer sk-secret-123"));
        assert_eq!(
            r.body,
            json!({
                "model": "gpt-4o",
                "max_tokens": 1024,
                "temperature": 0.7,
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hello, world"},
                ],
            })
        );
    }

    #[test]
    fn local_request_needs_no_key() {
        let ep = Endpoint {
            base_url: "http://127.0.0.1:8080",
            model: "llama",
            api_key: None,
        };
        let r = build_request(WireFormat::of(Provider::Local), &ep, &prompt());
        assert_eq!(r.url, "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(header(&r, "authorization"), None);
    }

    #[test]
    fn gemini_request_format() {
        let k = key();
        let ep = Endpoint {
            base_url: "https://generativelanguage.googleapis.com",
            model: "gemini-2.0-flash",
            api_key: Some(&k),
        };
        let r = gemini_request(&ep, &prompt());
        assert_eq!(
            r.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(header(&r, "x-goog-api-key"), Some("sk-secret-123"));
        assert_eq!(
            r.body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "Hello, world"}]}],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "generationConfig": {"maxOutputTokens": 1024, "temperature": 0.7},
            })
        );
    }

    #[test]
    fn debug_redacts_keys() {
        let k = key();
        assert_eq!(format!("{k:?} {k}"), "<redacted> <redacted>");
        for format in [
            WireFormat::Anthropic,
            WireFormat::OpenAi,
            WireFormat::Gemini,
        ] {
            let ep = Endpoint {
                base_url: "http://x",
                model: "m",
                api_key: Some(&k),
            };
            let r = build_request(format, &ep, &prompt());
            let d = format!("{r:?} {ep:?}");
            assert!(!d.contains("sk-secret"), "{d}");
            assert!(d.contains("<redacted>"));
        }
    }

    // The example responses of the providers' API references.
    const ANTHROPIC_EXAMPLE: &str = r#"{
      "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
      "type": "message",
      "role": "assistant",
      "content": [{"type": "text", "text": "Hi! My name is Claude."}],
      "model": "claude-3-5-sonnet-20241022",
      "stop_reason": "end_turn",
      "stop_sequence": null,
      "usage": {"input_tokens": 2095, "output_tokens": 503}
    }"#;

    const OPENAI_EXAMPLE: &str = r#"{
      "id": "chatcmpl-123",
      "object": "chat.completion",
      "created": 1677652288,
      "model": "gpt-4o-mini",
      "system_fingerprint": "fp_44709d6fcb",
      "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "\n\nHello there, how may I assist you today?"},
        "logprobs": null,
        "finish_reason": "stop"
      }],
      "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
    }"#;

    const GEMINI_EXAMPLE: &str = r#"{
      "candidates": [{
        "content": {"parts": [{"text": "In the heart of a bustling city, "}, {"text": "lived a robot."}], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
        "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
      }],
      "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 12, "totalTokenCount": 20},
      "modelVersion": "gemini-2.0-flash"
    }"#;

    #[test]
    fn parses_the_documented_examples() {
        let a = parse_response(WireFormat::Anthropic, ANTHROPIC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(a.text, "Hi! My name is Claude.");
        assert_eq!(a.tokens, 2598);
        let a = parse_response(WireFormat::OpenAi, OPENAI_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(a.text, "\n\nHello there, how may I assist you today?");
        assert_eq!(a.tokens, 21);
        let a = parse_response(WireFormat::Gemini, GEMINI_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(a.text, "In the heart of a bustling city, lived a robot.");
        assert_eq!(a.tokens, 20);
    }

    #[test]
    fn anthropic_skips_non_text_blocks() {
        let v = json!({"content": [{"type": "thinking", "thinking": "hmm"},
                                    {"type": "text", "text": "42"}],
                       "usage": {"input_tokens": 1, "output_tokens": 2}});
        assert_eq!(
            anthropic_response(&v).unwrap(),
            Answer {
                text: "42".into(),
                tokens: 3
            }
        );
    }

    #[test]
    fn openai_without_total_sums() {
        let v = json!({"choices": [{"message": {"content": "x"}}],
                       "usage": {"prompt_tokens": 4, "completion_tokens": 5}});
        assert_eq!(openai_response(&v).unwrap().tokens, 9);
    }

    #[test]
    fn malformed_responses_are_errors() {
        for f in [
            WireFormat::Anthropic,
            WireFormat::OpenAi,
            WireFormat::Gemini,
        ] {
            assert!(parse_response(f, b"not json").is_err());
            assert!(parse_response(f, b"{}").is_err());
            assert!(parse_response(f, br#"{"error": {"message": "overloaded"}}"#).is_err());
        }
        assert!(openai_response(&json!({"choices": [{"message": {"content": null}}]})).is_err());
        assert!(gemini_response(&json!({"candidates": [{"content": {"parts": []}}]})).is_err());
    }

    #[test]
    fn truncates_at_char_boundaries() {
        assert_eq!(truncate_utf8("abc", 10), "abc");
        assert_eq!(truncate_utf8("abc", 2), "ab");
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("aé", 3), "aé");
    }
}

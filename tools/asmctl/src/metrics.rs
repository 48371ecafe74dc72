// SPDX-License-Identifier: GPL-2.0

//! `asmctl metrics`: ASM's figures for Prometheus (prometheus-client
//! encodes them), printed once for a textfile collector, or served over
//! HTTP on the address given (`--listen`), a fresh read of the module at
//! each scrape. The Prometheus text format (0.0.4) is what a textfile
//! collector and promtool read; a scraper that asks for OpenMetrics (as
//! Prometheus does) gets that.
//!
//! The figures are those the caller may see: root sees every agent, a
//! user the agents it owns.

use crate::error::{Error, Op};
use crate::model::{AgentInfo, SystemMetrics, Telemetry};
use crate::sys::{Device, Errno};
use asm_abi::FAULT_TYPES;
use http_body_util::Full;
use hyper::body::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The two text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an HTTP `Accept` header asks for: OpenMetrics when it is
    /// named, the Prometheus text format otherwise.
    pub fn accepted(accept: &str) -> Self {
        if accept.contains("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// An agent's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgentLabels {
    agent_id: String,
    name: String,
}

/// An agent's state and risk level, as the labels of `asm_agent_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    agent_id: String,
    name: String,
    state: String,
    risk_level: String,
}

/// An agent's labels and a fault type (the label `type`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    agent_id: String,
    name: String,
    r#type: String,
}

/// Adds the counter `name` with the value `v`.
fn counter(r: &mut Registry, name: &str, help: &str, v: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(v);
    r.register(name, help, c);
}

/// Adds the gauge `name` with the value `v`.
fn gauge(r: &mut Registry, name: &str, help: &str, v: u64) {
    let g = Gauge::<i64>::default();
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
    r.register(name, help, g);
}

/// The figures of the module as `dev` shows them, in `format`.
pub fn text(dev: &Device, format: Format) -> Result<String, Error> {
    let malformed =
        |e: serde_json::Error| Error::Failed(format!("malformed JSON from /dev/asm: {e}"));
    let doc = dev.telemetry_json().map_err(|e| Op::Telemetry.fail(e))?;
    let system = serde_json::from_slice::<Telemetry>(&doc)
        .map_err(malformed)?
        .system;
    let ids = dev.list().map_err(|e| Op::List.fail(e))?;
    let mut agents = Vec::new();
    let mut syscalls = BTreeMap::new();
    for id in ids {
        // One that goes away between the requests is left out.
        let doc = match dev.agent_info_json(id) {
            Ok(doc) => doc,
            Err(Errno(libc::ESRCH)) => continue,
            Err(e) => return Err(Op::Info(id).fail(e)),
        };
        agents.push(serde_json::from_slice::<AgentInfo>(&doc).map_err(malformed)?);
        match dev.history(id, 0) {
            Ok((h, _)) => {
                syscalls.insert(id, h.syscalls);
            }
            Err(Errno(libc::ESRCH)) => {}
            Err(e) => return Err(Op::History(id).fail(e)),
        }
    }
    Ok(render(&system, &agents, &syscalls, format))
}

/// The exposition of `system` and `agents` (`syscalls`: each agent's
/// system calls, by id).
fn render(
    system: &SystemMetrics,
    agents: &[AgentInfo],
    syscalls: &BTreeMap<u32, u64>,
    format: Format,
) -> String {
    let mut r = Registry::with_prefix("asm");
    gauge(&mut r, "agents", "Agents registered", agents.len() as u64);
    gauge(
        &mut r,
        "active_agents",
        "Agents with at least one live process",
        system.active_agents,
    );
    counter(
        &mut r,
        "spawns",
        "Processes that joined an agent, since the module was loaded",
        system.total_agents_spawned,
    );
    counter(
        &mut r,
        "exits",
        "Agents' processes that exited",
        system.total_agents_exited,
    );
    counter(
        &mut r,
        "crashes",
        "Agents' processes that crashed",
        system.total_crashes,
    );
    counter(&mut r, "faults", "Faults detected", system.total_faults);
    counter(&mut r, "restarts", "Agent restarts", system.total_restarts);
    counter(
        &mut r,
        "syscalls",
        "System calls of agents",
        system.total_syscalls,
    );
    counter(
        &mut r,
        "events_dropped",
        "Events the ring overwrote before they were read",
        system.events_dropped,
    );

    let info = Family::<InfoLabels, Gauge>::default();
    let cpu = Family::<AgentLabels, Counter<f64, AtomicU64>>::default();
    let memory = Family::<AgentLabels, Gauge>::default();
    let processes = Family::<AgentLabels, Gauge>::default();
    let calls = Family::<AgentLabels, Counter>::default();
    let spawns = Family::<AgentLabels, Counter>::default();
    let exits = Family::<AgentLabels, Counter>::default();
    let crashes = Family::<AgentLabels, Counter>::default();
    let restarts = Family::<AgentLabels, Counter>::default();
    let faults = Family::<FaultLabels, Counter>::default();
    let score = Family::<AgentLabels, Gauge>::default();
    let llm_requests = Family::<AgentLabels, Counter>::default();
    let llm_tokens = Family::<AgentLabels, Counter>::default();
    let llm_limited = Family::<AgentLabels, Counter>::default();
    let llm_failures = Family::<AgentLabels, Counter>::default();
    for a in agents {
        let l = AgentLabels {
            agent_id: a.agent_id.to_string(),
            name: a.name.clone(),
        };
        let set = |g: &Gauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        info.get_or_create(&InfoLabels {
            agent_id: l.agent_id.clone(),
            name: l.name.clone(),
            state: a.state.clone(),
            risk_level: a.risk_level.clone().unwrap_or_default(),
        })
        .set(1);
        cpu.get_or_create(&l).inc_by(a.cpu_time_us as f64 / 1e6);
        set(&memory.get_or_create(&l), a.memory_bytes);
        set(&processes.get_or_create(&l), a.nr_processes.into());
        if let Some(&n) = syscalls.get(&a.agent_id) {
            calls.get_or_create(&l).inc_by(n);
        }
        spawns.get_or_create(&l).inc_by(a.spawn_count);
        exits.get_or_create(&l).inc_by(a.exit_count);
        crashes.get_or_create(&l).inc_by(a.crash_count);
        restarts.get_or_create(&l).inc_by(a.restart_count.into());
        // Every type, 0 included, so that a rate over it is defined from
        // the first scrape.
        for fault in FAULT_TYPES {
            let n = a.faults_by_type.get(fault.name).copied().unwrap_or(0);
            faults
                .get_or_create(&FaultLabels {
                    agent_id: l.agent_id.clone(),
                    name: l.name.clone(),
                    r#type: fault.name.to_string(),
                })
                .inc_by(n);
        }
        if let Some(c) = &a.compliance {
            set(&score.get_or_create(&l), c.score);
        }
        if let Some(llm) = &a.llm {
            llm_requests.get_or_create(&l).inc_by(llm.requests);
            llm_tokens.get_or_create(&l).inc_by(llm.tokens_used);
            llm_limited.get_or_create(&l).inc_by(llm.rate_limited);
            llm_failures.get_or_create(&l).inc_by(llm.failures);
        }
    }
    r.register(
        "agent_info",
        "An agent, with its state and risk level as labels (always 1)",
        info,
    );
    r.register("agent_cpu_seconds", "CPU time of an agent's processes", cpu);
    r.register(
        "agent_memory_bytes",
        "Resident memory of an agent's processes",
        memory,
    );
    r.register("agent_processes", "Live processes of an agent", processes);
    r.register(
        "agent_syscalls",
        "System calls of an agent since it was first sampled",
        calls,
    );
    r.register("agent_spawns", "Processes that joined an agent", spawns);
    r.register("agent_exits", "An agent's processes that exited", exits);
    r.register(
        "agent_crashes",
        "An agent's processes that crashed",
        crashes,
    );
    r.register("agent_restarts", "Restarts of an agent", restarts);
    r.register("agent_faults", "Faults of an agent, by type", faults);
    r.register(
        "agent_compliance_score",
        "An agent's EU AI Act compliance score, 0 to 1000",
        score,
    );
    r.register(
        "agent_llm_requests",
        "LLM requests an agent's bucket let through",
        llm_requests,
    );
    r.register(
        "agent_llm_tokens",
        "Tokens the answers to an agent's LLM requests used",
        llm_tokens,
    );
    r.register(
        "agent_llm_rate_limited",
        "LLM requests of an agent its bucket refused",
        llm_limited,
    );
    r.register(
        "agent_llm_failures",
        "LLM requests of an agent that failed",
        llm_failures,
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = match format {
        Format::Prometheus => prometheus_text::encode(&mut out, &r),
        Format::OpenMetrics => text::encode(&mut out, &r),
    };
    out
}

/// How long a client may take to send its request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection may last, request and answer.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more wait in the listen backlog.
const CONNECTIONS: usize = 16;
/// How long a scrape's answer is reused: scrapers faster than this share
/// one read of the module.
const FRESH: Duration = Duration::from_secs(1);

/// The last answer, and when and in which format it was made.
struct Cached {
    at: Instant,
    format: Format,
    body: String,
}

/// Serves the figures at `http://ADDR/metrics` until killed. One read of
/// the module at a time, its answer reused for a second; a client gets
/// [`HEADER_TIMEOUT`] to send its request and one request a connection.
pub fn serve(addr: SocketAddr) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("metrics: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Failed(format!("metrics: listening on {addr}: {e}")))?;
        eprintln!("asmctl: serving the metrics at http://{addr}/metrics");
        let cache = Arc::new(tokio::sync::Mutex::new(None::<Cached>));
        let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
        loop {
            // Closed only when the runtime ends.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // EMFILE and the like: wait, then accept again.
                Err(e) => {
                    eprintln!("asmctl: metrics: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let cache = cache.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, cache.clone()));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                // A client that is too slow loses its connection.
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
                drop(slot);
            });
        }
    })
}

/// The answer to one request: the figures at `GET /metrics`, 404
/// elsewhere.
async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    cache: Arc<tokio::sync::Mutex<Option<Cached>>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    use hyper::header::{ACCEPT, CONTENT_TYPE};
    use hyper::{Method, StatusCode};
    let reply = |status: StatusCode, content_type: &str, body: String| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        if let Ok(v) = content_type.parse() {
            r.headers_mut().insert(CONTENT_TYPE, v);
        }
        Ok(r)
    };
    if req.method() != Method::GET || req.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: GET /metrics\n".into(),
        );
    }
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::accepted(accept);
    // One read of the module at a time; the others wait for it and reuse
    // its answer.
    let mut cached = cache.lock().await;
    if let Some(c) = cached
        .as_ref()
        .filter(|c| c.format == format && c.at.elapsed() < FRESH)
    {
        return reply(StatusCode::OK, format.content_type(), c.body.clone());
    }
    let got = tokio::task::spawn_blocking(move || {
        let dev = Device::open().map_err(|e| Op::Open.fail(e))?;
        text(&dev, format)
    })
    .await;
    match got {
        Ok(Ok(body)) => {
            *cached = Some(Cached {
                at: Instant::now(),
                format,
                body: body.clone(),
            });
            reply(StatusCode::OK, format.content_type(), body)
        }
        // The scrape fails; Prometheus marks the target down.
        Ok(Err(e)) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            format!("{}\n", e.message()),
        ),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("{e}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LlmUsage, Score};

    fn agent(id: u32, name: &str) -> AgentInfo {
        let mut a = AgentInfo::from(&asm_abi::AsmAgentInfo::new(id));
        a.agent_id = id;
        a.name = name.into();
        a.state = "Active".into();
        a.risk_level = Some("Limited".into());
        a.nr_processes = 2;
        a.spawn_count = 3;
        a.exit_count = 1;
        a.crash_count = 1;
        a.cpu_time_us = 1_500_000;
        a.memory_bytes = 4096;
        a.faults_by_type = [("memory".to_string(), 2)].into();
        a.compliance = Some(Score { score: 850 });
        a.llm = Some(LlmUsage {
            requests: 4,
            tokens_used: 120,
            rate_limited: 1,
            ..LlmUsage::default()
        });
        a
    }

    #[test]
    fn exposition() {
        let system = SystemMetrics {
            total_agents_spawned: 0,
            total_agents_exited: 0,
            total_crashes: 0,
            total_faults: 2,
            total_restarts: 0,
            active_agents: 0,
            total_syscalls: 0,
            events_dropped: 0,
        };
        let agents = [agent(100, "crawler"), agent(101, "a \"quoted\" name")];
        let calls = [(100, 77)].into();
        let text = render(&system, &agents, &calls, Format::OpenMetrics);
        for line in [
            "# TYPE asm_agents gauge",
            "asm_agents 2",
            "asm_faults_total 2",
            "asm_agent_info{agent_id=\"100\",name=\"crawler\",state=\"Active\",risk_level=\"Limited\"} 1",
            "asm_agent_cpu_seconds_total{agent_id=\"100\",name=\"crawler\"} 1.5",
            "asm_agent_memory_bytes{agent_id=\"100\",name=\"crawler\"} 4096",
            "asm_agent_syscalls_total{agent_id=\"100\",name=\"crawler\"} 77",
            "asm_agent_faults_total{agent_id=\"100\",name=\"crawler\",type=\"memory\"} 2",
            "asm_agent_faults_total{agent_id=\"100\",name=\"crawler\",type=\"cpu_quota\"} 0",
            "asm_agent_compliance_score{agent_id=\"100\",name=\"crawler\"} 850",
            "asm_agent_llm_tokens_total{agent_id=\"100\",name=\"crawler\"} 120",
            "asm_agent_memory_bytes{agent_id=\"101\",name=\"a \\\"quoted\\\" name\"} 4096",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        // 101 had no syscall figure: no sample rather than a made-up 0.
        assert!(!text.contains("asm_agent_syscalls_total{agent_id=\"101\""));
        // The Prometheus text format names a counter's family with _total,
        // and has no EOF.
        let text = render(&system, &agents, &calls, Format::Prometheus);
        assert!(
            text.contains("# TYPE asm_faults_total counter\nasm_faults_total 2\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
        assert_eq!(
            Format::accepted("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
            Format::OpenMetrics
        );
        assert_eq!(Format::accepted("*/*"), Format::Prometheus);
    }
}

//! `asm-gateway`: the helper daemon.  Registers with the module, pulls the
//! agents' LLM requests, answers each in its own task.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use asm_gateway::client::{self, Gateway};
use asm_gateway::config::{self, Config};
use asm_gateway::genl::{self, CmdSocket, GenlError, NotifySocket};
use clap::Parser;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

/// How often the helper pulls without a notice, in case one was lost.
const PULL_PERIOD: Duration = Duration::from_millis(200);

/// The LLM gateway helper of the Agent Supervision Module.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The config file (root's, mode 0600: it holds API keys).
    #[arg(long, value_name = "PATH", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Validate the config, print the effective routing (without keys) and exit.
    #[arg(long)]
    check_config: bool,
    /// Benchmark aid: send N requests straight to the providers with the
    /// helper's own client, without the module, print their p50 and p99
    /// latency and exit (selftests/bench_gateway.sh).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    bench_direct: Option<u32>,
}

/// One log line on stderr.
/// One line on stderr, in one write: lines of concurrent requests do not
/// interleave, and a request costs one system call for its log, not three.
fn log(msg: &str) {
    let line = format!("asm-gateway: {msg}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        print!("{}", config.describe());
        return ExitCode::SUCCESS;
    }
    if let Some(n) = cli.bench_direct {
        return match bench_direct(config, n) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e}");
                ExitCode::from(1)
            }
        };
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--bench-direct N`: N sequential requests through [`Gateway::answer`],
/// on the runtime the helper serves on, without the module; prints the p50
/// and p99 latency.
fn bench_direct(config: Config, n: u32) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let gateway = Gateway::new(config)?;
    let mut lat = rt.block_on(async {
        let mut lat = Vec::with_capacity(n as usize);
        for i in 0..n {
            let req = genl::Request {
                id: u64::from(i) + 1,
                agent: 0,
                uid: 0,
                caps: 0,
                prompt: "bench".into(),
                system: None,
                max_tokens: 16,
                temperature: 700,
                provider: 0,
                timeout_ms: 30_000,
            };
            let start = std::time::Instant::now();
            let out = gateway.answer(&req).await;
            if out.completion.status != 0 {
                return Err(format!(
                    "request {}: {}",
                    i + 1,
                    client::log_line(&req, &out, false)
                ));
            }
            lat.push(start.elapsed());
        }
        Ok(lat)
    })?;
    lat.sort();
    let pct = |p: usize| lat[((lat.len() * p).div_ceil(100)).saturating_sub(1)];
    println!(
        "direct, asm-gateway's client: {n} requests, p50 {:.3} ms, p99 {:.3} ms",
        pct(50).as_secs_f64() * 1e3,
        pct(99).as_secs_f64() * 1e3
    );
    Ok(())
}

/// Locks the command socket; a poisoned lock still guards a usable socket.
fn lock(cmd: &Mutex<CmdSocket>) -> MutexGuard<'_, CmdSocket> {
    cmd.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers and serves until SIGTERM or SIGINT (Ok) or a fatal netlink
/// failure (Err: exit status 1, and systemd restarts the helper).
fn run(config: Config) -> Result<(), String> {
    let (family, group) = genl::resolve().map_err(|e| e.to_string())?;
    let mut cmd = CmdSocket::open(family).map_err(|e| e.to_string())?;
    let notify = NotifySocket::open(group).map_err(|e| e.to_string())?;
    cmd.register().map_err(|e| match e {
        GenlError::Errno(libc::EBUSY) => "another gateway helper is registered".to_string(),
        GenlError::Errno(libc::EPERM) => "registering needs CAP_NET_ADMIN".to_string(),
        e => format!("registering as the gateway helper: {e}"),
    })?;
    log(&format!(
        "registered as the gateway helper (family {family}, group {group}), policy {}",
        config.policy.name()
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let gateway = Arc::new(Gateway::new(config)?);
    let cmd = Arc::new(Mutex::new(cmd));
    let (err_tx, mut err_rx) = tokio::sync::mpsc::unbounded_channel();
    // The notices are read on the runtime itself: a notice wakes the
    // worker that pulls and starts the request's task, with no hand-off
    // from a thread of its own.
    rt.spawn(async move {
        if let Err(e) = netlink_loop(notify, &cmd, &gateway, &err_tx).await {
            let _ = err_tx.send(e);
        }
    });
    let result = rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
        tokio::select! {
            _ = term.recv() => { log("SIGTERM: shutting down"); Ok(()) }
            _ = int.recv() => { log("SIGINT: shutting down"); Ok(()) }
            e = err_rx.recv() => Err(e.unwrap_or_else(|| "the netlink loop ended".into())),
        }
    });
    // Requests still in flight fail with EIO in the kernel when the
    // command socket closes.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The first wait after a failed PULL; it doubles up to [`BACKOFF_MAX`]
/// while PULL keeps failing and resets after one that succeeds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between failed PULLs.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The next backoff after `d`.
fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(BACKOFF_MAX)
}

/// The message of a fatal netlink failure `e` while doing `what`.
fn fatal_message(what: &str, e: &GenlError) -> String {
    match e {
        GenlError::Timeout => format!(
            "{what}: {e}; the command socket is out of step, exiting so that \
             systemd restarts the helper"
        ),
        e => format!("{what}: {e}; the netlink socket is unusable, exiting"),
    }
}

/// Waits for notices (or the pull period) and pulls until ENOENT, handing
/// each request to its own task.  A failed PULL is logged and retried after
/// a backoff (100 ms doubling to 5 s); only a fatal failure
/// ([`GenlError::is_fatal`]: a broken socket, no longer the helper, no
/// answer in time) ends the loop, and with it the helper.
async fn netlink_loop(
    notify: NotifySocket,
    cmd: &Arc<Mutex<CmdSocket>>,
    gateway: &Arc<Gateway>,
    err_tx: &tokio::sync::mpsc::UnboundedSender<String>,
) -> Result<(), String> {
    // SAFETY: `NotifySocket` owns its netlink socket for as long as it
    // lives, and `as_raw_fd` always gives that socket's descriptor.
    let mut notify = unsafe { AsyncFd::register(notify) }
        .map_err(|e| format!("gateway notices: {e}; exiting"))?;
    let mut backoff = BACKOFF_MIN;
    loop {
        // A notice, or the period in case one was lost.
        if let Ok(ready) = tokio::time::timeout(PULL_PERIOD, notify.readable_mut()).await {
            let mut ready = ready.map_err(|e| format!("gateway notices: {e}; exiting"))?;
            match ready.get_inner_mut().drain() {
                Ok(_) => ready.clear_ready(),
                Err(e) if e.is_fatal() => return Err(fatal_message("gateway notices", &e)),
                Err(e) => {
                    // The pull below still finds the requests; the pause
                    // keeps a failing socket from spinning.
                    log(&format!("gateway notices: {e}"));
                    ready.clear_ready();
                    tokio::time::sleep(PULL_PERIOD).await;
                }
            }
        }
        loop {
            // One command at a time on the socket; the kernel answers it
            // while handling its send, so the lock is held only briefly.
            let pulled = lock(cmd).pull();
            let pulled = match pulled {
                Ok(p) => {
                    backoff = BACKOFF_MIN;
                    p
                }
                Err(e) if e.is_fatal() => return Err(fatal_message("pulling a request", &e)),
                Err(e) => {
                    log(&format!(
                        "pulling a request: {e}; retrying in {} ms",
                        backoff.as_millis()
                    ));
                    tokio::time::sleep(backoff).await;
                    backoff = next_backoff(backoff);
                    break;
                }
            };
            let Some(req) = pulled else { break };
            let (gateway, cmd, err_tx) = (gateway.clone(), cmd.clone(), err_tx.clone());
            tokio::spawn(async move {
                let out = gateway.answer(&req).await;
                log(&client::log_line(&req, &out, gateway.config().log_prompts));
                // Completing here, on the worker, costs no hand-off to a
                // blocking thread.
                let done = lock(&cmd).complete(&out.completion);
                match done {
                    Ok(()) => {}
                    // The caller gave up (timeout, signal) before the answer.
                    Err(GenlError::Errno(libc::ENOENT)) => {
                        log(&format!("req {}: the caller no longer waits", req.id))
                    }
                    Err(e) if e.is_fatal() => {
                        let _ =
                            err_tx.send(fatal_message(&format!("req {}: completing", req.id), &e));
                    }
                    Err(e) => log(&format!("req {}: completing: {e}", req.id)),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_direct_takes_a_count_of_requests() {
        let cli = Cli::try_parse_from(["asm-gateway", "--bench-direct", "200"]).unwrap();
        assert_eq!(cli.bench_direct, Some(200));
        assert!(Cli::try_parse_from(["asm-gateway", "--bench-direct", "0"]).is_err());
        assert!(Cli::try_parse_from(["asm-gateway", "--bench-direct", "x"]).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let mut d = BACKOFF_MIN;
        let mut seen = vec![d];
        for _ in 0..8 {
            d = next_backoff(d);
            seen.push(d);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }
}

//! `asm-gateway`: the helper daemon.  Registers with the module, pulls the
//! agents' LLM requests, answers each in its own task.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use asm_gateway::client::{self, Gateway};
use asm_gateway::config::{self, Config};
use asm_gateway::genl::{self, CmdSocket, GenlError, NotifySocket};
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

/// How often the helper pulls without a notice, in case one was lost.
const PULL_PERIOD_MS: i32 = 200;

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
}

/// One log line on stderr.
fn log(msg: &str) {
    eprintln!("asm-gateway: {msg}");
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
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Locks the command socket; a poisoned lock still guards a usable socket.
fn lock(cmd: &Mutex<CmdSocket>) -> MutexGuard<'_, CmdSocket> {
    cmd.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers and serves until SIGTERM or SIGINT (Ok) or a netlink failure.
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let gateway = Arc::new(Gateway::new(config)?);
    let cmd = Arc::new(Mutex::new(cmd));
    let stop = Arc::new(AtomicBool::new(false));
    let (err_tx, mut err_rx) = tokio::sync::mpsc::unbounded_channel();
    let thread = {
        let (handle, gateway, cmd, stop) = (
            rt.handle().clone(),
            gateway.clone(),
            cmd.clone(),
            stop.clone(),
        );
        std::thread::Builder::new()
            .name("netlink".into())
            .spawn(move || {
                if let Err(e) = netlink_loop(notify, &cmd, &gateway, &handle, &stop) {
                    let _ = err_tx.send(e);
                }
            })
            .map_err(|e| format!("netlink thread: {e}"))?
    };
    let result = rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
        tokio::select! {
            _ = term.recv() => { log("SIGTERM: shutting down"); Ok(()) }
            _ = int.recv() => { log("SIGINT: shutting down"); Ok(()) }
            e = err_rx.recv() => Err(e.unwrap_or_else(|| "the netlink thread ended".into())),
        }
    });
    stop.store(true, Ordering::Relaxed);
    let _ = thread.join();
    // Requests still in flight fail with EIO in the kernel when the
    // command socket closes.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Waits for notices (or the pull period) and pulls until ENOENT, handing
/// each request to its own task.
fn netlink_loop(
    mut notify: NotifySocket,
    cmd: &Arc<Mutex<CmdSocket>>,
    gateway: &Arc<Gateway>,
    rt: &tokio::runtime::Handle,
    stop: &AtomicBool,
) -> Result<(), String> {
    while !stop.load(Ordering::Relaxed) {
        notify
            .wait(PULL_PERIOD_MS)
            .map_err(|e| format!("gateway notices: {e}"))?;
        loop {
            let pulled = lock(cmd)
                .pull()
                .map_err(|e| format!("pulling a request: {e}"))?;
            let Some(req) = pulled else { break };
            let (gateway, cmd) = (gateway.clone(), cmd.clone());
            rt.spawn(async move {
                let out = gateway.answer(&req).await;
                log(&client::log_line(&req, &out, gateway.config().log_prompts));
                let done =
                    tokio::task::spawn_blocking(move || lock(&cmd).complete(&out.completion)).await;
                match done {
                    Ok(Ok(())) => {}
                    // The caller gave up (timeout, signal) before the answer.
                    Ok(Err(GenlError::Errno(libc::ENOENT))) => {
                        log(&format!("req {}: the caller no longer waits", req.id))
                    }
                    Ok(Err(e)) => log(&format!("req {}: completing: {e}", req.id)),
                    Err(e) => log(&format!("req {}: completing: {e}", req.id)),
                }
            });
        }
    }
    Ok(())
}

// SPDX-License-Identifier: GPL-2.0

//! The asm-agent library from an agent's process: times `rust.work`
//! around a 50 ms sleep with the guard, records `rust.record` as 3 ms,
//! sends a heartbeat and the decision "rust demo done", one line per
//! step. Exits 1 on the first error.
//!
//! ```text
//! asmctl run --no-landlock --cap ProcessSpawn -- tools/target/release/examples/agent_demo
//! ```

use asm_agent::{Agent, Error};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

fn run() -> Result<(), Error> {
    let agent = Agent::open()?;
    println!("opened /dev/asm");

    let op = agent.operation("rust.work")?;
    thread::sleep(Duration::from_millis(50));
    let took = op.finish(true)?;
    println!("rust.work: {} ms", took.as_millis());

    agent.record("rust.record", Duration::from_millis(3), true)?;
    println!("rust.record: recorded 3 ms");

    let id = agent.heartbeat()?;
    println!("heartbeat: agent {id}");

    let seq = agent.decision("rust demo done")?;
    println!("decision: recorded (audit #{seq})");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent_demo: {e}");
            ExitCode::FAILURE
        }
    }
}

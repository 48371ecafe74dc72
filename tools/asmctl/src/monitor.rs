// SPDX-License-Identifier: GPL-2.0

//! `asmctl monitor`: the module's events as they happen, from its generic
//! netlink group (asm-events), as text lines or JSON lines, with the gaps
//! in the event numbers reported.
//!
//! An event's JSON document has the fields of the kernel's own (the
//! `recent_events` of the telemetry document) and its `seq`; the text line
//! is that document worded as asmstatus words its recent events.

use crate::args::MonitorFilter;
use crate::error::Error;
use crate::model;
use crate::render;
use asm_abi::{
    action_name, event_type_name, fault_type, llm_provider_name, ASM_EV_ACTION, ASM_EV_CASCADE,
    ASM_EV_DEP_HELD, ASM_EV_DEP_LOST, ASM_EV_FAILED, ASM_EV_FAULT, ASM_EV_LLM, ASM_EV_RECOVERY,
    ASM_EV_RELEASE, ASM_EV_RESTARTED,
};
use asm_events::{Event, Notice, Subscription};
use serde_json::{json, Map, Value};

/// Prints the events `filter` wants until `filter.count` of them were
/// printed, or the reader of stdout went away.
pub fn run(
    filter: &MonitorFilter,
    out: &mut dyn FnMut(&str) -> Result<bool, Error>,
) -> Result<(), Error> {
    let mut events = Subscription::open().map_err(|e| Error::Failed(e.to_string()))?;
    // On stderr, so that a script knows when the events it causes next
    // will be seen.
    eprintln!("asmctl: monitoring the asm events");
    let (mut printed, mut malformed) = (0, 0u64);
    loop {
        for notice in events.recv().map_err(|e| Error::Failed(e.to_string()))? {
            let line = match &notice {
                Notice::Event(e) if !filter.wants(e.agent_id, e.kind) => continue,
                // The first few, then one in a thousand: a flood of them
                // must not flood stderr.
                Notice::Malformed(why) => {
                    malformed += 1;
                    if malformed <= 3 || malformed % 1000 == 0 {
                        eprintln!("asmctl: monitor: {why} ({malformed} so far)");
                    }
                    continue;
                }
                _ => line(&notice, filter.json)?,
            };
            if !out(&line)? {
                return Ok(());
            }
            if notice == Notice::Unloaded {
                return Err(Error::Failed(
                    "the asm module was unloaded: its events group is gone".into(),
                ));
            }
            if matches!(notice, Notice::Event(_)) {
                printed += 1;
                if filter.count == Some(printed) {
                    return Ok(());
                }
            }
        }
    }
}

/// The line of `notice`, with its newline.
fn line(notice: &Notice, json: bool) -> Result<String, Error> {
    let doc = match *notice {
        Notice::Event(ref e) => {
            let doc = document(e);
            if json {
                doc
            } else {
                let event: model::Event = serde_json::from_value(doc.clone())
                    .map_err(|e| Error::Failed(format!("an event's document: {e}")))?;
                let ms = e.timestamp_ns / 1_000_000;
                return Ok(format!("{} [{ms}] {}\n", e.seq, render::event_text(&event)));
            }
        }
        Notice::Lost { first, last } => {
            let count = last - first + 1;
            if !json {
                return Ok(format!("lost events {first} to {last} ({count})\n"));
            }
            json!({"lost": {"first_seq": first, "last_seq": last, "count": count}})
        }
        Notice::Renumbered { seq } => {
            if !json {
                return Ok(format!(
                    "the events are numbered again from {seq} (the module was loaded again)\n"
                ));
            }
            json!({"renumbered": {"seq": seq}})
        }
        Notice::Overrun => {
            if !json {
                return Ok(
                    "the socket's buffer overflowed: the next event tells how many were lost\n"
                        .into(),
                );
            }
            json!({"overrun": true})
        }
        Notice::Unloaded => {
            if !json {
                return Ok("the asm module was unloaded\n".into());
            }
            json!({"unloaded": true})
        }
        Notice::Malformed(ref why) => json!({"malformed": why}),
    };
    Ok(format!("{doc}\n"))
}

/// The event's document, as the kernel writes the events of its telemetry
/// document (`report.rs`), with the event's number first.
pub fn document(e: &Event) -> Value {
    let kind = event_type_name(e.kind).map_or_else(|| format!("Type{}", e.kind), String::from);
    let mut doc = Map::new();
    doc.insert("seq".into(), e.seq.into());
    doc.insert("timestamp_ns".into(), e.timestamp_ns.into());
    doc.insert("type".into(), kind.into());
    doc.insert("agent_id".into(), e.agent_id.into());
    doc.insert("pid".into(), e.pid.into());
    doc.insert("exit_code".into(), e.exit_code.into());
    doc.insert("signal".into(), e.signal.into());
    let extra = match e.kind {
        ASM_EV_RECOVERY | ASM_EV_RESTARTED | ASM_EV_FAILED => {
            json!({"restarts": e.value, "max_restarts": e.limit})
        }
        ASM_EV_FAULT => match fault_type(e.fault) {
            Some(f) => json!({
                "fault": f.json,
                "observed": e.value,
                "limit": e.limit,
                "unit": f.json_unit,
            }),
            None => json!({}),
        },
        ASM_EV_ACTION => match fault_type(e.fault) {
            Some(f) => {
                let action = u8::try_from(e.action).ok().and_then(action_name);
                json!({"fault": f.json, "action": action.unwrap_or("?")})
            }
            None => json!({}),
        },
        ASM_EV_RELEASE => match fault_type(e.fault) {
            Some(f) => json!({"fault": f.json}),
            None => json!({}),
        },
        ASM_EV_LLM => json!({
            "provider": llm_provider_name(e.fault),
            "result": e.exit_code,
            "tokens_used": e.value,
            "duration_us": e.limit,
        }),
        ASM_EV_CASCADE | ASM_EV_DEP_HELD | ASM_EV_DEP_LOST => {
            json!({"dependency": e.value, "grace_ms": e.limit})
        }
        _ => json!({}),
    };
    if let Value::Object(extra) = extra {
        doc.extend(extra);
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_EV_EXIT, ASM_EV_SPAWN, ASM_FAULT_MEMORY};

    fn ev(kind: u32) -> Event {
        Event {
            seq: 41,
            timestamp_ns: 5_000_000_123,
            kind,
            agent_id: 100,
            pid: 4242,
            ..Event::default()
        }
    }

    #[test]
    fn events_as_text_and_json() {
        let spawn = Notice::Event(ev(ASM_EV_SPAWN));
        assert_eq!(
            line(&spawn, false).unwrap(),
            "41 [5000] Agent 100 spawned (pid 4242)\n"
        );
        assert_eq!(
            line(&spawn, true).unwrap(),
            "{\"agent_id\":100,\"exit_code\":0,\"pid\":4242,\"seq\":41,\"signal\":0,\
             \"timestamp_ns\":5000000123,\"type\":\"Spawn\"}\n"
        );
        let exit = Notice::Event(Event {
            exit_code: 3,
            ..ev(ASM_EV_EXIT)
        });
        assert_eq!(
            line(&exit, false).unwrap(),
            "41 [5000] Agent 100 exited (code 3)\n"
        );
        let fault = Event {
            fault: ASM_FAULT_MEMORY,
            value: 300 << 20,
            limit: 256 << 20,
            ..ev(ASM_EV_FAULT)
        };
        assert_eq!(document(&fault)["unit"], "Bytes", "{}", document(&fault));
        assert!(line(&Notice::Event(fault), false)
            .unwrap()
            .starts_with("41 [5000] Agent 100 fault: memory limit exceeded"));
    }

    #[test]
    fn gaps_as_text_and_json() {
        let lost = Notice::Lost { first: 7, last: 9 };
        assert_eq!(line(&lost, false).unwrap(), "lost events 7 to 9 (3)\n");
        assert_eq!(
            line(&lost, true).unwrap(),
            "{\"lost\":{\"count\":3,\"first_seq\":7,\"last_seq\":9}}\n"
        );
        assert_eq!(
            line(&Notice::Renumbered { seq: 0 }, true).unwrap(),
            "{\"renumbered\":{\"seq\":0}}\n"
        );
    }

    /// The document deserializes as the telemetry's events do, for every
    /// type, so the text of each is the one asmstatus prints.
    #[test]
    fn every_type_has_a_document_and_a_text() {
        for (kind, name) in asm_abi::EVENT_TYPES {
            let doc = document(&ev(kind));
            assert_eq!(doc["type"], name);
            let text = line(&Notice::Event(ev(kind)), false).unwrap();
            assert!(text.starts_with("41 [5000] Agent 100 "), "{name}: {text}");
        }
        assert_eq!(document(&ev(99))["type"], "Type99");
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Operation profiling (`ASM_IOC_PROFILE`, Documentation/profiling.rst):
//! the rule for an operation's name, the durations `asmctl profile record`
//! takes (`950us`, `1.5ms`) and the ones the views show (three significant
//! digits: `950µs`, `1.20ms`), success rates, the order of the views
//! (slowest p95 first) and one operation's figures as the views and
//! `--json` give them.
//!
//! Pure functions, so that each is tested without a kernel.

use asm_abi::AsmProfile;
use asm_abi::{profile_op_valid, ASM_PROFILE_DURATION_MAX, ASM_PROFILE_OP_LEN};
use serde::Serialize;
use std::cmp::Reverse;

/// What an operation's name may be, for the messages that refuse one.
pub fn op_name_rule() -> String {
    format!(
        "1 to {} characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'",
        ASM_PROFILE_OP_LEN - 1
    )
}

/// `text` if it is a name the module takes, else why not.
pub fn check_op_name(text: &str) -> Result<(), String> {
    if profile_op_valid(text.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "invalid operation name '{text}' (expected {})",
            op_name_rule()
        ))
    }
}

/// The units a duration is typed with, and their length in nanoseconds.
const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
];

/// A duration as `profile record` takes it: a number, decimals allowed,
/// with a unit: ns, us (or µs), ms or s (`950us`, `1.5ms`, `2s`); in
/// nanoseconds, which it must come to a whole number of, at most
/// `ASM_PROFILE_DURATION_MAX` (an hour). Read as decimal text, never
/// through a float, so that `0.3s` is exactly 300 ms.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid duration '{text}' (expected a number with a unit: ns, us, ms or s, e.g. \
             950us or 1.5ms)"
        )
    };
    // "ms" and "ns" end in "s" too: the longest unit that matches.
    let (number, unit) = UNITS
        .iter()
        .filter_map(|&(name, ns)| text.strip_suffix(name).map(|n| (n, (name, ns))))
        .min_by_key(|(n, _)| n.len())
        .ok_or_else(bad)?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || number.ends_with('.') {
        return Err(bad());
    }
    let too_long = || {
        format!(
            "invalid duration '{text}': at most {} (1 hour)",
            duration_text(ASM_PROFILE_DURATION_MAX)
        )
    };
    // Within an hour the whole part has at most 13 digits (in ns); a
    // longer one is too long whatever its value, and leading zeros count
    // for nothing.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 13 {
        return Err(too_long());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    // Decimals past the ninth are below a nanosecond in any unit: they must
    // be zeros.
    let frac = frac.trim_end_matches('0');
    if frac.len() > 9 {
        return Err(format!(
            "invalid duration '{text}': finer than a nanosecond"
        ));
    }
    let scale = 10u128.pow(frac.len() as u32);
    let frac: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    let unit = u128::from(unit.1);
    let scaled = (whole * scale + frac) * unit;
    if !scaled.is_multiple_of(scale) {
        return Err(format!(
            "invalid duration '{text}': finer than a nanosecond"
        ));
    }
    let ns = scaled / scale;
    if ns > u128::from(ASM_PROFILE_DURATION_MAX) {
        return Err(too_long());
    }
    // At most ASM_PROFILE_DURATION_MAX, so within u64.
    u64::try_from(ns).map_err(|_| too_long())
}

/// `ns` for a person, to three significant digits in the largest unit
/// that keeps at least one whole: `950ns`, `1.00µs`, `12.3µs`, `950µs`,
/// `1.20ms`, `10.0ms`, `2.50s`; rounded half up, so `999999ns` is
/// `1.00ms`. Nanoseconds are whole (`7ns`), and so are a thousand seconds
/// and more (`3600s`).
pub fn duration_text(ns: u64) -> String {
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let units = [("µs", 1_000u64), ("ms", 1_000_000), ("s", 1_000_000_000)];
    let first = units.iter().rposition(|&(_, size)| ns >= size).unwrap_or(0);
    for (i, &(name, size)) in units.iter().enumerate().skip(first) {
        let last = i + 1 == units.len();
        // The most decimals that leave three significant digits: rounding
        // may carry into a fourth (999.5µs), which the next unit shows.
        for decimals in [2u32, 1, 0] {
            let scale = 10u128.pow(decimals);
            let size = u128::from(size);
            let r = (u128::from(ns) * scale + size / 2) / size;
            if r < 1000 || (decimals == 0 && last) {
                return match decimals {
                    0 => format!("{r}{name}"),
                    d => {
                        let s = 10u128.pow(d);
                        format!("{}.{:0w$}{name}", r / s, r % s, w = d as usize)
                    }
                };
            }
        }
    }
    // Not reached: the last unit always returns.
    format!("{ns}ns")
}

/// The success rate in tenths of a per cent, rounded half up but never to
/// 100.0 while one failed nor to 0.0 while one succeeded; 0 for no
/// samples.
pub fn success_tenths(successes: u64, total: u64) -> u64 {
    if total == 0 {
        return 0;
    }
    let successes = successes.min(total);
    let (s, t) = (u128::from(successes), u128::from(total));
    let tenths = ((s * 2000 + t) / (2 * t)) as u64;
    if successes < total {
        tenths.clamp(u64::from(successes > 0), 999)
    } else {
        tenths
    }
}

/// The success rate as a percentage with one decimal, without the sign:
/// `90.0`, `66.7`, `100.0`.
pub fn percent_text(successes: u64, total: u64) -> String {
    let tenths = success_tenths(successes, total);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// One operation's figures, as every view shows them and `--json` gives
/// them: the keys of Documentation/profiling.rst, durations in ns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpProfile {
    /// The agent, or `null` for an aggregate over every agent the caller
    /// sees.
    pub agent: Option<u32>,
    pub op: String,
    /// Samples since the operation's first.
    pub total: u64,
    pub successes: u64,
    /// `successes / total`, from 0 to 1.
    pub success_rate: f64,
    /// The samples the durations are over (the last 100 of each agent).
    pub kept: u32,
    pub min_ns: u64,
    pub max_ns: u64,
    pub avg_ns: u64,
    pub p50_ns: u64,
    pub p95_ns: u64,
    pub p99_ns: u64,
}

impl OpProfile {
    /// Operation `op` of `agent` (`None`: the aggregate) with `stats`.
    pub fn new(agent: Option<u32>, op: &str, stats: &AsmProfile) -> Self {
        let success_rate = if stats.total == 0 {
            0.0
        } else {
            stats.successes as f64 / stats.total as f64
        };
        Self {
            agent,
            op: op.to_string(),
            total: stats.total,
            successes: stats.successes,
            success_rate,
            kept: stats.kept,
            min_ns: stats.min_ns,
            max_ns: stats.max_ns,
            avg_ns: stats.avg_ns,
            p50_ns: stats.p50_ns,
            p95_ns: stats.p95_ns,
            p99_ns: stats.p99_ns,
        }
    }

    /// The success rate for the views: `90.0`.
    pub fn percent(&self) -> String {
        percent_text(self.successes, self.total)
    }
}

/// An operation's name and figures, as `Device::profile_ops` reads them.
pub type NamedStats = (String, AsmProfile);

/// Sorts by p95, longest first; then by p99, longest first, and by name,
/// so that the order is the same every time.
pub fn slowest_first(ops: &mut [NamedStats]) {
    ops.sort_by(|(a_name, a), (b_name, b)| {
        (Reverse(a.p95_ns), Reverse(a.p99_ns), a_name).cmp(&(
            Reverse(b.p95_ns),
            Reverse(b.p99_ns),
            b_name,
        ))
    });
}

/// The `n` slowest of `ops` by p95, slowest first (asminfo's "Slowest
/// Operations").
pub fn slowest(ops: &[NamedStats], n: usize) -> Vec<NamedStats> {
    let mut ops = ops.to_vec();
    slowest_first(&mut ops);
    ops.truncate(n);
    ops
}

/// Agent `agent`'s operations, slowest first, as the views show them.
pub fn agent_ops(agent: u32, ops: &[NamedStats]) -> Vec<OpProfile> {
    slowest(ops, ops.len())
        .iter()
        .map(|(name, stats)| OpProfile::new(Some(agent), name, stats))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_three_significant_digits() {
        for (ns, want) in [
            (0, "0ns"),
            (7, "7ns"),
            (999, "999ns"),
            (1_000, "1.00µs"),
            (1_004, "1.00µs"),
            (1_005, "1.01µs"),
            (9_994, "9.99µs"),
            // Rounding carries into a fourth digit: one decimal fewer.
            (9_995, "10.0µs"),
            (12_345, "12.3µs"),
            (99_950, "100µs"),
            (950_000, "950µs"),
            (999_499, "999µs"),
            // ... or into the next unit.
            (999_500, "1.00ms"),
            (999_999, "1.00ms"),
            (1_000_000, "1.00ms"),
            (1_200_000, "1.20ms"),
            (5_500_000, "5.50ms"),
            (10_000_000, "10.0ms"),
            (30_500_000, "30.5ms"),
            (999_999_999, "1.00s"),
            (2_500_000_000, "2.50s"),
            (59_999_000_000, "60.0s"),
            (999_000_000_000, "999s"),
            (999_600_000_000, "1000s"),
            (ASM_PROFILE_DURATION_MAX, "3600s"),
            (u64::MAX, "18446744074s"),
        ] {
            assert_eq!(duration_text(ns), want, "{ns}");
        }
    }

    #[test]
    fn durations_parse_exactly() {
        for (text, want) in [
            ("0ns", 0),
            ("0s", 0),
            ("1ns", 1),
            ("950us", 950_000),
            ("950µs", 950_000),
            ("950μs", 950_000),
            ("1ms", 1_000_000),
            ("1.5ms", 1_500_000),
            ("1.20ms", 1_200_000),
            ("0.3s", 300_000_000),
            ("2s", 2_000_000_000),
            ("007ms", 7_000_000),
            ("1.000000000s", 1_000_000_000),
            ("1.0000000000000s", 1_000_000_000),
            ("0.000000001s", 1),
            ("3600s", ASM_PROFILE_DURATION_MAX),
            ("3600000ms", ASM_PROFILE_DURATION_MAX),
            ("3600000000000ns", ASM_PROFILE_DURATION_MAX),
            ("00000000000000000001ns", 1),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        let malformed = |t: &str| {
            format!(
                "invalid duration '{t}' (expected a number with a unit: ns, us, ms or s, e.g. \
                 950us or 1.5ms)"
            )
        };
        for text in [
            "", "5", "ms", "1.ms", ".5ms", "1..5ms", "1,5ms", "-1ms", "+1ms", "1 ms", "1msec",
            "1m", "1h", "1e3ns", "1MS", "1.5.ms", "ns5",
        ] {
            assert_eq!(parse_duration(text), Err(malformed(text)), "{text}");
        }
        let too_long = |t: &str| format!("invalid duration '{t}': at most 3600s (1 hour)");
        for text in [
            "3600.000000001s",
            "3601s",
            "3600000000001ns",
            "99999999999999999999999999999s",
            "18446744073709551616ns",
        ] {
            assert_eq!(parse_duration(text), Err(too_long(text)), "{text}");
        }
        for text in ["1.5ns", "0.0000000001s", "1.0001us"] {
            assert_eq!(
                parse_duration(text),
                Err(format!(
                    "invalid duration '{text}': finer than a nanosecond"
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn operation_names() {
        assert_eq!(check_op_name("db.query"), Ok(()));
        assert_eq!(check_op_name("llm:call-2_x"), Ok(()));
        assert_eq!(check_op_name(&"x".repeat(31)), Ok(()));
        let rule = "1 to 31 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'";
        for bad in ["", "a b", "a/b", "café", &"x".repeat(32)] {
            assert_eq!(
                check_op_name(bad),
                Err(format!("invalid operation name '{bad}' (expected {rule})"))
            );
        }
        assert_eq!(op_name_rule(), rule);
    }

    #[test]
    fn success_rates() {
        for ((successes, total), want) in [
            ((0, 0), "0.0"),
            ((0, 5), "0.0"),
            ((9, 10), "90.0"),
            ((2, 3), "66.7"),
            ((1, 3), "33.3"),
            ((1, 8), "12.5"),
            ((5, 5), "100.0"),
            // Never shown as all or none when it is not.
            ((9999, 10000), "99.9"),
            ((1, 10000), "0.1"),
            ((1, u64::MAX), "0.1"),
            ((u64::MAX - 1, u64::MAX), "99.9"),
            ((u64::MAX, u64::MAX), "100.0"),
            // More successes than samples (never from the module).
            ((7, 5), "100.0"),
        ] {
            assert_eq!(percent_text(successes, total), want, "{successes}/{total}");
        }
    }

    fn stats(total: u64, successes: u64, p95: u64, p99: u64) -> AsmProfile {
        AsmProfile {
            total,
            successes,
            kept: total.min(100) as u32,
            ops: 0,
            min_ns: 1,
            max_ns: p99,
            avg_ns: p95 / 2,
            p50_ns: p95 / 2,
            p95_ns: p95,
            p99_ns: p99,
            ..AsmProfile::stats(0)
        }
    }

    #[test]
    fn figures_of_an_operation() {
        let row = OpProfile::new(Some(7701), "step", &stats(10, 9, 10_000_000, 10_000_000));
        assert_eq!(row.percent(), "90.0");
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            serde_json::json!({
                "agent": 7701, "op": "step", "total": 10, "successes": 9,
                "success_rate": 0.9, "kept": 10, "min_ns": 1, "max_ns": 10_000_000,
                "avg_ns": 5_000_000, "p50_ns": 5_000_000, "p95_ns": 10_000_000,
                "p99_ns": 10_000_000,
            })
        );
        // The aggregate has no agent; no sample is no rate.
        let row = OpProfile::new(None, "step", &AsmProfile::stats(0));
        let doc = serde_json::to_value(&row).unwrap();
        assert_eq!(
            (&doc["agent"], &doc["success_rate"]),
            (&serde_json::Value::Null, &0.0.into())
        );
    }

    #[test]
    fn slowest_p95_first() {
        let ops = vec![
            ("fetch".to_string(), stats(40, 38, 12_000_000, 15_000_000)),
            ("parse".to_string(), stats(40, 40, 950_000, 990_000)),
            (
                "db.query".to_string(),
                stats(1000, 999, 30_500_000, 45_000_000),
            ),
            (
                "llm:call".to_string(),
                stats(3, 2, 2_500_000_000, 2_500_000_000),
            ),
            // Ties: the longer p99 first, then by name.
            ("b".to_string(), stats(1, 1, 950_000, 990_000)),
            ("a".to_string(), stats(1, 1, 950_000, 990_000)),
            ("c".to_string(), stats(1, 1, 950_000, 995_000)),
        ];
        let rows = agent_ops(100, &ops);
        let names: Vec<&str> = rows.iter().map(|r| r.op.as_str()).collect();
        assert_eq!(
            names,
            ["llm:call", "db.query", "fetch", "c", "a", "b", "parse"]
        );
        assert!(rows.iter().all(|r| r.agent == Some(100)));
        assert_eq!(rows[1], OpProfile::new(Some(100), "db.query", &ops[2].1));
        let top: Vec<String> = slowest(&ops, 3).into_iter().map(|(n, _)| n).collect();
        assert_eq!(top, ["llm:call", "db.query", "fetch"]);
        assert_eq!(slowest(&ops[..1], 3), ops[..1].to_vec());
        assert!(slowest(&[], 3).is_empty());
        assert!(agent_ops(100, &[]).is_empty());
    }
}

//! The run's numbers: one JSON value, from which the table is printed, so the table and the
//! last line (the JSON) can never disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::driver::{Latencies, Phase};

/// The `p`-quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn round(x: f64, places: i32) -> Value {
    let f = 10f64.powi(places);
    json!((x * f).round() / f)
}

fn summary(values: &[f64]) -> Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p| quantile(&v, p).map_or(Value::Null, |x| round(x, 2));
    json!({ "count": v.len(), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": q(1.0) })
}

/// One phase as JSON.
pub fn phase(
    p: &Phase,
    lat: &Latencies,
    raw_rate: Option<f64>,
    cpu_ms: &BTreeMap<String, f64>,
    commits: Option<u64>,
) -> Value {
    let per = |x: f64| round(x / p.transitions.max(1) as f64, 3);
    let mut latency = summary(&lat.all);
    latency["mail_before_answer"] = json!(lat.mail_first);
    latency["missing"] = json!(lat.missing);
    latency["by_level"] = json!({
        "village": summary(&lat.by_level[0]),
        "township": summary(&lat.by_level[1]),
        "county": summary(&lat.by_level[2]),
    });
    json!({
        "nominations": p.count,
        "transitions": p.transitions,
        "seconds": round(p.seconds, 3),
        "transitions_per_s": round(p.per_second(), 1),
        "ratio_to_raw": raw_rate.map_or(Value::Null, |r| round(p.per_second() / r, 4)),
        "latency_ms": latency,
        "cpu_ms_per_transition": cpu_ms.iter().map(|(k, v)| (k.clone(), per(*v))).collect::<serde_json::Map<_, _>>(),
        "commits_per_transition": commits.map_or(Value::Null, |c| per(c as f64)),
    })
}

fn num(v: &Value) -> String {
    match v {
        Value::Null => "n/a".into(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if n.is_u64() || n.is_i64() {
                format!("{n}")
            } else if f.abs() >= 100.0 {
                format!("{f:.0}")
            } else if f.abs() >= 1.0 {
                format!("{f:.2}")
            } else {
                format!("{f:.3}")
            }
        }
        other => other.to_string(),
    }
}

/// The readable table of a run's JSON.
pub fn table(r: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "jinguo-bench workflow — {} — {} + {} nominations, {} reviewers",
        r["mode"].as_str().unwrap_or("?"),
        r["full"]["nominations"],
        r["half"]["nominations"],
        r["reviewers"]
    );
    out.push('\n');
    out.push_str("raw limits (same client count):\n");
    if let Some(raw) = r["raw"].as_object() {
        for (k, v) in raw {
            let _ = writeln!(out, "  {k:<28} {:>10}", num(v));
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<38} {:>14} {:>14}",
        "workflow", "full load", "half (open)"
    );
    let both = |out: &mut String, label: &str, path: &[&str]| {
        let get = |phase: &str| {
            let mut v = &r[phase];
            for p in path {
                v = &v[*p];
            }
            num(v)
        };
        let _ = writeln!(out, "{label:<38} {:>14} {:>14}", get("full"), get("half"));
    };
    both(&mut out, "transitions", &["transitions"]);
    both(&mut out, "seconds", &["seconds"]);
    both(&mut out, "transitions/s", &["transitions_per_s"]);
    both(&mut out, "  target rate (open loop)", &["target_per_s"]);
    both(&mut out, "ratio to raw commits/s", &["ratio_to_raw"]);
    for q in ["p50", "p90", "p99", "max"] {
        both(
            &mut out,
            &format!("answer → next mail {q} (ms)"),
            &["latency_ms", q],
        );
    }
    for level in ["village", "township", "county"] {
        both(
            &mut out,
            &format!("  → {level} mail p50 (ms)"),
            &["latency_ms", "by_level", level, "p50"],
        );
    }
    both(
        &mut out,
        "  mail before the answer was read",
        &["latency_ms", "mail_before_answer"],
    );
    both(&mut out, "  steps without mail", &["latency_ms", "missing"]);
    both(
        &mut out,
        "PG commits per transition",
        &["commits_per_transition"],
    );
    if !r["idle_commits_per_s"].is_null() {
        let _ = writeln!(
            out,
            "  (idle services commit {}/s; included above)",
            num(&r["idle_commits_per_s"])
        );
    }
    out.push_str("CPU ms per transition:\n");
    if let Some(cpu) = r["full"]["cpu_ms_per_transition"].as_object() {
        for k in cpu.keys() {
            both(
                &mut out,
                &format!("  {k}"),
                &["cpu_ms_per_transition", k.as_str()],
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<38} {:>12} {:>12} {:>14}",
        "process", "peak RSS MiB", "statements/t", "commits/t (log)"
    );
    if let Some(procs) = r["peak_rss_mib"].as_object() {
        for (k, v) in procs {
            let _ = writeln!(
                out,
                "{k:<38} {:>12} {:>12} {:>14}",
                num(v),
                num(&r["statements_per_transition"][k]),
                num(&r["logged_commits_per_transition"][k])
            );
        }
    }
    out.push('\n');
    let m = &r["mails"];
    let _ = writeln!(
        out,
        "review mails sent / expected / duplicates: {} / {} / {}   (extra per level: {}, other mails: {})",
        num(&m["review_sent"]),
        num(&m["expected"]),
        num(&m["duplicates"]),
        num(&m["extra_review"]),
        num(&m["other"])
    );
    let f = &r["final"];
    let _ = writeln!(
        out,
        "nominations in 公示 at the end: {} of {} submitted ({} expected)",
        num(&f["in_publicity"]),
        num(&f["submitted"]),
        num(&f["expected"])
    );
    match r["errors"].as_object() {
        Some(e) if !e.is_empty() => {
            out.push_str("error answers:\n");
            for (k, v) in e {
                let _ = writeln!(out, "  {k:<36} {}", num(v));
            }
        }
        _ => out.push_str("error answers: none\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}

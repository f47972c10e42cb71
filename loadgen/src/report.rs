//! The final table, the JSON result, and gateway process sampling.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Serialize;

use crate::cli::Args;
use crate::client::{Log, Timeline};
use crate::provision::Plan;
use crate::stats::{Percentiles, Summary};
use crate::verify::{verify, Verdict};

/// The whole run's results.
#[derive(Debug)]
pub struct Outcome {
    /// One per user, in plan order.
    pub logs: Vec<Log>,
    /// History of the sampled conversations.
    pub histories:
        std::collections::HashMap<actors_common::ConversationId, Vec<crate::history::Stored>>,
    pub summary: Summary,
    pub gateways: Vec<GatewaySample>,
}

/// Runs `work` while sampling the gateway processes: before anything
/// connects, when sending starts (memory: everyone connected), and at the
/// end of the measured window (CPU in between).
pub async fn sampling_gateways<T>(
    args: &Args,
    timeline: Timeline,
    work: impl std::future::Future<Output = T>,
) -> (T, Vec<GatewaySample>) {
    let sampler = ProcSampler::new(&args.gateway_pids);
    let before = sampler.sample();
    let samples = async {
        tokio::time::sleep_until(timeline.send_from.into()).await;
        let connected = sampler.sample();
        tokio::time::sleep_until(timeline.measured_until(args.scenario).into()).await;
        let end = sampler.sample();
        ProcSampler::combine(&before, &connected, &end)
    };
    tokio::join!(work, samples)
}

/// One gateway process: memory and CPU at the run's moments.
#[derive(Debug, Clone, Serialize)]
pub struct GatewaySample {
    pub pid: u32,
    pub rss_kb_before: u64,
    pub rss_kb_connected: u64,
    /// CPU seconds (user + system) between "connected" and the end.
    pub cpu_seconds: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStat {
    rss_kb: u64,
    cpu_ticks: u64,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat` of gateways on this host.
pub struct ProcSampler {
    pids: Vec<u32>,
}

impl ProcSampler {
    pub fn new(pids: &[u32]) -> Self {
        Self {
            pids: pids.to_vec(),
        }
    }

    fn read(pid: u32) -> ProcStat {
        let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0);
        // Fields 14 and 15 (utime, stime) come after the ")" that ends the name.
        let cpu_ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1;
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        ProcStat { rss_kb, cpu_ticks }
    }

    pub fn sample(&self) -> Vec<(u32, ProcStat)> {
        self.pids.iter().map(|&p| (p, Self::read(p))).collect()
    }

    pub fn combine(
        before: &[(u32, ProcStat)],
        connected: &[(u32, ProcStat)],
        end: &[(u32, ProcStat)],
    ) -> Vec<GatewaySample> {
        let hz = clock_ticks();
        before
            .iter()
            .zip(connected)
            .zip(end)
            .map(|(((pid, b), (_, c)), (_, e))| GatewaySample {
                pid: *pid,
                rss_kb_before: b.rss_kb,
                rss_kb_connected: c.rss_kb,
                cpu_seconds: e.cpu_ticks.saturating_sub(c.cpu_ticks) as f64 / hz,
            })
            .collect()
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Serialize)]
struct Report<'a> {
    scenario: String,
    connections: usize,
    connected: usize,
    conversations: usize,
    senders: usize,
    rate: f64,
    duration_s: u64,
    gateways: &'a [String],
    summary: &'a Summary,
    deliveries_per_second: f64,
    verdict: &'a Verdict,
    errors: BTreeMap<String, u64>,
    gateway_processes: &'a [GatewaySample],
    rss_kb_per_connection: Option<f64>,
    deliveries_per_gateway_cpu_second: Option<f64>,
    /// What the fault did to the run (`--resilient` / `--stall` runs).
    fault: FaultReport,
    /// The run's verdict as a whole (what the exit code says).
    clean: bool,
}

/// Recovery figures of a fault run.
#[derive(Serialize, Default)]
struct FaultReport {
    /// From the fault to the first ack of a send sent after it.
    recovery_ms: Option<f64>,
    reconnects: u64,
    resent: u64,
    unavailable: u64,
    stalled: u64,
    stalled_closed: u64,
}

fn report_reconnects(logs: &[Log]) -> u64 {
    logs.iter().map(|l| u64::from(l.reconnects)).sum()
}

fn row(name: &str, p: &Percentiles) -> String {
    format!(
        "{name:<28} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        p.count, p.p50, p.p90, p.p99, p.p999, p.max
    )
}

/// Prints the table, writes the JSON; true when nothing was lost,
/// duplicated or reordered and every connection came up.
pub fn print_and_save(args: &Args, plan: &Plan, outcome: &Outcome) -> anyhow::Result<bool> {
    let verdict = verify(plan, &outcome.logs, &outcome.histories, args.resilient);
    let connected = outcome.logs.iter().filter(|l| l.connected).count();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for log in &outcome.logs {
        for (k, v) in &log.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
    }
    let s = &outcome.summary;
    let per_second = s.delivered as f64 / args.duration().as_secs_f64().max(1.0);
    let gateway_rss_growth: u64 = outcome
        .gateways
        .iter()
        .map(|g| g.rss_kb_connected.saturating_sub(g.rss_kb_before))
        .sum();
    let rss_per_conn = (!outcome.gateways.is_empty() && connected > 0)
        .then(|| gateway_rss_growth as f64 / connected as f64);
    let cpu: f64 = outcome.gateways.iter().map(|g| g.cpu_seconds).sum();
    let per_cpu = (cpu > 0.0 && s.delivered > 0).then(|| s.delivered as f64 / cpu);

    println!();
    println!(
        "scenario {:?}: {connected}/{} connected, {} conversations, {} senders",
        args.scenario,
        args.connections,
        crate::verify::conversations(plan, &outcome.logs).len(),
        plan.senders.len()
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    println!("{}", row("connect", &s.connect));
    println!("{}", row("send→ack", &s.ack));
    println!("{}", row("send→receive", &s.deliver));
    if !s.legs.is_empty() {
        println!("traced messages, leg by leg (send→ack legs start with \"ack\"):");
        for (leg, p) in &s.legs {
            println!("{}", row(&format!("  {leg}"), p));
        }
    }
    println!(
        "sent {}  acked {}  delivered {} ({per_second:.0}/s)",
        s.sent, s.acked, s.delivered
    );
    for g in &outcome.gateways {
        println!(
            "gateway pid {}: RSS {} KB before, {} KB connected; {:.2} CPU s while sending",
            g.pid, g.rss_kb_before, g.rss_kb_connected, g.cpu_seconds
        );
    }
    if let Some(kb) = rss_per_conn {
        println!("gateway memory per connection: {:.1} KB", kb);
    }
    if let Some(d) = per_cpu {
        println!("deliveries per gateway CPU-second: {d:.0}");
    }
    if !errors.is_empty() {
        println!("errors: {errors:?}");
    }
    println!(
        "verification: lost {}  unanswered {}  duplicated {}  out of order {}  sender reordered {}  leaked {}  refused {}  history mismatches {}",
        verdict.lost,
        verdict.unanswered,
        verdict.duplicated,
        verdict.out_of_order,
        verdict.sender_reordered,
        verdict.leaked,
        verdict.refused,
        verdict.history_mismatch
    );
    if let Some(first) = &verdict.first_lost {
        println!("  first lost: {first}");
    }
    println!(
        "  history: missing {}  stored twice {}  ack seq differs {}  (checked {} deliveries; {} conversations compared with history)",
        verdict.history_missing,
        verdict.history_duplicates,
        verdict.ack_mismatch,
        verdict.checked,
        verdict.history_checked
    );
    if args.resilient || verdict.stalled > 0 {
        println!(
            "  faults: {} reconnects, {} sends resent, {} unavailable; {} of {} stalled clients found themselves closed",
            report_reconnects(&outcome.logs),
            outcome.logs.iter().map(|l| l.resent).sum::<u64>(),
            outcome.logs.iter().map(|l| l.unavailable).sum::<u64>(),
            verdict.stalled_closed,
            verdict.stalled
        );
    }
    // A run is clean when everyone connected, no verdict found a fault, a
    // sending scenario really sent, and (unless clients were told to ride
    // out faults) no error came.
    let sent_something = args.scenario == crate::cli::Scenario::Idle || s.acked > 0;
    let clean = verdict.clean()
        && connected == args.connections
        && (args.resilient || errors.is_empty())
        && sent_something;
    let report = Report {
        scenario: format!("{:?}", args.scenario).to_lowercase(),
        connections: args.connections,
        connected,
        conversations: crate::verify::conversations(plan, &outcome.logs).len(),
        senders: plan.senders.len(),
        rate: args.rate,
        duration_s: args.duration,
        gateways: &args.gateways,
        summary: s,
        deliveries_per_second: per_second,
        verdict: &verdict,
        errors: errors.clone(),
        gateway_processes: &outcome.gateways,
        rss_kb_per_connection: rss_per_conn,
        deliveries_per_gateway_cpu_second: per_cpu,
        fault: FaultReport {
            recovery_ms: outcome
                .logs
                .iter()
                .filter_map(|l| l.first_ack_after_fault)
                .min()
                .map(|d| d.as_secs_f64() * 1000.0),
            reconnects: outcome.logs.iter().map(|l| u64::from(l.reconnects)).sum(),
            resent: outcome.logs.iter().map(|l| l.resent).sum(),
            unavailable: outcome.logs.iter().map(|l| l.unavailable).sum(),
            stalled: verdict.stalled,
            stalled_closed: verdict.stalled_closed,
        },
        clean,
    };
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        println!("result written to {}", path.display());
    }
    if let Some(path) = &args.plot {
        // A plot that cannot be drawn does not change the run's verdict.
        let title = format!("{}: {connected} connections", report.scenario);
        match crate::plot::draw(path, &title, &s.seconds) {
            Ok(()) => println!("plot written to {}", path.display()),
            Err(e) => println!("no plot: {e:#}"),
        }
    }
    if !sent_something {
        println!("no message was acknowledged");
    }
    println!("{}", if clean { "PASS" } else { "FAIL" });
    Ok(clean)
}

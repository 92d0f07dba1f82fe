//! broker-benchmark: a server counting events and a client sending batches of
//! them, after Broker's tool of the same name.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use broker_actors::{Endpoint, PeerStatus, Subscriber};
use broker_cli::events::EventType;
use broker_cli::net::{await_subscription, NetworkArgs};
use broker_cli::{finish, CliError, Interrupt, POLL_SLICE};
use broker_wire::{Data, Topic};
use clap::Parser;
use serde_json::json;

/// Topic the client publishes events on.
const EVENTS: &str = "/benchmark/events";
/// Topic the server publishes its received total on, once a second.
const STATS: &str = "/benchmark/stats";
/// Distinct events a client cycles through (building type 3 is costly).
const EVENT_POOL: u64 = 16;

/// Measures event throughput between a client and a server endpoint.
#[derive(Debug, Parser)]
#[command(name = "broker-benchmark", version)]
struct Args {
    /// Run the server: count received events and report totals to the client.
    #[arg(long)]
    server: bool,
    #[command(flatten)]
    network: NetworkArgs,
    /// Event type: 1 (small vector), 2 (conn.log record), 3 (large table).
    #[arg(short = 't', long, value_enum, default_value = "1")]
    event_type: EventType,
    /// Batches per second (0 = as fast as possible).
    #[arg(short = 'r', long, default_value_t = 1.0, value_name = "N")]
    batch_rate: f64,
    /// Events per batch.
    #[arg(short = 's', long, default_value_t = 1, value_name = "N")]
    batch_size: u64,
    /// Grow the batch size every this many seconds (0 = never).
    #[arg(short = 'i', long, default_value_t = 0.0, value_name = "SECONDS")]
    batch_size_increase_interval: f64,
    /// Events added to the batch size at each increase.
    #[arg(short = 'a', long, default_value_t = 0, value_name = "N")]
    batch_size_increase_amount: u64,
    /// Stop once the server received this many events.
    #[arg(short = 'm', long, value_name = "N")]
    max_received: Option<u64>,
    /// Client: pause sending while more events than this are unconfirmed by the server.
    #[arg(short = 'f', long, value_name = "N")]
    max_in_flight: Option<u64>,
    /// Client: stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Print peering statuses and extra detail.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Print one JSON object per second and a JSON summary.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.server && args.network.peers.is_empty() {
        clap::Command::new("broker-benchmark")
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "the client needs --peers HOST:PORT (or run --server)",
            )
            .exit();
    }
    let interrupt = Interrupt::install();
    finish("broker-benchmark", run(&args, &interrupt))
}

fn run(args: &Args, interrupt: &Interrupt) -> Result<(), CliError> {
    let endpoint = args.network.start_endpoint()?;
    let subscriber = endpoint.make_subscriber(
        vec![Topic::new(if args.server { EVENTS } else { STATS })],
        4096,
    );
    args.network.connect(&endpoint)?;
    let mut output = Output::new(args.json);
    let outcome = if args.server {
        serve(args, &endpoint, &subscriber, &mut output, interrupt)
    } else {
        send(args, &endpoint, &subscriber, &mut output, interrupt)
    };
    endpoint.shutdown();
    outcome
}

fn serve(
    args: &Args,
    endpoint: &Endpoint,
    events: &Subscriber,
    output: &mut Output,
    interrupt: &Interrupt,
) -> Result<(), CliError> {
    let stats = Topic::new(STATS);
    let max = args.max_received.unwrap_or(u64::MAX);
    let (mut received, mut last_received) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    let mut tick = Instant::now();
    while received < max && !interrupt.is_set() {
        let batch = events.get_n((max - received).min(4096) as usize, Some(POLL_SLICE));
        if !batch.is_empty() {
            first.get_or_insert_with(Instant::now);
            received += batch.len() as u64;
        }
        if tick.elapsed() >= Duration::from_secs(1) || received >= max {
            let rate = (received - last_received) as f64 / tick.elapsed().as_secs_f64();
            endpoint.publish(stats.clone(), Data::Count(received));
            output.tick(
                json!({ "received": received, "events_per_second": rate.round() }),
                &format!("{} events/s, {received} received", rate.round()),
            )?;
            (last_received, tick) = (received, Instant::now());
        }
    }
    let seconds = first.map_or(0.0, |t| t.elapsed().as_secs_f64());
    output.summary(
        json!({ "role": "server", "received": received, "seconds": seconds, "events_per_second": rate(received, seconds) }),
        &format!("received {received} events in {seconds:.3} s: {} events/s", rate(received, seconds).round()),
    )
}

fn send(
    args: &Args,
    endpoint: &Endpoint,
    stats: &Subscriber,
    output: &mut Output,
    interrupt: &Interrupt,
) -> Result<(), CliError> {
    let events = Topic::new(EVENTS);
    if !await_subscription(endpoint, &events, Duration::from_secs(10), interrupt) {
        eprintln!("broker-benchmark: no server subscribed to {EVENTS}; sending anyway");
    }
    let pool: Vec<Data> = (0..EVENT_POOL)
        .map(|seq| args.event_type.make(seq))
        .collect();
    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs_f64(s));
    let max_received = args.max_received.unwrap_or(u64::MAX);
    let batch_interval =
        (args.batch_rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.batch_rate));
    let (mut sent, mut confirmed, mut last_sent, mut last_confirmed, mut batches) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut batch_size = args.batch_size;
    let mut next_increase = started + Duration::from_secs_f64(args.batch_size_increase_interval);
    let mut tick = Instant::now();
    while confirmed < max_received
        && !interrupt.is_set()
        && deadline.is_none_or(|d| Instant::now() < d)
    {
        for (_, data) in stats.poll() {
            confirmed = data.as_count().unwrap_or(confirmed).max(confirmed);
        }
        let throttled = args
            .max_in_flight
            .is_some_and(|max| sent.saturating_sub(confirmed) > max);
        let due = batch_interval.map_or(started, |interval| {
            started + interval.mul_f64(batches as f64)
        });
        if throttled {
            for (_, data) in stats.get_n(1, Some(Duration::from_millis(10))) {
                confirmed = data.as_count().unwrap_or(confirmed).max(confirmed);
            }
        } else if Instant::now() < due {
            std::thread::sleep(
                due.saturating_duration_since(Instant::now())
                    .min(POLL_SLICE),
            );
        } else {
            let batch = (0..batch_size)
                .map(|i| {
                    (
                        events.clone(),
                        pool[((sent + i) % EVENT_POOL) as usize].clone(),
                    )
                })
                .collect();
            endpoint.publish_batch(batch);
            sent += batch_size;
            batches += 1;
        }
        if args.batch_size_increase_interval > 0.0 && Instant::now() >= next_increase {
            batch_size += args.batch_size_increase_amount;
            next_increase += Duration::from_secs_f64(args.batch_size_increase_interval);
        }
        if tick.elapsed() >= Duration::from_secs(1) {
            if !endpoint
                .peers()
                .iter()
                .any(|p| p.status == PeerStatus::Peered)
            {
                eprintln!("broker-benchmark: the server is gone");
                break;
            }
            let secs = tick.elapsed().as_secs_f64();
            let (send_rate, receive_rate) = (
                (sent - last_sent) as f64 / secs,
                (confirmed - last_confirmed) as f64 / secs,
            );
            let in_flight = sent.saturating_sub(confirmed);
            output.tick(
                json!({ "sent": sent, "confirmed": confirmed, "in_flight": in_flight, "batch_size": batch_size,
                        "sent_per_second": send_rate.round(), "received_per_second": receive_rate.round() }),
                &format!("sent {} ev/s, server {} ev/s, {in_flight} in flight, batch size {batch_size}", send_rate.round(), receive_rate.round()),
            )?;
            (last_sent, last_confirmed, tick) = (sent, confirmed, Instant::now());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if args.verbose {
        eprintln!("sent {batches} batches; last batch size {batch_size}");
    }
    output.summary(
        json!({ "role": "client", "event_type": args.event_type, "sent": sent, "confirmed": confirmed,
                "seconds": seconds, "events_per_second": rate(sent, seconds) }),
        &format!("sent {sent} events in {seconds:.3} s: {} events/s; server confirmed {confirmed}", rate(sent, seconds).round()),
    )
}

fn rate(events: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        events as f64 / seconds
    } else {
        0.0
    }
}

/// Once-a-second lines and the summary: JSON lines, a live line rewritten in place
/// on a terminal, or plain lines.
struct Output {
    json: bool,
    live: bool,
}

impl Output {
    fn new(json: bool) -> Self {
        Output {
            json,
            live: !json && std::io::stdout().is_terminal(),
        }
    }

    fn tick(&mut self, record: serde_json::Value, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        if self.json {
            writeln!(out, "{record}")?;
        } else if self.live {
            write!(out, "\r\x1b[K{text}")?;
        } else {
            writeln!(out, "{text}")?;
        }
        out.flush()?;
        Ok(())
    }

    fn summary(&mut self, record: serde_json::Value, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        if self.json {
            writeln!(out, "{}", json!({ "summary": record }))?;
        } else {
            writeln!(out, "{}{text}", if self.live { "\r\x1b[K" } else { "" })?;
        }
        out.flush()?;
        Ok(())
    }
}

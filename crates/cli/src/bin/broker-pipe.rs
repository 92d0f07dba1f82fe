//! broker-pipe: publishes stdin lines to a topic, or prints what a topic receives.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use broker_actors::Endpoint;
use broker_cli::json::{message_line, parse_line};
use broker_cli::net::{await_subscription, NetworkArgs};
use broker_cli::stats::RateReporter;
use broker_cli::{finish, CliError, Interrupt, POLL_SLICE};
use broker_wire::{Data, Topic};
use clap::{Parser, ValueEnum};

/// Publishes each line of stdin to a topic, or prints each message a topic receives.
#[derive(Debug, Parser)]
#[command(name = "broker-pipe", version)]
struct Args {
    /// Publish stdin, or print received messages on stdout.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Topic to publish on, or topic prefix to subscribe to.
    #[arg(long)]
    topic: String,
    #[command(flatten)]
    network: NetworkArgs,
    /// Stop after this many messages (published or received).
    #[arg(long, value_name = "N")]
    message_cap: Option<u64>,
    /// Print messages per second, once a second, instead of the messages.
    #[arg(long)]
    rate: bool,
    /// Publish: lines are JSON-encoded Broker values, or messages `{"topic": ...,
    /// "data": ...}` published on their own topic. Subscribe: print such messages.
    #[arg(long)]
    json: bool,
    /// WebSocket servers to talk to (`ws://` or `wss://` URLs, Broker's or Zeek's,
    /// comma-separated) as peers: subscribing there to the topic, or publishing to them.
    #[arg(long, value_delimiter = ',', value_name = "URL,...")]
    web_socket_peers: Vec<String>,
    /// Publish mode: wait at most this long for a peer subscribed to the topic.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    await_subscriber: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Publish,
    Subscribe,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let interrupt = Interrupt::install();
    finish("broker-pipe", run(&args, &interrupt))
}

fn run(args: &Args, interrupt: &Interrupt) -> Result<(), CliError> {
    let endpoint = args.network.start_endpoint()?;
    let count = Arc::new(AtomicU64::new(0));
    let json = args.json;
    let _rate = args.rate.then(|| {
        RateReporter::spawn(count.clone(), Duration::from_secs(1), move |rate| {
            if json {
                println!("{}", serde_json::json!({ "rate": rate.round() }));
            } else {
                println!("{}", rate.round());
            }
        })
    });
    let topic = Topic::new(args.topic.as_str());
    let outcome = match args.mode {
        Mode::Publish => publish(args, &endpoint, &topic, &count, interrupt),
        Mode::Subscribe => subscribe(args, &endpoint, &topic, &count, interrupt),
    };
    endpoint.shutdown();
    outcome
}

fn publish(
    args: &Args,
    endpoint: &Endpoint,
    topic: &Topic,
    count: &AtomicU64,
    interrupt: &Interrupt,
) -> Result<(), CliError> {
    args.network.connect(endpoint)?;
    connect_web_sockets(args, endpoint, vec![], vec![topic.clone()]);
    let wait = Duration::from_secs_f64(args.await_subscriber.max(0.0));
    if !wait.is_zero()
        && !await_subscription(endpoint, topic, wait, interrupt)
        && !interrupt.is_set()
    {
        eprintln!(
            "no peer subscribed to {topic} after {}s; publishing anyway",
            args.await_subscriber
        );
    }
    let lines = stdin_lines();
    let cap = args.message_cap.unwrap_or(u64::MAX);
    while count.load(Ordering::Relaxed) < cap && !interrupt.is_set() {
        let line = match lines.recv_timeout(POLL_SLICE) {
            Ok(line) => line?,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let (line_topic, data) = if args.json {
            match parse_line(&line) {
                Ok(message) => message,
                Err(e) => {
                    eprintln!("broker-pipe: skipping line: {e}");
                    continue;
                }
            }
        } else {
            (None, Data::string(line))
        };
        endpoint.publish(line_topic.unwrap_or_else(|| topic.clone()), data);
        count.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Connects to the WebSocket servers, subscribing there to `topics` and sending
/// them what is published on `send`. One that is not reachable yet is only
/// reported: it is retried in the background.
fn connect_web_sockets(args: &Args, endpoint: &Endpoint, topics: Vec<Topic>, send: Vec<Topic>) {
    let retry = args.network.retry_interval();
    for url in &args.web_socket_peers {
        match endpoint.web_socket_peer(url, topics.clone(), send.clone(), retry) {
            Ok(()) => eprintln!("connected to {url}"),
            Err(e) => eprintln!("{e}; retrying every {}s", args.network.retry),
        }
    }
}

/// Stdin's lines, read on a thread so the caller can notice signals meanwhile.
fn stdin_lines() -> mpsc::Receiver<std::io::Result<String>> {
    let (send, receive) = mpsc::sync_channel(1024);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn subscribe(
    args: &Args,
    endpoint: &Endpoint,
    topic: &Topic,
    count: &AtomicU64,
    interrupt: &Interrupt,
) -> Result<(), CliError> {
    let subscriber = endpoint.make_subscriber(vec![topic.clone()], 1024);
    args.network.connect(endpoint)?;
    connect_web_sockets(args, endpoint, vec![topic.clone()], vec![]);
    let cap = args.message_cap.unwrap_or(u64::MAX);
    while count.load(Ordering::Relaxed) < cap && !interrupt.is_set() {
        let Some(first) = subscriber.get(Some(POLL_SLICE)) else {
            continue;
        };
        // Locked per batch only: the rate reporter prints on stdout too.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let left = cap - count.load(Ordering::Relaxed);
        let rest = subscriber.get_n((left - 1).min(1024) as usize, Some(Duration::ZERO));
        for (topic, data) in std::iter::once(first).chain(rest) {
            count.fetch_add(1, Ordering::Relaxed);
            if args.rate {
                continue;
            }
            if args.json {
                match message_line(&topic, &data) {
                    Ok(line) => writeln!(out, "{line}")?,
                    Err(e) => eprintln!("broker-pipe: skipping message on {topic}: {e}"),
                }
            } else {
                writeln!(out, "{topic} {data}")?;
            }
        }
        out.flush()?;
    }
    Ok(())
}

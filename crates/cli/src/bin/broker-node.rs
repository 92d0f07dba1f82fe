//! broker-node: one endpoint per process, for multi-process topologies.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_actors::{Endpoint, Role, StatusEvent, Store, Subscriber};
use broker_cli::json::parse_line;
use broker_cli::net::{await_subscription, NetworkArgs};
use broker_cli::stats::{LatencySummary, RateReporter};
use broker_cli::stores::{
    attach_clone, attach_master, event_subscriber, print_events, Assignment, Backend,
};
use broker_cli::{finish, CliError, Interrupt, POLL_SLICE};
use broker_wire::{Data, Topic};
use clap::{ArgGroup, Parser, ValueEnum};

/// One endpoint for multi-process topologies: relays, answers or sends pings, or
/// replays a recorded message file; may host a data store's master or a clone.
#[derive(Debug, Parser)]
#[command(name = "broker-node", version)]
#[command(group(ArgGroup::new("role").args(["master", "clone"])))]
struct Args {
    /// What the node does.
    #[arg(long, value_enum, default_value = "relay")]
    mode: Mode,
    #[command(flatten)]
    network: NetworkArgs,
    /// Topics to subscribe to (relay), or whose `/ping` and `/pong` subtopics carry
    /// pings (the first one; ping, pong).
    #[arg(long, value_delimiter = ',', default_value = "/broker-node")]
    topics: Vec<String>,
    /// The node's name, in its output and its pings.
    #[arg(long, default_value = "node")]
    name: String,
    /// Print statuses on stderr and every message received on stdout.
    #[arg(long)]
    verbose: bool,
    /// Print messages per second received (relay, pong) or sent (generate) once a second.
    #[arg(long)]
    rate: bool,
    /// Ping mode: number of pings.
    #[arg(long, default_value_t = 10, value_name = "N")]
    num_pings: u64,
    /// Ping mode: pause between a pong and the next ping, in milliseconds.
    #[arg(long, default_value_t = 10, value_name = "MS")]
    ping_interval: u64,
    /// Ping mode: how long to wait for each pong, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    ping_timeout: u64,
    /// Generate mode: JSON lines `{"topic": ..., "data": ...}`, as `broker-pipe
    /// --mode subscribe --json` records them.
    #[arg(long, value_name = "FILE", required_if_eq("mode", "generate"))]
    generator_file: Option<PathBuf>,
    /// Generate mode: messages per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    send_rate: f64,
    /// Stop after this many messages received (relay, pong).
    #[arg(long, value_name = "N")]
    message_cap: Option<u64>,
    /// Print summaries as JSON.
    #[arg(long)]
    json: bool,
    /// Wait at most this long for a subscriber before pinging or generating, and for
    /// a peer holding the master before attaching a clone.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    await_subscriber: f64,
    /// Host data store NAME (with --master or --clone) and print its events.
    #[arg(long, value_name = "NAME", requires = "role")]
    store: Option<String>,
    /// Host the store's master.
    #[arg(long, requires = "store")]
    master: bool,
    /// Host a clone of the store; its master must be on a direct peer.
    #[arg(long, requires = "store")]
    clone: bool,
    /// The master's backend [default: memory].
    #[arg(long, value_enum, requires = "store", conflicts_with = "clone")]
    backend: Option<Backend>,
    /// The SQLite file of `--backend sqlite`.
    #[arg(
        long,
        value_name = "FILE",
        required_if_eq("backend", "sqlite"),
        conflicts_with = "clone"
    )]
    store_path: Option<PathBuf>,
    /// Write KEY=VALUE to the store once attached (repeatable). VALUE is a JSON value
    /// as `--json` writes them, or else a string.
    #[arg(long, value_name = "KEY=VALUE", requires = "store", value_parser = Assignment::parse)]
    put: Vec<Assignment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Relay,
    Ping,
    Pong,
    Generate,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let interrupt = Interrupt::install();
    finish("broker-node", run(&args, &interrupt))
}

fn run(args: &Args, interrupt: &Interrupt) -> Result<(), CliError> {
    let endpoint = args.network.start_endpoint()?;
    if args.verbose {
        print_statuses(&endpoint, &args.name, interrupt.clone());
    }
    if let Some(store) = &args.store {
        print_events(
            event_subscriber(&endpoint, store),
            &args.name,
            args.json,
            interrupt.clone(),
        );
    }
    let count = Arc::new(AtomicU64::new(0));
    let _rate = args.rate.then(|| {
        let name = args.name.clone();
        RateReporter::spawn(count.clone(), Duration::from_secs(1), move |rate| {
            println!("{name}: {} msgs/s", rate.round())
        })
    });
    let base = Topic::new(args.topics[0].as_str());
    let outcome = match args.mode {
        Mode::Relay => {
            let topics = args.topics.iter().map(|t| Topic::new(t.as_str())).collect();
            receive(args, &endpoint, topics, &count, interrupt, |_, _| {})
        }
        Mode::Pong => {
            let pong = &base / &Topic::new("pong");
            receive(
                args,
                &endpoint,
                vec![&base / &Topic::new("ping")],
                &count,
                interrupt,
                |_, data| {
                    endpoint.publish(pong.clone(), data);
                },
            )
        }
        Mode::Ping => ping(args, &endpoint, &base, interrupt),
        Mode::Generate => generate(args, &endpoint, &count, interrupt),
    };
    endpoint.shutdown();
    outcome
}

/// Prints statuses and errors on stderr until interrupted.
fn print_statuses(endpoint: &Endpoint, name: &str, interrupt: Interrupt) {
    let statuses = endpoint.make_status_subscriber(true);
    let name = name.to_owned();
    std::thread::spawn(move || {
        while !interrupt.is_set() {
            match statuses.get(Some(POLL_SLICE)) {
                Some(StatusEvent::Status(s)) => {
                    eprintln!("{name}: status {:?}: {}", s.code, s.message)
                }
                Some(StatusEvent::Error(e)) => {
                    eprintln!("{name}: error {:?}: {}", e.code, e.message)
                }
                None => {}
            }
        }
    });
}

/// Listens and peers, then attaches the store (if any) and makes the `--put` writes;
/// the store, to be kept while the node runs.
fn connect(args: &Args, endpoint: &Endpoint) -> Result<Option<Store>, CliError> {
    args.network.connect(endpoint)?;
    let Some(name) = &args.store else {
        return Ok(None);
    };
    let store = if args.master {
        let sqlite = (args.backend == Some(Backend::Sqlite))
            .then_some(args.store_path.as_ref())
            .flatten();
        attach_master(endpoint, name, sqlite)?
    } else {
        attach_clone(
            endpoint,
            name,
            Duration::from_secs_f64(args.await_subscriber),
        )?
    };
    let role = match store.role() {
        Role::Master => "master",
        Role::Clone => "clone",
    };
    eprintln!("attached {role} of store {name}");
    for write in &args.put {
        store.put(write.key.clone(), write.value.clone(), None);
    }
    if !store.await_idle(Duration::from_secs_f64(args.await_subscriber)) {
        eprintln!("{}: writes to {name} not confirmed yet", args.name);
    }
    Ok(Some(store))
}

/// Subscribes to `topics` and hands each message to `handle` until interrupted or
/// the message cap is reached.
fn receive(
    args: &Args,
    endpoint: &Endpoint,
    topics: Vec<Topic>,
    count: &AtomicU64,
    interrupt: &Interrupt,
    mut handle: impl FnMut(Topic, Data),
) -> Result<(), CliError> {
    let subscriber = endpoint.make_subscriber(topics, 1024);
    let _store = connect(args, endpoint)?;
    let cap = args.message_cap.unwrap_or(u64::MAX);
    while count.load(Ordering::Relaxed) < cap && !interrupt.is_set() {
        let Some((topic, data)) = subscriber.get(Some(POLL_SLICE)) else {
            continue;
        };
        count.fetch_add(1, Ordering::Relaxed);
        if args.verbose {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}: {topic} {data}", args.name)?;
            out.flush()?;
        }
        handle(topic, data);
    }
    Ok(())
}

fn ping(
    args: &Args,
    endpoint: &Endpoint,
    base: &Topic,
    interrupt: &Interrupt,
) -> Result<(), CliError> {
    let ping_topic = base / &Topic::new("ping");
    let pongs = endpoint.make_subscriber(vec![base / &Topic::new("pong")], 64);
    let _store = connect(args, endpoint)?;
    if !await_subscription(
        endpoint,
        &ping_topic,
        Duration::from_secs_f64(args.await_subscriber),
        interrupt,
    ) {
        eprintln!(
            "{}: no pong node subscribed to {ping_topic}; pinging anyway",
            args.name
        );
    }
    let timeout = Duration::from_millis(args.ping_timeout);
    let mut rtts = Vec::new();
    for seq in 0..args.num_pings {
        if interrupt.is_set() {
            break;
        }
        let sent = Instant::now();
        endpoint.publish(
            ping_topic.clone(),
            Data::Vector(vec![Data::string(args.name.as_str()), Data::Count(seq)]),
        );
        if let Some(rtt) = await_pong(&pongs, &args.name, seq, sent, timeout) {
            if args.verbose {
                println!("{}: pong {seq} after {} us", args.name, rtt.as_micros());
            }
            rtts.push(rtt);
        }
        std::thread::sleep(Duration::from_millis(args.ping_interval));
    }
    let summary = LatencySummary::of(&rtts);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "name": args.name, "pings": args.num_pings, "pongs": rtts.len(), "rtt": summary })
        );
    } else {
        let rtt = summary.map_or_else(|| "no round trips".to_owned(), |s| s.to_string());
        println!(
            "{}: {} pings, {} pongs; round trip: {rtt}",
            args.name,
            args.num_pings,
            rtts.len()
        );
    }
    Ok(())
}

/// Waits at most `timeout` for the pong to ping `seq` of `name`, sent at `sent`;
/// its round-trip time.
fn await_pong(
    pongs: &Subscriber,
    name: &str,
    seq: u64,
    sent: Instant,
    timeout: Duration,
) -> Option<Duration> {
    let deadline = sent + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let (_, data) = pongs.get(Some(left))?;
        if let Some([from, Data::Count(n)]) = data.as_vector().map(Vec::as_slice) {
            if from.as_str() == Some(name) && *n == seq {
                return Some(sent.elapsed());
            }
        }
    }
}

fn generate(
    args: &Args,
    endpoint: &Endpoint,
    count: &AtomicU64,
    interrupt: &Interrupt,
) -> Result<(), CliError> {
    let path = args
        .generator_file
        .as_ref()
        .expect("clap requires --generator-file in generate mode");
    let messages = read_recording(path)?;
    let _store = connect(args, endpoint)?;
    if let Some((topic, _)) = messages.first() {
        if !await_subscription(
            endpoint,
            topic,
            Duration::from_secs_f64(args.await_subscriber),
            interrupt,
        ) {
            eprintln!(
                "{}: no peer subscribed to {topic}; sending anyway",
                args.name
            );
        }
    }
    let started = Instant::now();
    for (i, (topic, data)) in messages.into_iter().enumerate() {
        if interrupt.is_set() {
            break;
        }
        if args.send_rate > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / args.send_rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        endpoint.publish(topic, data);
        count.fetch_add(1, Ordering::Relaxed);
    }
    let sent = count.load(Ordering::Relaxed);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "name": args.name, "sent": sent, "seconds": started.elapsed().as_secs_f64() })
        );
    } else {
        println!(
            "{}: sent {sent} messages in {:.3} s",
            args.name,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Reads a recording: one JSON object `{"topic": ..., "data": ...}` per line.
fn read_recording(path: &PathBuf) -> Result<Vec<(Topic, Data)>, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError::file(path, e))?;
    let mut messages = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| CliError::file(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let at_line = |reason: String| CliError::Json {
            input: format!("{}:{}", path.display(), number + 1),
            reason,
        };
        match parse_line(&line).map_err(|e| at_line(e.to_string()))? {
            (Some(topic), data) => messages.push((topic, data)),
            (None, _) => {
                return Err(at_line(
                    "expected a data message {\"type\":\"data-message\",\"topic\":...,\"@data-type\":...,\"data\":...}".into(),
                ))
            }
        }
    }
    Ok(messages)
}

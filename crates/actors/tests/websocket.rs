//! The WebSocket server with tokio-tungstenite as the client: the v1 handshake, data
//! both ways, no echo, and the statuses. The Python tests drive it with a client
//! library from PyPI and cover the error cases and slow clients.

use std::time::Duration;

use broker_actors::{Config, Endpoint, StatusCode, StatusEvent};
use broker_wire::{Data, Topic};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, WebSocketStream};

const WAIT: Option<Duration> = Some(Duration::from_secs(5));

type Client = WebSocketStream<TcpStream>;

fn endpoint() -> Endpoint {
    Endpoint::new(Config {
        disable_ssl: true,
        ..Config::default()
    })
    .unwrap()
}

async fn connect(port: u16, subscriptions: &str) -> (Client, String) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    let (mut client, _) = client_async(url, tcp).await.unwrap();
    client.send(Message::text(subscriptions)).await.unwrap();
    let ack = next_text(&mut client).await;
    (client, ack)
}

async fn next_text(client: &mut Client) -> String {
    let next = tokio::time::timeout(WAIT.unwrap(), client.next()).await;
    match next.expect("a message in time").unwrap().unwrap() {
        Message::Text(text) => text.to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

fn data_message(topic: &str, count: u64) -> String {
    format!(r#"{{"type":"data-message","topic":"{topic}","@data-type":"count","data":{count}}}"#)
}

#[test]
fn a_client_is_a_peer_that_never_hears_itself() {
    let ep = endpoint();
    let statuses = ep.make_status_subscriber(true);
    let port = ep.web_socket_listen("127.0.0.1", 0).unwrap();
    let sub = ep.make_subscriber(vec![Topic::from("/a")], 0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut client, ack) = runtime.block_on(connect(port, r#"["/a"]"#));
    assert_eq!(
        ack,
        format!(
            r#"{{"type":"ack","endpoint":"{}","version":"{}"}}"#,
            ep.node_id(),
            env!("CARGO_PKG_VERSION")
        )
    );
    let Some(StatusEvent::Status(added)) = statuses.get(WAIT) else {
        panic!("no PeerAdded");
    };
    assert_eq!(added.code, StatusCode::PeerAdded);
    assert!(added.message.contains("web-socket"), "{}", added.message);

    // The client's publications reach local subscribers, but not the client.
    runtime.block_on(async {
        client
            .send(Message::text(data_message("/a/own", 1)))
            .await
            .unwrap();
    });
    assert_eq!(sub.get(WAIT), Some((Topic::from("/a/own"), Data::Count(1))));
    // What is published here reaches the client, if it matches its subscription.
    ep.publish(Topic::from("/b/other"), Data::Count(2));
    ep.publish(Topic::from("/a/x"), Data::Count(3));
    let text = runtime.block_on(next_text(&mut client));
    assert_eq!(text, data_message("/a/x", 3));

    runtime.block_on(async { client.close(None).await.unwrap() });
    let Some(StatusEvent::Status(lost)) = statuses.get(WAIT) else {
        panic!("no PeerLost");
    };
    assert_eq!(lost.code, StatusCode::PeerLost);
    assert_eq!(lost.context, added.context);
}

#[test]
fn malformed_input_gets_an_error_and_the_connection_stays() {
    let ep = endpoint();
    let port = ep.web_socket_listen("127.0.0.1", 0).unwrap();
    let sub = ep.make_subscriber(vec![Topic::from("/c")], 0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut client, _) = connect(port, r#"[""]"#).await;
        let unknown = r#"{"topic":"/test","@data-type":"phone","data":"555-0123"}"#;
        for (input, context) in [
            ("{", "input #1 contained malformed JSON -> "),
            ("[1]", "input #2 expected a JSON object"),
            (unknown, "input #3 contained invalid data -> "),
        ] {
            client.send(Message::text(input)).await.unwrap();
            let text = next_text(&mut client).await;
            let prefix =
                format!(r#"{{"type":"error","code":"deserialization_failed","context":"{context}"#);
            assert!(text.starts_with(&prefix), "{text}");
        }
        // Still connected: its next message is published.
        client
            .send(Message::text(data_message("/c", 4)))
            .await
            .unwrap();
    });
    assert_eq!(sub.get(WAIT), Some((Topic::from("/c"), Data::Count(4))));
}

#[test]
fn our_client_against_our_server_exchanges_messages_like_a_peer() {
    let (server, client) = (endpoint(), endpoint());
    let port = server.web_socket_listen("127.0.0.1", 0).unwrap();
    let at_server = server.make_subscriber(vec![Topic::from("/up")], 0);
    let at_client = client.make_subscriber(vec![Topic::from("/down")], 0);
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    client
        .web_socket_peer(
            &url,
            vec![Topic::from("/down")],
            vec![Topic::from("/up")],
            None,
        )
        .unwrap();
    // Published right after the call returns, both ways.
    client.publish(Topic::from("/up/1"), Data::Count(1));
    client.publish(Topic::from("/elsewhere"), Data::Count(0));
    assert_eq!(
        at_server.get(WAIT),
        Some((Topic::from("/up/1"), Data::Count(1)))
    );
    server.publish(Topic::from("/down/2"), Data::Count(2));
    assert_eq!(
        at_client.get(WAIT),
        Some((Topic::from("/down/2"), Data::Count(2)))
    );
    assert!(
        at_server.poll().is_empty(),
        "only what matches `send` goes up"
    );

    assert!(client.web_socket_unpeer(&url));
    assert!(!client.web_socket_unpeer(&url));
}

#[test]
fn a_server_that_is_not_there_fails_the_first_attempt() {
    let ep = endpoint();
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/v1/messages/json");
    let error = ep.web_socket_peer(&url, vec![], vec![], None).unwrap_err();
    assert!(error.to_string().contains(&url), "{error}");
    let error = ep
        .web_socket_peer("http://127.0.0.1:1/", vec![], vec![], None)
        .unwrap_err();
    assert!(
        error.to_string().contains("not a ws:// or wss:// URL"),
        "{error}"
    );
}

#[test]
fn an_oversized_message_gets_close_1009_even_while_the_client_still_sends() {
    let ep = Endpoint::new(Config {
        disable_ssl: true,
        max_frame_len: 4096,
        ..Config::default()
    })
    .unwrap();
    let port = ep.web_socket_listen("127.0.0.1", 0).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut client, _) = connect(port, "[]").await;
        // Far beyond the socket buffers: the server refuses it after the header.
        let huge = format!(
            r#"{{"topic":"/x","@data-type":"string","data":"{}"}}"#,
            "x".repeat(32 << 20)
        );
        client.send(Message::text(huge)).await.unwrap();
        let next = tokio::time::timeout(WAIT.unwrap(), client.next())
            .await
            .unwrap();
        match next {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1009),
            other => panic!("expected close 1009, got {other:?}"),
        }
    });
}

#[test]
fn the_configuration_can_serve_from_the_start() {
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let config = Config {
        disable_ssl: true,
        web_socket_port: Some(port),
        web_socket_address: "127.0.0.1".into(),
        ..Config::default()
    };
    let ep = Endpoint::new(config.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_client, ack) = runtime.block_on(connect(port, "[]"));
    assert!(ack.contains(&ep.node_id().to_string()), "{ack}");
    // The port is taken: a second endpoint fails to start.
    assert!(Endpoint::new(config).is_err());
}

#[test]
fn clients_are_local_even_where_the_endpoint_does_not_forward() {
    let server = Endpoint::new(Config {
        disable_ssl: true,
        forward: false,
        ..Config::default()
    })
    .unwrap();
    let other = endpoint();
    let at_other = other.make_subscriber(vec![Topic::from("/f/up")], 0);
    let port = server.listen("127.0.0.1", 0).unwrap();
    other.peer("127.0.0.1", port, None).unwrap();
    let ws_port = server.web_socket_listen("127.0.0.1", 0).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut client, _) = runtime.block_on(connect(ws_port, r#"["/f/down"]"#));
    // The client's subscription joined the server's filter, so the peer sends to it.
    assert!(other.await_peer_subscription(&Topic::from("/f/down/1"), WAIT.unwrap()));
    other.publish(Topic::from("/f/down/1"), Data::Count(1));
    assert_eq!(
        runtime.block_on(next_text(&mut client)),
        data_message("/f/down/1", 1)
    );
    assert!(server.await_peer_subscription(&Topic::from("/f/up/2"), WAIT.unwrap()));
    runtime.block_on(async {
        client
            .send(Message::text(data_message("/f/up/2", 2)))
            .await
            .unwrap();
    });
    assert_eq!(
        at_other.get(WAIT),
        Some((Topic::from("/f/up/2"), Data::Count(2)))
    );
}

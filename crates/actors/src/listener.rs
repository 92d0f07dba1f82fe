//! The listener actor: accepts connections on one socket and runs each handshake
//! concurrently, bounded by the handshake timeout, so idle or half-open connections
//! cannot pile up. Established connections go to the core.

use std::sync::Arc;

use actix::prelude::*;
use tokio::net::TcpListener;

use crate::connection::{open, ConnectError, Peerings, Side};
use crate::core::{Core, HandshakeFailed, Handshaken};
use crate::info::NetworkInfo;
use crate::routing::Shared;

/// Stop accepting.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopListening;

/// Accepts peers on one socket.
pub(crate) struct Listener {
    shared: Arc<Shared>,
    peerings: Arc<Peerings>,
    core: Addr<Core>,
    socket: Option<TcpListener>,
}

impl Listener {
    /// A listener on a bound socket.
    pub(crate) fn new(
        shared: Arc<Shared>,
        peerings: Arc<Peerings>,
        core: Addr<Core>,
        socket: TcpListener,
    ) -> Self {
        Listener {
            shared,
            peerings,
            core,
            socket: Some(socket),
        }
    }
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let socket = self
            .socket
            .take()
            .expect("the socket is taken once, at start");
        let shared = self.shared.clone();
        let peerings = self.peerings.clone();
        let core = self.core.clone();
        let accept_loop = async move {
            loop {
                let (stream, network) = accept(&socket).await;
                let opening = crate::core::opening(&shared, &peerings);
                let sent_filter = opening.hello.filter.clone();
                let opening = open(stream, Side::Inbound, network.clone(), opening);
                let core = core.clone();
                actix::spawn(async move {
                    match opening.await {
                        Ok(established) => core.do_send(Handshaken {
                            established,
                            sent_filter,
                            outbound: None,
                        }),
                        Err(error) => core.do_send(HandshakeFailed {
                            network,
                            outbound: None,
                            error,
                        }),
                    }
                });
            }
        };
        ctx.spawn(accept_loop.into_actor(self));
    }
}

impl Handler<StopListening> for Listener {
    type Result = ();

    fn handle(&mut self, _: StopListening, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Whether a failed inbound handshake is worth a status: a port scan or a client
/// that connects and leaves (over plaintext or under TLS) is not.
pub(crate) fn worth_reporting(error: &ConnectError) -> bool {
    !matches!(
        error,
        ConnectError::Invalid(broker_wire::WireError::Io(_))
            | ConnectError::Tls(crate::tls::TlsError::Closed(_))
            | ConnectError::Redundant(_)
    )
}

/// The next connection on `socket` and where it comes from. Accept errors (out of
/// descriptors and the like) back off instead of spinning.
pub(crate) async fn accept(
    socket: &tokio::net::TcpListener,
) -> (tokio::net::TcpStream, NetworkInfo) {
    loop {
        match socket.accept().await {
            Ok((stream, remote)) => {
                let network = NetworkInfo {
                    address: remote.ip().to_string(),
                    port: remote.port(),
                };
                return (stream, network);
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

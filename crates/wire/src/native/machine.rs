//! [`HandshakeMachine`]: Broker's connection handshake (phases 1–2) without I/O. It
//! takes the frames a connection receives and returns the messages to send and what
//! the caller must do next, so the actors can drive it over any stream.
//!
//! The TCP connector starts with hello, the acceptor with probe. Whoever has the
//! smaller endpoint id (bytewise) becomes the originator: it sends version_select and
//! originator_syn, the responder answers responder_syn_ack, the originator ends with
//! originator_ack; each side then knows the other's filter and phase 3 starts on the
//! same stream.
//!
//! Peer status lives outside: on becoming originator or responder the machine asks
//! ([`Next::Reserve`]) and the caller answers with [`HandshakeMachine::reserved`],
//! which settles redundant connections as Broker does. Only the originator resolves
//! them: a second connection to a peer being connected is parked ([`Next::Parked`])
//! and refused with drop_conn 39 when the first one is established
//! ([`HandshakeMachine::drop_redundant`]); to a peer already connected it is refused at
//! once. A responder that finds the peer taken refuses with drop_conn 40.
//!
//! Errors: bytes that fail to decode are answered with drop_conn carrying Broker's
//! code (38 wrong magic, 2 unsupported versions, 20 anything else); a valid message in
//! the wrong state closes the connection without one, as Broker does.

#[cfg(doc)]
use super::codes::BROKER_RS_VERSION;
use super::codes::{MessageType, PROTOCOL_VERSION};
use super::error::NativeError;
use super::handshake::{DropConn, Handshake, Hello};
use super::ids::EndpointId;
use crate::codes::ErrorCode;
use crate::topic::Topic;

/// Which end of the TCP connection this machine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Called `connect()`: starts with hello.
    Connector,
    /// Accepted the connection: starts with probe.
    Acceptor,
}

/// What the caller found when reserving the peer's status for this handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The peer was unknown or disconnected; it is now connecting through this
    /// connection (the caller must release it if the handshake fails).
    Granted,
    /// Another connection's handshake with this peer is under way.
    Pending,
    /// The peer is already connected or peered.
    Connected,
    /// The endpoint is shutting down.
    ShuttingDown,
}

/// What the caller must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send the messages, then feed the next frame.
    Continue,
    /// Reserve `peer`'s status and answer with [`HandshakeMachine::reserved`].
    Reserve {
        /// The peer.
        peer: EndpointId,
        /// Whether this side is the originator.
        originator: bool,
    },
    /// Keep the connection open but read nothing more; once the pending handshake with
    /// `peer` ends, call [`HandshakeMachine::drop_redundant`].
    Parked {
        /// The peer.
        peer: EndpointId,
    },
    /// Phase 3 starts with the next frame. The originator then refuses the
    /// connections it parked for this peer.
    Established {
        /// The peer.
        peer: EndpointId,
        /// The peer's subscription filter.
        filter: Vec<Topic>,
        /// Whether this side was the originator.
        originator: bool,
        /// The protocol version selected: [`PROTOCOL_VERSION`] with a Broker, or
        /// [`BROKER_RS_VERSION`] when both ends offered it.
        version: u8,
    },
    /// Send the messages, then close the connection.
    Closed(Closed),
}

/// Why a handshake ended without a peering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// We refused a redundant connection to `peer` (benign).
    Redundant {
        /// The peer.
        peer: EndpointId,
    },
    /// The peer refused the connection. Code 39 is benign if the caller has `peer`
    /// connecting, connected or peered; otherwise it is an error worth a retry.
    DroppedByPeer(DropConn),
    /// The handshake failed.
    Failed {
        /// Why.
        error: HandshakeError,
        /// The peer whose status this connection reserved: the caller releases it.
        release: Option<EndpointId>,
    },
}

/// How a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The peer sent bytes that do not decode (answered with drop_conn).
    #[error("invalid handshake message: {0}")]
    Decode(#[from] NativeError),
    /// The peer sent a valid message this state does not expect.
    #[error("unexpected {got:?} in state {state}")]
    Unexpected {
        /// The state.
        state: &'static str,
        /// The message type received.
        got: MessageType,
    },
    /// The caller fed a frame or answer the machine was not waiting for.
    #[error("{0} while the handshake is not reading")]
    NotReading(&'static str),
    /// Another connection to the peer exists and we are the responder (drop_conn 40).
    #[error("redundant connection detected at the responder")]
    RedundantAtResponder,
    /// The endpoint is shutting down (drop_conn 28).
    #[error("shutting down")]
    ShuttingDown,
}

/// The messages to send and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// To send, in order, before acting on `next`.
    pub send: Vec<Handshake>,
    /// What the caller must do.
    pub next: Next,
}

impl Step {
    fn new(send: Vec<Handshake>, next: Next) -> Self {
        Step { send, next }
    }

    fn fail(send: Vec<Handshake>, error: HandshakeError, release: Option<EndpointId>) -> Self {
        Step::new(send, Next::Closed(Closed::Failed { error, release }))
    }
}

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Connector, after its hello.
    AwaitHelloOrVersionSelect,
    /// Acceptor, after its probe.
    AwaitHello,
    /// After answering a hello with ours: the peer is the originator.
    AwaitVersionSelect,
    /// Waiting for the caller's [`Reservation`].
    Reserving { originator: bool },
    /// Responder.
    AwaitOriginatorSyn,
    /// Originator.
    AwaitResponderSynAck,
    /// Responder.
    AwaitOriginatorAck,
    /// A redundant connection held until the caller refuses it.
    Parked,
    /// Established, closed or failed: nothing more to do.
    Done,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::AwaitHelloOrVersionSelect => "await hello or version_select",
            State::AwaitHello => "await hello",
            State::AwaitVersionSelect => "await version_select",
            State::Reserving { .. } => "reserving",
            State::AwaitOriginatorSyn => "await originator_syn",
            State::AwaitResponderSynAck => "await responder_syn_ack",
            State::AwaitOriginatorAck => "await originator_ack",
            State::Parked => "parked",
            State::Done => "done",
        }
    }
}

/// One connection's handshake; see the module docs.
#[derive(Debug, Clone)]
pub struct HandshakeMachine {
    own: EndpointId,
    filter: Vec<Topic>,
    state: State,
    /// The peer, once known from its hello or version_select.
    peer: Option<EndpointId>,
    /// The responder's copy of the originator's filter, until originator_ack.
    peer_filter: Option<Vec<Topic>>,
    /// Whether this connection holds the peer's status reservation, until the
    /// handshake ends.
    reserved: bool,
    /// The highest version our hello offers.
    max_version: u8,
    /// The version the originator selects, or the responder was told.
    version: u8,
}

impl HandshakeMachine {
    /// A machine for endpoint `own` subscribed to `filter`, and the message it opens
    /// with (hello as connector, probe as acceptor).
    pub fn start(role: Role, own: EndpointId, filter: Vec<Topic>) -> (Self, Handshake) {
        Self::offering(role, own, filter, PROTOCOL_VERSION)
    }

    /// Like [`start`](Self::start), but our hellos offer every version from
    /// [`PROTOCOL_VERSION`] to `max_version`. As originator we select `max_version` if
    /// the peer's hello offers exactly the same maximum, and [`PROTOCOL_VERSION`]
    /// otherwise; as responder we accept either. broker-rs offers
    /// [`BROKER_RS_VERSION`] this way: two broker-rs endpoints select it, a Broker
    /// (whose hello offers only version 1, and which accepts any range holding 1)
    /// gets version 1.
    pub fn offering(
        role: Role,
        own: EndpointId,
        filter: Vec<Topic>,
        max_version: u8,
    ) -> (Self, Handshake) {
        let max_version = max_version.max(PROTOCOL_VERSION);
        let hello = Hello {
            sender: own,
            min_version: PROTOCOL_VERSION,
            max_version,
        };
        let (state, first) = match role {
            Role::Connector => (State::AwaitHelloOrVersionSelect, Handshake::Hello(hello)),
            Role::Acceptor => (State::AwaitHello, Handshake::Probe),
        };
        let machine = HandshakeMachine {
            own,
            filter,
            state,
            peer: None,
            peer_filter: None,
            reserved: false,
            max_version,
            version: PROTOCOL_VERSION,
        };
        (machine, first)
    }

    /// Feeds one frame body. Bytes that do not decode are answered with drop_conn.
    pub fn receive(&mut self, body: &[u8]) -> Step {
        if !self.reading() {
            return self.not_reading("a frame");
        }
        match Handshake::decode(body) {
            Ok(message) => self.handle(message),
            // Broker closes on an empty frame before decoding it.
            Err(NativeError::EmptyFrame) => self.fail(vec![], NativeError::EmptyFrame.into()),
            Err(error) => {
                let drop = self.drop_conn_raw(error.ec() as u8, error.description());
                self.fail(vec![drop], error.into())
            }
        }
    }

    /// Feeds one decoded message.
    pub fn handle(&mut self, message: Handshake) -> Step {
        if !self.reading() {
            return self.not_reading("a message");
        }
        if let Err(error) = message.check() {
            let drop = self.drop_conn_raw(error.ec() as u8, error.description());
            return self.fail(vec![drop], error.into());
        }
        match (self.state, message) {
            (State::AwaitHelloOrVersionSelect | State::AwaitHello, Handshake::Hello(hello)) => {
                self.on_hello(hello)
            }
            (
                State::AwaitHelloOrVersionSelect | State::AwaitVersionSelect,
                Handshake::VersionSelect { sender, version },
            ) => {
                if version != PROTOCOL_VERSION && version != self.max_version {
                    let error = NativeError::UnsupportedVersionSelected(version);
                    let drop = self.drop_conn_raw(error.ec() as u8, error.description());
                    return self.fail(vec![drop], error.into());
                }
                self.version = version;
                self.reserve(sender, false)
            }
            (
                State::AwaitHelloOrVersionSelect | State::AwaitHello | State::AwaitVersionSelect,
                Handshake::Probe,
            ) => Step::new(vec![], Next::Continue),
            (
                State::AwaitHelloOrVersionSelect | State::AwaitHello | State::AwaitVersionSelect,
                Handshake::DropConn(drop),
            ) => {
                self.state = State::Done;
                Step::new(vec![], Next::Closed(Closed::DroppedByPeer(drop)))
            }
            (State::AwaitOriginatorSyn, Handshake::OriginatorSyn(filter)) => {
                self.state = State::AwaitOriginatorAck;
                let answer = Handshake::ResponderSynAck(self.filter.clone());
                self.peer_filter = Some(filter);
                Step::new(vec![answer], Next::Continue)
            }
            (State::AwaitResponderSynAck, Handshake::ResponderSynAck(filter)) => {
                self.established(vec![Handshake::OriginatorAck], filter, true)
            }
            (State::AwaitOriginatorAck, Handshake::OriginatorAck) => {
                let filter = self.peer_filter.take().unwrap_or_default();
                self.established(vec![], filter, false)
            }
            (state, message) => {
                let error = HandshakeError::Unexpected {
                    state: state.name(),
                    got: message.message_type(),
                };
                self.fail(vec![], error)
            }
        }
    }

    /// The caller's answer to [`Next::Reserve`].
    pub fn reserved(&mut self, reservation: Reservation) -> Step {
        let State::Reserving { originator } = self.state else {
            return self.not_reading("a reservation");
        };
        let peer = self.peer.unwrap_or_default();
        match (reservation, originator) {
            (Reservation::Granted, true) => {
                self.reserved = true;
                self.state = State::AwaitResponderSynAck;
                let select = Handshake::VersionSelect {
                    sender: self.own,
                    version: self.version,
                };
                let syn = Handshake::OriginatorSyn(self.filter.clone());
                Step::new(vec![select, syn], Next::Continue)
            }
            (Reservation::Granted, false) => {
                self.reserved = true;
                self.state = State::AwaitOriginatorSyn;
                Step::new(vec![], Next::Continue)
            }
            (Reservation::Pending, true) => {
                self.state = State::Parked;
                Step::new(vec![], Next::Parked { peer })
            }
            (Reservation::Connected, true) => self.refuse_redundant(),
            (Reservation::Pending | Reservation::Connected, false) => {
                let drop = self.drop_conn(
                    ErrorCode::LogicError,
                    "detected redundant connection at the responder",
                );
                self.fail(vec![drop], HandshakeError::RedundantAtResponder)
            }
            (Reservation::ShuttingDown, _) => {
                let drop = self.drop_conn(ErrorCode::ShuttingDown, "shutting down");
                self.fail(vec![drop], HandshakeError::ShuttingDown)
            }
        }
    }

    /// Refuses a parked connection once the handshake it waited for has ended.
    pub fn drop_redundant(&mut self) -> Step {
        if self.state != State::Parked {
            return self.not_reading("drop_redundant");
        }
        self.refuse_redundant()
    }

    /// The peer, once known.
    pub fn peer(&self) -> Option<EndpointId> {
        self.peer
    }

    fn reading(&self) -> bool {
        !matches!(
            self.state,
            State::Reserving { .. } | State::Parked | State::Done
        )
    }

    fn on_hello(&mut self, hello: Hello) -> Step {
        if self.own < hello.sender {
            if hello.max_version == self.max_version {
                self.version = self.max_version;
            }
            return self.reserve(hello.sender, true);
        }
        self.state = State::AwaitVersionSelect;
        let ours = Hello {
            sender: self.own,
            min_version: PROTOCOL_VERSION,
            max_version: self.max_version,
        };
        Step::new(vec![Handshake::Hello(ours)], Next::Continue)
    }

    fn reserve(&mut self, peer: EndpointId, originator: bool) -> Step {
        self.peer = Some(peer);
        self.state = State::Reserving { originator };
        Step::new(vec![], Next::Reserve { peer, originator })
    }

    fn refuse_redundant(&mut self) -> Step {
        self.state = State::Done;
        let peer = self.peer.unwrap_or_default();
        let drop = self.drop_conn(ErrorCode::RedundantConnection, "redundant connection");
        Step::new(vec![drop], Next::Closed(Closed::Redundant { peer }))
    }

    fn established(&mut self, send: Vec<Handshake>, filter: Vec<Topic>, originator: bool) -> Step {
        self.state = State::Done;
        // The reservation became the peering; the caller owns it now.
        self.reserved = false;
        let peer = self.peer.unwrap_or_default();
        let next = Next::Established {
            peer,
            filter,
            originator,
            version: self.version,
        };
        Step::new(send, next)
    }

    fn fail(&mut self, send: Vec<Handshake>, error: HandshakeError) -> Step {
        self.state = State::Done;
        let release = self.reserved.then_some(self.peer).flatten();
        self.reserved = false;
        Step::fail(send, error, release)
    }

    /// Feeding a machine that is not reading is the caller's bug; it ends the
    /// handshake (as Broker does on reading in a final state).
    fn not_reading(&mut self, what: &'static str) -> Step {
        self.fail(vec![], HandshakeError::NotReading(what))
    }

    fn drop_conn(&self, code: ErrorCode, description: &str) -> Handshake {
        self.drop_conn_raw(code.code(), description.to_owned())
    }

    fn drop_conn_raw(&self, code: u8, description: String) -> Handshake {
        Handshake::DropConn(DropConn {
            sender: self.own,
            code,
            description,
        })
    }
}

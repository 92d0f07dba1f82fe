//! The numbers only Broker's native protocol puts on the wire, each defined once: the
//! magic number, the protocol version, the message types, the tags of `data` and the
//! indices of store commands.
//!
//! Codes Broker shares with its API live in the crate-wide tables of
//! [`crate::codes`]: a `drop_conn` carries an [`ErrorCode`](crate::codes::ErrorCode), a
//! port's protocol byte is a [`Protocol`](crate::codes::Protocol). [`DataTag`] is not
//! [`DataType`](crate::codes::DataType): the wire's `variant_tag` numbers the kinds in
//! declaration order, `broker.Data.Type` alphabetically.

/// Opens every handshake message but `originator_syn`/`responder_syn_ack`/
/// `originator_ack`: "ZEEK".
pub const MAGIC: u32 = 0x5A45_454B;

/// The only protocol version Broker 2.3 through 2.8 (Zeek 5.0 – 8.x) offers and accepts.
pub const PROTOCOL_VERSION: u8 = 1;

/// The private version two broker-rs endpoints select inside Broker's handshake: after
/// it, the connection speaks broker-rs's own frames (`crate::frame`, version
/// [`crate::frame::PROTOCOL_VERSION`], which this number follows so that broker-rs
/// endpoints of different frame versions meet on version 1 instead of failing). Our
/// hello offers `1..=BROKER_RS_VERSION`; a Broker accepts any range holding 1 and
/// selects 1. Far above Broker's version so that a future Broker selecting the highest
/// common version would not meet it soon.
pub const BROKER_RS_VERSION: u8 = 0xF0 + crate::frame::PROTOCOL_VERSION as u8;

/// Declares a `u8` enum with explicit discriminants and its checked conversion from a
/// byte, which returns the unknown byte as the error.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $value,)*
        }

        impl TryFrom<u8> for $name {
            type Error = u8;

            fn try_from(byte: u8) -> Result<Self, u8> {
                match byte {
                    $($value => Ok($name::$variant),)*
                    other => Err(other),
                }
            }
        }
    };
}

wire_enum! {
    /// Broker's `p2p_message_type`: the first byte of a handshake body (6–12) and the
    /// type byte of a phase-3 envelope (1–5).
    pub enum MessageType {
        /// Envelope: one `data` value published on a topic.
        Data = 1,
        /// Envelope: a store `internal_command`.
        Command = 2,
        /// Envelope: the sender's new subscription filter.
        RoutingUpdate = 3,
        /// Envelope: the receiver answers with a pong of the same payload.
        Ping = 4,
        /// Envelope: the answer to a ping.
        Pong = 5,
        /// Handshake: identifies the sender and its version range.
        Hello = 6,
        /// Handshake: sent by the acceptor right after accepting.
        Probe = 7,
        /// Handshake: the originator picks the version.
        VersionSelect = 8,
        /// Handshake: the sender refuses the connection and closes it.
        DropConn = 9,
        /// Handshake: the originator's filter.
        OriginatorSyn = 10,
        /// Handshake: the responder's filter.
        ResponderSynAck = 11,
        /// Handshake: the last message; phase 3 follows.
        OriginatorAck = 12,
    }
}

wire_enum! {
    /// The tag byte in front of every encoded `data` value (Broker's `variant_tag`), also
    /// the `init_type` of an `add` command.
    pub enum DataTag {
        /// `none`.
        None = 0,
        /// `boolean`.
        Boolean = 1,
        /// `count`.
        Count = 2,
        /// `integer`.
        Integer = 3,
        /// `real`.
        Real = 4,
        /// `string`.
        String = 5,
        /// `address`.
        Address = 6,
        /// `subnet`.
        Subnet = 7,
        /// `port`.
        Port = 8,
        /// `timestamp`.
        Timestamp = 9,
        /// `timespan`.
        Timespan = 10,
        /// `enum_value`.
        EnumValue = 11,
        /// `set`.
        Set = 12,
        /// `table`.
        Table = 13,
        /// `vector` (`list`).
        Vector = 14,
    }
}

wire_enum! {
    /// The variant index of a store `internal_command`'s content (Broker ≥ 2.3.1).
    pub enum CommandKind {
        /// `put_command`.
        Put = 0,
        /// `put_unique_command`.
        PutUnique = 1,
        /// `put_unique_result_command`.
        PutUniqueResult = 2,
        /// `erase_command`.
        Erase = 3,
        /// `expire_command`.
        Expire = 4,
        /// `add_command`.
        Add = 5,
        /// `subtract_command`.
        Subtract = 6,
        /// `clear_command`.
        Clear = 7,
        /// `attach_writer_command`.
        AttachWriter = 8,
        /// `keepalive_command`.
        Keepalive = 9,
        /// `cumulative_ack_command`.
        CumulativeAck = 10,
        /// `nack_command`.
        Nack = 11,
        /// `ack_clone_command`.
        AckClone = 12,
        /// `retransmit_failed_command`.
        RetransmitFailed = 13,
    }
}

//! Broker's error codes (`ec`), with today's Broker's numbers.
//!
//! Broker 1.4's Python bindings name the codes up to `StaleData`; the newer ones get
//! Python names spelled the same way, so every error a status subscriber can receive
//! converts to a `broker.EC` member.

use super::code_table;

code_table! {
    /// Codes of errors (Broker's `ec`, Python's `broker.EC`).
    pub enum ErrorCode {
        /// Not an error (Broker's `none`); Python has no member for it.
        NoError = 0, "none", "not an error";
        /// Anything else.
        Unspecified = 1, "unspecified", py "Unspecified", "unspecified error";
        /// The peer speaks another protocol version.
        PeerIncompatible = 2, "peer_incompatible", py "PeerIncompatible",
            "the peer speaks an incompatible version";
        /// The peer sent invalid input, or the peer does not exist.
        PeerInvalid = 3, "peer_invalid", py "PeerInvalid", "the referenced peer does not exist";
        /// A connection attempt failed.
        PeerUnavailable = 4, "peer_unavailable", py "PeerUnavailable",
            "the remote peer is not listening";
        /// The peer closed the connection during the handshake.
        PeerDisconnectDuringHandshake = 5, "peer_disconnect_during_handshake",
            py "PeerDisconnectDuringHandshake", "the peer disconnected during the handshake";
        /// A peer stopped answering or reading.
        PeerTimeout = 6, "peer_timeout", py "PeerTimeout", "a peering request timed out";
        /// A store master already exists.
        MasterExists = 7, "master_exists", py "MasterExists",
            "a master with this name already exists";
        /// No store master was found.
        NoSuchMaster = 8, "no_such_master", py "NoSuchMaster",
            "no master with this name exists";
        /// A store key does not exist.
        NoSuchKey = 9, "no_such_key", py "NoSuchKey", "the key does not exist in the store";
        /// A store request timed out.
        RequestTimeOut = 10, "request_timeout", py "RequestTimeOut",
            "the store operation timed out";
        /// A value has the wrong type for an operation.
        TypeClash = 11, "type_clash", py "TypeClash",
            "the operation expected a different type";
        /// Data is invalid for the operation.
        InvalidData = 12, "invalid_data", py "InvalidData",
            "the value cannot be used for the operation";
        /// A store backend failed.
        BackendFailure = 13, "backend_failure", py "BackendFailure",
            "the storage backend failed to execute the operation";
        /// A clone's data is too old to answer.
        StaleData = 14, "stale_data", py "StaleData",
            "the clone has not synchronized with its master or lost it for too long";
        /// Opening a file failed.
        CannotOpenFile = 15, "cannot_open_file", py "CannotOpenFile", "opening a file failed";
        /// Writing to a file failed.
        CannotWriteFile = 16, "cannot_write_file", py "CannotWriteFile",
            "writing to a file failed";
        /// A topic key is unknown.
        InvalidTopicKey = 17, "invalid_topic_key", py "InvalidTopicKey",
            "received an unknown key for a topic";
        /// An input file ended.
        EndOfFile = 18, "end_of_file", py "EndOfFile", "reached the end of an input file";
        /// A type tag is unknown.
        InvalidTag = 19, "invalid_tag", py "InvalidTag", "received an unknown type tag";
        /// A message is invalid.
        InvalidMessage = 20, "invalid_message", py "InvalidMessage",
            "received an invalid message";
        /// A status is invalid.
        InvalidStatus = 21, "invalid_status", py "InvalidStatus",
            "deserialized an invalid status";
        /// A conversion between types or formats failed.
        ConversionFailed = 22, "conversion_failed", py "ConversionFailed",
            "converting between two types or formats failed";
        /// A consumer was added to a producer twice.
        ConsumerExists = 23, "consumer_exists", py "ConsumerExists",
            "the producer already has this consumer";
        /// A producer or consumer heard nothing within its timeout.
        ConnectionTimeout = 24, "connection_timeout", py "ConnectionTimeout",
            "no message arrived within the configured timeout";
        /// A function was called without its preconditions.
        BadMemberFunctionCall = 25, "bad_member_function_call", py "BadMemberFunctionCall",
            "called a function without satisfying its preconditions";
        /// A request id was used twice.
        RepeatedRequestId = 26, "repeated_request_id", py "RepeatedRequestId",
            "used the same request id twice";
        /// A clone lost sync with its master.
        BrokenClone = 27, "broken_clone", py "BrokenClone", "a clone ran out of sync with its master";
        /// The operation was cancelled because the system shuts down.
        ShuttingDown = 28, "shutting_down", py "ShuttingDown",
            "cancelled because the system is shutting down";
        /// A peering request carried invalid or inconsistent data.
        InvalidPeeringRequest = 29, "invalid_peering_request", py "InvalidPeeringRequest",
            "cancelled a peering request with invalid or inconsistent data";
        /// A second handshake started before the first completed.
        RepeatedPeeringHandshakeRequest = 30, "repeated_peering_handshake_request",
            py "RepeatedPeeringHandshakeRequest",
            "a second handshake started before the first completed";
        /// An unexpected or duplicate handshake message arrived.
        UnexpectedHandshakeMessage = 31, "unexpected_handshake_message",
            py "UnexpectedHandshakeMessage",
            "received an unexpected or duplicate handshake message";
        /// The handshake went through an invalid state transition.
        InvalidHandshakeState = 32, "invalid_handshake_state", py "InvalidHandshakeState",
            "the handshake made an invalid state transition";
        /// No path leads to the receiver.
        NoPathToPeer = 33, "no_path_to_peer", py "NoPathToPeer",
            "no path to the receiver exists";
        /// No connector can accept or establish peerings.
        NoConnectorAvailable = 34, "no_connector_available", py "NoConnectorAvailable",
            "no connector is available for peerings";
        /// Opening a resource failed.
        CannotOpenResource = 35, "cannot_open_resource", py "CannotOpenResource",
            "opening a resource failed";
        /// Serializing failed.
        SerializationFailed = 36, "serialization_failed", py "SerializationFailed",
            "serializing an object failed";
        /// Deserializing failed.
        DeserializationFailed = 37, "deserialization_failed", py "DeserializationFailed",
            "deserializing an object failed";
        /// Binary input started with the wrong magic number.
        WrongMagicNumber = 38, "wrong_magic_number", py "WrongMagicNumber",
            "refused binary input with a wrong magic number";
        /// A connection closed because an earlier one to the same peer exists.
        RedundantConnection = 39, "redundant_connection", py "RedundantConnection",
            "closed a connection because an earlier one exists";
        /// An internal logic error.
        LogicError = 40, "logic_error", py "LogicError", "internal logic error";
        /// A JSON object did not parse.
        InvalidJson = 41, "invalid_json", py "InvalidJson", "failed to parse a JSON object";
    }
}

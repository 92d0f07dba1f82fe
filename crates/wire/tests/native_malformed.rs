//! Malformed native input: each case is refused with a typed error carrying the `ec`
//! code Broker answers it with, and a partial frame is no error at all.

mod common;

use broker_wire::codes::ErrorCode;
use broker_wire::limits::MAX_DEPTH;
use broker_wire::native::data::{decode_data, encode_data};
use broker_wire::native::{
    Envelope, Handshake, InternalCommand, Malformation, NativeCodec, NativeError,
};
use broker_wire::Data;
use common::{hex, nested_vectors};

const HELLO_P: &str = "06 5a45454b 00000000000040008000000000000000 01 01";

#[track_caller]
fn data_error(bytes: &str) -> Malformation {
    match decode_data(&hex(bytes)) {
        Err(NativeError::Malformed {
            what: "data",
            reason,
        }) => reason,
        other => panic!("expected a malformed data error, got {other:?}"),
    }
}

#[test]
fn bad_magic_is_ec_38() {
    let body = hex(&HELLO_P.replace("5a45454b", "5a45454c"));
    let error = Handshake::decode(&body).unwrap_err();
    assert_eq!(error, NativeError::WrongMagic(0x5a45454c));
    assert_eq!(error.ec(), ErrorCode::WrongMagicNumber);
    assert_eq!(error.description(), "wrong magic number");
    assert_eq!(
        Handshake::decode(&hex("07 00000000")),
        Err(NativeError::WrongMagic(0))
    );
}

#[test]
fn unsupported_versions_are_ec_2() {
    let body = hex(&HELLO_P.replace("01 01", "c8 c9"));
    let error = Handshake::decode(&body).unwrap_err();
    assert_eq!(
        error,
        NativeError::UnsupportedVersions { min: 200, max: 201 }
    );
    assert_eq!(error.ec(), ErrorCode::PeerIncompatible);
    assert_eq!(error.description(), "unsupported versions offered");
    let select = hex("08 5a45454b 00000000000040008000000000000000 02");
    assert_eq!(
        Handshake::decode(&select),
        Err(NativeError::UnsupportedVersionSelected(2))
    );
}

#[test]
fn unknown_tags_are_ec_20() {
    for tag in ["00", "01", "05", "0d", "ff"] {
        let error = Handshake::decode(&hex(tag)).unwrap_err();
        assert!(
            matches!(error, NativeError::UnknownMessageType(_)),
            "{error:?}"
        );
        assert_eq!(error.ec(), ErrorCode::InvalidMessage);
        assert_eq!(error.description(), "invalid message type tag");
    }
    assert_eq!(Handshake::decode(&[]), Err(NativeError::EmptyFrame));
    assert_eq!(data_error("0f"), Malformation::UnknownDataTag(15));
    let envelope = hex(&format!("{} 06 0010 0000", "00".repeat(32)));
    assert_eq!(
        Envelope::decode(&envelope),
        Err(NativeError::UnknownMessageType(6))
    );
}

#[test]
fn truncated_messages_fail_to_parse_with_ec_20() {
    let hello = hex(HELLO_P);
    for len in 1..hello.len() {
        let error = Handshake::decode(&hello[..len]).unwrap_err();
        assert_eq!(
            error,
            NativeError::Malformed {
                what: "hello_msg",
                reason: Malformation::Truncated
            }
        );
        assert_eq!(error.ec(), ErrorCode::InvalidMessage);
        assert_eq!(error.description(), "failed to parse hello_msg");
    }
    for bytes in [
        "02 00",
        "05 03 6162",
        "06 0000",
        "07 00",
        "08 0000",
        "0e 02 00",
    ] {
        assert_eq!(data_error(bytes), Malformation::Truncated, "{bytes}");
    }
    let error = Envelope::decode(&[0; 36]).unwrap_err();
    assert!(matches!(
        error,
        NativeError::Malformed {
            what: "envelope",
            reason: Malformation::Truncated
        }
    ));
    assert!(matches!(
        InternalCommand::decode(&[0; 20]),
        Err(NativeError::Malformed {
            what: "internal_command",
            reason: Malformation::Truncated
        })
    ));
}

#[test]
fn oversize_length_is_refused_before_the_body_arrives() {
    let codec = NativeCodec::new(1024);
    let error = codec.split_frame(&hex("00000401")).unwrap_err();
    assert_eq!(
        error,
        NativeError::FrameTooLarge {
            len: 1025,
            cap: 1024
        }
    );
    assert_eq!(codec.split_frame(&hex("00000400")), Ok(None));
    let mut out = Vec::new();
    let big = Envelope::publish(Default::default(), "/t".into(), Data::String(vec![0; 2000]));
    assert!(matches!(
        codec.encode_envelope(&big, &mut out),
        Err(NativeError::FrameTooLarge { cap: 1024, .. })
    ));
    assert!(out.is_empty(), "a refused frame leaves nothing behind");
}

#[test]
fn partial_frames_are_incomplete_not_errors() {
    let frame = hex(&format!("00000017 {HELLO_P}"));
    let codec = NativeCodec::default();
    for len in 0..frame.len() {
        assert_eq!(
            codec.decode_handshake(&frame[..len]),
            Ok(None),
            "{len} bytes"
        );
    }
    assert!(matches!(codec.decode_handshake(&frame), Ok(Some((_, 27)))));
}

#[test]
fn varints_longer_than_5_bytes_or_32_bits_are_refused() {
    assert_eq!(data_error("05 8080808080 00"), Malformation::VarintTooLong);
    assert_eq!(data_error("05 ffffffff1f"), Malformation::VarintTooLong);
    // The largest 32-bit value is fine as a varint (then the string is truncated).
    assert_eq!(data_error("05 ffffffff0f"), Malformation::Truncated);
}

#[test]
fn duplicate_set_elements_and_table_keys_are_refused() {
    let one = "02 0000000000000001";
    assert_eq!(
        data_error(&format!("0c 02 {one} {one}")),
        Malformation::DuplicateSetElement
    );
    assert_eq!(
        data_error(&format!("0d 02 {one} 00 {one} 01 01")),
        Malformation::DuplicateTableKey
    );
    // An IPv4 address and its v4-mapped IPv6 form are the same value.
    let v4 = "06 00000000000000000000ffff 01020304";
    assert_eq!(
        data_error(&format!("0c 02 {v4} {v4}")),
        Malformation::DuplicateSetElement
    );
    // Unordered but distinct elements are accepted and re-emitted in order.
    let two = "02 0000000000000002";
    let set = decode_data(&hex(&format!("0c 02 {two} {one}"))).unwrap();
    let mut out = Vec::new();
    encode_data(&set, &mut out).unwrap();
    assert_eq!(out, hex(&format!("0c 02 {one} {two}")));
}

#[test]
fn port_protocols_above_icmp_and_impossible_subnets_are_refused() {
    assert_eq!(data_error("08 0050 04"), Malformation::PortProtocol(4));
    assert_eq!(
        data_error("07 20010db8000000000000000000000000 81"),
        Malformation::SubnetLength(129)
    );
}

#[test]
fn trailing_bytes_rules() {
    // A data payload must be exactly one value (Broker drops the message otherwise).
    assert_eq!(data_error("00 00"), Malformation::TrailingBytes(1));
    let mut envelope = hex(&format!("{} 01 0010 0001 2f 00", "11".repeat(32)));
    assert!(Envelope::decode(&envelope).is_ok());
    envelope.push(0);
    assert!(matches!(
        Envelope::decode(&envelope),
        Err(NativeError::Malformed {
            what: "data",
            reason: Malformation::TrailingBytes(1)
        })
    ));
    // Handshake messages and commands ignore what follows, as Broker does.
    assert!(Handshake::decode(&hex(&format!("{HELLO_P} ff"))).is_ok());
    assert!(Handshake::decode(&hex("0c 00")).is_ok());
    let keepalive = hex(&format!("{} 09 0000000000000001 ff", "00".repeat(56)));
    assert!(InternalCommand::decode(&keepalive).is_ok());
}

#[test]
fn unknown_drop_codes_and_commands_are_refused() {
    let drop = hex("09 5a45454b 00000000000040008000000000000000 2a 02 6869");
    let error = Handshake::decode(&drop).unwrap_err();
    assert_eq!(
        error,
        NativeError::UnknownDropCode {
            code: 42,
            description: "hi".into()
        }
    );
    assert_eq!(error.ec(), ErrorCode::Unspecified);
    let command = hex(&format!("{} 0e", "00".repeat(56)));
    assert!(matches!(
        InternalCommand::decode(&command),
        Err(NativeError::Malformed {
            reason: Malformation::UnknownCommand(14),
            ..
        })
    ));
    let add_with_bad_type = hex(&format!(
        "{} 05 00 00 0f 00 {}",
        "00".repeat(56),
        "00".repeat(24)
    ));
    assert!(matches!(
        InternalCommand::decode(&add_with_bad_type),
        Err(NativeError::Malformed {
            reason: Malformation::UnknownDataTag(15),
            ..
        })
    ));
}

#[test]
fn non_utf8_topics_are_refused() {
    let envelope = hex(&format!("{} 04 0010 0001 ff 00", "11".repeat(32)));
    assert!(matches!(
        Envelope::decode(&envelope),
        Err(NativeError::Malformed {
            what: "envelope",
            reason: Malformation::NotUtf8
        })
    ));
}

#[test]
fn nesting_is_limited_both_ways() {
    let mut out = Vec::new();
    assert!(encode_data(&nested_vectors(MAX_DEPTH), &mut out).is_ok());
    out.clear();
    assert_eq!(
        encode_data(&nested_vectors(MAX_DEPTH + 1), &mut out),
        Err(NativeError::TooDeep(MAX_DEPTH))
    );
    assert!(out.is_empty());
    // 100k nested vector openings: refused after MAX_DEPTH levels, no stack overflow.
    let deep: Vec<u8> = std::iter::repeat_n([0x0e, 0x01], 100_000)
        .flatten()
        .collect();
    assert_eq!(
        decode_data(&deep),
        Err(NativeError::Malformed {
            what: "data",
            reason: Malformation::TooDeep(MAX_DEPTH)
        })
    );
}

#[test]
fn lying_counts_do_not_preallocate() {
    // A vector announcing 2^32-1 elements in 6 bytes fails fast on truncation.
    assert_eq!(data_error("0e ffffffff0f"), Malformation::Truncated);
    let nack = hex(&format!("{} 0b ffffffff0f", "00".repeat(56)));
    assert!(InternalCommand::decode(&nack).is_err());
}

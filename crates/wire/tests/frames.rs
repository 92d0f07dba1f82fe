//! Frame layouts pinned byte for byte: wire tags, the handshake's frozen prefix and
//! the version check.

mod common;

use broker_wire::codec::FrameCodec;
use broker_wire::frame::{peek_hello_version, tag, Reach, StoreFrame};
use broker_wire::{Data, DataMessage, Frame, Hello, NodeId, WireError, MAGIC, PROTOCOL_VERSION};
use common::encode;

fn node() -> NodeId {
    NodeId([0xAB; 16])
}

#[test]
fn every_frame_body_starts_with_its_tag() {
    let frames = [
        (Frame::Hello(Hello::new(node(), vec![])), tag::HELLO),
        (Frame::Filter(vec![]), tag::FILTER),
        (Frame::Batch(vec![]), tag::BATCH),
        (Frame::Ping(1), tag::PING),
        (Frame::Pong(1), tag::PONG),
        (Frame::Goodbye, tag::GOODBYE),
        (
            Frame::Store(StoreFrame::Command {
                store: "s".into(),
                payload: vec![1],
            }),
            tag::STORE,
        ),
        (Frame::Reach(vec![]), tag::REACH),
    ];
    for (frame, expected) in frames {
        assert_eq!(frame.tag(), expected);
        assert_eq!(encode(&frame)[4], expected, "{frame:?}");
    }
}

#[test]
fn layouts_are_as_documented() {
    let hello = encode(&Frame::Hello(Hello::new(node(), vec!["/a".into()])));
    let mut expected = vec![0, 0, 0, 26, tag::HELLO];
    expected.extend_from_slice(b"BRKR");
    expected.push(PROTOCOL_VERSION as u8);
    expected.extend_from_slice(&[0xAB; 16]);
    expected.extend_from_slice(&[1, 2, b'/', b'a']);
    assert_eq!(hello, expected);

    let message = DataMessage {
        origin: node(),
        id: 1,
        ttl: 20,
        topic: "/t".into(),
        data: Data::Vector(vec![Data::Count(5), Data::from("x")]),
    };
    let batch = encode(&Frame::Batch(vec![message]));
    let mut expected = vec![tag::BATCH, 1];
    expected.extend_from_slice(&[0xAB; 16]);
    expected.extend_from_slice(&[1, 20, 2, b'/', b't']);
    expected.extend_from_slice(&[14, 2, 2, 5, 5, 1, b'x']);
    assert_eq!(&batch[4..], &expected[..]);
    assert_eq!(
        encode(&Frame::Ping(300)),
        [0, 0, 0, 3, tag::PING, 0xAC, 0x02]
    );
    assert_eq!(encode(&Frame::Goodbye), [0, 0, 0, 1, tag::GOODBYE]);

    let far = NodeId([0xCD; 16]);
    let changes = Frame::Reach(vec![
        Reach {
            node: far,
            path: vec![node(), far],
        },
        Reach {
            node: node(),
            path: vec![],
        },
    ]);
    let reach = encode(&changes);
    let mut expected = vec![tag::REACH, 2];
    expected.extend_from_slice(&[0xCD; 16]);
    expected.push(2);
    expected.extend_from_slice(&[0xAB; 16]);
    expected.extend_from_slice(&[0xCD; 16]);
    expected.extend_from_slice(&[0xAB; 16]);
    expected.push(0);
    assert_eq!(&reach[4..], &expected[..]);
    let decoded = FrameCodec::default().decode(&reach).unwrap().unwrap().0;
    assert_eq!(decoded, changes);
}

#[test]
fn handshake_of_this_version_is_accepted() {
    let hello = Hello::new(node(), vec!["/zeek".into()]);
    let bytes = encode(&Frame::Hello(hello.clone()));
    assert_eq!(peek_hello_version(&bytes[4..]).unwrap(), PROTOCOL_VERSION);
    let codec = FrameCodec::default();
    assert!(matches!(
        codec.decode_handshake(&bytes[..bytes.len() - 1]),
        Ok(None)
    ));
    let (decoded, used) = codec.decode_handshake(&bytes).unwrap().unwrap();
    assert_eq!((decoded, used), (hello, bytes.len()));
}

/// A future version may change everything after the version; it is still recognised
/// and refused as incompatible rather than as garbage.
#[test]
fn handshake_of_another_version_is_incompatible_even_if_unparseable() {
    let mut body = vec![tag::HELLO];
    body.extend_from_slice(&MAGIC);
    body.extend_from_slice(&[0x80, 0x01]); // version 128
    body.extend_from_slice(&[0xff; 7]);
    assert_eq!(peek_hello_version(&body).unwrap(), 128);
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    let err = FrameCodec::default().decode_handshake(&bytes).unwrap_err();
    assert!(
        matches!(&err, WireError::Incompatible(why) if why.contains("128")),
        "{err}"
    );
}

#[test]
fn anything_but_a_handshake_is_incompatible() {
    let codec = FrameCodec::default();
    let ping = encode(&Frame::Ping(1));
    assert!(matches!(
        codec.decode_handshake(&ping),
        Err(WireError::Incompatible(_))
    ));
    let mut wrong_magic = encode(&Frame::Hello(Hello::new(node(), vec![])));
    wrong_magic[5] = b'X';
    assert!(matches!(
        codec.decode_handshake(&wrong_magic),
        Err(WireError::Incompatible(_))
    ));
    for body in [
        &[][..],
        &[tag::HELLO],
        &[tag::HELLO, b'B', b'R', b'K', b'R'],
    ] {
        assert!(matches!(
            peek_hello_version(body),
            Err(WireError::Incompatible(_))
        ));
    }
    // Other frames decode normally once the handshake is done.
    assert!(matches!(codec.decode(&ping), Ok(Some((Frame::Ping(1), _)))));
}

#[cfg(feature = "tokio-codec")]
#[test]
fn tokio_codec_decodes_split_input_and_encodes() {
    use bytes::BytesMut;
    use tokio_util::codec::{Decoder, Encoder};

    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    Encoder::encode(&mut codec, Frame::Ping(9), &mut buf).unwrap();
    Encoder::encode(&mut codec, Frame::Goodbye, &mut buf).unwrap();
    let mut input = BytesMut::from(&buf[..3]);
    assert!(Decoder::decode(&mut codec, &mut input).unwrap().is_none());
    input.extend_from_slice(&buf[3..]);
    assert_eq!(
        Decoder::decode(&mut codec, &mut input).unwrap(),
        Some(Frame::Ping(9))
    );
    assert_eq!(
        Decoder::decode(&mut codec, &mut input).unwrap(),
        Some(Frame::Goodbye)
    );
    assert!(input.is_empty());
}

#[test]
fn node_ids_print_and_parse_as_broker_uuids() {
    let id = NodeId::from_random([0xAB; 16]);
    assert_eq!(id.to_string(), "abababab-abab-4bab-abab-abababababab");
    assert_eq!(id.to_string().parse::<NodeId>(), Ok(id));
    assert_eq!(
        "ABABABAB-ABAB-4BAB-ABAB-ABABABABABAB".parse::<NodeId>(),
        Ok(id)
    );
    assert_eq!(
        NodeId::NIL.to_string(),
        "00000000-0000-0000-0000-000000000000"
    );
    let fresh = NodeId::random();
    assert_eq!(fresh.to_string().parse::<NodeId>(), Ok(fresh));
    assert_ne!(fresh, NodeId::random());
    let old_form = format!("{}#1", "AB".repeat(20));
    let no_dashes = "ab".repeat(16);
    let braced = format!("{{{id}}}");
    let urn = format!("urn:uuid:{id}");
    let not_hex = "gbababab-abab-4bab-abab-abababababab";
    let dash_moved = "abababa-babab-4bab-abab-abababababab";
    for bad in [
        "", &old_form, &no_dashes, &braced, &urn, not_hex, dash_moved, "é",
    ] {
        assert!(bad.parse::<NodeId>().is_err(), "{bad:?} parsed");
    }
}

//! Property tests of the WebSocket JSON codec: values JSON can carry survive
//! Data → JSON → Data, and the encoder's output is a fixed point of JSON → Data → JSON,
//! also for JSON written the lenient ways other clients write it.

mod common;

use broker_wire::json::{to_json, DataMessage, Decoder, JsonError};
use broker_wire::{Data, Timestamp, Topic};
use common::json::{arb_finite_real, arb_json_data};
use common::{arb_data, arb_topic};
use proptest::prelude::*;

fn decode(text: &str) -> Data {
    Decoder::default()
        .data(text.as_bytes())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Scalars in the forms other encoders write: reals with `%f` or as integers,
/// fractional and day-sized timespans, zoned and nanosecond timestamps, ports
/// without protocol, subnets with host bits.
fn arb_lenient_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        arb_finite_real()
            .prop_filter("printable with %f", |r| r.abs() < 1e15)
            .prop_map(|r| format!(r#"{{"@data-type":"real","data":{r:.6}}}"#)),
        any::<i32>().prop_map(|i| format!(r#"{{"@data-type":"real","data":{i}}}"#)),
        (
            -1000i32..1000,
            0u32..1000,
            prop::sample::select(vec!["ns", "us", "ms", "s", "min", "h", "d"])
        )
            .prop_map(|(w, f, unit)| format!(
                r#"{{"@data-type":"timespan","data":"{w}.{f:03}{unit}"}}"#
            )),
        (
            0i64..4_000_000_000,
            0u32..1_000_000_000,
            prop::sample::select(vec!["", "Z", "+02:00", "-0130", "+05"])
        )
            .prop_map(|(secs, nanos, zone)| {
                let time = Timestamp(secs * 1_000_000_000).to_chrono();
                format!(
                    r#"{{"@data-type":"timestamp","data":"{}.{nanos:09}{zone}"}}"#,
                    time.format("%Y-%m-%dT%H:%M:%S")
                )
            }),
        any::<u16>().prop_map(|n| format!(r#"{{"@data-type":"port","data":"{n}"}}"#)),
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(o, len)| {
            format!(
                r#"{{"@data-type":"subnet","data":"{}.{}.{}.{}/{len}"}}"#,
                o[0], o[1], o[2], o[3]
            )
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn data_survives_json(data in arb_json_data()) {
        let text = to_json(&data).unwrap();
        let back = decode(&text);
        prop_assert_eq!(&back, &data, "{}", text);
        prop_assert_eq!(to_json(&back).unwrap(), text);
    }

    #[test]
    fn data_messages_survive_json(topic in arb_topic(), data in arb_json_data()) {
        let message = DataMessage { topic, data };
        let mut text = String::new();
        message.encode(&mut text).unwrap();
        let back = Decoder::default().data_message(text.as_bytes()).unwrap();
        prop_assert_eq!(back, message);
    }

    #[test]
    fn encoder_output_is_a_fixed_point_for_any_value(data in arb_data()) {
        // Values JSON cannot carry (NaN, non-UTF-8 strings) are refused cleanly;
        // the rest may lose sub-millisecond timestamps once, then stay put.
        // (Two timestamps of a set or table keys within one millisecond would become
        // duplicates, which the decoder refuses.)
        if let Ok(text) = to_json(&data) {
            match Decoder::default().data(text.as_bytes()) {
                Ok(back) => prop_assert_eq!(to_json(&back).unwrap(), text),
                Err(error) => prop_assert!(
                    matches!(error, JsonError::DuplicateSetElement(_) | JsonError::DuplicateTableKey(_)),
                    "{}: {}", text, error
                ),
            }
        }
    }

    #[test]
    fn lenient_json_reaches_a_fixed_point_in_one_step(
        items in proptest::collection::vec(arb_lenient_scalar(), 0..8),
    ) {
        let text = format!(r#"{{"@data-type":"vector","data":[{}]}}"#, items.join(","));
        let first = to_json(&decode(&text)).unwrap();
        let second = to_json(&decode(&first)).unwrap();
        prop_assert_eq!(second, first);
    }

    #[test]
    fn subscriptions_survive_json(topics in proptest::collection::vec("\\PC{0,8}", 0..5)) {
        let subscriptions =
            broker_wire::json::Subscriptions(topics.iter().map(|t| Topic::new(t.as_str())).collect());
        let mut text = String::new();
        subscriptions.encode(&mut text);
        prop_assert_eq!(Decoder::default().subscriptions(text.as_bytes()).unwrap(), subscriptions);
    }
}

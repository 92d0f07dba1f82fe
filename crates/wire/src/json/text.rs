//! The text forms of scalars in v1 JSON: strings (escaping), reals, timespans,
//! timestamps, ports and subnets, in both directions.

use std::fmt::Write;
use std::net::IpAddr;

use chrono::{Datelike, NaiveDateTime, Timelike};
use ipnet::IpNet;

use super::error::JsonError;
use crate::{Port, Protocol};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Writes `bytes` as a JSON string: `"` and `\` escaped, the usual short escapes for
/// `\b \f \n \r \t`, `\u00XX` for every other control character (C0 and DEL).
/// Bytes that are not UTF-8 cannot be carried and are refused.
pub(super) fn write_string(bytes: &[u8], out: &mut String) -> Result<(), JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    write_str(text, out);
    Ok(())
}

/// Writes `text` as a JSON string (see [`write_string`]).
pub(super) fn write_str(text: &str, out: &mut String) {
    out.push('"');
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f | 0x7f => "",
            _ => continue,
        };
        // Everything before `at` is plain; `at` is an ASCII byte, so a char boundary.
        out.push_str(&text[plain_from..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        plain_from = at + 1;
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

/// Writes a real as the shortest text that reads back as the same value, always with
/// a `.` or an exponent so that it stays a JSON float (`1.0`, `-7.5`, `1e-7`).
pub(super) fn write_real(real: f64, out: &mut String) -> Result<(), JsonError> {
    if !real.is_finite() {
        return Err(JsonError::NonFiniteReal(real));
    }
    // Rust's `Debug` for floats is shortest round-trip and keeps `.0` on integers.
    let _ = write!(out, "{real:?}");
    Ok(())
}

/// Units of timespans, in nanoseconds; the encoder uses the first four.
const UNITS: [(&str, i64); 7] = [
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
    ("min", 60 * NANOS_PER_SEC),
    ("h", 3600 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
];

/// Writes a timespan as `"<int><unit>"` in the largest of s/ms/us/ns that divides it
/// exactly (`"1500ms"`, `"0s"`, `"-3us"`).
pub(super) fn write_timespan(nanos: i64, out: &mut String) {
    let (unit, per) = UNITS[..4]
        .iter()
        .copied()
        .find(|(_, per)| nanos % per == 0)
        .expect("every integer is a multiple of 1 ns");
    let _ = write!(out, "\"{}{unit}\"", nanos / per);
}

/// Reads a timespan: a decimal number (sign and fraction allowed) and a unit among
/// ns, us, ms, s, min, h and d. Digits below a nanosecond are dropped.
pub(super) fn parse_timespan(text: &str) -> Result<i64, JsonError> {
    let bad = |why: &str| JsonError::invalid("timespan", format!("{text:?}: {why}"));
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .ok_or_else(|| bad("no unit (ns, us, ms, s, min, h or d)"))?;
    let (number, unit) = text.split_at(number_len);
    let per = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, per)| i128::from(*per))
        .ok_or_else(|| bad("unknown unit (ns, us, ms, s, min, h or d)"))?;
    let (negative, digits) = match number.as_bytes().first() {
        Some(b'-') => (true, &number[1..]),
        Some(b'+') => (false, &number[1..]),
        _ => (false, number),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad("not a decimal number"));
    }
    // 20 digits exceed any i64 count of nanoseconds already; i128 cannot overflow.
    if whole.len() > 20 {
        return Err(bad("out of range"));
    }
    let whole: i128 = whole.parse().map_err(|_| bad("not a decimal number"))?;
    // 18 fraction digits times the largest unit still fit in i128.
    let fraction = &fraction[..fraction.len().min(18)];
    let scale = 10i128.pow(fraction.len() as u32);
    let fraction: i128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad("not a decimal number"))?
    };
    let magnitude = whole * per + fraction * per / scale;
    let nanos = if negative { -magnitude } else { magnitude };
    i64::try_from(nanos).map_err(|_| bad("out of range"))
}

/// Writes a timestamp as `"YYYY-MM-DDThh:mm:ss.mmm"`: UTC, no zone, milliseconds
/// rounded down (also before 1970).
pub(super) fn write_timestamp(nanos: i64, out: &mut String) {
    let time = chrono::DateTime::from_timestamp_nanos(nanos).naive_utc();
    let _ = write!(
        out,
        "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}\"",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.nanosecond() / 1_000_000,
    );
}

/// Reads a timestamp `YYYY-MM-DDThh:mm:ss[.f{1,9}][Z|±hh[:mm]]`; no zone means UTC.
pub(super) fn parse_timestamp(text: &str) -> Result<i64, JsonError> {
    let bad = |why: &str| JsonError::invalid("timestamp", format!("{text:?}: {why}"));
    let time_at = text
        .find('T')
        .ok_or_else(|| bad("expected YYYY-MM-DDThh:mm:ss[.fraction][zone]"))?;
    let (local, offset_secs) = match text.strip_suffix('Z') {
        Some(local) => (local, 0),
        None => match text[time_at..].rfind(['+', '-']) {
            Some(at) => {
                let (local, zone) = text.split_at(time_at + at);
                (
                    local,
                    parse_zone(zone).ok_or_else(|| bad("bad zone offset"))?,
                )
            }
            None => (text, 0),
        },
    };
    let local = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|e| bad(&e.to_string()))?
        .and_utc();
    let nanos = i128::from(local.timestamp() - offset_secs) * i128::from(NANOS_PER_SEC)
        + i128::from(local.timestamp_subsec_nanos());
    // The earliest timestamps print as the millisecond below i64::MIN ns; they read
    // back as the earliest one, so that the encoder's output always decodes.
    let earliest = i128::from(i64::MIN) - 999_999;
    match i64::try_from(nanos) {
        Ok(nanos) => Ok(nanos),
        Err(_) if (earliest..0).contains(&nanos) => Ok(i64::MIN),
        Err(_) => Err(bad("out of range")),
    }
}

/// Seconds east of UTC of a zone `±hh`, `±hh:mm` or `±hhmm`.
fn parse_zone(zone: &str) -> Option<i64> {
    let (sign, rest) = zone.split_at(1);
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let well_formed = matches!(rest.len(), 2 | 4 | 5)
        && (rest.len() != 5 || rest.as_bytes()[2] == b':')
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    let seconds = hours * 3600 + minutes * 60;
    Some(if sign == "-" { -seconds } else { seconds })
}

/// Reads a port `<n>/<tcp|udp|icmp|?>` leniently, like Broker: no slash means tcp and
/// an unknown protocol means `?`.
pub(super) fn parse_port(text: &str) -> Result<Port, JsonError> {
    let (number, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    let number = number.parse().map_err(|_| {
        JsonError::invalid("port", format!("{text:?}: expected <0..65535>/<protocol>"))
    })?;
    let protocol = match protocol {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        _ => Protocol::Unknown,
    };
    Ok(Port::new(number, protocol))
}

/// Reads an address in dotted-quad or IPv6 notation.
pub(super) fn parse_address(text: &str) -> Result<IpAddr, JsonError> {
    text.parse()
        .map_err(|_| JsonError::invalid("address", format!("{text:?}: not an IP address")))
}

/// Reads a subnet `<addr>/<len>` (length 0..32 for IPv4), masking host bits away.
pub(super) fn parse_subnet(text: &str) -> Result<IpNet, JsonError> {
    let bad = || JsonError::invalid("subnet", format!("{text:?}: expected <address>/<length>"));
    let (address, len) = text.split_once('/').ok_or_else(bad)?;
    let address = parse_address(address).map_err(|_| bad())?;
    let len = len.parse().map_err(|_| bad())?;
    IpNet::new(address, len)
        .map(|net| net.trunc())
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timespan(nanos: i64) -> String {
        let mut out = String::new();
        write_timespan(nanos, &mut out);
        out
    }

    #[test]
    fn timespans_use_the_largest_exact_unit() {
        assert_eq!(timespan(0), "\"0s\"");
        assert_eq!(timespan(-1_500_000_000), "\"-1500ms\"");
        assert_eq!(timespan(i64::MIN), format!("\"{}ns\"", i64::MIN));
        assert_eq!(parse_timespan("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_timespan("-0.5us").unwrap(), -500);
        assert_eq!(parse_timespan("+2min").unwrap(), 120 * NANOS_PER_SEC);
        assert_eq!(parse_timespan("1d").unwrap(), 86_400 * NANOS_PER_SEC);
        assert_eq!(parse_timespan("1.0000000009s").unwrap(), 1_000_000_000);
        assert_eq!(
            parse_timespan(&format!("{}ns", i64::MIN)).unwrap(),
            i64::MIN
        );
        for bad in [
            "",
            "1",
            "s",
            "1.s2",
            "1x",
            "--1s",
            "1e3s",
            "1 s",
            "9223372036854775808ns",
        ] {
            assert!(parse_timespan(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_floor_to_milliseconds_and_read_zones() {
        let mut out = String::new();
        write_timestamp(-1, &mut out);
        assert_eq!(out, "\"1969-12-31T23:59:59.999\"");
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:01.5Z").unwrap(),
            1_500_000_000
        );
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01").unwrap(), 0);
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:00-00:30").unwrap(),
            1_800 * NANOS_PER_SEC
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.000000001").unwrap(), 1);
        // Each reads back as its millisecond; the earliest, below i64::MIN, as i64::MIN.
        for (extreme, expected) in [
            (i64::MIN, i64::MIN),
            (i64::MIN + 1_000_000, -9_223_372_036_854_000_000),
            (i64::MAX, 9_223_372_036_854_000_000),
        ] {
            let mut out = String::new();
            write_timestamp(extreme, &mut out);
            assert_eq!(
                parse_timestamp(out.trim_matches('"')).unwrap(),
                expected,
                "{out}"
            );
        }
        assert!(parse_timestamp("1677-09-21T00:12:43.144").is_err());
        assert!(parse_timestamp("2262-04-11T23:47:16.855").is_err());
        for bad in [
            "",
            "1970-01-01",
            "1970-01-01T00:00",
            "1970-01-01T00:00:00+1",
            "x",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = String::new();
        write_str("a\"\\\n\u{0b}\u{7f}é", &mut out);
        assert_eq!(out, r#""a\"\\\n\u000b\u007fé""#);
    }
}

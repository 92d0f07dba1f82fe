//! Broker's text form of [`Data`] (`Display`), as Broker 1.4's `to_string` prints it.

use std::fmt;

use ipnet::IpNet;

use super::order::canonical_addr;
use super::Data;

/// Writes a real as C's `%f` does (six decimals; `nan`, `inf`, `-inf`).
fn fmt_real(r: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if r.is_nan() {
        f.write_str(if r.is_sign_negative() { "-nan" } else { "nan" })
    } else if r.is_infinite() {
        f.write_str(if r < 0.0 { "-inf" } else { "inf" })
    } else {
        write!(f, "{r:.6}")
    }
}

/// Writes a subnet as Broker does: the masked network, and an IPv4-mapped IPv6
/// network of at least 96 bits as the IPv4 network it is.
fn fmt_subnet(n: &IpNet, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let IpNet::V6(v6) = n {
        if let (Some(v4), Some(len)) = (
            v6.network().to_ipv4_mapped(),
            v6.prefix_len().checked_sub(96),
        ) {
            return write!(f, "{v4}/{len}");
        }
    }
    write!(f, "{}/{}", n.network(), n.prefix_len())
}

/// Writes items separated by `", "`.
fn fmt_joined<'a, T: fmt::Display + 'a>(
    items: impl IntoIterator<Item = T>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// A table entry in Broker's `key -> value` notation.
struct TableEntry<'a>(&'a Data, &'a Data);

impl fmt::Display for TableEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.0, self.1)
    }
}

/// Broker's notation, exactly as Broker 1.4's `to_string`.
impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::None => f.write_str("nil"),
            Data::Boolean(b) => f.write_str(if *b { "T" } else { "F" }),
            Data::Count(c) => write!(f, "{c}"),
            Data::Integer(i) => write!(f, "{i}"),
            Data::Real(r) => fmt_real(*r, f),
            Data::String(s) => f.write_str(&std::string::String::from_utf8_lossy(s)),
            Data::Address(a) => write!(f, "{}", canonical_addr(a)),
            Data::Subnet(n) => fmt_subnet(n, f),
            Data::Port(p) => write!(f, "{p}"),
            Data::Timestamp(t) => write!(f, "{t}"),
            Data::Timespan(t) => write!(f, "{t}"),
            Data::EnumValue(e) => f.write_str(e),
            Data::Set(s) => {
                f.write_str("{")?;
                fmt_joined(s, f)?;
                f.write_str("}")
            }
            Data::Table(t) => {
                f.write_str("{")?;
                fmt_joined(t.iter().map(|(k, v)| TableEntry(k, v)), f)?;
                f.write_str("}")
            }
            Data::Vector(v) => {
                f.write_str("(")?;
                fmt_joined(v, f)?;
                f.write_str(")")
            }
        }
    }
}

//! The total order, equality and hash of [`Data`]: by type in Broker's order, then by
//! value; reals by [`f64::total_cmp`] and their bits, IPv4-mapped IPv6 addresses as IPv4.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use ipnet::IpNet;

use super::Data;

/// An address in the canonical form used for comparisons: IPv4-mapped IPv6
/// addresses become IPv4.
pub(super) fn canonical_addr(a: &IpAddr) -> IpAddr {
    a.to_canonical()
}

/// Sort key of an address: its 16-byte IPv6 form, as Broker stores it.
fn addr_key(a: &IpAddr) -> [u8; 16] {
    match canonical_addr(a) {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Sort key of a subnet: the network's 16-byte form and its prefix length counted in
/// the 128-bit space, as Broker stores subnets.
fn subnet_key(n: &IpNet) -> ([u8; 16], u8) {
    match n {
        IpNet::V4(v4) => (addr_key(&IpAddr::V4(v4.network())), v4.prefix_len() + 96),
        IpNet::V6(v6) => (addr_key(&IpAddr::V6(v6.network())), v6.prefix_len()),
    }
}

/// Byte strings in lexicographic order; short ones (most table keys) compare as two
/// words instead of through `memcmp`.
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    match (prefix_word(a), prefix_word(b)) {
        // Zero padding orders like the end of a string, except that a string ending in
        // zeros pads like its prefix: the length breaks that tie.
        (Some(x), Some(y)) => x.cmp(&y).then(a.len().cmp(&b.len())),
        _ => a.cmp(b),
    }
}

/// The bytes of a string of at most 8 bytes, zero-padded, as a big-endian word (read
/// as two overlapping halves rather than copied, which would call `memcpy`).
#[inline]
fn prefix_word(bytes: &[u8]) -> Option<u64> {
    let len = bytes.len();
    if len > 8 {
        return None;
    }
    if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let (first, last) = (u32::from_be_bytes(*first), u32::from_be_bytes(*last));
        return Some(u64::from(first) << 32 | u64::from(last) << (8 * (8 - len)));
    }
    let place = |(i, &b): (usize, &u8)| u64::from(b) << (56 - 8 * i);
    Some(
        bytes
            .iter()
            .enumerate()
            .map(place)
            .fold(0, |word, b| word | b),
    )
}

impl Ord for Data {
    fn cmp(&self, other: &Self) -> Ordering {
        use Data::*;
        // Strings first: the usual keys of tables and sets.
        if let (String(a), String(b)) = (self, other) {
            return cmp_bytes(a, b);
        }
        match (self, other) {
            (None, None) => Ordering::Equal,
            (Boolean(a), Boolean(b)) => a.cmp(b),
            (Count(a), Count(b)) => a.cmp(b),
            (Integer(a), Integer(b)) => a.cmp(b),
            (Real(a), Real(b)) => a.total_cmp(b),
            (String(a), String(b)) => cmp_bytes(a, b),
            (Address(a), Address(b)) => addr_key(a).cmp(&addr_key(b)),
            (Subnet(a), Subnet(b)) => subnet_key(a).cmp(&subnet_key(b)),
            (Port(a), Port(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Timespan(a), Timespan(b)) => a.cmp(b),
            (EnumValue(a), EnumValue(b)) => a.cmp(b),
            (Set(a), Set(b)) => a.cmp(b),
            (Table(a), Table(b)) => a.cmp(b),
            (Vector(a), Vector(b)) => a.cmp(b),
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

impl PartialOrd for Data {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Data::String(a), Data::String(b)) => cmp_bytes(a, b) == Ordering::Equal,
            _ => self.cmp(other) == Ordering::Equal,
        }
    }
}

impl Eq for Data {}

impl Hash for Data {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.type_rank());
        match self {
            Data::None => {}
            Data::Boolean(b) => b.hash(state),
            Data::Count(c) => c.hash(state),
            Data::Integer(i) => i.hash(state),
            Data::Real(r) => r.to_bits().hash(state),
            Data::String(s) => s.hash(state),
            Data::Address(a) => addr_key(a).hash(state),
            Data::Subnet(n) => subnet_key(n).hash(state),
            Data::Port(p) => p.hash(state),
            Data::Timestamp(t) => t.hash(state),
            Data::Timespan(t) => t.hash(state),
            Data::EnumValue(e) => e.hash(state),
            Data::Set(s) => s.hash(state),
            Data::Table(t) => t.hash(state),
            Data::Vector(v) => v.hash(state),
        }
    }
}

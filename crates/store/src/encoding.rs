//! Byte encodings of keys and values for persistent backends.
//!
//! Values are postcard bytes of [`Data`]. Keys are postcard bytes of their *canonical*
//! form, so that two keys are equal as [`Data`] exactly when their bytes are equal — what
//! a `BLOB PRIMARY KEY` needs. Postcard alone is almost canonical (sets and tables encode in
//! sorted order; reals by their bits, matching [`f64::total_cmp`] equality), except for
//! addresses and subnets: [`Data`] treats an IPv4-mapped IPv6 address as the IPv4 address,
//! and a subnet as its network (host bits ignored), while postcard encodes what it is given.

use std::net::IpAddr;

use broker_wire::Data;
use ipnet::{IpNet, Ipv4Net};

use crate::error::StoreError;

/// The bytes identifying `key`: equal for equal keys, distinct for distinct keys.
pub fn encode_key(key: &Data) -> Result<Vec<u8>, StoreError> {
    if is_canonical(key) {
        encode_value(key)
    } else {
        encode_value(&canonical(key))
    }
}

/// The bytes of `value`, decodable by [`decode`].
pub fn encode_value(value: &Data) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value)
        .map_err(|e| StoreError::InvalidData(format!("cannot encode {value}: {e}")))
}

/// The value encoded in `bytes` by [`encode_key`] or [`encode_value`].
pub fn decode(bytes: &[u8]) -> Result<Data, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::InvalidData(format!("corrupt stored value: {e}")))
}

/// Whether `data` already is in canonical form; cheap for the scalar keys that dominate.
fn is_canonical(data: &Data) -> bool {
    match data {
        Data::Address(a) => *a == a.to_canonical(),
        Data::Subnet(n) => *n == canonical_subnet(n),
        Data::Set(s) => s.iter().all(is_canonical),
        Data::Table(t) => t.iter().all(|(k, v)| is_canonical(k) && is_canonical(v)),
        Data::Vector(v) => v.iter().all(is_canonical),
        _ => true,
    }
}

/// `data` with every address and subnet in canonical form. Sets and tables keep their
/// order, because [`Data`]'s order already compares canonical forms.
fn canonical(data: &Data) -> Data {
    match data {
        Data::Address(a) => Data::Address(a.to_canonical()),
        Data::Subnet(n) => Data::Subnet(canonical_subnet(n)),
        Data::Set(s) => Data::Set(s.iter().map(canonical).collect()),
        Data::Table(t) => Data::Table(
            t.iter()
                .map(|(k, v)| (canonical(k), canonical(v)))
                .collect(),
        ),
        Data::Vector(v) => Data::Vector(v.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// A subnet as its network address, an IPv4-mapped IPv6 network of prefix ≥ 96 becoming
/// the IPv4 network it denotes.
fn canonical_subnet(net: &IpNet) -> IpNet {
    match net {
        IpNet::V4(v4) => IpNet::V4(v4.trunc()),
        IpNet::V6(v6) => match (v6.network().to_canonical(), v6.prefix_len()) {
            (IpAddr::V4(mapped), prefix) if prefix >= 96 => {
                IpNet::V4(Ipv4Net::new(mapped, prefix - 96).expect("prefix - 96 ≤ 32"))
            }
            _ => IpNet::V6(v6.trunc()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn data_of(s: &str) -> Data {
        Data::Subnet(s.parse().unwrap())
    }

    #[test]
    fn equal_keys_encode_equally() {
        let pairs = [
            (
                Data::Address("1.2.3.4".parse().unwrap()),
                Data::Address("::ffff:1.2.3.4".parse().unwrap()),
            ),
            (data_of("10.1.2.3/8"), data_of("10.0.0.0/8")),
            (data_of("::ffff:10.0.0.0/104"), data_of("10.0.0.0/8")),
            (data_of("2001:db8::1/32"), data_of("2001:db8::/32")),
            (
                Data::Set(BTreeSet::from([Data::Address(
                    "::ffff:1.2.3.4".parse().unwrap(),
                )])),
                Data::Set(BTreeSet::from([Data::Address("1.2.3.4".parse().unwrap())])),
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(a, b, "the pair must be equal as Data");
            assert_eq!(
                encode_key(&a).unwrap(),
                encode_key(&b).unwrap(),
                "{a} vs {b}"
            );
        }
    }

    #[test]
    fn distinct_keys_encode_distinctly() {
        let keys = [
            Data::Real(0.0),
            Data::Real(-0.0),
            Data::Count(1),
            Data::Integer(1),
            data_of("::ffff:0:0/95"),
            data_of("0.0.0.0/0"),
            Data::string("a"),
            Data::EnumValue("a".into()),
        ];
        let encoded: BTreeSet<Vec<u8>> = keys.iter().map(|k| encode_key(k).unwrap()).collect();
        assert_eq!(encoded.len(), keys.len());
    }

    #[test]
    fn values_round_trip() {
        let value = Data::Vector(vec![
            Data::Count(7),
            Data::string("x"),
            data_of("10.1.0.0/16"),
        ]);
        assert_eq!(decode(&encode_value(&value).unwrap()).unwrap(), value);
        assert!(matches!(
            decode(&[0xff, 0xff]),
            Err(StoreError::InvalidData(_))
        ));
    }
}

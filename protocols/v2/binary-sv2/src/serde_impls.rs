//! JSON shapes of the data types (feature `serde`), as DESIGN.md fixes them for `sv2 decode`:
//! byte strings, U256, PUBKEY and SIGNATURE as lowercase hex in wire order; STR0_255 as a string,
//! or `{"hex": "..."}` when the bytes are not UTF-8; sequences as arrays; OPTION as null or the
//! value; integers, F32 and BOOL as JSON numbers and booleans (an F32 that is NaN or infinite,
//! which JSON has no number for, as `{"hex": "..."}` of its four wire bytes: see [`f32_json`]).

use crate::seq::{Seq, SeqElement};
use crate::types::{Bytes, PubKey, Signature, Str0255, B016M, B0255, B032, B064K, U24, U256};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

fn hex_to_vec<E: de::Error>(s: &str) -> Result<Vec<u8>, E> {
    hex::decode(s).map_err(|e| E::custom(format_args!("invalid hex {s:?}: {e}")))
}

macro_rules! serde_fixed {
    ($($name:ident),*) => {$(
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(self.0))
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                let v = hex_to_vec::<D::Error>(&s)?;
                $name::from_slice(&v).map_err(de::Error::custom)
            }
        }
    )*};
}
serde_fixed!(U256, PubKey, Signature);

macro_rules! serde_hex_bytes {
    ($($name:ident),*) => {$(
        impl Serialize for $name<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(self.as_bytes()))
            }
        }
        impl<'de, 'a> Deserialize<'de> for $name<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                let v = hex_to_vec::<D::Error>(&s)?;
                $name::new(v).map_err(de::Error::custom)
            }
        }
    )*};
}
serde_hex_bytes!(B032, B0255, B064K, B016M);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.as_bytes()))
    }
}

impl<'de, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Bytes::new(hex_to_vec::<D::Error>(&s)?))
    }
}

impl Serialize for Str0255<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => s.serialize_str(text),
            None => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("hex", &hex::encode(self.as_bytes()))?;
                m.end()
            }
        }
    }
}

impl<'de, 'a> Deserialize<'de> for Str0255<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or {\"hex\": \"...\"}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                Ok(v.as_bytes().to_vec())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
                let mut out = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "hex" {
                        let s: std::borrow::Cow<'de, str> = map.next_value()?;
                        out = Some(hex_to_vec::<A::Error>(&s)?);
                    } else {
                        return Err(de::Error::unknown_field(&key, &["hex"]));
                    }
                }
                out.ok_or_else(|| de::Error::missing_field("hex"))
            }
        }
        let v = d.deserialize_any(V)?;
        Str0255::new(v).map_err(de::Error::custom)
    }
}

impl Serialize for U24 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.get())
    }
}

impl<'de> Deserialize<'de> for U24 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        U24::new(u32::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl<T, const MAX: usize, const PREFIX: usize> Serialize for Seq<'_, T, MAX, PREFIX>
where
    T: SeqElement,
    for<'x> T::View<'x>: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for item in self.iter() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl<'de, 'a, T, const MAX: usize, const PREFIX: usize> Deserialize<'de> for Seq<'a, T, MAX, PREFIX>
where
    T: SeqElement,
    T::View<'static>: DeserializeOwned,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items: Vec<T::View<'static>> = Vec::deserialize(d)?;
        Seq::from_items(items).map_err(de::Error::custom)
    }
}

/// F32 fields in JSON (`#[serde(with = "binary_sv2::f32_json")]`): a number when finite. NaN
/// and the infinities have no JSON number (serde_json would print `null`, which cannot be read
/// back), so they are written like a STR0_255 that is not UTF-8: `{"hex": "0000c07f"}`, the
/// four bytes in wire order. Either form reads back, so `sv2 decode` then `sv2 encode` gives
/// back every F32 a peer can send, byte for byte (found by the frame fuzz target).
pub mod f32_json {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f32(*v)
        } else {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("hex", &hex::encode(v.to_le_bytes()))?;
            m.end()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = f32;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or {\"hex\": \"<4 bytes>\"}")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f32, E> {
                Ok(v as f32)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f32, E> {
                Ok(v as f32)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f32, E> {
                Ok(v as f32)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<f32, A::Error> {
                let mut out = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key != "hex" {
                        return Err(de::Error::unknown_field(&key, &["hex"]));
                    }
                    let s: std::borrow::Cow<'de, str> = map.next_value()?;
                    let b: [u8; 4] = hex_to_vec::<A::Error>(&s)?.try_into().map_err(|_| {
                        de::Error::custom(format_args!("F32 hex {s:?} is not 4 bytes"))
                    })?;
                    out = Some(f32::from_le_bytes(b));
                }
                out.ok_or_else(|| de::Error::missing_field("hex"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::f32_json;

    fn round_trip(v: f32) -> (serde_json::Value, f32) {
        let json = f32_json::serialize(&v, serde_json::value::Serializer).unwrap();
        let text = json.to_string();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        (json, f32_json::deserialize(&back).unwrap())
    }

    #[test]
    fn f32_keeps_every_bit_pattern_through_json() {
        for v in [0.0f32, -0.0, 1.5, 1e-45, f32::MAX, 3.4e38, 12345.678] {
            let (json, back) = round_trip(v);
            assert!(json.is_number(), "{v} prints as {json}");
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
        let quiet_nan_with_payload = f32::from_bits(0x7fc0_1234);
        for v in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            quiet_nan_with_payload,
        ] {
            let (json, back) = round_trip(v);
            assert_eq!(
                json,
                serde_json::json!({"hex": hex::encode(v.to_le_bytes())})
            );
            assert_eq!(back.to_bits(), v.to_bits());
        }
        assert_eq!(f32_json::deserialize(&serde_json::json!(3)).unwrap(), 3.0);
        assert!(f32_json::deserialize(&serde_json::json!({"hex": "00"})).is_err());
        assert!(f32_json::deserialize(&serde_json::json!(null)).is_err());
    }
}

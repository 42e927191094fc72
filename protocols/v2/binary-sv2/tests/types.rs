//! Every data type: layout by hand, limits on encode and decode with typed errors, and the
//! derive macros on the struct shapes they promise to support.

use binary_sv2::*;
use quickcheck::quickcheck;

fn enc<T: Encodable>(v: &T) -> Vec<u8> {
    let b = v.to_bytes().unwrap();
    assert_eq!(b.len(), v.encoded_len());
    b
}

#[test]
fn integers_are_little_endian() {
    assert_eq!(enc(&0x12u8), [0x12]);
    assert_eq!(enc(&0x1234u16), [0x34, 0x12]);
    assert_eq!(enc(&U24::new(0x123456).unwrap()), [0x56, 0x34, 0x12]);
    assert_eq!(enc(&0x12345678u32), [0x78, 0x56, 0x34, 0x12]);
    assert_eq!(enc(&0x0102030405060708u64), [8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(enc(&1.5f32), 1.5f32.to_le_bytes());
    assert_eq!(
        u64::decode(&[8, 7, 6, 5, 4, 3, 2, 1]).unwrap(),
        0x0102030405060708
    );
    assert_eq!(U24::decode(&[0xff, 0xff, 0xff]).unwrap().get(), U24::MAX);
}

#[test]
fn u24_limit() {
    let e = U24::new(1 << 24).unwrap_err();
    assert_eq!(
        e.to_string(),
        "U24 value 16777216 exceeds its maximum of 16777215"
    );
}

#[test]
fn bool_reads_only_the_lowest_bit() {
    assert_eq!(enc(&true), [1]);
    assert_eq!(enc(&false), [0]);
    assert!(bool::decode(&[1]).unwrap());
    assert!(!bool::decode(&[0]).unwrap());
    // Spec: recipients MUST NOT interpret bits outside the least significant bit.
    assert!(bool::decode(&[0x03]).unwrap());
    assert!(!bool::decode(&[0xfe]).unwrap());
}

#[test]
fn fixed_size_types() {
    let u = U256([7; 32]);
    assert_eq!(enc(&u), [7; 32]);
    assert_eq!(U256::decode(&[7; 32]).unwrap(), u);
    assert!(U256::decode(&[7; 31]).is_err());
    assert_eq!(enc(&PubKey([1; 32])).len(), 32);
    assert_eq!(enc(&Signature([2; 64])).len(), 64);
    assert!(Signature::decode(&[0; 63]).is_err());
    let be = U256::from_be_hex("00000000000000000000000000000000000000000000000000000000000000ff")
        .unwrap();
    assert_eq!(
        be.0[0], 0xff,
        "big-endian hex becomes little-endian wire bytes"
    );
    assert_eq!(be.to_be_bytes()[31], 0xff);
}

macro_rules! check_byte_type {
    ($t:ident, $spec:literal, $max:expr, $prefix:expr) => {{
        // At the limit: accepted both ways.
        let full = vec![0xabu8; $max];
        let v = $t::new(&full[..]).unwrap();
        let bytes = enc(&v);
        assert_eq!(bytes.len(), $prefix + $max);
        assert_eq!(&bytes[$prefix..], &full[..]);
        assert_eq!($t::decode(&bytes).unwrap(), v);
        // One past the limit: refused on construction (the encode side) ...
        let e = $t::new(vec![0u8; $max + 1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} length {} exceeds its maximum of {}",
                $spec,
                $max + 1,
                $max
            )
        );
        // ... and an empty value is a bare zero prefix.
        assert_eq!(enc(&$t::new(&[][..]).unwrap()), vec![0u8; $prefix]);
        // Truncated content is refused with the type named.
        let e = $t::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(
            matches!(e.kind, DecodeErrorKind::Truncated { ty: $spec, .. }),
            "{e}"
        );
    }};
}

#[test]
fn byte_string_limits_both_ways() {
    check_byte_type!(B032, "B0_32", 32, 1);
    check_byte_type!(B0255, "B0_255", 255, 1);
    check_byte_type!(B064K, "B0_64K", 65_535, 2);
    check_byte_type!(B016M, "B0_16M", (1 << 24) - 1, 3);
    check_byte_type!(Str0255, "STR0_255", 255, 1);
}

#[test]
fn b032_length_prefix_above_32_is_refused_on_decode() {
    let mut bytes = vec![33u8];
    bytes.extend_from_slice(&[0; 33]);
    let e = B032::decode(&bytes).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::TooLong {
            ty: "B0_32",
            len: 33,
            max: 32
        }
    );
}

#[test]
fn decoding_borrows_from_the_input() {
    let bytes = [3u8, 1, 2, 3];
    let v = B0255::decode(&bytes).unwrap();
    assert_eq!(v.as_bytes().as_ptr(), bytes[1..].as_ptr());
    let owned: B0255<'static> = v.into_static();
    assert_eq!(owned.as_bytes(), &[1, 2, 3]);
}

#[test]
fn str0255_keeps_invalid_utf8() {
    let v = Str0255::decode(&[2, 0xff, 0xfe]).unwrap();
    assert_eq!(v.as_str(), None);
    assert_eq!(enc(&v), [2, 0xff, 0xfe]);
}

#[cfg(feature = "serde")]
#[test]
fn str0255_json_is_text_or_hex() {
    let v = Str0255::decode(&[2, 0xff, 0xfe]).unwrap();
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"{"hex":"fffe"}"#);
    let back: Str0255 = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v);
    let text: Str0255 = serde_json::from_str(r#""héllo""#).unwrap();
    assert_eq!(text.as_bytes(), "héllo".as_bytes());
}

#[test]
fn option_counts() {
    assert_eq!(enc(&Some(5u32)), [1, 5, 0, 0, 0]);
    assert_eq!(enc(&None::<u32>), [0]);
    assert_eq!(Option::<u32>::decode(&[0]).unwrap(), None);
    assert_eq!(Option::<u32>::decode(&[1, 5, 0, 0, 0]).unwrap(), Some(5));
    for bad in [2u8, 0xff] {
        assert_eq!(
            Option::<u32>::decode(&[bad, 0, 0, 0, 0]).unwrap_err().kind,
            DecodeErrorKind::InvalidOptionCount { count: bad }
        );
    }
    assert!(Option::<u32>::decode(&[1, 5]).is_err());
}

#[test]
fn sequences() {
    let s = Seq0255::<U256>::from_items([U256([1; 32]), U256([2; 32])]).unwrap();
    let bytes = enc(&s);
    assert_eq!(bytes[0], 2);
    assert_eq!(bytes.len(), 1 + 64);
    let d = Seq0255::<U256>::decode(&bytes).unwrap();
    assert_eq!(d.get(1), Some(U256([2; 32])));
    assert_eq!(d.get(2), None);
    assert_eq!(d.iter().count(), 2);

    // SEQ0_64K count is a U16: 300 elements.
    let s = Seq064K::<u16>::from_items(0..300u16).unwrap();
    let bytes = enc(&s);
    assert_eq!(&bytes[..2], &300u16.to_le_bytes());
    assert_eq!(
        Seq064K::<u16>::decode(&bytes).unwrap().to_vec(),
        (0..300).collect::<Vec<_>>()
    );

    // Variable-size elements.
    let txs = Seq064K::<B016M>::from_items([
        B016M::new(vec![1, 2]).unwrap(),
        B016M::new(vec![]).unwrap(),
    ])
    .unwrap();
    let bytes = enc(&txs);
    assert_eq!(bytes, [2, 0, 2, 0, 0, 1, 2, 0, 0, 0]);
    let d = Seq064K::<B016M>::decode(&bytes).unwrap();
    assert_eq!(d.get(0).unwrap().as_bytes(), &[1, 2]);

    // Limits: 256 elements for SEQ0_255 refused on construction; counts past the data refused.
    let e = Seq0255::<u8>::from_items(0..=255u8).unwrap_err();
    assert_eq!(
        e.to_string(),
        "SEQ0_255 length 256 exceeds its maximum of 255"
    );
    let e = Seq0255::<U256>::decode(&[2; 33]).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::Truncated { ty: "SEQ0_255", .. }),
        "{e}"
    );
    assert!(Seq064K::<B016M>::decode(&[1, 0, 5, 0, 0, 1]).is_err());
}

#[test]
fn encode_into_a_small_buffer_is_an_error() {
    let mut buf = [0u8; 3];
    let e = 5u32.encode(&mut buf).unwrap_err();
    assert_eq!(
        e.kind,
        EncodeErrorKind::BufferTooSmall {
            needed: 4,
            available: 3
        }
    );
}

// ----- derive macros on the shapes they support -----

#[derive(Debug, Clone, PartialEq, Encodable, Decodable, IntoStatic)]
struct NoLifetime {
    a: u8,
    b: U256,
}

#[derive(Debug, Clone, PartialEq, Encodable, Decodable, IntoStatic)]
struct Tuple<'a>(u16, B032<'a>);

#[derive(Debug, Clone, PartialEq, Encodable, Decodable, IntoStatic)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Encodable, Decodable, IntoStatic)]
struct Nested<'a> {
    inner: Tuple<'a>,
    list: Seq064K<'a, Str0255<'a>>,
    opt: Option<NoLifetime>,
}

#[derive(Debug, Clone, PartialEq, Encodable, Decodable)]
struct Generic<T> {
    id: u32,
    value: T,
}

#[test]
fn derive_supports_plain_tuple_unit_nested_and_generic_structs() {
    assert_eq!(<NoLifetime as Decodable>::FIXED_SIZE, Some(33));
    assert_eq!(<Unit as Decodable>::FIXED_SIZE, Some(0));
    assert_eq!(enc(&Unit), Vec::<u8>::new());

    let t = Tuple(0x0102, B032::new(&[9u8][..]).unwrap());
    assert_eq!(enc(&t), [2, 1, 1, 9]);

    let n = Nested {
        inner: t.clone(),
        list: Seq064K::from_items([Str0255::try_from("a").unwrap()]).unwrap(),
        opt: Some(NoLifetime {
            a: 1,
            b: U256([3; 32]),
        }),
    };
    let bytes = enc(&n);
    let d = Nested::decode(&bytes).unwrap();
    assert_eq!(d, n);
    let owned: Nested<'static> = d.into_static();
    assert_eq!(enc(&owned), bytes);

    let g = Generic {
        id: 1,
        value: 0xffu8,
    };
    assert_eq!(enc(&g), [1, 0, 0, 0, 0xff]);
    assert_eq!(Generic::<u8>::decode(&[1, 0, 0, 0, 0xff]).unwrap(), g);
}

#[test]
fn derived_errors_name_struct_and_field() {
    let e = Nested::decode(&[2, 1, 40]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Tuple.1: B0_32 length 40 exceeds its maximum of 32"
    );
    let e = NoLifetime::decode(&[0; 34]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "NoLifetime: 1 unexpected bytes after the last field"
    );
}

quickcheck! {
    fn random_bytes_never_panic_the_types(bytes: Vec<u8>) -> bool {
        let _ = Nested::decode(&bytes);
        let _ = Seq064K::<B016M>::decode(&bytes);
        let _ = Seq0255::<U256>::decode(&bytes);
        let _ = Option::<Str0255>::decode(&bytes);
        let _ = B064K::decode(&bytes);
        true
    }

    fn byte_strings_round_trip(bytes: Vec<u8>) -> bool {
        let v = B064K::new(&bytes[..]).unwrap();
        B064K::decode(&enc(&v)).unwrap() == v
    }
}

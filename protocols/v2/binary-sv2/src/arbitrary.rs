//! quickcheck generators (feature `quickcheck`) that respect every type's limits, so that
//! property tests can build any valid message.

use crate::seq::{Seq, SeqElement};
use crate::types::{Bytes, PubKey, Signature, Str0255, B016M, B0255, B032, B064K, U24, U256};
use quickcheck::{Arbitrary, Gen};

fn bytes_up_to(g: &mut Gen, max: usize) -> Vec<u8> {
    // Mostly small values, sometimes right at the limit (where off-by-one bugs live).
    // At the limit: often for the short types, rarely for the 64K and 16M ones (which are
    // checked at their limits by the vector tests too) to keep property runs fast.
    let at_limit = match max {
        0 => false,
        1..=255 => u8::arbitrary(g) % 8 == 0,
        _ => u8::arbitrary(g) % 64 == 0,
    };
    let len = if at_limit {
        max.min(70_000)
    } else {
        usize::arbitrary(g) % (max.min(g.size()) + 1)
    };
    (0..len).map(|_| u8::arbitrary(g)).collect()
}

macro_rules! arb_fixed {
    ($($name:ident, $n:literal);*) => {$(
        impl Arbitrary for $name {
            fn arbitrary(g: &mut Gen) -> Self {
                let mut b = [0u8; $n];
                for x in b.iter_mut() {
                    *x = u8::arbitrary(g);
                }
                $name(b)
            }
        }
    )*};
}
arb_fixed!(U256, 32; PubKey, 32; Signature, 64);

macro_rules! arb_bytes {
    ($($name:ident),*) => {$(
        impl Arbitrary for $name<'static> {
            fn arbitrary(g: &mut Gen) -> Self {
                // Cannot fail: the length is drawn within the limit.
                $name::new(bytes_up_to(g, $name::MAX_LEN)).unwrap_or_default()
            }
        }
    )*};
}
arb_bytes!(B032, B0255, B064K, B016M, Str0255);

impl Arbitrary for Bytes<'static> {
    fn arbitrary(g: &mut Gen) -> Self {
        Bytes::new(Vec::<u8>::arbitrary(g))
    }
}

impl Arbitrary for U24 {
    fn arbitrary(g: &mut Gen) -> Self {
        U24::new(u32::arbitrary(g) & U24::MAX).unwrap_or_default()
    }
}

impl<T, const MAX: usize, const PREFIX: usize> Arbitrary for Seq<'static, T, MAX, PREFIX>
where
    T: SeqElement + 'static,
    T::View<'static>: Arbitrary,
{
    fn arbitrary(g: &mut Gen) -> Self {
        // Occasionally above 255 elements for SEQ0_64K, to exercise the U16 count.
        let fixed = <T::View<'static> as crate::Decodable<'static>>::FIXED_SIZE.is_some();
        let len = if MAX > 255 && fixed && u8::arbitrary(g) % 16 == 0 {
            300
        } else {
            usize::arbitrary(g) % (MAX.min(g.size()) + 1)
        };
        let items: Vec<T::View<'static>> = (0..len).map(|_| Arbitrary::arbitrary(g)).collect();
        Seq::from_items(items).unwrap_or_default()
    }
}

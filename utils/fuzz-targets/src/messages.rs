//! Frames, the four subprotocols' parsers and the TLV reader.

use binary_sv2::{Encodable, IntoStatic};
use const_sv2::{CHANNEL_BIT_MASK, SV2_FRAME_HEADER_SIZE};
use extensions_sv2::tlv::{Tlv, TlvList, UserIdentity};
use framing_sv2::{Frame, Header, Sv2Frame};
use roles_logic_sv2::parsers::{
    AnyMessage, CommonMessages, JobDeclaration, MessageInfo, Mining, ParserError,
    TemplateDistribution,
};

fn encode<E: Encodable + ?Sized>(m: &E) -> Vec<u8> {
    let mut buf = vec![0u8; m.encoded_len()];
    let n = m
        .encode(&mut buf)
        .expect("a decoded message encodes into a buffer of its encoded_len");
    assert_eq!(n, buf.len(), "encoded_len is exact");
    buf
}

/// What decodes re-encodes to the same bytes. The one normalisation the codec documents is
/// BOOL: any byte with the low bit set reads as true and writes back as 0x01; so a byte may
/// only differ where the re-encoded one is the original's low bit.
fn assert_round_trip(original: &[u8], encoded: &[u8], what: &str) {
    assert_eq!(
        encoded.len(),
        original.len(),
        "{what}: re-encoded length differs"
    );
    for (i, (&a, &b)) in original.iter().zip(encoded).enumerate() {
        assert!(
            a == b || b == a & 1,
            "{what}: byte {i} was {a:#04x}, re-encoded as {b:#04x}"
        );
    }
}

/// `AnyMessage::parse` and everything a decoded message promises: its header values, the
/// byte round trip, `parse_prefix` and `parse_with_tlvs` agreeing with `parse`, `into_static`,
/// and the JSON round trip of `sv2 decode`/`sv2 encode` (DESIGN.md: byte for byte).
pub(crate) fn check_any_message(extension_type: u16, msg_type: u8, payload: &[u8]) {
    let parsed = AnyMessage::parse(extension_type, msg_type, payload);
    let with_tlvs = AnyMessage::parse_with_tlvs(extension_type, msg_type, payload);
    let m = match parsed {
        Ok(m) => m,
        Err(ParserError::Decode(_)) => {
            // Only trailing bytes that are well-formed TLVs may make parse_with_tlvs succeed.
            if let Ok((_, tlvs)) = with_tlvs {
                assert!(!tlvs.is_empty(), "parse failed but parse_with_tlvs did not");
            }
            return;
        }
        Err(e) => {
            assert!(with_tlvs.is_err(), "parse: {e}, parse_with_tlvs succeeded");
            return;
        }
    };
    let (m_tlv, tlvs) = with_tlvs.expect("parse succeeded, so parse_with_tlvs must");
    assert!(tlvs.is_empty());
    // Compared as bytes: an F32 field may be NaN, which is not equal to itself.
    assert_eq!(encode(&m_tlv), encode(&m));

    assert_eq!(m.extension_type(), extension_type & !CHANNEL_BIT_MASK);
    assert_eq!(m.msg_type(), msg_type);
    let encoded = encode(&m);
    assert_round_trip(payload, &encoded, m.name());
    let again = AnyMessage::parse(extension_type, msg_type, &encoded)
        .unwrap_or_else(|e| panic!("{}: re-encoded bytes do not parse: {e}", m.name()));
    assert_eq!(encode(&again), encoded, "{}: second round trip", m.name());
    assert_eq!(encode(&m.clone().into_static()), encoded, "into_static");

    let frame = m.to_frame().expect("a decoded message frames");
    assert_eq!(frame.payload(), &encoded[..]);
    assert_eq!(frame.header().msg_type(), msg_type);

    // JSON, as the sv2 command prints and reads it.
    let json = serde_json::to_value(&m)
        .unwrap_or_else(|e| panic!("{}: does not serialize: {e}", m.name()));
    let back = AnyMessage::deserialize_fields(extension_type, msg_type, &json)
        .unwrap_or_else(|e| panic!("{}: its JSON {json} does not read back: {e}", m.name()));
    assert_eq!(
        encode(&back),
        encoded,
        "{}: JSON round trip {json} changes the bytes",
        m.name()
    );
}

/// The frame parser: every frame framing_sv2 finds in `data` (one after another, as a
/// connection delivers them), and the message its header names.
pub fn frame(data: &[u8]) {
    let mut rest = data;
    loop {
        match Frame::parse_prefix(rest) {
            Ok((f, after)) => {
                let len = SV2_FRAME_HEADER_SIZE + f.payload.len();
                assert_eq!(len + after.len(), rest.len());
                assert_eq!(f.header.to_bytes(), rest[..SV2_FRAME_HEADER_SIZE]);
                assert_eq!(f.header.frame_len(), len);
                let own = Sv2Frame::from_bytes(rest[..len].to_vec()).expect("whole frame");
                assert_eq!(own.as_bytes(), &rest[..len]);
                assert_eq!(own.as_frame(), f);
                assert_eq!(f.to_owned_frame(), own);
                let h = Header::new(
                    f.header.extension_type(),
                    f.header.channel_msg(),
                    f.header.msg_type(),
                    f.header.msg_length(),
                )
                .expect("a parsed header is a valid header");
                assert_eq!(h, f.header);
                check_any_message(
                    f.header.raw_extension_type(),
                    f.header.msg_type(),
                    f.payload,
                );
                rest = after;
                if rest.is_empty() {
                    break;
                }
            }
            Err(_) => {
                assert!(Sv2Frame::from_bytes(rest).is_err());
                break;
            }
        }
    }
}

type Parse<'a, T> = fn(u8, &'a [u8]) -> Result<T, ParserError>;
type ParsePrefix<'a, T> = fn(u8, &'a [u8]) -> Result<(T, &'a [u8]), ParserError>;

/// One subprotocol: the first byte picks one of its messages, the rest is the payload.
fn subprotocol<'a, T: Encodable>(
    messages: &[MessageInfo],
    data: &'a [u8],
    parse: Parse<'a, T>,
    parse_prefix: ParsePrefix<'a, T>,
) {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    // Mostly a message of this subprotocol; sometimes the raw byte (unknown types too).
    let msg_type = if pick & 0x80 == 0 {
        messages[pick as usize % messages.len()].msg_type
    } else {
        pick
    };
    let whole = parse(msg_type, payload);
    match parse_prefix(msg_type, payload) {
        Ok((m, rest)) => {
            assert!(rest.len() <= payload.len());
            match &whole {
                Ok(w) => {
                    assert!(rest.is_empty());
                    assert_eq!(encode(w), encode(&m));
                }
                Err(_) => assert!(!rest.is_empty(), "parse failed, parse_prefix took it all"),
            }
        }
        Err(_) => assert!(whole.is_err(), "parse_prefix failed where parse did not"),
    }
    let ext = messages[0].extension_type;
    if whole.is_ok() {
        check_any_message(ext, msg_type, payload);
    }
}

/// Common messages (SetupConnection and friends).
pub fn common(data: &[u8]) {
    subprotocol(
        CommonMessages::MESSAGES,
        data,
        CommonMessages::parse,
        CommonMessages::parse_prefix,
    );
}

/// Mining Protocol messages.
pub fn mining(data: &[u8]) {
    subprotocol(Mining::MESSAGES, data, Mining::parse, Mining::parse_prefix);
}

/// Template Distribution Protocol messages.
pub fn template_distribution(data: &[u8]) {
    subprotocol(
        TemplateDistribution::MESSAGES,
        data,
        TemplateDistribution::parse,
        TemplateDistribution::parse_prefix,
    );
}

/// Job Declaration Protocol messages.
pub fn job_declaration(data: &[u8]) {
    subprotocol(
        JobDeclaration::MESSAGES,
        data,
        JobDeclaration::parse,
        JobDeclaration::parse_prefix,
    );
}

/// The TLV reader: `data` as the TLV fields after a message (and, for the first byte's low
/// bit set, as a SubmitShares.Extended with TLVs after it, where extension 0x0002 puts them).
pub fn tlv(data: &[u8]) {
    if let Ok(list) = TlvList::parse(data) {
        assert_eq!(list.as_bytes(), data);
        let mut out = Vec::new();
        for t in list.iter() {
            t.write_to_vec(&mut out).expect("a read TLV writes back");
            assert_eq!(
                list.find(t.extension_type, t.field_type)
                    .map(|f| f.extension_type),
                Some(t.extension_type)
            );
        }
        assert_eq!(out, data, "TLVs re-encode to the same bytes");
        if let Ok(Some(id)) = UserIdentity::find(&list) {
            assert!(id.as_bytes().len() <= UserIdentity::MAX_LEN);
            let t = id.to_tlv();
            let mut one = Vec::new();
            t.write_to_vec(&mut one).unwrap();
            let back = TlvList::parse(&one).unwrap();
            assert_eq!(back.iter().collect::<Vec<Tlv>>(), vec![t]);
        }
    }
    if let Some((&first, rest)) = data.split_first() {
        if first & 1 == 1 {
            let (ext, mt) = (0, const_sv2::MESSAGE_TYPE_SUBMIT_SHARES_EXTENDED);
            if let Ok((m, tlvs)) = AnyMessage::parse_with_tlvs(ext, mt, rest) {
                let mut bytes = encode(&m);
                bytes.extend_from_slice(tlvs.as_bytes());
                assert_round_trip(rest, &bytes, "SubmitShares.Extended + TLVs");
            }
        }
    }
}

//! One golden vector per message, laid out by hand from the spec's field tables
//! (03-Protocol-Overview.md 3.6, 05, 06, 07 and extensions/0x0001): each payload is written
//! field by field with the field's name, type and value beside its bytes. Decoding the bytes
//! must give exactly the listed values, and encoding those values must give exactly the bytes.
//!
//! Conventions used below: integers little-endian; STR0_255/B0_255/B0_32 = U8 length + bytes;
//! B0_64K = U16 length; B0_16M = U24 length; SEQ0_255 = U8 count; SEQ0_64K = U16 count;
//! OPTION = count 00/01 + value; BOOL = 00/01; F32 = IEEE-754 binary32 LE (1.0 = 0000803f).

use binary_sv2::Encodable;
use roles_logic_sv2::parsers::AnyMessage;
use serde_json::{json, Value};

/// U256 used everywhere below: bytes 0x01..=0x20 in wire order.
const A: &str = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

struct Golden {
    name: &'static str,
    extension_type: u16,
    msg_type: u8,
    channel_bit: bool,
    fields: Value,
    /// The payload, one entry per field (or part of a field).
    layout: Vec<&'static str>,
}

fn goldens() -> Vec<Golden> {
    vec![
        // ---------------------------------------------------------------- common (3.6)
        Golden {
            name: "SetupConnection",
            extension_type: 0,
            msg_type: 0x00,
            channel_bit: false,
            fields: json!({"protocol": 0, "min_version": 2, "max_version": 2, "flags": 6,
                "endpoint_host": "pool", "endpoint_port": 3333, "vendor": "acme",
                "hardware_version": "", "firmware": "f1", "device_id": ""}),
            layout: vec![
                "00",         // protocol U8 = 0 (mining)
                "0200",       // min_version U16 = 2
                "0200",       // max_version U16 = 2
                "06000000",   // flags U32 = 6 (REQUIRES_WORK_SELECTION | REQUIRES_VERSION_ROLLING)
                "04706f6f6c", // endpoint_host STR0_255 = "pool"
                "050d",       // endpoint_port U16 = 3333
                "0461636d65", // vendor STR0_255 = "acme"
                "00",         // hardware_version STR0_255 = ""
                "026631",     // firmware STR0_255 = "f1"
                "00",         // device_id STR0_255 = ""
            ],
        },
        Golden {
            name: "SetupConnection.Success",
            extension_type: 0,
            msg_type: 0x01,
            channel_bit: false,
            fields: json!({"used_version": 2, "flags": 3}),
            layout: vec![
                "0200",     // used_version U16 = 2
                "03000000", // flags U32 = 3
            ],
        },
        Golden {
            name: "SetupConnection.Error",
            extension_type: 0,
            msg_type: 0x02,
            channel_bit: false,
            fields: json!({"flags": 4, "error_code": "unsupported-protocol"}),
            layout: vec![
                "04000000",                                 // flags U32 = 4
                "14",                                       // error_code STR0_255: length 20
                "756e737570706f727465642d70726f746f636f6c", // "unsupported-protocol"
            ],
        },
        Golden {
            name: "ChannelEndpointChanged",
            extension_type: 0,
            msg_type: 0x03,
            channel_bit: true,
            fields: json!({"channel_id": 0x01020304}),
            layout: vec![
                "04030201", // channel_id U32 = 0x01020304
            ],
        },
        Golden {
            name: "Reconnect",
            extension_type: 0,
            msg_type: 0x04,
            channel_bit: false,
            fields: json!({"new_host": "h", "new_port": 4444}),
            layout: vec![
                "0168", // new_host STR0_255 = "h"
                "5c11", // new_port U16 = 4444
            ],
        },
        // ---------------------------------------------------------------- mining (05)
        Golden {
            name: "OpenStandardMiningChannel",
            extension_type: 0,
            msg_type: 0x10,
            channel_bit: false,
            fields: json!({"request_id": 1, "user_identity": "u", "nominal_hash_rate": 1.0, "max_target": A}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "0175",     // user_identity STR0_255 = "u"
                "0000803f", // nominal_hash_rate F32 = 1.0
                A,          // max_target U256
            ],
        },
        Golden {
            name: "OpenStandardMiningChannel.Success",
            extension_type: 0,
            msg_type: 0x11,
            channel_bit: false,
            fields: json!({"request_id": 1, "channel_id": 2, "target": A, "extranonce_prefix": "aabb", "group_channel_id": 3}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "02000000", // channel_id U32 = 2
                A,          // target U256
                "02aabb",   // extranonce_prefix B0_32 = aa bb
                "03000000", // group_channel_id U32 = 3
            ],
        },
        Golden {
            name: "OpenMiningChannel.Error",
            extension_type: 0,
            msg_type: 0x12,
            channel_bit: false,
            fields: json!({"request_id": 1, "error_code": "unknown-user"}),
            layout: vec![
                "01000000",                   // request_id U32 = 1
                "0c756e6b6e6f776e2d75736572", // error_code STR0_255 = "unknown-user" (12)
            ],
        },
        Golden {
            name: "OpenExtendedMiningChannel",
            extension_type: 0,
            msg_type: 0x13,
            channel_bit: false,
            fields: json!({"request_id": 1, "user_identity": "u", "nominal_hash_rate": 2.0, "max_target": A, "min_extranonce_size": 8}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "0175",     // user_identity STR0_255 = "u"
                "00000040", // nominal_hash_rate F32 = 2.0
                A,          // max_target U256
                "0800",     // min_extranonce_size U16 = 8
            ],
        },
        Golden {
            name: "OpenExtendedMiningChannel.Success",
            extension_type: 0,
            msg_type: 0x14,
            channel_bit: false,
            fields: json!({"request_id": 1, "channel_id": 2, "target": A, "extranonce_size": 16, "extranonce_prefix": "aabb", "group_channel_id": 3}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "02000000", // channel_id U32 = 2
                A,          // target U256
                "1000",     // extranonce_size U16 = 16
                "02aabb",   // extranonce_prefix B0_32 = aa bb
                "03000000", // group_channel_id U32 = 3
            ],
        },
        Golden {
            name: "NewMiningJob",
            extension_type: 0,
            msg_type: 0x15,
            channel_bit: true,
            fields: json!({"channel_id": 2, "job_id": 5, "min_ntime": 0x65000000u32, "version": 0x20000000u32, "merkle_root": A}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "05000000", // job_id U32 = 5
                "01", "00000065", // min_ntime OPTION[U32] = Some(0x65000000)
                "00000020", // version U32 = 0x20000000
                A,          // merkle_root U256
            ],
        },
        Golden {
            name: "UpdateChannel",
            extension_type: 0,
            msg_type: 0x16,
            channel_bit: true,
            fields: json!({"channel_id": 2, "nominal_hash_rate": 1.0, "maximum_target": A}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "0000803f", // nominal_hash_rate F32 = 1.0
                A,          // maximum_target U256
            ],
        },
        Golden {
            name: "UpdateChannel.Error",
            extension_type: 0,
            msg_type: 0x17,
            channel_bit: true,
            fields: json!({"channel_id": 2, "error_code": "invalid-channel-id"}),
            layout: vec![
                "02000000",                               // channel_id U32 = 2
                "12696e76616c69642d6368616e6e656c2d6964", // error_code STR0_255 = "invalid-channel-id" (18)
            ],
        },
        Golden {
            name: "CloseChannel",
            extension_type: 0,
            msg_type: 0x18,
            channel_bit: true,
            fields: json!({"channel_id": 2, "reason_code": "bye"}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "03627965", // reason_code STR0_255 = "bye"
            ],
        },
        Golden {
            name: "SetExtranoncePrefix",
            extension_type: 0,
            msg_type: 0x19,
            channel_bit: true,
            fields: json!({"channel_id": 2, "extranonce_prefix": "010203"}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "03010203", // extranonce_prefix B0_32 = 01 02 03
            ],
        },
        Golden {
            name: "SubmitSharesStandard",
            extension_type: 0,
            msg_type: 0x1a,
            channel_bit: true,
            fields: json!({"channel_id": 2, "sequence_number": 7, "job_id": 5, "nonce": 0xdeadbeefu32, "ntime": 0x65000000u32, "version": 0x20000000u32}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "07000000", // sequence_number U32 = 7
                "05000000", // job_id U32 = 5
                "efbeadde", // nonce U32 = 0xdeadbeef
                "00000065", // ntime U32 = 0x65000000
                "00000020", // version U32 = 0x20000000
            ],
        },
        Golden {
            name: "SubmitSharesExtended",
            extension_type: 0,
            msg_type: 0x1b,
            channel_bit: true,
            fields: json!({"channel_id": 2, "sequence_number": 7, "job_id": 5, "nonce": 0xdeadbeefu32, "ntime": 0x65000000u32, "version": 0x20000000u32, "extranonce": "11223344"}),
            layout: vec![
                "02000000",   // channel_id U32 = 2
                "07000000",   // sequence_number U32 = 7
                "05000000",   // job_id U32 = 5
                "efbeadde",   // nonce U32 = 0xdeadbeef
                "00000065",   // ntime U32 = 0x65000000
                "00000020",   // version U32 = 0x20000000
                "0411223344", // extranonce B0_32 = 11 22 33 44
            ],
        },
        Golden {
            name: "SubmitShares.Success",
            extension_type: 0,
            msg_type: 0x1c,
            channel_bit: true,
            fields: json!({"channel_id": 2, "last_sequence_number": 7, "new_submits_accepted_count": 3, "new_shares_sum": 0x0102030405060708u64}),
            layout: vec![
                "02000000",         // channel_id U32 = 2
                "07000000",         // last_sequence_number U32 = 7
                "03000000",         // new_submits_accepted_count U32 = 3
                "0807060504030201", // new_shares_sum U64 = 0x0102030405060708
            ],
        },
        Golden {
            name: "SubmitShares.Error",
            extension_type: 0,
            msg_type: 0x1d,
            channel_bit: true,
            fields: json!({"channel_id": 2, "sequence_number": 7, "error_code": "stale-share"}),
            layout: vec![
                "02000000",                 // channel_id U32 = 2
                "07000000",                 // sequence_number U32 = 7
                "0b7374616c652d7368617265", // error_code STR0_255 = "stale-share" (11)
            ],
        },
        Golden {
            name: "NewExtendedMiningJob",
            extension_type: 0,
            msg_type: 0x1f,
            channel_bit: true,
            fields: json!({"channel_id": 2, "job_id": 5, "min_ntime": null, "version": 0x20000000u32,
                "version_rolling_allowed": true, "merkle_path": [A], "coinbase_tx_prefix": "0102", "coinbase_tx_suffix": "03"}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "05000000", // job_id U32 = 5
                "00",       // min_ntime OPTION[U32] = None (future job)
                "00000020", // version U32 = 0x20000000
                "01",       // version_rolling_allowed BOOL = true
                "01", A, // merkle_path SEQ0_255[U256]: 1 element
                "0200", "0102", // coinbase_tx_prefix B0_64K = 01 02
                "0100", "03", // coinbase_tx_suffix B0_64K = 03
            ],
        },
        Golden {
            name: "SetNewPrevHash",
            extension_type: 0,
            msg_type: 0x20,
            channel_bit: true,
            fields: json!({"channel_id": 2, "job_id": 5, "prev_hash": A, "min_ntime": 0x65000000u32, "nbits": 0x1d00ffffu32}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "05000000", // job_id U32 = 5
                A,          // prev_hash U256
                "00000065", // min_ntime U32 = 0x65000000
                "ffff001d", // nbits U32 = 0x1d00ffff
            ],
        },
        Golden {
            name: "SetTarget",
            extension_type: 0,
            msg_type: 0x21,
            channel_bit: true,
            fields: json!({"channel_id": 2, "maximum_target": A}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                A,          // maximum_target U256
            ],
        },
        Golden {
            name: "SetCustomMiningJob",
            extension_type: 0,
            msg_type: 0x22,
            channel_bit: true,
            fields: json!({"channel_id": 2, "request_id": 1, "mining_job_token": "ab", "version": 0x20000000u32,
                "prev_hash": A, "min_ntime": 0x65000000u32, "nbits": 0x1d00ffffu32, "coinbase_tx_version": 2,
                "coinbase_prefix": "03010203", "coinbase_tx_input_n_sequence": 0xffffffffu32,
                "coinbase_tx_outputs": "", "coinbase_tx_locktime": 0, "merkle_path": []}),
            layout: vec![
                "02000000",   // channel_id U32 = 2
                "01000000",   // request_id U32 = 1
                "01ab",       // mining_job_token B0_255 = ab
                "00000020",   // version U32 = 0x20000000
                A,            // prev_hash U256
                "00000065",   // min_ntime U32 = 0x65000000
                "ffff001d",   // nbits U32 = 0x1d00ffff
                "02000000",   // coinbase_tx_version U32 = 2
                "0403010203", // coinbase_prefix B0_255 = 03 01 02 03 (BIP34 height push)
                "ffffffff",   // coinbase_tx_input_nSequence U32 = 0xffffffff
                "0000",       // coinbase_tx_outputs B0_64K = empty
                "00000000",   // coinbase_tx_locktime U32 = 0
                "00",         // merkle_path SEQ0_255[U256] = empty
            ],
        },
        Golden {
            name: "SetCustomMiningJob.Success",
            extension_type: 0,
            msg_type: 0x23,
            channel_bit: true,
            fields: json!({"channel_id": 2, "request_id": 1, "job_id": 5}),
            layout: vec![
                "02000000", // channel_id U32 = 2
                "01000000", // request_id U32 = 1
                "05000000", // job_id U32 = 5
            ],
        },
        Golden {
            name: "SetCustomMiningJob.Error",
            extension_type: 0,
            msg_type: 0x24,
            channel_bit: true,
            fields: json!({"channel_id": 2, "request_id": 1, "error_code": "invalid-mining-job-token"}),
            layout: vec![
                "02000000",                                           // channel_id U32 = 2
                "01000000",                                           // request_id U32 = 1
                "18696e76616c69642d6d696e696e672d6a6f622d746f6b656e", // error_code STR0_255 (24)
            ],
        },
        Golden {
            name: "SetGroupChannel",
            extension_type: 0,
            msg_type: 0x25,
            channel_bit: false,
            fields: json!({"group_channel_id": 3, "channel_ids": [1, 2]}),
            layout: vec![
                "03000000", // group_channel_id U32 = 3
                "0200",     // channel_ids SEQ0_64K[U32]: 2 elements
                "01000000", //   1
                "02000000", //   2
            ],
        },
        // ---------------------------------------------------------------- job declaration (06)
        Golden {
            name: "AllocateMiningJobToken",
            extension_type: 0,
            msg_type: 0x50,
            channel_bit: false,
            fields: json!({"user_identifier": "u", "request_id": 1}),
            layout: vec![
                "0175",     // user_identifier STR0_255 = "u"
                "01000000", // request_id U32 = 1
            ],
        },
        Golden {
            name: "AllocateMiningJobToken.Success",
            extension_type: 0,
            msg_type: 0x51,
            channel_bit: false,
            fields: json!({"request_id": 1, "mining_job_token": "abcd", "coinbase_tx_outputs": "00"}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "02abcd",   // mining_job_token B0_255 = ab cd
                "0100", "00", // coinbase_tx_outputs B0_64K = 00 (zero outputs)
            ],
        },
        Golden {
            name: "ProvideMissingTransactions",
            extension_type: 0,
            msg_type: 0x55,
            channel_bit: false,
            fields: json!({"request_id": 1, "unknown_tx_position_list": [1, 0x0203]}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "0200",     // unknown_tx_position_list SEQ0_64K[U16]: 2 elements
                "0100",     //   1
                "0302",     //   0x0203
            ],
        },
        Golden {
            name: "ProvideMissingTransactions.Success",
            extension_type: 0,
            msg_type: 0x56,
            channel_bit: false,
            fields: json!({"request_id": 1, "transaction_list": ["aa", ""]}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "0200",     // transaction_list SEQ0_64K[B0_16M]: 2 elements
                "010000", "aa",     //   B0_16M = aa
                "000000", //   B0_16M = empty
            ],
        },
        Golden {
            name: "DeclareMiningJob",
            extension_type: 0,
            msg_type: 0x57,
            channel_bit: false,
            fields: json!({"request_id": 1, "mining_job_token": "ab", "version": 0x20000000u32,
                "coinbase_tx_prefix": "01", "coinbase_tx_suffix": "02", "wtxid_list": [A], "excess_data": ""}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "01ab",     // mining_job_token B0_255 = ab
                "00000020", // version U32 = 0x20000000
                "0100", "01", // coinbase_tx_prefix B0_64K = 01
                "0100", "02", // coinbase_tx_suffix B0_64K = 02
                "0100", A,      // wtxid_list SEQ0_64K[U256]: 1 element
                "0000", // excess_data B0_64K = empty
            ],
        },
        Golden {
            name: "DeclareMiningJob.Success",
            extension_type: 0,
            msg_type: 0x58,
            channel_bit: false,
            fields: json!({"request_id": 1, "new_mining_job_token": "cd"}),
            layout: vec![
                "01000000", // request_id U32 = 1
                "01cd",     // new_mining_job_token B0_255 = cd
            ],
        },
        Golden {
            name: "DeclareMiningJob.Error",
            extension_type: 0,
            msg_type: 0x59,
            channel_bit: false,
            fields: json!({"request_id": 1, "error_code": "invalid-mining-job-token", "error_details": "ee"}),
            layout: vec![
                "01000000",                                           // request_id U32 = 1
                "18696e76616c69642d6d696e696e672d6a6f622d746f6b656e", // error_code STR0_255 (24)
                "0100",
                "ee", // error_details B0_64K = ee
            ],
        },
        Golden {
            name: "PushSolution",
            extension_type: 0,
            msg_type: 0x60,
            channel_bit: false,
            fields: json!({"extranonce": "0102", "prev_hash": A, "nonce": 0xdeadbeefu32, "ntime": 0x65000000u32,
                "nbits": 0x1d00ffffu32, "version": 0x20000000u32}),
            layout: vec![
                "020102",   // extranonce B0_32 = 01 02
                A,          // prev_hash U256
                "efbeadde", // nonce U32 = 0xdeadbeef
                "00000065", // ntime U32 = 0x65000000
                "ffff001d", // nbits U32 = 0x1d00ffff
                "00000020", // version U32 = 0x20000000
            ],
        },
        // ---------------------------------------------------------------- template distribution (07)
        Golden {
            name: "CoinbaseOutputConstraints",
            extension_type: 0,
            msg_type: 0x70,
            channel_bit: false,
            fields: json!({"coinbase_output_max_additional_size": 100, "coinbase_output_max_additional_sigops": 4}),
            layout: vec![
                "64000000", // coinbase_output_max_additional_size U32 = 100
                "0400",     // coinbase_output_max_additional_sigops U16 = 4
            ],
        },
        Golden {
            name: "NewTemplate",
            extension_type: 0,
            msg_type: 0x71,
            channel_bit: false,
            fields: json!({"template_id": 0x0102030405060708u64, "future_template": false, "version": 0x20000000u32,
                "coinbase_tx_version": 2, "coinbase_prefix": "03010203", "coinbase_tx_input_sequence": 0xffffffffu32,
                "coinbase_tx_value_remaining": 625000000, "coinbase_tx_outputs_count": 0, "coinbase_tx_outputs": "",
                "coinbase_tx_locktime": 0, "merkle_path": []}),
            layout: vec![
                "0807060504030201", // template_id U64 = 0x0102030405060708
                "00",               // future_template BOOL = false
                "00000020",         // version U32 = 0x20000000
                "02000000",         // coinbase_tx_version U32 = 2
                "0403010203",       // coinbase_prefix B0_255 = 03 01 02 03
                "ffffffff",         // coinbase_tx_input_sequence U32
                "40be402500000000", // coinbase_tx_value_remaining U64 = 625000000 (6.25 BTC)
                "00000000",         // coinbase_tx_outputs_count U32 = 0
                "0000",             // coinbase_tx_outputs B0_64K = empty
                "00000000",         // coinbase_tx_locktime U32 = 0
                "00",               // merkle_path SEQ0_255[U256] = empty
            ],
        },
        Golden {
            name: "SetNewPrevHash",
            extension_type: 0,
            msg_type: 0x72,
            channel_bit: false,
            fields: json!({"template_id": 1, "prev_hash": A, "header_timestamp": 0x65000000u32, "n_bits": 0x1d00ffffu32, "target": A}),
            layout: vec![
                "0100000000000000", // template_id U64 = 1
                A,                  // prev_hash U256
                "00000065",         // header_timestamp U32 = 0x65000000
                "ffff001d",         // nBits U32 = 0x1d00ffff
                A,                  // target U256
            ],
        },
        Golden {
            name: "RequestTransactionData",
            extension_type: 0,
            msg_type: 0x73,
            channel_bit: false,
            fields: json!({"template_id": 1}),
            layout: vec![
                "0100000000000000", // template_id U64 = 1
            ],
        },
        Golden {
            name: "RequestTransactionData.Success",
            extension_type: 0,
            msg_type: 0x74,
            channel_bit: false,
            fields: json!({"template_id": 1, "excess_data": "", "transaction_list": ["0102"]}),
            layout: vec![
                "0100000000000000", // template_id U64 = 1
                "0000",             // excess_data B0_64K = empty
                "0100",             // transaction_list SEQ0_64K[B0_16M]: 1 element
                "020000",
                "0102", //   B0_16M = 01 02
            ],
        },
        Golden {
            name: "RequestTransactionData.Error",
            extension_type: 0,
            msg_type: 0x75,
            channel_bit: false,
            fields: json!({"template_id": 1, "error_code": "stale-template-id"}),
            layout: vec![
                "0100000000000000",                     // template_id U64 = 1
                "117374616c652d74656d706c6174652d6964", // error_code STR0_255 = "stale-template-id" (17)
            ],
        },
        Golden {
            name: "SubmitSolution",
            extension_type: 0,
            msg_type: 0x76,
            channel_bit: false,
            fields: json!({"template_id": 1, "version": 0x20000000u32, "header_timestamp": 0x65000000u32,
                "header_nonce": 0xdeadbeefu32, "coinbase_tx": "01"}),
            layout: vec![
                "0100000000000000", // template_id U64 = 1
                "00000020",         // version U32 = 0x20000000
                "00000065",         // header_timestamp U32 = 0x65000000
                "efbeadde",         // header_nonce U32 = 0xdeadbeef
                "0100",
                "01", // coinbase_tx B0_64K = 01
            ],
        },
        // ---------------------------------------------------------------- extension 0x0001
        Golden {
            name: "RequestExtensions",
            extension_type: 1,
            msg_type: 0x00,
            channel_bit: false,
            fields: json!({"request_id": 1, "requested_extensions": [2]}),
            layout: vec![
                "0100", // request_id U16 = 1
                "0100", "0200", // requested_extensions SEQ0_64K[U16] = [0x0002]
            ],
        },
        Golden {
            name: "RequestExtensions.Success",
            extension_type: 1,
            msg_type: 0x01,
            channel_bit: false,
            fields: json!({"request_id": 1, "supported_extensions": [2]}),
            layout: vec![
                "0100", // request_id U16 = 1
                "0100", "0200", // supported_extensions SEQ0_64K[U16] = [0x0002]
            ],
        },
        Golden {
            name: "RequestExtensions.Error",
            extension_type: 1,
            msg_type: 0x02,
            channel_bit: false,
            fields: json!({"request_id": 1, "unsupported_extensions": [3], "required_extensions": []}),
            layout: vec![
                "0100", // request_id U16 = 1
                "0100", "0300", // unsupported_extensions SEQ0_64K[U16] = [0x0003]
                "0000", // required_extensions SEQ0_64K[U16] = []
            ],
        },
    ]
}

#[test]
fn there_is_a_golden_vector_for_every_message() {
    let mut covered: Vec<_> = goldens()
        .iter()
        .map(|g| (g.extension_type, g.msg_type))
        .collect();
    covered.sort();
    covered.dedup();
    assert_eq!(covered.len(), AnyMessage::messages().count());
}

#[test]
fn golden_bytes_decode_to_the_listed_fields() {
    for g in goldens() {
        let payload = hex::decode(g.layout.concat()).unwrap();
        let msg = AnyMessage::parse(g.extension_type, g.msg_type, &payload)
            .unwrap_or_else(|e| panic!("{}: {e}", g.name));
        assert_eq!(msg.name(), g.name);
        assert_eq!(msg.channel_bit(), g.channel_bit, "{}", g.name);
        assert_eq!(serde_json::to_value(&msg).unwrap(), g.fields, "{}", g.name);
    }
}

#[test]
fn golden_fields_encode_to_the_listed_bytes() {
    for g in goldens() {
        let msg = AnyMessage::deserialize_fields(g.extension_type, g.msg_type, g.fields.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", g.name));
        assert_eq!(
            hex::encode(msg.to_bytes().unwrap()),
            g.layout.concat(),
            "{}",
            g.name
        );
        // The frame: extension_type (with channel bit) U16, msg_type U8, msg_length U24.
        let mut frame = vec![0u8; 6 + msg.encoded_len()];
        framing_sv2::encode_frame_with(
            g.extension_type,
            g.channel_bit,
            g.msg_type,
            &msg,
            &mut frame,
        )
        .unwrap();
        let ext = g.extension_type | if g.channel_bit { 0x8000 } else { 0 };
        let len = msg.encoded_len() as u32;
        assert_eq!(
            frame[..6],
            [
                ext as u8,
                (ext >> 8) as u8,
                g.msg_type,
                len as u8,
                (len >> 8) as u8,
                (len >> 16) as u8
            ]
        );
    }
}

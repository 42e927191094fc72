/*
 * Unit tests of every function of sv2.h, from C: the happy path, and bad input (NULL
 * pointers, truncated bytes, wrong lengths, wrong types, tampered ciphertext) that must return
 * an error and never crash. Run under valgrind by test/integration/tests/c_api.rs, which
 * also fails on any leak or invalid access.
 *
 * Build: gcc -std=c99 -Wall -Wextra -Werror -pedantic -I protocols/v2/sv2-ffi \
 *            test_sv2.c target/debug/libsv2_ffi.a -lpthread -ldl -lm -lrt -lutil -lgcc_s
 */
#include "sv2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, sv2_last_error());                                \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(expr, want) CHECK((expr) == (want))

static const char *AUTHORITY_SECRET = "jvRuXAe3N2zzAdps41oF4gN82Ft85p48GBPxngwAVqKep9gGu";
static const char *AUTHORITY_PUBLIC = "9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb8";
/* Another authority's public key (the test template provider's development key). */
static const char *OTHER_PUBLIC = "9bpB99rJdrGJ4m1N8HbdzKVAVxwRP5QGpTXq8jeethTXWy9mZ7p";

static Sv2Str str_of(const char *s) {
    Sv2Str r;
    r.data = s;
    r.len = strlen(s);
    return r;
}

/* Move every queued output byte of `from` into `to`. */
static Sv2Status pump(Sv2Codec *from, Sv2Codec *to) {
    const uint8_t *data = NULL;
    size_t len = 0;
    Sv2Status s = sv2_codec_output(from, &data, &len);
    if (s != SV2_OK) return s;
    s = sv2_codec_feed(to, data, len);
    if (s != SV2_OK) return s;
    return sv2_codec_consume_output(from, len);
}

/* Copy the queued output of `c` into `buf` (at most `cap` bytes) and consume it. */
static size_t take_output(Sv2Codec *c, uint8_t *buf, size_t cap) {
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK_STATUS(sv2_codec_output(c, &data, &len), SV2_OK);
    CHECK(len <= cap);
    if (len > cap) len = cap;
    if (len) memcpy(buf, data, len);
    CHECK_STATUS(sv2_codec_consume_output(c, len), SV2_OK);
    return len;
}

static void test_status_text_and_last_error(void) {
    CHECK(strcmp(sv2_status_text(SV2_OK), "ok") == 0);
    CHECK(strcmp(sv2_status_text(SV2_ERR_DECODE), "decode error") == 0);
    CHECK(strcmp(sv2_status_text(12345), "unknown status") == 0);
    CHECK(strcmp(sv2_status_text(-12345), "unknown status") == 0);
    CHECK(sv2_last_error() != NULL);
    CHECK_STATUS(sv2_codec_new_plain(NULL), SV2_ERR_NULL_POINTER);
    CHECK(strstr(sv2_last_error(), "NULL") != NULL);
}

static void test_message_type_name(void) {
    CHECK(strcmp(sv2_message_type_name(SV2_MSG_SETUP_CONNECTION_SUCCESS),
                 "SetupConnection.Success") == 0);
    CHECK(strcmp(sv2_message_type_name(SV2_MSG_NEW_TEMPLATE), "NewTemplate") == 0);
    CHECK(sv2_message_type_name(0x1e) == NULL); /* reserved */
    CHECK(sv2_message_type_name(0xff) == NULL);
}

static void test_constructors_refuse_bad_arguments(void) {
    Sv2Codec *c = (Sv2Codec *)&c; /* must be overwritten with NULL on error */
    CHECK_STATUS(sv2_codec_new_initiator(NULL, &c), SV2_ERR_NULL_POINTER);
    CHECK(c == NULL);
    CHECK_STATUS(sv2_codec_new_initiator(AUTHORITY_PUBLIC, NULL), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_new_initiator("not a key", &c), SV2_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    CHECK_STATUS(sv2_codec_new_initiator("", &c), SV2_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sv2_codec_new_initiator("9cEFRK5yxdVniWatZwLj9fEurt6SkbC7sqQ9VBNzSjwv9t5Wnb9", &c),
                 SV2_ERR_INVALID_ARGUMENT); /* checksum */
    CHECK_STATUS(sv2_codec_new_responder(NULL, 60, &c), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_new_responder(AUTHORITY_SECRET, 60, NULL), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_new_responder(AUTHORITY_PUBLIC, 60, &c), SV2_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sv2_codec_new_responder(AUTHORITY_SECRET, 0, &c), SV2_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    sv2_codec_free(NULL); /* ignored */
}

static void test_null_codec_everywhere(void) {
    Sv2Message m;
    const uint8_t *data;
    size_t len;
    bool ready;
    Sv2Certificate cert;
    uint8_t byte = 0;
    memset(&m, 0, sizeof m);
    CHECK_STATUS(sv2_codec_feed(NULL, &byte, 1), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_next(NULL, &m), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_encode(NULL, &m), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_output(NULL, &data, &len), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_consume_output(NULL, 0), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_is_ready(NULL, &ready), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_certificate(NULL, &cert), SV2_ERR_NULL_POINTER);
    sv2_message_free(NULL); /* ignored */
}

static void test_null_outputs_and_wrong_lengths(void) {
    Sv2Codec *c = NULL;
    const uint8_t *data;
    size_t len;
    Sv2Certificate cert;
    CHECK_STATUS(sv2_codec_new_plain(&c), SV2_OK);
    CHECK_STATUS(sv2_codec_next(c, NULL), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_encode(c, NULL), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_output(c, NULL, &len), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_output(c, &data, NULL), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_is_ready(c, NULL), SV2_ERR_NULL_POINTER);
    CHECK_STATUS(sv2_codec_certificate(c, NULL), SV2_ERR_NULL_POINTER);
    /* NULL data is fine only with length 0. */
    CHECK_STATUS(sv2_codec_feed(c, NULL, 0), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, NULL, 5), SV2_ERR_INVALID_ARGUMENT);
    /* Nothing queued: consuming more than that is refused. */
    CHECK_STATUS(sv2_codec_output(c, &data, &len), SV2_OK);
    CHECK(len == 0);
    CHECK_STATUS(sv2_codec_consume_output(c, 1), SV2_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(sv2_codec_consume_output(c, 0), SV2_OK);
    /* A plain codec has no certificate. */
    CHECK_STATUS(sv2_codec_certificate(c, &cert), SV2_ERR_STATE);
    sv2_codec_free(c);
}

static void test_setup_connection_round_trip_byte_by_byte(void) {
    Sv2Codec *enc = NULL, *dec = NULL;
    Sv2Message m, got;
    uint8_t wire[512];
    size_t n, i;
    bool ready = false;
    CHECK_STATUS(sv2_codec_new_plain(&enc), SV2_OK);
    CHECK_STATUS(sv2_codec_new_plain(&dec), SV2_OK);
    CHECK_STATUS(sv2_codec_is_ready(enc, &ready), SV2_OK);
    CHECK(ready);

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_SETUP_CONNECTION;
    m.body.setup_connection.protocol = 0;
    m.body.setup_connection.min_version = 2;
    m.body.setup_connection.max_version = 2;
    m.body.setup_connection.flags = 0x5;
    m.body.setup_connection.endpoint_host = str_of("pool.example.com");
    m.body.setup_connection.endpoint_port = 3333;
    m.body.setup_connection.vendor = str_of("c-test");
    m.body.setup_connection.hardware_version = str_of("");
    m.body.setup_connection.firmware = str_of("1.0");
    m.body.setup_connection.device_id = str_of("");
    CHECK_STATUS(sv2_codec_encode(enc, &m), SV2_OK);
    n = take_output(enc, wire, sizeof wire);
    CHECK(n == 6 + 1 + 2 + 2 + 4 + 17 + 2 + 7 + 1 + 4 + 1);
    CHECK(wire[2] == SV2_MSG_SETUP_CONNECTION);

    for (i = 0; i + 1 < n; i++) {
        CHECK_STATUS(sv2_codec_feed(dec, wire + i, 1), SV2_OK);
        CHECK_STATUS(sv2_codec_next(dec, &got), SV2_NEED_MORE_BYTES);
        CHECK(got.storage == NULL);
    }
    CHECK_STATUS(sv2_codec_feed(dec, wire + n - 1, 1), SV2_OK);
    CHECK_STATUS(sv2_codec_next(dec, &got), SV2_OK);
    CHECK(got.msg_type == SV2_MSG_SETUP_CONNECTION);
    CHECK(got.body.setup_connection.flags == 0x5);
    CHECK(got.body.setup_connection.endpoint_port == 3333);
    /* Decoded strings are NUL-terminated. */
    CHECK(strcmp(got.body.setup_connection.endpoint_host.data, "pool.example.com") == 0);
    CHECK(got.body.setup_connection.endpoint_host.len == 16);
    CHECK(strcmp(got.body.setup_connection.device_id.data, "") == 0);
    sv2_message_free(&got);
    CHECK(got.storage == NULL);
    sv2_message_free(&got); /* a second free does nothing */
    CHECK_STATUS(sv2_codec_next(dec, &got), SV2_NEED_MORE_BYTES);
    sv2_codec_free(enc);
    sv2_codec_free(dec);
}

static void test_lists_bytes_and_options_round_trip(void) {
    Sv2Codec *c = NULL;
    Sv2Message m, got;
    uint8_t path[3][32];
    uint16_t positions[4] = {0, 1, 500, 65535};
    uint32_t channels[3] = {7, 8, 0xffffffffu};
    uint8_t tx_a[3] = {1, 2, 3}, tx_b[1] = {9};
    Sv2Bytes txs[3];
    int i;
    CHECK_STATUS(sv2_codec_new_plain(&c), SV2_OK);
    for (i = 0; i < 3; i++) memset(path[i], i + 1, 32);
    txs[0].data = tx_a; txs[0].len = 3;
    txs[1].data = NULL; txs[1].len = 0;
    txs[2].data = tx_b; txs[2].len = 1;

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_NEW_TEMPLATE;
    m.body.new_template.template_id = 0x0102030405060708ull;
    m.body.new_template.future_template = true;
    m.body.new_template.coinbase_tx_value_remaining = 625000000;
    m.body.new_template.merkle_path.items = (const uint8_t(*)[32])path;
    m.body.new_template.merkle_path.count = 3;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_OK);

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_PROVIDE_MISSING_TRANSACTIONS;
    m.body.provide_missing_transactions.request_id = 4;
    m.body.provide_missing_transactions.unknown_tx_position_list.items = positions;
    m.body.provide_missing_transactions.unknown_tx_position_list.count = 4;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_OK);

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_SET_GROUP_CHANNEL;
    m.body.set_group_channel.group_channel_id = 1;
    m.body.set_group_channel.channel_ids.items = channels;
    m.body.set_group_channel.channel_ids.count = 3;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_OK);

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_REQUEST_TRANSACTION_DATA_SUCCESS;
    m.body.request_transaction_data_success.template_id = 5;
    m.body.request_transaction_data_success.transaction_list.items = txs;
    m.body.request_transaction_data_success.transaction_list.count = 3;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_OK);

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_NEW_MINING_JOB;
    m.body.new_mining_job.min_ntime.is_some = true;
    m.body.new_mining_job.min_ntime.value = 1700000000u;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_OK);

    /* Loop the codec's output back into itself. */
    CHECK_STATUS(pump(c, c), SV2_OK);

    CHECK_STATUS(sv2_codec_next(c, &got), SV2_OK);
    CHECK(got.msg_type == SV2_MSG_NEW_TEMPLATE);
    CHECK(got.body.new_template.template_id == 0x0102030405060708ull);
    CHECK(got.body.new_template.future_template);
    CHECK(got.body.new_template.merkle_path.count == 3);
    CHECK(memcmp(got.body.new_template.merkle_path.items[2], path[2], 32) == 0);
    sv2_message_free(&got);

    CHECK_STATUS(sv2_codec_next(c, &got), SV2_OK);
    CHECK(got.body.provide_missing_transactions.unknown_tx_position_list.count == 4);
    CHECK(got.body.provide_missing_transactions.unknown_tx_position_list.items[2] == 500);
    CHECK(got.body.provide_missing_transactions.unknown_tx_position_list.items[3] == 65535);
    sv2_message_free(&got);

    CHECK_STATUS(sv2_codec_next(c, &got), SV2_OK);
    CHECK(got.body.set_group_channel.channel_ids.count == 3);
    CHECK(got.body.set_group_channel.channel_ids.items[2] == 0xffffffffu);
    sv2_message_free(&got);

    CHECK_STATUS(sv2_codec_next(c, &got), SV2_OK);
    CHECK(got.body.request_transaction_data_success.transaction_list.count == 3);
    CHECK(got.body.request_transaction_data_success.transaction_list.items[0].len == 3);
    CHECK(memcmp(got.body.request_transaction_data_success.transaction_list.items[0].data, tx_a,
                 3) == 0);
    CHECK(got.body.request_transaction_data_success.transaction_list.items[1].len == 0);
    CHECK(got.body.request_transaction_data_success.transaction_list.items[2].data[0] == 9);
    sv2_message_free(&got);

    CHECK_STATUS(sv2_codec_next(c, &got), SV2_OK);
    CHECK(got.body.new_mining_job.min_ntime.is_some);
    CHECK(got.body.new_mining_job.min_ntime.value == 1700000000u);
    sv2_message_free(&got);

    CHECK_STATUS(sv2_codec_next(c, &got), SV2_NEED_MORE_BYTES);
    sv2_codec_free(c);
}

static void test_encode_refuses_bad_messages(void) {
    Sv2Codec *c = NULL;
    Sv2Message m;
    char long_text[300];
    const uint8_t *data;
    size_t len;
    CHECK_STATUS(sv2_codec_new_plain(&c), SV2_OK);

    memset(&m, 0, sizeof m);
    m.msg_type = 0x1e; /* reserved, no message */
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_INVALID_ARGUMENT);
    m.msg_type = 0xff;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_INVALID_ARGUMENT);

    /* STR0_255 with 256 bytes. */
    memset(long_text, 'a', sizeof long_text);
    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_CLOSE_CHANNEL;
    m.body.close_channel.reason_code.data = long_text;
    m.body.close_channel.reason_code.len = 256;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_ENCODE);
    CHECK(strstr(sv2_last_error(), "reason_code") != NULL);
    m.body.close_channel.reason_code.len = 255;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_OK);

    /* B0_32 with 33 bytes. */
    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_SET_EXTRANONCE_PREFIX;
    m.body.set_extranonce_prefix.extranonce_prefix.data = (const uint8_t *)long_text;
    m.body.set_extranonce_prefix.extranonce_prefix.len = 33;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_ENCODE);

    /* NULL data with a length. */
    m.body.set_extranonce_prefix.extranonce_prefix.data = NULL;
    m.body.set_extranonce_prefix.extranonce_prefix.len = 4;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_INVALID_ARGUMENT);
    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_NEW_TEMPLATE;
    m.body.new_template.merkle_path.count = 2; /* items NULL */
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_INVALID_ARGUMENT);
    /* SEQ0_255 with 256 hashes. */
    {
        static uint8_t many[256][32];
        m.body.new_template.merkle_path.items = (const uint8_t(*)[32])many;
        m.body.new_template.merkle_path.count = 256;
        CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_ENCODE);
    }
    /* An impossible length. */
    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_SET_GROUP_CHANNEL;
    m.body.set_group_channel.channel_ids.items = (const uint32_t *)long_text;
    m.body.set_group_channel.channel_ids.count = (size_t)-1;
    CHECK_STATUS(sv2_codec_encode(c, &m), SV2_ERR_INVALID_ARGUMENT);

    /* Only the one good CloseChannel was queued. */
    CHECK_STATUS(sv2_codec_output(c, &data, &len), SV2_OK);
    CHECK(len == 6 + 4 + 1 + 255);
    sv2_codec_free(c);
}

static void test_decode_refuses_bad_frames(void) {
    Sv2Codec *c = NULL;
    Sv2Message got;
    /* SetupConnection.Success (6-byte payload) with a 5-byte payload. */
    static const uint8_t truncated[] = {0x00, 0x00, 0x01, 0x05, 0x00, 0x00, 2, 0, 1, 0, 0};
    /* ChannelEndpointChanged with a trailing byte. */
    static const uint8_t trailing[] = {0x00, 0x80, 0x03, 0x05, 0x00, 0x00, 7, 0, 0, 0, 0};
    /* A message type nobody defined, and an extension message. */
    static const uint8_t unknown[] = {0x00, 0x00, 0x7f, 0x00, 0x00, 0x00};
    static const uint8_t extension[] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 1, 0};
    /* NewMiningJob (channel_id, job_id, OPTION[U32], version, U256) whose OPTION byte is 2:
     * only 0 and 1 are allowed. Built below. */
    uint8_t bad_option[6 + 4 + 4 + 1 + 4 + 4 + 32];
    /* A good ChannelEndpointChanged to show the codec goes on. */
    static const uint8_t good[] = {0x00, 0x80, 0x03, 0x04, 0x00, 0x00, 9, 0, 0, 0};

    memset(bad_option, 0, sizeof bad_option);
    bad_option[1] = 0x80; /* channel message */
    bad_option[2] = SV2_MSG_NEW_MINING_JOB;
    bad_option[3] = (uint8_t)(sizeof bad_option - 6);
    bad_option[6 + 8] = 2;

    CHECK_STATUS(sv2_codec_new_plain(&c), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, truncated, sizeof truncated), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, trailing, sizeof trailing), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, unknown, sizeof unknown), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, extension, sizeof extension), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, bad_option, sizeof bad_option), SV2_OK);
    CHECK_STATUS(sv2_codec_feed(c, good, sizeof good), SV2_OK);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_ERR_DECODE);
    CHECK(got.storage == NULL);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_ERR_DECODE);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_ERR_UNKNOWN_MESSAGE);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_ERR_UNKNOWN_MESSAGE);
    CHECK(strstr(sv2_last_error(), "extension") != NULL);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_ERR_DECODE);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_OK);
    CHECK(got.body.channel_endpoint_changed.channel_id == 9);
    sv2_message_free(&got);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_NEED_MORE_BYTES);
    /* A header promising more than arrives: only "need more". */
    CHECK_STATUS(sv2_codec_feed(c, good, 8), SV2_OK);
    CHECK_STATUS(sv2_codec_next(c, &got), SV2_NEED_MORE_BYTES);
    sv2_codec_free(c); /* frees the partial frame too */
}

static void handshake(Sv2Codec **initiator, Sv2Codec **responder, const char *pub) {
    bool ready = true;
    CHECK_STATUS(sv2_codec_new_initiator(pub, initiator), SV2_OK);
    CHECK_STATUS(sv2_codec_new_responder(AUTHORITY_SECRET, 3600, responder), SV2_OK);
    CHECK_STATUS(sv2_codec_is_ready(*initiator, &ready), SV2_OK);
    CHECK(!ready);
    CHECK_STATUS(pump(*initiator, *responder), SV2_OK); /* message 1: 64 bytes */
    CHECK_STATUS(sv2_codec_is_ready(*responder, &ready), SV2_OK);
    CHECK(ready);
}

static void test_noise_round_trip_and_tampering(void) {
    Sv2Codec *i = NULL, *r = NULL;
    Sv2Message m, got;
    Sv2Certificate cert;
    uint8_t wire[256];
    size_t n;
    bool ready = false;
    handshake(&i, &r, AUTHORITY_PUBLIC);
    CHECK_STATUS(sv2_codec_certificate(i, &cert), SV2_ERR_STATE); /* not done yet */
    CHECK_STATUS(pump(r, i), SV2_OK); /* message 2: 234 bytes */
    CHECK_STATUS(sv2_codec_is_ready(i, &ready), SV2_OK);
    CHECK(ready);
    CHECK_STATUS(sv2_codec_certificate(i, &cert), SV2_OK);
    CHECK(cert.version == 0);
    CHECK(cert.not_valid_after - cert.valid_from >= 3600);
    CHECK_STATUS(sv2_codec_certificate(r, &cert), SV2_ERR_STATE);

    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_SUBMIT_SHARES_STANDARD;
    m.body.submit_shares_standard.channel_id = 1;
    m.body.submit_shares_standard.sequence_number = 2;
    m.body.submit_shares_standard.nonce = 0xdeadbeef;
    CHECK_STATUS(sv2_codec_encode(i, &m), SV2_OK);
    n = take_output(i, wire, sizeof wire);
    CHECK(n == 22 + 24 + 16); /* encrypted header, payload and its tag */
    CHECK_STATUS(sv2_codec_feed(r, wire, n), SV2_OK);
    CHECK_STATUS(sv2_codec_next(r, &got), SV2_OK);
    CHECK(got.msg_type == SV2_MSG_SUBMIT_SHARES_STANDARD);
    CHECK(got.body.submit_shares_standard.nonce == 0xdeadbeef);
    sv2_message_free(&got);

    /* The other way, and a flipped bit: fatal, and every later call says so. */
    CHECK_STATUS(sv2_codec_encode(r, &m), SV2_OK);
    n = take_output(r, wire, sizeof wire);
    wire[30] ^= 1;
    CHECK_STATUS(sv2_codec_feed(i, wire, n), SV2_OK);
    CHECK_STATUS(sv2_codec_next(i, &got), SV2_ERR_NOISE);
    CHECK_STATUS(sv2_codec_next(i, &got), SV2_ERR_STATE);
    CHECK_STATUS(sv2_codec_feed(i, wire, 1), SV2_ERR_STATE);
    CHECK_STATUS(sv2_codec_encode(i, &m), SV2_ERR_STATE);
    CHECK_STATUS(sv2_codec_is_ready(i, &ready), SV2_ERR_STATE);
    sv2_codec_free(i);
    sv2_codec_free(r);
}

static void test_noise_refuses_wrong_authority_and_early_encode(void) {
    Sv2Codec *i = NULL, *r = NULL;
    Sv2Message m;
    uint8_t junk[64];
    memset(&m, 0, sizeof m);
    m.msg_type = SV2_MSG_CHANNEL_ENDPOINT_CHANGED;

    handshake(&i, &r, OTHER_PUBLIC);
    CHECK_STATUS(sv2_codec_encode(i, &m), SV2_ERR_STATE); /* handshake not done */
    CHECK_STATUS(pump(r, i), SV2_ERR_NOISE);               /* certificate not ours */
    CHECK(strstr(sv2_last_error(), "signature") != NULL);
    sv2_codec_free(i);
    sv2_codec_free(r);

    /* A responder given 64 bytes that are not a key encoding still answers (ElligatorSwift
     * maps every 64 bytes to a point), but a truncated message 2 leaves the initiator
     * waiting, and garbage as message 2 fails it. */
    CHECK_STATUS(sv2_codec_new_initiator(AUTHORITY_PUBLIC, &i), SV2_OK);
    memset(junk, 0x5a, sizeof junk);
    CHECK_STATUS(sv2_codec_feed(i, junk, 64), SV2_OK); /* 64 of 234 bytes */
    {
        uint8_t more[170];
        bool ready = true;
        memset(more, 0xa5, sizeof more);
        CHECK_STATUS(sv2_codec_is_ready(i, &ready), SV2_OK);
        CHECK(!ready);
        CHECK_STATUS(sv2_codec_feed(i, more, sizeof more), SV2_ERR_NOISE);
    }
    sv2_codec_free(i);
}

int main(void) {
    test_status_text_and_last_error();
    test_message_type_name();
    test_constructors_refuse_bad_arguments();
    test_null_codec_everywhere();
    test_null_outputs_and_wrong_lengths();
    test_setup_connection_round_trip_byte_by_byte();
    test_lists_bytes_and_options_round_trip();
    test_encode_refuses_bad_messages();
    test_decode_refuses_bad_frames();
    test_noise_round_trip_and_tampering();
    test_noise_refuses_wrong_authority_and_early_encode();
    if (failures) {
        fprintf(stderr, "%d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("all %d checks passed\n", checks);
    return 0;
}

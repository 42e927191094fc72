/*
 * probe: connect to a Stratum V2 server, check its certificate against the authority key, and
 * ask it a SetupConnection for the mining protocol, like `sv2 probe`, from plain C.
 *
 *   probe HOST PORT [AUTHORITY_PUBLIC_KEY]
 *
 * Without a key the connection is plain (no encryption): only for servers on localhost.
 * Prints one JSON object per step; exits 0 when the server accepted SetupConnection.
 */
#define _POSIX_C_SOURCE 200112L
#include "sv2.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int connect_to(const char *host, const char *port) {
    struct addrinfo hints, *res, *ai;
    struct timeval timeout = {5, 0};
    int fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        /* A server that never answers must not hang the probe. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Write everything the codec has queued. */
static int flush(int fd, Sv2Codec *codec) {
    const uint8_t *data;
    size_t len;
    while (sv2_codec_output(codec, &data, &len) == SV2_OK && len > 0) {
        ssize_t n = send(fd, data, len, 0);
        if (n <= 0) return -1;
        sv2_codec_consume_output(codec, (size_t)n);
    }
    return 0;
}

/* Read once from the socket into the codec; -1 on close, timeout or a codec error. */
static int receive(int fd, Sv2Codec *codec) {
    uint8_t buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
        fprintf(stderr, "probe: connection closed or timed out\n");
        return -1;
    }
    if (sv2_codec_feed(codec, buf, (size_t)n) != SV2_OK) {
        fprintf(stderr, "probe: %s\n", sv2_last_error());
        return -1;
    }
    return 0;
}

static Sv2Str str_of(const char *s) {
    Sv2Str r;
    r.data = s;
    r.len = strlen(s);
    return r;
}

static void print_hex(const uint8_t *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", b[i]);
}

int main(int argc, char **argv) {
    Sv2Codec *codec = NULL;
    Sv2Message msg;
    Sv2Status s;
    bool ready = false;
    int fd, ok = 0;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s HOST PORT [AUTHORITY_PUBLIC_KEY]\n", argv[0]);
        return 2;
    }
    s = argc == 4 ? sv2_codec_new_initiator(argv[3], &codec) : sv2_codec_new_plain(&codec);
    if (s != SV2_OK) {
        fprintf(stderr, "probe: %s: %s\n", sv2_status_text(s), sv2_last_error());
        return 2;
    }
    fd = connect_to(argv[1], argv[2]);
    if (fd < 0) {
        fprintf(stderr, "probe: cannot connect to %s:%s\n", argv[1], argv[2]);
        sv2_codec_free(codec);
        return 1;
    }

    /* The handshake: send what the codec queued, feed what comes back, until ready. */
    while (flush(fd, codec) == 0 && sv2_codec_is_ready(codec, &ready) == SV2_OK && !ready) {
        if (receive(fd, codec) != 0) goto done;
    }
    if (!ready) goto done;
    if (argc == 4) {
        Sv2Certificate cert;
        if (sv2_codec_certificate(codec, &cert) != SV2_OK) goto done;
        printf("{\"certificate\":{\"authority_public_key\":\"%s\",\"server_static_key\":\"",
               argv[3]);
        print_hex(cert.server_static_key, 32);
        printf("\",\"version\":%u,\"valid_from\":%u,\"not_valid_after\":%u,"
               "\"signature\":\"valid\"}}\n",
               cert.version, cert.valid_from, cert.not_valid_after);
    } else {
        printf("{\"connection\":\"plain (no encryption, no authentication)\"}\n");
    }

    memset(&msg, 0, sizeof msg);
    msg.msg_type = SV2_MSG_SETUP_CONNECTION;
    msg.body.setup_connection.protocol = 0; /* mining */
    msg.body.setup_connection.min_version = 2;
    msg.body.setup_connection.max_version = 2;
    msg.body.setup_connection.endpoint_host = str_of(argv[1]);
    msg.body.setup_connection.endpoint_port = (uint16_t)atoi(argv[2]);
    msg.body.setup_connection.vendor = str_of("sv2-ffi c probe");
    msg.body.setup_connection.hardware_version = str_of("");
    msg.body.setup_connection.firmware = str_of("");
    msg.body.setup_connection.device_id = str_of("");
    if (sv2_codec_encode(codec, &msg) != SV2_OK || flush(fd, codec) != 0) goto done;

    for (;;) {
        s = sv2_codec_next(codec, &msg);
        if (s == SV2_NEED_MORE_BYTES) {
            if (receive(fd, codec) != 0) goto done;
            continue;
        }
        if (s != SV2_OK) {
            fprintf(stderr, "probe: %s: %s\n", sv2_status_text(s), sv2_last_error());
            goto done;
        }
        break;
    }
    switch (msg.msg_type) {
    case SV2_MSG_SETUP_CONNECTION_SUCCESS:
        printf("{\"message\":\"SetupConnection.Success\",\"used_version\":%u,\"flags\":%u}\n",
               msg.body.setup_connection_success.used_version,
               msg.body.setup_connection_success.flags);
        ok = 1;
        break;
    case SV2_MSG_SETUP_CONNECTION_ERROR:
        printf("{\"message\":\"SetupConnection.Error\",\"flags\":%u,\"error_code\":\"%s\"}\n",
               msg.body.setup_connection_error.flags,
               msg.body.setup_connection_error.error_code.data);
        break;
    default:
        printf("{\"message\":\"%s\"}\n", sv2_message_type_name(msg.msg_type));
    }
    sv2_message_free(&msg);

done:
    close(fd);
    sv2_codec_free(codec);
    return ok ? 0 : 1;
}

// A template provider in C++ on top of sv2.h: it accepts a pool over TCP with the noise
// handshake (the pool checks our certificate against our authority key), answers
// SetupConnection, sends NewTemplate and SetNewPrevHash after the pool's
// CoinbaseOutputConstraints, and takes the pool's SubmitSolution; each solution moves the tip
// and the pool gets the next template.
//
//   template_provider [--listen 127.0.0.1:8442] [--authority-secret KEY] [--blocks N]
//                     [--cert-validity SECS] [--plain]
//
// It exits 0 after N solutions (default: runs until killed). --plain drops the encryption
// (for a pool without tp_authority_public_key on localhost, and for the library built
// without noise in examples/interop-cpp-no-cargo). The chain is synthetic
// (regtest difficulty, no transactions) and blocks are not validated: this shows the wire,
// not a node. The default key is the public development key of our Rust template provider.
#include "sv2.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const char *kDevAuthoritySecret = "2ZeiGcThzCtWLmFbZZNTnPyPkyKsAhLqEmeuY5wnHv2fgUHuDg";
// Regtest's compact target: about every second hash is a block.
const uint32_t kBits = 0x207fffff;

// Throws with the library's reason when a call fails.
void check(Sv2Status s, const char *what) {
    if (s != SV2_OK) {
        throw std::runtime_error(std::string(what) + ": " + sv2_status_text(s) + ": " +
                                 sv2_last_error());
    }
}

// One codec, freed on every path out.
class Codec {
  public:
    // A noise responder, or a plain codec when `secret` is null.
    Codec(const char *secret, uint32_t validity) {
        if (secret) {
            check(sv2_codec_new_responder(secret, validity, &codec_), "responder");
        } else {
            check(sv2_codec_new_plain(&codec_), "plain codec");
        }
    }
    ~Codec() { sv2_codec_free(codec_); }
    Codec(const Codec &) = delete;
    Codec &operator=(const Codec &) = delete;
    Sv2Codec *get() { return codec_; }

  private:
    Sv2Codec *codec_ = nullptr;
};

// A decoded message, freed when it goes out of scope.
struct Message {
    Sv2Message m;
    Message() { std::memset(&m, 0, sizeof m); }
    ~Message() { sv2_message_free(&m); }
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
};

Sv2Str str_of(const char *s) {
    Sv2Str r;
    r.data = s;
    r.len = std::strlen(s);
    return r;
}

struct Chain {
    uint32_t height = 1000;
    uint8_t tip[32] = {0};
    uint64_t next_template_id = 1;
    uint64_t current_template = 0;
    // BIP34: the height as a script push at the start of the coinbase script.
    std::vector<uint8_t> coinbase_prefix() const {
        std::vector<uint8_t> p;
        uint32_t h = height;
        std::vector<uint8_t> num;
        while (h) {
            num.push_back(h & 0xff);
            h >>= 8;
        }
        if (!num.empty() && (num.back() & 0x80)) num.push_back(0);
        p.push_back(static_cast<uint8_t>(num.size()));
        p.insert(p.end(), num.begin(), num.end());
        return p;
    }
    // The next block's parent: a synthetic hash that differs per height.
    void advance() {
        height++;
        for (int i = 0; i < 32; i++) tip[i] = static_cast<uint8_t>(height * 31 + i * 7);
    }
};

class Connection {
  public:
    Connection(int fd, const char *secret, uint32_t validity, Chain &chain)
        : fd_(fd), codec_(secret, validity), chain_(chain) {}

    // Serve the pool until it disconnects or `blocks_left` reaches 0. Returns the number of
    // solutions received.
    int serve(int blocks_left) {
        int solutions = 0;
        for (;;) {
            Message msg;
            Sv2Status s = sv2_codec_next(codec_.get(), &msg.m);
            if (s == SV2_NEED_MORE_BYTES) {
                if (!flush() || !receive()) return solutions;
                continue;
            }
            if (s == SV2_ERR_DECODE || s == SV2_ERR_UNKNOWN_MESSAGE) {
                std::printf("ignored a frame: %s\n", sv2_last_error());
                continue;
            }
            check(s, "decode");
            if (handle(msg.m)) {
                solutions++;
                if (--blocks_left == 0) {
                    flush();
                    return solutions;
                }
            }
            if (!flush()) return solutions;
        }
    }

  private:
    // True for an accepted solution.
    bool handle(const Sv2Message &m) {
        switch (m.msg_type) {
        case SV2_MSG_SETUP_CONNECTION: {
            const Sv2SetupConnection &sc = m.body.setup_connection;
            std::printf("SetupConnection protocol=%u versions=%u..%u vendor=%s\n", sc.protocol,
                        sc.min_version, sc.max_version, sc.vendor.data);
            Sv2Message reply;
            std::memset(&reply, 0, sizeof reply);
            if (sc.protocol == 2 && sc.min_version <= 2 && 2 <= sc.max_version) {
                reply.msg_type = SV2_MSG_SETUP_CONNECTION_SUCCESS;
                reply.body.setup_connection_success.used_version = 2;
            } else {
                reply.msg_type = SV2_MSG_SETUP_CONNECTION_ERROR;
                reply.body.setup_connection_error.error_code =
                    str_of(sc.protocol != 2 ? "unsupported-protocol" : "protocol-version-mismatch");
            }
            check(sv2_codec_encode(codec_.get(), &reply), "encode SetupConnection answer");
            return false;
        }
        case SV2_MSG_COINBASE_OUTPUT_CONSTRAINTS:
            std::printf("CoinbaseOutputConstraints max_additional_size=%u sigops=%u\n",
                        m.body.coinbase_output_constraints.coinbase_output_max_additional_size,
                        m.body.coinbase_output_constraints.coinbase_output_max_additional_sigops);
            send_template();
            return false;
        case SV2_MSG_REQUEST_TRANSACTION_DATA: {
            Sv2Message reply;
            std::memset(&reply, 0, sizeof reply);
            reply.msg_type = SV2_MSG_REQUEST_TRANSACTION_DATA_SUCCESS;
            reply.body.request_transaction_data_success.template_id =
                m.body.request_transaction_data.template_id;
            check(sv2_codec_encode(codec_.get(), &reply), "encode RequestTransactionData.Success");
            return false;
        }
        case SV2_MSG_SUBMIT_SOLUTION: {
            const Sv2SubmitSolution &s = m.body.submit_solution;
            bool current = s.template_id == chain_.current_template;
            std::printf("SubmitSolution template_id=%llu height=%u version=0x%08x "
                        "header_timestamp=%u header_nonce=0x%08x coinbase_tx=%zu bytes%s\n",
                        static_cast<unsigned long long>(s.template_id), chain_.height, s.version,
                        s.header_timestamp, s.header_nonce, s.coinbase_tx.len,
                        current ? "" : " (stale template: ignored)");
            std::fflush(stdout);
            if (!current) return false;
            chain_.advance();
            send_template();
            return true;
        }
        default:
            std::printf("unexpected %s: ignored\n", sv2_message_type_name(m.msg_type));
            return false;
        }
    }

    // A future template on the next height, then the prev hash that activates it.
    void send_template() {
        uint64_t id = chain_.next_template_id++;
        chain_.current_template = id;
        std::vector<uint8_t> prefix = chain_.coinbase_prefix();

        Sv2Message t;
        std::memset(&t, 0, sizeof t);
        t.msg_type = SV2_MSG_NEW_TEMPLATE;
        Sv2NewTemplate &nt = t.body.new_template;
        nt.template_id = id;
        nt.future_template = true;
        nt.version = 0x20000000;
        nt.coinbase_tx_version = 2;
        nt.coinbase_prefix.data = prefix.data();
        nt.coinbase_prefix.len = prefix.size();
        nt.coinbase_tx_input_sequence = 0xffffffff;
        nt.coinbase_tx_value_remaining = 5000000000ull;
        nt.coinbase_tx_outputs_count = 0;
        nt.coinbase_tx_locktime = 0;
        check(sv2_codec_encode(codec_.get(), &t), "encode NewTemplate");

        Sv2Message p;
        std::memset(&p, 0, sizeof p);
        p.msg_type = SV2_MSG_TEMPLATE_DISTRIBUTION_SET_NEW_PREV_HASH;
        Sv2TemplateDistributionSetNewPrevHash &ph = p.body.template_distribution_set_new_prev_hash;
        ph.template_id = id;
        std::memcpy(ph.prev_hash, chain_.tip, 32);
        ph.header_timestamp = static_cast<uint32_t>(std::time(nullptr));
        ph.n_bits = kBits;
        // The target of kBits, little-endian: 0x7fffff << (8 * (0x20 - 3)).
        ph.target[29] = 0xff;
        ph.target[30] = 0xff;
        ph.target[31] = 0x7f;
        check(sv2_codec_encode(codec_.get(), &p), "encode SetNewPrevHash");
        std::printf("NewTemplate template_id=%llu height=%u + SetNewPrevHash\n",
                    static_cast<unsigned long long>(id), chain_.height);
        std::fflush(stdout);
    }

    bool flush() {
        const uint8_t *data;
        size_t len;
        while (sv2_codec_output(codec_.get(), &data, &len) == SV2_OK && len > 0) {
            ssize_t n = ::send(fd_, data, len, MSG_NOSIGNAL);
            if (n <= 0) return false;
            check(sv2_codec_consume_output(codec_.get(), static_cast<size_t>(n)), "consume");
        }
        return true;
    }

    bool receive() {
        uint8_t buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        // A failed handshake (or decryption) throws: the connection is dropped.
        check(sv2_codec_feed(codec_.get(), buf, static_cast<size_t>(n)), "feed");
        return true;
    }

    int fd_;
    Codec codec_;
    Chain &chain_;
};

int listen_on(const std::string &address) {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--listen wants HOST:PORT");
    sockaddr_in sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1)));
    if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
        throw std::runtime_error("--listen wants an IPv4 address");
    }
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0 ||
        ::listen(fd, 4) != 0) {
        throw std::runtime_error("cannot listen on " + address);
    }
    return fd;
}

}  // namespace

int main(int argc, char **argv) {
    std::string listen = "127.0.0.1:8442";
    const char *secret = kDevAuthoritySecret;
    long blocks = -1;
    uint32_t validity = 3600;
    for (int i = 1; i < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--plain") {
            secret = nullptr;
            i--;
            continue;
        }
        if (i + 1 == argc) {
            std::fprintf(stderr, "%s needs a value\n", argv[i]);
            return 2;
        }
        if (flag == "--listen") listen = argv[i + 1];
        else if (flag == "--authority-secret") secret = argv[i + 1];
        else if (flag == "--blocks") blocks = std::atol(argv[i + 1]);
        else if (flag == "--cert-validity") validity = static_cast<uint32_t>(std::atol(argv[i + 1]));
        else {
            std::fprintf(stderr, "unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    try {
        int lfd = listen_on(listen);
        std::printf("template provider listening on %s (%s)\n", listen.c_str(),
                    secret ? "noise" : "plain");
        std::fflush(stdout);
        Chain chain;
        chain.advance();
        while (blocks != 0) {
            int fd = ::accept(lfd, nullptr, nullptr);
            if (fd < 0) continue;
            std::printf("pool connected\n");
            try {
                Connection conn(fd, secret, validity, chain);
                blocks -= conn.serve(blocks < 0 ? -1 : static_cast<int>(blocks));
            } catch (const std::exception &e) {
                std::printf("connection dropped: %s\n", e.what());
            }
            ::close(fd);
            std::fflush(stdout);
        }
        ::close(lfd);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "template_provider: %s\n", e.what());
        return 1;
    }
    return 0;
}

// SHA-1 (FIPS 180-4), base64 and base64url (RFC 4648), checked against the published test vectors.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <tether/core/base64.hpp>
#include <tether/core/sha1.hpp>
#include <tether/ws/handshake.hpp>

namespace {
std::string hex(const tether::core::sha1::digest_type& d) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto b : d) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}
}  // namespace

using tether::core::base64_decode;
using tether::core::base64_encode;
using tether::core::base64url_decode;
using tether::core::base64url_encode;
using tether::core::sha1;
using tether::core::sha1_digest;

TEST_CASE("SHA-1 of \"abc\" matches FIPS 180 example 1") {
    CHECK(hex(sha1_digest("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST_CASE("SHA-1 of the empty string is the well-known value") {
    CHECK(hex(sha1_digest("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_CASE("SHA-1 of the 448-bit message needs a second padding block") {
    CHECK(hex(sha1_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST_CASE("SHA-1 of the 896-bit message") {
    CHECK(hex(sha1_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
                          "lmnopqrsmnopqrstnopqrstu")) == "a49b2446a02c645bf419f995b67091253a04a259");
}

TEST_CASE("SHA-1 of one million 'a' fed in uneven pieces") {
    sha1 h;
    const std::string chunk(997, 'a');  // prime-sized, so pieces straddle every block offset
    std::size_t left = 1'000'000;
    while (left > 0) {
        const std::size_t n = std::min(left, chunk.size());
        h.update(std::string_view(chunk).substr(0, n));
        left -= n;
    }
    CHECK(hex(h.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("SHA-1 gives the same digest however the input is split") {
    const std::string text = "The quick brown fox jumps over the lazy dog, then keeps running for a few blocks more "
                             "so that the split points cross the 64-byte block boundary more than once.";
    const auto whole = sha1_digest(text);
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        sha1 h;
        h.update(std::string_view(text).substr(0, cut)).update(std::string_view(text).substr(cut));
        REQUIRE(h.finish() == whole);
    }
}

TEST_CASE("SHA-1 can be computed at compile time") {
    constexpr auto d = sha1_digest("abc");
    STATIC_REQUIRE(d[0] == 0xa9);
    STATIC_REQUIRE(d[19] == 0x9d);
}

TEST_CASE("SHA-1 reset starts a fresh digest") {
    sha1 h;
    h.update("something else");
    h.reset();
    h.update("abc");
    CHECK(hex(h.finish()) == "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST_CASE("base64 encodes the RFC 4648 section 10 vectors") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK(base64_encode("fooba") == "Zm9vYmE=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64 decodes the RFC 4648 section 10 vectors") {
    CHECK(base64_decode("") == std::string(""));
    CHECK(base64_decode("Zg==") == std::string("f"));
    CHECK(base64_decode("Zm8=") == std::string("fo"));
    CHECK(base64_decode("Zm9v") == std::string("foo"));
    CHECK(base64_decode("Zm9vYg==") == std::string("foob"));
    CHECK(base64_decode("Zm9vYmE=") == std::string("fooba"));
    CHECK(base64_decode("Zm9vYmFy") == std::string("foobar"));
}

TEST_CASE("base64 round-trips every byte value and the high alphabet characters") {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t len = 0; len <= all.size(); ++len) {
        const std::string_view in = std::string_view(all).substr(0, len);
        REQUIRE(base64_decode(base64_encode(in)) == std::string(in));
    }
    CHECK(base64_encode("\xfb\xff") == "+/8=");
}

TEST_CASE("base64 decoding is strict") {
    SECTION("missing padding is rejected") { CHECK_FALSE(base64_decode("Zg")); }
    SECTION("a length that is not a multiple of 4 is rejected") { CHECK_FALSE(base64_decode("Zm9vY")); }
    SECTION("characters outside the alphabet are rejected") {
        CHECK_FALSE(base64_decode("Zm9v!A=="));
        CHECK_FALSE(base64_decode("Zm9-"));  // URL-safe alphabet is not accepted
    }
    SECTION("whitespace is rejected") { CHECK_FALSE(base64_decode("Zm9v YmFy")); }
    SECTION("padding in the middle is rejected") {
        CHECK_FALSE(base64_decode("Zg==Zm9v"));
        CHECK_FALSE(base64_decode("Z=g="));
    }
    SECTION("too much padding is rejected") {
        CHECK_FALSE(base64_decode("Z==="));
        CHECK_FALSE(base64_decode("===="));
    }
    SECTION("non-zero bits under the padding are rejected") {
        CHECK_FALSE(base64_decode("Zh=="));  // would also decode to "f"
        CHECK_FALSE(base64_decode("Zm9="));  // would also decode to "fo"
    }
}

TEST_CASE("base64url encodes the RFC 4648 section 10 vectors without padding") {
    CHECK(base64url_encode("") == "");
    CHECK(base64url_encode("f") == "Zg");
    CHECK(base64url_encode("fo") == "Zm8");
    CHECK(base64url_encode("foo") == "Zm9v");
    CHECK(base64url_encode("foob") == "Zm9vYg");
    CHECK(base64url_encode("fooba") == "Zm9vYmE");
    CHECK(base64url_encode("foobar") == "Zm9vYmFy");
    CHECK(base64url_encode("\xfb\xff") == "-_8");   // the two characters §5 changes
}

TEST_CASE("base64url decodes the JWS header of RFC 7515 appendix A.1") {
    CHECK(base64url_decode("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9") ==
          std::string("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"));
    CHECK(base64url_decode("Zm9vYmE") == std::string("fooba"));
    CHECK(base64url_decode("Zm8") == std::string("fo"));
    CHECK(base64url_decode("") == std::string(""));
}

TEST_CASE("base64url round-trips every byte value at every length") {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t len = 0; len <= all.size(); ++len) {
        const std::string_view in = std::string_view(all).substr(0, len);
        const std::string text = base64url_encode(in);
        REQUIRE(text.size() == tether::core::base64url_encoded_size(len));
        REQUIRE(base64url_decode(text) == std::string(in));
    }
}

TEST_CASE("base64url decoding is strict") {
    SECTION("padding is refused (RFC 7515 section 2)") {
        CHECK_FALSE(base64url_decode("Zg=="));
        CHECK_FALSE(base64url_decode("Zm8="));
    }
    SECTION("one character left over is no byte at all") { CHECK_FALSE(base64url_decode("Zm9vY")); }
    SECTION("the standard alphabet's + and / are refused") {
        CHECK_FALSE(base64url_decode("+/8"));
        CHECK_FALSE(base64url_decode("Zm9v+A"));
    }
    SECTION("whitespace and dots are refused") {
        CHECK_FALSE(base64url_decode("Zm9v.YmF"));
        CHECK_FALSE(base64url_decode("Zm9v.YmF"));
        CHECK_FALSE(base64url_decode("Zm9vYmF\n"));
    }
    SECTION("a high byte is refused") { CHECK_FALSE(base64url_decode("Zm\x80v")); }
    SECTION("non-zero bits past the last byte are refused, so no value has two spellings") {
        CHECK_FALSE(base64url_decode("Zh"));    // would also decode to "f"
        CHECK_FALSE(base64url_decode("Zm9"));   // would also decode to "fo"
        CHECK(base64url_decode("Zg") == std::string("f"));
    }
}

TEST_CASE("the RFC 6455 section 1.3 sample key gives the sample accept value") {
    CHECK(tether::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

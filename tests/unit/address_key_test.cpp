// net::address_key: the text form every log line and X-Forwarded-For decision rests on. IPv4 is
// formatted by hand (inet_ntop's sprintf was the access log's largest cost), so it is checked
// against inet_ntop itself, on addresses whose octets take one, two and three digits.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include <tether/net/admission.hpp>

using tether::net::address_key;

namespace {

std::string libc_text(const address_key& k) {
    char buffer[INET6_ADDRSTRLEN];
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(k.bytes.data(), mapped, 12) == 0) return ::inet_ntop(AF_INET, k.bytes.data() + 12, buffer, sizeof buffer);
    return ::inet_ntop(AF_INET6, k.bytes.data(), buffer, sizeof buffer);
}

} // namespace

TEST_CASE("address_key: IPv4 text round-trips and matches inet_ntop") {
    for (const char* text : {"0.0.0.0", "255.255.255.255", "127.0.0.1", "10.0.100.9", "192.168.1.20", "1.22.203.44"}) {
        address_key k;
        REQUIRE(address_key::parse(text, k));
        CHECK(k.to_string() == text);
        CHECK(k.to_string() == libc_text(k));
    }
}

TEST_CASE("address_key: every octet value formats as inet_ntop does") {
    address_key k;
    REQUIRE(address_key::parse("0.0.0.0", k));
    for (unsigned v = 0; v < 256; ++v) {
        k.bytes[12] = static_cast<unsigned char>(v);
        k.bytes[15] = static_cast<unsigned char>(255 - v);
        REQUIRE(k.to_string() == libc_text(k));
    }
}

TEST_CASE("address_key: IPv6 keeps RFC 5952's compressed form") {
    for (const char* text : {"::1", "2001:db8::1", "fe80::1:2:3:4", "::"}) {
        address_key k;
        REQUIRE(address_key::parse(text, k));
        CHECK(k.to_string() == text);
    }
    address_key bad;
    CHECK_FALSE(address_key::parse("300.1.1.1", bad));
    CHECK_FALSE(address_key::parse("example.org", bad));
}

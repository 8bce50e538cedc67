// The RFC 6455 §4 opening handshake helpers: accept key, client keys, header token lists, request checks.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <tether/ws/handshake.hpp>

using namespace tether::ws;

TEST_CASE("the accept key is base64(SHA-1(key + GUID)) as in RFC 6455 section 1.3") {
    CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");  // RFC 6455 §1.2
}

TEST_CASE("a client key must be the base64 of exactly 16 bytes") {
    CHECK(is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK_FALSE(is_valid_client_key(""));
    CHECK_FALSE(is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));      // padding stripped
    CHECK_FALSE(is_valid_client_key("dGhlIHNhbXBsZSBub25jZSE="));    // 17 bytes
    CHECK_FALSE(is_valid_client_key("dGhlIHNhbXBsZSBub25j"));        // 15 bytes
    CHECK_FALSE(is_valid_client_key("dGhlIHNhbXBsZSBub25jZR=="));    // non-canonical padding bits
    CHECK_FALSE(is_valid_client_key("dGhlIHNhbXBsZSBub25jZQ==  "));  // trailing spaces are the HTTP layer's job
    CHECK_FALSE(is_valid_client_key("dGhlIHNhbXBsZSBub25j!Q=="));
}

TEST_CASE("a client key generated from 16 random bytes is a valid key") {
    const std::array<std::uint8_t, 16> nonce{'t', 'h', 'e', ' ', 's', 'a', 'm', 'p', 'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
    const std::string key = make_client_key(nonce);
    CHECK(key == "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(is_valid_client_key(key));
}

TEST_CASE("a client accepts only the exact accept value for its key") {
    CHECK(is_valid_accept("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    CHECK_FALSE(is_valid_accept("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo"));
    CHECK_FALSE(is_valid_accept("dGhlIHNhbXBsZSBub25jZQ==", "S3PPLMBITXAQ9KYGZZHZRBK+XOO="));
}

TEST_CASE("token lists are split on commas with surrounding whitespace removed") {
    CHECK(split_tokens("keep-alive, Upgrade") == std::vector<std::string_view>{"keep-alive", "Upgrade"});
    CHECK(split_tokens(" chat ,\tsuperchat\t") == std::vector<std::string_view>{"chat", "superchat"});
    CHECK(split_tokens("") == std::vector<std::string_view>{});
    SECTION("empty elements are skipped") {
        CHECK(split_tokens(",a,, ,b,") == std::vector<std::string_view>{"a", "b"});
    }
}

TEST_CASE("Connection and Upgrade tokens compare case-insensitively") {
    CHECK(has_token("keep-alive, Upgrade", "upgrade"));
    CHECK(has_token("UPGRADE", "upgrade"));
    CHECK(has_token("websocket", "WebSocket"));
    CHECK_FALSE(has_token("keep-alive", "upgrade"));
    CHECK_FALSE(has_token("upgrade-insecure", "upgrade"));  // whole tokens only
    CHECK_FALSE(has_token("", "upgrade"));
}

TEST_CASE("the chosen subprotocol is the client's most preferred one the server supports") {
    const std::array<std::string_view, 2> supported{"superchat", "chat"};
    CHECK(select_subprotocol("chat, superchat", supported) == "chat");
    CHECK(select_subprotocol("v2.json, superchat", supported) == "superchat");
    CHECK_FALSE(select_subprotocol("v2.json", supported));
    CHECK_FALSE(select_subprotocol("", supported));
    SECTION("subprotocols compare exactly, since browsers check the echo byte for byte") {
        CHECK_FALSE(select_subprotocol("Chat", supported));
    }
}

TEST_CASE("a well-formed upgrade request passes the check") {
    upgrade_request r{"GET", "websocket", "keep-alive, Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ=="};
    CHECK(check_upgrade_request(r) == handshake_error::none);
    SECTION("Upgrade may list other protocols and use any case") {
        r.upgrade = "h2c, WebSocket";
        CHECK(check_upgrade_request(r) == handshake_error::none);
    }
}

TEST_CASE("malformed upgrade requests are refused with the reason") {
    const upgrade_request good{"GET", "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ=="};
    auto r = good;
    SECTION("not GET") {
        r.method = "POST";
        CHECK(check_upgrade_request(r) == handshake_error::method_not_get);
    }
    SECTION("no websocket in Upgrade") {
        r.upgrade = "h2c";
        CHECK(check_upgrade_request(r) == handshake_error::missing_upgrade);
    }
    SECTION("no Upgrade in Connection") {
        r.connection = "keep-alive";
        CHECK(check_upgrade_request(r) == handshake_error::missing_connection);
    }
    SECTION("a version other than 13 (the server answers 426)") {
        r.sec_websocket_version = "8";
        CHECK(check_upgrade_request(r) == handshake_error::unsupported_version);
        r.sec_websocket_version = "";
        CHECK(check_upgrade_request(r) == handshake_error::unsupported_version);
    }
    SECTION("a key that is not 16 bytes of base64") {
        r.sec_websocket_key = "short";
        CHECK(check_upgrade_request(r) == handshake_error::invalid_key);
    }
    CHECK_FALSE(to_string(check_upgrade_request(r)).empty());
}

// The command line every example and benchmark server shares (tether/cli.hpp).
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include <tether/cli.hpp>

namespace {

tether::server_options parse(std::vector<std::string> args) {
    std::vector<char*> argv{const_cast<char*>("program")};
    for (auto& a : args) argv.push_back(a.data());
    return tether::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

} // namespace

TEST_CASE("the shared command line sets host, port, threads and the connection cap", "[cli]") {
    auto o = parse({"--host", "0.0.0.0", "--port", "0", "--threads", "3", "--max-connections", "500"});
    CHECK(o.host == "0.0.0.0");
    CHECK(o.port == 0);
    CHECK(o.threads == 3);
    CHECK(o.max_connections == 500);
    CHECK(parse({}).max_connections == 0);   // derived from the descriptor limit
}

TEST_CASE("a bad command line is refused with a message naming the option", "[cli]") {
    CHECK_THROWS_WITH(parse({"--max-connections", "0"}), Catch::Contains("--max-connections"));
    CHECK_THROWS_WITH(parse({"--max-connections", "many"}), Catch::Contains("--max-connections"));
    CHECK_THROWS_WITH(parse({"--port", "70000"}), Catch::Contains("--port"));
    CHECK_THROWS_WITH(parse({"--bogus", "1"}), Catch::Contains("--bogus"));
    CHECK_THROWS_WITH(parse({"--help"}), Catch::Contains("--max-connections"));
}

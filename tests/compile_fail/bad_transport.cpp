// Must NOT compile: a config whose transport is not a transport. The build test checks that the
// error is the one readable static_assert from basic_server, not a template backtrace.
#include <tether/server.hpp>

struct not_a_transport {};
struct bad_config : tether::default_config {
    using transport = not_a_transport;
};

int main() { tether::basic_server<bad_config> app; }

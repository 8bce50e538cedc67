// Must compile: overriding one policy leaves the others at their defaults.
#include <tether/server.hpp>

struct quiet_config : tether::default_config {
    using logger = tether::log::null_logger;
};
static_assert(std::is_same_v<quiet_config::transport, tether::transport::tcp>);

int main() { tether::basic_server<quiet_config> app{{.port = 0}}; }

// Must NOT compile: a logger without log(level, string_view).
#include <tether/server.hpp>

struct mute {};
struct bad_config : tether::default_config {
    using logger = mute;
};

int main() { tether::basic_server<bad_config> app; }

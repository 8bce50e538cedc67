#pragma once
// The Redis backplane (optional: link tether::redis, which brings hiredis). See redis/backplane.hpp.
#include <tether/redis/backplane.hpp>

#pragma once
// "The socket has nothing more for now" (EAGAIN / EWOULDBLOCK), asked of a transport's error code.
//
// `ec == asio::error::would_block` builds an error_code on every call (a function-local static
// for the category, then a compare of category and value), and the I/O loops ask it after every
// read and write, mostly of a cleared code: testing `ec` first makes the common, successful case
// one compare.
#include <asio/error.hpp>
#include <system_error>

namespace tether::net {

inline bool would_block(const std::error_code& ec) noexcept {
    return ec && (ec == asio::error::would_block || ec == asio::error::try_again);
}

} // namespace tether::net

// The byte buffer a connection's output and a response's field lines live in (include/tether/http/byte_buffer.hpp):
// room made by extend() is kept across growth, appends of every size land exactly, and copies, moves, swaps,
// clear() and release() keep or drop the bytes and the storage as each says.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <tether/http/byte_buffer.hpp>

using tether::http::byte_buffer;

namespace {
std::string piece(std::size_t n, std::size_t seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i + seed) % 26);
    return s;
}
} // namespace

TEST_CASE("appends of every length from 0 to 200 read back as one string built the same way", "[http][byte_buffer]") {
    byte_buffer buffer;
    std::string expected;
    for (std::size_t n = 0; n <= 200; ++n) {
        buffer.append(piece(n, n));
        expected += piece(n, n);
    }
    CHECK(buffer.size() == expected.size());
    CHECK(buffer.view() == expected);
    CHECK(buffer.capacity() >= buffer.size());
}

TEST_CASE("room made by extend() is where the next bytes go, and growing keeps what was written", "[http][byte_buffer]") {
    byte_buffer buffer;
    CHECK(buffer.empty());
    char* at = buffer.extend(3);
    at[0] = 'a', at[1] = 'b', at[2] = 'c';
    const std::size_t first_capacity = buffer.capacity();
    at = buffer.extend(first_capacity);   // past the capacity: the storage moves
    for (std::size_t i = 0; i < first_capacity; ++i) at[i] = 'x';
    CHECK(buffer.capacity() > first_capacity);
    CHECK(buffer.view().substr(0, 3) == "abc");
    CHECK(buffer.size() == 3 + first_capacity);
    buffer.append("!").append("?");
    CHECK(buffer.view().substr(buffer.size() - 3) == "x!?");
    CHECK(buffer.size() == 5 + first_capacity);
}

TEST_CASE("copies, moves and swaps carry the bytes; clear() keeps the storage, release() frees it", "[http][byte_buffer]") {
    byte_buffer a;
    a.append("first ").append(piece(100, 3));
    const std::string expected = "first " + piece(100, 3);

    byte_buffer copy(a);
    CHECK(copy.view() == expected);
    CHECK(copy.data() != a.data());
    byte_buffer assigned;
    assigned.append("old");
    assigned = a;
    CHECK(assigned.view() == expected);
    const byte_buffer& same = assigned;
    assigned = same;   // self-assignment leaves it as it was
    CHECK(assigned.view() == expected);

    byte_buffer moved(std::move(copy));
    CHECK(moved.view() == expected);
    CHECK(copy.empty());   // NOLINT: a moved-from buffer is empty by this type's contract
    byte_buffer b;
    b.append("second");
    moved.swap(b);
    CHECK(moved.view() == "second");
    CHECK(b.view() == expected);

    const std::size_t capacity = b.capacity();
    b.clear();
    CHECK(b.empty());
    CHECK(b.capacity() == capacity);
    b.append("again");
    CHECK(b.view() == "again");
    b.release();
    CHECK(b.empty());
    CHECK(b.capacity() == 0);
    b.append("after release");
    CHECK(b.view() == "after release");
}

// libFuzzer target for include/tether/http/query.hpp: the decoders and the query walk see raw bytes from the
// network, so they must never crash and must keep these invariants on any input:
// - decoding never grows the text, and strict decoding either succeeds or leaves nothing behind;
// - text with no '%' (nor '+' when it means space) decodes to itself;
// - the three strict entry points agree, and lenient decoding agrees with them whenever they succeed;
// - the query walk yields views inside the query, and split_target yields views inside the target.
#include <tether/http/query.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    for (const bool plus : {false, true}) {
        const auto decoded = tether::http::percent_decode(in, plus);
        if (decoded) check(decoded->size() <= in.size());
        if (in.find('%') == std::string_view::npos && (!plus || in.find('+') == std::string_view::npos)) {
            check(decoded.has_value() && *decoded == in);
        }

        std::string appended = "x";
        const bool ok = tether::http::percent_decode_append(appended, in, plus);
        check(ok == decoded.has_value());
        check(ok ? appended == "x" + *decoded : appended == "x");

        std::string scratch;
        const auto view = tether::http::percent_decode_view(in, scratch, plus);
        check(view.has_value() == decoded.has_value());
        if (view) check(*view == *decoded);

        std::string lenient;
        tether::http::detail::decode_append(lenient, in, plus, false);
        check(lenient.size() <= in.size());
        if (decoded) check(lenient == *decoded);
    }

    const auto parts = tether::http::split_target(in);
    check(inside(parts.path, in) && inside(parts.query, in));
    check(parts.path.size() + parts.query.size() <= in.size());

    std::size_t covered = 0;
    for (const auto& p : tether::http::query_params(parts.query)) {
        check(inside(p.name, parts.query) && inside(p.value, parts.query));
        check(p.name.find('&') == std::string_view::npos && p.value.find('&') == std::string_view::npos);
        check(p.name.find('=') == std::string_view::npos);
        covered += p.name.size() + p.value.size();
    }
    check(covered <= parts.query.size());

    // The first pair's decoded name must be found, with the value the lenient decoder gives.
    const auto first = tether::http::query_params(parts.query).begin();
    if (first != tether::http::query_params(parts.query).end()) {
        std::string name;
        tether::http::detail::decode_append(name, first->name, true, false);
        std::string value;
        tether::http::detail::decode_append(value, first->value, true, false);
        const auto found = tether::http::find_query_param(parts.query, name);
        check(found.has_value() && *found == value);
    }
    return 0;
}

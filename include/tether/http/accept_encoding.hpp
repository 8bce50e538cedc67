#pragma once
// Accept-Encoding (RFC 9110 §12.5.3): which content codings a request accepts, and which one to
// answer with. Two users pick a coding from it: static files choosing a precompressed sibling
// (static_files.hpp) and the compress middleware encoding a body on the fly
// (middleware/compress.hpp); both go through choose_coding() so they can never disagree.
//
// Only the codings tether can produce are kept (br, gzip, identity; "*" stands in for those not
// named): a list of unknown codings costs nothing to remember. Qvalues are kept in thousandths,
// the precision the grammar allows, so they compare as integers.
#include <algorithm>
#include <optional>
#include <string_view>

#include <tether/http/char_class.hpp>

namespace tether::http {

// The content codings a request accepts, as qvalues in thousandths (RFC 9110 §12.5.3).
struct accepted_encodings {
    int br = 0, gzip = 0, identity = 1000;
};

inline accepted_encodings parse_accept_encoding(std::optional<std::string_view> field) {
    accepted_encodings a;
    if (!field) return a;   // no field: any coding is acceptable, but identity is the safe reading
    std::optional<int> br, gzip, identity, star;
    detail::for_each_list_element(*field, [&](std::string_view element) {
        auto semi = element.find(';');
        std::string_view coding = detail::trim_ows(element.substr(0, semi));
        int q = 1000;
        while (semi != std::string_view::npos) {   // parameters: only q matters
            element.remove_prefix(semi + 1);
            semi = element.find(';');
            std::string_view param = detail::trim_ows(element.substr(0, semi));
            if (param.size() < 2 || detail::ascii_lower(param[0]) != 'q' || param[1] != '=') continue;
            // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), read leniently: a
            // leading 0 or 1 and up to three decimals, capped at 1; anything else reads as 0,
            // "not acceptable", the safe side for a sender that cannot say what it means.
            std::string_view v = param.substr(2);
            q = 0;
            if (!v.empty() && (v[0] == '0' || v[0] == '1')) {
                q = (v[0] - '0') * 1000;
                if (v.size() > 1 && v[1] == '.') {
                    int scale = 100;
                    for (char c : v.substr(2, 3)) {
                        if (c < '0' || c > '9') break;
                        q += (c - '0') * scale;
                        scale /= 10;
                    }
                }
                q = std::min(q, 1000);
            }
        }
        if (detail::iequals(coding, "br")) br = q;
        else if (detail::iequals(coding, "gzip") || detail::iequals(coding, "x-gzip")) gzip = q;
        else if (detail::iequals(coding, "identity")) identity = q;
        else if (coding == "*") star = q;
        return true;
    });
    a.br = br.value_or(star.value_or(0));
    a.gzip = gzip.value_or(star.value_or(0));
    // Identity is acceptable unless refused by name or by "*;q=0" (§12.5.3).
    a.identity = identity.value_or(star.value_or(1000));
    return a;
}

enum class content_coding : unsigned char { identity, gzip, br };

inline constexpr std::string_view to_string(content_coding c) noexcept {
    switch (c) {
    case content_coding::gzip: return "gzip";
    case content_coding::br: return "br";
    case content_coding::identity: break;
    }
    return "identity";
}

// The coding to answer with, among those the server can offer: the highest qvalue wins, and ties
// go to the smaller encoding (br, then gzip, then identity), so "gzip, deflate, br" gets br. A
// coding with qvalue 0 is never chosen. When nothing acceptable is offered the answer is
// identity even if the client refused it (§12.5.3 lets a server ignore the field rather than
// answer 415), which is what every browser-facing server does.
inline content_coding choose_coding(const accepted_encodings& a, bool gzip_offered, bool br_offered) noexcept {
    content_coding chosen = content_coding::identity;
    int best = a.identity;
    if (gzip_offered && a.gzip > 0 && a.gzip >= best) {
        best = a.gzip;
        chosen = content_coding::gzip;
    }
    if (br_offered && a.br > 0 && a.br >= best) chosen = content_coding::br;
    return chosen;
}

} // namespace tether::http

#pragma once
// Which client a request comes from when it arrives through proxies we trust.
//
// Behind a TLS-terminating proxy or a load balancer every request arrives from the proxy's
// address, so per-address caps would lump all users together, and a handler asking "who is
// this?" would get the proxy. Proxies say whom they forwarded for in X-Forwarded-For (a de facto
// standard: "client, proxy1, proxy2") or Forwarded (RFC 7239 §5.2: for=client;proto=https, ...).
// Those fields are only as trustworthy as whoever appended to them: a client can send its own
// X-Forwarded-For with any address in it. So the list is read from the right (the end our own
// proxy appended to), skipping addresses of proxies we trust, and the first address that is not
// one of them is the client. Nothing is believed when the peer itself is not a trusted proxy.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/char_class.hpp>
#include <tether/http/request.hpp>
#include <tether/net/admission.hpp>

namespace tether::http {

// Addresses and networks ("10.0.0.0/8", "::1", "192.168.1.10") whose forwarding fields we believe.
class trusted_proxies {
public:
    trusted_proxies() = default;
    // Throws std::invalid_argument naming an entry that is not an address or a CIDR network.
    explicit trusted_proxies(const std::vector<std::string>& entries) {
        for (const auto& text : entries) {
            std::string_view e = text;
            auto slash = e.find('/');
            network n;
            if (!net::address_key::parse(e.substr(0, slash), n.address))
                throw std::invalid_argument("tether: trusted proxy '" + text + "' is not an IP address or network");
            bool v4 = e.substr(0, slash).find(':') == std::string_view::npos;
            unsigned bits = 128;
            if (slash != std::string_view::npos) {
                unsigned prefix = 0;
                std::string_view digits = e.substr(slash + 1);
                if (digits.empty() || digits.size() > 3) throw std::invalid_argument("tether: bad prefix in '" + text + "'");
                for (char c : digits) {
                    if (c < '0' || c > '9') throw std::invalid_argument("tether: bad prefix in '" + text + "'");
                    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
                }
                if (prefix > (v4 ? 32u : 128u)) throw std::invalid_argument("tether: bad prefix in '" + text + "'");
                bits = v4 ? prefix + 96 : prefix;   // IPv4 lives in the low 32 bits of the mapped form
            }
            n.prefix_bits = bits;
            networks_.push_back(n);
        }
    }
    bool empty() const noexcept { return networks_.empty(); }

    bool contains(const net::address_key& a) const noexcept {
        return std::any_of(networks_.begin(), networks_.end(), [&](const network& n) { return n.covers(a); });
    }

private:
    struct network {
        net::address_key address;
        unsigned prefix_bits = 128;
        bool covers(const net::address_key& a) const noexcept {
            unsigned full = prefix_bits / 8, rest = prefix_bits % 8;
            for (unsigned i = 0; i < full; ++i)
                if (a.bytes[i] != address.bytes[i]) return false;
            if (rest == 0) return true;
            auto mask = static_cast<unsigned char>(0xff << (8 - rest));
            return (a.bytes[full] & mask) == (address.bytes[full] & mask);
        }
    };
    std::vector<network> networks_;
};

namespace detail {

// One node of a Forwarded for= value (RFC 7239 §6): a quoted "[v6]:port", a v4 with port, or a
// bare address; obfuscated identifiers ("_hidden", "unknown") are not addresses.
inline std::optional<net::address_key> forwarded_node_address(std::string_view node) {
    node = trim_ows(node);
    if (node.size() >= 2 && node.front() == '"' && node.back() == '"') node = node.substr(1, node.size() - 2);
    if (!node.empty() && node.front() == '[') {
        auto close = node.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        node = node.substr(1, close - 1);
    } else if (node.find(':') != node.rfind(':')) {
        // a bare IPv6 address (X-Forwarded-For writes them so)
    } else if (auto colon = node.find(':'); colon != std::string_view::npos) {
        node = node.substr(0, colon);   // v4:port
    }
    net::address_key k;
    if (!net::address_key::parse(node, k)) return std::nullopt;
    return k;
}

} // namespace detail

// The client a request stands for: `peer` itself unless it is a trusted proxy, else the
// right-most address in Forwarded (preferred, RFC 7239) or X-Forwarded-For that is not a
// trusted proxy. A malformed or missing field leaves the last trusted hop as the answer.
inline net::address_key client_address(const request& req, const net::address_key& peer, const trusted_proxies& trusted) {
    if (trusted.empty() || !trusted.contains(peer)) return peer;
    // In the order the fields list them, client first; nullopt for a hop that names no address
    // (obfuscated, "unknown", malformed): nothing left of it can be attributed.
    std::vector<std::optional<net::address_key>> hops;
    if (auto forwarded = req.header("forwarded")) {
        detail::for_each_list_element(*forwarded, [&](std::string_view element) {
            // forwarded-element = [forwarded-pair] *( ";" [forwarded-pair] ); only for= matters here
            while (!element.empty()) {
                auto semicolon = element.find(';');
                auto pair = detail::trim_ows(element.substr(0, semicolon));
                if (pair.size() > 4 && detail::iequals(pair.substr(0, 4), "for="))
                    hops.push_back(detail::forwarded_node_address(pair.substr(4)));
                if (semicolon == std::string_view::npos) break;
                element.remove_prefix(semicolon + 1);
            }
            return true;
        });
    } else if (auto xff = req.header("x-forwarded-for")) {
        detail::for_each_list_element(*xff, [&](std::string_view element) {
            hops.push_back(detail::forwarded_node_address(element));
            return true;
        });
    }
    net::address_key client = peer;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        if (!*it) break;
        client = **it;
        if (!trusted.contains(client)) break;
    }
    return client;
}

} // namespace tether::http

#pragma once
// The backplane's Redis side: the keys of a topic and the four Lua scripts that touch them. Everything that
// must be atomic happens inside one script, because Redis runs a script alone: no other client's command
// lands between its steps.
//
// Keys of topic T under prefix P (the braces are a Redis Cluster hash tag: all of a topic's keys in one slot,
// which a multi-key script needs there; harmless on a single server):
//   P{T}:meta      hash: e = epoch (16 hex digits), o = last offset, b = bytes held by the stream
//   P{T}:stream    stream: one entry per message, id "<offset>-0", fields d = body, k = key
//   P{T}:latest    hash, conflating topics only: key -> "<offset> <body>", the newest value per key
//   P{T}:presence  hash node -> "<subscriptions>[\n<user>...]"; P{T}:presence:ttl zset node -> expiry (ms)
//   P{T}:<db>      the pub/sub channel (channels ignore SELECT, so the db is part of the name)
//
// publish  - creates the epoch if there is none (a fresh topic, FLUSHALL, a restart without persistence),
//            starting its offsets after the publishing node's last one so that sequences never go back (the
//            hub relies on it); INCRs the offset; XADDs the message; trims the stream to the topic's count
//            and byte budgets (the same numbers as the node's ring); keeps the latest value per key for a
//            conflating topic; PUBLISHes "m <epoch> <offset> ..." (wire.hpp). Answers {epoch, offset}.
//            The count is trimmed with MAXLEN ~: Redis keeps at least the ring's count (up to one stream
//            node more) and frees whole nodes, which made the script about twice as fast as exact trimming
//            (which rewrites a node per message). Nobody reads past the count: a fetch asks for the newest
//            ring's worth. The byte budget, when set, is exact.
// fetch    - a consistent snapshot for a node catching up: epoch, last offset and the entries from a given
//            offset on (at most a ring's worth: older ones could not be kept anyway).
// epoch    - a node that finds Redis behind it (history lost, or an AOF that dropped its last writes) starts
//            a new epoch after its own position, if nobody did meanwhile, and announces it ("e ...").
// presence - one node's entry for a topic, with an expiry; and the query that drops expired entries.
//
// latest   - a conflating topic's newest value per key, for an application that serves its current state.
//
// Scripts are sent with EVALSHA; their SHA-1 is computed here, so no SCRIPT LOAD round trip is needed, and a
// NOSCRIPT answer (a restarted or flushed Redis) is retried once with EVAL, which also caches the script.
//
// Numbers in Lua 5.1 are doubles: offsets are exact below 2^53, far beyond what a topic reaches, and they are
// formatted with %d, never by tostring() (which would switch to exponent notation past 10^14).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <tether/core/sha1.hpp>

namespace tether::redis::scripts {

/// KEYS: meta, stream, latest. ARGV: body, key, candidate epoch, first offset - 1 if the epoch is new,
/// max entries, max bytes (0: none), channel, "1" to keep the latest value per key.
inline constexpr std::string_view publish = R"lua(
local meta, stream = KEYS[1], KEYS[2]
local body, key = ARGV[1], ARGV[2]
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', stream, KEYS[3])
  redis.call('HSET', meta, 'e', epoch, 'o', ARGV[4], 'b', 0)
end
local offset = redis.call('HINCRBY', meta, 'o', 1)
local id = string.format('%d', offset)
local maxlen, maxbytes = tonumber(ARGV[5]), tonumber(ARGV[6])
if maxbytes == 0 then
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id .. '-0', 'd', body, 'k', key)
else
  redis.call('XADD', stream, id .. '-0', 'd', body, 'k', key)
  local bytes = redis.call('HINCRBY', meta, 'b', #body + #key)
  local length = redis.call('XLEN', stream)
  local trimmed = false
  while length > 1 and (length > maxlen or bytes > maxbytes) do
    local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    local fields = oldest[2]
    for i = 2, #fields, 2 do bytes = bytes - #fields[i] end
    redis.call('XDEL', stream, oldest[1])
    length = length - 1
    trimmed = true
  end
  if trimmed then redis.call('HSET', meta, 'b', bytes) end
end
if ARGV[8] == '1' then redis.call('HSET', KEYS[3], key, id .. ' ' .. body) end
redis.call('PUBLISH', ARGV[7], 'm ' .. epoch .. ' ' .. id .. ' ' .. string.format('%d', #key) .. ' ' .. key .. body)
return {epoch, offset}
)lua";

/// KEYS: meta, stream. ARGV: first offset wanted, at most this many entries (the newest ones).
inline constexpr std::string_view fetch = R"lua(
local meta = redis.call('HMGET', KEYS[1], 'e', 'o')
if not meta[1] then return {} end
local last, from, count = tonumber(meta[2]), tonumber(ARGV[1]), tonumber(ARGV[2])
if from < last - count + 1 then from = last - count + 1 end
if from > last then return {meta[1], meta[2], {}} end
return {meta[1], meta[2], redis.call('XRANGE', KEYS[2], string.format('%d-0', from), '+', 'COUNT', count)}
)lua";

/// KEYS: meta, stream, latest. ARGV: the epoch expected now ('' for none), the new epoch, its first
/// offset - 1, channel. Returns 1 if it started the new epoch, 0 if Redis had moved on (the caller re-reads).
inline constexpr std::string_view new_epoch = R"lua(
local e = redis.call('HGET', KEYS[1], 'e')
if (e or '') ~= ARGV[1] then return 0 end
if e and tonumber(redis.call('HGET', KEYS[1], 'o')) >= tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'e', ARGV[2], 'o', ARGV[3], 'b', 0)
redis.call('PUBLISH', ARGV[4], 'e ' .. ARGV[2] .. ' ' .. ARGV[3])
return 1
)lua";

/// KEYS: presence, presence:ttl. ARGV: node id, entry ('' removes it), time to live in ms. Redis' clock,
/// not the nodes': entries of every node expire on one clock. The keys themselves live as long as their
/// longest-lived entry, so they vanish when every node is gone (never shortened by another node's write).
inline constexpr std::string_view presence_update = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return 1
)lua";

/// KEYS: presence, presence:ttl. Drops the entries of nodes that stopped refreshing them; returns the rest
/// as node, entry, node, entry, ...
inline constexpr std::string_view presence_query = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, node in ipairs(dead) do redis.call('HDEL', KEYS[1], node) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
return redis.call('HGETALL', KEYS[1])
)lua";

/// KEYS: meta, latest. A conflating topic's newest value per key: {epoch or '', key, value, key, value, ...}.
inline constexpr std::string_view latest = R"lua(
local out = {redis.call('HGET', KEYS[1], 'e') or ''}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all do out[i + 1] = all[i] end
return out
)lua";

/// The script's SHA-1 in lowercase hex, as EVALSHA takes it.
inline std::string sha1_hex(std::string_view script) {
    auto const digest = core::sha1{}.update(script).finish();
    constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto byte : digest) {
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 0xf]);
    }
    return out;
}

/// A topic's key and channel names.
struct topic_keys {
    topic_keys(std::string_view prefix, std::string_view topic, int db) {
        std::string base = std::string(prefix) + "{" + std::string(topic) + "}:";
        meta = base + "meta";
        stream = base + "stream";
        latest = base + "latest";
        presence = base + "presence";
        presence_ttl = base + "presence:ttl";
        channel = base + std::to_string(db);
    }
    std::string meta, stream, latest, presence, presence_ttl, channel;
};

}  // namespace tether::redis::scripts

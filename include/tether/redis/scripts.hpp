#pragma once
// The backplane's Redis side: the keys of a topic and the four Lua scripts that touch them. Everything that
// must be atomic happens inside one script, because Redis runs a script alone: no other client's command
// lands between its steps.
//
// Keys of topic T under prefix P (the braces are a Redis Cluster hash tag: all of a topic's keys in one slot,
// which a multi-key script needs there; harmless on a single server):
//   P{T}:meta      hash: e = epoch (16 hex digits), o = last offset; with a byte budget, b = bytes appended in
//                  this epoch and t = how many of them were trimmed away (the stream holds at most b - t)
//   P{T}:stream    stream: one entry per message, id "<offset>-0", fields d = body, k = key (and, with a byte
//                  budget, c = b after it: what removing it and everything older leaves, without reading them)
//   P{T}:latest    hash, conflating topics only: key -> "<offset> <body>", the newest value per key
//   P{T}:presence  hash node -> "<subscriptions>[\n<user>...]"; P{T}:presence:ttl zset node -> expiry (ms)
//   P{T}:<db>      the pub/sub channel (channels ignore SELECT, so the db is part of the name)
//
// publish  - stores a run of one topic's messages that one node batched (session.hpp): creates the epoch
//            if there is none (a fresh topic, FLUSHALL, a restart without persistence), starting its offsets
//            after the publishing node's last one so that sequences never go back (the hub relies on it);
//            advances the offset by the run's length; XADDs each message; trims the stream to the topic's count
//            and byte budgets (the same numbers as the node's ring); keeps the latest value per key for a
//            conflating topic; PUBLISHes the run as one channel message, "m ..." for one, "b ..." for more
//            (wire.hpp). Answers {epoch, first offset}. One script for a run rather than one per message:
//            Redis' cost is mostly per script and per PUBLISH (its Lua call, its writes to every node), and
//            every node then wakes once for the run and fans it out to each subscriber in one write.
//            The count is trimmed with MAXLEN ~: Redis keeps at least the ring's count (up to one stream
//            node more) and frees whole nodes, which made the script about twice as fast as exact trimming
//            (which rewrites a node per message). Nobody reads past the count: a fetch asks for the newest
//            ring's worth. The byte budget is an exact ceiling, trimmed in steps: once b - t passes it, the
//            oldest entries go (one XTRIM MINID) until the stream holds at most 7/8 of it, or 64 entries more
//            than the ceiling needed. Trimming to the ceiling exactly cost an XRANGE and an XDEL per publish
//            once a topic was full (24 us a script against 9 us, measured with INFO commandstats while three
//            nodes carried 6,600 messages/s: Redis was the cluster's bottleneck).
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

/// KEYS: meta, stream, latest. ARGV: candidate epoch, first offset - 1 if the epoch is new, max entries,
/// max bytes (0: none), channel, "1" to keep the latest value per key; then body, key of each message (one or
/// more, in order). Answers {epoch, offset of the first}: the others follow it.
inline constexpr std::string_view publish = R"lua(
local meta, stream = KEYS[1], KEYS[2]
local maxlen, maxbytes, channel = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local count = (#ARGV - 6) / 2
local state = redis.call('HMGET', meta, 'e', 't', 'b')
local epoch, trimmed, total = state[1], tonumber(state[2] or 0), tonumber(state[3] or 0)
if not epoch then
  epoch, trimmed, total = ARGV[1], 0, 0
  redis.call('DEL', stream, KEYS[3])
  redis.call('HSET', meta, 'e', epoch, 'o', ARGV[2], 'b', 0, 't', 0)
end
local first = redis.call('HINCRBY', meta, 'o', count) - count + 1
local conflating = ARGV[6] == '1'
local out, latest = {}, {}   -- the run's channel message (more than one), the conflation table's pairs
for i = 0, count - 1 do
  local body, key = ARGV[7 + 2 * i], ARGV[8 + 2 * i]
  local id = string.format('%d-0', first + i)
  if maxbytes == 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, 'd', body, 'k', key)
  else
    total = total + #body + #key
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, 'd', body, 'k', key, 'c', string.format('%d', total))
  end
  if count > 1 then out[#out + 1] = string.format('%d %d ', #key, #body) .. key .. body end
  if conflating then
    latest[#latest + 1] = key
    latest[#latest + 1] = string.format('%d ', first + i) .. body
  end
end
if maxbytes ~= 0 then
  redis.call('HSET', meta, 'b', string.format('%d', total))
  if total - trimmed > maxbytes then
    local newest = string.format('%d-0', first + count - 1)
    local must, want = total - maxbytes, total - (maxbytes - math.floor(maxbytes / 8))
    local cut, through, extra, from, done = nil, trimmed, 0, '-', false
    while not done do
      local batch = redis.call('XRANGE', stream, from, '+', 'COUNT', 128)
      if #batch == 0 then break end
      for _, entry in ipairs(batch) do
        local fields = entry[2]
        if entry[1] == newest then done = true break end
        local c = 0
        if fields[5] == 'c' then c = tonumber(fields[6]) end
        cut, through = entry[1], c
        if c >= must then extra = extra + 1 end
        if c >= want or extra > 64 then done = true break end
      end
      from = '(' .. batch[#batch][1]
    end
    if cut then
      redis.call('XTRIM', stream, 'MINID', string.format('%d-1', tonumber(string.match(cut, '^(%d+)'))))
      redis.call('HSET', meta, 't', string.format('%d', through))
    end
  end
end
if conflating then redis.call('HSET', KEYS[3], unpack(latest)) end
if count == 1 then
  local key, body = ARGV[8], ARGV[7]
  redis.call('PUBLISH', channel, 'm ' .. epoch .. ' ' .. string.format('%d %d ', first, #key) .. key .. body)
else
  redis.call('PUBLISH', channel, 'b ' .. epoch .. ' ' .. string.format('%d %d ', first, count) .. table.concat(out))
end
return {epoch, first}
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
redis.call('HSET', KEYS[1], 'e', ARGV[2], 'o', ARGV[3], 'b', 0, 't', 0)
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

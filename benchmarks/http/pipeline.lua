-- wrk script: HTTP/1.1 pipelining. Each write carries DEPTH complete GET requests back to back (default 16);
-- wrk sends the next batch on a connection only after all DEPTH responses of the previous one arrived.
--
--   wrk -t1 -c64 -d10s -s benchmarks/http/pipeline.lua http://127.0.0.1:8080/plaintext -- 16
--
-- The path comes from the URL given to wrk. wrk counts requests inside the string itself (it parses the
-- batch once at start-up), so "Requests/sec" is responses per second, not batches per second.

local depth = 16
local batch

function init(args)
    if args[1] ~= nil then
        depth = tonumber(args[1])
        if depth == nil or depth < 1 then
            error("pipeline.lua: depth must be a positive integer, got '" .. tostring(args[1]) .. "'")
        end
    end
    local one = wrk.format("GET", wrk.path)
    batch = string.rep(one, depth)
end

function request()
    return batch
end

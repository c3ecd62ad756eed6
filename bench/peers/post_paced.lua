-- wrk script: POST the body in $BODY as JSON, each connection waiting
-- $DELAY_MS milliseconds before each request (a fixed offered load:
-- connections * 1000 / (DELAY_MS + latency) requests a second).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY")))
wrk.body = f:read("*a")
f:close()
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

function delay()
    return delay_ms
end

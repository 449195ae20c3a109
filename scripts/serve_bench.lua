-- serve_bench.lua: wrk script for scripts/serve_bench.sh: POST the probe photo to
-- /api/identify with the API key; print one RESULT line.
local f = assert(io.open(os.getenv("PROBE"), "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/api/identify"
wrk.body = body
wrk.headers["Content-Type"] = "image/jpeg"
wrk.headers["x-api-key"] = os.getenv("KEY")
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.2f rps=%.2f p50_ms=%.1f p99_ms=%.1f failed=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end

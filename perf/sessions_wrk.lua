-- perf/sessions_wrk.lua — the wrk script of perf/sessions_run: every wrk
-- thread is one visitor of examples/web-sessions. Its first request goes
-- without a cookie; the first Set-Cookie answered is kept and sent with
-- every later request, so each thread's requests are one session's.
-- Run wrk with as many connections as threads (-c = -t): a thread's
-- requests then go one after the other on its one connection, and each
-- answer's {"count": N} must be the previous one + 1; anything else is
-- counted (count_errors), as are answers other than 200 and a session
-- replaced by a new Set-Cookie (lost_sessions).
--
--   wrk -t 8 -c 8 -d 10s --latency -s perf/sessions_wrk.lua URL -- LABEL [PATH]
--
-- PATH defaults to /api/counter; on any other path (/healthz: the HTTP
-- path without a session store) only the status is checked. done() prints
-- one line (latencies in µs, wrk's own measure: send to last byte of the
-- answer):
--   RESULT web target=LABEL path=PATH threads=T requests=N rps=X p50_us=X p99_us=X
--     visitors=N count_errors=N non200=N lost_sessions=N socket_errors=N

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  label = args[1] or "?"
  path = args[2] or "/api/counter"
  cookie = nil
  last = nil
  visitors, count_errors, non200, lost_sessions = 0, 0, 0, 0
end

function request()
  if cookie then
    return wrk.format("GET", path, { ["Cookie"] = cookie })
  end
  return wrk.format("GET", path)
end

local function header(headers, name)
  for k, v in pairs(headers) do
    if string.lower(k) == name then return v end
  end
  return nil
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    return
  end
  local set = header(headers, "set-cookie")
  if set then
    local c = string.match(set, "^%s*([^;]+)")
    if cookie == nil then
      visitors = visitors + 1
    elseif c ~= cookie then
      lost_sessions = lost_sessions + 1
    end
    cookie = c
  end
  if path ~= "/api/counter" then
    return
  end
  local n = tonumber(string.match(body or "", '"count"%s*:%s*(%d+)'))
  if n == nil or (last ~= nil and n ~= last + 1) or (last == nil and n ~= 1) then
    count_errors = count_errors + 1
  end
  last = n
end

function done(summary, latency, requests)
  local sum = { visitors = 0, count_errors = 0, non200 = 0, lost_sessions = 0 }
  local lbl = "?"
  for _, t in ipairs(threads) do
    for k, _ in pairs(sum) do
      sum[k] = sum[k] + (t:get(k) or 0)
    end
    lbl = t:get("label") or lbl
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "RESULT web target=%s path=%s threads=%d requests=%d rps=%.0f p50_us=%d p99_us=%d " ..
    "visitors=%d count_errors=%d non200=%d lost_sessions=%d socket_errors=%d\n",
    lbl, threads[1] and threads[1]:get("path") or "?", #threads, summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), sum.visitors, sum.count_errors,
    sum.non200, sum.lost_sessions, socket_errors))
end

-- wrk's script for the jobs of scripts/bench/jobs.py: each request POSTs one job (JOBS_INPUTS distinct inputs, an
-- idempotency key of its own) to the URL given to wrk. Thread n of JOBS_THREADS sends its share of JOBS_COUNT
-- submissions, then holds its connections idle (delay()), and once every submission it sent has been answered writes
-- JOBS_IDS.n.done. Every answer is one line of JOBS_IDS.n: "<status> <job id> <when>" ("-" when the body holds no id;
-- when: the wall clock as the answer came, in seconds since the epoch), the body's first 200 characters after a
-- status other than 202. The driver counts accepted jobs from these lines (the server's answers, not a counter of
-- ours), times each job from its arrival at the Worker (its createdAt) to its answer here, stops wrk (SIGINT) once
-- every thread is done, and reads the latencies from the WRK_RESULT line that done() prints.
local count = tonumber(os.getenv("JOBS_COUNT") or "1")
local inputs = tonumber(os.getenv("JOBS_INPUTS") or "1")
local threads = tonumber(os.getenv("JOBS_THREADS") or "1")
local run = os.getenv("JOBS_RUN") or "bench"
local ids = assert(os.getenv("JOBS_IDS"), "JOBS_IDS (a file name prefix) is required")
local model = os.getenv("JOBS_MODEL") or "sentiment"

-- The wall clock to the microsecond (wrk's LuaJIT has ffi; Lua's os.time counts whole seconds).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } jobs_timespec;
  int clock_gettime(int clock, jobs_timespec *now);
]]
local timespec = ffi.new("jobs_timespec")
local function now()
  ffi.C.clock_gettime(0, timespec) -- CLOCK_REALTIME: the clock the services' timestamps come from
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

-- Main state: numbers the threads and keeps them for done().
local started = {}
function setup(thread)
  thread:set("id", #started)
  table.insert(started, thread)
end

-- Thread state (id set by setup; issued and answered are globals for done() to read).
local share, file, finished = 0, nil, false
issued, answered = 0, 0

function init(args)
  -- Thread n's share: count / threads, the first count % threads threads one more.
  share = math.floor(count / threads) + ((id < count % threads) and 1 or 0)
  file = assert(io.open(ids .. "." .. id, "w"))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- Past its share a thread sends nothing more: its connections wait (a day) until the driver stops wrk. wrk asks
-- delay() before every request but a connection's first (a reconnection's too: jobs.py opens no more connections than
-- submissions), and sends the request later: the grant is counted here, or two connections granted at once both send.
local granted = 0
function delay()
  if granted >= share then return 86400000 end
  granted = granted + 1
  return 0
end

-- wrk calls thread 0's request() once before the run, to check what it returns: that call sends nothing and is
-- not counted.
local checked = false

function request()
  local n = id .. "-" .. issued
  if id == 0 and not checked then
    checked, n = true, "check"
  else
    issued = issued + 1
    if issued > granted then granted = issued end -- a connection's first request, sent without asking delay()
  end
  local texts = {}
  for k = 0, inputs - 1 do
    texts[#texts + 1] = '"Review ' .. n .. "-" .. k .. ': the staff were lovely and the room was clean."'
  end
  local body = '{"model":"' .. model .. '","inputs":[' .. table.concat(texts, ",") .. "]}"
  -- wrk.format's headers replace wrk.headers (the command line's -H, the token among them).
  local headers = { ["Idempotency-Key"] = run .. "-" .. n }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format(nil, nil, headers, body)
end

function response(status, headers, body)
  local at = string.format("%.6f", now())
  answered = answered + 1
  local job = body and body:match('"id"%s*:%s*"([^"]+)"') or nil
  if status == 202 then
    file:write(status, " ", job or "-", " ", at, "\n")
  else
    file:write(status, " ", job or "-", " ", at, " ", ((body or ""):sub(1, 200):gsub("%s+", " ")), "\n")
  end
  if not finished and issued >= share and answered >= issued then
    finished = true
    file:flush() -- open still: a late answer (after a reconnection) is written at wrk's exit
    assert(io.open(ids .. "." .. id .. ".done", "w")):close()
  end
end

done = function(summary, latency, requests)
  local errors = summary.errors
  local issued_total, answered_total = 0, 0
  for _, thread in ipairs(started) do
    issued_total = issued_total + thread:get("issued")
    answered_total = answered_total + thread:get("answered")
  end
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "issued": %d, "answered": %d, "non_2xx": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, issued_total, answered_total, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

-- wrk script: POST the form in DEVICEFLOW_BENCH_BODY and count every response that is not a
-- 400 carrying DEVICEFLOW_BENCH_EXPECT (authorization_pending for a pending poll, slow_down
-- for a storm's). During a storm, a poll 60 s (the interval's ceiling) after the last accepted
-- one is on time again: authorization_pending is right there too.
wrk.method = "POST"
wrk.body = os.getenv("DEVICEFLOW_BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local expect = os.getenv("DEVICEFLOW_BENCH_EXPECT") or "authorization_pending"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  unexpected = 0
end

local storm = expect == "slow_down"

function response(status, headers, body)
  if status ~= 400 or not string.find(body, expect, 1, true) then
    if not (storm and status == 400 and string.find(body, "authorization_pending", 1, true)) then
      unexpected = unexpected + 1
    end
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("unexpected")
  end
  io.write(string.format("unexpected_status: %d\n", n))
end

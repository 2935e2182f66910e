-- wrk script of the history benchmark: GET /v1/people/{id}/vaccination-history for people in turn.
-- Usage: wrk -t1 -c1 -d15s --latency -s bench/wrk_history.lua http://127.0.0.1:PORT -- IDS_FILE TOKEN
-- IDS_FILE has one person id per line (shuffled: each request reads another person's rows).

local ids = {}
local headers = {}
local next_id = 1

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  headers = {["Authorization"] = "Bearer " .. args[2], ["X-Purpose"] = "vaccination"}
end

function request()
  local i = next_id
  next_id = next_id + 1
  if next_id > #ids then next_id = 1 end
  return wrk.format("GET", "/v1/people/" .. ids[i] .. "/vaccination-history", headers)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end

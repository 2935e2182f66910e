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

dofile("bench/wrk_report.lua")  -- done(): the WRK_JSON line both benchmarks read

-- wrk script of the dose benchmark: POST /v1/people/{id}/doses, each request for the next person.
-- Usage: wrk -t1 -c16 -d15s --latency -s bench/wrk_doses.lua http://127.0.0.1:PORT -- IDS_FILE LOT_ID
-- IDS_FILE has one "person_id facility_id token" line per person (the token of a vaccinator at that point).
-- Run with one wrk thread (-t1): the id counter lives in that thread's Lua state, so no id repeats.

local ids = {}
local bodies = {}
local headers = {}
local next_id = 1

function init(args)
  for line in io.lines(args[1]) do
    local person, facility, token = line:match("(%S+)%s+(%S+)%s+(%S+)")
    ids[#ids + 1] = person
    bodies[#bodies + 1] = string.format('{"lot_id": "%s", "facility_id": "%s"}', args[2], facility)
    headers[#headers + 1] = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
  end
  wrk.method = "POST"
end

function request()
  local i = next_id
  next_id = next_id + 1
  if next_id > #ids then next_id = 1 end
  return wrk.format(nil, "/v1/people/" .. ids[i] .. "/doses", headers[i], bodies[i])
end

dofile("bench/wrk_report.lua")  -- done(): the WRK_JSON line both benchmarks read

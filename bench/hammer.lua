-- Baselines for the load benchmark: GET one path a fixed number of times per thread, timed the
-- same way as bench/families.lua, so baselines and families are measured by the same tool. With
-- PRESCREEN_WRK_BODY set, each request is a form POST of that (already encoded) body instead.
--
--   PRESCREEN_WRK_OUT=outdir PRESCREEN_WRK_REQUESTS=N [PRESCREEN_WRK_BODY=a=1] \
--     wrk -t C -c C -d 600s --timeout 30s -s bench/hammer.lua http://127.0.0.1:PORT/healthz
--
-- Output per thread (thread-<id>.tsv, then an empty thread-<id>.done), one line per request:
--   R  path  start  seconds  status  body_bytes
-- A request whose connection was lost is written with status 0 and sent again.
-- See bench/families.lua for the wrk behaviour this relies on.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")
local now = common.now
setup = common.setup

local out, out_dir, req, started
local wanted, done = 0, 0
local outstanding, skip_verify_call, finished = false, false, false

local function finish()
  finished = true
  out:close()
  io.open(out_dir .. "/thread-" .. id .. ".done", "w"):close()
  wrk.thread:stop()
end

function init(args)
  out_dir = os.getenv("PRESCREEN_WRK_OUT")
  wanted = tonumber(os.getenv("PRESCREEN_WRK_REQUESTS")) or 1
  skip_verify_call = id == 0 -- wrk's extra request() in thread 0 before the run sends nothing
  out = io.open(out_dir .. "/thread-" .. id .. ".tsv", "w")
  out:setvbuf("full", 65536)
  local host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
  -- the same headers as harness.Client
  local head = " HTTP/1.1\r\nHost: " .. host .. "\r\nAccept-Encoding: identity\r\nAccept-Language: zh-CN,zh;q=0.9\r\n"
  local body = os.getenv("PRESCREEN_WRK_BODY")
  if body then
    req = "POST " .. wrk.path .. head .. "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
      .. #body .. "\r\n\r\n" .. body
  else
    req = "GET " .. wrk.path .. head .. "\r\n"
  end
end

function request()
  if outstanding and not finished then
    if skip_verify_call then
      skip_verify_call = false
    else
      out:write("R\t", wrk.path, "\t", string.format("%.6f\t%.7f", started, now() - started), "\t0\t0\n")
    end
  end
  outstanding = true
  started = now()
  return req
end

function response(status, headers, body)
  local ended = now()
  outstanding = false
  if finished then
    return
  end
  out:write("R\t", wrk.path, "\t", string.format("%.6f\t%.7f", started, ended - started), "\t")
  out:write(status, "\t", #body, "\n")
  done = done + 1
  if done >= wanted then
    finish()
  end
end

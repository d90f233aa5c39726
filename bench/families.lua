-- Simulated families for the load benchmark, driven by wrk instead of Python threads.
--
-- Why: a Python client with 50 threads on a 2-core machine competes with gunicorn for CPU and
-- with itself for the GIL, so it measures itself as much as the server. wrk is C with LuaJIT.
--
-- Run it with one connection per thread, so request() and response() strictly alternate for a
-- thread and each thread is one family's browser at a time:
--
--   PRESCREEN_WRK_PLAN=plan.lua PRESCREEN_WRK_OUT=outdir \
--     wrk -t C -c C -d 600s --timeout 30s -s bench/families.lua http://127.0.0.1:PORT
--
-- bench/wrk_driver.py writes the plan (every answer decided in Python beforehand, see
-- Family.prepare) and reads the results. This file walks the pages Family.run + Family.refer
-- in bench/families.py walk, but as a phone with JavaScript does: "Agree and start" and each
-- answer carry chat.js's X-Prescreen-Chat header and get the next question in their response
-- (the Python driver is a browser without JavaScript: POST, 303, GET). Keep the two in step.
--
-- PRESCREEN_WRK_THINK_MS (optional, bench/load_curve.py): before each request the family pauses
-- for a while, uniformly 0.5 to 1.5 times this many milliseconds (wrk's delay(); the timing of a
-- request starts when it is sent, so the pause is not in it), seeded by PRESCREEN_WRK_SEED and
-- the thread's number. Without it every request follows the last response at once. With it,
-- PRESCREEN_WRK_STAGGER_MS spreads the threads' first families uniformly over that many
-- milliseconds, as families arrive one by one rather than all in the same instant. A connection
-- first sends one untimed GET /healthz the moment it opens, then waits: gunicorn's gthread
-- worker gives a new connection a thread that waits up to 5 s for its first request, so silent
-- connections held every thread and stalled the other families for seconds (in production the
-- reverse proxy only connects once it has a whole request).
--
-- Output, one tab-separated file per thread (thread-<id>.tsv), then an empty thread-<id>.done:
--   R  name  start  seconds  status  body_bytes  gzip_bytes   one line per request
-- (gzip_bytes: what gzip -6 makes of the body, for the first GZIP_SAMPLE responses of each name
-- in a thread, else "-")
--   F  index  consented  cookie  outcome  referred  done  qid,qid,...  error|error
-- (cookie: the session cookie right after consent, where Family.run reads the token; the
-- qids are the answers the server acknowledged, with 303 or with 200 + X-Prescreen-Location)
--
-- wrk facts this relies on (wrk 4.1.0): setup() runs in a separate Lua state, once per thread,
-- in thread order; wrk calls request() once more in thread 0 before it starts (to check the
-- request parses), a call that sends nothing; after a lost connection wrk reconnects and calls
-- request() again without a response(); the headers table keeps the server's spelling of names
-- and keeps only the last of repeated headers (so of two Set-Cookie in one response only the
-- last arrives); wrk itself never ends before -d, so the Python side interrupts it once every
-- thread has written its .done file.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")
local now = common.now
setup = common.setup

-- The same patterns as FORM_RE, Q_RE, STEP_RE and harness.CSRF_RE in Python.
local FORM = '<form[^>]*class="ask"[^>]*>(.-)</form>'
local Q = 'name="q" value="([a-z0-9_]+)"'
local STEP = 'name="step" value="(%d+)"'
local CSRF = 'name="csrf_token"[^>]*value="([^"]+)"'
local OUTCOMES = { "likely_eligible", "needs_review", "not_eligible" }
local GZIP_SAMPLE = 4 -- per name and thread: 50 threads give 200, as bench/families.py samples

-- zlib's compress2 at level 6 makes the same deflate stream as Python's gzip.compress(level 6);
-- a gzip file wraps it in 18 bytes (header and trailer), a zlib stream in 6: gzip = zlib + 12.
local ffi = require("ffi")
ffi.cdef([[
unsigned long compressBound(unsigned long sourceLen);
int compress2(uint8_t *dest, unsigned long *destLen, const uint8_t *source, unsigned long sourceLen, int level);
]])
local zlib = ffi.load("libz.so.1")
local gzip_seen = {}

local function gzip_size(name, body)
  local seen = gzip_seen[name] or 0
  if seen >= GZIP_SAMPLE then
    return "-"
  end
  gzip_seen[name] = seen + 1
  local size = ffi.new("unsigned long[1]", zlib.compressBound(#body))
  local dest = ffi.new("uint8_t[?]", size[0])
  if zlib.compress2(dest, size, body, #body, 6) ~= 0 then
    return "-"
  end
  return tostring(tonumber(size[0]) + 12)
end

local out -- this thread's results file
local host -- Host header value
local pending -- the request string wrk should (re)send
local pending_meta -- {name=, method=, retries=}
local started -- clock at the last request()
local outstanding = false -- a request was handed to wrk and no response came yet
local skip_verify_call = false -- thread 0: wrk's extra request() before the run
local driver -- coroutine walking this thread's families
local finished = false
local out_dir

local IDLE = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

local function urlencode(s)
  -- like urllib.parse.quote_plus: unreserved bytes as they are, space as +, the rest %XX
  s = string.gsub(s, "[^%w%-%._~ ]", function(c)
    return string.format("%%%02X", string.byte(c))
  end)
  return (string.gsub(s, " ", "+"))
end

local function encode_form(fields)
  local parts = {}
  for _, pair in ipairs(fields) do
    parts[#parts + 1] = urlencode(pair[1]) .. "=" .. urlencode(pair[2])
  end
  return table.concat(parts, "&")
end

local function clean(s)
  return (string.gsub(tostring(s), "[\t\r\n|]", " "))
end

-- one browser's cookie jar, reset per family (harness.Client keeps the same rules)
local cookies = {}

local function remember_cookies(headers)
  for name, value in pairs(headers) do
    if string.lower(name) == "set-cookie" then
      local pair = string.match(value, "^([^;]*)") or ""
      local key, val = string.match(pair, "^([^=]*)=?(.*)$")
      local lower = string.lower(value)
      if string.find(lower, "max-age=0", 1, true) or string.find(lower, "expires=thu, 01 jan 1970", 1, true) then
        cookies[key] = nil
      else
        cookies[key] = val
      end
    end
  end
end

local function lowered(headers)
  local t = {}
  for name, value in pairs(headers) do
    t[string.lower(name)] = value
  end
  return t
end

local function build(method, path, fields, extra)
  local lines = {
    method .. " " .. path .. " HTTP/1.1",
    "Host: " .. host,
    "Accept-Encoding: identity",
    "Accept-Language: zh-CN,zh;q=0.9",
  }
  local jar = {}
  for key, val in pairs(cookies) do
    jar[#jar + 1] = key .. "=" .. val
  end
  if #jar > 0 then
    lines[#lines + 1] = "Cookie: " .. table.concat(jar, "; ")
  end
  for name, value in pairs(extra or {}) do
    lines[#lines + 1] = name .. ": " .. value
  end
  local body = ""
  if fields then
    body = encode_form(fields)
    lines[#lines + 1] = "Content-Type: application/x-www-form-urlencoded"
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

-- One request and its response, from inside the family coroutine: yields the request to wrk,
-- is resumed by response() (or by request() with nil when the connection was lost).
-- An unexpected status ends the family, like StopIteration in Family._note.
local function fetch(name, method, path, fields, expect, extra)
  local status, headers, body = coroutine.yield(build(method, path, fields, extra), { name = name, method = method })
  if status == nil then
    error({ kind = name .. ": connection lost" }, 0)
  end
  remember_cookies(headers)
  local ok = false
  for _, want in ipairs(expect or { 200 }) do
    ok = ok or status == want
  end
  if not ok then
    error({ kind = name .. ": HTTP " .. status }, 0)
  end
  return { status = status, headers = lowered(headers), body = body }
end

local function path_of(location)
  -- an absolute Location (http://host/path) becomes its path
  return string.match(location, "^https?://[^/]+(/.*)$") or location
end

local function refer(family, base, rec)
  local page = fetch("refer_form", "GET", base .. "/refer")
  local radios = {}
  for tag in string.gmatch(page.body, "<[^>]*>") do
    if string.find(tag, 'type="radio"', 1, true) then
      local name = string.match(tag, 'name="([a-z_]+)"')
      local value = string.match(tag, 'value="([^"]+)"')
      if name and value then
        radios[name] = radios[name] or {}
        table.insert(radios[name], value)
      end
    end
  end
  local relationship = (radios.relationship or { "mother" })[1]
  if family.respondent == "patient" then
    for _, value in ipairs(radios.relationship or {}) do
      if value == "self" then
        relationship = "self"
      end
    end
  end
  fetch("refer", "POST", base .. "/refer", {
    { "csrf_token", string.match(page.body, CSRF) or "" },
    { "name", family.name },
    { "relationship", relationship },
    { "phone", family.phone },
    { "best_time", (radios.best_time or { "any" })[1] },
    { "language", "zh" },
    { "share", "y" },
    { "guardian", "y" },
  }, { 303 })
  rec.referred = true
end

-- Family.run, over the same HTTP requests.
local function walk(family, study, rec)
  local base = "/s/" .. study
  fetch("study", "GET", base .. "/")
  fetch("who", "GET", base .. "/start")
  local page = fetch("consent_form", "GET", base .. "/consent?as=" .. family.respondent)
  local agreed = fetch("consent", "POST", base .. "/consent", {
    { "csrf_token", string.match(page.body, CSRF) or "" },
    { "respondent", family.respondent },
    { "agree", "y" },
  }, { 303, 200 }, { ["X-Prescreen-Chat"] = "1" })
  rec.consented = true
  rec.cookie = cookies["prescreen"] or ""
  -- the chat page to answer, when a response (the consent's, an answer's) already carried it
  local chat = nil
  if agreed.status == 200 then
    if agreed.headers["x-prescreen-location"] == nil then
      error({ kind = "consent: HTTP 200 without X-Prescreen-Location" }, 0)
    end
    chat = agreed
  end
  local next_path = base .. "/chat" -- where the chat page is fetched otherwise
  local stopped_on_purpose = true
  for _ = 1, family.max_answers do
    local current = chat or fetch("chat", "GET", next_path, nil, { 200, 303 })
    chat, next_path = nil, base .. "/chat"
    if current.status == 303 then
      stopped_on_purpose = false
      break
    end
    local form = string.match(current.body, FORM)
    if form == nil then
      stopped_on_purpose = false
      break
    end
    local qid = string.match(form, Q)
    local step = string.match(form, STEP)
    if qid == nil or step == nil then
      error({ kind = "chat: no q or step in the form" }, 0)
    end
    local value = family.plan[qid]
    if value == nil then
      error({ kind = "answer:" .. qid .. ": not in the plan" }, 0)
    end
    local fields = {
      { "csrf_token", string.match(current.body, CSRF) or "" },
      { "step", step },
      { "q", qid },
    }
    if type(value) == "table" then
      for _, v in ipairs(value) do
        fields[#fields + 1] = { "value", v }
      end
    else
      fields[#fields + 1] = { "value", value }
    end
    local response = fetch(
      "answer:" .. qid,
      "POST",
      base .. "/answer",
      fields,
      { 303, 200 },
      { ["X-Prescreen-Chat"] = "1" }
    )
    local location
    if response.status == 303 then
      location = response.headers["location"] or ""
    else
      location = response.headers["x-prescreen-location"]
      if location == nil then
        error({ kind = "answer:" .. qid .. ": HTTP 200 without X-Prescreen-Location" }, 0)
      end
    end
    table.insert(rec.acked, qid)
    if string.find(location, "/result", 1, true) then
      stopped_on_purpose = false
      break
    end
    if response.status == 200 then
      chat = response -- the next chat page came with the acknowledgement
    elseif location ~= "" then
      next_path = path_of(location)
    end
  end
  if stopped_on_purpose then
    -- stopped part-way on purpose (a family that comes back later)
    rec.done = true
    return
  end
  local result = fetch("result", "GET", base .. "/result")
  rec.outcome = "unknown"
  for _, outcome in ipairs(OUTCOMES) do
    if string.find(result.body, "result-" .. outcome .. '"', 1, true) then
      rec.outcome = outcome
      break
    end
  end
  if (rec.outcome == "likely_eligible" or rec.outcome == "needs_review") and family.wants_referral then
    refer(family, base, rec)
  end
  rec.done = true
end

local function write_family(rec)
  out:write(
    table.concat({
      "F",
      rec.index,
      rec.consented and 1 or 0,
      clean(rec.cookie),
      rec.outcome,
      rec.referred and 1 or 0,
      rec.done and 1 or 0,
      table.concat(rec.acked, ","),
      table.concat(rec.errors, "|"),
    }, "\t"),
    "\n"
  )
  out:flush()
end

local function run_thread(plan)
  for _, family in ipairs(plan.families) do
    if family.index % plan.threads == id then
      cookies = {}
      local rec = {
        index = family.index,
        consented = false,
        cookie = "",
        outcome = "",
        referred = false,
        done = false,
        acked = {},
        errors = {},
      }
      local ok, err = pcall(walk, family, plan.study, rec)
      if not ok then
        rec.errors[#rec.errors + 1] = type(err) == "table" and clean(err.kind) or clean("lua: " .. tostring(err))
      end
      write_family(rec)
    end
  end
end

local function finish()
  if finished then
    return
  end
  finished = true
  out:close()
  local marker = io.open(out_dir .. "/thread-" .. id .. ".done", "w")
  marker:close()
  wrk.thread:stop()
end

-- Resume the family coroutine with a response (or nil: connection lost); keep its next request.
-- In init() the thread is not running yet, so it cannot stop: a thread without families sends
-- one /healthz instead and finishes on its response.
local function advance(running, ...)
  local ok, request, meta = coroutine.resume(driver, ...)
  if not ok then
    out:write("F\t-1\t0\t\t\t0\t0\t\t", clean("lua: " .. tostring(request)), "\n")
  end
  if not ok or coroutine.status(driver) == "dead" then
    pending, pending_meta = IDLE, nil
    if running then
      finish()
    end
  else
    pending, pending_meta = request, meta
    pending_meta.retries = 0
  end
end

-- wrk asks delay() before every request when the script defines it, so it is defined only for
-- a run with pauses (the default run sends each request the moment the last response is in).
local think_ms = tonumber(os.getenv("PRESCREEN_WRK_THINK_MS") or "") or 0
local stagger_ms = tonumber(os.getenv("PRESCREEN_WRK_STAGGER_MS") or "") or 0
local delays = 0 -- wrk asks delay() before a connection's first request too
if think_ms > 0 then
  function delay()
    delays = delays + 1
    if delays == 1 then
      return 0 -- the arrival /healthz, sent as the connection opens
    elseif delays == 2 then
      return math.floor(stagger_ms * math.random()) -- then the first family arrives
    end
    return math.floor(think_ms * (0.5 + math.random()))
  end
end
local first_request, first_meta -- the first family's first request, held back for the arrival

function init(args)
  math.randomseed((tonumber(os.getenv("PRESCREEN_WRK_SEED") or "") or 0) * 1000 + id)
  out_dir = os.getenv("PRESCREEN_WRK_OUT")
  host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
  skip_verify_call = id == 0
  out = io.open(out_dir .. "/thread-" .. id .. ".tsv", "w")
  out:setvbuf("full", 65536)
  local plan = dofile(os.getenv("PRESCREEN_WRK_PLAN"))
  driver = coroutine.create(function()
    run_thread(plan)
  end)
  advance(false)
  if think_ms > 0 and pending_meta ~= nil then
    first_request, first_meta = pending, pending_meta
    pending, pending_meta = IDLE, { name = "arrive", method = "GET", retries = 0, arrival = true }
  end
end

function request()
  if finished then
    return IDLE
  end
  if outstanding then
    if skip_verify_call then
      skip_verify_call = false -- wrk's check call sent nothing: this is the real first send
    elseif pending_meta == nil then
      -- the idle /healthz: resend it
    elseif pending_meta.method == "GET" and pending_meta.retries == 0 then
      pending_meta.retries = 1 -- the connection dropped: resend a GET once, as harness.Client does
    else
      advance(true, nil) -- a lost POST ends the family, like the Python client's exception
      if finished then
        return IDLE
      end
    end
  end
  outstanding = true
  started = now()
  return pending
end

function response(status, headers, body)
  local ended = now()
  outstanding = false
  if finished then
    return
  end
  if pending_meta == nil then
    finish() -- the idle /healthz of a thread without families
    return
  end
  if pending_meta.arrival then
    pending, pending_meta = first_request, first_meta -- untimed: not a family's request
    return
  end
  out:write("R\t", pending_meta.name, "\t", string.format("%.6f\t%.7f", started, ended - started), "\t")
  out:write(status, "\t", #body, "\t", gzip_size(pending_meta.name, body), "\n")
  advance(true, status, headers, body)
end

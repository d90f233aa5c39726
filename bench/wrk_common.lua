-- What bench/families.lua and bench/hammer.lua share: a monotonic clock (LuaJIT ffi; wrk's Lua has
-- no sub-second clock of its own) and numbering wrk's threads. Loaded with dofile() next to them.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } prescreen_timespec;
int clock_gettime(int clk_id, prescreen_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("prescreen_timespec")

local common = {}

function common.now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

-- setup() runs in wrk's separate setup state, once per thread in order: it only numbers them.
local threads_seen = 0
function common.setup(thread)
  thread:set("id", threads_seen)
  threads_seen = threads_seen + 1
end

return common

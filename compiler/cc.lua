-- cc.lua — the last stage: compiles the generated unit with the system C
-- compiler and links it statically against the prebuilt runtime
-- (build/libdfcrt.a) and libsodium into one executable.
local M = {}

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Returns true, or false and the compiler's output.
function M.build(home, c_file, output, opts)
  local cc = os.getenv("CC") or "cc"
  local lib = os.getenv("DFC_RUNTIME") or (home .. "/build/libdfcrt.a")
  local f = io.open(lib, "rb")
  if not f then
    return false, "the runtime library " .. lib .. " is missing; run 'make' in " .. home .. " first"
  end
  f:close()
  local cflags = os.getenv("DFC_CFLAGS") or "-O2"
  local ldflags = os.getenv("DFC_LDFLAGS") or "-static"
  local log = os.tmpname()
  -- LC_ALL=C: the messages dfc.lua reads (a missing extern) in English.
  local cmd = table.concat({
    "LC_ALL=C", cc, "-std=gnu11", cflags, "-fwrapv", "-pthread",
    "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-parameter", "-Wno-unused-but-set-variable",
    "-I" .. q(home .. "/include"), "-o", q(output), q(c_file), q(lib), "-lsodium", "-lm", ldflags,
    ">", q(log), "2>&1",
  }, " ")
  local ok = os.execute(cmd)
  local out = read_all(log)
  os.remove(log)
  if not ok then return false, out end
  return true, out
end

return M

-- tap.lua — a tiny TAP producer for the Lua tests (run by prove).
--   local t = require "tap"
--   t.is(got, want, "name"); t.ok(cond, "name"); t.like(str, pattern, "name"); t.done()
local M = {}
local n, failed = 0, 0

local function report(ok, name, diag)
  n = n + 1
  print((ok and "ok " or "not ok ") .. n .. " - " .. (name or ""))
  if not ok then
    failed = failed + 1
    io.stdout:flush() -- diagnostics on stderr: prove shows them without -v
    for line in tostring(diag or ""):gmatch("[^\n]+") do io.stderr:write("#   " .. line .. "\n") end
  end
  return ok
end

function M.ok(cond, name, diag) return report(not not cond, name, diag) end

function M.is(got, want, name)
  return report(got == want, name,
    "got:      " .. tostring(got) .. "\nexpected: " .. tostring(want))
end

function M.like(got, pattern, name)
  local ok = type(got) == "string" and got:find(pattern) ~= nil
  return report(ok, name, "got:     " .. tostring(got) .. "\npattern: " .. pattern)
end

function M.diag(msg) for line in tostring(msg):gmatch("[^\n]+") do print("# " .. line) end end

function M.done()
  print("1.." .. n)
  os.exit(failed == 0 and 0 or 1)
end

return M

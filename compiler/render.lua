-- render.lua — strict template filling for code generation.
--
-- A template is text with ${name} holes.  render(text, vars) fills every hole
-- from vars and fails (an internal error, never a user error) when a hole has
-- no value, so a forgotten variable cannot silently produce broken C.
-- Templates in templates/*.tmpl open with a comment block listing their
-- variables; load(name) reads one (cached).
local M = {}

local cache = {}
M.dir = nil -- set by the driver: the templates/ directory

function M.render(text, vars, where)
  return (text:gsub("%${([%w_]+)}", function(name)
    local v = vars[name]
    if v == nil then
      error({internal = true, msg = ("template %s: no value for ${%s}"):format(where or "?", name)}, 0)
    end
    return tostring(v)
  end))
end

function M.load(name)
  local t = cache[name]
  if t then return t end
  local path = M.dir .. "/" .. name
  local f = io.open(path, "rb")
  if not f then error({internal = true, msg = "missing template " .. path}, 0) end
  t = f:read("a")
  f:close()
  -- Drop the leading comment block that documents the template's variables.
  t = t:gsub("^/%*.-%*/\n", "", 1)
  cache[name] = t
  return t
end

function M.file(name, vars) return M.render(M.load(name), vars, name) end

return M

-- dfc.lua — the `dfc` command line.
--
--   dfc FILE.flow -o NAME        compile to one static executable
--   dfc FILE.flow --emit-c OUT.c write the generated C (readable, with #line)
--   dfc FILE.flow --check        only report errors
--   dfc keygen                   print a new cluster secret
--   dfc --version | --help
--
-- Exit status: 0 done, 1 errors in the flow, 2 usage, 3 internal error.
local home = os.getenv("DFC_HOME") or (arg[0]:match("^(.*)/compiler/[^/]*$") or ".")
package.path = home .. "/compiler/?.lua;" .. package.path

local render = require "render"
render.dir = home .. "/templates"

local VERSION = "0.1.0"

local function usage(out)
  out:write([[
usage: dfc FILE.flow -o NAME          compile FILE.flow into the executable NAME
       dfc FILE.flow --emit-c OUT.c   write the generated C unit
       dfc FILE.flow --check          check the flow, write nothing
       dfc keygen                     print a new 32-byte cluster secret (hex)
       dfc --version
]])
end

local function die(code, fmt, ...)
  io.stderr:write("dfc: " .. string.format(fmt, ...) .. "\n")
  os.exit(code)
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then die(1, "cannot write %s", err) end
  f:write(text)
  f:close()
end

local function main(args)
  if args[1] == "keygen" then
    local tool = home .. "/build/dfc-keygen"
    if not io.open(tool, "rb") then die(2, "%s is missing; run 'make' in %s", tool, home) end
    local ok = os.execute("'" .. tool .. "'")
    os.exit(ok and 0 or 1)
  end
  local file, output, emit_c, check_only
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-o" then
      output = args[i + 1]; i = i + 1
      if not output then die(2, "-o needs a file name") end
    elseif a == "--emit-c" then
      emit_c = args[i + 1]; i = i + 1
      if not emit_c then die(2, "--emit-c needs a file name") end
    elseif a == "--check" then check_only = true
    elseif a == "-h" or a == "--help" then usage(io.stdout); os.exit(0)
    elseif a == "--version" then print("dfc " .. VERSION); os.exit(0)
    elseif a:sub(1, 1) == "-" then
      io.stderr:write("dfc: unknown option '" .. a .. "'\n"); usage(io.stderr); os.exit(2)
    elseif file then die(2, "one flow file at a time (got '%s' and '%s')", file, a)
    else file = a end
    i = i + 1
  end
  if not file then usage(io.stderr); os.exit(2) end
  if not (output or emit_c or check_only) then
    output = (file:match("([^/]+)$") or file):gsub("%.flow$", "")
  end
  local source, err = read_file(file)
  if not source then die(1, "cannot read %s", err) end

  local driver = require "driver"
  local c_file = emit_c or (os.tmpname() .. ".c")
  local c, d, plan = driver.run(source, {file = file, c_file = c_file, stop = check_only and "plan" or nil})
  if not c then
    io.stderr:write(d:render())
    os.exit(1)
  end
  if check_only then os.exit(0) end
  write_file(c_file, c)
  if output then
    local cc = require "cc"
    local ok, out = cc.build(home, c_file, output)
    if not emit_c then os.remove(c_file) end
    if not ok then
      -- An extern that no c { } block (nor the C library) defines: the C
      -- compiler finds no declaration of it, or the linker no definition;
      -- say it at the extern.
      local missing = {}
      for name, ext in pairs(plan.externs) do
        if out:find("undefined reference to `" .. name .. "'", 1, true)
            or out:find("implicit declaration of function '" .. name .. "'", 1, true) then
          missing[#missing + 1] = ext
        end
      end
      table.sort(missing, function(a, b) return a.pos < b.pos end)
      for _, ext in ipairs(missing) do
        d:error(ext.pos, "extern '%s' has no definition; define it in a c { } block, or name a C library function", ext.name)
      end
      if #missing > 0 then
        io.stderr:write(d:render())
        os.exit(1)
      end
      -- Errors inside c { } blocks point into the .flow through #line;
      -- anything else is a dfc bug, never the user's.
      if out:find(file, 1, true) then
        io.stderr:write(out)
        die(1, "the C code in %s does not compile", file)
      end
      io.stderr:write(out)
      die(3, "internal error: the generated C did not compile (please report this with %s)", file)
    end
  end
  os.exit(0)
end

local ok, err = xpcall(main, function(e)
  if type(e) == "table" and e.internal then return e.msg end
  return debug.traceback(tostring(e), 2)
end, arg)
if not ok then
  io.stderr:write("dfc: internal error: " .. tostring(err) .. "\n")
  os.exit(3)
end

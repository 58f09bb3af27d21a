-- driver.lua — runs the passes in order: parse → check → plan → generate →
-- compile.  Each pass reports to one diagnostics object; the driver stops
-- after the first pass with errors, or after the pass a caller asks for
-- (stop = "ast" | "check" | "plan" | "c"), so tests can look at any stage.
local D = require "diagnostics"
local grammar = require "grammar"
local checker = require "checker"
local planner = require "planner"
local codegen = require "codegen"

local M = {}

local function basename(path)
  return (path:match("([^/]+)$") or path):gsub("%.flow$", "")
end

-- Returns result (per `stop`) or nil, diagnostics.
function M.run(source, opts)
  local d = D.new(opts.file, source)
  local ast = grammar.parse(source, d)
  if d:count() > 0 or not ast then return nil, d end
  if opts.stop == "ast" then return ast, d end
  local default = basename(opts.file):gsub("[^%w_]", "_")
  local prog = checker.check(ast, d, default)
  if not prog then return nil, d end
  if opts.stop == "check" then return prog, d end
  local plan = planner.plan(prog, d, source)
  if not plan then return nil, d end
  if opts.stop == "plan" then return plan, d end
  local c = codegen.generate(plan, {diagnostics = d, flow_file = opts.file, c_file = opts.c_file or "flow.c"})
  return c, d, plan
end

return M

#!/usr/bin/env lua5.4
-- check.t — the check and plan passes: every diagnostic a flow mistake can
-- produce, with its exact message, position and caret; several errors in one
-- file; inferred types; step ids; and that `dfc` exits 1 with only the
-- diagnostics (no C compiler output, no Lua traceback).
local root = arg[0]:match("^(.*)/tests/[^/]*$") or "."
package.path = root .. "/compiler/?.lua;" .. root .. "/tests/lib/?.lua;" .. package.path
require("render").dir = root .. "/templates"
local t = require "tap"
local driver = require "driver"
local T = require "types"

local function errors_of(src, stop)
  local res, d = driver.run(src, {file = "t.flow", stop = stop or "plan"})
  return d:render(), res
end

local function err_is(src, want, name)
  local got = errors_of(src)
  t.is(got, want, name)
end

err_is([[
nums = input range(3)
nums | map(x => x + "a") | output stdout
]], [[
t.flow:2:19: error: operator '+' expects numbers, got i64 and str; use '..' to join strings
    nums | map(x => x + "a") | output stdout
                      ^
]], "adding a str to an i64 is a type error at the operator")

err_is([[
nums = input range(3)
nums | filter(x => x * 2) | output stdout
]], [[
t.flow:2:8: error: the predicate of 'filter' must return bool, got i64
    nums | filter(x => x * 2) | output stdout
           ^
]], "a filter predicate must be bool")

err_is([[
nums = input range(3)
nums | count_final | output stdout
]], [[
t.flow:2:8: error: 'count_final' needs a keyed stream of (str, V), got i64; key it first with key_on(x => ...)
    nums | count_final | output stdout
           ^
]], "keyed operators need a keyed stream")

err_is([[
nums = input range(3)
nums | map((a, b) => a) | output stdout
]], [[
t.flow:2:12: error: this function takes 2 parameters, but 'map' passes one value of type i64
    nums | map((a, b) => a) | output stdout
               ^
]], "a lambda with the wrong number of parameters")

err_is([[
words = input file("x") | key_on(w => w)
words | map((k, v) => k .. v .. n) | output stdout
]], [[
t.flow:2:33: error: unknown name 'n'
    words | map((k, v) => k .. v .. n) | output stdout
                                    ^
]], "an unknown name")

-- Several mistakes: all are reported, in order.
local got = errors_of([[
param top: i64 = "ten"
nums = input range(top)
nums | mapp(x => x) | output stdout
nums | map(x => lenn(x)) | output stdout
nums | map(x => if x > 1 then "a" else 2) | output stdout
nums | map(x => len(x)) @"same" | output stdout
nums | map(x => x) @"same" | output stdout
nums = input range(2)
]])
local lines = {}
for l in got:gmatch("[^\n]+: error: [^\n]+") do lines[#lines + 1] = l end
t.is(table.concat(lines, "\n"), table.concat({
  "t.flow:1:18: error: param 'top' is i64 but its default is str",
  "t.flow:3:8: error: unknown operator 'mapp'",
  "t.flow:4:17: error: unknown function 'lenn'",
  "t.flow:5:17: error: the branches of 'if' differ: str and i64",
  "t.flow:6:17: error: 'len' takes a str or a list, got i64",
  "t.flow:8:1: error: stream 'nums' is defined twice",
}, "\n"), "every error of a file is reported, in source order")

err_is([[
fn f(a: i64, b: f64) -> f64 = float(a) + b
extern g(str) -> i64
input range(1) | map(x => f(x)) | map(x => g(1)) | map(x => f(1, 2)) | output stdout
]], [[
t.flow:3:27: error: 'f' takes 2 arguments, got 1
    input range(1) | map(x => f(x)) | map(x => g(1)) | map(x => f(1, 2)) | output stdout
                              ^
t.flow:3:46: error: argument 1 of 'g' must be str, got i64
    input range(1) | map(x => f(x)) | map(x => g(1)) | map(x => f(1, 2)) | output stdout
                                                 ^
]], "fn and extern calls: argument count and types; an i64 may stand for an f64")

err_is([[
a = input range(3) | map(x => x) @"dup"
a | map(x => x) @"dup" | output stdout
]], [[
t.flow:2:5: error: step id 'dup' is used twice
    a | map(x => x) @"dup" | output stdout
        ^
]], "duplicate step ids")

err_is([[
nums = input range(3)
nums | map(x => x)
]], [[
t.flow:2:1: error: this pipeline's result is unused; end it with '| output ...' or bind it
    nums | map(x => x)
    ^
]], "a pipeline that goes nowhere")

err_is([[
extern f(i64, [str]) -> i64
input range(1) | map(x => f(x, ["a"])) | output stdout
]], [[
t.flow:1:15: error: extern parameters are bool, i64, f64 or str, got [str]
    extern f(i64, [str]) -> i64
                  ^
]], "extern types are scalars")

err_is([[
s = input range(3)
hot, cold = s | branch(x => x > 1)
hot | map(x => x) | output stdout
s | key_on(x => x) | output stdout
]], [[
t.flow:4:5: error: the key function of 'key_on' must return str, got i64
    s | key_on(x => x) | output stdout
        ^
]], "key_on needs a str key")

err_is([[
s = input range(3)
s | fold_final(0, (acc, x) => acc + 0.5) | output stdout
]], [[
t.flow:2:5: error: 'fold_final' needs a keyed stream of (str, V), got i64; key it first with key_on(x => ...)
    s | fold_final(0, (acc, x) => acc + 0.5) | output stdout
        ^
]], "fold_final on an unkeyed stream")

err_is([[
s = input range(3) | key_on(x => str(x))
s | fold_final(0, (acc, x) => acc + 0.5) | output stdout
]], [[
t.flow:2:16: error: the initial value is i64 but the folder returns f64; write the initial value as a float (0.0)
    s | fold_final(0, (acc, x) => acc + 0.5) | output stdout
                   ^
]], "fold_final's accumulator type must be consistent")

err_is([[
s = input range(3)
]], [[
t.flow:1:1: error: the flow has no output; end a pipeline with '| output stdout' (or file, dir, discard)
    s = input range(3)
    ^
]], "a flow without output")

-- Types are inferred from sources through every step.
local _, prog = errors_of([[
lines = input csv("x")
pairs = lines | map(r => (r[0], try_parse_f64(r[1]))) | filter_map_value(v => v)
pairs | map((k, v) => (k, [v], none)) | map(x => if x.1[0] > 1.0 then x.2 else some(x.0)) | output stdout
]], "check")
local shown = {}
for i, n in ipairs(prog.nodes) do shown[i] = n.op .. ":" .. (n.out[1] and T.tostring(n.out[1]) or "-") end
t.is(table.concat(shown, " "),
  "input:[str] map:(str, f64?) filter_map_value:(str, f64) map:(str, [f64], str?) map:str? output:-",
  "item types are inferred through the chain")

-- Step ids: <binding>.<operator>, .2 for a repeat, explicit ids kept.
local _, plan = errors_of([[
words = input file("x") | map(x => x) | map(x => x) | filter(x => true) @"keep"
words | map(x => x) | output stdout
]], "plan")
local ids = {}
for i, s in ipairs(plan.steps) do ids[i] = s.id end
t.is(table.concat(ids, " "), "words.input words.map words.map.2 keep words.map.3 words.output",
  "step ids follow <binding>.<operator> with .2 for repeats")

-- Which parallel files are read in shared chunks (plan.sources[i].unordered):
-- only those whose lines reach steps that cannot tell their order or worker.
local function chunked(body)
  local src = "extern tick(str) -> str\nparam f: str = \"x\"\nlines = input file(f, parallel = true)\n" .. body
  local plan, d = driver.run(src, {file = "t.flow", stop = "plan"})
  if not plan then return "error: " .. d:render() end
  return plan.sources[1].unordered and "chunks" or "ranges"
end
local function range_chunked(body)
  local plan, d = driver.run("nums = input range(100)\n" .. body, {file = "t.flow", stop = "plan"})
  if not plan then return "error: " .. d:render() end
  return plan.sources[1].unordered and "chunks" or "ranges"
end
t.is(range_chunked("nums | key_on(x => str(x % 10)) | count_final | output stdout"), "chunks",
  "range read in chunks: keyed count")
t.is(range_chunked("nums | map(x => x * 2) | output stdout"), "ranges", "range read in ranges: an output shows the order")
t.is(range_chunked("nums | key_on(x => \"all\") | fold_final(0, (a, x) => a * x) | output stdout"), "ranges",
  "range read in ranges: fold_final of a product (only sums are recognized)")
t.is(range_chunked("nums | key_on(x => \"all\") | fold_final(0, (a, x) => a + x) | output stdout"), "chunks",
  "range read in chunks: fold_final of an i64 sum")
t.is(range_chunked("nums | map(x => (str(x), float(x))) | reduce_final((a, b) => a + b) | output stdout"), "ranges",
  "range read in ranges: reduce_final of an f64 sum (float addition is not associative)")
for _, c in ipairs({
  {"lines | flat_map(l => split(l, \" \")) | key_on(w => w) | count_final | output stdout", "chunks", "wordcount"},
  {"lines | count_final(l => l) | output stdout", "chunks", "count_final with a key function"},
  {"lines | map(l => (l, len(l))) | max_final | output stdout\nlines | key_on(l => l) | min_final | output discard", "chunks", "max_final of i64, min_final of str, two branches"},
  {"hi, lo = lines | branch(l => len(l) > 3)\nmerge(hi, lo) | filter(l => l != \"\") | output discard", "chunks", "branch, merge, discard"},
  {"lines | output stdout", "ranges", "an output shows the order"},
  {"lines | map(l => (l, float(len(l)))) | max_final | output stdout", "ranges", "max_final of f64 (NaN, -0.0)"},
  {"lines | map(l => (l, int(l))) | count_final | output stdout", "ranges", "a step that can fail (which error ends the run)"},
  {"lines | map(l => tick(l)) | count_final(l => l) | output stdout", "ranges", "an extern call"},
  {"lines | inspect | count_final(l => l) | output stdout", "ranges", "inspect prints"},
  {"lines | key_on(l => l) | fold_final(\"\", (a, l) => a .. l) | output stdout", "ranges", "fold_final's function may depend on order"},
  {"lines | count_final(l => l) | output stdout\nlines | output stdout", "ranges", "one branch that shows the order is enough"},
}) do
  t.is(chunked(c[1]), c[2], "parallel file read in " .. c[2] .. ": " .. c[3])
end

-- The command: exit 1, only diagnostics on stderr, nothing from cc.
local tmp = os.tmpname()
local f = io.open(tmp .. ".flow", "w")
f:write('nums = input range(3)\nnums | map(x => x + "a") | output stdout\n')
f:close()
local p = io.popen("'" .. root .. "/bin/dfc' " .. tmp .. ".flow -o " .. tmp .. ".bin 2>&1; echo \"rc=$?\"")
local out = p:read("a")
p:close()
t.like(out, "^[^\n]*%.flow:2:19: error: operator '%+' expects numbers", "dfc prints the diagnostic first")
t.like(out, "rc=1\n$", "dfc exits 1 on a type error")
t.ok(not out:find("gcc") and not out:find("cc1") and not out:find("traceback") and not out:find("%.c:"),
  "no C compiler output, no traceback", out)
t.ok(not io.open(tmp .. ".bin", "r"), "no executable is written")
os.remove(tmp .. ".flow"); os.remove(tmp)
t.done()

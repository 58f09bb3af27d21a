#!/usr/bin/env lua5.4
-- parse.t — the parser (compiler/grammar.lua) and diagnostics
-- (compiler/diagnostics.lua): the AST of every construct as S-expressions,
-- precedence, positions, every syntax error with its rendering, recovery,
-- and a fuzz that must never raise.
local root = (arg[0]:match("^(.*)/tests/[^/]*$") or ".")
package.path = root .. "/compiler/?.lua;" .. root .. "/tests/lib/?.lua;" .. package.path

local t = require "tap"
local G = require "grammar"
local D = require "diagnostics"

---------------------------------------------------------------------------
-- AST → S-expression

local sx

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = {["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\"}
    return named[c] or string.format("\\x%02x", c:byte())
  end) .. '"'
end

local function list(xs, sep)
  local out = {}
  for i, x in ipairs(xs) do out[i] = sx(x) end
  return table.concat(out, sep or " ")
end

local function sp(...)          -- joins non-empty parts with spaces, in parens
  local out = {}
  for _, s in ipairs({...}) do if s ~= "" then out[#out + 1] = s end end
  return "(" .. table.concat(out, " ") .. ")"
end

local function args(n)
  local parts = {list(n.args)}
  for _, a in ipairs(n.named or {}) do parts[#parts + 1] = a.name .. "=" .. sx(a.value) end
  if n.step_id then parts[#parts + 1] = "@" .. quote(n.step_id) end
  return (table.concat(parts, " "):gsub("^ +", ""):gsub(" +", " "))
end

function sx(n)
  if n == nil then return "nil" end
  local tag = n.tag
  if tag == "int" then return tostring(n.value)
  elseif tag == "float" then return sp("float", string.format("%.17g", n.value))
  elseif tag == "duration" then return sp("ms", tostring(n.value))
  elseif tag == "string" then return quote(n.value)
  elseif tag == "bool" then return tostring(n.value)
  elseif tag == "none" then return "none"
  elseif tag == "var" then return n.name
  elseif tag == "binop" then return sp(n.op, sx(n.lhs), sx(n.rhs))
  elseif tag == "unop" then return sp(n.op == "-" and "neg" or n.op, sx(n.expr))
  elseif tag == "if" then return sp("if", sx(n.cond), sx(n.then_), sx(n.else_))
  elseif tag == "let" then return sp("let", n.name, sx(n.value), sx(n.body))
  elseif tag == "call" then return sp("call", n.name, args(n))
  elseif tag == "tuple" then return sp("tuple", list(n.elems))
  elseif tag == "list" then return "[" .. list(n.elems) .. "]"
  elseif tag == "index" then return sp("index", sx(n.expr), sx(n.index))
  elseif tag == "field" then return sp(".", sx(n.expr), tostring(n.index))
  elseif tag == "lambda" then
    local ps = {}
    for i, p in ipairs(n.params) do ps[i] = p.name end
    return sp(n.destructure and "fn*" or "fn", "(" .. table.concat(ps, " ") .. ")", sx(n.body))
  elseif tag == "tname" then return n.name
  elseif tag == "ttuple" then return "(" .. list(n.elems, ", ") .. ")"
  elseif tag == "tlist" then return "[" .. sx(n.elem) .. "]"
  elseif tag == "toption" then return sx(n.elem) .. "?"
  elseif tag == "program" then return list(n.items, "\n")
  elseif tag == "flow" then return sp("flow", n.name)
  elseif tag == "param" then return sp("param", n.name, sx(n.type), n.default and sx(n.default) or "")
  elseif tag == "cblock" then return sp("c", quote(n.code))
  elseif tag == "extern" then return sp("extern", n.name, "(" .. list(n.params) .. ")", sx(n.ret))
  elseif tag == "fn" then
    local ps = {}
    for i, p in ipairs(n.params) do ps[i] = "(" .. p.name .. " " .. sx(p.type) .. ")" end
    return sp("fn", n.name, "(" .. table.concat(ps, " ") .. ")", n.ret and sx(n.ret) or "-", sx(n.body))
  elseif tag == "bind" then
    local ns = {}
    for i, x in ipairs(n.names) do ns[i] = x.name end
    return sp("bind", "(" .. table.concat(ns, " ") .. ")", sx(n.stream))
  elseif tag == "run" then return sp("run", sx(n.stream))
  elseif tag == "pipe" then return sp("pipe", sx(n.head), list(n.ops))
  elseif tag == "input" then return sp("input", sx(n.source))
  elseif tag == "ref" then return sp("ref", n.name)
  elseif tag == "opcall" then return sp("op", n.name, args(n))
  elseif tag == "output" then
    return sp("output", sx(n.sink), n.step_id and "@" .. quote(n.step_id) or "")
  end
  return "<?" .. tostring(tag) .. ">"
end

---------------------------------------------------------------------------
-- Helpers

local function parse(src, name)
  local d = D.new(name or "t.flow", src)
  local ast = G.parse(src, d)
  return ast, d
end

-- The S-expression of a program, or its rendered errors.
local function prog(src)
  local ast, d = parse(src)
  if d:count() > 0 then return d:render() end
  return sx(ast)
end

-- The S-expression of one expression, or its rendered errors.
local function expr(src)
  local d = D.new("e", src)
  local e = G.parse_expr(src, d)
  if d:count() > 0 or not e then return d:render() end
  return sx(e)
end

local function errors(src)
  local _, d = parse(src)
  return d:render()
end

-- Walks every node; calls f(node, parent_key).
local function walk(n, f, key)
  if type(n) ~= "table" then return end
  if n.tag then f(n, key) end
  for k, v in pairs(n) do walk(v, f, k) end
end

---------------------------------------------------------------------------
-- Literals and names

local expr_cases = {
  {"123", "123"}, {"1_000_000", "1000000"}, {"0", "0"},
  {"1.5", "(float 1.5)"}, {"2e9", "(float 2000000000)"}, {"1.5e-3", "(float 0.0015)"},
  {"2E+3", "(float 2000)"}, {"1_000.5", "(float 1000.5)"},
  {"10s", "(ms 10000)"}, {"500ms", "(ms 500)"}, {"2m", "(ms 120000)"}, {"1h", "(ms 3600000)"},
  {'"plain"', '"plain"'}, {'"a\\n\\"b\\"\\t\\r\\\\"', '"a\\n\\"b\\"\\t\\r\\\\"'},
  {'"nul\\0x"', '"nul\\x00x"'}, {'"\\x41\\x7a\\x7F"', '"Az\\x7f"'}, {'""', '""'},
  {'"héllo -- not a comment"', '"héllo -- not a comment"'},
  {"true", "true"}, {"false", "false"}, {"none", "none"},
  {"x", "x"}, {"_a1", "_a1"}, {"input", "input"}, {"output", "output"},
  {"trueish", "trueish"}, {"nonex", "nonex"}, {"iff", "iff"}, {"c2", "c2"},
  -- calls, tuples, lists, indexing, fields
  {"f()", "(call f)"}, {"f(x, 1)", "(call f x 1)"}, {"some(x)", "(call some x)"},
  {"f(a, k = 1, b)", "(call f a b k=1)"}, {"f(x == y)", "(call f (== x y))"},
  {"()", "(tuple)"}, {"(a)", "a"}, {"((a))", "a"}, {"(a, b)", "(tuple a b)"},
  {"(1, (2, 3), \"s\")", "(tuple 1 (tuple 2 3) \"s\")"},
  {"[]", "[]"}, {"[1, 2, 3]", "[1 2 3]"}, {"[[1], []]", "[[1] []]"},
  {"xs[0]", "(index xs 0)"}, {"xs[i + 1][j]", "(index (index xs (+ i 1)) j)"},
  {"t.0", "(. t 0)"}, {"w.1.0", "(. (. w 1) 0)"}, {"p.10", "(. p 10)"},
  {"f(x).1", "(. (call f x) 1)"}, {"(a, b).0", "(. (tuple a b) 0)"}, {"xs[0].1", "(. (index xs 0) 1)"},
  {"t.0 .. s", "(.. (. t 0) s)"}, {"1..2", "(.. 1 2)"}, {"x.0..y.1", "(.. (. x 0) (. y 1))"},
  -- lambdas
  {"x => x + 1", "(fn (x) (+ x 1))"}, {"(k, v) => v", "(fn* (k v) v)"},
  {"(x) => x", "(fn (x) x)"}, {"x => y => x", "(fn (x) (fn (y) x))"},
  {"f(x => x, 1)", "(call f (fn (x) x) 1)"},
  {"(acc, v) => (acc + v, [v])", "(fn* (acc v) (tuple (+ acc v) [v]))"},
  -- if / let
  {"if a then b else e", "(if a b e)"},
  {"if a then b else e + 1", "(if a b (+ e 1))"},
  {"if a then if b then 1 else 2 else 3", "(if a (if b 1 2) 3)"},
  {"if a then 1 else if b then 2 else 3", "(if a 1 (if b 2 3))"},
  {"let x = 1 in x * 2", "(let x 1 (* x 2))"},
  {"let x = let y = 1 in y in x", "(let x (let y 1 y) x)"},
  {"1 + if a then 2 else 3 + 4", "(+ 1 (if a 2 (+ 3 4)))"},
  {"x => if x > 0 then some(x) else none", "(fn (x) (if (> x 0) (call some x) none))"},
  -- comments and newlines inside an expression
  {"f(a, -- first\n    b)", "(call f a b)"},
}
for _, c in ipairs(expr_cases) do
  t.is(expr(c[1]), c[2], "expr " .. c[1]:gsub("\n", "\\n"))
end

---------------------------------------------------------------------------
-- Precedence and associativity

local prec_cases = {
  {"a or b and e", "(or a (and b e))"},
  {"a and b or e", "(or (and a b) e)"},
  {"a or b or e", "(or (or a b) e)"},
  {"a and b and e", "(and (and a b) e)"},
  {"not a and b", "(and (not a) b)"},
  {"not a == b", "(not (== a b))"},
  {"not not a", "(not (not a))"},
  {"a == b and e != d", "(and (== a b) (!= e d))"},
  {"a < b or a >= e", "(or (< a b) (>= a e))"},
  {"a <= b", "(<= a b)"}, {"a > b", "(> a b)"},
  {"a .. b == e", "(== (.. a b) e)"},
  {"a .. b .. e", "(.. a (.. b e))"},
  {"a + b .. e", "(.. (+ a b) e)"},
  {"a .. b + e", "(.. a (+ b e))"},
  {"a - b - e", "(- (- a b) e)"},
  {"a + b * e", "(+ a (* b e))"},
  {"a * b + e", "(+ (* a b) e)"},
  {"a / b % e * d", "(* (% (/ a b) e) d)"},
  {"(a + b) * e", "(* (+ a b) e)"},
  {"-a * b", "(* (neg a) b)"},
  {"- -a", "(neg (neg a))"},
  {"-a.0", "(neg (. a 0))"},
  {"-xs[1]", "(neg (index xs 1))"},
  {"a - -1", "(- a (neg 1))"},
  {"a-1", "(- a 1)"},
  {"not a or not b", "(or (not a) (not b))"},
  {"x => a or b", "(fn (x) (or a b))"},
  {"x => let y = x in y .. y", "(fn (x) (let y x (.. y y)))"},
  {"n > 10 and not starts_with(k, \"x\")", "(and (> n 10) (not (call starts_with k \"x\")))"},
}
for _, c in ipairs(prec_cases) do t.is(expr(c[1]), c[2], "precedence " .. c[1]) end

---------------------------------------------------------------------------
-- Statements

local stmt_cases = {
  {"flow wordcount", "(flow wordcount)"},
  {"param top: i64 = 10", "(param top i64 10)"},
  {"param input: str", "(param input str)"},
  {"param r: f64 = -1.5", "(param r f64 (neg (float 1.5)))"},
  {"param t: (i64, [str])? = none", "(param t (i64, [str])? none)"},
  {"param t: [i64?]", "(param t [i64?])"},
  {"param t: ((i64))", "(param t i64)"},
  {"param t: i64??", "(param t i64??)"},
  {"param t: (bool, (f64, str))", "(param t (bool, (f64, str)))"},
  {"extern score(str) -> i64", "(extern score (str) i64)"},
  {"extern now2() -> i64", "(extern now2 () i64)"},
  {"extern f(i64, [str], (i64, f64)?) -> bool", "(extern f (i64 [str] (i64, f64)?) bool)"},
  {"fn clean(s: str) -> str = lower(trim(s))", "(fn clean ((s str)) str (call lower (call trim s)))"},
  {"fn add(a: i64, b: i64) = a + b", "(fn add ((a i64) (b i64)) - (+ a b))"},
  {"fn k() -> i64 = 1", "(fn k () i64 1)"},
  {"fn f(x: i64) -> i64 =\n  x\n    + 1", "(fn f ((x i64)) i64 (+ x 1))"},
  {"c { int x; }", '(c " int x; ")'},
  {"c {}", '(c "")'},
  {"c {\n  static int f(void) { return '}' + \"}{\"[0]; } // }\n  /* { */\n}",
   '(c "\\n  static int f(void) { return \'}\' + \\"}{\\"[0]; } // }\\n  /* { */\\n")'},
  {"lines = input file(input)", "(bind (lines) (pipe (input (op file input))))"},
  {"lines = input stdin", "(bind (lines) (pipe (input (op stdin))))"},
  {"xs = input range(100) @\"src\"", "(bind (xs) (pipe (input (op range 100 @\"src\"))))"},
  {"a = input file(p, parallel = true)", "(bind (a) (pipe (input (op file p parallel=true))))"},
  {"b = a | map(x => x) | key_rm", "(bind (b) (pipe (ref a) (op map (fn (x) x)) (op key_rm)))"},
  {"b = a\n  | filter(x => x > 0)\n| count_final @\"n\"",
   "(bind (b) (pipe (ref a) (op filter (fn (x) (> x 0))) (op count_final @\"n\")))"},
  {"hot, cold = s | branch(x => x > 10)", "(bind (hot cold) (pipe (ref s) (op branch (fn (x) (> x 10)))))"},
  {"down, late, meta = s | fold_window(c1, w, 0, (a, v) => a + v, (a, b) => a + b)",
   "(bind (down late meta) (pipe (ref s) (op fold_window c1 w 0 (fn* (a v) (+ a v)) (fn* (a b) (+ a b)))))"},
  {"s | output stdout", "(run (pipe (ref s) (output (op stdout))))"},
  {"s | output file(\"o.txt\") @\"out\"", "(run (pipe (ref s) (output (op file \"o.txt\") @\"out\")))"},
  {"input stdin | output stdout", "(run (pipe (input (op stdin)) (output (op stdout))))"},
  {"merge(a, b) | inspect", "(run (pipe (op merge a b) (op inspect)))"},
  {"j = join(a, b, insert = last, emit = final)", "(bind (j) (pipe (op join a b insert=last emit=final)))"},
  {"input = input stdin", "(bind (input) (pipe (input (op stdin))))"},
  {"x = input | map(l => l)", "(bind (x) (pipe (ref input) (op map (fn (l) l))))"},
  {"s", "(run (pipe (ref s)))"},
  {"a = input", "(bind (a) (pipe (ref input)))"},
  {"c = s | map((sensor, c) => c)", "(bind (c) (pipe (ref s) (op map (fn* (sensor c) c))))"},
  {"c | output stdout", "(run (pipe (ref c) (output (op stdout))))"},
  {"c, d = s | branch(c => c)", "(bind (c d) (pipe (ref s) (op branch (fn (c) c))))"},
  {"c\n  | key_rm", "(run (pipe (ref c) (op key_rm)))"},
  {"c{x}", '(c "x")'},
  {"w = s | map(w => w.1.0) | collect(10, 5s)", "(bind (w) (pipe (ref s) (op map (fn (w) (. (. w 1) 0))) (op collect 10 (ms 5000))))"},
  {"e = s | event(v => v.0, wait = 500ms)", "(bind (e) (pipe (ref s) (op event (fn (v) (. v 0)) wait=(ms 500))))"},
  {"", ""},
  {"-- only a comment\n\n   \n", ""},
  {"flow a -- trailing comment\nparam x: i64", "(flow a)\n(param x i64)"},
  {"flow a\r\nparam x: i64 = 1\r\n", "(flow a)\n(param x i64 1)"},
  {"a = s\n-- a comment at column 1 inside a pipeline\n  | map(x => x)\n\n  | key_rm",
   "(bind (a) (pipe (ref s) (op map (fn (x) x)) (op key_rm)))"},
}
for _, c in ipairs(stmt_cases) do t.is(prog(c[1]), c[2], "statement " .. c[1]:gsub("\n", "\\n")) end

---------------------------------------------------------------------------
-- The example program

local example = [[
-- comments run to end of line
flow wordcount
param input: str = "examples/data/words.txt"
param top:   i64 = 10
c {
  #include <ctype.h>
  static int64_t score(dfc_str w) { return (int64_t)w.len; /* } */ }
}
extern score(str) -> i64
fn clean(s: str) -> str = lower(trim(s))
lines  = input file(input, parallel = true)
words  = lines  | flat_map(l => split(clean(l), " "))
               | filter(w => len(w) > 0)
counts = words  | key_on(w => w) | count_final @"word_counts"
hot, cold = counts | branch((k, n) => n > 10 and not starts_with(k, "x"))
merge(hot, cold) | map(p => let s = str(p.1) in if p.1 > 3 then p.0 .. " " .. s else "-")
  | output stdout
]]

local example_sx = table.concat({
  '(flow wordcount)',
  '(param input str "examples/data/words.txt")',
  '(param top i64 10)',
  '(c "\\n  #include <ctype.h>\\n  static int64_t score(dfc_str w) { return (int64_t)w.len; /* } */ }\\n")',
  '(extern score (str) i64)',
  '(fn clean ((s str)) str (call lower (call trim s)))',
  '(bind (lines) (pipe (input (op file input parallel=true))))',
  '(bind (words) (pipe (ref lines) (op flat_map (fn (l) (call split (call clean l) " "))) '
    .. '(op filter (fn (w) (> (call len w) 0)))))',
  '(bind (counts) (pipe (ref words) (op key_on (fn (w) w)) (op count_final @"word_counts")))',
  '(bind (hot cold) (pipe (ref counts) (op branch (fn* (k n) (and (> n 10) (not (call starts_with k "x")))))))',
  '(run (pipe (op merge hot cold) (op map (fn (p) (let s (call str (. p 1)) '
    .. '(if (> (. p 1) 3) (.. (. p 0) (.. " " s)) "-")))) (output (op stdout))))',
}, "\n")

do
  local ast, d = parse(example, "wordcount.flow")
  t.is(d:count(), 0, "example: no errors")
  t.is(d:render(), "", "example: nothing rendered")
  t.is(sx(ast), example_sx, "example: AST")

  -- Every node has a position; every expression position is the first byte of its text.
  local missing = {}
  walk(ast, function(n) if math.type(n.pos) ~= "integer" then missing[#missing + 1] = n.tag end end)
  t.is(table.concat(missing, " "), "", "example: every node has an integer pos")

  local function at(n) return string.format("%d:%d", d:line_col(n.pos)) end
  local items = ast.items
  t.is(at(items[1]), "2:1", "pos: flow")
  t.is(at(items[3].default), "4:20", "pos: param default")
  t.is(at(items[3].type), "4:14", "pos: param type")
  t.is(items[4].code_pos, example:find("{", 1, true) + 1, "pos: cblock code_pos")
  t.is(at(items[6].params[1]), "10:10", "pos: fn param")
  t.is(at(items[6].body.args[1]), "10:33", "pos: nested call")
  t.is(at(items[7].stream.head), "11:10", "pos: input head at 'input'")
  t.is(at(items[7].stream.head.source.named[1]), "11:28", "pos: named argument")
  t.is(at(items[8].stream.ops[2]), "13:18", "pos: op on a continuation line")
  t.is(at(items[10].names[2]), "15:6", "pos: second bound name")
  local lam = items[10].stream.ops[1].args[1]
  t.is(at(lam), "15:29", "pos: destructuring lambda at '('")
  t.is(at(lam.params[2]), "15:33", "pos: lambda param")
  t.is(at(lam.body), "15:39", "pos: binop at its left operand")
  t.is(string.format("%d:%d", d:line_col(lam.body.op_pos)), "15:46", "op_pos: 'and'")
  t.is(at(lam.body.rhs), "15:50", "pos: not")
  local map = items[11].stream.ops[1].args[1].body
  t.is(at(map), "16:29", "pos: let")
  t.is(string.format("%d:%d", d:line_col(map.name_pos)), "16:33", "name_pos: let")
  t.is(at(map.body.then_.lhs), "16:65", "pos: field at its tuple")
  t.is(string.format("%d:%d", d:line_col(map.body.then_.lhs.op_pos)), "16:66", "op_pos: field '.'")
  t.is(at(items[11].stream.ops[2]), "17:5", "pos: output")
  t.is(at(items[11].stream.ops[2].sink), "17:12", "pos: sink")
end

---------------------------------------------------------------------------
-- Syntax errors: message, position and rendering

local function err_case(src, want, name)
  t.is(errors(src), want, "error: " .. (name or src:gsub("\n", "\\n")))
end

err_case("flow\n", "t.flow:1:5: error: expected a name after 'flow'\n    flow\n        ^\n")
err_case("param then: i64 = 1",
  "t.flow:1:7: error: 'then' is a keyword and cannot be a name\n    param then: i64 = 1\n          ^\n")
err_case("fn f(x: i64, in: i64) = x",
  "t.flow:1:14: error: 'in' is a keyword and cannot be a name\n    fn f(x: i64, in: i64) = x\n                 ^\n")
err_case("let = input stdin",
  "t.flow:1:1: error: 'let' is a keyword and cannot be a name\n    let = input stdin\n    ^\n")
err_case("a = s | map(x => let else = 1 in x)",
  "t.flow:1:22: error: 'else' is a keyword and cannot be a name\n    a = s | map(x => let else = 1 in x)\n                         ^\n")
err_case("param top: i64 10",
  "t.flow:1:16: error: expected '=' after param type\n    param top: i64 10\n                   ^\n")
err_case("param top i64 = 1",
  "t.flow:1:11: error: expected ':' after the param name\n    param top i64 = 1\n              ^\n")
err_case("param top: = 1",
  "t.flow:1:12: error: expected a type after ':'\n    param top: = 1\n               ^\n")
err_case("param top: int = 1",
  "t.flow:1:12: error: unknown type 'int' (types are i64, f64, bool, str, (T, U), [T] and T?)\n"
  .. "    param top: int = 1\n               ^\n")
err_case("param top: i64 = 1 2",
  "t.flow:1:20: error: expected the end of the line after the param default\n    param top: i64 = 1 2\n                       ^\n")
err_case("param p: (i64, str = 1",
  "t.flow:1:20: error: expected ')' to close '(' at 1:10\n    param p: (i64, str = 1\n                       ^\n")
err_case("param p: [i64 = 1",
  "t.flow:1:15: error: expected ']' to close '[' at 1:10\n    param p: [i64 = 1\n                  ^\n")
err_case("a = s | map(x => x +)",
  "t.flow:1:21: error: expected an expression after '+'\n    a = s | map(x => x +)\n                        ^\n")
err_case("fn f(x: i64) = x *\n",
  "t.flow:1:19: error: expected an expression after '*'\n    fn f(x: i64) = x *\n                      ^\n",
  "missing operand at the end of a line points after the operator")
err_case("fn f(x: i64) = x or -- trailing comment\n\n-- more\nflow b\n",
  "t.flow:1:20: error: expected an expression after 'or'\n    fn f(x: i64) = x or -- trailing comment\n                       ^\n",
  "missing operand before comment lines points after the operator")
err_case("a = s | map(x => f(x, y)",
  "t.flow:1:25: error: expected ')' to close '(' at 1:12\n    a = s | map(x => f(x, y)\n                            ^\n")
err_case("fn g(x: i64) = f(x,\n    y\n",
  "t.flow:2:6: error: expected ')' to close '(' at 1:17\n        y\n         ^\n",
  "missing ')' across lines")
err_case("a = s | map(x => [1, 2)",
  "t.flow:1:23: error: expected ']' to close '[' at 1:18\n    a = s | map(x => [1, 2)\n                          ^\n")
err_case("a = s | map(x => xs[1)",
  "t.flow:1:22: error: expected ']' to close '[' at 1:20\n    a = s | map(x => xs[1)\n                         ^\n")
err_case("a = s | map(x => (1, )",
  "t.flow:1:22: error: expected an expression after ','\n    a = s | map(x => (1, )\n                         ^\n")
err_case("a = s | map(x => f(1, ))",
  "t.flow:1:23: error: expected an argument after ','\n    a = s | map(x => f(1, ))\n                          ^\n")
err_case('a = input file("a\\qb")',
  "t.flow:1:18: error: unknown escape '\\q'\n    a = input file(\"a\\qb\")\n                     ^\n")
err_case('a = input file("a\\x4")',
  "t.flow:1:18: error: '\\x' must be followed by two hex digits\n    a = input file(\"a\\x4\")\n                     ^\n")
err_case('a = input file("abc)\nb = input stdin',
  "t.flow:1:16: error: unterminated string\n    a = input file(\"abc)\n                   ^\n")
err_case('a = input file("abc\\',
  "t.flow:1:16: error: unterminated string\n    a = input file(\"abc\\\n                   ^\n")
err_case("a = s | map(x => x < 1 < 2)",
  "t.flow:1:24: error: comparisons do not chain: use 'and' or parentheses before '<'\n"
  .. "    a = s | map(x => x < 1 < 2)\n                           ^\n")
err_case("a = s | map(x => x.name)",
  "t.flow:1:20: error: expected a field number after '.' (tuple fields are .0, .1, ...)\n"
  .. "    a = s | map(x => x.name)\n                       ^\n")
err_case("a = s | collect(10, 5min)",
  "t.flow:1:21: error: malformed number '5min'\n    a = s | collect(10, 5min)\n                        ^\n")
err_case("a = s | collect(10, 1.5s)",
  "t.flow:1:21: error: a duration is a whole number of units: '1.5s'\n    a = s | collect(10, 1.5s)\n                        ^\n")
err_case("param n: i64 = 99999999999999999999",
  "t.flow:1:16: error: integer 99999999999999999999 does not fit in i64\n"
  .. "    param n: i64 = 99999999999999999999\n                   ^\n")
err_case("a = s | map(x => if x then 1)",
  "t.flow:1:29: error: expected 'else' after the 'then' branch of 'if'\n"
  .. "    a = s | map(x => if x then 1)\n                                ^\n")
err_case("a = s | map(x => if x 1 else 2)",
  "t.flow:1:23: error: expected 'then' after the condition of 'if'\n"
  .. "    a = s | map(x => if x 1 else 2)\n                          ^\n")
err_case("a = s | map(x => let y = 1 y)",
  "t.flow:1:28: error: expected 'in' after the value of 'let'\n    a = s | map(x => let y = 1 y)\n                               ^\n")
err_case("a = s | map(x => let y 1 in y)",
  "t.flow:1:24: error: expected '=' after the name in 'let'\n    a = s | map(x => let y 1 in y)\n                           ^\n")
err_case("a = s | map(x =>)",
  "t.flow:1:17: error: expected an expression after '=>'\n    a = s | map(x =>)\n                    ^\n")
err_case("a = s | map(x => not)",
  "t.flow:1:21: error: expected an expression after 'not'\n    a = s | map(x => not)\n                        ^\n")
err_case("a = s | map(x => -)",
  "t.flow:1:19: error: expected an expression after '-'\n    a = s | map(x => -)\n                      ^\n")
err_case("a = s |",
  "t.flow:1:8: error: expected an operator after '|'\n    a = s |\n           ^\n")
err_case("a = s | output",
  "t.flow:1:15: error: expected a sink after 'output'\n    a = s | output\n                  ^\n")
err_case("a = s | count_final @word",
  "t.flow:1:22: error: expected a step id string after '@'\n    a = s | count_final @word\n                         ^\n")
err_case("a = 42",
  "t.flow:1:5: error: expected a stream after '='\n    a = 42\n        ^\n")
err_case("a = s map(x => x)",
  "t.flow:1:7: error: expected '|' or the end of the line after the stream\n    a = s map(x => x)\n          ^\n")
err_case("a, = s | branch(f)",
  "t.flow:1:4: error: expected a name after ','\n    a, = s | branch(f)\n       ^\n")
err_case("a, b s | branch(f)",
  "t.flow:1:6: error: expected '=' after the names to bind\n    a, b s | branch(f)\n         ^\n")
err_case(")",
  "t.flow:1:1: error: expected a statement: flow, param, c { }, extern, fn, a binding (name = stream) or a pipeline\n"
  .. "    )\n    ^\n")
err_case("extern g(i64) i64",
  "t.flow:1:15: error: expected '->' and the return type after the parameter types\n"
  .. "    extern g(i64) i64\n                  ^\n")
err_case("extern g -> i64",
  "t.flow:1:10: error: expected '(' and the parameter types after the extern name\n"
  .. "    extern g -> i64\n             ^\n")
err_case("extern g(i64 -> i64",
  "t.flow:1:14: error: expected ')' to close '(' at 1:9\n    extern g(i64 -> i64\n                 ^\n")
err_case("fn f(x: i64) x",
  "t.flow:1:14: error: expected '->' or '=' after the parameters\n    fn f(x: i64) x\n                 ^\n")
err_case("fn f(x: i64) -> i64 x",
  "t.flow:1:21: error: expected '=' after the return type\n    fn f(x: i64) -> i64 x\n                        ^\n")
err_case("fn f(x) = x",
  "t.flow:1:7: error: expected ':' after the parameter name\n    fn f(x) = x\n          ^\n")
err_case("fn f(x: i64) = x y",
  "t.flow:1:18: error: expected the end of the line after the fn body\n    fn f(x: i64) = x y\n                     ^\n")
err_case("fn f(x: i64) = x\n  y",
  "t.flow:2:3: error: expected the end of the line after the fn body\n      y\n      ^\n",
  "an indented line continues the statement")
err_case("flow a b",
  "t.flow:1:8: error: expected the end of the line after the flow name\n    flow a b\n           ^\n")
err_case("c int x; }",
  "t.flow:1:3: error: expected '{' after 'c'\n    c int x; }\n      ^\n")
err_case("c {\n  int f() { return 1;\n}\n",
  "t.flow:3:2: error: expected '}' to close '{' at 1:3\n    }\n     ^\n", "unterminated c block")
err_case("c { int x; } y",
  "t.flow:1:14: error: expected the end of the line after the c block\n    c { int x; } y\n                 ^\n")

-- Tabs and UTF-8 in the caret line.
err_case("\tfn f(x: i64) = x +",
  "t.flow:1:20: error: expected an expression after '+'\n    \tfn f(x: i64) = x +\n    \t                  ^\n",
  "leading tab kept in the caret line")
err_case('a = s | map(x => "é" .. \t)',
  "t.flow:1:26: error: expected an expression after '..'\n"
  .. "    a = s | map(x => \"é\" .. \t)\n                            \t^\n",
  "column counts UTF-8 characters; inner tab kept")

---------------------------------------------------------------------------
-- Several errors in one file: every statement is reported, then recovery

do
  local src = table.concat({
    "flow",                                   -- 1
    "param top: i64 10",                      -- 2
    "lines = input file(\"x\")",              -- 3 fine
    "words = lines | map(l => l +)",          -- 4
    "  | filter(w => (w, 2)",                 -- 5 (same statement as 4: not reported)
    "  | output stdout",                      -- 6
    "fn f(then: i64) = 1",                    -- 7
    "-- a comment",                           -- 8
    "ok = lines | map(l => l)",               -- 9 fine
    "counts = words | key_on(w => w",         -- 10
    "hot, cold = counts | branch((k, n) => n > 10 and)", -- 11
    "extern g(i64) i64",                      -- 12
    "tail = ok | inspect",                    -- 13 fine
  }, "\n") .. "\n"
  local ast, d = parse(src, "multi.flow")
  t.is(d:count(), 7, "multi: seven errors")
  local got = {}
  for line in d:render():gmatch("[^\n]*error:[^\n]*") do got[#got + 1] = line end
  t.is(table.concat(got, "\n"), table.concat({
    "multi.flow:1:5: error: expected a name after 'flow'",
    "multi.flow:2:16: error: expected '=' after param type",
    "multi.flow:4:29: error: expected an expression after '+'",
    "multi.flow:7:6: error: 'then' is a keyword and cannot be a name",
    "multi.flow:10:31: error: expected ')' to close '(' at 10:24",
    "multi.flow:11:49: error: expected an expression after 'and'",
    "multi.flow:12:15: error: expected '->' and the return type after the parameter types",
  }, "\n"), "multi: each statement's error, in order")
  t.is(sx(ast), "(bind (lines) (pipe (input (op file \"x\"))))\n"
    .. "(bind (ok) (pipe (ref lines) (op map (fn (l) l))))\n"
    .. "(bind (tail) (pipe (ref ok) (op inspect)))", "multi: the good statements are kept")
end

do -- errors at one position keep the order they were found in
  local d = D.new("s.flow", "abc\ndef\n")
  d:error(5, "second line first")
  d:error(1, "first %s", "line")
  d:error(5, "second line %d", 2)
  d:note(2, "a note about %s", "b")
  d:error(9, "at the end")
  t.is(d:count(), 4, "diagnostics: count excludes notes")
  t.is(d:render(), table.concat({
    "s.flow:1:1: error: first line\n    abc\n    ^\n",
    "s.flow:2:1: error: second line first\n    def\n    ^\n",
    "s.flow:2:1: error: second line 2\n    def\n    ^\n",
    "s.flow:1:2: note: a note about b\n    abc\n     ^\n",
    "s.flow:3:1: error: at the end\n    \n    ^\n",
  }), "diagnostics: sorted, stable, notes follow their error")
  local l, c = d:line_col(100)
  t.is(l .. ":" .. c, "3:1", "diagnostics: position past the end is clamped")
  d:error(1, "100% sure")   -- a message with '%' and no arguments
  d:error(1, "bad %d", "x") -- a bad argument never raises
  d:error(1, "100%% done")
  t.is(d:count(), 7, "diagnostics: odd formats never raise")
  t.is(d.errors[5].msg .. "|" .. d.errors[6].msg .. "|" .. d.errors[7].msg, "100% sure|bad %d|100% done",
    "diagnostics: a format that fails is kept as written")
  local u = D.new("u.flow", "é\tx = ∑ y\r\n")
  t.is(select(2, u:line_col(u.source:find("y", 1, true))), 9, "diagnostics: col counts UTF-8 characters")
  u:error(u.source:find("y", 1, true), "here")
  t.is(u:render(), "u.flow:1:9: error: here\n    é\tx = ∑ y\n     \t      ^\n", "diagnostics: CR dropped, tab kept")
end

---------------------------------------------------------------------------
-- Fuzz: never a Lua error, whatever the input

do
  math.randomseed(20240611)
  local raised, cases = {}, 0
  local function try(src)
    cases = cases + 1
    local ok, err = pcall(function()
      local d = D.new("f.flow", src)
      local ast = G.parse(src, d)
      assert(type(ast) == "table" and ast.tag == "program", "no program")
      d:render()
      for _, e in ipairs(d.errors) do assert(e.pos >= 1 and e.pos <= #src + 1, "error position out of range") end
      G.parse_expr(src, D.new("f", src))
    end)
    if not ok and #raised < 3 then raised[#raised + 1] = string.format("%q: %s", src, err) end
  end
  -- every truncation of the example
  for i = 0, #example do try(example:sub(1, i)) end
  -- deletions, insertions and replacements in the example
  local alphabet = "()[]{}|,.=>-+*/%<!\"\\@:?x1_e \n\t'c#"
  for _ = 1, 1500 do
    local i = math.random(1, #example)
    local r = math.random(1, #alphabet)
    local ch = alphabet:sub(r, r)
    local k = math.random(3)
    if k == 1 then try(example:sub(1, i - 1) .. example:sub(i + 1))
    elseif k == 2 then try(example:sub(1, i - 1) .. ch .. example:sub(i))
    else try(example:sub(1, i - 1) .. ch .. example:sub(i + 1)) end
  end
  -- random byte strings, and random strings over the language's characters
  for _ = 1, 500 do
    local b = {}
    for j = 1, math.random(0, 80) do b[j] = string.char(math.random(0, 255)) end
    try(table.concat(b))
    local a = {}
    for j = 1, math.random(0, 80) do
      local r = math.random(1, #alphabet)
      a[j] = alphabet:sub(r, r)
    end
    try(table.concat(a))
  end
  -- deep nesting
  for _, n in ipairs{100, 5000} do
    try("a = s | map(x => " .. ("("):rep(n) .. "x" .. (")"):rep(n) .. ")")
    try("a = s | map(x => " .. ("if x then "):rep(n) .. "1" .. (" else 2"):rep(n) .. ")")
    try("a = s | map(x => " .. ("["):rep(n))
    try(("c {"):rep(n))
  end
  t.is(table.concat(raised, "\n"), "", "fuzz: no Lua error in " .. cases .. " inputs")

  local _, d = parse("a = s | map(x => " .. ("("):rep(5000) .. "x" .. (")"):rep(5000) .. ")\nb = input stdin\n")
  t.like(d:render(), "^t.flow:1:1: error: this statement is nested too deeply to parse\n",
    "deep nesting is a diagnostic")
  t.is(d:count(), 1, "deep nesting: the next statement still parses")
end

t.done()

-- cexpr.lua — expressions of the flow language as C expressions.
--
-- expr(cg, e) returns C text for a checked expression.  Everything is an
-- expression in C too: `let` and the few constructs that need temporaries
-- use GCC statement expressions ({ ... }).  Integer arithmetic wraps (the
-- unit is compiled with -fwrapv); / and % are floor division and modulo,
-- and division by zero, bad parses and list indexes fail the running step.
local T = require "types"

local M = {}

local function tmp(cg, base)
  cg.ntmp = cg.ntmp + 1
  return base .. "_" .. cg.ntmp
end

-- C string literal for arbitrary bytes.
function M.cstring(s)
  local out = s:gsub('[%c"\\\128-\255?]', function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t"
    elseif c == '"' then return '\\"' elseif c == "\\" then return "\\\\"
    elseif c == "?" then return "\\?" end
    return string.format("\\%03o", c:byte())
  end)
  return '"' .. out .. '"'
end

-- True when C text `code` has `name` as a whole identifier (in code, a
-- comment or a string alike: enough to tell that a c { } block is about it).
local lpeg = require "lpeg"
local ident_char = lpeg.R("az", "AZ", "09") + "_"
function M.c_names(code, name)
  local hit = lpeg.P(name) * -ident_char
  local scan = ((hit * lpeg.Cc(true)) + ident_char^1 + 1)^0
  return lpeg.match(scan, code) == true
end

function M.str_lit(s)
  return string.format("((dfc_str){%s, %d})", M.cstring(s), #s)
end

local function is(e, tag) return T.resolve(e.type).tag == tag end

-- Converts C text of type `from` to `to` where numbers mix (i64 -> f64).
local function coerce(text, from, to)
  if T.is(to, "f64") and T.is(from, "i64") then return "((double)" .. text .. ")" end
  return text
end
M.coerce = coerce

local function num(cg, e, want)
  return coerce(M.expr(cg, e), e.type, want)
end

local function binop(cg, e)
  local op, a, b = e.op, e.lhs, e.rhs
  if op == "and" then return "(" .. M.expr(cg, a) .. " && " .. M.expr(cg, b) .. ")" end
  if op == "or" then return "(" .. M.expr(cg, a) .. " || " .. M.expr(cg, b) .. ")" end
  if op == ".." then return "dfc_concat(w, " .. M.expr(cg, a) .. ", " .. M.expr(cg, b) .. ")" end
  local numeric = T.is_numeric(a.type) and T.is_numeric(b.type)
  local function pos_lit(x) return (x.tag == "int" or x.tag == "duration") and x.value > 0 end
  if (op == "==" or op == "!=") and a.tag == "binop" and a.op == "%" and is(a, "i64") and
      pos_lit(a.rhs) and b.tag == "int" and b.value == 0 then
    -- x % c == 0 for a literal c > 0: the floored and the truncated modulo
    -- are zero together, and C's form lets the C compiler test divisibility
    -- with one multiplication.
    return "((" .. num(cg, a.lhs, T.i64) .. " % " .. num(cg, a.rhs, T.i64) .. ") " .. op .. " 0)"
  end
  if numeric then
    local rt = (is(a, "f64") or is(b, "f64")) and T.f64 or T.i64
    local x, y = num(cg, a, rt), num(cg, b, rt)
    if rt == T.i64 and (op == "/" or op == "%") then
      -- Floored, as in SPEC §2; a positive literal divisor needs no checks.
      local pos = pos_lit(b)
      local fn = (op == "/" and "dfc_i64_div" or "dfc_i64_mod") .. (pos and "_pos(" or "(w, ")
      return fn .. x .. ", " .. y .. ")"
    end
    if rt == T.f64 and op == "%" then return "dfc_f64_mod(" .. x .. ", " .. y .. ")" end
    return "(" .. x .. " " .. op .. " " .. y .. ")"
  end
  local x, y = M.expr(cg, a), M.expr(cg, b)
  local ty = T.resolve(a.type)
  if ty.tag == "str" then
    if op == "==" then return "dfc_str_eq(" .. x .. ", " .. y .. ")" end
    if op == "!=" then return "(!dfc_str_eq(" .. x .. ", " .. y .. "))" end
    return "(dfc_str_cmp(" .. x .. ", " .. y .. ") " .. op .. " 0)"
  end
  if ty.tag == "bool" then return "(" .. x .. " " .. op .. " " .. y .. ")" end
  local eq = cg:helper("eq", ty) .. "(" .. x .. ", " .. y .. ")"
  if op == "==" then return eq end
  return "(!" .. eq .. ")"
end

-- str(x): the canonical text of x, in the arena.
function M.to_str(cg, text, ty)
  ty = T.resolve(ty)
  if ty.tag == "str" then return text end
  if ty.tag == "i64" then return "dfc_i64_str(w, " .. text .. ")" end
  local m = tmp(cg, "mark")
  return string.format("({ size_t %s = w->scratch.len; %s(&w->scratch, %s); dfc_str s_%s = dfc_buf_to_str(w, &w->scratch, %s); w->scratch.len = %s; s_%s; })",
    m, cg:helper("fmt", ty), text, m, m, m, m)
end

local builtin = {}

function builtin.len(cg, e, a) return "((int64_t)(" .. a[1] .. ").len)" end
function builtin.lower(cg, e, a) return "dfc_lower(w, " .. a[1] .. ")" end
function builtin.upper(cg, e, a) return "dfc_upper(w, " .. a[1] .. ")" end
function builtin.trim(cg, e, a) return "dfc_trim(" .. a[1] .. ")" end
function builtin.split(cg, e, a)
  if a[2] then return "dfc_split(w, " .. a[1] .. ", " .. a[2] .. ")" end
  return "dfc_split_ws(w, " .. a[1] .. ")"
end
function builtin.join(cg, e, a) return "dfc_join(w, " .. a[1] .. ", " .. a[2] .. ")" end
function builtin.contains(cg, e, a)
  local lt = T.resolve(e.args[1].type)
  if lt.tag == "str" then return "dfc_contains(" .. a[1] .. ", " .. a[2] .. ")" end
  local l, x, i, r = tmp(cg, "l"), tmp(cg, "x"), tmp(cg, "i"), tmp(cg, "r")
  local et = T.resolve(lt.elem)
  local eq
  if et.tag == "str" then eq = "dfc_str_eq(" .. l .. ".ptr[" .. i .. "], " .. x .. ")"
  elseif T.is_scalar(et) then eq = "(" .. l .. ".ptr[" .. i .. "] == " .. x .. ")"
  else eq = cg:helper("eq", et) .. "(" .. l .. ".ptr[" .. i .. "], " .. x .. ")" end
  return string.format("({ %s %s = %s; %s %s = %s; bool %s = false; for (int64_t %s = 0; %s < %s.len; %s++) if (%s) { %s = true; break; } %s; })",
    cg:ctype(lt), l, a[1], cg:ctype(et), x, a[2], r, i, i, l, i, eq, r, r)
end
function builtin.starts_with(cg, e, a) return "dfc_starts_with(" .. a[1] .. ", " .. a[2] .. ")" end
function builtin.ends_with(cg, e, a) return "dfc_ends_with(" .. a[1] .. ", " .. a[2] .. ")" end
function builtin.substr(cg, e, a)
  return "dfc_substr(" .. a[1] .. ", " .. a[2] .. ", " .. (a[3] or "INT64_MAX") .. ")"
end
function builtin.replace(cg, e, a) return "dfc_replace(w, " .. a[1] .. ", " .. a[2] .. ", " .. a[3] .. ")" end
function builtin.parse_i64(cg, e, a) return "dfc_parse_i64(w, " .. a[1] .. ")" end
function builtin.parse_f64(cg, e, a) return "dfc_parse_f64(w, " .. a[1] .. ")" end
local function try_parse(kind)
  return function(cg, e, a)
    local o = tmp(cg, "o")
    local ot = cg:ctype(e.type)
    return string.format("({ %s %s; %s.some = dfc_try_parse_%s(%s, &%s.val); %s; })", ot, o, o, kind, a[1], o, o)
  end
end
builtin.try_parse_i64 = try_parse("i64")
builtin.try_parse_f64 = try_parse("f64")
function builtin.str(cg, e, a) return M.to_str(cg, a[1], e.args[1].type) end
function builtin.int(cg, e, a)
  local t = T.resolve(e.args[1].type).tag
  if t == "f64" then return "dfc_f64_to_i64(w, " .. a[1] .. ")" end
  if t == "str" then return "dfc_parse_i64(w, " .. a[1] .. ")" end
  return "((int64_t)" .. a[1] .. ")"
end
function builtin.float(cg, e, a)
  local t = T.resolve(e.args[1].type).tag
  if t == "str" then return "dfc_parse_f64(w, " .. a[1] .. ")" end
  return "((double)" .. a[1] .. ")"
end
function builtin.abs(cg, e, a)
  if is(e.args[1], "f64") then return "fabs(" .. a[1] .. ")" end
  local x = tmp(cg, "x")
  return string.format("({ int64_t %s = %s; %s < 0 ? -%s : %s; })", x, a[1], x, x, x)
end
local function minmax(cmp)
  return function(cg, e, a)
    local rt = T.resolve(e.type)
    local x, y = tmp(cg, "x"), tmp(cg, "y")
    local ct = cg:ctype(rt)
    local xa, ya = coerce(a[1], e.args[1].type, rt), coerce(a[2], e.args[2].type, rt)
    local test = rt.tag == "str" and ("dfc_str_cmp(" .. x .. ", " .. y .. ") " .. cmp .. " 0")
      or (x .. " " .. cmp .. " " .. y)
    return string.format("({ %s %s = %s, %s = %s; %s ? %s : %s; })", ct, x, xa, y, ya, test, x, y)
  end
end
builtin.min = minmax("<=")
builtin.max = minmax(">=")
local function rounding(fn)
  return function(cg, e, a)
    if is(e.args[1], "i64") then return a[1] end
    return "dfc_f64_to_i64(w, " .. fn .. "(" .. a[1] .. "))"
  end
end
builtin.floor = rounding("floor")
builtin.ceil = rounding("ceil")
builtin.round = rounding("nearbyint")
function builtin.hash(cg, e, a)
  return "((int64_t)(dfc_hash_str(" .. M.to_str(cg, a[1], e.args[1].type) .. ") & INT64_MAX))"
end
function builtin.now(cg, e, a) return "dfc_now_ms()" end
function builtin.some(cg, e, a) return "((" .. cg:ctype(e.type) .. "){true, " .. a[1] .. "})" end
function builtin.is_some(cg, e, a) return "((" .. a[1] .. ").some)" end
function builtin.is_none(cg, e, a) return "(!(" .. a[1] .. ").some)" end
function builtin.unwrap(cg, e, a)
  local o = tmp(cg, "o")
  return string.format('({ %s %s = %s; if (!%s.some) dfc_fail(w, "unwrap of none"); %s.val; })',
    cg:ctype(e.args[1].type), o, a[1], o, o)
end
function builtin.unwrap_or(cg, e, a)
  local o = tmp(cg, "o")
  return string.format("({ %s %s = %s; %s.some ? %s.val : (%s); })",
    cg:ctype(e.args[1].type), o, a[1], o, o, a[2])
end

local function call(cg, e)
  local args = {}
  for i, x in ipairs(e.args) do args[i] = M.expr(cg, x) end
  if e.kind == "fn" then
    for i, p in ipairs(e.fn.params) do args[i] = coerce(args[i], e.args[i].type, p.type) end
    table.insert(args, 1, "w")
    return e.fn.cname .. "(" .. table.concat(args, ", ") .. ")"
  elseif e.kind == "extern" then
    for i, p in ipairs(e.extern.params) do args[i] = coerce(args[i], e.args[i].type, p) end
    return e.name .. "(" .. table.concat(args, ", ") .. ")"
  end
  return builtin[e.name](cg, e, args)
end

-- True when evaluating e may fail the step at run time (division by a
-- divisor that is not a constant, parses, list indexes, unwrap, conversions
-- of f64 to i64, calls to fns).  Steps whose functions cannot fail skip
-- recording which step is running.
-- Whether e or any expression inside it satisfies pred.
local function any(e, pred)
  if pred(e) then return true end
  local tag = e.tag
  if tag == "binop" then return any(e.lhs, pred) or any(e.rhs, pred)
  elseif tag == "unop" or tag == "field" then return any(e.expr, pred)
  elseif tag == "index" then return any(e.expr, pred) or any(e.index, pred)
  elseif tag == "if" then return any(e.cond, pred) or any(e.then_, pred) or any(e.else_, pred)
  elseif tag == "let" then return any(e.value, pred) or any(e.body, pred)
  elseif tag == "tuple" or tag == "list" or tag == "call" then
    for _, x in ipairs(tag == "call" and e.args or e.elems) do if any(x, pred) then return true end end
  end
  return false
end

-- Whether this node itself can fail (its operands aside).
local function fails_here(e)
  local tag = e.tag
  if tag == "binop" then
    if (e.op == "/" or e.op == "%") and T.is(e.lhs.type, "i64") and T.is(e.rhs.type, "i64") then
      local r = e.rhs
      return not ((r.tag == "int" or r.tag == "duration") and r.value ~= 0 and r.value ~= -1)
    end
  elseif tag == "index" then return true
  elseif tag == "call" then
    if e.kind == "fn" then return true end
    if e.kind == "builtin" then
      local n = e.name
      local arg1 = e.args[1] and T.resolve(e.args[1].type).tag
      if n == "parse_i64" or n == "parse_f64" or n == "unwrap" then return true end
      if n == "split" and e.args[2] and not (e.args[2].tag == "string" and #e.args[2].value > 0) then return true end
      if (n == "int" or n == "floor" or n == "ceil" or n == "round") and (arg1 == "f64" or arg1 == "str") then return true end
      if n == "float" and arg1 == "str" then return true end
    end
  end
  return false
end

function M.can_fail(e) return any(e, fails_here) end

-- Whether fn is (a, b) => a + b or (a, b) => b + a: with i64 operands (which
-- wrap around) the fold of any grouping and order of the items is the same,
-- so partial sums can be made apart and added up.
function M.is_sum(fn)
  if not fn or fn.tag ~= "lambda" or fn.mode ~= "args" or #fn.args ~= 2 then return false end
  local b = fn.body
  if b.tag ~= "binop" or b.op ~= "+" or b.lhs.tag ~= "var" or b.rhs.tag ~= "var" then return false end
  local a, x = fn.args[1], fn.args[2]
  return (b.lhs.ref == a and b.rhs.ref == x) or (b.lhs.ref == x and b.rhs.ref == a)
end

-- Whether e reaches outside the flow: a call of an extern C function, which
-- may keep state of its own or print.
function M.calls_out(e)
  return any(e, function(x) return x.tag == "call" and x.kind ~= "builtin" end)
end

function M.expr(cg, e)
  local tag = e.tag
  if tag == "int" or tag == "duration" then
    return string.format("INT64_C(%d)", e.value)
  elseif tag == "float" then
    local s = string.format("%.17g", e.value)
    if not s:find("[%.eEn]") then s = s .. ".0" end
    return s
  elseif tag == "string" then return M.str_lit(e.value)
  elseif tag == "bool" then return e.value and "true" or "false"
  elseif tag == "none" then return "((" .. cg:ctype(e.type) .. "){.some = false})"
  elseif tag == "var" then
    if e.ref.kind == "param" then return "PARAMS->p_" .. e.ref.name end
    return e.ref.cname
  elseif tag == "binop" then return binop(cg, e)
  elseif tag == "unop" then
    if e.op == "-" then return "(-" .. M.expr(cg, e.expr) .. ")" end
    return "(!" .. M.expr(cg, e.expr) .. ")"
  elseif tag == "if" then
    local rt = e.type
    return "(" .. M.expr(cg, e.cond) .. " ? " .. coerce(M.expr(cg, e.then_), e.then_.type, rt) ..
      " : " .. coerce(M.expr(cg, e.else_), e.else_.type, rt) .. ")"
  elseif tag == "let" then
    return string.format("({ %s %s = %s; %s; })", cg:ctype(e.value.type), e.var.cname,
      M.expr(cg, e.value), M.expr(cg, e.body))
  elseif tag == "call" then return call(cg, e)
  elseif tag == "tuple" then
    local parts = {}
    local tt = T.resolve(e.type)
    for i, x in ipairs(e.elems) do parts[i] = coerce(M.expr(cg, x), x.type, tt.elems[i]) end
    return "((" .. cg:ctype(e.type) .. "){" .. table.concat(parts, ", ") .. "})"
  elseif tag == "list" then
    local lt = cg:ctype(e.type)
    if #e.elems == 0 then return "((" .. lt .. "){NULL, 0})" end
    local et = cg:ctype(T.resolve(e.type).elem)
    local p = tmp(cg, "p")
    local parts = {string.format("({ %s *%s = dfc_arena_alloc(&w->arena, %d * sizeof(%s));", et, p, #e.elems, et)}
    for i, x in ipairs(e.elems) do parts[#parts + 1] = string.format("%s[%d] = %s;", p, i - 1, M.expr(cg, x)) end
    parts[#parts + 1] = string.format("(%s){%s, %d}; })", lt, p, #e.elems)
    return table.concat(parts, " ")
  elseif tag == "index" then
    local l, i = tmp(cg, "l"), tmp(cg, "i")
    return string.format("({ %s %s = %s; int64_t %s = %s; if (%s < 0 || %s >= %s.len) dfc_index_fail(w, %s, %s.len); %s.ptr[%s]; })",
      cg:ctype(e.expr.type), l, M.expr(cg, e.expr), i, M.expr(cg, e.index), i, i, l, i, l, l, i)
  elseif tag == "field" then
    return "(" .. M.expr(cg, e.expr) .. ").f" .. e.index
  end
  error({internal = true, msg = "cexpr: unexpected expression " .. tostring(tag)}, 0)
end

return M

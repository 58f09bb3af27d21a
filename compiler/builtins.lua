-- builtins.lua — the type rules of the expression language's builtin
-- functions.  Each rule receives the checker context, the call node and the
-- argument types, and returns the result type, or nil plus a message.
-- (How each builtin becomes C is in cexpr.lua.)
local T = require "types"

local M = {}

local function arity(args, lo, hi)
  hi = hi or lo
  if #args < lo or #args > hi then
    if lo == hi then return ("takes %d argument%s, got %d"):format(lo, lo == 1 and "" or "s", #args) end
    return ("takes %d to %d arguments, got %d"):format(lo, hi, #args)
  end
end

local function want(args, i, t)
  if not T.unify(args[i], t) then
    return ("argument %d must be %s, got %s"):format(i, T.tostring(t), T.tostring(args[i]))
  end
end

-- sig("str, str -> bool") style rules for the simple ones.
local simple = {
  lower = {{T.str}, T.str}, upper = {{T.str}, T.str}, trim = {{T.str}, T.str},
  starts_with = {{T.str, T.str}, T.bool}, ends_with = {{T.str, T.str}, T.bool},
  replace = {{T.str, T.str, T.str}, T.str},
  parse_i64 = {{T.str}, T.i64}, parse_f64 = {{T.str}, T.f64},
  try_parse_i64 = {{T.str}, T.option(T.i64)}, try_parse_f64 = {{T.str}, T.option(T.f64)},
  now = {{}, T.i64},
}

for name, sig in pairs(simple) do
  M[name] = function(args)
    local e = arity(args, #sig[1])
    if e then return nil, e end
    for i, t in ipairs(sig[1]) do
      e = want(args, i, t)
      if e then return nil, e end
    end
    return sig[2]
  end
end

function M.len(args)
  local e = arity(args, 1)
  if e then return nil, e end
  local t = T.resolve(args[1])
  if t.tag == "str" or t.tag == "list" or t.tag == "error" then return T.i64 end
  return nil, "takes a str or a list, got " .. T.tostring(t)
end

function M.split(args)
  local e = arity(args, 1, 2) or want(args, 1, T.str) or (args[2] and want(args, 2, T.str))
  if e then return nil, e end
  return T.list(T.str)
end

function M.join(args)
  local e = arity(args, 2) or want(args, 1, T.list(T.str)) or want(args, 2, T.str)
  if e then return nil, e end
  return T.str
end

function M.contains(args)
  local e = arity(args, 2)
  if e then return nil, e end
  local t = T.resolve(args[1])
  if t.tag == "list" then
    if not T.unify(t.elem, args[2]) then
      return nil, ("argument 2 must be %s, got %s"):format(T.tostring(t.elem), T.tostring(args[2]))
    end
    return T.bool
  end
  e = want(args, 1, T.str) or want(args, 2, T.str)
  if e then return nil, e end
  return T.bool
end

function M.substr(args)
  local e = arity(args, 2, 3) or want(args, 1, T.str) or want(args, 2, T.i64)
    or (args[3] and want(args, 3, T.i64))
  if e then return nil, e end
  return T.str
end

function M.str(args)
  local e = arity(args, 1)
  if e then return nil, e end
  return T.str
end

function M.hash(args)
  local e = arity(args, 1)
  if e then return nil, e end
  return T.i64
end

local function numeric_or(args, i, extra)
  local t = T.resolve(args[i])
  if t.tag == "i64" or t.tag == "f64" or t.tag == "error" then return nil end
  if extra and extra[t.tag] then return nil end
  return ("argument %d must be a number, got %s"):format(i, T.tostring(t))
end

function M.int(args)
  local e = arity(args, 1) or numeric_or(args, 1, {bool = true, str = true})
  if e then return nil, e end
  return T.i64
end

function M.float(args)
  local e = arity(args, 1) or numeric_or(args, 1, {str = true})
  if e then return nil, e end
  return T.f64
end

function M.abs(args)
  local e = arity(args, 1) or numeric_or(args, 1)
  if e then return nil, e end
  return T.resolve(args[1])
end

local function minmax(args)
  local e = arity(args, 2)
  if e then return nil, e end
  local a, b = T.resolve(args[1]), T.resolve(args[2])
  if T.is_numeric(a) and T.is_numeric(b) then
    return (a.tag == "f64" or b.tag == "f64") and T.f64 or T.i64
  end
  if T.unify(a, b) and (T.is(a, "str") or T.is_error(a)) then return a end
  return nil, ("takes two numbers or two strs, got %s and %s"):format(T.tostring(a), T.tostring(b))
end
M.min, M.max = minmax, minmax

local function rounding(args)
  local e = arity(args, 1) or numeric_or(args, 1)
  if e then return nil, e end
  return T.i64
end
M.floor, M.ceil, M.round = rounding, rounding, rounding

function M.some(args)
  local e = arity(args, 1)
  if e then return nil, e end
  return T.option(args[1])
end

local function option_arg(args, n)
  local e = arity(args, n)
  if e then return nil, e end
  local v = T.var()
  if not T.unify(args[1], T.option(v)) then
    return nil, "argument 1 must be an option, got " .. T.tostring(args[1])
  end
  return v
end

function M.is_some(args)
  local v, e = option_arg(args, 1)
  if not v then return nil, e end
  return T.bool
end
M.is_none = M.is_some

function M.unwrap(args)
  return option_arg(args, 1)
end

function M.unwrap_or(args)
  local v, e = option_arg(args, 2)
  if not v then return nil, e end
  if not T.unify(v, args[2]) then
    return nil, ("argument 2 must be %s, got %s"):format(T.tostring(v), T.tostring(args[2]))
  end
  return v
end

return M

-- operators.lua — the type rules of sources, sinks and operators (SPEC §3).
--
-- Each operator rule gets the checker context, the graph node being built,
-- the AST call and the input stream's type; it checks the arguments (typing
-- lambdas through ctx:lambda), stores what code generation needs on the node
-- (node.fn, node.init, ...) and returns the output stream types, or nil.
local T = require "types"

local M = {}

-- Checks positional/named argument counts; returns false after an error.
local function args(ctx, op, lo, hi, named_ok)
  hi = hi or lo
  local n = #op.args
  if n < lo or n > hi then
    local want = lo == hi and tostring(lo) or (lo .. " to " .. hi)
    ctx:error(op.pos, "'%s' takes %s argument%s, got %d", op.name, want, (hi == 1 and lo == 1) and "" or "s", n)
    return false
  end
  for _, na in ipairs(op.named or {}) do
    if not (named_ok and named_ok[na.name]) then
      ctx:error(na.pos, "'%s' has no argument named '%s'", op.name, na.name)
      return false
    end
  end
  return true
end

local function named(op, name)
  for _, na in ipairs(op.named or {}) do if na.name == name then return na.value end end
end

local function keyed(ctx, op, ty)
  local v = T.keyed_value(ty)
  if not v then
    if not T.is_error(ty) then
      ctx:error(op.pos, "'%s' needs a keyed stream of (str, V), got %s; key it first with key_on(x => ...)",
        op.name, T.tostring(ty))
    end
    return nil
  end
  return v
end

local function expect(ctx, pos, got, want, what)
  if not T.unify(got, want) then
    ctx:error(pos, "%s must return %s, got %s", what, T.tostring(want), T.tostring(got))
    return false
  end
  return true
end

-- Sources -----------------------------------------------------------------

local function value_arg(ctx, e, ty, what)
  local got = ctx:expr(e, ctx.global)
  if not T.unify(got, ty) then
    ctx:error(e.pos, "%s must be %s, got %s", what, T.tostring(ty), T.tostring(got))
  end
  return e
end

M.sources = {
  file = function(ctx, node, op)
    if not args(ctx, op, 1, 1, {parallel = true}) then return nil end
    node.path = value_arg(ctx, op.args[1], T.str, "the path")
    local p = named(op, "parallel")
    if p then
      if p.tag ~= "bool" then ctx:error(p.pos, "parallel must be true or false"); return nil end
      node.parallel = p.value
    end
    return T.str
  end,
  dir = function(ctx, node, op)
    if not args(ctx, op, 1, 2) then return nil end
    node.path = value_arg(ctx, op.args[1], T.str, "the path")
    if op.args[2] then node.glob = value_arg(ctx, op.args[2], T.str, "the glob") end
    return T.str
  end,
  csv = function(ctx, node, op)
    if not args(ctx, op, 1) then return nil end
    node.path = value_arg(ctx, op.args[1], T.str, "the path")
    return T.list(T.str)
  end,
  stdin = function(ctx, node, op)
    if not args(ctx, op, 0) then return nil end
    return T.str
  end,
  range = function(ctx, node, op)
    if not args(ctx, op, 1) then return nil end
    node.count = value_arg(ctx, op.args[1], T.i64, "the count")
    return T.i64
  end,
}

function M.source(ctx, node, op)
  local rule = M.sources[op.name]
  if not rule then
    ctx:error(op.pos, "unknown source '%s' (sources: file, dir, csv, stdin, range)", op.name)
    return nil
  end
  node.source = op.name
  return rule(ctx, node, op)
end

-- Sinks -------------------------------------------------------------------

M.sinks = {
  stdout = function(ctx, node, op) return args(ctx, op, 0) end,
  discard = function(ctx, node, op) return args(ctx, op, 0) end,
  file = function(ctx, node, op)
    if not args(ctx, op, 1) then return false end
    node.path = value_arg(ctx, op.args[1], T.str, "the path")
    return true
  end,
  dir = function(ctx, node, op)
    if not args(ctx, op, 1) then return false end
    node.path = value_arg(ctx, op.args[1], T.str, "the path")
    return true
  end,
}

function M.sink(ctx, node, op, ty)
  local rule = M.sinks[op.name]
  if not rule then
    ctx:error(op.pos, "unknown sink '%s' (sinks: stdout, file, dir, discard)", op.name)
    return false
  end
  node.sink = op.name
  node.keyed = T.keyed_value(ty) ~= nil
  return rule(ctx, node, op)
end

function M.merge_type(ctx, node, inputs)
  local ty = inputs[1].type
  for i = 2, #inputs do
    if not T.unify(ty, inputs[i].type) then
      ctx:error(node.pos, "merge needs streams of one type: %s and %s", T.tostring(ty),
        T.tostring(inputs[i].type))
      return T.err
    end
  end
  return ty
end

-- Operators ---------------------------------------------------------------

local ops = {}
M.ops = ops

-- One function argument applied to the item; returns its result type.
local function unary_fn(ctx, node, op, argtype)
  if not args(ctx, op, 1) then return nil end
  node.fn = op.args[1]
  return ctx:lambda(node.fn, {argtype}, op.name)
end

-- What the function of map, filter, filter_map and flat_map (and of their
-- _value forms) must return, given its result type r and the value type v;
-- each returns the type of what goes downstream.
local function returns_any(_, _, r) return r end
local function returns_bool(ctx, op, r, v)
  expect(ctx, op.pos, r, T.bool, "the predicate of '" .. op.name .. "'")
  return v
end
local function returns_option(ctx, op, r)
  local u = T.var()
  expect(ctx, op.pos, r, T.option(u), "the function of '" .. op.name .. "'")
  return u
end
local function returns_list(ctx, op, r)
  local u = T.var()
  expect(ctx, op.pos, r, T.list(u), "the function of '" .. op.name .. "'")
  return u
end

-- An operator whose one function gets the item.
local function item_op(check)
  return function(ctx, node, op, ty)
    local r = unary_fn(ctx, node, op, ty)
    if not r then return nil end
    local out = check(ctx, op, r, ty)
    return out and {out}
  end
end

ops.map = item_op(returns_any)
ops.filter = item_op(returns_bool)
ops.filter_map = item_op(returns_option)
ops.flat_map = item_op(returns_list)

function ops.flatten(ctx, node, op, ty)
  if not args(ctx, op, 0) then return nil end
  local u = T.var()
  if not T.unify(ty, T.list(u)) then
    ctx:error(op.pos, "'flatten' needs a stream of lists, got %s", T.tostring(ty))
    return nil
  end
  return {u}
end

local function inspect(ctx, node, op, ty)
  if not args(ctx, op, 0, 1) then return nil end
  if op.args[1] then
    node.fn = op.args[1]
    local r = ctx:lambda(node.fn, {ty}, op.name)
    expect(ctx, op.pos, r, T.str, "the function of '" .. op.name .. "'")
  end
  return {ty}
end
ops.inspect = inspect
ops.inspect_debug = inspect

function ops.raises(ctx, node, op, ty)
  if not args(ctx, op, 0) then return nil end
  return {ty}
end

function ops.redistribute(ctx, node, op, ty)
  if not args(ctx, op, 0) then return nil end
  node.exchange = "rr"
  return {ty}
end

function ops.branch(ctx, node, op, ty)
  local r = unary_fn(ctx, node, op, ty)
  if not r then return nil end
  expect(ctx, op.pos, r, T.bool, "the predicate of 'branch'")
  return {ty, ty}
end

function ops.key_on(ctx, node, op, ty)
  local r = unary_fn(ctx, node, op, ty)
  if not r then return nil end
  expect(ctx, op.pos, r, T.str, "the key function of 'key_on'")
  return {T.tuple({T.str, ty})}
end

function ops.key_rm(ctx, node, op, ty)
  if not args(ctx, op, 0) then return nil end
  local v = keyed(ctx, op, ty)
  return v and {v}
end

local function value_op(check)
  return function(ctx, node, op, ty)
    local v = keyed(ctx, op, ty)
    if not v then return nil end
    local r = unary_fn(ctx, node, op, v)
    if not r then return nil end
    local w = check(ctx, op, r, v)
    return w and {T.tuple({T.str, w})}
  end
end

ops.map_value = value_op(returns_any)
ops.filter_value = value_op(returns_bool)
ops.filter_map_value = value_op(returns_option)
ops.flat_map_value = value_op(returns_list)

-- Keyed "final" aggregations: state per key, emitted at end of input.

function ops.count_final(ctx, node, op, ty)
  if not args(ctx, op, 0, 1) then return nil end
  node.exchange = "key"
  if op.args[1] then
    node.fn = op.args[1]
    local r = ctx:lambda(node.fn, {ty}, op.name)
    expect(ctx, op.pos, r, T.str, "the key function of 'count_final'")
    node.value_type = ty
  else
    node.value_type = keyed(ctx, op, ty)
    if not node.value_type then return nil end
  end
  return {T.tuple({T.str, T.i64})}
end

function ops.fold_final(ctx, node, op, ty)
  local v = keyed(ctx, op, ty)
  if not v or not args(ctx, op, 2) then return nil end
  node.exchange = "key"
  node.value_type = v
  node.init = op.args[1]
  local acc = ctx:expr(node.init, ctx.global)
  node.fn = op.args[2]
  local r = ctx:lambda(node.fn, {acc, v}, op.name)
  if T.is_numeric(r) and T.is_numeric(acc) and not T.unify(r, acc) then
    ctx:error(op.args[1].pos, "the initial value is %s but the folder returns %s; write the initial value as %s",
      T.tostring(acc), T.tostring(r), T.is(r, "f64") and "a float (0.0)" or "an integer")
    return nil
  end
  expect(ctx, op.pos, r, acc, "the folder of 'fold_final'")
  node.acc_type = acc
  return {T.tuple({T.str, acc})}
end

function ops.reduce_final(ctx, node, op, ty)
  local v = keyed(ctx, op, ty)
  if not v or not args(ctx, op, 1) then return nil end
  node.exchange = "key"
  node.value_type = v
  node.fn = op.args[1]
  local r = ctx:lambda(node.fn, {v, v}, op.name)
  expect(ctx, op.pos, r, v, "the reducer of 'reduce_final'")
  node.acc_type = v
  return {T.tuple({T.str, v})}
end

local function extreme(ctx, node, op, ty)
  local v = keyed(ctx, op, ty)
  if not v or not args(ctx, op, 0) then return nil end
  if not (T.is_numeric(v) or T.is(v, "str")) then
    ctx:error(op.pos, "'%s' needs numbers or strs as values, got %s", op.name, T.tostring(v))
    return nil
  end
  node.exchange = "key"
  node.value_type = v
  node.acc_type = v
  return {T.tuple({T.str, v})}
end
ops.max_final = extreme
ops.min_final = extreme

return M

-- types.lua — the flow language's types: construction, unification, printing.
--
-- A type is a table: {tag="bool"|"i64"|"f64"|"str"}, {tag="tuple", elems},
-- {tag="list", elem}, {tag="option", elem}, a unification variable
-- {tag="var", ref=nil|type} (from `none` and `[]`), or {tag="error"}, which
-- unifies with everything so one mistake is reported once.
local M = {}

M.bool = {tag = "bool"}
M.i64 = {tag = "i64"}
M.f64 = {tag = "f64"}
M.str = {tag = "str"}
M.err = {tag = "error"}

function M.tuple(elems) return {tag = "tuple", elems = elems} end
function M.list(elem) return {tag = "list", elem = elem} end
function M.option(elem) return {tag = "option", elem = elem} end
function M.var() return {tag = "var"} end

-- Follows bound variables.
function M.resolve(t)
  while t.tag == "var" and t.ref do t = t.ref end
  return t
end

local function occurs(v, t)
  t = M.resolve(t)
  if t == v then return true end
  if t.tag == "tuple" then
    for _, e in ipairs(t.elems) do if occurs(v, e) then return true end end
  elseif t.tag == "list" or t.tag == "option" then
    return occurs(v, t.elem)
  end
  return false
end

-- Makes a and b the same type if they can be; returns true on success.
function M.unify(a, b)
  a, b = M.resolve(a), M.resolve(b)
  if a == b then return true end
  if a.tag == "error" or b.tag == "error" then return true end
  if a.tag == "var" then
    if occurs(a, b) then return false end
    a.ref = b
    return true
  end
  if b.tag == "var" then return M.unify(b, a) end
  if a.tag ~= b.tag then return false end
  if a.tag == "tuple" then
    if #a.elems ~= #b.elems then return false end
    for i = 1, #a.elems do
      if not M.unify(a.elems[i], b.elems[i]) then return false end
    end
    return true
  elseif a.tag == "list" or a.tag == "option" then
    return M.unify(a.elem, b.elem)
  end
  return true -- same scalar tag
end

function M.is(t, tag) return M.resolve(t).tag == tag end
function M.is_error(t) return M.resolve(t).tag == "error" end
function M.is_numeric(t)
  local tag = M.resolve(t).tag
  return tag == "i64" or tag == "f64"
end
function M.is_scalar(t)
  local tag = M.resolve(t).tag
  return tag == "bool" or tag == "i64" or tag == "f64" or tag == "str"
end

-- A keyed stream carries (str, V); returns V or nil.
function M.keyed_value(t)
  t = M.resolve(t)
  if t.tag == "tuple" and #t.elems == 2 and M.resolve(t.elems[1]).tag == "str" then
    return t.elems[2]
  end
  return nil
end

-- Replaces variables that nothing constrained by i64 (e.g. a `none` that
-- never met a value), so code can be generated for every type.
function M.default(t)
  t = M.resolve(t)
  if t.tag == "var" then t.ref = M.i64; return M.i64 end
  if t.tag == "tuple" then for _, e in ipairs(t.elems) do M.default(e) end
  elseif t.tag == "list" or t.tag == "option" then M.default(t.elem) end
  return t
end

-- The type as a person writes it: (str, i64), [str], i64?
function M.tostring(t)
  t = M.resolve(t)
  if t.tag == "tuple" then
    local parts = {}
    for i, e in ipairs(t.elems) do parts[i] = M.tostring(e) end
    return "(" .. table.concat(parts, ", ") .. ")"
  elseif t.tag == "list" then
    return "[" .. M.tostring(t.elem) .. "]"
  elseif t.tag == "option" then
    local inner = M.tostring(t.elem)
    return inner .. "?"
  elseif t.tag == "var" then
    return "T" -- not known yet: any type
  elseif t.tag == "error" then
    return "<error>"
  end
  return t.tag
end

-- The canonical text of an f64 (as the runtime prints it): the shortest
-- %g form that reads back to the same number, with ".0" when it would
-- otherwise look like an integer.
function M.f64_text(v)
  local s
  for p = 1, 17 do
    s = string.format("%." .. p .. "g", v)
    if tonumber(s) == v then break end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

-- Converts a type node of the AST ({tag="tname"...}) to a type.
function M.from_node(node, d)
  if node.tag == "tname" then
    local t = M[node.name]
    if t and (node.name == "bool" or node.name == "i64" or node.name == "f64" or node.name == "str") then
      return t
    end
    d:error(node.pos, "unknown type '%s' (types are bool, i64, f64, str, (T, U), [T], T?)", node.name)
    return M.err
  elseif node.tag == "ttuple" then
    local elems = {}
    for i, e in ipairs(node.elems) do elems[i] = M.from_node(e, d) end
    return M.tuple(elems)
  elseif node.tag == "tlist" then
    return M.list(M.from_node(node.elem, d))
  elseif node.tag == "toption" then
    return M.option(M.from_node(node.elem, d))
  end
  d:error(node.pos or 1, "not a type")
  return M.err
end

return M

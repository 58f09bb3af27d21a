-- checker.lua — the check pass: names, types and the graph of typed steps.
--
-- Input: the AST of grammar.lua.  Output: a program table
--   {name, params, cblocks, externs, fns, nodes}
-- where every expression carries `.type`, every lambda its parameter types,
-- and `nodes` lists the operator applications in source order, each with its
-- input streams and output types.  Errors go to the diagnostics object; the
-- pass goes on after an error (with the error type) so that every error in
-- the file is reported.
local T = require "types"
local builtins = require "builtins"
local operators = require "operators"

local M = {}

local Ctx = {}
Ctx.__index = Ctx

local function new_scope(parent) return {vars = {}, parent = parent} end

local function lookup(scope, name)
  while scope do
    local v = scope.vars[name]
    if v then return v end
    scope = scope.parent
  end
end

function Ctx:error(pos, fmt, ...)
  self.d:error(pos, fmt, ...)
  return T.err
end

function Ctx:bind(scope, name, ty, kind)
  self.nlocals = self.nlocals + 1
  local v = {name = name, type = ty, kind = kind or "local", cname = "v_" .. name .. "_" .. self.nlocals}
  scope.vars[name] = v
  return v
end

-- Expressions -------------------------------------------------------------

local arith = {["+"] = true, ["-"] = true, ["*"] = true, ["/"] = true, ["%"] = true}
local order = {["<"] = true, ["<="] = true, [">"] = true, [">="] = true}
local equality = {["=="] = true, ["!="] = true}

function Ctx:binop(e, scope)
  local a = self:expr(e.lhs, scope)
  local b = self:expr(e.rhs, scope)
  local op = e.op
  if T.is_error(a) or T.is_error(b) then return T.err end
  if arith[op] then
    if T.is_numeric(a) and T.is_numeric(b) then
      return (T.is(a, "f64") or T.is(b, "f64")) and T.f64 or T.i64
    end
    local hint = ""
    if op == "+" and (T.is(a, "str") or T.is(b, "str")) then hint = "; use '..' to join strings" end
    return self:error(e.op_pos or e.pos, "operator '%s' expects numbers, got %s and %s%s",
      op, T.tostring(a), T.tostring(b), hint)
  elseif op == "and" or op == "or" then
    if T.unify(a, T.bool) and T.unify(b, T.bool) then return T.bool end
    return self:error(e.op_pos or e.pos, "operator '%s' expects bool operands, got %s and %s", op, T.tostring(a), T.tostring(b))
  elseif op == ".." then
    if T.unify(a, T.str) and T.unify(b, T.str) then return T.str end
    return self:error(e.op_pos or e.pos, "operator '..' joins strs, got %s and %s; convert with str(x)",
      T.tostring(a), T.tostring(b))
  elseif order[op] then
    if T.is_numeric(a) and T.is_numeric(b) then return T.bool end
    if T.is(a, "str") and T.is(b, "str") then return T.bool end
    return self:error(e.op_pos or e.pos, "operator '%s' compares two numbers or two strs, got %s and %s",
      op, T.tostring(a), T.tostring(b))
  elseif equality[op] then
    if T.is_numeric(a) and T.is_numeric(b) then return T.bool end
    if T.unify(a, b) then return T.bool end
    return self:error(e.op_pos or e.pos, "operator '%s' compares values of one type, got %s and %s",
      op, T.tostring(a), T.tostring(b))
  end
  return self:error(e.pos, "unknown operator '%s'", op)
end

-- Checks the arguments of a call to a fn or extern against its parameter
-- types (an i64 argument may stand for an f64 parameter); false when the
-- count is wrong.
function Ctx:call_args(e, argtypes, ptypes)
  if #e.args ~= #ptypes then
    self:error(e.pos, "'%s' takes %d argument%s, got %d", e.name, #ptypes, #ptypes == 1 and "" or "s", #e.args)
    return false
  end
  for i, p in ipairs(ptypes) do
    if not (T.is(p, "f64") and T.is(argtypes[i], "i64")) and not T.unify(argtypes[i], p) then
      self:error(e.args[i].pos, "argument %d of '%s' must be %s, got %s", i, e.name, T.tostring(p),
        T.tostring(argtypes[i]))
    end
  end
  return true
end

function Ctx:call(e, scope)
  local argtypes = {}
  for i, a in ipairs(e.args) do argtypes[i] = self:expr(a, scope) end
  if e.named and #e.named > 0 then
    return self:error(e.named[1].pos, "named arguments are for operators, not for function calls")
  end
  local fn = self.fns[e.name]
  if fn then
    e.kind = "fn"
    e.fn = fn
    local ptypes = {}
    for i, p in ipairs(fn.params) do ptypes[i] = p.type end
    if not self:call_args(e, argtypes, ptypes) then return T.err end
    if not fn.ret then
      return self:error(e.pos, "'%s' is used before its type is known; give it a return type (fn %s(...) -> T)",
        e.name, e.name)
    end
    return fn.ret
  end
  local ext = self.externs[e.name]
  if ext then
    e.kind = "extern"
    e.extern = ext
    if not self:call_args(e, argtypes, ext.params) then return T.err end
    return ext.ret
  end
  local rule = builtins[e.name]
  if rule then
    e.kind = "builtin"
    for _, t in ipairs(argtypes) do if T.is_error(t) then return T.err end end
    local ty, msg = rule(argtypes)
    if not ty then return self:error(e.pos, "'%s' %s", e.name, msg) end
    return ty
  end
  return self:error(e.pos, "unknown function '%s'", e.name)
end

function Ctx:expr(e, scope)
  local ty = self:expr_type(e, scope)
  e.type = ty
  return ty
end

function Ctx:expr_type(e, scope)
  local tag = e.tag
  if tag == "int" or tag == "duration" then return T.i64
  elseif tag == "float" then return T.f64
  elseif tag == "string" then return T.str
  elseif tag == "bool" then return T.bool
  elseif tag == "none" then return T.option(T.var())
  elseif tag == "var" then
    local v = lookup(scope, e.name)
    if not v then
      if self.fns[e.name] or self.externs[e.name] or builtins[e.name] then
        return self:error(e.pos, "'%s' is a function; call it as %s(...)", e.name, e.name)
      end
      if self.streams[e.name] then
        return self:error(e.pos, "'%s' is a stream, not a value", e.name)
      end
      return self:error(e.pos, "unknown name '%s'", e.name)
    end
    e.ref = v
    return v.type
  elseif tag == "binop" then return self:binop(e, scope)
  elseif tag == "unop" then
    local t = self:expr(e.expr, scope)
    if T.is_error(t) then return T.err end
    if e.op == "-" then
      if T.is_numeric(t) then return T.resolve(t) end
      return self:error(e.pos, "unary '-' expects a number, got %s", T.tostring(t))
    end
    if T.unify(t, T.bool) then return T.bool end
    return self:error(e.pos, "'not' expects a bool, got %s", T.tostring(t))
  elseif tag == "if" then
    local c = self:expr(e.cond, scope)
    if not T.unify(c, T.bool) then
      self:error(e.cond.pos, "the condition of 'if' must be bool, got %s", T.tostring(c))
    end
    local a = self:expr(e.then_, scope)
    local b = self:expr(e.else_, scope)
    if T.is_numeric(a) and T.is_numeric(b) and not T.unify(a, b) then return T.f64 end
    if not T.unify(a, b) then
      return self:error(e.pos, "the branches of 'if' differ: %s and %s", T.tostring(a), T.tostring(b))
    end
    return a
  elseif tag == "let" then
    local vt = self:expr(e.value, scope)
    local inner = new_scope(scope)
    e.var = self:bind(inner, e.name, vt)
    return self:expr(e.body, inner)
  elseif tag == "call" then return self:call(e, scope)
  elseif tag == "tuple" then
    if #e.elems == 0 then return self:error(e.pos, "the empty tuple () has no use here") end
    local elems = {}
    for i, x in ipairs(e.elems) do elems[i] = self:expr(x, scope) end
    return T.tuple(elems)
  elseif tag == "list" then
    local elem = T.var()
    for _, x in ipairs(e.elems) do
      local t = self:expr(x, scope)
      if not T.unify(elem, t) then
        self:error(x.pos, "list elements must have one type: %s and %s", T.tostring(elem), T.tostring(t))
      end
    end
    return T.list(elem)
  elseif tag == "index" then
    local lt = self:expr(e.expr, scope)
    local it = self:expr(e.index, scope)
    if not T.unify(it, T.i64) then self:error(e.index.pos, "a list index must be i64, got %s", T.tostring(it)) end
    local elem = T.var()
    if T.is_error(lt) then return T.err end
    if not T.unify(lt, T.list(elem)) then
      return self:error(e.pos, "only lists can be indexed, got %s", T.tostring(lt))
    end
    return elem
  elseif tag == "field" then
    local tt = T.resolve(self:expr(e.expr, scope))
    if tt.tag == "error" then return T.err end
    if tt.tag ~= "tuple" then
      return self:error(e.pos, "'.%d' needs a tuple, got %s", e.index, T.tostring(tt))
    end
    if e.index >= #tt.elems then
      return self:error(e.pos, "tuple %s has no field .%d", T.tostring(tt), e.index)
    end
    return tt.elems[e.index + 1]
  elseif tag == "lambda" then
    return self:error(e.pos, "a lambda can only be an operator's argument")
  end
  return self:error(e.pos or 1, "unexpected expression '%s'", tostring(tag))
end

-- Lambdas -----------------------------------------------------------------

-- Checks a function argument of an operator: a lambda, or the name of a fn,
-- extern or builtin (rewritten into a lambda that calls it).  argtypes are
-- the types the operator passes; returns the result type.
function Ctx:lambda(lam, argtypes, opname)
  if lam.tag == "var" and (self.fns[lam.name] or self.externs[lam.name] or builtins[lam.name]) then
    local params, args = {}, {}
    for i = 1, #argtypes do
      params[i] = {name = "_" .. i, pos = lam.pos}
      args[i] = {tag = "var", name = "_" .. i, pos = lam.pos}
    end
    local call = {tag = "call", name = lam.name, args = args, named = {}, pos = lam.pos}
    for k in pairs(lam) do lam[k] = nil end
    lam.tag, lam.params, lam.destructure, lam.body, lam.pos = "lambda", params, false, call, call.pos
  end
  if lam.tag ~= "lambda" then
    self:error(lam.pos, "'%s' expects a function here, like x => ...", opname)
    return T.err
  end
  local scope = new_scope(self.global)
  local np = #lam.params
  lam.args = {}
  if np == #argtypes and not (lam.destructure and #argtypes == 1) then
    lam.mode = "args"
    for i, p in ipairs(lam.params) do lam.args[i] = self:bind(scope, p.name, argtypes[i]) end
  elseif #argtypes == 1 and T.resolve(argtypes[1]).tag == "tuple" and #T.resolve(argtypes[1]).elems == np then
    lam.mode = "destructure"
    local tt = T.resolve(argtypes[1])
    for i, p in ipairs(lam.params) do lam.args[i] = self:bind(scope, p.name, tt.elems[i]) end
  elseif T.is_error(argtypes[1] or T.i64) then
    for _, p in ipairs(lam.params) do self:bind(scope, p.name, T.err) end
  else
    local shown = {}
    for i, t in ipairs(argtypes) do shown[i] = T.tostring(t) end
    self:error(lam.pos, "this function takes %d parameter%s, but '%s' passes %s",
      np, np == 1 and "" or "s", opname,
      #argtypes == 1 and ("one value of type " .. shown[1]) or ("(" .. table.concat(shown, ", ") .. ")"))
    for _, p in ipairs(lam.params) do self:bind(scope, p.name, T.err) end
  end
  lam.param_types = argtypes
  lam.ret = self:expr(lam.body, scope)
  return lam.ret
end

-- Streams -----------------------------------------------------------------

function Ctx:node(op, opcall, inputs, chain)
  local n = {op = op, ast = opcall, inputs = inputs, chain = chain, pos = opcall.pos,
             step_id = opcall.step_id, out = {}}
  self.nodes[#self.nodes + 1] = n
  return n
end

function Ctx:stream_ref(name, pos)
  local s = self.streams[name]
  if s then
    s.used = true
    return s.value
  end
  if self.params_by_name[name] then
    self:error(pos, "'%s' is a param, not a stream", name)
  else
    self:error(pos, "unknown stream '%s'", name)
  end
end

-- Returns the list of stream values a pipeline produces (empty after output).
function Ctx:pipe(pipe, chain)
  local head = pipe.head
  local values
  if head.tag == "ref" then
    local v = self:stream_ref(head.name, head.pos)
    if not v then return nil end
    values = {v}
    chain = chain or head.name
  elseif head.tag == "input" then
    chain = chain or self.name
    local n = self:node("input", head.source, {}, chain)
    local ty = operators.source(self, n, head.source)
    if not ty then return nil end
    n.out[1] = ty
    values = {{node = n, port = 1, type = ty}}
  elseif head.tag == "opcall" and head.name == "merge" then
    local inputs = {}
    for _, a in ipairs(head.args) do
      if a.tag ~= "var" then
        self:error(a.pos, "merge takes stream names")
        return nil
      end
      local v = self:stream_ref(a.name, a.pos)
      if not v then return nil end
      inputs[#inputs + 1] = v
      chain = chain or a.name
    end
    if #inputs < 1 then self:error(head.pos, "merge needs at least one stream"); return nil end
    local n = self:node("merge", head, inputs, chain)
    local ty = operators.merge_type(self, n, inputs)
    n.out[1] = ty
    values = {{node = n, port = 1, type = ty}}
  else
    self:error(head.pos, "a pipeline starts with 'input', a stream name or merge(...)")
    return nil
  end
  for _, op in ipairs(pipe.ops) do
    if #values == 0 then
      self:error(op.pos, "nothing can follow 'output': it ends the pipeline")
      return nil
    end
    if #values > 1 then
      self:error(op.pos, "branch gives two streams; bind them first: a, b = s | branch(...)")
      return nil
    end
    local input = values[1]
    if op.tag == "output" then
      local n = self:node("output", op.sink, {input}, chain)
      n.step_id = op.step_id or op.sink.step_id
      n.pos = op.pos
      if not operators.sink(self, n, op.sink, input.type) then return nil end
      values = {}
    elseif op.name == "merge" then
      local inputs = {input}
      for _, a in ipairs(op.args) do
        local v = a.tag == "var" and self:stream_ref(a.name, a.pos)
        if not v then
          if a.tag ~= "var" then self:error(a.pos, "merge takes stream names") end
          return nil
        end
        inputs[#inputs + 1] = v
      end
      local n = self:node("merge", op, inputs, chain)
      n.out[1] = operators.merge_type(self, n, inputs)
      values = {{node = n, port = 1, type = n.out[1]}}
    else
      local rule = operators.ops[op.name]
      if not rule then
        if operators.sources[op.name] or operators.sinks[op.name] then
          self:error(op.pos, "'%s' is a %s; write '%s %s'", op.name,
            operators.sources[op.name] and "source" or "sink",
            operators.sources[op.name] and "input" or "output", op.name)
        else
          self:error(op.pos, "unknown operator '%s'", op.name)
        end
        return nil
      end
      local n = self:node(op.name, op, {input}, chain)
      local outs = rule(self, n, op, input.type)
      if not outs then return nil end
      values = {}
      for i, t in ipairs(outs) do
        n.out[i] = t
        values[i] = {node = n, port = i, type = t}
      end
    end
  end
  return values
end

-- Top level ---------------------------------------------------------------

local literal_tags = {int = true, float = true, string = true, bool = true, duration = true}

function Ctx:param(item)
  local ty = T.from_node(item.type, self.d)
  if not T.is_error(ty) and not T.is_scalar(ty) then
    self:error(item.type.pos or item.pos, "a param must be bool, i64, f64 or str, got %s", T.tostring(ty))
    ty = T.err
  end
  local p = {name = item.name, type = ty, pos = item.pos}
  if self.params_by_name[item.name] then
    self:error(item.pos, "param '%s' is defined twice", item.name)
  end
  if item.default then
    local e = item.default
    local neg = false
    if e.tag == "unop" and e.op == "-" and (e.expr.tag == "int" or e.expr.tag == "float") then
      neg, e = true, e.expr
    end
    if not literal_tags[e.tag] then
      self:error(item.default.pos, "a param's default must be a literal")
    else
      local dt = self:expr(e, self.global)
      if T.is_numeric(ty) and T.is_numeric(dt) and not (T.is(ty, "i64") and T.is(dt, "f64")) then
        dt = ty
      end
      if not T.unify(dt, ty) then
        self:error(item.default.pos, "param '%s' is %s but its default is %s", item.name,
          T.tostring(ty), T.tostring(dt))
      else
        local v = e.value
        if e.tag == "bool" then p.default_text = v and "true" or "false"
        elseif e.tag == "string" then p.default_text = v
        elseif T.is(ty, "f64") then p.default_text = T.f64_text((neg and -1 or 1) * v)
        else p.default_text = string.format("%d", (neg and -1 or 1) * v) end
      end
    end
  end
  self.params[#self.params + 1] = p
  self.params_by_name[item.name] = p
  self:bind(self.global, item.name, ty, "param").param = p
end

function Ctx:fn(item)
  if self.fns[item.name] or self.externs[item.name] then
    self:error(item.pos, "function '%s' is defined twice", item.name)
  end
  local fn = {name = item.name, params = {}, pos = item.pos, cname = "fn_" .. item.name, body = item.body}
  local scope = new_scope(self.global)
  for i, p in ipairs(item.params) do
    local ty = T.from_node(p.type, self.d)
    fn.params[i] = {name = p.name, type = ty, var = self:bind(scope, p.name, ty)}
  end
  if item.ret then fn.ret = T.from_node(item.ret, self.d) end
  self.fns[item.name] = fn
  self.fn_list[#self.fn_list + 1] = fn
  local body_t = self:expr(item.body, scope)
  if fn.ret then
    if T.is_numeric(fn.ret) and T.is_numeric(body_t) and not T.is(fn.ret, "i64") then body_t = fn.ret end
    if not T.unify(body_t, fn.ret) then
      self:error(item.body.pos, "'%s' returns %s but its body is %s", item.name, T.tostring(fn.ret),
        T.tostring(body_t))
    end
  else
    fn.ret = body_t
  end
end

function Ctx:extern(item)
  if self.fns[item.name] or self.externs[item.name] then
    self:error(item.pos, "function '%s' is defined twice", item.name)
  end
  local ext = {name = item.name, params = {}, pos = item.pos}
  for i, p in ipairs(item.params) do
    local ty = T.from_node(p, self.d)
    if not T.is_error(ty) and not T.is_scalar(ty) then
      self:error(p.pos or item.pos, "extern parameters are bool, i64, f64 or str, got %s", T.tostring(ty))
    end
    ext.params[i] = ty
  end
  ext.ret = T.from_node(item.ret, self.d)
  if not T.is_error(ext.ret) and not T.is_scalar(ext.ret) then
    self:error(item.ret.pos or item.pos, "an extern returns bool, i64, f64 or str, got %s", T.tostring(ext.ret))
  end
  self.externs[item.name] = ext
end

function Ctx:statement(item)
  local tag = item.tag
  if tag == "flow" then
    if self.flow_named then self:error(item.pos, "the flow is named twice") end
    self.flow_named = true
    self.name = item.name
  elseif tag == "param" then self:param(item)
  elseif tag == "cblock" then self.cblocks[#self.cblocks + 1] = item
  elseif tag == "extern" then self:extern(item)
  elseif tag == "fn" then self:fn(item)
  elseif tag == "bind" then
    for _, nm in ipairs(item.names) do
      if self.streams[nm.name] then
        self:error(nm.pos, "stream '%s' is defined twice", nm.name)
      elseif self.params_by_name[nm.name] then
        self:error(nm.pos, "'%s' is already a param", nm.name)
      end
    end
    local values = self:pipe(item.stream, item.names[1].name)
    if values then
      if #values ~= #item.names then
        if #values == 0 then
          self:error(item.pos, "a pipeline that ends in 'output' gives no stream to bind")
        else
          self:error(item.pos, "this pipeline gives %d stream%s, but %d name%s bound", #values,
            #values == 1 and "" or "s", #item.names, #item.names == 1 and " is" or "s are")
        end
      else
        for i, nm in ipairs(item.names) do
          self.streams[nm.name] = {value = values[i], pos = nm.pos}
        end
      end
    end
  elseif tag == "run" then
    local values = self:pipe(item.stream, nil)
    if values and #values > 0 then
      self:error(item.pos, "this pipeline's result is unused; end it with '| output ...' or bind it")
    end
  end
end

function M.check(ast, d, default_name)
  local ctx = setmetatable({
    d = d, name = default_name, params = {}, params_by_name = {}, cblocks = {},
    externs = {}, fns = {}, fn_list = {}, streams = {}, nodes = {}, nlocals = 0,
  }, Ctx)
  ctx.global = new_scope(nil)
  for _, item in ipairs(ast.items) do ctx:statement(item) end
  local outputs = 0
  for _, n in ipairs(ctx.nodes) do if n.op == "output" then outputs = outputs + 1 end end
  if d:count() == 0 and outputs == 0 then
    d:error(#ast.items > 0 and ast.items[#ast.items].pos or 1,
      "the flow has no output; end a pipeline with '| output stdout' (or file, dir, discard)")
  end
  if d:count() > 0 then return nil end
  return {
    name = ctx.name, params = ctx.params, cblocks = ctx.cblocks, externs = ctx.externs,
    fns = ctx.fn_list, nodes = ctx.nodes,
  }
end

return M

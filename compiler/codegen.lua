-- codegen.lua — the generate pass: a plan becomes one C unit.
--
-- Every item type becomes a C type (scalars map directly; tuples, lists and
-- options become typedef'd structs), with helpers for its text form, wire
-- form, equality and heap copies generated on demand.  Every step becomes a
-- `static inline` function that calls the steps downstream of it, so a chain
-- of stateless operators fuses into the source's loop.  Exchange points encode
-- items into per-destination buffers; their receivers decode and go on.
-- Lambdas and fns carry `#line` directives back to the .flow file.
local T = require "types"
local CE = require "cexpr"
local render = require "render"

local M = {}

local CG = {}
CG.__index = CG

local function lines(t) return table.concat(t, "\n") end

-- Entry points (source batches, received messages, end of input) copy the
-- hot state in and back out around the steps they run.
local HOT_IN = "    flow_hot hot_, *hot = &hot_;\n    hot_load(w, hot);"
local HOT_OUT = "    hot_store(w, hot);"

-- Types ---------------------------------------------------------------

-- The C type of a flow type (declaring typedefs as needed) and the suffix
-- used in its helper names.
function CG:ctype(t)
  t = T.default(t)
  local tag = t.tag
  if tag == "i64" then return "int64_t", "i64"
  elseif tag == "f64" then return "double", "f64"
  elseif tag == "bool" then return "bool", "bool"
  elseif tag == "str" then return "dfc_str", "str"
  elseif tag == "error" then error({internal = true, msg = "codegen: error type"}, 0)
  end
  if tag == "list" and T.resolve(t.elem).tag == "str" then return "dfc_list_str", "list_str" end
  local key = T.tostring(t)
  local name = self.typenames[key]
  if name then return name, name end
  local body
  if tag == "tuple" then
    local fields = {}
    for i, e in ipairs(t.elems) do fields[i] = self:ctype(e) .. " f" .. (i - 1) .. ";" end
    body = table.concat(fields, " ")
  elseif tag == "list" then
    body = self:ctype(t.elem) .. " *ptr; int64_t len;"
  elseif tag == "option" then
    body = "bool some; " .. self:ctype(t.elem) .. " val;"
  end
  self.ntypes = self.ntypes + 1
  name = "t" .. self.ntypes
  self.typenames[key] = name
  self.typedefs[#self.typedefs + 1] = string.format("typedef struct { %s } %s; /* %s */", body, name, key)
  return name, name
end

-- True when values of the type point to memory (str, lists) that must be
-- copied to the heap to outlive a batch.
local function has_heap(t)
  t = T.resolve(t)
  if t.tag == "str" or t.tag == "list" then return true end
  if t.tag == "tuple" then
    for _, e in ipairs(t.elems) do if has_heap(e) then return true end end
  elseif t.tag == "option" then return has_heap(t.elem) end
  return false
end

-- Name of helper `kind` (fmt, enc, dec, eq, clone, drop) for type t.
function CG:helper(kind, t)
  local ct, suffix = self:ctype(t)
  local name = kind .. "_" .. suffix
  t = T.resolve(t)
  if T.is_scalar(t) then return name end
  if self.helper_done[name] then return name end
  self.helper_done[name] = true
  local code
  if t.tag == "tuple" then
    local parts = {}
    if kind == "fmt" then
      parts[#parts + 1] = 'dfc_buf_put(b, "(", 1);'
      for i, e in ipairs(t.elems) do
        if i > 1 then parts[#parts + 1] = 'dfc_buf_put(b, ", ", 2);' end
        parts[#parts + 1] = self:helper("fmt", e) .. "(b, v.f" .. (i - 1) .. ");"
      end
      parts[#parts + 1] = 'dfc_buf_put(b, ")", 1);'
      code = "static void " .. name .. "(dfc_buf *b, " .. ct .. " v) { " .. table.concat(parts, " ") .. " }"
    elseif kind == "enc" then
      for i, e in ipairs(t.elems) do parts[i] = self:helper("enc", e) .. "(b, v.f" .. (i - 1) .. ");" end
      code = "static inline void " .. name .. "(dfc_buf *b, " .. ct .. " v) { " .. table.concat(parts, " ") .. " }"
    elseif kind == "dec" then
      for i, e in ipairs(t.elems) do parts[i] = "v.f" .. (i - 1) .. " = " .. self:helper("dec", e) .. "(r);" end
      code = "static inline " .. ct .. " " .. name .. "(dfc_reader *r) { " .. ct .. " v; " .. table.concat(parts, " ") .. " return v; }"
    elseif kind == "eq" then
      for i, e in ipairs(t.elems) do parts[i] = self:helper("eq", e) .. "(a.f" .. (i - 1) .. ", b.f" .. (i - 1) .. ")" end
      code = "static inline bool " .. name .. "(" .. ct .. " a, " .. ct .. " b) { return " .. table.concat(parts, " && ") .. "; }"
    elseif kind == "clone" then
      for i, e in ipairs(t.elems) do
        if has_heap(e) then parts[#parts + 1] = "c.f" .. (i - 1) .. " = " .. self:helper("clone", e) .. "(v.f" .. (i - 1) .. ");" end
      end
      code = "static " .. ct .. " " .. name .. "(" .. ct .. " v) { " .. ct .. " c = v; " .. table.concat(parts, " ") .. " return c; }"
    elseif kind == "drop" then
      for i, e in ipairs(t.elems) do
        if has_heap(e) then parts[#parts + 1] = self:helper("drop", e) .. "(v.f" .. (i - 1) .. ");" end
      end
      code = "static void " .. name .. "(" .. ct .. " v) { " .. table.concat(parts, " ") .. " }"
    end
  elseif t.tag == "list" then
    local et = self:ctype(t.elem)
    if kind == "fmt" then
      code = string.format('static void %s(dfc_buf *b, %s v) { dfc_buf_put(b, "[", 1); for (int64_t i = 0; i < v.len; i++) { if (i) dfc_buf_put(b, ", ", 2); %s(b, v.ptr[i]); } dfc_buf_put(b, "]", 1); }',
        name, ct, self:helper("fmt", t.elem))
    elseif kind == "enc" then
      code = string.format("static void %s(dfc_buf *b, %s v) { dfc_buf_put_u32(b, (uint32_t)v.len); for (int64_t i = 0; i < v.len; i++) %s(b, v.ptr[i]); }",
        name, ct, self:helper("enc", t.elem))
    elseif kind == "dec" then
      -- Every element takes at least one byte, so a count larger than the
      -- bytes left is malformed: checked before allocating.
      code = string.format("static %s %s(dfc_reader *r) { %s v; uint32_t n = dfc_get_u32(r); if ((size_t)(r->end - r->p) < n) dfc_reader_fail(r); v.len = n; v.ptr = dfc_arena_alloc(&r->w->arena, (size_t)n * sizeof(%s) + 1); for (uint32_t i = 0; i < n; i++) v.ptr[i] = %s(r); return v; }",
        ct, name, ct, et, self:helper("dec", t.elem))
    elseif kind == "eq" then
      code = string.format("static bool %s(%s a, %s b) { if (a.len != b.len) return false; for (int64_t i = 0; i < a.len; i++) if (!%s(a.ptr[i], b.ptr[i])) return false; return true; }",
        name, ct, ct, self:helper("eq", t.elem))
    elseif kind == "clone" then
      local inner = has_heap(t.elem) and (self:helper("clone", t.elem) .. "(v.ptr[i])") or "v.ptr[i]"
      code = string.format("static %s %s(%s v) { %s c; c.len = v.len; c.ptr = dfc_heap_alloc((size_t)v.len * sizeof(%s) + 1); for (int64_t i = 0; i < v.len; i++) c.ptr[i] = %s; return c; }",
        ct, name, ct, ct, et, inner)
    elseif kind == "drop" then
      local inner = has_heap(t.elem) and (self:helper("drop", t.elem) .. "(v.ptr[i]);") or ""
      code = string.format("static void %s(%s v) { for (int64_t i = 0; i < v.len; i++) { %s } dfc_heap_free(v.ptr); }",
        name, ct, inner)
    end
  elseif t.tag == "option" then
    if kind == "fmt" then
      code = string.format('static void %s(dfc_buf *b, %s v) { if (!v.some) { dfc_buf_put(b, "none", 4); return; } dfc_buf_put(b, "some(", 5); %s(b, v.val); dfc_buf_put(b, ")", 1); }',
        name, ct, self:helper("fmt", t.elem))
    elseif kind == "enc" then
      code = string.format("static void %s(dfc_buf *b, %s v) { dfc_buf_put_bool(b, v.some); if (v.some) %s(b, v.val); }",
        name, ct, self:helper("enc", t.elem))
    elseif kind == "dec" then
      code = string.format("static %s %s(dfc_reader *r) { %s v; memset(&v, 0, sizeof v); v.some = dfc_get_bool(r); if (v.some) v.val = %s(r); return v; }",
        ct, name, ct, self:helper("dec", t.elem))
    elseif kind == "eq" then
      code = string.format("static bool %s(%s a, %s b) { return a.some == b.some && (!a.some || %s(a.val, b.val)); }",
        name, ct, ct, self:helper("eq", t.elem))
    elseif kind == "clone" then
      code = string.format("static %s %s(%s v) { if (v.some) v.val = %s(v.val); return v; }",
        ct, name, ct, self:helper("clone", t.elem))
    elseif kind == "drop" then
      code = string.format("static void %s(%s v) { if (v.some) %s(v.val); }", name, ct, self:helper("drop", t.elem))
    end
  end
  self.helpers[#self.helpers + 1] = code
  return name
end

-- #line ----------------------------------------------------------------

function CG:line_of(pos)
  return (self.d:line_col(pos))
end

function CG:line_directive(pos)
  return string.format('#line %d %s', self:line_of(pos), CE.cstring(self.flow_file))
end

-- Functions ------------------------------------------------------------

-- A lambda with the same parameters as lam but another body (used to take
-- a lambda apart, e.g. the arguments of the split a flat_map returns).
function CG:lambda_with_body(lam, body, node)
  local copy = {}
  for k, v in pairs(lam) do copy[k] = v end
  copy.body, copy.ret = body, body.type
  return self:lambda(copy, node)
end

-- flat_map(l => split(s, sep)) or split(s): true when the lambda's result is
-- a builtin split, which the step can iterate without making the list.
local function returns_split(lam)
  local b = lam and lam.tag == "lambda" and lam.body
  return b and b.tag == "call" and b.kind == "builtin" and b.name == "split" and b
end

function CG:lambda(lam, node)
  self.nlam = self.nlam + 1
  local name = "lam_" .. self.nlam
  local params, pre = {}, {}
  if lam.mode == "destructure" then
    local tt = lam.param_types[1]
    params[1] = self:ctype(tt) .. " arg"
    for i, v in ipairs(lam.args) do
      pre[#pre + 1] = string.format("    %s %s = arg.f%d;", self:ctype(v.type), v.cname, i - 1)
    end
  else
    for i, v in ipairs(lam.args) do params[i] = self:ctype(lam.param_types[i]) .. " " .. v.cname end
  end
  local body = CE.expr(self, lam.body)
  local out = {
    string.format("/* %s: %s */", node.id, node.op),
    string.format("static inline %s %s(dfc_worker *w%s)", self:ctype(lam.ret), name,
      #params > 0 and (", " .. table.concat(params, ", ")) or ""),
    "{",
  }
  for _, l in ipairs(pre) do out[#out + 1] = l end
  out[#out + 1] = self:line_directive(lam.body.pos)
  out[#out + 1] = "    return " .. body .. ";"
  out[#out + 1] = "}"
  out[#out + 1] = "#line RESTORE"
  self.lambdas[#self.lambdas + 1] = lines(out)
  return name
end

function CG:fn(fn)
  local params = {"dfc_worker *w"}
  for i, p in ipairs(fn.params) do params[i + 1] = self:ctype(p.type) .. " " .. p.var.cname end
  local sig = string.format("static %s %s(%s)", self:ctype(fn.ret), fn.cname, table.concat(params, ", "))
  self.fn_protos[#self.fn_protos + 1] = sig .. ";"
  local body = CE.coerce(CE.expr(self, fn.body), fn.body.type, fn.ret)
  self.functions[#self.functions + 1] = lines({
    "/* fn " .. fn.name .. " */", sig, "{", self:line_directive(fn.body.pos),
    "    return " .. body .. ";", "}", "#line RESTORE",
  })
end

-- Steps ----------------------------------------------------------------

-- C statements that pass value `val` to every step downstream of node's port.
function CG:emit(node, port, val, indent)
  indent = indent or "    "
  local out = {}
  for _, s in ipairs(node.succ[port] or {}) do
    out[#out + 1] = indent .. "step_" .. s.index .. "(w, hot, " .. val .. ");"
  end
  if #out == 0 then return indent .. "(void)" .. val .. ";" end
  return lines(out)
end

-- Statements that leave the item's text (SPEC §2: str as is, others in their
-- canonical form) in dfc_str `name`; `after` restores the scratch buffer.
function CG:text_of(val, ty, name)
  if T.is(ty, "str") then return "    dfc_str " .. name .. " = " .. val .. ";", "" end
  return string.format("    size_t mark = w->scratch.len;\n    %s(&w->scratch, %s);\n    dfc_str %s = {(const char *)w->scratch.data + mark, (int64_t)(w->scratch.len - mark)};",
    self:helper("fmt", ty), val, name), "\n    w->scratch.len = mark;"
end

local function quote(s) return CE.cstring(s) end

function CG:step(n)
  local input = n.inputs[1]
  local in_t = input and input.type
  local ct = in_t and self:ctype(in_t)
  local body = {}
  local function add(s) body[#body + 1] = s end
  local op = n.op
  local split = op == "flat_map" and returns_split(n.fn)
  local lam = not split and n.fn and n.fn.tag == "lambda" and self:lambda(n.fn, n) or nil
  if split then add("    w->cur_step = " .. n.index .. ";") end
  if (lam and CE.can_fail(n.fn.body)) or op == "raises" then add("    w->cur_step = " .. n.index .. ";") end
  local out_t = n.out[1]
  if op == "map" then
    add(string.format("    %s y = %s(w, x);", self:ctype(out_t), lam))
    add(self:emit(n, 1, "y"))
  elseif op == "filter" then
    add(string.format("    if (%s(w, x)) {\n%s\n    }", lam, self:emit(n, 1, "x", "        ")))
  elseif op == "filter_map" then
    add(string.format("    %s o = %s(w, x);\n    if (o.some) {\n%s\n    }", self:ctype(n.fn.ret), lam, self:emit(n, 1, "o.val", "        ")))
  elseif split then
    -- The parts of the split go downstream one by one; no list is made.
    local sl = self:lambda_with_body(n.fn, split.args[1], n)
    if split.args[2] then
      local sep = self:lambda_with_body(n.fn, split.args[2], n)
      add(string.format("    dfc_split_iter it = dfc_split_begin(w, %s(w, x), %s(w, x));", sl, sep))
      add("    dfc_str part;\n    while (dfc_split_next(&it, &part)) {")
    else
      add(string.format("    dfc_split_iter it = dfc_split_ws_begin(%s(w, x));", sl))
      add("    dfc_str part;\n    while (dfc_split_ws_next(&it, &part)) {")
    end
    add(self:emit(n, 1, "part", "        "))
    add("    }")
  elseif op == "flat_map" then
    add(string.format("    %s l = %s(w, x);\n    for (int64_t i = 0; i < l.len; i++) {\n%s\n    }", self:ctype(n.fn.ret), lam, self:emit(n, 1, "l.ptr[i]", "        ")))
  elseif op == "flatten" then
    add(string.format("    for (int64_t i = 0; i < x.len; i++) {\n%s\n    }", self:emit(n, 1, "x.ptr[i]", "        ")))
  elseif op == "inspect" or op == "inspect_debug" then
    add("    size_t mark = w->scratch.len;")
    add(string.format("    dfc_buf_put(&w->scratch, %s, %d);", quote(n.id), #n.id))
    if op == "inspect_debug" then
      add('    dfc_buf_put(&w->scratch, " W", 2);\n    dfc_fmt_i64(&w->scratch, w->index);')
      add('    dfc_buf_put(&w->scratch, " @", 2);\n    dfc_fmt_i64(&w->scratch, w->epoch);')
    end
    add('    dfc_buf_put(&w->scratch, ": ", 2);')
    if lam then
      add(string.format("    dfc_str text = %s(w, x);\n    dfc_buf_put(&w->scratch, text.ptr, (size_t)text.len);", lam))
    else
      add(string.format("    %s(&w->scratch, x);", self:helper("fmt", in_t)))
    end
    add("    dfc_inspect_write(w, (const char *)w->scratch.data + mark, w->scratch.len - mark);")
    add("    w->scratch.len = mark;")
    add(self:emit(n, 1, "x"))
  elseif op == "raises" then
    add(string.format("    %s(&w->scratch, x);", self:helper("fmt", in_t)))
    add('    dfc_fail(w, "raises on item %.*s", (int)w->scratch.len, (const char *)w->scratch.data);')
  elseif op == "key_on" then
    add(string.format("    %s y = {%s(w, x), x};", self:ctype(out_t), lam))
    add(self:emit(n, 1, "y"))
  elseif op == "key_rm" then
    add(self:emit(n, 1, "x.f1"))
  elseif op == "map_value" then
    add(string.format("    %s y = {x.f0, %s(w, x.f1)};", self:ctype(out_t), lam))
    add(self:emit(n, 1, "y"))
  elseif op == "filter_value" then
    add(string.format("    if (%s(w, x.f1)) {\n%s\n    }", lam, self:emit(n, 1, "x", "        ")))
  elseif op == "filter_map_value" then
    add(string.format("    %s o = %s(w, x.f1);\n    if (o.some) {\n        %s y = {x.f0, o.val};\n%s\n    }",
      self:ctype(n.fn.ret), lam, self:ctype(out_t), self:emit(n, 1, "y", "        ")))
  elseif op == "flat_map_value" then
    add(string.format("    %s l = %s(w, x.f1);\n    for (int64_t i = 0; i < l.len; i++) {\n        %s y = {x.f0, l.ptr[i]};\n%s\n    }",
      self:ctype(n.fn.ret), lam, self:ctype(out_t), self:emit(n, 1, "y", "        ")))
  elseif op == "branch" then
    add(string.format("    if (%s(w, x)) {\n%s\n    } else {\n%s\n    }", lam,
      self:emit(n, 1, "x", "        "), self:emit(n, 2, "x", "        ")))
  elseif op == "merge" then
    add(self:emit(n, 1, "x"))
  elseif op == "redistribute" then
    add(string.format("    int dest = dfc_route_rr(w, %d);\n    dfc_buf *b = dfc_out_begin(w, %d, dest);\n    %s(b, x);\n    dfc_out_end(w, %d, dest);",
      n.channel, n.channel, self:helper("enc", in_t), n.channel))
    self:receiver(n, string.format("        %s x = %s(r);\n%s", ct, self:helper("dec", in_t), self:emit(n, 1, "x", "        ")))
  elseif n.exchange == "key" and op ~= "output" then
    self:keyed_step(n, lam, add, in_t)
  elseif op == "output" then
    self:output_step(n, add, in_t)
  else
    error({internal = true, msg = "codegen: no code for operator " .. op}, 0)
  end
  local sig = string.format("static inline void step_%d(dfc_worker *w, flow_hot *hot, %s x)", n.index, ct)
  self.steps[#self.steps + 1] = lines({"/* " .. n.id .. " (" .. op .. ") */", sig, "{", lines(body), "}"})
end

-- A channel receiver: decodes `count` items and runs `per_item` on each.
function CG:receiver(n, per_item, eof)
  local c = n.channel
  self.receivers[#self.receivers + 1] = lines({
    string.format("/* %s: items arriving from other workers */", n.id),
    string.format("static void recv_%d(dfc_worker *w, dfc_reader *r, uint32_t count)", c),
    "{", HOT_IN, "    for (uint32_t i = 0; i < count; i++) {", per_item, "    }", HOT_OUT, "}",
  })
  if eof then self.receivers[#self.receivers + 1] = eof end
  self.channel_fns[c] = {recv = "recv_" .. c, eof = eof and ("eof_" .. c) or "NULL"}
end

-- A ring for the items bound for table `tab` (its entries in the per-worker
-- state, reached from flow_hot; every ring serves one table, so an entry
-- holds only the key and the value): defer_NAME queues
-- an item and prefetches its slot, and applies (apply_fn) the item queued
-- DFC_RING items earlier, so that the lookups of several items overlap
-- instead of each waiting for its cache miss; drain_NAME applies the rest,
-- oldest first (hot_store calls it at the end of each entry point).  Even
-- for a table that stays in cache the ring pays: the lookup of one item
-- overlaps the key and hash work of the next ones.
function CG:ring(name, what, apply_fn, vct, at, tab)
  local r = "hot->ring_" .. name
  self.rings[#self.rings + 1] = {name = name, what = what, vct = vct}
  self.steps[#self.steps + 1] = lines({
    string.format("/* %s: queue it while its slot is fetched, apply the one queued DFC_RING items ago */", what),
    string.format("static DFC_ALWAYS_INLINE void defer_%s(dfc_worker *w, flow_hot *hot, dfc_key key, %s v)", name, vct),
    "{",
    string.format("    dfc_table_prefetch_sized(STATE->%s, key.tag, DFC_TABLE_ENTRY_SIZE(%s));", tab, at),
    string.format("    size_t i = hot->nring_%s++ %% DFC_RING;", name),
    string.format("    if (hot->nring_%s <= DFC_RING) {", name),
    string.format("        %s[i].k = key;\n        %s[i].v = v;", r, r),
    "        return;",
    "    }",
    string.format("    dfc_key k0 = %s[i].k;\n    %s v0 = %s[i].v;", r, vct, r),
    string.format("    %s[i].k = key;\n    %s[i].v = v;", r, r),
    string.format("    %s(w, hot, STATE->%s, k0, v0);", apply_fn, tab),
    "}",
    string.format("/* %s: apply the queued ones, oldest first */", what),
    string.format("static void drain_%s(dfc_worker *w, flow_hot *hot)", name),
    "{",
    string.format("    size_t n = hot->nring_%s;", name),
    "    for (size_t j = n > DFC_RING ? n - DFC_RING : 0; j < n; j++) {",
    "        size_t i = j % DFC_RING;",
    string.format("        %s(w, hot, STATE->%s, %s[i].k, %s[i].v);", apply_fn, tab, r, r),
    "    }",
    string.format("    hot->nring_%s = 0;", name),
    "}",
  })
end

-- Keyed state that emits at end of input: count/fold/reduce/max/min_final.
--
-- The step computes the key and its hash; an item whose key this worker owns
-- is applied to the state at once (apply_N), others are encoded for their
-- owner, whose receiver applies them.  count_final, and max/min_final over
-- numbers, first combine items per key on the sending worker (in tab_N
-- itself, or in comb_N for a constant key) and send one partial value per
-- key when the runtime flushes the channel.
function CG:keyed_step(n, lam, add, in_t)
  local c, op = n.channel, n.op
  local tab, comb = "tab_" .. n.index, "comb_" .. n.index
  local key_expr = (op == "count_final" and lam) and (lam .. "(w, x)") or "x.f0"
  local acc_t = op == "count_final" and T.i64 or n.acc_type
  local at = self:ctype(acc_t)
  local heap = has_heap(acc_t)
  local clone = heap and self:helper("clone", acc_t) or nil
  local drop = heap and self:helper("drop", acc_t) or nil
  -- What travels and what apply_N takes: a partial count, or the value.
  local vt = op == "count_final" and T.i64 or n.value_type
  local vct = self:ctype(vt)
  local val_expr = op == "count_final" and "1" or "x.f1"
  -- fold_final/reduce_final of an i64 sum ((acc, x) => acc + x) combine
  -- like counts: i64 addition wraps, so any grouping gives the same sum.
  local summing = (op == "fold_final" or op == "reduce_final") and CE.is_sum(n.fn) and
    T.is(acc_t, "i64") and T.is(vt, "i64") and not (n.init and CE.can_fail(n.init))
  local combinable = op == "count_final" or summing or ((op == "max_final" or op == "min_final") and not heap)
  local tab_entry = {name = tab, value = at, heap = drop, id = n.id}
  self.tables[#self.tables + 1] = tab_entry
  local src = n.inputs[1].node
  local const_key = op ~= "count_final" or not lam
  const_key = const_key and src.op == "key_on" and src.fn and src.fn.tag == "lambda" and src.fn.body.tag == "string"
  -- Combining: the partial value of a key another worker owns is updated
  -- exactly as an owned key's value.  With keys in tables (not a constant
  -- key) it is kept in the same table (tab_N), so the step does not route
  -- at all: each worker folds every item into its own table, the loop of a
  -- single worker (at -w2 routing and choosing a table per item cost 8.5%
  -- of each worker's instructions).  A key new to the table is routed once (theirs_N);
  -- foreign_N counts those another worker owns, and combine_N sends their
  -- partial values and drops them from the table when too many wait
  -- (dfc_combine_due) and whenever the runtime flushes the channel.  The
  -- partial value of a constant key has a table of its own (comb_N).
  local shared = combinable and not const_key
  local combine_fn = combinable and ("combine_" .. c) or nil
  if combinable then
    local held = shared and tab or comb -- the table of the partial values
    if shared then
      tab_entry.foreign = true
    else
      self.tables[#self.tables + 1] = {name = comb, value = at, id = n.id .. " (combined before sending)", combiner = true}
    end
    self.steps[#self.steps + 1] = lines({
      string.format("/* %s: a value in %s, sent and dropped if another worker owns its key (then it is a partial value) */", n.id, held),
      string.format("static bool send_partial_%d(void *ctx, dfc_str k, void *slot)", n.index), "{",
      "    dfc_worker *w = ctx;",
      "    int dest = dfc_route_key(w, k);",
      "    if (dest == w->index) return false; /* ours: it stays */",
      string.format("    dfc_buf *b = dfc_out_begin(w, %d, dest);", c),
      "    dfc_buf_put_str(b, k);",
      string.format("    %s(b, *(%s *)slot);", self:helper("enc", vt), at),
      string.format("    dfc_out_end(w, %d, dest);", c),
      "    return true;", "}",
      string.format("/* %s: send the partial values of the keys other workers own, then forget them */", n.id),
      string.format("static void combine_%d(dfc_worker *w)", c), "{",
      shared and string.format("    if (STATE->foreign_%s == 0) return;", tab)
        or string.format("    if (dfc_table_count(STATE->%s) == 0) return;", comb),
      string.format("    dfc_table_drop_if(STATE->%s, send_partial_%d, w);", held, n.index),
      shared and string.format("    STATE->foreign_%s = 0;\n}", tab) or "}",
    })
  end
  if shared then
    self.steps[#self.steps + 1] = lines({
      string.format("/* %s: whether another worker owns a key new to %s (its value is then a partial one) */", n.id, tab),
      string.format("static DFC_NOINLINE bool theirs_%d(dfc_worker *w, dfc_key k)", n.index), "{",
      "    return dfc_route_key(w, (dfc_str){k.ptr, (int64_t)dfc_key_len(k)}) != w->index;", "}",
      string.format("/* %s: one more partial value in %s; all are sent when too many wait */", n.id, tab),
      string.format("static DFC_NOINLINE void foreign_%d(dfc_worker *w)", n.index), "{",
      string.format("    size_t foreign = ++STATE->foreign_%s;", tab),
      string.format("    if (dfc_combine_due(foreign, dfc_table_count(STATE->%s) - foreign)) combine_%d(w);", tab, c), "}",
    })
  end

  -- apply_N: fold one value into the key's state.
  local ap = {}
  local function p(s2) ap[#ap + 1] = "    " .. s2 end
  p("bool created = false;")
  if const_key then
    -- Keyed by a constant (key_on(x => "all")): the table only ever holds
    -- that one key.  Its slot is made with the state (it cannot move: no
    -- other key is ever added) and `seen` says whether a value arrived, so
    -- the hot path has neither a hash nor a lookup.
    -- While an entry point runs, the slot and `seen` live in flow_hot
    -- (see the template), where the C compiler keeps them in registers.
    tab_entry.const_key = src.fn.body.value
    tab_entry.hot = n.index
    tab_entry.hot_ctype = at
    p(string.format("%s *acc = &hot->acc_%d;", at, n.index))
    p(string.format("if (DFC_UNLIKELY(!hot->seen_%d)) {", n.index))
    p(string.format("    hot->seen_%d = true;", n.index))
    p("    created = true;")
    p("}")
  else
    p(string.format("%s *acc = dfc_table_upsert_sized(t, k, &created, NULL, DFC_TABLE_ENTRY_SIZE(%s));", at, at))
  end
  local function replace(newval)
    if heap then
      p(string.format("{ %s nv = %s(%s); %s(*acc); *acc = nv; }", at, clone, newval, drop))
    else
      p("*acc = " .. newval .. ";")
    end
  end
  local better
  if op == "max_final" or op == "min_final" then
    local cmp = op == "max_final" and ">" or "<"
    better = function(a, b)
      return T.is(acc_t, "str") and ("dfc_str_cmp(" .. a .. ", " .. b .. ") " .. cmp .. " 0") or (a .. " " .. cmp .. " " .. b)
    end
  end
  -- The update of a combinable value, the same for a key's value and for a
  -- partial value: counts and sums add up, max/min keep the better one.
  local function combine_update(target)
    if op == "count_final" or summing then return target .. " += v;" end
    return "if (created || " .. better("v", target) .. ") " .. target .. " = v;"
  end
  if shared then
    -- A key another worker owns starts its partial value from this value
    -- (the fold's initial value is added once, by the owner); counting it
    -- may send every partial value, moving the table's entries, so that
    -- comes last.
    p(string.format("if (DFC_UNLIKELY(created) && !hot->solo && theirs_%d(w, k)) {", n.index))
    p("    *acc = v; /* the first part of a partial value */")
    p(string.format("    foreign_%d(w);", n.index))
    p("    return;")
    p("}")
    if op == "fold_final" then
      p(string.format("if (created) *acc = %s;", CE.expr(self, n.init)))
    end
    p(combine_update("*acc"))
  elseif op == "count_final" then
    p(combine_update("*acc"))
  elseif op == "fold_final" then
    if CE.can_fail(n.fn.body) or CE.can_fail(n.init) then p("w->cur_step = " .. n.index .. ";") end
    p(string.format("if (created) *acc = %s;", heap and (clone .. "(" .. CE.expr(self, n.init) .. ")") or CE.expr(self, n.init)))
    replace(lam .. "(w, *acc, v)")
  elseif op == "reduce_final" then
    if CE.can_fail(n.fn.body) then p("w->cur_step = " .. n.index .. ";") end
    p(string.format("if (created) { *acc = %s; return; }", heap and (clone .. "(v)") or "v"))
    replace(lam .. "(w, *acc, v)")
  else
    p(string.format("if (created) { *acc = %s; return; }", heap and (clone .. "(v)") or "v"))
    p("if (" .. better("v", "*acc") .. ") {")
    replace("v")
    p("}")
  end
  self.steps[#self.steps + 1] = lines({
    shared and string.format("/* %s: fold one value into its key's value, or its partial value for the worker that owns it (both in %s) */", n.id, tab)
      or string.format("/* %s: fold one value into its key's state (on the worker that owns the key) */", n.id),
    string.format("static DFC_ALWAYS_INLINE void apply_%d(dfc_worker *w, flow_hot *hot, dfc_table *t, dfc_key k, %s v)", n.index, vct),
    "{", lines(ap), "}",
  })

  -- The step: route by key; apply here, combine, or send.
  if const_key then
    add(string.format("    if (DFC_LIKELY(hot->mine_%d)) { /* the one key is ours */", n.index))
    add(string.format("        apply_%d(w, hot, NULL, (dfc_key){0}, %s);\n        return;\n    }", n.index, val_expr))
  end
  if combinable and const_key then
    -- The one key is another worker's: its partial value is kept in the hot
    -- state (a register) during the entry point, and hot_store adds it to
    -- the combining table once (combine_one_N).
    tab_entry.part = {fn = "combine_one_" .. n.index, comb = comb, ctype = at}
    add(string.format("    %s v = %s;", vct, val_expr))
    if op == "max_final" or op == "min_final" then
      add(string.format("    bool created = !hot->has_part_%d; /* the first value of the partial one */", n.index))
    end
    add(string.format("    hot->has_part_%d = true;", n.index))
    add("    " .. combine_update(string.format("hot->part_%d", n.index)))
  else
    add("    dfc_str key = " .. key_expr .. ";")
    if const_key then
      add("    uint64_t h = dfc_hash_str(key);")
    else
      add("    dfc_key kk; /* the key ready for its lookup */")
      add(shared and "    dfc_hash_key(key, &kk);" or "    uint64_t h = dfc_hash_key(key, &kk);")
      -- An item waits in a small ring while its slot comes in from memory (a
      -- prefetch), so that the lookups of several items overlap instead of
      -- each waiting for its cache miss.
      self:ring(tostring(n.index), n.id .. (shared and "" or ": an item of a key this worker owns"), "apply_" .. n.index, vct, at, tab)
    end
    if shared then
      add(string.format("    defer_%d(w, hot, kk, %s); /* ours or not: see theirs_%d */", n.index, val_expr, n.index))
    else
      add("    int dest = dfc_route_hash(w, h);")
    end
    if not const_key and not shared then
      add(string.format("    if (dest == w->index) {\n        defer_%d(w, hot, kk, %s);\n        return;\n    }", n.index, val_expr))
    end
  end
  if combinable and const_key then
    -- Called once per entry point (hot_store).  Not inlined: in the loop of
    -- the owner, which never calls it, its table lookup made the C compiler
    -- keep the running value in memory (pipeline -w1 +5% instructions).
    self.steps[#self.steps + 1] = lines({
      string.format("/* %s: combine one value into its key's partial value (for another worker) */", n.id),
      string.format("static DFC_NOINLINE void combine_one_%d(dfc_worker *w, flow_hot *hot, dfc_table *t, dfc_key k, %s v)", n.index, vct),
      "{", "    bool created;",
      string.format("    %s *part = dfc_table_upsert_sized(t, k, &created, NULL, DFC_TABLE_ENTRY_SIZE(%s));", at, at),
      "    " .. combine_update("*part"),
      string.format("    if (DFC_UNLIKELY(created) && dfc_combine_due(dfc_table_count(t), dfc_table_count(STATE->%s))) combine_%d(w);", tab, c),
      "}",
    })
  elseif not combinable then
    add(string.format("    dfc_buf *b = dfc_out_begin(w, %d, dest);\n    dfc_buf_put_str(b, key);", c))
    add(string.format("    %s(b, %s);", self:helper("enc", vt), val_expr))
    add(string.format("    dfc_out_end(w, %d, dest);", c))
  end

  local per = {
    "        dfc_str k = dfc_get_str(r);",
    string.format("        %s v = %s(r);", vct, self:helper("dec", vt)),
    const_key and string.format("        apply_%d(w, hot, NULL, (dfc_key){0}, v);", n.index)
      or string.format("        dfc_key kk;\n        dfc_hash_key(k, &kk);\n        defer_%d(w, hot, kk, v);", n.index),
  }
  local out_ct = self:ctype(n.out[1])
  local eof = lines({
    string.format("/* %s: end of input everywhere: emit the final value of every key */", n.id),
    string.format("static void eof_%d(dfc_worker *w)", c), "{", HOT_IN,
    "    size_t it = 0, emitted = 0;", "    dfc_str k;", "    void *slot;",
    const_key and string.format("    if (!STATE->seen_%s) goto done; /* no value ever arrived for the one key */", tab) or "",
    string.format("    while (dfc_table_next(STATE->%s, &it, &k, &slot)) {", tab),
    string.format("        %s y = {k, *(%s *)slot};", out_ct, at),
    self:emit(n, 1, "y", "        "),
    "        if ((++emitted & 255) == 0) {",
    "            hot_drain(w, hot); /* queued items may point into the arena */",
    "            dfc_arena_reset(&w->arena);",
    "        }",
    "    }", const_key and "done:" or "", HOT_OUT, "}",
  })
  self:receiver(n, lines(per), eof)
  self.channel_fns[c].combine = combine_fn
end

function CG:output_step(n, add, in_t)
  local k = n.sink_index
  if n.sink == "discard" then
    add("    (void)x;")
    return
  end
  local text, after = self:text_of("x", in_t, "text")
  add(text)
  if n.channel then
    local dest = n.exchange == "zero" and "0" or "dfc_route_key(w, x.f0)"
    add(string.format("    int dest = %s;\n    dfc_buf *b = dfc_out_begin(w, %d, dest);\n    dfc_buf_put_str(b, text);\n    dfc_out_end(w, %d, dest);",
      dest, n.channel, n.channel))
    self:receiver(n, string.format("        dfc_str s = dfc_get_str(r);\n        dfc_sink_write(w, %d, s.ptr, (size_t)s.len);", k))
  else
    add(string.format("    dfc_sink_write(w, %d, text.ptr, (size_t)text.len);", k))
  end
  if after ~= "" then add(after:sub(2)) end
end

function CG:source(n)
  local k = n.source_index
  local emit
  local push
  if n.source == "range" then
    push = {
      string.format("/* %s: items lo..hi-1 of range */", n.id),
      string.format("static void source_%d(dfc_worker *w, int64_t lo, int64_t hi)", k), "{", HOT_IN,
      "    for (int64_t x = lo; x < hi; x++) {",
    }
    emit = self:emit(n, 1, "x", "        ")
  elseif n.source == "csv" then
    push = {
      string.format("/* %s: a batch of csv rows */", n.id),
      string.format("static void source_%d(dfc_worker *w, const dfc_list_str *rows, size_t n)", k), "{", HOT_IN,
      "    for (size_t i = 0; i < n; i++) {", "        dfc_list_str x = rows[i];",
    }
    emit = self:emit(n, 1, "x", "        ")
  else
    push = {
      string.format("/* %s: a batch of lines */", n.id),
      string.format("static void source_%d(dfc_worker *w, const dfc_str *lines, size_t n)", k), "{", HOT_IN,
      "    for (size_t i = 0; i < n; i++) {", "        dfc_str x = lines[i];",
    }
    emit = self:emit(n, 1, "x", "        ")
  end
  push[#push + 1] = emit
  push[#push + 1] = "    }"
  push[#push + 1] = HOT_OUT
  push[#push + 1] = "}"
  self.sources[#self.sources + 1] = lines(push)
  local kinds = {file = "DFC_SRC_FILE", dir = "DFC_SRC_DIR", csv = "DFC_SRC_CSV", stdin = "DFC_SRC_STDIN", range = "DFC_SRC_RANGE"}
  local fns = {"NULL", "NULL", "NULL"}
  local slot = n.source == "range" and 3 or (n.source == "csv" and 2 or 1)
  fns[slot] = "source_" .. k
  self.source_descs[#self.source_descs + 1] = string.format("    {%s, %d, %s, %s, %s}, /* %s */",
    kinds[n.source], n.index, fns[1], fns[2], fns[3], n.id)
  -- Arguments, evaluated once at start-up.
  local r = self.resolve
  r[#r + 1] = "    w->cur_step = " .. n.index .. ";"
  if n.path then r[#r + 1] = string.format("    src[%d].path = %s;", k, CE.expr(self, n.path)) end
  if n.glob then r[#r + 1] = string.format("    src[%d].glob = %s;", k, CE.expr(self, n.glob))
  elseif n.source == "dir" then r[#r + 1] = string.format('    src[%d].glob = DFC_STR_LIT("*");', k) end
  if n.count then r[#r + 1] = string.format("    src[%d].n = %s;", k, CE.expr(self, n.count)) end
  if n.parallel then r[#r + 1] = string.format("    src[%d].parallel = true;", k) end
  if n.unordered then
    r[#r + 1] = string.format("    src[%d].unordered = true; /* nothing downstream can tell the order of its items: shared chunks */", k)
  end
end

-- Driver ---------------------------------------------------------------

function M.generate(plan, opts)
  local cg = setmetatable({
    plan = plan, d = opts.diagnostics, flow_file = opts.flow_file,
    typenames = {}, typedefs = {}, ntypes = 0, helpers = {}, helper_done = {},
    ntmp = 0, nlam = 0, lambdas = {}, functions = {}, fn_protos = {}, steps = {},
    receivers = {}, channel_fns = {}, sources = {}, source_descs = {}, tables = {},
    resolve = {}, rings = {},
  }, CG)

  -- C blocks, verbatim, pointing back into the .flow file.
  local cblocks = {}
  for _, b in ipairs(plan.cblocks) do
    cblocks[#cblocks + 1] = cg:line_directive(b.code_pos)
    cblocks[#cblocks + 1] = b.code
    cblocks[#cblocks + 1] = "#line RESTORE"
  end
  -- A prototype for every extern that a c { } block names (so the block
  -- defines it, or declares it through a macro or a header): after the
  -- blocks, so a static definition stays static, at the extern's line, so
  -- a definition of another type is reported at the extern, and inside
  -- #ifndef NAME, so a function-like macro of that name is left alone.  An
  -- extern that no block names is a C library function, called through its
  -- header's declaration (math.h, stdio.h, string.h are always in), or
  -- defined nowhere: dfc.lua reports that at the extern.
  local externs = {}
  for _, ext in pairs(plan.externs) do externs[#externs + 1] = ext end
  table.sort(externs, function(a, b) return a.pos < b.pos end)
  for _, ext in ipairs(externs) do
    local named = false
    for _, b in ipairs(plan.cblocks) do named = named or CE.c_names(b.code, ext.name) end
    if named then
      local args = {}
      for i, t in ipairs(ext.params) do args[i] = (cg:ctype(t)) end
      cblocks[#cblocks + 1] = "#ifndef " .. ext.name
      cblocks[#cblocks + 1] = cg:line_directive(ext.pos)
      cblocks[#cblocks + 1] = string.format("%s %s(%s);", (cg:ctype(ext.ret)), ext.name,
        #args > 0 and table.concat(args, ", ") or "void")
      cblocks[#cblocks + 1] = "#line RESTORE"
      cblocks[#cblocks + 1] = "#endif"
    end
  end

  local pfields, pdescs = {}, {}
  local ptype = {bool = "DFC_T_BOOL", i64 = "DFC_T_I64", f64 = "DFC_T_F64", str = "DFC_T_STR"}
  for _, p in ipairs(plan.params) do
    pfields[#pfields + 1] = "    " .. cg:ctype(p.type) .. " " .. "p_" .. p.name .. ";"
    pdescs[#pdescs + 1] = string.format("    {%s, %s, %s, offsetof(flow_params, p_%s)},", quote(p.name),
      ptype[T.resolve(p.type).tag], p.default_text and quote(p.default_text) or "NULL", p.name)
  end
  -- Param variables are reached as PARAMS->p_name.
  for _, p in ipairs(plan.params) do p.cname = "p_" .. p.name end

  for _, fn in ipairs(plan.fns) do cg:fn(fn) end

  -- Steps are emitted downstream first so that each step can call the next.
  for i = #plan.steps, 1, -1 do
    local n = plan.steps[i]
    if n.op ~= "input" then cg:step(n) end
  end
  for _, n in ipairs(plan.sources) do cg:source(n) end

  local sink_kinds = {stdout = "DFC_SINK_STDOUT", file = "DFC_SINK_FILE", dir = "DFC_SINK_DIR", discard = "DFC_SINK_DISCARD"}
  local sink_descs = {}
  for _, n in ipairs(plan.sinks) do
    sink_descs[#sink_descs + 1] = string.format("    {%s, %d}, /* %s */", sink_kinds[n.sink], n.index, n.id)
    if n.path then
      cg.resolve[#cg.resolve + 1] = "    w->cur_step = " .. n.index .. ";"
      cg.resolve[#cg.resolve + 1] = string.format("    sink_paths[%d] = %s;", n.sink_index, CE.expr(cg, n.path))
    end
  end

  local chans = {}
  for _, ch in ipairs(plan.channels) do
    local ups = {}
    for i, u in ipairs(ch.upstream) do ups[i] = tostring(u) end
    if #ups > 0 then
      chans[#chans + 1] = string.format("static const int upstream_%d[] = {%s};", ch.index, table.concat(ups, ", "))
    end
  end
  local cdesc = {}
  for _, ch in ipairs(plan.channels) do
    local f = cg.channel_fns[ch.index]
    cdesc[#cdesc + 1] = string.format("    {%d, %s, %s, %d, %s, %s}, /* %s */", ch.node.index, f.recv, f.eof,
      #ch.upstream, #ch.upstream > 0 and ("upstream_" .. ch.index) or "NULL", f.combine or "NULL", ch.node.id)
  end
  if #cdesc > 0 then
    chans[#chans + 1] = "static const dfc_channel_desc channel_descs[] = {\n" .. lines(cdesc) .. "\n};"
  end

  local state_fields, state_new, state_free = {}, {}, {}
  local hot_fields = {"    bool solo; /* one worker in all: every key is this worker's */"}
  local hot_load, hot_store, hot_drain = {"    h->solo = w->total_workers == 1;"}, {}, {}
  for ti, t in ipairs(cg.tables) do
    state_fields[#state_fields + 1] = string.format("    dfc_table *%s; /* %s: %s per key */", t.name, t.id, t.value)
    if t.foreign then
      state_fields[#state_fields + 1] = string.format("    size_t foreign_%s; /* keys in %s that other workers own: partial values to send */", t.name, t.name)
    end
    if t.part then
      hot_fields[#hot_fields + 1] = string.format("    %s part_%d; bool has_part_%d; /* %s: the one key's partial value, for its owner */",
        t.part.ctype, t.hot, t.hot, t.id)
      hot_load[#hot_load + 1] = string.format("    h->part_%d = 0; h->has_part_%d = false;", t.hot, t.hot)
      hot_store[#hot_store + 1] = string.format("    if (h->has_part_%d) { dfc_str k = %s; %s(w, h, s->%s, dfc_key_make(k, dfc_hash_str(k)), h->part_%d); }",
        t.hot, CE.str_lit(t.const_key), t.part.fn, t.part.comb, t.hot)
    end
    if t.const_key then
      state_fields[#state_fields + 1] = string.format("    %s *last_%s; int dest_%s; bool seen_%s; /* its one key's slot and owner */",
        t.value, t.name, t.name, t.name)
      hot_fields[#hot_fields + 1] = string.format("    %s acc_%d; bool seen_%d, mine_%d; /* %s: the one key's value */",
        t.hot_ctype, t.hot, t.hot, t.hot, t.id)
      hot_load[#hot_load + 1] = string.format("    h->acc_%d = *s->last_%s; h->seen_%d = s->seen_%s; h->mine_%d = s->dest_%s == w->index;",
        t.hot, t.name, t.hot, t.name, t.hot, t.name)
      hot_store[#hot_store + 1] = string.format("    *s->last_%s = h->acc_%d; s->seen_%s = h->seen_%d;", t.name, t.hot, t.name, t.hot)
    end
    -- Each table of each worker, in each run, orders its slots its own way
    -- (the seed): keys iterated out of one table are added to others.
    state_new[#state_new + 1] = string.format("    s->%s = dfc_table_new(sizeof(%s), dfc_table_seed(w, %d));", t.name, t.value, ti)
    if t.const_key then
      state_new[#state_new + 1] = string.format("    { dfc_str k = %s; s->last_%s = dfc_table_upsert(s->%s, k, dfc_hash_str(k), NULL); s->dest_%s = dfc_route_key(w, k); }",
        CE.str_lit(t.const_key), t.name, t.name, t.name)
    end
    if t.heap then
      state_free[#state_free + 1] = string.format("    { size_t it = 0; dfc_str k; void *v; while (dfc_table_next(s->%s, &it, &k, &v)) %s(*(%s *)v); }",
        t.name, t.heap, t.value)
    end
    state_free[#state_free + 1] = string.format("    dfc_table_free(s->%s);", t.name)
  end
  -- A ring's entries live in the per-worker state and flow_hot points at
  -- them: an array inside flow_hot would keep the C compiler from holding
  -- the rest of the hot state in registers (wordcount -w1: -1.4% of the
  -- instructions; range(50M) summed under a constant key in a flow that
  -- also counts by key: 0.13 s -> 0.10 s).
  local ring_types = {}
  for _, r in ipairs(cg.rings) do
    ring_types[#ring_types + 1] = string.format("typedef struct { dfc_key k; %s v; } ring_%s_entry; /* %s */", r.vct, r.name, r.what)
    state_fields[#state_fields + 1] = string.format("    ring_%s_entry ring_%s[DFC_RING]; /* items waiting for their slots (flow_hot) */", r.name, r.name)
    hot_fields[#hot_fields + 1] = string.format("    ring_%s_entry *ring_%s; size_t nring_%s; /* %s */", r.name, r.name, r.name, r.what)
    hot_load[#hot_load + 1] = string.format("    h->ring_%s = s->ring_%s;\n    h->nring_%s = 0;", r.name, r.name, r.name)
    hot_drain[#hot_drain + 1] = string.format("    drain_%s(w, h);", r.name)
  end
  if #state_fields == 0 then state_fields[1] = "    char unused;" end

  local ids = {}
  for i, n in ipairs(plan.steps) do ids[i] = "    " .. quote(n.id) .. "," end

  local functions = lines(cg.fn_protos) .. "\n" .. lines(cg.functions)
  local text = render.file("flow.c.tmpl", {
    flow_file = opts.flow_file, name = plan.name, name_lit = quote(plan.name),
    fingerprint = plan.fingerprint,
    cblocks = lines(cblocks),
    typedefs = lines(cg.typedefs),
    params_struct = "typedef struct flow_params {\n" .. (#pfields > 0 and lines(pfields) or "    char unused;") .. "\n} flow_params;",
    state_struct = (#ring_types > 0 and (lines(ring_types) .. "\n") or "") ..
      "typedef struct flow_state {\n" .. lines(state_fields) .. "\n} flow_state;",
    hot_struct = "typedef struct flow_hot {\n" .. lines(hot_fields) .. "\n} flow_hot;",
    hot_load = "static inline void hot_load(dfc_worker *w, flow_hot *h)\n{\n" ..
      "    flow_state *s = STATE;\n" .. lines(hot_load) .. "\n}",
    hot_store = "static inline void hot_drain(dfc_worker *w, flow_hot *h)\n{\n" ..
      (#hot_drain > 0 and lines(hot_drain) or "    (void)w; (void)h;") .. "\n}\n" ..
      "static inline void hot_store(dfc_worker *w, flow_hot *h)\n{\n    hot_drain(w, h);\n" ..
      (#hot_store > 0 and ("    flow_state *s = STATE;\n" .. lines(hot_store)) or "") .. "\n}",
    helpers = lines(cg.helpers),
    functions = functions,
    lambdas = lines(cg.lambdas),
    steps = lines(cg.steps),
    receivers = lines(cg.receivers),
    sources = lines(cg.sources),
    state_new = "static void *flow_state_new(dfc_worker *w)\n{\n    /* Padded on both sides: each worker's state on cache lines of its own. */\n    flow_state *s = (flow_state *)((char *)dfc_heap_alloc(sizeof *s + 128) + 64);\n    memset(s, 0, sizeof *s);\n" ..
      lines(state_new) .. "\n    return s;\n}",
    state_free = "static void flow_state_free(dfc_worker *w, void *p)\n{\n    flow_state *s = p;\n" ..
      lines(state_free) .. "\n    dfc_heap_free((char *)s - 64);\n}",
    resolve = "static void flow_resolve(dfc_worker *w, dfc_source_args *src, dfc_str *sink_paths)\n{\n    (void)src; (void)sink_paths;\n" ..
      lines(cg.resolve) .. "\n}",
    step_ids = lines(ids),
    param_descs = #pdescs > 0 and lines(pdescs) or "    {0}",
    source_descs = #cg.source_descs > 0 and lines(cg.source_descs) or "    {0}",
    sink_descs = #sink_descs > 0 and lines(sink_descs) or "    {0}",
    channel_descs = lines(chans),
    channels_ref = #cdesc > 0 and "channel_descs" or "NULL",
    graph_dot = quote(plan.dot),
    nsteps = #plan.steps, nparams = #plan.params, nsources = #plan.sources,
    nsinks = #plan.sinks, nchannels = #plan.channels,
  })

  -- Point the C compiler back at the generated file after each #line.
  local out, lineno = {}, 0
  for l in (text .. "\n"):gmatch("(.-)\n") do
    lineno = lineno + 1
    if l == "#line RESTORE" then
      l = string.format("#line %d %s", lineno + 1, quote(opts.c_file))
    end
    out[#out + 1] = l
  end
  return table.concat(out, "\n")
end

return M

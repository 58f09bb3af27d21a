-- planner.lua — the plan pass: from the checked graph of nodes to the
-- dataflow the runtime executes.
--
-- It gives every node its step id (SPEC §2: `<binding>.<operator>`, `.2` for
-- a repeat, or the explicit `@"id"`), links producers to consumers, decides
-- where items cross workers (exchange channels: by key before keyed state,
-- round robin for redistribute, to worker 0 for a file sink, by key for a dir
-- sink on a keyed stream), lists the channels each channel depends on for end
-- of input, and computes the fingerprint that cluster peers compare.
local CE = require "cexpr"
local T = require "types"

local M = {}

-- FNV-1a over a string, 64-bit, with a given offset basis.
local function fnv64(s, basis)
  local h = basis
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 0x100000001b3
  end
  return h
end

local function fingerprint(text)
  local a = fnv64(text, 0xcbf29ce484222325)
  local b = fnv64(text, 0x84222325cbf29ce4)
  local c = fnv64(text .. "\1", 0x6c62272e07bb0142)
  local d = fnv64(text .. "\2", 0x14650fb0739d0383)
  return string.format("%016x%016x%016x%016x", a, b, c, d)
end

local function dot_escape(s) return (s:gsub('[\\"]', "\\%0")) end

local PASS_ON = {map = true, filter = true, filter_map = true, flat_map = true, flatten = true,
  key_on = true, key_rm = true, map_value = true, filter_value = true, filter_map_value = true,
  flat_map_value = true, merge = true, branch = true}

local function self_contained(fn)
  if not fn then return true end
  return fn.tag == "lambda" and not CE.can_fail(fn.body) and not CE.calls_out(fn.body)
end

local function order_free_end(n)
  if n.op == "count_final" then return self_contained(n.fn) end
  if n.op == "max_final" or n.op == "min_final" then
    return T.is(n.value_type, "i64") or T.is(n.value_type, "str")
  end
  if n.op == "fold_final" or n.op == "reduce_final" then -- an i64 sum
    return CE.is_sum(n.fn) and T.is(n.value_type, "i64") and T.is(n.acc_type, "i64") and
      not (n.init and CE.can_fail(n.init))
  end
  return n.op == "output" and n.sink == "discard"
end

-- Whether every step downstream of n, up to an order-free end, passes items
-- on one by one (see the plan below).
function M.order_free(n)
  for _, list in ipairs(n.succ) do
    for _, c in ipairs(list) do
      if PASS_ON[c.op] and self_contained(c.fn) then
        if not M.order_free(c) then return false end
      elseif not order_free_end(c) then
        return false
      end
    end
  end
  return true
end

function M.plan(prog, d, source_text)
  local nodes = prog.nodes
  local ids, plan_steps = {}, {}
  local counts = {}

  -- Explicit ids first, so generated ones never take them.
  for _, n in ipairs(nodes) do
    if n.step_id then
      if ids[n.step_id] then
        d:error(n.pos, "step id '%s' is used twice", n.step_id)
      end
      ids[n.step_id] = n
      n.id = n.step_id
    end
  end
  for _, n in ipairs(nodes) do
    if not n.id then
      local base = n.chain .. "." .. n.op
      local k = counts[base] or 1
      local id = k == 1 and base or (base .. "." .. k)
      while ids[id] do
        k = k + 1
        id = base .. "." .. k
      end
      counts[base] = k + 1
      ids[id] = n
      n.id = id
    end
  end
  if d:count() > 0 then return nil end

  local sources, sinks, channels = {}, {}, {}
  for i, n in ipairs(nodes) do
    for _, t in ipairs(n.out) do T.default(t) end
    n.index = i - 1
    n.succ = {}
    for p = 1, math.max(#n.out, 1) do n.succ[p] = {} end
    plan_steps[i] = n
  end
  for _, n in ipairs(nodes) do
    for _, input in ipairs(n.inputs) do
      local list = input.node.succ[input.port]
      list[#list + 1] = n
    end
    if n.op == "input" then
      n.source_index = #sources
      sources[#sources + 1] = n
    elseif n.op == "output" then
      n.sink_index = #sinks
      sinks[#sinks + 1] = n
      if n.sink == "file" then n.exchange = "zero"
      elseif n.sink == "dir" and n.keyed then n.exchange = "key" end
    end
    if n.exchange then
      n.channel = #channels
      channels[#channels + 1] = {index = n.channel, node = n, kind = n.exchange}
    end
  end

  -- A parallel file or a range whose items reach only steps that cannot
  -- tell in which order, or on which worker, they came may be read in
  -- chunks that the workers of a process take as they go (source.c,
  -- source_lines.c), which keeps them equally busy; "one range per worker"
  -- (SPEC §3) is kept for every other flow.  Such steps pass each item on
  -- by itself with a function that cannot fail (so not even which error
  -- ends a run can change) and calls no extern, or are order-free ends:
  -- count_final, max/min_final over i64 or str (a float max can depend on
  -- order: NaN, -0.0), fold/reduce_final of an i64 sum, discard.
  for _, n in ipairs(sources) do
    if n.parallel or n.source == "range" then n.unordered = M.order_free(n) end
  end

  -- Upstream channels: those whose consumer is an ancestor of this one.
  local function ancestors(n, seen)
    for _, input in ipairs(n.inputs) do
      local a = input.node
      if not seen[a] then
        seen[a] = true
        ancestors(a, seen)
      end
    end
    return seen
  end
  for _, ch in ipairs(channels) do
    local seen = ancestors(ch.node, {})
    ch.upstream = {}
    for _, other in ipairs(channels) do
      if seen[other.node] then ch.upstream[#ch.upstream + 1] = other.index end
    end
  end

  -- A canonical description of the plan, for the fingerprint.
  local desc = {"flow " .. prog.name}
  for _, p in ipairs(prog.params) do desc[#desc + 1] = "param " .. p.name .. ":" .. T.tostring(p.type) end
  for _, n in ipairs(nodes) do
    local ins = {}
    for i, input in ipairs(n.inputs) do ins[i] = input.node.index .. "/" .. input.port end
    local outs = {}
    for i, t in ipairs(n.out) do outs[i] = T.tostring(t) end
    desc[#desc + 1] = table.concat({n.index, n.id, n.op, n.source or n.sink or "", n.exchange or "",
      table.concat(ins, ","), table.concat(outs, ",")}, "|")
  end
  desc[#desc + 1] = source_text

  -- Graphviz DOT for --graph.
  local dot = {"digraph \"" .. dot_escape(prog.name) .. "\" {", "  rankdir=TB;", "  node [shape=box, fontname=\"monospace\"];"}
  for _, n in ipairs(nodes) do
    local ty = n.out[1] and T.tostring(n.out[1]) or ""
    local what = n.op
    if n.source then what = "input " .. n.source elseif n.sink then what = "output " .. n.sink end
    dot[#dot + 1] = string.format('  s%d [label="%s\\n%s%s"];', n.index, dot_escape(n.id), dot_escape(what),
      ty ~= "" and (" : " .. dot_escape(ty)) or "")
  end
  local exch_label = {key = "exchange by key", rr = "redistribute", zero = "to worker 0"}
  for _, n in ipairs(nodes) do
    for _, input in ipairs(n.inputs) do
      local attrs = {}
      if n.exchange then attrs[#attrs + 1] = 'style=dashed, label="' .. exch_label[n.exchange] .. '"' end
      if input.node.op == "branch" then
        attrs[#attrs + 1] = 'taillabel="' .. (input.port == 1 and "true" or "false") .. '"'
      end
      dot[#dot + 1] = string.format("  s%d -> s%d%s;", input.node.index, n.index,
        #attrs > 0 and (" [" .. table.concat(attrs, ", ") .. "]") or "")
    end
  end
  dot[#dot + 1] = "}"

  return {
    name = prog.name, params = prog.params, cblocks = prog.cblocks, externs = prog.externs,
    fns = prog.fns, steps = plan_steps, sources = sources, sinks = sinks, channels = channels,
    fingerprint = fingerprint(table.concat(desc, "\n")), dot = table.concat(dot, "\n") .. "\n",
  }
end

return M

-- diagnostics.lua — errors (and notes) collected by every pass of dfc.
--
-- A pass never raises a Lua error for a user's mistake: it records it here
-- with a 1-based byte offset into the source and carries on.  The driver asks
-- count() after each pass and prints render(): every error sorted by position
-- (stable, so errors at one position keep the order they were found in) as
--
--   file.flow:LINE:COL: error: MESSAGE
--       <the source line>
--       <caret line>
--
-- LINE and COL are 1-based; COL counts UTF-8 characters.  The caret line keeps
-- the tabs of the source line and has a space for every other character, so
-- the caret sits under the offending character whatever the tab width.
--
--   local D = require "diagnostics"
--   local d = D.new("wordcount.flow", source)
--   d:error(pos, "unknown stream '%s'", name)
--   d:note(other_pos, "'%s' is defined here", name)   -- attached to the last error
--   if d:count() > 0 then io.stderr:write(d:render()) end

local D = {}
D.__index = D

-- Formats a message without ever raising: a bad format string or argument
-- gives the format string itself rather than a traceback.
local function format(fmt, ...)
  local ok, msg = pcall(string.format, tostring(fmt), ...)
  return ok and msg or tostring(fmt)
end

function D.new(filename, source)
  return setmetatable({
    filename = filename or "<input>",
    source = source or "",
    errors = {},        -- {pos=, msg=, seq=, notes={{pos=, msg=}...}}
    lines = nil,        -- byte offsets of line starts, built on first use
  }, D)
end

-- Records an error at a 1-based byte offset; returns nil so that a pass can
-- write `return d:error(...)`.
function D:error(pos, fmt, ...)
  local e = {pos = tonumber(pos) or 1, msg = format(fmt, ...), seq = #self.errors + 1, notes = {}}
  self.errors[#self.errors + 1] = e
  return nil
end

-- Records a note printed right after the most recent error (with `note:`).
function D:note(pos, fmt, ...)
  local last = self.errors[#self.errors]
  local n = {pos = tonumber(pos) or 1, msg = format(fmt, ...)}
  if last then
    last.notes[#last.notes + 1] = n
  else -- a note with no error before it stands on its own and is not counted
    self.orphans = self.orphans or {}
    self.orphans[#self.orphans + 1] = n
  end
  return nil
end

function D:count() return #self.errors end

-- Byte offsets of the first byte of every line.
local function line_starts(self)
  if not self.lines then
    local starts, src = {1}, self.source
    for i in src:gmatch("()\n") do starts[#starts + 1] = i + 1 end
    self.lines = starts
  end
  return self.lines
end

local function clamp(self, pos)
  pos = math.tointeger(pos) or 1
  if pos < 1 then pos = 1 end
  if pos > #self.source + 1 then pos = #self.source + 1 end
  return pos
end

-- Line number (1-based) and the offset where that line starts.
local function find_line(self, pos)
  local starts = line_starts(self)
  local lo, hi = 1, #starts
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if starts[mid] <= pos then lo = mid else hi = mid - 1 end
  end
  return lo, starts[lo]
end

-- Number of UTF-8 characters in s (bytes that are not continuation bytes).
local function utf8_len(s)
  local _, cont = s:gsub("[\128-\191]", "")
  return #s - cont
end

-- 1-based line and column (in UTF-8 characters) of a byte offset.
function D:line_col(pos)
  pos = clamp(self, pos)
  local line, start = find_line(self, pos)
  return line, utf8_len(self.source:sub(start, pos - 1)) + 1
end

-- The text of the line holding pos, without its line ending.
function D:line_text(pos)
  pos = clamp(self, pos)
  local _, start = find_line(self, pos)
  local stop = self.source:find("\n", start, true) or #self.source + 1
  return (self.source:sub(start, stop - 1):gsub("\r$", ""))
end

-- The caret line for pos: tabs of the source line kept, spaces elsewhere.
local function caret(self, pos)
  pos = clamp(self, pos)
  local _, start = find_line(self, pos)
  local before = self.source:sub(start, pos - 1)
  local out = {}
  for ch in before:gmatch("[^\128-\191][\128-\191]*") do
    out[#out + 1] = ch == "\t" and "\t" or " "
  end
  return table.concat(out) .. "^"
end

local function render_one(self, out, kind, pos, msg)
  local line, col = self:line_col(pos)
  out[#out + 1] = string.format("%s:%d:%d: %s: %s\n    %s\n    %s\n",
    self.filename, line, col, kind, msg, self:line_text(pos), caret(self, pos))
end

-- All errors, sorted by position (stable), each followed by its notes.
function D:render()
  local sorted = {}
  for i, e in ipairs(self.errors) do sorted[i] = e end
  table.sort(sorted, function(a, b)
    if a.pos ~= b.pos then return a.pos < b.pos end
    return a.seq < b.seq
  end)
  local out = {}
  for _, e in ipairs(sorted) do
    render_one(self, out, "error", e.pos, e.msg)
    for _, n in ipairs(e.notes) do render_one(self, out, "note", n.pos, n.msg) end
  end
  for _, n in ipairs(self.orphans or {}) do render_one(self, out, "note", n.pos, n.msg) end
  return table.concat(out)
end

return D

-- grammar.lua — the parser of dfc: .flow source text → AST (docs/compiler.md).
--
-- The lexical patterns come first (spacing, names, numbers, strings, c
-- blocks), then one LPeg grammar of PascalCase rules that builds the AST
-- inline with captures, in the style of LPeg's re.lua.
--
-- Layout.  Statements need no separators: a statement ends at the end of a
-- line, and a line that starts at column 1 with anything but whitespace, '|'
-- or '--' starts the next statement.  Every other line (indented, or starting
-- with '|') continues the statement above it.  The spacing pattern `Sp`,
-- which every token consumes after itself, therefore stops at a newline that
-- is followed by a column-1 statement, and `EndLine` checks that a statement
-- stopped there (or at the end of the input).
--
-- Errors.  LPeg has no labelled failures, so they are built by hand: at every
-- point where the parse is committed (after '+', after 'param NAME', after an
-- opening bracket...) the rule is `Req(patt, message)`, which fails through a
-- match-time capture that records the message at the current position.  Only
-- the first message of a statement is kept (the deepest commitment, found
-- first); G.parse then reports it, skips to the next column-1 statement and
-- goes on, so every statement's errors are reported.  A message about
-- something missing at the end of a line is moved back to just after the
-- last token, where the reader expects it.
--
-- G.parse(source, d) never raises for any input: each statement is matched
-- under pcall, and a failure there (a pathologically deep nesting) becomes a
-- diagnostic.

local lpeg = require "lpeg"
local D = require "diagnostics"

local P, S, R, V = lpeg.P, lpeg.S, lpeg.R, lpeg.V
local C, Cc, Cp, Ct, Cs, Cmt = lpeg.C, lpeg.Cc, lpeg.Cp, lpeg.Ct, lpeg.Cs, lpeg.Cmt

-- Deeply nested expressions need more than LPeg's default 400 entries of
-- backtrack stack; beyond this a statement is reported as too deeply nested.
local MAXSTACK = 20000
lpeg.setmaxstack(MAXSTACK)

local G = {}

G.KEYWORDS = {"flow", "param", "extern", "fn", "if", "then", "else", "let", "in",
              "and", "or", "not", "true", "false", "none"}
-- 'c', 'input' and 'output' are contextual: they introduce a c block at the
-- start of a statement, a source at the head of a pipeline and a sink after
-- '|', and are ordinary names elsewhere (`param input: str`, `file(input)`,
-- `(sensor, c) => c`).
G.TYPE_NAMES = {i64 = true, f64 = true, bool = true, str = true}
G.DURATION_UNITS = {ms = 1, s = 1000, m = 60000, h = 3600000}

-- Per-parse state, read by the match-time captures below.
--   d       diagnostics (for line:col in messages)
--   thrown  the first error of the statement being parsed: {pos=, msg=}
local st = {}

-- Records an error (only the first one of a statement counts); returns false
-- so that a match-time capture can `return throw(...)` to fail.
local function throw(pos, fmt, ...)
  if not st.thrown then
    local ok, msg = pcall(string.format, fmt, ...)
    st.thrown = {pos = pos, msg = ok and msg or fmt}
  end
  return false
end

local function line_col(pos)
  return st.d:line_col(pos)
end

---------------------------------------------------------------------------
-- Lexical patterns

local any     = P(1)
local eof     = -any
local nl      = P"\n"
local hspace  = S" \t\r\f\v"
local comment = P"--" * (1 - nl)^0
-- A newline continues the statement unless a column-1 statement follows.
local contnl  = nl * #(S" \t\r\f\v\n|" + P"--" + eof)
local Sp      = (hspace + comment + contnl)^0
local Gap     = (hspace + nl + comment)^0            -- between statements
local EOL     = #nl + eof                            -- where a statement may end

local idstart = R("az", "AZ") + P"_"
local idchar  = idstart + R"09"
local ident   = idstart * idchar^0

local keyword = P(false)
G.KEYWORD_SET = {}
for _, k in ipairs(G.KEYWORDS) do
  keyword = keyword + P(k) * -idchar
  G.KEYWORD_SET[k] = true
end

local function KW(word) return P(word) * -idchar * Sp end

local Name  = -keyword * C(ident) * Sp
local PName = Cp() * Name / function(p, n) return {name = n, pos = p} end

-- Code part of the line starting at a position: up to a comment or newline.
local code_part = (P'"' * (P"\\" * any + (1 - S'"\\\n'))^0 * P'"'^-1 + (1 - P"--" - nl))^0

-- Moves an error position that sits at the end of a line (or of the input)
-- back to just after the last token before it, across blank and comment lines.
local function anchor(s, i)
  if i <= #s and s:sub(i, i) ~= "\n" then return i end
  local k = i - 1
  while k >= 1 do
    local ls = k
    while ls > 1 and s:byte(ls - 1) ~= 10 do ls = ls - 1 end
    local ce = math.min(lpeg.match(code_part, s, ls) - 1, k)
    while ce >= ls and s:find("^%s", ce) do ce = ce - 1 end
    if ce >= ls then return ce + 1 end
    k = ls - 1
  end
  return i
end

-- Fails, recording msg where something was expected.
local function Expect(msg)
  return Cmt(P(true), function(s, i) return throw(anchor(s, i), "%s", msg) end)
end

-- patt, or an error: the parse is committed here.
local function Req(patt, msg) return patt + Expect(msg) end

-- The end of a statement: the end of the line (or input), or msg at the
-- unexpected token.
local function EndLine(msg)
  return EOL + Cmt(P(true), function(s, i) return throw(i, "%s", msg) end)
end

-- A keyword where a name was expected.
local KeywordName = Cmt(Cp() * C(keyword), function(_, _, p, w)
  return throw(p, "'%s' is a keyword and cannot be a name", w)
end)

local function ReqName(after)
  return Name + KeywordName + Expect("expected a name after " .. after)
end
local function ReqPName(after)
  return PName + KeywordName + Expect("expected a name after " .. after)
end

-- open inner close, where a missing close is reported with the position of
-- open.  Yields the captures of inner.
local function enclosed(open, inner, close)
  return Cmt(Cp() * P(open) * Sp * inner, function(s, i, o, ...)
    if s:sub(i, i + #close - 1) == close then
      return lpeg.match(Sp, s, i + #close), ...
    end
    local l, c = line_col(o)
    return throw(anchor(s, i), "expected '%s' to close '%s' at %d:%d", close, open, l, c)
  end)
end

-- Numbers: 123 1_000 1.5 2e9 1.5e-3, durations 10s 500ms 2m 1h.
local digits   = R"09" * (P"_"^-1 * R"09")^0
local exponent = S"eE" * S"+-"^-1 * R"09"^1
local float    = digits * P"." * digits * exponent^-1 + digits * exponent

local Number = Cmt(Cp() * C(float + digits) * C(idchar^0), function(_, i, p, text, suffix)
  local clean = text:gsub("_", "")
  local is_float = text:find("[.eE]") ~= nil
  local unit = G.DURATION_UNITS[suffix]
  if suffix == "" and is_float then
    return i, {tag = "float", value = tonumber(clean) + 0.0, pos = p}
  elseif suffix == "" then
    local v = math.tointeger(tonumber(clean))
    if not v then return throw(p, "integer %s does not fit in i64", text) end
    return i, {tag = "int", value = v, pos = p}
  elseif unit and not is_float then
    local v = math.tointeger(tonumber(clean))
    if not v or v > math.maxinteger // unit then
      return throw(p, "duration %s%s does not fit in i64 milliseconds", text, suffix)
    end
    return i, {tag = "duration", value = v * unit, pos = p}
  elseif unit then
    return throw(p, "a duration is a whole number of units: '%s%s'", text, suffix)
  end
  return throw(p, "malformed number '%s%s'", text, suffix)
end) * Sp

-- Strings: "..." on one line, escapes \n \t \r \\ \" \0 \xHH.
local xdigit  = R("09", "af", "AF")
local ESCAPES = {n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ['"'] = '"', ["0"] = "\0"}
local escape  = (P"\\" * C(S'ntr\\"0')) / ESCAPES
              + (P"\\x" * C(xdigit * xdigit)) / function(h) return string.char(tonumber(h, 16)) end
local bad_escape = Cmt(Cp() * P"\\" * C((P"x" + any * R"\128\191"^0)^-1), function(_, _, p, ch)
  if ch == "" or ch == "\n" or ch == "\r" then return false end   -- unterminated string
  if ch == "x" then return throw(p, "'\\x' must be followed by two hex digits") end
  return throw(p, "unknown escape '\\%s'", ch)
end)
local string_body = Cs((escape + bad_escape + (1 - S'"\\\n'))^0)

local String = Cmt(Cp() * P'"' * string_body, function(s, i, p, value)
  if s:sub(i, i) == '"' then return i + 1, {tag = "string", value = value, pos = p} end
  return throw(p, "unterminated string")
end) * Sp

-- c { ... }: balanced braces, skipping C strings, characters and comments.
local c_string  = P'"' * (P"\\" * any + (1 - S'"\\\n'))^0 * P'"'^-1
local c_char    = P"'" * (P"\\" * any + (1 - S"'\\\n"))^0 * P"'"^-1
local c_comment = P"//" * (1 - nl)^0 + P"/*" * (1 - P"*/")^0 * P"*/"^-1
local c_body    = P{ (c_string + c_char + c_comment + P"{" * V(1) * P"}" + (1 - S"{}"))^0 }

-- 'c' starts a c block unless it is a name being bound or piped.
local CBlockBody = Cmt(Cp() * KW"c" * -(P"=" * -S"=>" + P"," + P"|" + EOL) * Cp() * Req(P"{", "expected '{' after 'c'") * Cp() * c_body,
  function(s, i, p, brace, code_pos)
    if s:sub(i, i) == "}" then
      return i + 1, {tag = "cblock", code = s:sub(code_pos, i - 1), code_pos = code_pos, pos = p}
    end
    local l, c = line_col(brace)
    return throw(anchor(s, #s + 1), "expected '}' to close '{' at %d:%d", l, c)
  end) * Sp

-- Recovery: the start of the next line that begins at column 1 with
-- something other than whitespace, '|' or '--'.
local to_next_statement = (1 - nl * #(1 - S" \t\r\f\v\n|" - P"--"))^0 * nl

---------------------------------------------------------------------------
-- AST constructors

local function fold_binops(t)   -- {operand, pos, op, operand, pos, op, operand...}
  local node = t[1]
  for i = 2, #t, 3 do
    node = {tag = "binop", op = t[i + 1], lhs = node, rhs = t[i + 2], pos = node.pos, op_pos = t[i]}
  end
  return node
end

local function fold_postfix(t)  -- {primary, {"index"|"field", pos, value}...}
  local node = t[1]
  for i = 2, #t do
    local kind, p, v = t[i][1], t[i][2], t[i][3]
    if kind == "index" then
      node = {tag = "index", expr = node, index = v, pos = node.pos, op_pos = p}
    else
      node = {tag = "field", expr = node, index = v, pos = node.pos, op_pos = p}
    end
  end
  return node
end

local function split_args(t)    -- positional and named arguments
  local args, named = {}, {}
  for _, a in ipairs(t) do
    if a.tag == "namedarg" then
      named[#named + 1] = {name = a.name, value = a.value, pos = a.pos}
    else
      args[#args + 1] = a
    end
  end
  return {args = args, named = named}
end

local function opcall(p, name, al, step_id)
  return {tag = "opcall", name = name, args = al and al.args or {}, named = al and al.named or {},
          step_id = step_id or nil, pos = p}
end

local function fold_options(t, ...)  -- T? T??
  for _ = 1, select("#", ...) do t = {tag = "toption", elem = t, pos = t.pos} end
  return t
end

---------------------------------------------------------------------------
-- The grammar

local function infix(ops, operand)   -- pos op operand, for each operator
  local alts = P(false)
  for _, op in ipairs(ops) do
    local text, patt = op, op
    if type(op) == "table" then text, patt = op[1], op[2] end
    patt = P(patt)
    alts = alts + Cp() * C(patt) * Sp * Req(operand, "expected an expression after '" .. text .. "'")
  end
  return alts
end

local CMP_OPS = {"==", "!=", "<=", ">=", "<", ">"}
local cmp_op = P(false)
for _, op in ipairs(CMP_OPS) do cmp_op = cmp_op + P(op) end

local function ReqExpr(after) return Req(V"Expr", "expected an expression after " .. after) end
local function ReqType(after) return Req(V"Type", "expected a type after " .. after) end
local no_eq = -S"=>"       -- '=' that is not '==' or '=>'

local rules = {
  "Statement",

  -- Statements ------------------------------------------------------------
  Statement = Cmt(Cp() * C(keyword) * Sp * #(P"=" * no_eq + P","), function(_, _, p, w)
                return throw(p, "'%s' is a keyword and cannot be a name", w)
              end)
            + V"Flow" + V"Param" + V"CBlock" + V"Extern" + V"Fn"
            + V"MultiBind" + V"Bind" + V"Run"
            + Cmt(P(true), function(_, i)
                return throw(i, "expected a statement: flow, param, c { }, extern, fn, "
                  .. "a binding (name = stream) or a pipeline")
              end),

  Flow = Cp() * KW"flow" * ReqName("'flow'")
       * EndLine("expected the end of the line after the flow name")
       / function(p, name) return {tag = "flow", name = name, pos = p} end,

  Param = Cp() * KW"param" * ReqName("'param'")
        * Req(P":" * Sp, "expected ':' after the param name") * ReqType("':'")
        * ( P"=" * Sp * ReqExpr("'='") * EndLine("expected the end of the line after the param default")
          + EndLine("expected '=' after param type") * Cc(nil) )
        / function(p, name, ty, default)
            return {tag = "param", name = name, type = ty, default = default, pos = p}
          end,

  CBlock = CBlockBody * EndLine("expected the end of the line after the c block"),

  Extern = Cp() * KW"extern" * ReqName("'extern'")
         * Req(enclosed("(", V"TypeList", ")"), "expected '(' and the parameter types after the extern name")
         * Req(P"->" * Sp, "expected '->' and the return type after the parameter types")
         * ReqType("'->'")
         * EndLine("expected the end of the line after the extern declaration")
         / function(p, name, params, ret)
             return {tag = "extern", name = name, params = params, ret = ret, pos = p}
           end,

  Fn = Cp() * KW"fn" * ReqName("'fn'")
     * Req(enclosed("(", V"ParamList", ")"), "expected '(' and the parameters after the fn name")
     * ( P"->" * Sp * ReqType("'->'") * Req(P"=" * Sp, "expected '=' after the return type")
       + Cc(nil) * Req(P"=" * Sp, "expected '->' or '=' after the parameters") )
     * ReqExpr("'='")
     * EndLine("expected the end of the line after the fn body")
     / function(p, name, params, ret, body)
         return {tag = "fn", name = name, params = params, ret = ret, body = body, pos = p}
       end,

  ParamList = Ct((V"FnParam" * (P"," * Sp * Req(V"FnParam", "expected a parameter after ','"))^0)^-1),
  FnParam = Cp() * Name * Req(P":" * Sp, "expected ':' after the parameter name") * ReqType("':'")
          / function(p, name, ty) return {name = name, type = ty, pos = p} end
          + KeywordName,

  Bind = Cp() * Ct(PName) * P"=" * no_eq * Sp
       * Req(V"Stream", "expected a stream after '='")
       * EndLine("expected '|' or the end of the line after the stream")
       / function(p, names, stream) return {tag = "bind", names = names, stream = stream, pos = p} end,

  MultiBind = Cp() * Ct(PName * (P"," * Sp * ReqPName("','"))^1)
            * Req(P"=" * no_eq * Sp, "expected '=' after the names to bind")
            * Req(V"Stream", "expected a stream after '='")
            * EndLine("expected '|' or the end of the line after the stream")
            / function(p, names, stream) return {tag = "bind", names = names, stream = stream, pos = p} end,

  Run = Cp() * V"Stream" * EndLine("expected '|' or the end of the line after the stream")
      / function(p, stream) return {tag = "run", stream = stream, pos = p} end,

  -- Streams ---------------------------------------------------------------
  Stream = V"Head" * Ct(V"Op"^0)
         / function(head, ops) return {tag = "pipe", head = head, ops = ops, pos = head.pos} end,

  Head = Cp() * P"input" * -idchar * Sp * #ident * Req(V"OpCall", "expected a source after 'input'")
         / function(p, source) return {tag = "input", source = source, pos = p} end
       + #(ident * Sp * P"(") * V"OpCall"
       + Cp() * Name / function(p, name) return {tag = "ref", name = name, pos = p} end,

  Op = P"|" * Sp * Req(V"Output" + V"OpCall", "expected an operator after '|'"),

  Output = Cp() * P"output" * -idchar * Sp * Req(V"OpCall", "expected a sink after 'output'")
         / function(p, sink)
             local id = sink.step_id
             sink.step_id = nil
             return {tag = "output", sink = sink, step_id = id, pos = p}
           end,

  OpCall = Cp() * Name * (V"Args" + Cc(false)) * (V"StepId" + Cc(false)) / opcall,

  StepId = P"@" * Sp * Req(String, "expected a step id string after '@'")
         / function(s) return s.value end,

  Args = enclosed("(", V"ArgList", ")"),

  ArgList = Ct((V"Arg" * (P"," * Sp * Req(V"Arg", "expected an argument after ','"))^0)^-1)
          / split_args,

  Arg = Cp() * Name * P"=" * no_eq * Sp * ReqExpr("'='")
        / function(p, name, value) return {tag = "namedarg", name = name, value = value, pos = p} end
      + V"Expr",

  -- Types -----------------------------------------------------------------
  Type = (V"TName" + V"TTuple" + V"TList") * (P"?" * Sp * Cc(true))^0 / fold_options,

  TName = Cmt(Cp() * C(ident), function(_, i, p, name)
            if G.TYPE_NAMES[name] then return i, {tag = "tname", name = name, pos = p} end
            if G.KEYWORD_SET[name] then return false end
            return throw(p, "unknown type '%s' (types are i64, f64, bool, str, (T, U), [T] and T?)", name)
          end) * Sp,

  TTuple = Cp() * enclosed("(", V"TypeList", ")")
         / function(p, elems)
             if #elems == 1 then return elems[1] end
             return {tag = "ttuple", elems = elems, pos = p}
           end,

  TList = Cp() * enclosed("[", ReqType("'['"), "]")
        / function(p, elem) return {tag = "tlist", elem = elem, pos = p} end,

  TypeList = Ct((V"Type" * (P"," * Sp * ReqType("','"))^0)^-1),

  -- Expressions, loosest first --------------------------------------------
  Expr = V"Lambda" + V"If" + V"Let" + V"Or",

  Lambda = Cp() * PName * P"=>" * Sp * ReqExpr("'=>'")
           / function(p, param, body)
               return {tag = "lambda", params = {param}, destructure = false, body = body, pos = p}
             end
         + Cp() * P"(" * Sp * Ct(PName * (P"," * Sp * PName)^0) * P")" * Sp * P"=>" * Sp * ReqExpr("'=>'")
           / function(p, params, body)
               return {tag = "lambda", params = params, destructure = #params > 1, body = body, pos = p}
             end,

  If = Cp() * KW"if" * ReqExpr("'if'")
     * Req(KW"then", "expected 'then' after the condition of 'if'") * ReqExpr("'then'")
     * Req(KW"else", "expected 'else' after the 'then' branch of 'if'") * ReqExpr("'else'")
     / function(p, cond, a, b) return {tag = "if", cond = cond, then_ = a, else_ = b, pos = p} end,

  Let = Cp() * KW"let" * ReqPName("'let'")
      * Req(P"=" * no_eq * Sp, "expected '=' after the name in 'let'") * ReqExpr("'='")
      * Req(KW"in", "expected 'in' after the value of 'let'") * ReqExpr("'in'")
      / function(p, n, value, body)
          return {tag = "let", name = n.name, name_pos = n.pos, value = value, body = body, pos = p}
        end,

  Or  = Ct(V"And" * infix({{"or", P"or" * -idchar}}, V"And")^0) / fold_binops,
  And = Ct(V"Not" * infix({{"and", P"and" * -idchar}}, V"Not")^0) / fold_binops,
  Not = Cp() * P"not" * -idchar * Sp * Req(V"Not", "expected an expression after 'not'")
        / function(p, e) return {tag = "unop", op = "not", expr = e, pos = p} end
      + V"Cmp",

  -- Comparisons do not associate: a second one is an error.
  Cmp = Ct(V"Concat" * infix(CMP_OPS, V"Concat")^-1) / fold_binops
      * (-cmp_op + Cmt(Cp() * C(cmp_op), function(_, _, p, op)
          return throw(p, "comparisons do not chain: use 'and' or parentheses before '%s'", op)
        end)),

  Concat = Ct(V"Add" * infix({".."}, V"Concat")^-1) / fold_binops,   -- right associative
  Add = Ct(V"Mul" * infix({"+", "-"}, V"Mul")^0) / fold_binops,
  Mul = Ct(V"Unary" * infix({"*", "/", "%"}, V"Unary")^0) / fold_binops,

  Unary = Cp() * P"-" * Sp * Req(V"Unary", "expected an expression after '-'")
          / function(p, e) return {tag = "unop", op = "-", expr = e, pos = p} end
        + V"Postfix",

  Postfix = Ct(V"Primary" * (V"Index" + V"Field")^0) / fold_postfix,

  Index = Cp() * enclosed("[", ReqExpr("'['"), "]") / function(p, e) return {"index", p, e} end,

  Field = Cp() * P"." * -P"."
        * Req(C(R"09"^1) * -idchar, "expected a field number after '.' (tuple fields are .0, .1, ...)") * Sp
        / function(p, n) return {"field", p, math.tointeger(tonumber(n)) or -1} end,

  Primary = Number + String
          + Cp() * (P"true" * -idchar * Cc(true) + P"false" * -idchar * Cc(false)) * Sp
            / function(p, b) return {tag = "bool", value = b, pos = p} end
          + Cp() * P"none" * -idchar * Sp / function(p) return {tag = "none", pos = p} end
          + V"If" + V"Let" + V"Call" + V"Var" + V"Paren" + V"List",

  Call = Cp() * Name * V"Args"
       / function(p, name, al) return {tag = "call", name = name, args = al.args, named = al.named, pos = p} end,

  Var = Cp() * Name / function(p, name) return {tag = "var", name = name, pos = p} end,

  Paren = Cp() * enclosed("(", V"ExprList", ")")
        / function(p, elems)
            if #elems == 1 then return elems[1] end
            return {tag = "tuple", elems = elems, pos = p}
          end,

  List = Cp() * enclosed("[", V"ExprList", "]")
       / function(p, elems) return {tag = "list", elems = elems, pos = p} end,

  ExprList = Ct((V"Expr" * (P"," * Sp * ReqExpr("','"))^0)^-1),

  -- Entry for parsing one expression (tests, tools).
  ExprOnly = Sp * V"Expr" * Req(eof, "expected the end of the expression"),
}

local statement = P(rules) * Cp()
rules[1] = "ExprOnly"
local expr_only = P(rules)
rules[1] = "Statement"

---------------------------------------------------------------------------
-- Driver

local function reset(d, source)
  st = {d = d or D.new("<input>", source), thrown = nil}
end

-- Records the statement's error and returns where the error is.
local function report(d, pos, ok, err)
  if not ok then
    local e = tostring(err)
    if e:find("overflow") or e:find("too deep") then
      d:error(pos, "this statement is nested too deeply to parse")
    else
      d:error(pos, "internal error in the parser: %s", tostring(err))
    end
    return pos
  elseif st.thrown then
    d:error(st.thrown.pos, "%s", st.thrown.msg)
    return st.thrown.pos
  end
  d:error(pos, "syntax error")
  return pos
end

-- Parses a whole program.  Returns the program node; when there were syntax
-- errors (recorded in d) it holds the statements that parsed.
function G.parse(source, d)
  if type(source) ~= "string" then source = tostring(source or "") end
  d = d or D.new("<input>", source)
  reset(d, source)
  local items = {}
  local pos = lpeg.match(Gap, source)
  while pos <= #source do
    st.thrown = nil
    local ok, node, nextpos = pcall(lpeg.match, statement, source, pos)
    if ok and node and not st.thrown and nextpos > pos then
      items[#items + 1] = node
    else
      local errpos = report(d, pos, ok, node)
      nextpos = lpeg.match(to_next_statement, source, math.max(pos, errpos)) or #source + 1
    end
    pos = lpeg.match(Gap, source, nextpos)
  end
  st = {}
  return {tag = "program", items = items, pos = 1}
end

-- Parses one expression (the whole of source); nil after errors.
function G.parse_expr(source, d)
  if type(source) ~= "string" then source = tostring(source or "") end
  d = d or D.new("<input>", source)
  reset(d, source)
  local ok, node = pcall(lpeg.match, expr_only, source)
  if ok and node and not st.thrown then st = {}; return node end
  report(d, 1, ok, node)
  st = {}
  return nil
end

return G

-- coroutines: generators, passing values both ways, status, wrap
local function gen(n)
  return coroutine.wrap(function()
    for i = 1, n do coroutine.yield(i * i) end
  end)
end
for v in gen(6) do io.write(v, " ") end
print()
local co = coroutine.create(function(a, b)
  print("start", a, b)
  local c = coroutine.yield(a + b)
  print("got", c)
  local d, e = coroutine.yield(c * 2)
  return d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.status(co), coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.status(co), coroutine.resume(co))
local function producer()
  return coroutine.create(function()
    for _, w in ipairs({"alpha", "beta", "gamma"}) do coroutine.yield(w) end
  end)
end
local p = producer()
while true do
  local ok, w = coroutine.resume(p)
  if not w then break end
  io.write(w:upper(), ";")
end
print(coroutine.isyieldable(), select(2, coroutine.running()))

-- closures and upvalues, recursion, varargs
local function counter(step)
  local n = 0
  return function() n = n + step; return n end
end
local c1, c2 = counter(1), counter(10)
print(c1(), c1(), c2(), c1(), c2())
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib(20))
local memo = setmetatable({}, {__mode = "k"})
local function compose(...)
  local fs = {...}
  return function(x) for i = #fs, 1, -1 do x = fs[i](x) end return x end
end
local inc = function(x) return x + 1 end
local dbl = function(x) return x * 2 end
print(compose(inc, dbl)(5), compose(dbl, inc)(5), select(2, "a", "b", "c"))
local acc = {}
for i = 1, 5 do acc[i] = function() return i * i end end
for i = 1, 5 do io.write(acc[i](), " ") end
print(type(memo))

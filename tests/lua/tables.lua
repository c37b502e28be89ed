-- tables: arrays, maps, sort with a comparator, metatables, iteration order
local t = {}
for i = 1, 20 do t[i] = (i * 37) % 23 end
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, " "))
table.insert(t, 1, 100); table.remove(t); print(#t, t[1], t[#t])
local words = {"pear", "apple", "fig", "banana", "cherry"}
table.sort(words)
print(table.concat(words, ","), select("#", table.unpack(words)))
local counts = {}
for _, w in ipairs(words) do counts[#w] = (counts[#w] or 0) + 1 end
local keys = {}
for k in pairs(counts) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do io.write(k, ":", counts[k], " ") end
print()
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x, y = a.y + b.y}, V) end
V.__tostring = function(v) return "(" .. v.x .. ", " .. v.y .. ")" end
local a = setmetatable({x = 1, y = 2}, V)
print(tostring(a + a + a), rawlen({1, 2, 3}), next({}))
local big = {}
for i = 1, 100000 do big[i] = i * i end
local sum = 0
for i = 1, #big do sum = sum + big[i] % 1000 end
print(#big, sum)

-- math: integers and floats, division, bit operations, seeded random
print(7 // 2, 7 % 3, -7 // 2, -7 % 3, 7 / 2, 2^10, 10 // 0.0, -10 % 0.0 ~= -10 % 0.0)
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger)
print(0xFF & 0x0F, 0xF0 | 0x0F, 5 ~ 3, ~0, 1 << 62, 256 >> 4)
print(math.floor(-3.5), math.ceil(-3.5), math.fmod(7, 3), math.abs(-2^63))
print(string.format("%.14g %.14g %.14g", math.sin(1), math.exp(1), math.log(10)))
print(string.format("%.17g %.17g", math.sqrt(2), 0.1 + 0.2))
print(math.tointeger(3.0), math.type(1), math.type(1.0), math.type("1"), 3 == 3.0)
print(tonumber("0x10"), tonumber("1e2"), tonumber("z", 36), tonumber("  12  "))
math.randomseed(42)
local r = {}
for i = 1, 8 do r[i] = math.random(1, 1000) end
print(table.concat(r, " "), math.random() < 1)
local s = 0
for i = 1, 200000 do s = s + i % 7 end
print(s)

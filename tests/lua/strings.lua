-- the string library: formatting, patterns, gsub with captures, bytes
local s = "The quick brown fox jumps over the lazy dog"
print(#s, s:upper(), s:lower():sub(5, 9))
for w in s:gmatch("%a+") do io.write(w:reverse(), " ") end
print()
print(s:gsub("(%w+) (%w+)", "%2 %1"))
print(string.format("%5d|%-5s|%05.1f|%x|%q", 42, "ab", 3.14159, 255, "a\nb"))
print(("%s=%s"):rep(3, ","):format(1, 2, 3, 4, 5, 6))
print(s:find("brown"), s:match("(%a+) dog"), string.byte("A"), string.char(72, 105))
print(table.concat({string.byte("hello", 1, -1)}, "-"))
print(utf8.char(228, 8364, 128512), utf8.len("häß€"))
local packed = string.pack("<i4 d s1", -7, 2.5, "xy")
print(#packed, string.unpack("<i4 d s1", packed))

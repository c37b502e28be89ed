-- an error nobody catches: the interpreter prints it on stderr and exits 1
print("before the error")
local function deep(n) if n == 0 then error("deep failure") end return deep(n - 1) end
deep(10)
print("never printed")

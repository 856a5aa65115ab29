--[[
voipbill_authorize.lua: holds a new outbound call in the dialplan until voipbill's credit guard has decided on it,
so no call reaches the carrier before its client's credit (or suspension, or limits) was checked, also during the
few seconds a guard is being taken over by another worker.

Install: copy to FreeSWITCH's scripts directory (FusionPBX on Debian: /usr/share/freeswitch/scripts) and, in each
outbound route of the tenants voipbill guards, add before the `bridge` action:

    <action application="lua" data="voipbill_authorize.lua 20 allow 911,933"/>

Arguments: how many seconds to wait for the guard; what to do when it has not answered by then (`allow`: bridge the
call anyway, so calls keep working while voipbill is down; `refuse`: hang it up); the emergency numbers, which
never wait (keep them the same as the package's `creditControl.emergencyNumbers`).

The guard answers with `uuid_setvar <uuid> voipbill_auth allow`, or ends the call (`uuid_kill`) when it refuses it.
]]

local timeout = tonumber(argv[1]) or 20
local on_timeout = argv[2] or "allow"
local emergency = argv[3] or ""

if not session:ready() then return end

local dest = session:getVariable("destination_number") or ""
for number in string.gmatch(emergency, "[^,]+") do
  if dest == number then return end
end

local deadline = os.time() + timeout
while session:ready() do
  local word = session:getVariable("voipbill_auth")
  if word == "allow" then return end
  if word == "deny" then
    session:hangup("OUTGOING_CALL_BARRED")
    return
  end
  if os.time() >= deadline then
    freeswitch.consoleLog("WARNING", "voipbill_authorize: no decision for " .. session:get_uuid() .. " within " .. timeout .. " s: " .. on_timeout .. "\n")
    if on_timeout == "refuse" then session:hangup("OUTGOING_CALL_BARRED") end
    return
  end
  session:sleep(20)
end

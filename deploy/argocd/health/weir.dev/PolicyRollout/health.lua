-- Argo CD health check for weir.dev/PolicyRollout, read from kstatus conditions.
-- Stalled=True is Degraded (rolled back, does not compile); Reconciling=True is Progressing;
-- Ready=True with the current generation observed is Healthy.
local hs = {}
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Rollouts are suspended"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the weir controller to report"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the weir controller to observe generation " .. generation
  return hs
end
local ready, reconciling, stalled
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Reconciling" then reconciling = c end
  if c.type == "Stalled" then stalled = c end
end
local function msg(c, default)
  if c ~= nil and c.message ~= nil and c.message ~= "" then return c.message end
  return default
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = msg(stalled, "Rollout stalled")
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = msg(reconciling, "Rolling out")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = msg(ready, "Policy applied on all nodes")
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = msg(ready, "Not ready")
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the weir controller to report"
return hs

-- Argo CD health check for compose-operator.dev/ComposeStack.
-- Install it as `resource.customizations.health.compose-operator.dev_ComposeStack` in the
-- argocd-cm ConfigMap (see docs/gitops.md). Written for Argo CD's Lua 5.1 (gopher-lua);
-- tests/argo_health.rs runs it against status objects the operator wrote on a real cluster.
--
-- The operator's status (kstatus-style): status.observedGeneration, and the conditions Ready,
-- Reconciling and Stalled of which at most one is True; status.phase is one of Ready,
-- Reconciling, Stalled or Suspended (suspended: all three conditions False).
--
--   no status yet, or observedGeneration behind metadata.generation  -> Progressing
--   phase Suspended                                                  -> Suspended
--   Stalled=True (invalid compose, refused by policy, conflict, ...) -> Degraded
--   Reconciling=True (rolling out, waiting for depends_on)           -> Progressing
--   Ready=True                                                       -> Healthy
--   anything else                                                    -> Progressing

local hs = {}

local function find_condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local message = condition.message
  if message == nil or message == "" then
    message = fallback
  end
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason .. ": " .. message
  end
  return message
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for compose-operator to report a status"
  return hs
end

-- A status about an older spec says nothing about the current one.
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for compose-operator to observe generation " .. tostring(generation)
  return hs
end

local ready = find_condition(status, "Ready")

if status.phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready, "spec.suspend is set")
  return hs
end

local stalled = find_condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "the stack cannot be reconciled")
  return hs
end

local reconciling = find_condition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "reconciling")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "all services ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the Ready condition")
return hs

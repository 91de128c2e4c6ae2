{{/*
Names and labels shared by every template.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "compose-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: fullnameOverride, else the release name when it already
contains the chart name, else `<release>-<chart>`; at most 63 characters (a DNS label).
*/}}
{{- define "compose-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of cluster-scoped objects (ClusterRoles, ClusterRoleBindings): the full name plus the
release namespace, so releases of the same name in two namespaces do not collide.
*/}}
{{- define "compose-operator.clusterScopedName" -}}
{{- printf "%s-%s" (include "compose-operator.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/* `name-version` for the helm.sh/chart label. */}}
{{- define "compose-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator's pods; never change them (Deployment selectors are immutable). */}}
{{- define "compose-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "compose-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "compose-operator.labels" -}}
helm.sh/chart: {{ include "compose-operator.chart" . }}
{{ include "compose-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: compose-operator
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "compose-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "compose-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The leader-election Lease's name. */}}
{{- define "compose-operator.leaseName" -}}
{{- default (include "compose-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* repository:tag, or repository@digest. */}}
{{- define "compose-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs in each namespace it reconciles in: exactly the API calls of
src/controller (no wildcards). `create` on the owned kinds is needed because server-side apply
of an object that does not exist yet is authorized as a create (verified by e2e/tests/chart.rs).
*/}}
{{- define "compose-operator.rules" -}}
# ComposeStacks: the controller's watch (it never reads one by name).
- apiGroups: ["compose-operator.dev"]
  resources: ["composestacks"]
  verbs: ["list", "watch"]
# Status: server-side apply on the status subresource.
- apiGroups: ["compose-operator.dev"]
  resources: ["composestacks/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion: needed where the OwnerReferencesPermissionEnforcement
# admission plugin is on (OpenShift, some managed clusters).
- apiGroups: ["compose-operator.dev"]
  resources: ["composestacks/finalizers"]
  verbs: ["update"]
# Owned objects: watched (list, watch), looked up by name (get), server-side applied (create for
# the first apply, patch after), pruned (delete).
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "persistentvolumeclaims", "configmaps", "secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Suspend and resume set replicas through the scale subresource.
- apiGroups: ["apps"]
  resources: ["deployments/scale", "statefulsets/scale"]
  verbs: ["patch"]
# Pods are only watched (a cache of their scheduling and container waiting reasons), to say
# in a stack's status why a workload is not ready (unschedulable, image pull or crash loop);
# never read one by one, never changed.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# Events about stacks (kube-runtime's recorder creates them and patches repeats into a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Namespaces are cluster-scoped: their metadata is watched (the Pod Security level each
enforces, which stack pods are fitted to) through a ClusterRole, limited by name to the
watched namespaces when watchNamespaces is set. */}}
{{- define "compose-operator.namespaceRules" -}}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
  {{- with .Values.watchNamespaces }}
  resourceNames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* Combinations the schema cannot explain well: fail with a message that says what to change. */}}
{{- define "compose-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: several replicas would reconcile at once; enable leader election or set replicaCount to 1" (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.service.enabled=true (the ServiceMonitor selects the metrics Service)" }}
{{- end }}
{{- end }}

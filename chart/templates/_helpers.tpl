{{/*
Names. Cluster-scoped objects (ClusterRoles, webhook configurations) carry the full name, so two
releases with the same name in different namespaces collide: use fullnameOverride for the second.
*/}}
{{- define "gitgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gitgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gitgate.labels" -}}
helm.sh/chart: {{ include "gitgate.chart" . }}
{{ include "gitgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gitgate
{{- end }}

{{- define "gitgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret gitgate keeps its webhook CA and serving certificate in (gitgate creates it). */}}
{{- define "gitgate.certSecret" -}}
{{- printf "%s-webhook-tls" (include "gitgate.fullname" .) }}
{{- end }}

{{- define "gitgate.leaseName" -}}
{{- printf "%s-leader" (include "gitgate.fullname" .) }}
{{- end }}

{{/*
No gitgate image is published: without image.repository the install fails here, saying what to
set, rather than leaving pods in ImagePullBackOff.
*/}}
{{- define "gitgate.image" -}}
{{- $repository := required "image.repository is required: no gitgate image is published. Build one from the repository (npm run image -- --output gitgate.tar, or docker build -t REGISTRY/gitgate:TAG .), push it to a registry your nodes pull from or import it on each node (ctr -n k8s.io images import gitgate.tar), then set image.repository and image.tag (and image.pullPolicy=Never for an imported image)" .Values.image.repository -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The config file gitgate reads (`gitgate run --config`): `.Values.config` plus the parts the chart
owns, because they must agree with other objects of the release: the namespace, the Service the
webhooks point at, the port the container listens on, the webhook configuration names, the
certificate Secret and the Lease.
*/}}
{{- define "gitgate.config" -}}
{{- $fullname := include "gitgate.fullname" . -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $_ := set $config "namespace" .Release.Namespace -}}
{{- $service := dict "name" $fullname "namespace" .Release.Namespace "port" .Values.service.port -}}
{{- $webhook := dict "enabled" .Values.webhook.enabled "port" .Values.webhook.port "failurePolicy" .Values.webhook.failurePolicy "timeoutSeconds" .Values.webhook.timeoutSeconds "register" .Values.webhook.register "namePrefix" $fullname "certSecret" (include "gitgate.certSecret" .) "service" $service "certCheckInterval" .Values.webhook.certCheckInterval -}}
{{- $clientCA := include "gitgate.clientCAPath" . -}}
{{- if $clientCA -}}
{{- $_ = set $webhook "clientCA" $clientCA -}}
{{- if .Values.webhook.clientNames -}}
{{- $_ = set $webhook "clientNames" .Values.webhook.clientNames -}}
{{- end -}}
{{- else if .Values.webhook.clientNames -}}
{{- fail "webhook.clientNames needs webhook.clientCA.secretName or webhook.clientCA.configMapName" -}}
{{- end -}}
{{- with .Values.webhook.url -}}
{{- $_ = set $webhook "url" . -}}
{{- end -}}
{{- $_ = set $config "webhook" $webhook -}}
{{- $_ = set $config "leaderElection" (dict "enabled" .Values.leaderElection.enabled "leaseName" (include "gitgate.leaseName" .)) -}}
{{- $_ = set $config "hooks" (dict "maxBodyBytes" .Values.hooks.maxBodyBytes "allowUnsigned" (.Values.hooks.allowUnsigned | default false)) -}}
{{- $dashboard := .Values.dashboard | default dict -}}
{{- if $dashboard.enabled -}}
{{- $_ = set $config "dashboard" (dict "enabled" true "address" (printf "0.0.0.0:%v" ($dashboard.port | default 8080)) "secureCookie" (ne $dashboard.secureCookie false)) -}}
{{- end -}}
{{- $_ = set $config "alerts" (dict "channels" .Values.alerts.channels "dedupWindow" .Values.alerts.dedupWindow "ratePerMinute" .Values.alerts.ratePerMinute) -}}
{{- toYaml $config }}
{{- end }}

{{/*
One webhook's client config and namespace selection, exactly as gitgate builds it
(src/admission/webhook-config.ts), so gitgate's server-side apply of the same names takes the
objects over without changing them (apart from caBundle). Args: root context and the path.
*/}}
{{- define "gitgate.webhookCommon" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- $selectNamespaces := index . 2 -}}
clientConfig:
  service:
    namespace: {{ $root.Release.Namespace }}
    name: {{ include "gitgate.fullname" $root }}
    port: {{ $root.Values.service.port }}
    path: {{ $path }}
  {{- with (lookup "v1" "Secret" $root.Release.Namespace (include "gitgate.certSecret" $root)) }}
  {{- with (index (.data | default dict) "ca-bundle.crt") }}
  caBundle: {{ . }}
  {{- end }}
  {{- end }}
{{- if $selectNamespaces }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range (list "kube-system" $root.Release.Namespace | uniq) }}
        - {{ . }}
        {{- end }}
    - key: gitgate.io/webhook
      operator: NotIn
      values: [ignore]
{{- else }}
namespaceSelector: {}
{{- end }}
sideEffects: None
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
admissionReviewVersions: [v1]
matchPolicy: Equivalent
{{- end }}

{{/*
Where the webhook's client CA bundle is mounted (webhook.clientCA), or nothing when none is set.
*/}}
{{- define "gitgate.clientCAPath" -}}
{{- $ca := .Values.webhook.clientCA | default dict -}}
{{- if and $ca.secretName $ca.configMapName -}}
{{- fail "webhook.clientCA: set secretName or configMapName, not both" -}}
{{- end -}}
{{- if or $ca.secretName $ca.configMapName -}}
/etc/gitgate-client-ca/{{ $ca.key | default "ca.crt" }}
{{- end -}}
{{- end }}

{{/* The base of every object's name: nameOverride or the chart's name. */}}
{{- define "nbo.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 36 | trimSuffix "-" -}}
{{- end -}}

{{/* The manager's objects are named <name>-controller-manager-<kind>. */}}
{{- define "nbo.manager" -}}
{{- include "nbo.name" . }}-controller-manager
{{- end -}}

{{- define "nbo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nbo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/component: controller-manager
{{- end -}}

{{- define "nbo.labels" -}}
{{ include "nbo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end -}}

{{/* The image the chart runs when none of ours is named. */}}
{{- define "nbo.defaultImage" -}}
nebula-operator:latest
{{- end -}}

{{/* True ("true") when ref names upstream's operator image. */}}
{{- define "nbo.isUpstreamImage" -}}
{{- if regexMatch "(^|/)vesoft/nebula-operator([:@].*)?$" . -}}true{{- end -}}
{{- end -}}

{{/*
The operator image: operatorImage, else image.nebulaOperator.image unless
it is upstream's (which cannot run our command line), else the default.
*/}}
{{- define "nbo.image" -}}
{{- $img := .Values.image.nebulaOperator.image | default "" -}}
{{- if .Values.operatorImage -}}
{{- .Values.operatorImage -}}
{{- else if or (not $img) (include "nbo.isUpstreamImage" $img) -}}
{{- include "nbo.defaultImage" . -}}
{{- else -}}
{{- $img -}}
{{- end -}}
{{- end -}}

{{/* Whether upstream's controller-manager webhook is asked for (1.8.1+ or 1.8.0 keys). */}}
{{- define "nbo.webhookEnabled" -}}
{{- $w := .Values.admissionWebhook | default dict -}}
{{- $cm := $w.contollerManagerAdmissionWebhook | default dict -}}
{{- if or $cm.create $w.create -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{- define "nbo.webhookPort" -}}
{{- $w := .Values.admissionWebhook | default dict -}}
{{- $cm := $w.contollerManagerAdmissionWebhook | default dict -}}
{{- /* 1.8.0's key is only there when a values file sets it */ -}}
{{- $w.webhookBindPort | default $cm.webhookBindPort | default 9443 | int -}}
{{- end -}}

{{/* The NebulaCluster's name: nameOverride, else the chart's name. */}}
{{- define "nbc.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nbc.labels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end -}}

{{/*
A scalar as a flag value: whole numbers without an exponent (values files
are read as JSON, so 1048576 arrives as a float).
*/}}
{{- define "nbc.scalar" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* A volume claim: {storage, class}. */}}
{{- define "nbc.claim" -}}
resources:
  requests:
    storage: {{ include "nbc.scalar" .storage | quote }}
{{- with .class }}
storageClassName: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
What every component (and the exporter) maps the same way:
env, labels, annotations, scheduling, probes, security context, extra
containers and volumes. Optional fields are left out when empty.
*/}}
{{- define "nbc.common" -}}
{{- with .env }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .podLabels }}
labels:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .initContainers }}
initContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .sidecarContainers }}
sidecarContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .volumes }}
volumes:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .volumeMounts }}
volumeMounts:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A component's flags: every value a string, as the CRD wants. */}}
{{- define "nbc.config" -}}
{{- with . }}
config:
  {{- range $k, $v := . }}
  {{ $k | quote }}: {{ include "nbc.scalar" $v | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* A graphd/metad/storaged image, replicas, version and resources. */}}
{{- define "nbc.workload" -}}
{{- $c := index . 0 -}}{{- $version := index . 1 -}}
image: {{ $c.image | quote }}
version: {{ include "nbc.scalar" $version | quote }}
replicas: {{ $c.replicas | int }}
{{- with $c.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* True ("true") when ref names upstream's nebula-agent image. */}}
{{- define "nbc.isUpstreamAgent" -}}
{{- if regexMatch "(^|/)vesoft/nebula-agent([:@].*)?$" (. | default "") -}}true{{- end -}}
{{- end -}}

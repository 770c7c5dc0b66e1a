{{- define "router-firewall.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "router-firewall.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The recommended labels of every object of the release. */}}
{{- define "router-firewall.labels" -}}
{{ include "router-firewall.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* A readiness check: every planned interface (l2sm.networks) is in the pod. */}}
{{- define "router-firewall.interfacesReady" -}}
for i in{{ range .Values.l2sm.networks }}{{ with .interface }} {{ . }}{{ end }}{{ end }}; do ip link show "$i" >/dev/null || exit 1; done
{{- end -}}

{{/* Shell lines adding the planned routes; the interface may appear a moment after the container starts. */}}
{{- define "router-firewall.routes" -}}
{{- range .Values.l2sm.routes }}
wait_for {{ .interface | quote }}
ip route replace {{ .to | quote }} via {{ .via | quote }} dev {{ .interface | quote }}
{{- end }}
{{- end -}}

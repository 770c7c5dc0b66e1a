{{- define "cdn-cache.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cdn-cache.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Shell lines adding the planned routes; the interface may appear a moment after the container starts. */}}
{{- define "cdn-cache.routes" -}}
{{- range .Values.l2sm.routes }}
wait_for {{ .interface | quote }}
ip route replace {{ .to | quote }} via {{ .via | quote }} dev {{ .interface | quote }}
{{- end }}
{{- end -}}

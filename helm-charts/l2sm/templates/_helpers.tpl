{{- define "l2sm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "l2sm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include with (list . "component") */}}
{{- define "l2sm.selectorLabels" -}}
{{- $top := index . 0 -}}
app.kubernetes.io/name: {{ $top.Chart.Name }}
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "l2sm.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "l2sm.tokenSecret" -}}
{{- .Values.controllerToken.existingSecret | default (printf "%s-controller-token" (include "l2sm.fullname" .)) -}}
{{- end -}}

{{- define "l2sm.useToken" -}}
{{- if or .Values.controllerToken.create .Values.controllerToken.existingSecret }}true{{ end -}}
{{- end -}}

{{/* The controller token as an environment variable, when there is one. */}}
{{- define "l2sm.tokenEnv" -}}
{{- if include "l2sm.useToken" . }}
- name: L2SM_CONTROLLER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "l2sm.tokenSecret" . }}
      key: {{ .Values.controllerToken.secretKey }}
{{- end }}
{{- end -}}

{{- define "l2sm.controllerHost" -}}
{{- printf "%s-controller.%s.svc" (include "l2sm.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "l2sm.controllerURL" -}}
{{- printf "http://%s:%d" (include "l2sm.controllerHost" .) (int .Values.controller.restPort) -}}
{{- end -}}

{{- define "l2sm.webhookService" -}}
{{- printf "%s-webhook" (include "l2sm.fullname" .) -}}
{{- end -}}

{{- define "l2sm.webhookSecret" -}}
{{- printf "%s-webhook-tls" (include "l2sm.fullname" .) -}}
{{- end -}}

{{- define "l2sm.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The switch pod's OVS answers: both daemons on their control sockets (its startup and liveness probes). */}}
{{- define "l2sm.ovsAlive" -}}
{{- $dir := .Values.switch.ovsRunDir -}}
[/bin/sh, -c, {{ printf "ovs-appctl -T 5 -t %s/ovs-vswitchd.ctl version && ovs-appctl -T 5 -t %s/ovsdb-server.ctl version" $dir $dir | quote }}]
{{- end }}

{{/* The OpenFlow CA (ca.crt, ca.key): only the switch pods' init step mounts it, to sign their node's certificate. */}}
{{- define "l2sm.switchCASecret" -}}
{{- printf "%s-switch-ca" (include "l2sm.fullname" .) -}}
{{- end -}}

{{/* The controller's OpenFlow key and certificate, and the CA certificate it checks the switches against. */}}
{{- define "l2sm.controllerTLSSecret" -}}
{{- printf "%s-controller-tls" (include "l2sm.fullname" .) -}}
{{- end -}}

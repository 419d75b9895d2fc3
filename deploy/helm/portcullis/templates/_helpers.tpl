{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a label value.
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: "<release>-<chart>", or just the release name when it already
contains the chart name. Suffixes ("-controlplane", "-gateway", "-nats-headless") are
appended by callers, so keep room for them.
*/}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. Call with (dict "ctx" $ "component" "gateway").
*/}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" .ctx }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- end }}

{{/*
Selector labels: immutable once a Deployment exists, so only name, instance, component.
*/}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "portcullis.controlplane.fullname" -}}
{{- printf "%s-controlplane" (include "portcullis.fullname" .) }}
{{- end }}

{{- define "portcullis.gateway.fullname" -}}
{{- printf "%s-gateway" (include "portcullis.fullname" .) }}
{{- end }}

{{- define "portcullis.nats.fullname" -}}
{{- printf "%s-nats" (include "portcullis.fullname" .) }}
{{- end }}

{{/*
Name of the Secret with the master key and bundle seal key.
*/}}
{{- define "portcullis.secretName" -}}
{{- default (printf "%s-secrets" (include "portcullis.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/*
Name of the Secret with the Postgres DSN (defaults to the main Secret).
*/}}
{{- define "portcullis.postgres.secretName" -}}
{{- default (include "portcullis.secretName" .) .Values.postgres.existingSecret }}
{{- end }}

{{/*
Name of the Secret with the bundle-signing public keys (JWKS) mounted into gateways.
*/}}
{{- define "portcullis.bundleKeys.secretName" -}}
{{- default (printf "%s-bundle-keys" (include "portcullis.fullname" .)) .Values.gateway.bundleKeys.existingSecret }}
{{- end }}

{{/*
Image reference; the tag defaults to the chart's appVersion.
Call with (dict "image" .Values.gateway.image "ctx" $).
*/}}
{{- define "portcullis.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/*
NATS_URL environment entry: the bundled cluster's client Service, an external URL from a
Secret (it may embed credentials), or the plain external URL.
*/}}
{{- define "portcullis.natsURLEnv" -}}
- name: NATS_URL
{{- if .Values.nats.bundled.enabled }}
  value: {{ printf "nats://%s:%d" (include "portcullis.nats.fullname" .) 4222 | quote }}
{{- else if .Values.nats.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.existingSecret }}
      key: {{ .Values.nats.urlKey }}
{{- else }}
  value: {{ required "nats.url is required when nats.bundled.enabled is false" .Values.nats.url | quote }}
{{- end }}
{{- end }}

{{/*
Egress rules shared by every Portcullis component: DNS, and NATS (bundled pods or the
external address).
*/}}
{{- define "portcullis.egress.dnsAndNats" -}}
- to:
    {{- toYaml .Values.networkPolicy.dnsTo | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- if .Values.nats.bundled.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "portcullis.selectorLabels" (dict "ctx" . "component" "nats") | nindent 10 }}
  ports:
    - port: 4222
      protocol: TCP
{{- else }}
- to:
    {{- toYaml .Values.nats.networkPolicyTo | nindent 4 }}
  ports:
    - port: {{ .Values.nats.port }}
      protocol: TCP
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every pod of the chart.
*/}}
{{- define "portcullis.podCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
JetStream replica count for the bundle bucket and audit stream: explicit, or 3 on a
bundled cluster large enough for it (a quorum survives one lost server), else 1.
*/}}
{{- define "portcullis.natsReplicas" -}}
{{- if .Values.nats.jetStreamReplicas }}
{{- .Values.nats.jetStreamReplicas }}
{{- else if and .Values.nats.bundled.enabled (ge (int .Values.nats.bundled.replicas) 3) }}
{{- 3 }}
{{- else }}
{{- 1 }}
{{- end }}
{{- end }}

{{/*
Name of a component's TLS Secret (type kubernetes.io/tls: tls.crt, tls.key), e.g. one
that cert-manager keeps renewed. Call with (dict "ctx" $ "component" "gateway").
*/}}
{{- define "portcullis.tls.secretName" -}}
{{- $tls := get (get .ctx.Values .component) "tls" }}
{{- default (printf "%s-%s-tls" (include "portcullis.fullname" .ctx) .component) $tls.existingSecret }}
{{- end }}

{{/*
Where a component's certificates are mounted: the default certificate first, then one
directory per extra Secret (custom domains, picked by SNI). Whole Secrets are mounted (no
subPath), so a renewed certificate appears in place and the planes reload it.
*/}}
{{- define "portcullis.tls.dir" -}}/etc/portcullis/tls{{- end }}
{{- define "portcullis.tls.extraDir" -}}/etc/portcullis/tls-extra{{- end }}

{{/*
PORTCULLIS_TLS_CERT_FILE / PORTCULLIS_TLS_KEY_FILE: comma-separated, same order, the
default certificate first. Call with (dict "ctx" $ "component" "gateway").
*/}}
{{- define "portcullis.tls.env" -}}
{{- $tls := get (get .ctx.Values .component) "tls" }}
{{- $certs := list (printf "%s/tls.crt" (include "portcullis.tls.dir" .)) }}
{{- $keys := list (printf "%s/tls.key" (include "portcullis.tls.dir" .)) }}
{{- range $tls.extraSecrets }}
{{- $certs = append $certs (printf "%s/%s/tls.crt" (include "portcullis.tls.extraDir" $) .) }}
{{- $keys = append $keys (printf "%s/%s/tls.key" (include "portcullis.tls.extraDir" $) .) }}
{{- end }}
- name: PORTCULLIS_TLS_CERT_FILE
  value: {{ join "," $certs | quote }}
- name: PORTCULLIS_TLS_KEY_FILE
  value: {{ join "," $keys | quote }}
{{- end }}

{{- define "portcullis.tls.volumeMounts" -}}
{{- $tls := get (get .ctx.Values .component) "tls" }}
- name: tls
  mountPath: {{ include "portcullis.tls.dir" . }}
  readOnly: true
{{- range $i, $name := $tls.extraSecrets }}
- name: tls-extra-{{ $i }}
  mountPath: {{ printf "%s/%s" (include "portcullis.tls.extraDir" $) $name }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
The TLS volumes. defaultMode 0440 with the pod's fsGroup (65532): the key is readable by
the Portcullis user and no one else.
*/}}
{{- define "portcullis.tls.volumes" -}}
{{- $tls := get (get .ctx.Values .component) "tls" }}
- name: tls
  secret:
    secretName: {{ include "portcullis.tls.secretName" . }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
{{- range $i, $name := $tls.extraSecrets }}
- name: tls-extra-{{ $i }}
  secret:
    secretName: {{ $name }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
{{- end }}
{{- end }}

{{/*
The gateway's public base URL (PORTCULLIS_PUBLIC_URL): what agents connect to and what
tokens are issued for (audience = this + "/mcp"). Defaults to the in-cluster Service name,
which only in-cluster agents can use; set gateway.publicURL to the external name.
*/}}
{{- define "portcullis.gateway.publicURL" -}}
{{- if .Values.gateway.publicURL }}
{{- .Values.gateway.publicURL | trimSuffix "/" }}
{{- else }}
{{- $host := printf "%s.%s.svc" (include "portcullis.gateway.fullname" .) .Release.Namespace }}
{{- if eq (int .Values.gateway.service.port) 443 }}
{{- printf "https://%s" $host }}
{{- else }}
{{- printf "https://%s:%d" $host (int .Values.gateway.service.port) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
HTTPS probe (the kubelet does not verify the certificate, so a certificate for the
public name works). Call with (dict "path" "/healthz" "period" 10 "timeout" 3 "failures" 3).
*/}}
{{- define "portcullis.httpsProbe" -}}
httpGet:
  path: {{ .path }}
  port: https
  scheme: HTTPS
periodSeconds: {{ .period }}
{{- with .timeout }}
timeoutSeconds: {{ . }}
{{- end }}
failureThreshold: {{ .failures }}
{{- end }}

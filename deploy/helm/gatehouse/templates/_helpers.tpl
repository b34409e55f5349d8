{{/* Names, labels, images, and the certificates made once per render. */}}

{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "gatehouse.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "gatehouse.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The object name of a component: <fullname>-<component>. */}}
{{- define "gatehouse.component" -}}
{{- printf "%s-%s" (include "gatehouse.fullname" .root) .component -}}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gatehouse
{{ include "gatehouse.selectorLabels" . }}
{{- end -}}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every pod of this release (the NetworkPolicies' default deny selects these). */}}
{{- define "gatehouse.instanceLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* image: repository:tag[@digest] */}}
{{- define "gatehouse.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- $ref := printf "%s:%s" .repository $tag -}}
{{- if .root.Values.image.digest -}}{{- $ref = printf "%s@%s" $ref .root.Values.image.digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- include "gatehouse.imageRef" (dict "root" . "repository" .Values.image.repository) -}}
{{- end -}}

{{- define "gatehouse.sensorImage" -}}
{{- include "gatehouse.imageRef" (dict "root" . "repository" (default (printf "%s-sensor" .Values.image.repository) .Values.sensor.image.repository)) -}}
{{- end -}}

{{/* Central's in-cluster URL, for the sensors and the webhook. */}}
{{- define "gatehouse.centralUrl" -}}
{{- printf "https://%s.%s.svc:%d" (include "gatehouse.component" (dict "root" . "component" "central")) .Release.Namespace (int .Values.central.service.port) -}}
{{- end -}}

{{- define "gatehouse.centralDnsNames" -}}
{{- $svc := include "gatehouse.component" (dict "root" . "component" "central") -}}
{{- $ns := .Release.Namespace -}}
{{- toJson (concat (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) .Values.central.extraDnsNames) -}}
{{- end -}}

{{- define "gatehouse.admissionDnsNames" -}}
{{- $svc := include "gatehouse.component" (dict "root" . "component" "admission") -}}
{{- $ns := .Release.Namespace -}}
{{- toJson (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) -}}
{{- end -}}

{{/* The sensors' metrics certificate: Prometheus scrapes pod IPs, so set tls_config.server_name to one of these. */}}
{{- define "gatehouse.sensorDnsNames" -}}
{{- $svc := include "gatehouse.component" (dict "root" . "component" "sensor") -}}
{{- toJson (list $svc (printf "%s.%s.svc" $svc .Release.Namespace)) -}}
{{- end -}}

{{- define "gatehouse.metricsTokenSecret" -}}
{{- default (printf "%s-metrics-token" (include "gatehouse.fullname" .)) .Values.metrics.tokenSecret -}}
{{- end -}}

{{/*
gatehouse.certs: with tls.mode=helm, the CA and both serving certificates as one dict
{ca, central: {crt, key}, admission: {crt, key}}. They are made once per render and kept in
.Values, so the Secrets and the webhooks' caBundle agree whichever template runs first; an
upgrade reuses the Secrets already in the cluster (lookup), so caBundle and the sensors'
trusted CA stay the same. `helm template`/`lint` have no cluster: they always make new ones.
*/}}
{{- define "gatehouse.certs" -}}
{{- if not (hasKey .Values "generatedCerts") -}}
{{- $centralName := printf "%s-tls" (include "gatehouse.component" (dict "root" . "component" "central")) -}}
{{- $admissionName := printf "%s-tls" (include "gatehouse.component" (dict "root" . "component" "admission")) -}}
{{- $oldCentral := lookup "v1" "Secret" .Release.Namespace $centralName -}}
{{- $oldAdmission := lookup "v1" "Secret" .Release.Namespace $admissionName -}}
{{- $certs := dict -}}
{{- if and $oldCentral $oldAdmission (index ($oldCentral.data | default dict) "ca.crt") (index ($oldAdmission.data | default dict) "tls.crt") -}}
{{- $_ := set $certs "ca" (index $oldCentral.data "ca.crt" | b64dec) -}}
{{- $_ := set $certs "central" (dict "crt" (index $oldCentral.data "tls.crt" | b64dec) "key" (index $oldCentral.data "tls.key" | b64dec)) -}}
{{- $_ := set $certs "admission" (dict "crt" (index $oldAdmission.data "tls.crt" | b64dec) "key" (index $oldAdmission.data "tls.key" | b64dec)) -}}
{{- $oldMetrics := lookup "v1" "Secret" .Release.Namespace (printf "%s-metrics-tls" (include "gatehouse.component" (dict "root" . "component" "sensor"))) -}}
{{- if and $oldMetrics (index ($oldMetrics.data | default dict) "tls.crt") -}}
{{- $_ := set $certs "sensorMetrics" (dict "crt" (index $oldMetrics.data "tls.crt" | b64dec) "key" (index $oldMetrics.data "tls.key" | b64dec)) -}}
{{- else -}}
{{- /* The CA's key is not kept: a metrics certificate added later is self-signed until the next full re-issue. */ -}}
{{- $m := genSelfSignedCert (include "gatehouse.component" (dict "root" . "component" "sensor")) nil (include "gatehouse.sensorDnsNames" . | fromJsonArray) (int .Values.tls.certDays) -}}
{{- $_ := set $certs "sensorMetrics" (dict "crt" $m.Cert "key" $m.Key) -}}
{{- end -}}
{{- else -}}
{{- $ca := genCA (printf "gatehouse-ca.%s" .Release.Namespace) (int .Values.tls.caDays) -}}
{{- $c := genSignedCert (include "gatehouse.component" (dict "root" . "component" "central")) nil (include "gatehouse.centralDnsNames" . | fromJsonArray) (int .Values.tls.certDays) $ca -}}
{{- $a := genSignedCert (include "gatehouse.component" (dict "root" . "component" "admission")) nil (include "gatehouse.admissionDnsNames" . | fromJsonArray) (int .Values.tls.certDays) $ca -}}
{{- $_ := set $certs "ca" $ca.Cert -}}
{{- $_ := set $certs "central" (dict "crt" $c.Cert "key" $c.Key) -}}
{{- $_ := set $certs "admission" (dict "crt" $a.Cert "key" $a.Key) -}}
{{- $m := genSignedCert (include "gatehouse.component" (dict "root" . "component" "sensor")) nil (include "gatehouse.sensorDnsNames" . | fromJsonArray) (int .Values.tls.certDays) $ca -}}
{{- $_ := set $certs "sensorMetrics" (dict "crt" $m.Cert "key" $m.Key) -}}
{{- end -}}
{{- $_ := set .Values "generatedCerts" $certs -}}
{{- end -}}
{{- end -}}

{{/* A Secret's value kept across upgrades: the existing one (lookup) or a new one. */}}
{{- define "gatehouse.keptSecretValue" -}}
{{- $old := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $old (index ($old.data | default dict) .key) -}}
{{- index $old.data .key -}}
{{- else -}}
{{- .fresh | b64enc -}}
{{- end -}}
{{- end -}}

{{/* The restricted container securityContext (Pod Security Standards `restricted`). */}}
{{- define "gatehouse.restrictedContainerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "gatehouse.restrictedPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "gatehouse.adminTokenSecret" -}}
{{- default (printf "%s-admin" (include "gatehouse.component" (dict "root" . "component" "central"))) .Values.central.adminTokenSecret -}}
{{- end -}}

{{- define "gatehouse.dataKeySecret" -}}
{{- default (printf "%s-data-key" (include "gatehouse.component" (dict "root" . "component" "central"))) .Values.central.dataKeySecret -}}
{{- end -}}

{{- define "gatehouse.sensorTokenSecret" -}}
{{- default (printf "%s-token" (include "gatehouse.component" (dict "root" . "component" "sensor"))) .Values.sensor.tokenSecret -}}
{{- end -}}

{{- define "gatehouse.admissionTokenSecret" -}}
{{- default (printf "%s-token" (include "gatehouse.component" (dict "root" . "component" "admission"))) .Values.admission.tokenSecret -}}
{{- end -}}

{{/* Egress to cluster DNS, for a NetworkPolicy's egress list. */}}
{{- define "gatehouse.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.networkPolicy.dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.podLabels | nindent 10 }}
  ports:
    - { protocol: UDP, port: 53 }
    - { protocol: TCP, port: 53 }
{{- end -}}

{{/* Egress to Central's port. */}}
{{- define "gatehouse.centralEgress" -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "gatehouse.selectorLabels" (dict "root" . "component" "central") | nindent 10 }}
  ports:
    - { protocol: TCP, port: 8443 }
{{- end -}}

{{/* Rolls the pods when the chart made new certificates (tls.mode=helm). */}}
{{- define "gatehouse.tlsChecksum" -}}
{{- if eq .Values.tls.mode "helm" -}}
{{- include "gatehouse.certs" . -}}
{{- toJson .Values.generatedCerts | sha256sum | trunc 16 -}}
{{- else -}}
cert-manager
{{- end -}}
{{- end -}}

{{/*
The event bus flags, the same for Central, the sensor and the webhook: --nats, and the
credentials and CA as mounted files (never environment variables). Indent: the args list's.
*/}}
{{- define "gatehouse.natsArgs" -}}
{{- if .Values.nats.url }}
- --nats
- {{ .Values.nats.url }}
{{- if .Values.nats.credsSecret }}
- --nats-creds
- /etc/gatehouse/nats-creds/creds
{{- end }}
{{- if .Values.nats.tlsCaConfigMap }}
- --nats-tls-ca
- /etc/gatehouse/nats-ca/ca.crt
{{- end }}
{{- end }}
{{- end }}

{{- define "gatehouse.natsMounts" -}}
{{- if and .Values.nats.url .Values.nats.credsSecret }}
- { name: nats-creds, mountPath: /etc/gatehouse/nats-creds, readOnly: true }
{{- end }}
{{- if and .Values.nats.url .Values.nats.tlsCaConfigMap }}
- { name: nats-ca, mountPath: /etc/gatehouse/nats-ca, readOnly: true }
{{- end }}
{{- end }}

{{- define "gatehouse.natsVolumes" -}}
{{- if and .Values.nats.url .Values.nats.credsSecret }}
- name: nats-creds
  secret:
    secretName: {{ .Values.nats.credsSecret }}
    defaultMode: 0440
    items: [{ key: creds, path: creds }]
{{- end }}
{{- if and .Values.nats.url .Values.nats.tlsCaConfigMap }}
- name: nats-ca
  configMap:
    name: {{ .Values.nats.tlsCaConfigMap }}
    items: [{ key: ca.crt, path: ca.crt }]
{{- end }}
{{- end }}

{{/* Egress to NATS (the webhook's, the sensor's and Central's NetworkPolicies). */}}
{{- define "gatehouse.natsEgress" -}}
{{- if .Values.nats.url }}
# NATS JetStream
- ports:
    - { protocol: TCP, port: {{ .Values.nats.port }} }
  {{- with .Values.nats.cidrs }}
  to:
    {{- range . }}
    - ipBlock: { cidr: {{ . }} }
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "etcdbak.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "etcdbak.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "etcdbak.labels" -}}
{{ include "etcdbak.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "etcdbak.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "etcdbak.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where Jobs run and TLS Secrets are mirrored: the release namespace unless set. */}}
{{- define "etcdbak.jobNamespace" -}}
{{- default .Release.Namespace .Values.jobNamespace -}}
{{- end -}}

{{- define "etcdbak.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Jobs' ServiceAccount the chart creates (backupServiceAccount.create). */}}
{{- define "etcdbak.backupServiceAccountName" -}}
{{- default (printf "%s-backup" (include "etcdbak.fullname" .) | trunc 63 | trimSuffix "-") .Values.backupServiceAccount.name -}}
{{- end -}}

{{/* The default templates: the seed's contract (snapshot at /backup/snapshot.db, CLUSTER set), run by etcdbak.
     The key variables only with a key Secret: without one (IRSA, Pod Identity) the credential chain finds
     what EKS injects, and an empty secretKeyRef would keep the pod from starting. */}}
{{- define "etcdbak.s3EnvItems" -}}
{{- if .Values.s3CredentialsSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ .Values.s3CredentialsSecret }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.s3CredentialsSecret }}, key: AWS_SECRET_ACCESS_KEY}
{{- end }}
{{- end -}}

{{/* The in-cluster client's apiserver address (values apiServer), for pods that talk to the apiserver. */}}
{{- define "etcdbak.apiServerEnvItems" -}}
{{- with .Values.apiServer.host }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ . | quote }}
{{- end }}
{{- with .Values.apiServer.port }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* An env list of `items` (rendered list entries), or `env: []`. */}}
{{- define "etcdbak.envOf" -}}
{{- if . -}}
env:{{ . }}
{{- else -}}
env: []
{{- end -}}
{{- end -}}

{{- define "etcdbak.s3Env" -}}
{{ include "etcdbak.envOf" (include "etcdbak.s3EnvItems" .) }}
{{- end -}}

{{- define "etcdbak.storeContainer" -}}
{{- if .Values.storeContainer -}}
{{ toYaml .Values.storeContainer }}
{{- else -}}
name: store
command: [etcdbak, store]
{{ include "etcdbak.s3Env" . }}
volumeMounts:
- name: etcd-backup
  mountPath: /backup
  readOnly: true
{{- end -}}
{{- end -}}

{{- define "etcdbak.cleanupContainer" -}}
{{- if .Values.cleanupContainer -}}
{{ toYaml .Values.cleanupContainer }}
{{- else -}}
name: cleanup
command: [etcdbak, prune, --all]
{{ include "etcdbak.s3Env" . }}
{{- end -}}
{{- end -}}

{{- define "etcdbak.verifyContainer" -}}
{{- if .Values.verifyContainer -}}
{{ toYaml .Values.verifyContainer }}
{{- else -}}
name: verify
command: [etcdbak, verify, --cluster, $(CLUSTER)]
{{ include "etcdbak.s3Env" . }}
{{- end -}}
{{- end -}}

{{- define "etcdbak.followerServiceAccountName" -}}
{{- default (printf "%s-follower" (include "etcdbak.fullname" .)) .Values.followerServiceAccount.name -}}
{{- end -}}

{{/* The follower renews its Lease through the apiserver, like the controller: the same address. */}}
{{- define "etcdbak.followerContainer" -}}
{{- if .Values.followerContainer -}}
{{ toYaml .Values.followerContainer }}
{{- else -}}
name: follower
command: [etcdbak, follow]
{{ include "etcdbak.envOf" (print (include "etcdbak.s3EnvItems" .) (include "etcdbak.apiServerEnvItems" .)) }}
{{- end -}}
{{- end -}}

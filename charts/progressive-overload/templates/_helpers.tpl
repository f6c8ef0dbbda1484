{{/* Names ------------------------------------------------------------------ */}}

{{- define "po.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "po.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "po.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "po.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "po.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels. Call with (dict "root" $ "component" "account"). */}}
{{- define "po.labels" -}}
helm.sh/chart: {{ include "po.chart" .root }}
{{ include "po.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: progressive-overload
{{- end -}}

{{- define "po.selectorLabels" -}}
app.kubernetes.io/name: {{ include "po.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Images ----------------------------------------------------------------- */}}

{{/* (dict "root" $ "svc" "account") */}}
{{- define "po.serviceImage" -}}
{{- $v := index .root.Values .svc -}}
{{- $tag := $v.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) $v.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $v.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Secrets ---------------------------------------------------------------- */}}

{{/*
A generated secret value (base64), stable across upgrades: the value already in
the live Secret when there is one (lookup), else a new random one.
(dict "root" $ "secret" "name" "key" "key" "length" 32)
*/}}
{{- define "po.keptSecretValue" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum (default 32 .length) | b64enc -}}
{{- end -}}
{{- end -}}

{{- define "po.mysqlSecretName" -}}{{ include "po.fullname" . }}-mysql{{- end -}}
{{- define "po.redisSecretName" -}}{{ include "po.fullname" . }}-redis{{- end -}}
{{- define "po.rabbitmqSecretName" -}}{{ include "po.fullname" . }}-rabbitmq{{- end -}}
{{- define "po.jwtSecretName" -}}{{ include "po.fullname" . }}-jwt{{- end -}}
{{- define "po.grafanaSecretName" -}}{{ include "po.fullname" . }}-grafana{{- end -}}

{{/* Where a service's database password lives: "name key". (dict "root" $ "svc" "account") */}}
{{- define "po.dbPasswordSecret" -}}
{{- $db := (index .root.Values .svc).database -}}
{{- if $db.existingSecret -}}
{{- printf "%s %s" $db.existingSecret $db.passwordKey -}}
{{- else if .root.Values.mysql.create -}}
{{- printf "%s %s-password" (include "po.mysqlSecretName" .root) .svc -}}
{{- else -}}
{{- fail (printf "%s.database: with mysql.create=false set %s.database.existingSecret or %s.database.urlSecret.name" .svc .svc .svc) -}}
{{- end -}}
{{- end -}}

{{- define "po.mysqlRootSecret" -}}
{{- if .Values.mysql.auth.existingSecret -}}
{{- printf "%s %s" .Values.mysql.auth.existingSecret .Values.mysql.auth.rootPasswordKey -}}
{{- else -}}
{{- printf "%s root-password" (include "po.mysqlSecretName" .) -}}
{{- end -}}
{{- end -}}

{{/* "name key" of the Redis password, or "" when Redis has none. */}}
{{- define "po.redisPasswordSecret" -}}
{{- if .Values.redis.auth.existingSecret -}}
{{- printf "%s %s" .Values.redis.auth.existingSecret .Values.redis.auth.passwordKey -}}
{{- else if .Values.redis.create -}}
{{- printf "%s redis-password" (include "po.redisSecretName" .) -}}
{{- end -}}
{{- end -}}

{{- define "po.rabbitmqPasswordSecret" -}}
{{- if .Values.rabbitmq.auth.existingSecret -}}
{{- printf "%s %s" .Values.rabbitmq.auth.existingSecret .Values.rabbitmq.auth.passwordKey -}}
{{- else if .Values.rabbitmq.create -}}
{{- printf "%s rabbitmq-password" (include "po.rabbitmqSecretName" .) -}}
{{- else -}}
{{- fail "rabbitmq: with rabbitmq.create=false set rabbitmq.auth.existingSecret or rabbitmq.urlSecret.name" -}}
{{- end -}}
{{- end -}}

{{- define "po.jwtSecret" -}}
{{- if .Values.account.jwt.existingSecret -}}
{{- printf "%s %s" .Values.account.jwt.existingSecret .Values.account.jwt.key -}}
{{- else -}}
{{- printf "%s private.pem" (include "po.jwtSecretName" .) -}}
{{- end -}}
{{- end -}}

{{/* An EnvVar from "name key". (dict "env" "X" "ref" "name key") */}}
{{- define "po.envFromSecret" -}}
{{- $ref := splitList " " .ref -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ index $ref 0 | quote }}
      key: {{ index $ref 1 | quote }}
{{- end -}}

{{/* Addresses ------------------------------------------------------------- */}}

{{- define "po.mysqlHost" -}}
{{- if .Values.mysql.create -}}
{{- include "po.fullname" . }}-mysql
{{- else -}}
{{- required "mysql.host is required when mysql.create is false" .Values.mysql.host -}}
{{- end -}}
{{- end -}}

{{- define "po.redisHost" -}}
{{- if .Values.redis.create -}}
{{- include "po.fullname" . }}-redis
{{- else -}}
{{- required "redis.host (or redis.urlSecret.name) is required when redis.create is false" .Values.redis.host -}}
{{- end -}}
{{- end -}}

{{- define "po.rabbitmqHost" -}}
{{- if .Values.rabbitmq.create -}}
{{- include "po.fullname" . }}-rabbitmq
{{- else -}}
{{- required "rabbitmq.host (or rabbitmq.urlSecret.name) is required when rabbitmq.create is false" .Values.rabbitmq.host -}}
{{- end -}}
{{- end -}}

{{/*
DATABASE_URL of a service, as EnvVars: either from a Secret holding the whole URL,
or composed from the user, the password Secret and the host with a $(VAR) reference.
(dict "root" $ "svc" "account")
*/}}
{{- define "po.databaseEnv" -}}
{{- $db := (index .root.Values .svc).database -}}
{{- if $db.urlSecret.name -}}
{{ include "po.envFromSecret" (dict "env" "DATABASE_URL" "ref" (printf "%s %s" $db.urlSecret.name $db.urlSecret.key)) }}
{{- else -}}
{{ include "po.envFromSecret" (dict "env" "PO_DATABASE_PASSWORD" "ref" (include "po.dbPasswordSecret" .)) }}
- name: DATABASE_URL
  value: {{ printf "%s:$(PO_DATABASE_PASSWORD)@tcp(%s:%d)/%s" $db.user (include "po.mysqlHost" .root) (int .root.Values.mysql.port) $db.name | quote }}
{{- end -}}
{{- end -}}

{{- define "po.redisEnv" -}}
{{- $r := .Values.redis -}}
{{- if $r.urlSecret.name -}}
{{ include "po.envFromSecret" (dict "env" "REDIS_URL" "ref" (printf "%s %s" $r.urlSecret.name $r.urlSecret.key)) }}
{{- else if include "po.redisPasswordSecret" . -}}
{{ include "po.envFromSecret" (dict "env" "PO_REDIS_PASSWORD" "ref" (include "po.redisPasswordSecret" .)) }}
- name: REDIS_URL
  value: {{ printf "redis://:$(PO_REDIS_PASSWORD)@%s:%d/%d" (include "po.redisHost" .) (int $r.port) (int $r.database) | quote }}
{{- else -}}
- name: REDIS_URL
  value: {{ printf "redis://%s:%d/%d" (include "po.redisHost" .) (int $r.port) (int $r.database) | quote }}
{{- end -}}
{{- end -}}

{{- define "po.amqpEnv" -}}
{{- $q := .Values.rabbitmq -}}
{{- if $q.urlSecret.name -}}
{{ include "po.envFromSecret" (dict "env" "AMQP_URL" "ref" (printf "%s %s" $q.urlSecret.name $q.urlSecret.key)) }}
{{- else -}}
{{ include "po.envFromSecret" (dict "env" "PO_AMQP_PASSWORD" "ref" (include "po.rabbitmqPasswordSecret" .)) }}
- name: AMQP_URL
  value: {{ printf "amqp://%s:$(PO_AMQP_PASSWORD)@%s:%d/%s" $q.auth.username (include "po.rabbitmqHost" .) (int $q.port) (ternary "" (urlquery $q.vhost) (eq $q.vhost "/")) | quote }}
{{- end -}}
{{- end -}}

{{- define "po.jwksURL" -}}
{{- default (printf "http://%s-account:%d/.well-known/jwks.json" (include "po.fullname" .) (int .Values.account.port)) .Values.challenge.jwksURL -}}
{{- end -}}

{{/* A NetworkPolicy peer: the pods of one component of this release. */}}
{{- define "po.npPeer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
      app.kubernetes.io/component: {{ .component | quote }}
{{- end -}}

{{/*
OTEL_EXPORTER_OTLP_ENDPOINT of the services: tracing.endpoint, else the
in-chart Jaeger when it is enabled, else empty (tracing off).
*/}}
{{- define "po.otlpEndpoint" -}}
{{- if .Values.tracing.endpoint -}}
{{- .Values.tracing.endpoint -}}
{{- else if .Values.tracing.jaeger.enabled -}}
{{- printf "http://%s-jaeger:4318" (include "po.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The TCP port of tracing.endpoint (its own, or 443/80 by scheme). */}}
{{- define "po.otlpEndpointPort" -}}
{{- $u := urlParse .Values.tracing.endpoint -}}
{{- $parts := splitList ":" $u.host -}}
{{- if gt (len $parts) 1 -}}
{{- last $parts -}}
{{- else if eq $u.scheme "https" -}}
443
{{- else -}}
80
{{- end -}}
{{- end -}}

{{/*
Environment of a service container (docs/conventions.md, "Configuration").
Passwords come from Secrets as PO_* variables and are composed into the URLs
with $(VAR) references, which Kubernetes expands from variables defined earlier.
(dict "root" $ "svc" "account")
*/}}
{{- define "po.serviceEnv" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .svc -}}
{{- $c := $root.Values.common -}}
- name: HTTP_ADDR
  value: {{ printf ":%d" (int $v.port) | quote }}
- name: LOG_LEVEL
  value: {{ $c.logLevel | quote }}
- name: LOG_FORMAT
  value: {{ $c.logFormat | quote }}
- name: LOG_FLUSH_INTERVAL
  value: {{ $c.logFlushInterval | quote }}
- name: HTTP_BODY_LIMIT
  value: {{ $c.httpBodyLimit | int64 | toString | quote }}
- name: HTTP_MAX_IN_FLIGHT
  value: {{ $c.httpMaxInFlight | int64 | toString | quote }}
- name: HTTP_QUEUE_TIMEOUT
  value: {{ $c.httpQueueTimeout | quote }}
- name: SHUTDOWN_TIMEOUT
  value: {{ $c.shutdownTimeout | quote }}
{{- /* Always set, empty when no proxy is trusted (docs/conventions.md). */}}
- name: TRUSTED_PROXIES
  value: {{ join "," ($c.trustedProxies | default list) | quote }}
{{- if and $v.resources $v.resources.limits $v.resources.limits.memory }}
{{- /* The Go runtime does not read the cgroup memory limit: without this it
lets garbage grow towards the OOM killer instead of collecting it. */}}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end }}
{{ include "po.databaseEnv" . }}
{{ include "po.redisEnv" $root }}
{{ include "po.amqpEnv" $root }}
- name: AMQP_EXCHANGE
  value: {{ $c.amqpExchange | quote }}
- name: AMQP_QUEUE_TYPE
  value: {{ $c.amqpQueueType | quote }}
- name: AMQP_DELIVERY_LIMIT
  value: {{ $c.amqpDeliveryLimit | quote }}
- name: OUTBOX_RETENTION
  value: {{ $c.events.outboxRetention | quote }}
- name: INBOX_RETENTION
  value: {{ $c.events.inboxRetention | quote }}
- name: JWT_ISSUER
  value: {{ $c.jwt.issuer | quote }}
- name: JWT_AUDIENCE
  value: {{ $c.jwt.audience | quote }}
{{- if eq .svc "account" }}
- name: JWT_SIGNING_KEY_FILE
  value: /etc/po/jwt/{{ $v.jwt.key | default "private.pem" }}
{{- if $v.jwt.previousKeys }}
- name: JWT_PREVIOUS_KEY_FILES
  value: {{ include "po.previousKeyFiles" $root | quote }}
{{- end }}
- name: ACCESS_TOKEN_TTL
  value: {{ $v.jwt.accessTokenTTL | quote }}
- name: REFRESH_TOKEN_TTL
  value: {{ $v.jwt.refreshTokenTTL | quote }}
- name: REFRESH_FAMILY_MAX_AGE
  value: {{ $v.jwt.refreshFamilyMaxAge | quote }}
- name: EXPIRED_REFRESH_TOKEN_RETENTION
  value: {{ $v.jwt.expiredRefreshTokenRetention | quote }}
- name: LOGIN_MAX_FAILURES
  value: {{ $v.login.maxFailures | int | toString | quote }}
- name: LOGIN_LOCKOUT
  value: {{ $v.login.lockout | quote }}
- name: REDIS_KEY_PREFIX
  value: {{ $v.redisKeyPrefix | quote }}
- name: PASSWORD_HASH_MEMORY_KIB
  value: {{ $v.passwordHash.memoryKiB | int | toString | quote }}
- name: PASSWORD_HASH_ITERATIONS
  value: {{ $v.passwordHash.iterations | int | toString | quote }}
- name: PASSWORD_HASH_PARALLELISM
  value: {{ $v.passwordHash.parallelism | int | toString | quote }}
{{- if $v.admin.email }}
- name: ADMIN_EMAIL
  value: {{ $v.admin.email | quote }}
{{ include "po.envFromSecret" (dict "env" "ADMIN_PASSWORD" "ref" (printf "%s %s" (required "account.admin.existingSecret is required with account.admin.email" $v.admin.existingSecret) $v.admin.passwordKey)) }}
{{- end }}
{{- else }}
- name: JWKS_URL
  value: {{ include "po.jwksURL" $root | quote }}
- name: CACHE_ENABLED
  value: {{ $v.cache.enabled | toString | quote }}
- name: CACHE_TTL
  value: {{ $v.cache.ttl | quote }}
- name: CACHE_KEY_PREFIX
  value: {{ $v.cache.keyPrefix | quote }}
- name: CACHE_TIMEOUT
  value: {{ $v.cache.timeout | quote }}
- name: CACHE_NEAR_SIZE_MB
  value: {{ $v.cache.near.sizeMB | quote }}
- name: CACHE_NEAR_TTL
  value: {{ $v.cache.near.ttl | quote }}
{{- end }}
{{- with include "po.otlpEndpoint" $root }}
{{- /* Tracing (kit/tracing): only with an endpoint; the SDK reads the rest. */}}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $root.Values.tracing.sampler | quote }}
{{- with $root.Values.tracing.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with $c.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Mount paths of the previous JWT keys, comma separated. */}}
{{- define "po.previousKeyFiles" -}}
{{- $files := list -}}
{{- range $i, $k := .Values.account.jwt.previousKeys -}}
{{- $files = append $files (printf "/etc/po/jwt-previous/%d/%s" $i $k.key) -}}
{{- end -}}
{{- join "," $files -}}
{{- end -}}

/**
 * The documented environment variables and the config key each one sets. One table, so the
 * README, the example config and the loader cannot drift apart.
 */
export interface EnvVar {
  name: string;
  path: string;
  /** trust: express's 'trust proxy' value (true/false, a hop count, or an address list). */
  kind: 'string' | 'number' | 'boolean' | 'list' | 'trust';
}

export const ENV_VARS: readonly EnvVar[] = [
  { name: 'UNIXID_ISSUER', path: 'issuer', kind: 'string' },
  { name: 'UNIXID_DATA_DIR', path: 'dataDir', kind: 'string' },
  { name: 'UNIXID_HOST', path: 'server.host', kind: 'string' },
  { name: 'UNIXID_PORT', path: 'server.port', kind: 'number' },
  { name: 'UNIXID_TRUST_PROXY', path: 'server.trustProxy', kind: 'trust' },
  { name: 'UNIXID_SHUTDOWN_GRACE_SECONDS', path: 'server.shutdownGraceSeconds', kind: 'number' },
  { name: 'UNIXID_REDIS_URL', path: 'store.redisUrl', kind: 'string' },
  { name: 'UNIXID_REDIS_KEY_PREFIX', path: 'store.keyPrefix', kind: 'string' },
  { name: 'UNIXID_SIGNING_KEY_FILE', path: 'keys.signingKeyFile', kind: 'string' },
  { name: 'UNIXID_KEY_SOURCE', path: 'keys.source', kind: 'string' },
  { name: 'UNIXID_TLS_CERT_FILE', path: 'server.tls.certFile', kind: 'string' },
  { name: 'UNIXID_TLS_KEY_FILE', path: 'server.tls.keyFile', kind: 'string' },
  { name: 'UNIXID_TLS_CLIENT_CA_FILE', path: 'server.tls.clientCaFile', kind: 'string' },
  { name: 'UNIXID_AUDIT_FILE', path: 'observability.audit.file', kind: 'string' },
  { name: 'UNIXID_METRICS_ENABLED', path: 'observability.metrics.enabled', kind: 'boolean' },
  { name: 'UNIXID_THROTTLE_ENABLED', path: 'throttle.enabled', kind: 'boolean' },
  { name: 'UNIXID_THROTTLE_ALLOW_LIST', path: 'throttle.allowList', kind: 'list' },
  { name: 'UNIXID_COOKIE_KEYS', path: 'keys.cookieKeys', kind: 'list' },
  { name: 'UNIXID_ID_TOKEN_SECONDS', path: 'tokens.idTokenSeconds', kind: 'number' },
  { name: 'UNIXID_REFRESH_TOKEN_SECONDS', path: 'tokens.refreshTokenSeconds', kind: 'number' },
  { name: 'UNIXID_SESSION_SECONDS', path: 'tokens.sessionSeconds', kind: 'number' },
  { name: 'UNIXID_BACKEND', path: 'backend.type', kind: 'string' },
  { name: 'UNIXID_PAM_SERVICE', path: 'pam.service', kind: 'string' },
  { name: 'UNIXID_PAM_MAX_CONCURRENT', path: 'pam.maxConcurrent', kind: 'number' },
  { name: 'UNIXID_NSS_CACHE_TTL_SECONDS', path: 'nss.cacheTtlSeconds', kind: 'number' },
  { name: 'UNIXID_GROUPS_SOURCE', path: 'groups.source', kind: 'string' },
  { name: 'UNIXID_GROUPS_PREFIX', path: 'groups.prefix', kind: 'string' },
  { name: 'UNIXID_GROUPS_INCLUDE', path: 'groups.include', kind: 'list' },
  { name: 'UNIXID_GROUPS_EXCLUDE', path: 'groups.exclude', kind: 'list' },
  { name: 'UNIXID_LDAP_URLS', path: 'ldap.urls', kind: 'list' },
  { name: 'UNIXID_LDAP_START_TLS', path: 'ldap.startTLS', kind: 'boolean' },
  { name: 'UNIXID_LDAP_ALLOW_INSECURE', path: 'ldap.allowInsecure', kind: 'boolean' },
  { name: 'UNIXID_LDAP_CA_FILE', path: 'ldap.tls.caFile', kind: 'string' },
  { name: 'UNIXID_LDAP_CERT_FILE', path: 'ldap.tls.certFile', kind: 'string' },
  { name: 'UNIXID_LDAP_KEY_FILE', path: 'ldap.tls.keyFile', kind: 'string' },
  { name: 'UNIXID_LDAP_TLS_SERVER_NAME', path: 'ldap.tls.serverName', kind: 'string' },
  { name: 'UNIXID_LDAP_TLS_REJECT_UNAUTHORIZED', path: 'ldap.tls.rejectUnauthorized', kind: 'boolean' },
  { name: 'UNIXID_LDAP_CONNECT_TIMEOUT_MS', path: 'ldap.connectTimeoutMs', kind: 'number' },
  { name: 'UNIXID_LDAP_TIMEOUT_MS', path: 'ldap.timeoutMs', kind: 'number' },
  { name: 'UNIXID_LDAP_BIND_DN', path: 'ldap.bind.dn', kind: 'string' },
  { name: 'UNIXID_LDAP_BIND_PASSWORD_FILE', path: 'ldap.bind.passwordFile', kind: 'string' },
  { name: 'UNIXID_LDAP_USER_DN_TEMPLATE', path: 'ldap.userDnTemplate', kind: 'string' },
  { name: 'UNIXID_LDAP_USER_BASE_DN', path: 'ldap.userSearch.baseDn', kind: 'string' },
  { name: 'UNIXID_LDAP_USER_FILTER', path: 'ldap.userSearch.filter', kind: 'string' },
  { name: 'UNIXID_LDAP_GROUP_BASE_DN', path: 'ldap.groupSearch.baseDn', kind: 'string' },
  { name: 'UNIXID_LDAP_GROUP_FILTER', path: 'ldap.groupSearch.filter', kind: 'string' },
  { name: 'UNIXID_LDAP_GROUP_NESTED', path: 'ldap.groupSearch.nested', kind: 'boolean' },
  { name: 'UNIXID_PAM_TIMEOUT_MS', path: 'pam.timeoutMs', kind: 'number' },
  { name: 'UNIXID_NSS_TIMEOUT_MS', path: 'nss.timeoutMs', kind: 'number' },
  { name: 'UNIXID_ACCESS_TOKEN_SECONDS', path: 'tokens.accessTokenSeconds', kind: 'number' },
  { name: 'UNIXID_DEVICE_POLL_INTERVAL_SECONDS', path: 'tokens.deviceCodePollIntervalSeconds', kind: 'number' },
  { name: 'UNIXID_KUBERNETES_CLIENT_ID', path: 'kubernetes.clientId', kind: 'string' },
  { name: 'UNIXID_KUBERNETES_USERNAME_PREFIX', path: 'kubernetes.usernamePrefix', kind: 'string' },
  { name: 'UNIXID_KUBERNETES_GROUPS_PREFIX', path: 'kubernetes.groupsPrefix', kind: 'string' },
  { name: 'UNIXID_WEBHOOK_CHECK_REVOCATION', path: 'kubernetes.webhook.checkRevocation', kind: 'boolean' },
  { name: 'UNIXID_WEBHOOK_PORT', path: 'kubernetes.webhook.port', kind: 'number' },
  { name: 'UNIXID_WEBHOOK_HOST', path: 'kubernetes.webhook.host', kind: 'string' },
  { name: 'UNIXID_AUTHZ_ENABLED', path: 'kubernetes.authorization.enabled', kind: 'boolean' },
  { name: 'UNIXID_AUTHZ_POLICY_FILE', path: 'kubernetes.authorization.policyFile', kind: 'string' },
  { name: 'UNIXID_LOG_LEVEL', path: 'logging.level', kind: 'string' },
];

/** Parse one variable's text into the value its key takes; invalid text is left for the schema to reject. */
export function parseEnvValue(kind: EnvVar['kind'], raw: string): unknown {
  switch (kind) {
    case 'number':
      return raw.trim() === '' ? raw : Number(raw);
    case 'boolean':
      return /^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : raw;
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'trust':
      // As a string "true" would reach express as an address list (and fail at start).
      if (/^(true|false)$/i.test(raw.trim())) return raw.trim().toLowerCase() === 'true';
      return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    default:
      return raw;
  }
}

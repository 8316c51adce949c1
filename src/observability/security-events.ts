import type { AuditLog } from './audit.js';
import type { LoginOutcome, Metrics, TokenReviewOutcome } from './metrics.js';
import type { LoginEvent } from '../web/password-check.js';
import type { BanEvent } from '../store/login-throttle.js';
import { createNameFingerprint, type NameFingerprint } from '../logging/name-fingerprint.js';

/**
 * The hooks the rest of unixid calls when something security-relevant happens; each one feeds the
 * metrics and the audit stream, so the two never disagree and call sites stay one line.
 */
export interface SecurityEvents {
  login(event: LoginEvent): void;
  ban(event: BanEvent): void;
  refreshDenied(subject: string, username: string, reason: string): void;
  tokensIssued(grantType: string): void;
  tokenReview(outcome: TokenReviewOutcome, count?: number): void;
  authorization(decision: string): void;
  logout(accountId: string | undefined, grants: number): void;
}

/**
 * Hooks over the given metrics registry and audit log. Never throws. A banned username is audited
 * by its fingerprint: the throttle counts names as typed, which need not be accounts.
 */
export function createSecurityEvents(metrics: Metrics, audit: AuditLog, fingerprint: NameFingerprint = createNameFingerprint()): SecurityEvents {
  return {
    login(e) {
      metrics.login(e.backend, e.outcome as LoginOutcome);
      const type = e.outcome === 'success' ? 'login.success' : e.outcome === 'throttled' ? 'login.throttled' : 'login.failure';
      audit.event(type, { ...(e.username !== undefined ? { username: e.username } : {}), userFp: e.userFp, clientId: e.clientId, ip: e.ip, backend: e.backend, via: e.via, ...(e.reason ? { reason: e.reason } : {}) });
    },
    ban(e) {
      metrics.throttled(e.kind);
      audit.event('login.throttled', { scope: e.kind, banSeconds: e.banSeconds, failures: e.failures, ...(e.kind === 'ip' ? { ip: e.subject } : { userFp: fingerprint(e.subject) }) });
    },
    refreshDenied(subject, username, reason) {
      metrics.refresh('denied');
      audit.event('refresh.denied', { sub: subject, username, reason });
    },
    tokensIssued(grantType) {
      metrics.tokensIssued(grantType);
      if (grantType === 'refresh_token') metrics.refresh('ok');
    },
    tokenReview: (outcome, count) => metrics.tokenReview(outcome, count),
    authorization: (decision) => metrics.authorization(decision),
    logout(accountId, grants) {
      audit.event('logout', { sub: accountId, grantsRevoked: grants });
    },
  };
}

/**
 * Brute-force protection in front of a credential backend: asked before each attempt, told the
 * outcome after. A refused attempt never reaches PAM or LDAP.
 */
export interface LoginGate {
  check(username: string, ip: string): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }>;
  failed(username: string, ip: string): Promise<void>;
  succeeded(username: string, ip: string): Promise<void>;
}

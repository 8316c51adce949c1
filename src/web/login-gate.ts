/**
 * Brute-force protection in front of a credential backend: asked before each attempt, told the
 * outcome after. A refused attempt never reaches PAM or LDAP.
 */
export interface LoginGate {
  /**
   * Whether an attempt may go ahead. `counted` says whether the username had failures counted
   * when it was asked: when it had none, a success need not be reported (there is nothing to reset).
   */
  check(username: string, ip: string): Promise<{ allowed: true; counted: boolean } | { allowed: false; retryAfterSeconds: number }>;
  failed(username: string, ip: string): Promise<void>;
  /** Resets the username's failure count. */
  succeeded(username: string, ip: string): Promise<void>;
}

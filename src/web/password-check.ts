import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CredentialBackend, LoginFailureReason } from '../backends/types.js';
import { BackendUnavailableError, DirectoryUnavailableError, LoginAbandonedError } from '../errors.js';
import type { Identity } from '../identity.js';
import { createNameFingerprint, type NameFingerprint } from '../logging/name-fingerprint.js';
import type { InFlightLimit } from './in-flight-limit.js';
import type { LoginGate } from './login-gate.js';
import { loginFailureMessage } from './login-messages.js';

/** One login attempt, as the audit and metrics hooks see it. */
export interface LoginEvent {
  /** The name as typed; absent when the backend did not recognise it as an account (see `userFp`). */
  username?: string;
  /** Keyed fingerprint of the typed name, on every event: it correlates attempts whether or not the name is shown. */
  userFp: string;
  clientId: string;
  ip: string;
  backend: string;
  outcome: 'success' | 'failure' | 'throttled' | 'unavailable';
  reason?: string;
  /** Which door the attempt came through: form, password grant, basic-auth token. */
  via: string;
}

export interface PasswordCheckDeps {
  backend: CredentialBackend;
  logger: Logger;
  gate?: LoginGate;
  onLogin?: (event: LoginEvent) => void;
  /** A refused or throttled attempt answers no sooner than this, so timing tells no account apart. */
  minResponseMs?: number;
  /** Stands in for names the backend did not recognise (default: a per-process key). */
  fingerprint?: NameFingerprint;
  /** Caps the checks one address has in flight (throttle.maxInFlightPerAddress). */
  inFlight?: InFlightLimit;
}

/**
 * Refusals after which the typed name is known to be an account. After any other (no such user, a
 * name refused before the backend saw it, a backend that cannot tell unknown users from wrong
 * passwords) the name may well be a password typed into the wrong field, so logs and audit events
 * carry its fingerprint instead, and not the backend's detail (which may quote the name).
 */
const NAME_IS_ACCOUNT: ReadonlySet<LoginFailureReason> = new Set(['wrong_password', 'account_locked', 'account_expired', 'access_denied', 'password_change_required']);

const processFingerprint = createNameFingerprint();

export interface Attempt {
  username: string;
  password: string;
  ip: string;
  clientId: string;
  via: string;
  requestId?: string;
  /** Fires when the client has gone (see `abandonSignal`): a password check still waiting for PAM is dropped. */
  signal?: AbortSignal;
}

/**
 * A signal that fires when the client closes the connection before its answer was sent: a guesser
 * who gives up (or a load balancer timing out) must not leave its attempt queued for PAM, ahead of
 * the people still waiting.
 */
export function abandonSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export type PasswordCheck =
  | { ok: true; identity: Identity }
  | { ok: false; kind: 'throttled'; retryAfterSeconds: number }
  | { ok: false; kind: 'refused'; message: string }
  | { ok: false; kind: 'unavailable'; message: string };

/**
 * The one path every password takes, whatever door it came through: throttle first (a throttled
 * attempt never reaches PAM or LDAP), then the backend, then the throttle's bookkeeping, a log line
 * and the login event. Never throws for a refusal; the password copy is wiped after use.
 */
export async function checkPassword(deps: PasswordCheckDeps, attempt: Attempt): Promise<PasswordCheck> {
  const started = Date.now();
  const result = await attemptLogin(deps, attempt);
  const pad = (deps.minResponseMs ?? 0) - (Date.now() - started);
  if (!result.ok && result.kind !== 'unavailable' && pad > 0) await new Promise((r) => setTimeout(r, pad));
  return result;
}

async function attemptLogin(deps: PasswordCheckDeps, attempt: Attempt): Promise<PasswordCheck> {
  const { backend, logger } = deps;
  const { username, ip, clientId, via } = attempt;
  const userFp = (deps.fingerprint ?? processFingerprint)(username);
  // The name itself is added only once the backend has shown it is an account (see NAME_IS_ACCOUNT).
  const base: AttemptFields = { reqId: attempt.requestId, userFp, ip, clientId, backend: backend.type, via };
  const event = (outcome: LoginEvent['outcome'], reason?: string) => deps.onLogin?.({ userFp, clientId, ip, backend: backend.type, outcome, via, ...(reason ? { reason } : {}) });

  // Whether a success has a failure count to reset (see LoginGate.check).
  let counted = false;
  if (deps.gate) {
    let gate;
    try {
      gate = await deps.gate.check(username, ip);
    } catch (err) {
      // Fail closed: without the shared counters nobody may guess passwords.
      logger.error({ ...base, err: (err as Error).message }, 'login throttle unavailable');
      event('unavailable', 'throttle_unavailable');
      return { ok: false, kind: 'unavailable', message: 'Login is temporarily unavailable. Please try again in a moment.' };
    }
    if (!gate.allowed) {
      logger.warn({ ...base, retryAfter: gate.retryAfterSeconds }, 'login throttled');
      event('throttled');
      return { ok: false, kind: 'throttled', retryAfterSeconds: gate.retryAfterSeconds };
    }
    counted = gate.counted;
  }

  const release = deps.inFlight ? deps.inFlight.acquire(ip) : () => {};
  if (!release) {
    // Refused as a throttled attempt is (same answer, no backend call), but without a ban: it ends
    // as soon as this address's earlier checks come back.
    logger.warn({ ...base, limit: 'in_flight' }, 'login throttled');
    event('throttled', 'in_flight');
    return { ok: false, kind: 'throttled', retryAfterSeconds: 1 };
  }
  try {
    return await checkWithBackend(deps, attempt, base, event, counted);
  } finally {
    release();
  }
}

/** The fields every log line of an attempt carries (never the typed name: see NAME_IS_ACCOUNT). */
interface AttemptFields {
  reqId: string | undefined;
  userFp: string;
  ip: string;
  clientId: string;
  backend: string;
  via: string;
}

/** The backend's verdict on an attempt the throttle let through, logged and counted. */
async function checkWithBackend(
  deps: PasswordCheckDeps,
  attempt: Attempt,
  base: AttemptFields,
  event: (outcome: LoginEvent['outcome'], reason?: string) => void,
  counted: boolean,
): Promise<PasswordCheck> {
  const { backend, logger } = deps;
  const { username, ip, clientId, via } = attempt;
  const { userFp } = base;
  const secret = Buffer.from(attempt.password, 'utf8');
  let result;
  try {
    result = await backend.login(username, secret, { remoteAddress: ip, userFp, ...(attempt.requestId ? { requestId: attempt.requestId } : {}), ...(attempt.signal ? { signal: attempt.signal } : {}) });
  } catch (err) {
    if (err instanceof LoginAbandonedError) {
      // Nobody is waiting for this answer, and no password was checked: not a failure to count.
      logger.info(base, 'login abandoned: the client went away before PAM could start');
      return { ok: false, kind: 'unavailable', message: 'The request was abandoned.' };
    }
    // A directory that cannot answer (NSS behind a hung SSSD) is as unavailable as PAM or LDAP.
    if (!(err instanceof BackendUnavailableError || err instanceof DirectoryUnavailableError)) throw err;
    logger.error({ ...base, err: err.detail }, 'login backend unavailable');
    event('unavailable', 'backend_unavailable');
    return { ok: false, kind: 'unavailable', message: err.message };
  } finally {
    secret.fill(0);
  }

  if (!result.ok) {
    const { reason } = result;
    const account = NAME_IS_ACCOUNT.has(reason);
    const shown = account ? { ...base, username, detail: result.detail } : base;
    await deps.gate?.failed(username, ip).catch((err: Error) => logger.error({ ...shown, err: err.message }, 'could not count a failed login'));
    logger.info({ ...shown, reason }, 'login failed');
    deps.onLogin?.({ ...(account ? { username } : {}), userFp, clientId, ip, backend: backend.type, outcome: 'failure', via, reason });
    return { ok: false, kind: 'refused', message: loginFailureMessage(reason) };
  }
  // No failures were counted when the gate was asked: nothing to reset, so no round trip. (A
  // failure counted meanwhile, by a guesser racing this login, is then kept: the stricter outcome.)
  if (counted) await deps.gate?.succeeded(username, ip).catch((err: Error) => logger.error({ ...base, username, err: err.message }, 'could not reset the login counter'));
  const { identity } = result;
  logger.info({ ...base, username: identity.username, sub: identity.subject, backend: identity.backend, groups: identity.groups.length }, 'login succeeded');
  deps.onLogin?.({ username: identity.username, userFp, clientId, ip, backend: identity.backend, outcome: 'success', via });
  return { ok: true, identity };
}

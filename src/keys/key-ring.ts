import { createHash } from 'node:crypto';
import { toVerificationKey, type PrivateJwk, type VerificationKey } from './jwk.js';

/*
 * The signing-key ring: what every source (file, Redis, generated) hands to the provider, and the
 * lifecycle of rotating keys as pure functions of the stored keys and a clock, so that every
 * replica that reads the same keys at the same time derives the same set.
 *
 * Lifecycle of a rotating key (epoch seconds):
 *   createdAt   published in the JWKS from here on (before it signs: kube-apiserver only refetches
 *               the JWKS when its cached copy expires, so a key must be known before first use)
 *   activateAt  signs from here on: the newest key whose activateAt <= now signs
 *   retireAt    = the successor's activateAt: stops signing, stays published
 *   removeAt    = retireAt + the longest lifetime of anything it signed (+ a margin): removed
 */

/** The keys the provider signs with and publishes, as one immutable value. */
export interface KeySet {
  /** Private JWKs in the order oidc-provider must get them: the ACTIVE signing key first, then every other key to publish (pre-published next keys, retired keys still inside their publish window). */
  signing: PrivateJwk[];
  /** Public verification keys (VerificationKey from jwk.ts) for everything published. */
  verification: VerificationKey[];
  /** Changes whenever the set changes (e.g. a hash of kids + roles), so consumers can rebuild. */
  version: string;
}

/** The single source of the keys a running unixid signs with and publishes. */
export interface KeyRing {
  current(): KeySet;
  /** Called after the set changed (new key published, activation, retirement, file changed). */
  onChange(listener: (set: KeySet) => void): void;
  /** Re-read the source now (used by tests and by `keys rotate`); resolves the new set. */
  refresh(): Promise<KeySet>;
  close(): Promise<void>;
}

/**
 * active: signs. next: published, signs later. retired: published, signed until its successor
 * activated. expired: past its publish window, awaiting deletion (not published). published: a
 * key of a static source that is not the first (the operator decides what it is for).
 */
export type KeyRole = 'active' | 'next' | 'retired' | 'expired' | 'published';

/** One key of a rotating ring as it is stored; times in epoch seconds. */
export interface StoredKey {
  kid: string;
  jwk: PrivateJwk;
  createdAt: number;
  activateAt: number;
  /** Written when a successor is created: that successor's activateAt. */
  retireAt?: number;
  /** Written with retireAt: retireAt + the publish window at the time. */
  removeAt?: number;
}

/** A key with its role at one instant and its effective retire/remove times (stored or derived). */
export interface KeyState extends StoredKey {
  role: KeyRole;
}

/** The schedule of a rotating ring, in seconds. */
export interface KeyTimings {
  /** How long a key signs before its successor takes over. */
  rotationSeconds: number;
  /** How long a new key is published before it signs. */
  prepublishSeconds: number;
  /** How long a retired key stays published after retireAt: the longest token it signed, plus a margin. */
  publishAfterRetireSeconds: number;
}

/** What a maintenance run should change in a rotating ring. */
export interface MaintenancePlan {
  /** Create one key that activates at this time (bootstrap: now; rotation: now + prepublish). */
  create?: { activateAt: number; reason: 'bootstrap' | 'rotation' | 'manual' };
  /** Records to rewrite with their retireAt/removeAt filled in (the current newest key when one is created). */
  update: StoredKey[];
  /** Kids past their removeAt. */
  remove: string[];
  /** With `rotate`: why no key is created (a successor is already pending). */
  pending?: StoredKey;
}

/** Seconds a retired key stays published: the longest signed token lifetime plus `retainSeconds`. Never throws. */
export function publishAfterRetire(tokens: { idTokenSeconds: number; longestSignedSeconds?: number | undefined }, retainSeconds: number): number {
  return Math.max(tokens.idTokenSeconds, tokens.longestSignedSeconds ?? 0) + retainSeconds;
}

/** Epoch seconds of a millisecond clock reading. */
export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Oldest activation first; ties by creation then kid, so that every replica orders alike. */
function byActivation(a: StoredKey, b: StoredKey): number {
  return a.activateAt - b.activateAt || a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

/**
 * Every stored key with its role at `now` and effective retireAt/removeAt (stored values win, so
 * replicas with different lifetimes configured still agree), in publish order: active, next
 * (soonest first), retired (newest first), expired. Empty for an empty ring. Never throws.
 */
export function describeRing(keys: readonly StoredKey[], now: number, timings: KeyTimings): KeyState[] {
  const sorted = [...keys].sort(byActivation);
  if (sorted.length === 0) return [];
  let activeIndex = -1;
  sorted.forEach((k, i) => {
    if (k.activateAt <= now) activeIndex = i;
  });
  // Nothing has activated (clock skew against the replica that created the first key): sign with
  // the earliest key rather than with nothing; it is published already.
  if (activeIndex < 0) activeIndex = 0;

  const states = sorted.map((k, i): KeyState => {
    const successor = sorted[i + 1];
    const retireAt = k.retireAt ?? successor?.activateAt;
    const removeAt = k.removeAt ?? (retireAt === undefined ? undefined : retireAt + timings.publishAfterRetireSeconds);
    const state: KeyState = { ...k, role: i === activeIndex ? 'active' : i > activeIndex ? 'next' : 'retired' };
    if (retireAt !== undefined) state.retireAt = retireAt;
    if (removeAt !== undefined) state.removeAt = removeAt;
    if (state.role === 'retired' && removeAt !== undefined && removeAt <= now) state.role = 'expired';
    return state;
  });
  const rank = { active: 0, next: 1, retired: 2, expired: 3, published: 4 } as const;
  return states.sort((a, b) => {
    const r = rank[a.role] - rank[b.role];
    if (r !== 0) return r;
    // next: soonest first; retired/expired: newest first.
    return a.role === 'next' ? byActivation(a, b) : byActivation(b, a);
  });
}

/**
 * The KeySet of keys in publish order (the first signs), skipping expired ones. Throws when a
 * JWK is not a usable private key (callers validate stored keys before) or nothing is left.
 */
export function keySetOf(states: ReadonlyArray<{ jwk: PrivateJwk; role: KeyRole }>): KeySet {
  const live = states.filter((s) => s.role !== 'expired');
  if (live.length === 0) throw new Error('the key ring has no key to sign with');
  const version = createHash('sha256');
  for (const { jwk, role } of live) {
    // Public members only: enough to notice a key replaced under the same kid.
    version.update(JSON.stringify([jwk.kid, role, jwk.alg, jwk.kty, jwk.n, jwk.e, jwk.crv, jwk.x, jwk.y]));
  }
  return {
    signing: live.map((s) => s.jwk),
    verification: live.map((s) => toVerificationKey(s.jwk)),
    version: version.digest('base64url').slice(0, 22),
  };
}

/**
 * What maintenance is due at `now`: bootstrap an active key into an empty ring; create the next
 * key once the newest active one is older than rotationSeconds - prepublishSeconds (or at once
 * with `rotate`), always activating prepublishSeconds from now; remove keys past removeAt.
 * Never creates a key while one is still pending activation. Never throws.
 */
export function planMaintenance(keys: readonly StoredKey[], now: number, timings: KeyTimings, options: { rotate?: boolean } = {}): MaintenancePlan {
  const plan: MaintenancePlan = { update: [], remove: [] };
  if (keys.length === 0) {
    plan.create = { activateAt: now, reason: options.rotate ? 'manual' : 'bootstrap' };
    return plan;
  }
  const states = describeRing(keys, now, timings);
  plan.remove = states.filter((s) => s.role === 'expired').map((s) => s.kid);

  const newest = [...keys].sort(byActivation).at(-1)!;
  if (newest.activateAt > now) {
    if (options.rotate) plan.pending = newest;
  } else if (options.rotate || now >= newest.activateAt + timings.rotationSeconds - timings.prepublishSeconds) {
    const activateAt = now + timings.prepublishSeconds;
    plan.create = { activateAt, reason: options.rotate ? 'manual' : 'rotation' };
    plan.update.push({ ...newest, retireAt: activateAt, removeAt: activateAt + timings.publishAfterRetireSeconds });
  }

  // Record the derived times of keys that have a successor but not yet their own (a successor
  // written by an older version, or by hand), so that `keys list` and every replica agree.
  const removing = new Set(plan.remove);
  for (const s of states) {
    if (removing.has(s.kid) || s.kid === newest.kid) continue;
    const stored = keys.find((k) => k.kid === s.kid);
    if (stored && (stored.retireAt === undefined || stored.removeAt === undefined) && s.retireAt !== undefined && s.removeAt !== undefined) {
      plan.update.push({ ...stored, retireAt: s.retireAt, removeAt: s.removeAt });
    }
  }
  return plan;
}

/** Whether a plan changes anything. */
export function isDue(plan: MaintenancePlan): boolean {
  return plan.create !== undefined || plan.update.length > 0 || plan.remove.length > 0;
}

/** The next instant after `now` at which a role changes without any write (an activation or a removal), if any. */
export function nextTransition(keys: readonly StoredKey[], now: number, timings: KeyTimings): number | undefined {
  let next: number | undefined;
  for (const s of describeRing(keys, now, timings)) {
    for (const t of [s.activateAt, s.removeAt]) {
      if (t !== undefined && t > now && (next === undefined || t < next)) next = t;
    }
  }
  return next;
}

/** The KeyStates of a static source: the first key signs, the others are only published. */
export function staticStates(jwks: readonly PrivateJwk[]): Array<{ kid: string; jwk: PrivateJwk; role: KeyRole }> {
  return jwks.map((jwk, i) => ({ kid: jwk.kid, jwk, role: i === 0 ? 'active' : 'published' }));
}

/** A list of keyring listeners that never lets one listener's failure reach the others or the ring. */
export function createListeners(onError: (err: unknown) => void): { add(l: (set: KeySet) => void): void; emit(set: KeySet): void } {
  const listeners: Array<(set: KeySet) => void> = [];
  return {
    add: (l) => void listeners.push(l),
    emit(set) {
      for (const l of listeners) {
        try {
          l(set);
        } catch (err) {
          onError(err);
        }
      }
    },
  };
}

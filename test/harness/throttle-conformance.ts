import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BanEvent, LoginThrottle, ThrottleLimit, ThrottleOptions } from '../../src/store/login-throttle.js';

/** One throttle implementation under test, as the shared suite sees it. */
export interface ThrottleTarget {
  /** A throttle with these limits. On Redis every one shares the same server and key prefix. */
  create(options: ThrottleOptions): LoginThrottle;
  /** Let `ms` pass: the injected clock for memory, real time for Redis. */
  advance(ms: number): Promise<void>;
  close?(): Promise<void>;
}

const limit = (maxFailures: number, windowSeconds: number, banSeconds: number): ThrottleLimit => ({ maxFailures, windowSeconds, banSeconds });
// Long enough that nothing expires during a test that does not wait on purpose.
const SLOW = limit(100, 60, 60);
// A 1 s ban and a 1 s window, waited out with this much to spare (real time against Redis).
const PAST_ONE_SECOND = 1200;

// Every test uses fresh subjects, so tests sharing one Redis cannot see each other's counters.
const user = (): string => `u${randomBytes(5).toString('hex')}`;
const ipv4 = (): string => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const hex16 = (): string => randomInt(0x10000).toString(16);
const ipv6Prefix = (): string => `2001:db8:${hex16()}:${hex16()}`;
/** ASCII letters and digits as their fullwidth look-alikes (what NFKC folds back). */
const fullwidth = (s: string): string => [...s].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('');

async function failTimes(t: LoginThrottle, n: number, username: string, ip: string): Promise<void> {
  for (let i = 0; i < n; i++) await t.failed(username, ip);
}

async function assertAllowed(t: LoginThrottle, username: string, ip: string, why: string): Promise<void> {
  assert.equal((await t.check(username, ip)).allowed, true, why);
}

async function assertBanned(t: LoginThrottle, username: string, ip: string, why: string): Promise<number> {
  const r = await t.check(username, ip);
  assert.equal(r.allowed, false, why);
  assert.ok(!r.allowed && Number.isInteger(r.retryAfterSeconds) && r.retryAfterSeconds >= 1, `${why}: retryAfterSeconds ${JSON.stringify(r)}`);
  return r.allowed ? 0 : r.retryAfterSeconds;
}

/**
 * The LoginThrottle contract every implementation keeps: one suite, run against the memory
 * throttle and the Redis one. `makeTarget` runs once before the tests.
 */
export function throttleConformance(name: string, makeTarget: () => Promise<ThrottleTarget>): void {
  describe(`${name}: login throttle conformance`, () => {
    let target: ThrottleTarget;

    before(async () => {
      target = await makeTarget();
    });
    after(async () => {
      await target?.close?.();
    });

    it('allows attempts until maxFailures, then bans the username from every address with a retryAfter near banSeconds', async () => {
      const t = target.create({ username: limit(3, 60, 30), ip: SLOW });
      const [name, ip] = [user(), ipv4()];
      for (let i = 0; i < 3; i++) {
        await assertAllowed(t, name, ip, `attempt ${i + 1}`);
        await t.failed(name, ip);
      }
      const retry = await assertBanned(t, name, ip, 'after 3 failures');
      assert.ok(retry >= 29 && retry <= 30, `retryAfterSeconds ${retry}`);
      await assertBanned(t, name, ipv4(), 'the ban follows the username to another address');
      await assertAllowed(t, user(), ip, 'another user from the same address (3 of 100 address failures)');
      const status = await t.status({ username: name });
      assert.equal(status.failures, 3);
      assert.ok(status.bannedForSeconds >= 29 && status.bannedForSeconds <= 30, `bannedForSeconds ${status.bannedForSeconds}`);
    });

    it('a ban ends after banSeconds', async () => {
      const t = target.create({ username: limit(3, 60, 1), ip: SLOW });
      const [name, ip] = [user(), ipv4()];
      await failTimes(t, 3, name, ip);
      await assertBanned(t, name, ip, 'banned');
      await target.advance(PAST_ONE_SECOND);
      await assertAllowed(t, name, ip, 'after the ban');
      assert.equal((await t.status({ username: name })).bannedForSeconds, 0);
      // The window (60 s) still holds the earlier failures, so one more bans again at once.
      await t.failed(name, ip);
      await assertBanned(t, name, ip, 'one more failure in the same window');
    });

    it('failures older than the window are forgotten', async () => {
      const t = target.create({ username: limit(3, 1, 60), ip: SLOW });
      const [name, ip] = [user(), ipv4()];
      await failTimes(t, 2, name, ip);
      await target.advance(PAST_ONE_SECOND);
      assert.equal((await t.status({ username: name })).failures, 0);
      await failTimes(t, 2, name, ip);
      await assertAllowed(t, name, ip, '2 + 2 failures in two windows');
      assert.equal((await t.status({ username: name })).failures, 2);
    });

    it('a success resets the username counter but not the address counter', async () => {
      const t = target.create({ username: limit(3, 60, 60), ip: SLOW });
      const [name, ip] = [user(), ipv4()];
      await failTimes(t, 2, name, ip);
      await t.succeeded(name, ip);
      assert.equal((await t.status({ username: name })).failures, 0);
      await failTimes(t, 2, name, ip);
      await assertAllowed(t, name, ip, '2 failures, a success, 2 failures');
      assert.equal((await t.status({ ip })).failures, 4, 'the address keeps every failure');
    });

    it('check reports whether the username has failures counted (any spelling), so a success without any need not reset', async () => {
      const t = target.create({ username: limit(3, 1, 60), ip: SLOW });
      const [name, ip] = [user(), ipv4()];
      assert.deepEqual(await t.check(name, ip), { allowed: true, counted: false }, 'never seen');
      await t.failed(user(), ip);
      assert.deepEqual(await t.check(name, ip), { allowed: true, counted: false }, "another username's failure from this address");
      await t.failed(name.toUpperCase(), ipv4());
      assert.deepEqual(await t.check(fullwidth(name), ip), { allowed: true, counted: true }, 'one failure, from anywhere, any spelling');
      await t.succeeded(name, ip);
      assert.deepEqual(await t.check(name, ip), { allowed: true, counted: false }, 'reset by a success');
      await t.failed(name, ip);
      await target.advance(PAST_ONE_SECOND);
      assert.deepEqual(await t.check(name, ip), { allowed: true, counted: false }, 'the window has passed');
    });

    it('spraying many usernames from one address bans the address, independently of any username', async () => {
      const t = target.create({ username: limit(3, 60, 60), ip: limit(6, 60, 60) });
      const ip = ipv4();
      const names = Array.from({ length: 6 }, user);
      for (const n of names) await t.failed(n, ip);
      for (const n of names) assert.equal((await t.status({ username: n })).failures, 1);
      await assertBanned(t, user(), ip, 'a fresh username from the sprayed address');
      await assertAllowed(t, names[0]!, ipv4(), 'a sprayed username from elsewhere');
      assert.ok((await t.status({ ip })).bannedForSeconds > 0);
    });

    it('case variants and fullwidth look-alikes of a username share one counter', async () => {
      const t = target.create({ username: limit(3, 60, 60), ip: SLOW });
      const base = user();
      const ip = ipv4();
      await t.failed(base[0]!.toUpperCase() + base.slice(1), ip);
      await t.failed(base, ip);
      await t.failed(fullwidth(base.toUpperCase()), ip);
      await assertBanned(t, base.toUpperCase(), ipv4(), 'upper case');
      await assertBanned(t, fullwidth(base), ipv4(), 'fullwidth');
      assert.equal((await t.status({ username: fullwidth(base) })).failures, 3);
    });

    it('IPv6 addresses of one /64 share a counter; other /64s do not', async () => {
      const t = target.create({ username: SLOW, ip: limit(3, 60, 60) });
      const p = ipv6Prefix();
      await t.failed(user(), `${p}::1`);
      await t.failed(user(), `${p}:ffff:ffff:ffff:ffff`);
      await t.failed(user(), `${p.toUpperCase()}:0:0:0:abcd`);
      await assertBanned(t, user(), `${p}::42`, 'another address in the /64');
      const [a, b, c, d] = p.split(':');
      await assertAllowed(t, user(), `${a}:${b}:${c}:${((parseInt(d!, 16) + 1) % 0x10000).toString(16)}::1`, 'the next /64');
      assert.ok((await t.status({ ip: `${p}::7` })).bannedForSeconds > 0);
    });

    it('an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
      const t = target.create({ username: SLOW, ip: limit(3, 60, 60) });
      const ip = ipv4();
      await t.failed(user(), `::ffff:${ip}`);
      await t.failed(user(), ip);
      await t.failed(user(), `::FFFF:${ip}`);
      await assertBanned(t, user(), ip, 'plain IPv4');
      await assertBanned(t, user(), `::ffff:${ip}`, 'mapped');
    });

    it('allow-listed addresses are never IP-banned, but their usernames still are', async () => {
      const t = target.create({
        username: limit(3, 60, 60),
        ip: limit(3, 60, 60),
        allowList: ['192.0.2.0/24', '2001:db8:ffff::/48', '198.51.100.7'],
      });
      for (const ip of ['192.0.2.10', '::ffff:192.0.2.11', '2001:db8:ffff:1::1', '198.51.100.7']) {
        for (let i = 0; i < 5; i++) await t.failed(user(), ip);
        await assertAllowed(t, user(), ip, `allow-listed ${ip}`);
        assert.deepEqual(await t.status({ ip }), { failures: 0, bannedForSeconds: 0 }, `nothing counted for ${ip}`);
      }
      const name = user();
      await failTimes(t, 3, name, '192.0.2.20');
      await assertBanned(t, name, '192.0.2.20', 'a username guessed from an allow-listed address');
      const outside = `198.18.${randomInt(256)}.${randomInt(1, 255)}`;
      for (let i = 0; i < 3; i++) await t.failed(user(), outside);
      await assertBanned(t, user(), outside, 'an address outside the list');
    });

    it('unban lifts a username ban (any spelling) and an address ban, and clears their counters', async () => {
      const t = target.create({ username: limit(3, 60, 60), ip: limit(3, 60, 60) });
      const [name, ip] = [user(), ipv4()];
      await failTimes(t, 3, name, ip);
      await assertBanned(t, name, ipv4(), 'username banned');
      await assertBanned(t, user(), ip, 'address banned');

      assert.equal(await t.unban({ username: name.toUpperCase() }), true);
      await assertAllowed(t, name, ipv4(), 'username unbanned');
      await assertBanned(t, user(), ip, 'the address is still banned');
      assert.deepEqual(await t.status({ username: name }), { failures: 0, bannedForSeconds: 0 });

      assert.equal(await t.unban({ ip }), true);
      await assertAllowed(t, name, ip, 'both unbanned');
      assert.deepEqual(await t.status({ ip }), { failures: 0, bannedForSeconds: 0 });

      assert.equal(await t.unban({ username: name }), false, 'nothing left to lift');
      assert.equal(await t.unban({ ip }), false);
      await t.failed(name, ip);
      assert.equal(await t.unban({ username: name }), false, 'a counter is cleared but is not a ban');
      assert.equal((await t.status({ username: name })).failures, 0);
    });

    it('unban of an IPv6 address lifts the ban of its /64', async () => {
      const t = target.create({ username: SLOW, ip: limit(2, 60, 60) });
      const p = ipv6Prefix();
      await failTimes(t, 2, user(), `${p}::1`);
      await assertBanned(t, user(), `${p}::2`, 'banned /64');
      assert.equal(await t.unban({ ip: `${p}::3` }), true);
      await assertAllowed(t, user(), `${p}::1`, 'unbanned /64');
    });

    it('reports each ban it starts, once, through onBan', async () => {
      const events: BanEvent[] = [];
      const t = target.create({ username: limit(2, 60, 45), ip: limit(3, 60, 50), onBan: (e) => events.push(e) });
      const [name, ip] = [user(), ipv4()];
      await failTimes(t, 2, name, ip);
      assert.deepEqual(events, [{ kind: 'username', subject: name, failures: 2, banSeconds: 45 }]);
      await t.failed(user(), `::ffff:${ip}`);
      await t.failed(name, ip); // the username's ban is running: not a new one
      assert.deepEqual(events.slice(1), [{ kind: 'ip', subject: ip, failures: 3, banSeconds: 50 }]);
      assert.equal(events.length, 2);
      const quiet = target.create({ username: limit(1, 60, 60), ip: SLOW, onBan: () => { throw new Error('hook bug'); } });
      await quiet.failed(user(), ipv4()); // a throwing hook does not fail the call
    });

    it('status of a subject never seen is zero, and a subject needs a username or an address', async () => {
      const t = target.create({ username: SLOW, ip: SLOW });
      assert.deepEqual(await t.status({ username: user() }), { failures: 0, bannedForSeconds: 0 });
      assert.deepEqual(await t.status({ ip: ipv4() }), { failures: 0, bannedForSeconds: 0 });
      await assert.rejects(t.status({}), TypeError);
      await assert.rejects(t.unban({}), TypeError);
    });
  });
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { throttleSchema } from '../../src/config/sections/throttle.js';
import {
  createAllowList,
  parseCidr,
  parseThrottleIp,
  throttleIp,
  throttleUsername,
  UNKNOWN_IP,
  usernameDigest,
} from '../../src/store/throttle-subject.js';

describe('throttleUsername', () => {
  it('folds case and compatibility look-alikes to one name', () => {
    for (const variant of ['Alice', 'ALICE', 'alice', 'ＡＬＩＣＥ', 'ａｌｉｃｅ', 'Ａlice']) assert.equal(throttleUsername(variant), 'alice', variant);
    assert.equal(throttleUsername('ﬁona'), 'fiona', 'the fi ligature');
    assert.equal(throttleUsername('Å'), throttleUsername('Å'), 'composed and decomposed A-ring');
  });

  it('keeps distinct names distinct', () => {
    assert.notEqual(throttleUsername('alice'), throttleUsername('alice2'));
    assert.notEqual(throttleUsername('alice'), throttleUsername(' alice'));
  });

  it('digests the folded name as 43 base64url characters', () => {
    assert.equal(usernameDigest('Alice'), usernameDigest('ＡＬＩＣＥ'));
    assert.match(usernameDigest('alice'), /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(usernameDigest('alice'), usernameDigest('bob'));
  });
});

describe('throttleIp', () => {
  it('keeps IPv4 and turns IPv4-mapped IPv6 into IPv4', () => {
    assert.equal(throttleIp('192.0.2.1'), '192.0.2.1');
    assert.equal(throttleIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(throttleIp('::FFFF:192.0.2.1'), '192.0.2.1');
    assert.equal(throttleIp('::ffff:c000:201'), '192.0.2.1');
    assert.equal(throttleIp('0:0:0:0:0:ffff:192.0.2.1'), '192.0.2.1');
  });

  it('groups IPv6 by /64 in RFC 5952 form', () => {
    assert.equal(throttleIp('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(throttleIp('2001:0DB8:0001:0002::abcd'), '2001:db8:1:2::/64');
    assert.equal(throttleIp('2001:db8::1'), '2001:db8::/64');
    assert.equal(throttleIp('2001:0:0:1::1'), '2001:0:0:1::/64');
    assert.equal(throttleIp('0:0:1:0::'), '0:0:1::/64');
    assert.equal(throttleIp('::1'), '::/64');
    assert.equal(throttleIp('fe80::1%eth0'), 'fe80::/64');
    assert.equal(throttleIp('[2001:db8:1:2::9]'), '2001:db8:1:2::/64');
    assert.equal(throttleIp('64:ff9b::192.0.2.1'), '64:ff9b::/64', 'NAT64 is not IPv4-mapped');
    for (const ip of ['2001:db8:1:2::7', '192.0.2.1', '::ffff:192.0.2.1', 'junk']) assert.equal(throttleIp(throttleIp(ip)), throttleIp(ip), `idempotent on ${ip}`);
  });

  it('puts whatever is not an address in one bucket', () => {
    for (const junk of ['', 'localhost', '999.1.1.1', '01.2.3.4', '1.2.3.4/32', '::ffff:1.2.3.4/64', '2001:db8::/48', '::ffff:1.2.3.4.5', 'a:b/64']) assert.equal(throttleIp(junk), UNKNOWN_IP, junk);
  });
});

describe('parseThrottleIp', () => {
  it('accepts an address or an IPv6 /64, and nothing else', () => {
    assert.equal(parseThrottleIp('192.0.2.1'), '192.0.2.1');
    assert.equal(parseThrottleIp('2001:db8:1:2::5'), '2001:db8:1:2::/64');
    assert.equal(parseThrottleIp('2001:db8:1:2::/64'), '2001:db8:1:2::/64');
    assert.equal(parseThrottleIp('2001:db8:1:2:3::/64'), '2001:db8:1:2::/64', 'any address of the /64');
    assert.equal(parseThrottleIp('2001:db8::/48'), undefined);
    assert.equal(parseThrottleIp('192.0.2.0/24'), undefined);
    assert.equal(parseThrottleIp('alice'), undefined);
    assert.equal(parseThrottleIp('cafe'), undefined);
  });
});

describe('allow list', () => {
  it('parses addresses and CIDRs of either family', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 4 });
    assert.deepEqual(parseCidr('192.0.2.7'), { address: '192.0.2.7', prefix: 32, family: 4 });
    assert.deepEqual(parseCidr('2001:DB8::/32'), { address: '2001:db8::', prefix: 32, family: 6 });
    assert.deepEqual(parseCidr('::ffff:10.0.0.0/104'), { address: '10.0.0.0', prefix: 8, family: 4 });
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/x', 'fe80::1%eth0', 'example.com', '']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it('matches whole addresses, IPv4-mapped ones as IPv4', () => {
    const allowed = createAllowList(['10.0.0.0/8', '192.0.2.7', '2001:db8:ffff::/48']);
    assert.equal(allowed('10.200.3.4'), true);
    assert.equal(allowed('::ffff:10.1.1.1'), true);
    assert.equal(allowed('192.0.2.7'), true);
    assert.equal(allowed('192.0.2.8'), false);
    assert.equal(allowed('2001:db8:ffff:1234::1'), true);
    assert.equal(allowed('2001:db8:fffe::1'), false);
    assert.equal(allowed('not-an-ip'), false);
    assert.equal(createAllowList([])('10.0.0.1'), false);
  });

  it('refuses an entry that is not an address or CIDR', () => {
    assert.throws(() => createAllowList(['10.0.0.0/8', 'intranet']), /'intranet' is not an IP address or CIDR/);
  });
});

describe('throttle config section', () => {
  it('has Authelia-like defaults', () => {
    assert.deepEqual(throttleSchema.parse({}), {
      enabled: true,
      username: { maxFailures: 5, windowSeconds: 300, banSeconds: 900 },
      ip: { maxFailures: 20, windowSeconds: 300, banSeconds: 900 },
      allowList: [],
      maxInFlightPerAddress: 8,
      minResponseMs: 0,
    });
  });

  it('reports bad values and unknown keys by path', () => {
    const result = throttleSchema.safeParse({ username: { maxFailures: 0, windowSecs: 1 }, allowList: ['10.0.0.0/8', 'intranet'], minResponseMs: -1 });
    assert.equal(result.success, false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    for (const p of ['username.maxFailures', 'username', 'allowList.1', 'minResponseMs']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  });

  it('documents every key', () => {
    const shape = throttleSchema.shape;
    for (const [key, schema] of Object.entries(shape)) assert.ok(schema.description, key);
    for (const [key, schema] of Object.entries(shape.username.unwrap().shape)) assert.ok(schema.description, `username.${key}`);
  });
});

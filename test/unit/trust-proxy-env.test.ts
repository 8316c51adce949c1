// UNIXID_TRUST_PROXY takes what express's 'trust proxy' takes: true/false, a hop count, or a list of
// proxy addresses. Read as a plain string, "true" reached express as an address list and unixid
// died at start with "invalid IP address: true".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { loadConfig } from '../../src/config/load.js';

describe('UNIXID_TRUST_PROXY', () => {
  for (const [raw, expected] of [
    ['true', true],
    ['TRUE', true],
    ['false', false],
    ['1', 1],
    ['2', 2],
    ['loopback', 'loopback'],
    ['loopback, 10.0.0.0/8', 'loopback, 10.0.0.0/8'],
  ] as const) {
    it(`${JSON.stringify(raw)} becomes ${JSON.stringify(expected)}, which express accepts`, async () => {
      const config = await loadConfig({ env: { UNIXID_TRUST_PROXY: raw } });
      assert.equal(config.server.trustProxy, expected);
      assert.doesNotThrow(() => express().set('trust proxy', config.server.trustProxy));
    });
  }
});

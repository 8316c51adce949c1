// The device-code pages when the browser brings no session (cookies blocked or expired, a bookmarked
// /device/<uid>, or a bare POST from a script): oidc-provider's error handler re-renders the code
// form with a fresh xsrf value on a session it never stored, and then fails to persist it (a 500
// "persist can only be called on previously persisted Sessions"). unixid sends such a browser back
// to the start of the device flow instead.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { tempDir } from '../harness/tmp.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { logsSettled } from './support.js';

describe('device pages without a session', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: UnixidProcess;

  before(async () => {
    tmp = await tempDir('device-no-session');
    // The memory store is enough: the bug is in the session handling, not the backend.
    server = await startUnixid({ dir: tmp.dir });
  });
  after(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  const cases: Array<{ what: string; method: string; path: string; body?: string }> = [
    { what: 'a code posted without a session', method: 'POST', path: '/device', body: 'xsrf=forged&user_code=BCDF-GHJK' },
    { what: 'an empty post', method: 'POST', path: '/device', body: '' },
    { what: 'a device resume URL with an unknown uid', method: 'GET', path: '/device/auth' },
    { what: 'a device resume URL with a made-up uid', method: 'GET', path: '/device/0123456789abcdef' },
  ];
  for (const c of cases) {
    it(`${c.what} is sent back to /device (303), not a 500`, async () => {
      const res = await fetch(`${server.url}${c.path}`, {
        method: c.method,
        redirect: 'manual',
        headers: { accept: 'text/html', ...(c.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(c.body !== undefined ? { body: c.body } : {}),
      });
      assert.equal(res.status, 303, await res.text());
      assert.equal(new URL(res.headers.get('location')!, server.url).href, `${server.issuer}/device`);
    });
  }

  it('the browser then gets a working form: a wrong code is refused on the page, with its session kept', async () => {
    const browser = new Browser();
    const form = await browser.follow(`${server.url}/device`, { form: { xsrf: 'forged', user_code: 'BCDF-GHJK' } });
    assert.equal(form.status, 200);
    assert.match(form.body, /name="user_code"/);
    const wrong = await browser.request(new URL(formAction(form.body)!, form.url).href, { form: { xsrf: formField(form.body, 'xsrf')!, user_code: 'BCDF-GHJK' } });
    assert.ok(wrong.status < 500, `status ${wrong.status}`);
    assert.match(wrong.body, /not valid or has expired/);
  });

  it('no request failed and the process is healthy', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    await logsSettled(server);
    const failed = server.logEntries().filter((e) => e.msg === 'request' && Number(e.status) >= 500);
    assert.deepEqual(failed, []);
  });
});

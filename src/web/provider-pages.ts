import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import { ERRORS } from '../errors.js';
import type { ProviderPages } from '../oidc/provider.js';
import { isStoreUnavailable } from '../oidc/store-errors.js';
import type { Renderer } from './render.js';

/** Pull the action URL and the xsrf value out of a form oidc-provider generated. */
export function parseProviderForm(form: string): { action: string; xsrf: string } {
  const action = /action="([^"]*)"/.exec(form)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '';
  return { action, xsrf };
}

/** The per-response locals the layout needs; the CSP nonce was chosen by express for this response. */
function baseLocals(ctx: KoaContextWithOIDC): Record<string, unknown> {
  const locals = (ctx.res as unknown as { locals?: { cspNonce?: string; requestId?: string } }).locals ?? {};
  return { cspNonce: locals.cspNonce ?? '', requestId: locals.requestId };
}

async function show(ctx: KoaContextWithOIDC, renderer: Renderer, view: string, locals: Record<string, unknown>): Promise<void> {
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await renderer.render(view, { ...baseLocals(ctx), ...locals });
}

/** Whether this request's provider session was never saved (it has no expiry yet), so cannot be persisted. */
function neverStored(ctx: KoaContextWithOIDC): boolean {
  const session = ctx.oidc?.session as { exp?: unknown } | undefined;
  return session !== undefined && typeof session.exp !== 'number';
}

function clientName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

/** Render oidc-provider's own pages (device flow, logout, errors) with unixid's views. */
export function createProviderPages(renderer: Renderer, logger: Logger): ProviderPages {
  return {
    async deviceInput(ctx, form, error) {
      if (isStoreUnavailable(error)) {
        // The form's xsrf value could not be kept either: nothing to offer but "try again".
        if (ctx.oidc?.session) (ctx.oidc.session as unknown as { touched: boolean }).touched = false;
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        await show(ctx, renderer, 'unavailable', { title: 'Temporarily unavailable', message: ERRORS.STORE_UNAVAILABLE.message });
        return;
      }
      if (error && neverStored(ctx)) {
        // oidc-provider re-renders the form after an error with a fresh xsrf value kept in the
        // session; a session it never stored (no cookie, or an expired one) then fails to persist
        // and the request ends in a 500. Start the device flow again instead: GET /device stores it.
        (ctx.oidc.session as unknown as { touched: boolean }).touched = false;
        ctx.status = 303;
        ctx.redirect(ctx.oidc.urlFor('code_verification'));
        return;
      }
      const { action, xsrf } = parseProviderForm(form);
      let message: string | undefined;
      if (error) {
        const name = error.name;
        message =
          name === 'NoCodeError' || (error as { userCode?: string }).userCode !== undefined || name === 'InvalidUserCode'
            ? 'That code is not valid or has expired. Check it and try again.'
            : name === 'AbortedError'
              ? 'The login was cancelled.'
              : 'Something went wrong. Start again from your terminal.';
      }
      await show(ctx, renderer, 'device-code', { title: 'Enter your code', action, xsrf, error: message });
    },
    async deviceConfirm(ctx, form, userCode, deviceInfo) {
      const { action, xsrf } = parseProviderForm(form);
      await show(ctx, renderer, 'device-confirm', {
        title: 'Confirm the device',
        action,
        xsrf,
        userCode,
        clientName: clientName(ctx) ?? 'a device',
        deviceInfo,
      });
    },
    async deviceDone(ctx) {
      await show(ctx, renderer, 'device-done', { title: 'Device connected', clientName: clientName(ctx) ?? 'your device' });
    },
    async logout(ctx, form) {
      const { action, xsrf } = parseProviderForm(form);
      await show(ctx, renderer, 'logout', { title: 'Log out', action, xsrf, clientName: clientName(ctx) });
    },
    async loggedOut(ctx) {
      await show(ctx, renderer, 'logged-out', { title: 'Logged out', clientName: clientName(ctx) });
    },
    async error(ctx, out, error) {
      const status = ctx.status >= 400 ? ctx.status : 400;
      logger.info({ status, error: out.error, description: out.error_description, detail: (error as { error_detail?: string }).error_detail }, 'provider error page');
      ctx.status = status;
      if (isStoreUnavailable(error)) {
        ctx.set('Retry-After', '5');
        await show(ctx, renderer, 'unavailable', { title: 'Temporarily unavailable', message: ERRORS.STORE_UNAVAILABLE.message });
        return;
      }
      await show(ctx, renderer, 'error', {
        title: 'Login error',
        status,
        message: typeof out.error_description === 'string' ? out.error_description : 'The login request could not be completed.',
        retryable: status >= 500,
      });
    },
  };
}

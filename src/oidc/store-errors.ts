import { errors } from 'oidc-provider';
import { decorateAdapter, type AdapterClass } from '../store/decorate-adapter.js';

/**
 * The session store could not answer (Redis down, hung or refusing writes). Shaped for both error
 * paths: oidc-provider answers it as `temporarily_unavailable` with status 503 (JSON for clients,
 * its error page for browsers), and unixid's own routes show the "temporarily unavailable" page.
 * The store's own error is the `cause`, for the log.
 */
/**
 * A 503 `temporarily_unavailable` protocol error: something unixid depends on could not answer, so
 * nothing was decided and the client may retry. `detail` goes to the log only.
 */
export function temporarilyUnavailable(message: string, detail?: string): InstanceType<typeof errors.TemporarilyUnavailable> {
  const err = new errors.TemporarilyUnavailable(message);
  Object.assign(err, { status: 503, statusCode: 503, expose: true, ...(detail ? { error_detail: detail } : {}) });
  return err;
}

export class StoreUnavailableError extends errors.TemporarilyUnavailable {
  constructor(cause: unknown) {
    super('the session store is temporarily unavailable, try again in a moment', { cause });
    // 503 so clients retry; a page rather than a redirect back to the client, so the person can
    // simply reload once the store is back instead of starting the login over.
    Object.assign(this, { status: 503, statusCode: 503, allow_redirect: false, error_detail: cause instanceof Error ? cause.message : String(cause) });
    this.name = 'StoreUnavailableError';
  }
}

/** Whether an error means the session store could not answer. Never throws. */
export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}

/**
 * The same adapter class, with every rejection of the store turned into a StoreUnavailableError, so
 * that an outage shows as a 503 the client may retry instead of a 500 "something went wrong". A
 * TypeError (a programming error, such as a missing expiry) is passed on unchanged.
 */
export function withStoreErrors(Base: AdapterClass): AdapterClass {
  return decorateAdapter(Base, (_method, _model, call) =>
    call().catch((err: unknown) => {
      throw err instanceof TypeError || err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);
    }),
  );
}

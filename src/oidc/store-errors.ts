import { errors, type Adapter } from 'oidc-provider';

type AdapterClass = new (name: string) => Adapter;

/**
 * The session store could not answer (Redis down, hung or refusing writes). Shaped for both error
 * paths: oidc-provider answers it as `temporarily_unavailable` with status 503 (JSON for clients,
 * its error page for browsers), and unixid's own routes show the "temporarily unavailable" page.
 * The store's own error is the `cause`, for the log.
 */
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
  const wrap = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      throw err instanceof TypeError || err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);
    });
  return class StoreErrorAdapter {
    private readonly inner: Adapter;
    constructor(name: string) {
      this.inner = new Base(name);
    }
    upsert(...a: Parameters<Adapter['upsert']>) {
      return wrap(Promise.resolve().then(() => this.inner.upsert(...a)));
    }
    find(id: string) {
      return wrap(Promise.resolve().then(() => this.inner.find(id)));
    }
    findByUserCode(userCode: string) {
      return wrap(Promise.resolve().then(() => this.inner.findByUserCode(userCode)));
    }
    findByUid(uid: string) {
      return wrap(Promise.resolve().then(() => this.inner.findByUid(uid)));
    }
    consume(id: string) {
      return wrap(Promise.resolve().then(() => this.inner.consume(id)));
    }
    destroy(id: string) {
      return wrap(Promise.resolve().then(() => this.inner.destroy(id)));
    }
    revokeByGrantId(grantId: string) {
      return wrap(Promise.resolve().then(() => this.inner.revokeByGrantId(grantId)));
    }
  } as unknown as AdapterClass;
}

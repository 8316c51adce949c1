import { decorateAdapter, type AdapterClass } from '../store/decorate-adapter.js';
import type { CredentialBackend } from '../backends/types.js';
import type { Directory } from '../directory/types.js';
import type { BackendKind, Metrics } from './metrics.js';

/** The same backend, with every login and refresh timed into unixid_backend_duration_seconds. */
export function instrumentBackend(backend: CredentialBackend, metrics: Metrics): CredentialBackend {
  const kind = backend.type as BackendKind;
  return {
    type: backend.type,
    login: (username, password, ctx) => metrics.time(kind, () => backend.login(username, password, ctx)),
    refresh: (account, ctx) => metrics.time(kind, () => backend.refresh(account, ctx)),
    health: () => backend.health(),
    close: () => backend.close(),
  };
}

/** The same directory, with NSS lookups timed. */
export function instrumentDirectory(directory: Directory, metrics: Metrics): Directory {
  return {
    user: (name, options) => metrics.time('nss', () => directory.user(name, options)),
    groups: (user, options) => metrics.time('nss', () => directory.groups(user, options)),
    close: () => directory.close(),
  };
}

/** The same adapter class, with every store call timed as `redis` (or whatever the store is). */
export function instrumentAdapter(Base: AdapterClass, metrics: Metrics, kind: BackendKind = 'redis'): AdapterClass {
  return decorateAdapter(Base, (_method, _model, call) => metrics.time(kind, call));
}

/**
 * A path as express's router and oidc-provider's router compare it: in any case, and with one
 * trailing slash or none. Two paths with the same key reach the same route.
 */
export function routeKey(path: string): string {
  return (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
}

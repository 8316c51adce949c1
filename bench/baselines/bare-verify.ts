// Baseline: the runtime's limit for the webhook's work. A bare node:http server that verifies the
// same RS256 ID token with node:crypto (a KeyObject from unixid's own JWKS) and answers a minimal
// TokenReview. No framework, no logging, no cache. BENCH_JWKS, BENCH_ISSUER, BENCH_AUDIENCE.
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { listenForBench } from './listen.js';

const jwks = JSON.parse(process.env.BENCH_JWKS ?? '{"keys":[]}') as { keys: (JsonWebKey & { kid: string })[] };
const issuer = process.env.BENCH_ISSUER ?? '';
const audience = process.env.BENCH_AUDIENCE ?? '';
const keys = new Map<string, KeyObject>(jwks.keys.map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]));

const NO = '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":false}}';

/** The user of a valid token, or undefined. The same checks an apiserver makes, minus the fuss. */
function review(token: string): { username: string; uid: string; groups: string[] } | undefined {
  const [h, p, s] = token.split('.');
  if (!h || !p || !s) return undefined;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string; kid?: string };
  const key = header.alg === 'RS256' && header.kid ? keys.get(header.kid) : undefined;
  if (!key) return undefined;
  if (!verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) return undefined;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== issuer || !aud.includes(audience) || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return undefined;
  return { username: String(claims.preferred_username), uid: String(claims.sub), groups: (claims.groups as string[]) ?? [] };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body = NO;
    try {
      const tr = JSON.parse(Buffer.concat(chunks).toString()) as { apiVersion: string; spec: { token: string } };
      const user = review(tr.spec.token);
      if (user) body = JSON.stringify({ apiVersion: tr.apiVersion, kind: 'TokenReview', status: { authenticated: true, user } });
    } catch {
      // a malformed review is a plain "no" here
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
listenForBench(server);

import { createPrivateKey, generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { toPrivateJwk, type PrivateJwk } from './jwk.js';

/** Parse a PEM private key or a JWK set (private keys) file. Throws with the file name on anything else. */
export function parseSigningKeys(text: string, origin: string): PrivateJwk[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`${origin}: not valid JSON: ${(err as Error).message}`);
    }
    const keys = (doc as { keys?: unknown }).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${origin}: expected a JWK set with a non-empty "keys" array`);
    return keys.map((k, i) => {
      try {
        const key = createPrivateKey({ key: k, format: 'jwk' });
        const jwk = toPrivateJwk(key, typeof k.alg === 'string' ? k.alg : undefined);
        return typeof k.kid === 'string' ? { ...jwk, kid: k.kid } : jwk;
      } catch (err) {
        throw new Error(`${origin}: keys[${i}] is not a usable private signing key: ${(err as Error).message}`);
      }
    });
  }
  if (!trimmed.includes('PRIVATE KEY')) throw new Error(`${origin}: expected a PEM private key or a JWK set`);
  const blocks = trimmed.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${origin}: no complete PEM private key block`);
  return blocks.map((pem, i) => {
    try {
      return toPrivateJwk(createPrivateKey(pem));
    } catch (err) {
      throw new Error(`${origin}: PEM key ${i + 1} is not a usable private signing key: ${(err as Error).message}`);
    }
  });
}

async function readOrCreate<T>(file: string, create: () => T, allowGenerate: boolean, what: string): Promise<{ value: string; created: boolean }> {
  try {
    return { value: await readFile(file, 'utf8'), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!allowGenerate) throw new Error(`no ${what} configured and generating one is refused in production`);
    const value = JSON.stringify(create(), null, 2);
    try {
      await writeFile(file, value, { mode: 0o600, flag: 'wx' });
    } catch (writeErr) {
      // Another process sharing the data directory won the race: use its key.
      if ((writeErr as NodeJS.ErrnoException).code === 'EEXIST') return { value: await readFile(file, 'utf8'), created: false };
      throw writeErr;
    }
    await chmod(file, 0o600);
    return { value, created: true };
  }
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A new RSA-2048 RS256 signing JWK (kube-apiserver's default algorithm) with its thumbprint as kid,
 * generated off the event loop. Rejects only if the crypto library does.
 */
export async function generateSigningJwk(): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return toPrivateJwk(privateKey, 'RS256');
}

/**
 * The development signing key: generated once into dataDir/signing-keys.json (mode 0600) and
 * reused on every later start. Rejects when the file is unusable, or missing and `allowGenerate`
 * is false (production).
 */
export async function loadGeneratedSigningKeys(dataDir: string, allowGenerate: boolean, logger: Logger): Promise<PrivateJwk[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'signing-keys.json');
  const { value, created } = await readOrCreate(
    file,
    () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return { keys: [toPrivateJwk(privateKey)] };
    },
    allowGenerate,
    'signing key',
  );
  if (created) logger.warn({ file }, 'generated a new RSA-2048 signing key');
  return parseSigningKeys(value, file);
}

/**
 * The cookie signing keys: the configured ones, or keys generated once into dataDir/cookie-keys.json
 * (mode 0600). Rejects when the file is unreadable, or missing and `allowGenerate` is false.
 */
export async function loadCookieKeys(sources: { cookieKeys?: string[] | undefined; dataDir: string; allowGenerate: boolean }, logger: Logger): Promise<string[]> {
  if (sources.cookieKeys) return sources.cookieKeys;
  await mkdir(sources.dataDir, { recursive: true, mode: 0o700 });
  const file = join(sources.dataDir, 'cookie-keys.json');
  const { value, created } = await readOrCreate(file, () => [randomBytes(32).toString('base64url')], sources.allowGenerate, 'cookie key');
  if (created) logger.warn({ file }, 'generated a new cookie signing key');
  return JSON.parse(value) as string[];
}

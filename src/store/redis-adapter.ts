import type { Cluster, Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { GRANT_MEMBER_MODELS, UID_INDEXED_MODEL, USER_CODE_INDEXED_MODEL, grantKey, hasIndexEntries, recordKey, ttlMillis, uidKey, userCodeKey } from './redis-keys.js';

/*
 * Every record is a hash { payload: <JSON>, consumed?: <epoch seconds> } rather than a JSON string,
 * so that consume() writes one field of an existing key: HSET keeps the key's TTL, and the EXISTS
 * guard in the script keeps an expired one-time token from coming back without one. (Decoding and
 * re-encoding the JSON in Lua would be the other way; cjson turns [] into {}.)
 *
 * The scripts in SCRIPTS touch only the key they are given, so they also run on a Redis Cluster;
 * PUT_INDEXED_LUA spans a record's keys and is used on a single Redis or Sentinel only.
 */
const SCRIPTS = {
  // One command, so that even where it cannot run inside MULTI (Cluster) the record never exists
  // without its TTL; DEL first so a re-saved record starts without the previous `consumed` field.
  unixidPut: `
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'payload', ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1`,
  unixidConsume: `
    if redis.call('EXISTS', KEYS[1]) == 1 then
      redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
      return 1
    end
    return 0`,
  // A grant's member set must outlive its longest-lived member, never shorten.
  unixidGrantAdd: `
    redis.call('SADD', KEYS[1], ARGV[1])
    local ttl = tonumber(ARGV[2])
    if redis.call('PTTL', KEYS[1]) < ttl then
      redis.call('PEXPIRE', KEYS[1], ttl)
    end
    return 1`,
  unixidDelIfEquals: `
    if redis.call('GET', KEYS[1]) == ARGV[1] then
      return redis.call('DEL', KEYS[1])
    end
    return 0`,
} as const;

/**
 * A record and its index entries in one script (single Redis or Sentinel only: the keys are in
 * different Cluster slots). KEYS[1] is the record, KEYS[2..] its index entries; ARGV is the JSON,
 * the TTL, then per index entry a kind and a value: 'set' (the entry holds the value, the record's
 * id) or 'member' (the entry is a grant's member set; the value is the record's key). The same
 * writes as unixidPut, SET ... PX and unixidGrantAdd inside MULTI, in one command: a MULTI of two
 * scripts cost the server ~4 commands and ioredis a pipeline per token.
 */
const PUT_INDEXED_LUA = `
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'payload', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local ttl = tonumber(ARGV[2])
  for i = 2, #KEYS do
    local kind, value = ARGV[2 * i - 1], ARGV[2 * i]
    if kind == 'set' then
      redis.call('SET', KEYS[i], value, 'PX', ttl)
    else
      redis.call('SADD', KEYS[i], value)
      if redis.call('PTTL', KEYS[i]) < ttl then
        redis.call('PEXPIRE', KEYS[i], ttl)
      end
    end
  end
  return 1`;

/** What an operation may send: plain commands and the scripts above, on a client or inside MULTI. */
interface Commands {
  call(command: string, ...args: Array<string | number>): unknown;
  unixidPut(key: string, json: string, ttlMs: number): unknown;
  unixidConsume(key: string, consumedAt: number): unknown;
  unixidGrantAdd(key: string, member: string, ttlMs: number): unknown;
  unixidDelIfEquals(key: string, value: string): unknown;
}
type Op = (c: Commands) => unknown;

// Large revocations are deleted in slices so that no single command blocks Redis for long.
const DEL_BATCH = 500;

/**
 * An oidc-provider adapter class over ioredis; records expire with their TTL and nothing is ever
 * written without one. Each instance method rejects with ioredis's error when Redis is unreachable
 * (immediately or after the client's command timeout), and upsert rejects (TypeError) without a
 * finite expiresIn.
 *
 * On a single Redis or Sentinel, one upsert is one script (one round trip; the record and its index
 * entries written atomically, PUT_INDEXED_LUA). On a
 * Cluster the keys of one record live in different slots and no command can span them, so the
 * commands go out per key: index entries first, then the record (two round trips). A failure
 * part-way leaves at most an index entry without its record, which lookups tolerate (they check
 * the record still matches). Each command is atomic on its own key, so no key is ever left
 * without a TTL.
 */
export function createRedisAdapterClass(redis: Redis | Cluster, keyPrefix: string): new (name: string) => Adapter {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 1, lua });
  }
  // No numberOfKeys: the first argument says how many keys follow.
  if (!('unixidPutIndexed' in redis)) redis.defineCommand('unixidPutIndexed', { lua: PUT_INDEXED_LUA });
  const putIndexed = (keys: string[], args: Array<string | number>): Promise<unknown> =>
    (redis as unknown as { unixidPutIndexed(n: number, ...rest: Array<string | number>): Promise<unknown> }).unixidPutIndexed(keys.length, ...keys, ...args);
  const client = redis as unknown as Commands;

  async function run(ops: Op[]): Promise<void> {
    if (ops.length === 0) return;
    if (ops.length === 1 || redis.isCluster) {
      await Promise.all(ops.map((op) => op(client)));
      return;
    }
    const multi = redis.multi();
    for (const op of ops) op(multi as unknown as Commands);
    const results = await multi.exec();
    if (!results) throw new Error('redis transaction was aborted');
    for (const [err] of results) if (err) throw err;
  }

  async function deleteKeys(keys: string[]): Promise<void> {
    if (redis.isCluster) {
      await Promise.all(keys.map((k) => redis.unlink(k)));
      return;
    }
    for (let i = 0; i < keys.length; i += DEL_BATCH) await redis.unlink(...keys.slice(i, i + DEL_BATCH));
  }

  return class RedisAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    #key(id: string): string {
      return recordKey(keyPrefix, this.#model, id);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const ttl = ttlMillis(this.#model, expiresIn);
      if (ttl <= 0) {
        // Already expired (and Redis refuses PX 0): storing it would only let it be found.
        await this.destroy(id);
        return;
      }
      const key = this.#key(id);
      const json = JSON.stringify(payload);
      // The record's index entries: [key, kind, value] (see PUT_INDEXED_LUA).
      const index: Array<[string, 'set' | 'member', string]> = [];
      if (this.#model === UID_INDEXED_MODEL && typeof payload.uid === 'string') index.push([uidKey(keyPrefix, payload.uid), 'set', id]);
      if (this.#model === USER_CODE_INDEXED_MODEL && typeof payload.userCode === 'string') index.push([userCodeKey(keyPrefix, payload.userCode), 'set', id]);
      if (GRANT_MEMBER_MODELS.has(this.#model) && typeof payload.grantId === 'string') index.push([grantKey(keyPrefix, payload.grantId), 'member', key]);
      // Index entries of a previous version of this record are not removed here (that would cost
      // a read first); they expire, and lookups through them check the record still matches.
      if (!redis.isCluster) {
        // One command, atomic: no client ever sees a token outside its grant's set.
        if (index.length === 0) await client.unixidPut(key, json, ttl);
        else await putIndexed([key, ...index.map(([k]) => k)], [json, ttl, ...index.flatMap(([, kind, value]) => [kind, value])]);
        return;
      }
      // A Cluster has no command across slots: the index entries first, so that a failure part-way
      // never leaves a token that its grant's revocation would miss.
      await run(index.map(([k, kind, value]): Op => (kind === 'set' ? (c) => c.call('SET', k, value, 'PX', ttl) : (c) => c.unixidGrantAdd(k, value, ttl))));
      await run([(c) => c.unixidPut(key, json, ttl)]);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const [json, consumed] = await redis.hmget(this.#key(id), 'payload', 'consumed');
      if (json === null || json === undefined) return undefined;
      const payload = JSON.parse(json) as AdapterPayload;
      if (consumed !== null && consumed !== undefined) payload.consumed = Number(consumed);
      return payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await redis.get(uidKey(keyPrefix, uid));
      if (id === null) return undefined;
      const found = await this.find(id);
      // A stale index entry (the session was re-saved under another uid) must not answer.
      return found?.uid === uid ? found : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await redis.get(userCodeKey(keyPrefix, userCode));
      if (id === null) return undefined;
      const found = await this.find(id);
      return found?.userCode === userCode ? found : undefined;
    }

    async consume(id: string): Promise<void> {
      await client.unixidConsume(this.#key(id), Math.floor(Date.now() / 1000));
    }

    async destroy(id: string): Promise<void> {
      const key = this.#key(id);
      // A record without index entries is only its key: one UNLINK, no read of the payload first
      // (the resume step destroys every Interaction this way).
      if (!hasIndexEntries(this.#model)) {
        await redis.unlink(key);
        return;
      }
      const json = await redis.hget(key, 'payload');
      const ops: Op[] = [(c) => c.call('UNLINK', key)];
      if (json !== null) {
        const payload = JSON.parse(json) as AdapterPayload;
        const { uid, userCode, grantId } = payload;
        if (this.#model === UID_INDEXED_MODEL && typeof uid === 'string') ops.push((c) => c.unixidDelIfEquals(uidKey(keyPrefix, uid), id));
        if (this.#model === USER_CODE_INDEXED_MODEL && typeof userCode === 'string') ops.push((c) => c.unixidDelIfEquals(userCodeKey(keyPrefix, userCode), id));
        if (GRANT_MEMBER_MODELS.has(this.#model) && typeof grantId === 'string') ops.push((c) => c.call('SREM', grantKey(keyPrefix, grantId), key));
      }
      await run(ops);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const gKey = grantKey(keyPrefix, grantId);
      // Read and drop the set in one step (one key, so MULTI works on a Cluster too): concurrent
      // revocations (oidc-provider calls this once per model) do not both walk it, and a member
      // added meanwhile starts a new set instead of being dropped unrevoked.
      const results = await redis.multi().smembers(gKey).unlink(gKey).exec();
      const first = results?.[0];
      if (!first) throw new Error('redis transaction was aborted');
      if (first[0]) throw first[0];
      const members = first[1] as string[];
      // Index entries of the removed records are left to expire: lookups check they still match.
      await deleteKeys(members);
    }
  };
}

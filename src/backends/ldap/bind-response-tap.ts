/**
 * ldapts 8.2 sends request controls but drops response controls it does not know, and the
 * password-policy control (locked, expired, must change) is one of them. unixid therefore watches
 * the decrypted byte stream of its own short-lived user-bind connections and picks the controls
 * out of each BindResponse. Only framing and the BindResponse envelope are parsed; everything
 * else is skipped by length.
 */

/** A control attached to an LDAP response. */
export interface ResponseControl {
  oid: string;
  critical: boolean;
  value: Buffer | undefined;
}

export interface BindResponseTap {
  /** Feed bytes as they arrive; never throws (a malformed stream just ends the tapping). */
  push(chunk: Buffer): void;
  /** Stop looking (e.g. when StartTLS hands the socket to TLS and only ciphertext would follow). */
  stop(): void;
}

interface Tlv {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

const BIND_RESPONSE = 0x61; // [APPLICATION 1] constructed
const CONTROLS = 0xa0; // [0] constructed
const MAX_PENDING = 16 * 1024 * 1024;

class Incomplete extends Error {}
/**
 * Thrown whenever the bytes so far end inside an element, which is at the end of nearly every
 * chunk: one instance made once, because a new Error would capture a stack trace each time.
 */
const INCOMPLETE = new Incomplete('incomplete BER element');

/** Read one BER TLV at `offset` of `buf` (definite lengths only). Throws Incomplete or a parse error. */
export function readTlv(buf: Buffer, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw INCOMPLETE;
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error(`unsupported BER length form 0x${len.toString(16)}`);
    if (start + n > limit) throw INCOMPLETE;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw INCOMPLETE;
  return { tag, start, end };
}

/** The children of a constructed TLV. Throws on malformed content. */
export function childrenOf(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = parent.start;
  while (at < parent.end) {
    let child: Tlv;
    try {
      child = readTlv(buf, at, parent.end);
    } catch (err) {
      if (err instanceof Incomplete) throw new Error('truncated BER element');
      throw err;
    }
    out.push(child);
    at = child.end;
  }
  return out;
}

function parseControls(buf: Buffer, controls: Tlv): ResponseControl[] {
  return childrenOf(buf, controls).map((c) => {
    const parts = childrenOf(buf, c);
    const oid = parts[0];
    if (!oid || oid.tag !== 0x04) throw new Error('control without an OID');
    let critical = false;
    let value: Buffer | undefined;
    for (const p of parts.slice(1)) {
      if (p.tag === 0x01) critical = buf[p.start] !== 0;
      else if (p.tag === 0x04) value = Buffer.from(buf.subarray(p.start, p.end));
    }
    return { oid: buf.toString('latin1', oid.start, oid.end), critical, value };
  });
}

/** Build a tap that calls `onBindResponse` with the controls of every BindResponse it sees. */
export function createBindResponseTap(onBindResponse: (controls: ResponseControl[]) => void): BindResponseTap {
  let pending: Buffer = Buffer.alloc(0);
  let stopped = false;
  return {
    push(chunk) {
      if (stopped) return;
      try {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let at = 0;
        for (;;) {
          let message: Tlv;
          try {
            message = readTlv(pending, at);
          } catch (err) {
            if (err instanceof Incomplete) break;
            throw err;
          }
          const [, op, controls] = childrenOf(pending, message);
          if (op?.tag === BIND_RESPONSE) onBindResponse(controls?.tag === CONTROLS ? parseControls(pending, controls) : []);
          at = message.end;
        }
        pending = at === 0 ? pending : Buffer.from(pending.subarray(at));
        if (pending.length > MAX_PENDING) throw new Error('message too large to watch');
      } catch {
        // Not our business to break the connection: ldapts parses the stream itself.
        stopped = true;
        pending = Buffer.alloc(0);
      }
    },
    stop() {
      stopped = true;
      pending = Buffer.alloc(0);
    },
  };
}

import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { UnixUser } from '../directory/types.js';
import { packageRoot } from '../paths.js';

/** The outcome of a PAM transaction, as the native binding reports it. */
export interface PamOutcome {
  /** The last step run: start, set_item, authenticate or acct_mgmt. */
  step: string;
  code: number;
  /** Symbolic name of the code (PAM_AUTH_ERR, ...): Linux-PAM's numbers are not portable. */
  codeName: string;
  /** pam_strerror text. */
  text: string;
  /** Error and info messages the modules sent through the conversation. */
  messages: string[];
  passwordPrompts: number;
}

/** getpwnam_r's answer: the directory's UnixUser shape. */
export type NssUser = UnixUser;

/** Called once, on the JS thread: an error message (an NSS error), or the value. */
export type NativeCallback<T> = (err: string | null, value: T) => void;

/**
 * The functions of build/Release/unixid_native.node. Each checks and copies its arguments, then
 * returns at once (throwing on arguments it refuses) and runs the blocking call on a native thread
 * of its own. A pending call does not keep the process alive: the caller's timer must.
 */
export interface NativeBinding {
  /** The password bytes are copied before this returns; the caller zero-fills its own. */
  pamLoginAsync(service: string, username: string, password: Uint8Array, rhost: string, done: NativeCallback<PamOutcome>): void;
  pamAccountAsync(service: string, username: string, rhost: string, done: NativeCallback<PamOutcome>): void;
  getUserAsync(name: string, done: NativeCallback<NssUser | null>): void;
  getGroupsAsync(name: string, gid: number, done: NativeCallback<string[]>): void;
}

/** Load the native addon built by `npm install` (node-gyp). Throws with a hint when it was not built. */
export function loadBinding(): NativeBinding {
  const file = join(packageRoot(), 'build', 'Release', 'unixid_native.node');
  try {
    return createRequire(import.meta.url)(file) as NativeBinding;
  } catch (err) {
    throw new Error(`cannot load the native PAM/NSS binding at ${file} (run npm install; it needs libpam0g-dev, python3, make and g++): ${(err as Error).message}`);
  }
}

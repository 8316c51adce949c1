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

/** The functions of build/Release/unixid_native.node. Every one blocks: call them from worker threads only. */
export interface NativeBinding {
  pamLogin(service: string, username: string, password: Buffer, rhost: string): PamOutcome;
  pamAccount(service: string, username: string, rhost: string): PamOutcome;
  getUser(name: string): NssUser | null;
  getGroups(name: string, gid: number): string[];
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

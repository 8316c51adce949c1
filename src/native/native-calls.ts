// The blocking calls the native pool runs, and how each one is handed to the addon.
import type { NativeBinding, NativeCallback } from './binding.js';

/** One blocking PAM or NSS call. The pool owns `password`: it is zero-filled once the addon has its copy, or when the call never starts. */
export type NativeRequest =
  | { op: 'pamLogin'; service: string; username: string; password: Uint8Array; rhost: string }
  | { op: 'pamAccount'; service: string; username: string; rhost: string }
  | { op: 'getUser'; name: string }
  | { op: 'getGroups'; name: string; gid: number };

/**
 * Start `req` on a native thread; `done` is called once, on the JS thread, unless the addon refuses
 * the arguments, which throws here instead. The password is zero-filled before this returns either way.
 */
export function startNativeCall(binding: NativeBinding, req: NativeRequest, done: NativeCallback<unknown>): void {
  switch (req.op) {
    case 'pamLogin':
      try {
        binding.pamLoginAsync(req.service, req.username, req.password, req.rhost, done);
      } finally {
        req.password.fill(0);
      }
      return;
    case 'pamAccount':
      return binding.pamAccountAsync(req.service, req.username, req.rhost, done);
    case 'getUser':
      return binding.getUserAsync(req.name, done);
    case 'getGroups':
      return binding.getGroupsAsync(req.name, req.gid, done);
  }
}

/** Zero-fill the password of a call that will never start (refused, timed out or closed while queued). */
export function dropNativeCall(req: NativeRequest): void {
  if (req.op === 'pamLogin') req.password.fill(0);
}

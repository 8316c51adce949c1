// Entry point of the threads that run blocking PAM and NSS calls, so the event loop and the
// libuv pool (shared by crypto and fs) never wait on them.
import { parentPort } from 'node:worker_threads';
import { loadBinding, type NativeBinding } from './binding.js';

export type NativeRequest =
  | { id: number; op: 'pamLogin'; service: string; username: string; password: ArrayBuffer; rhost: string }
  | { id: number; op: 'pamAccount'; service: string; username: string; rhost: string }
  | { id: number; op: 'getUser'; name: string }
  | { id: number; op: 'getGroups'; name: string; gid: number };

export type NativeResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

function handle(binding: NativeBinding, req: NativeRequest): unknown {
  switch (req.op) {
    case 'pamLogin': {
      const password = Buffer.from(req.password);
      try {
        return binding.pamLogin(req.service, req.username, password, req.rhost);
      } finally {
        password.fill(0);
      }
    }
    case 'pamAccount':
      return binding.pamAccount(req.service, req.username, req.rhost);
    case 'getUser':
      return binding.getUser(req.name);
    case 'getGroups':
      return binding.getGroups(req.name, req.gid);
  }
}

const port = parentPort;
if (!port) throw new Error('native-worker must run in a worker thread');
const binding = loadBinding();
port.on('message', (req: NativeRequest) => {
  let res: NativeResponse;
  try {
    res = { id: req.id, ok: true, value: handle(binding, req) };
  } catch (err) {
    res = { id: req.id, ok: false, error: (err as Error).message };
  }
  port.postMessage(res);
});

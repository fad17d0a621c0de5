// What the service refuses, as typed errors. The API maps each class to an HTTP status
// (src/api/errors.ts); the message is the one line a client shows.

import { ShadowvmError } from '../errors.js';

/** The guest path in a request is not a module inside the guests directory. */
export class GuestPathError extends ShadowvmError {
  constructor(path: string, reason: string) {
    super('bad-guest', `guest ${path}: ${reason}; name a .wasm file inside the server's guests directory`);
  }
}

/** The QEMU guest image in a request is not a complete image inside the images directory; `problem` says the fix. */
export class ImagePathError extends ShadowvmError {
  constructor(image: string, problem: string) {
    super('bad-image', `image ${image}: ${problem}`);
  }
}

/** The action needs a running computation and this one is queued or finished. */
export class NotRunningError extends ShadowvmError {
  constructor(id: string, status: string) {
    super('not-running', `computation ${id} is ${status}; this needs a running computation`);
  }
}

/** The request names a replica the computation does not have. */
export class UnknownReplicaError extends ShadowvmError {
  constructor(target: string, names: readonly string[]) {
    super('unknown-replica', `no replica ${target}; this computation has ${names.join(', ') || 'none running'}`);
  }
}

/** `serve` was asked to listen beyond loopback without a token. */
export class TokenRequiredError extends ShadowvmError {
  constructor(host: string) {
    super('token-required', `refusing to listen on ${host} without a token: give --token T (or SHADOWVM_TOKEN), or bind 127.0.0.1`);
  }
}

/** The request carried no bearer token, or the wrong one. */
export class UnauthorizedError extends ShadowvmError {
  constructor() {
    super('unauthorized', 'missing or wrong bearer token; send Authorization: Bearer <token>');
  }
}

/** The manager is shutting down and takes no new computations. */
export class ManagerClosedError extends ShadowvmError {
  constructor() {
    super('manager-closed', 'the manager is shutting down; retry against the restarted server');
  }
}

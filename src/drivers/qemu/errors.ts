// Errors of the QEMU driver, each with a one-line message a user can act on.
import { ShadowvmError } from '../../errors.js';

/** QEMU could not be started or died under us. */
export class QemuProcessError extends ShadowvmError {
  constructor(message: string) {
    super('qemu-process', message);
  }
}

/** QEMU answered a QMP command with an error. */
export class QmpCommandError extends ShadowvmError {
  readonly errorClass: string;
  constructor(command: string, errorClass: string, desc: string) {
    super('qmp-command', `QMP command ${command} failed: ${errorClass}: ${desc}`);
    this.errorClass = errorClass;
  }
}

/** QEMU did not answer (or did not emit an awaited event) in time. */
export class QmpTimeoutError extends ShadowvmError {
  constructor(what: string, timeoutMs: number) {
    super('qmp-timeout', `QEMU did not answer ${what} within ${timeoutMs} ms; is the host overloaded?`);
  }
}

/** The QMP connection is gone (QEMU exited or the socket closed). */
export class QmpClosedError extends ShadowvmError {
  constructor(what: string) {
    super('qmp-closed', `QMP connection closed while waiting for ${what}; QEMU has exited`);
  }
}

/** The guest image is missing or incomplete. */
export class GuestImageError extends ShadowvmError {
  constructor(message: string) {
    super('guest-image', message);
  }
}

/** A request the QEMU driver cannot honour (unknown profile, bad fault address…). */
export class QemuRequestError extends ShadowvmError {
  constructor(message: string) {
    super('qemu-request', message);
  }
}

/** A VM's guest does not hold the state it must (a restore, a change of recording): it must not run on. */
export class StateMismatchError extends ShadowvmError {
  constructor(message: string) {
    super('state-mismatch', message);
  }
}

/** A request to a VM that is gone (killed, or its QEMU exited): it ended with the VM. */
export class VmGoneError extends ShadowvmError {
  constructor(id: string) {
    super('vm-gone', `VM ${id} is gone (killed or its QEMU exited); the request ended with it`);
  }
}

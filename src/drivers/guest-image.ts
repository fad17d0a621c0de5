// What the CLI needs of the QEMU driver's guest image without opening a driver: where it lives by
// default and how to build it (`shadowvm guest build`).

export { buildGuest, defaultGuestDir } from './qemu/guest-build.js';

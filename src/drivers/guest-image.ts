// What the CLI and the service need of the QEMU driver's guest image without opening a driver:
// where it lives by default, how to build it (`shadowvm guest build`), and whether a directory
// holds a complete one.

export { buildGuest, defaultGuestDir, guestImage } from './qemu/guest-build.js';

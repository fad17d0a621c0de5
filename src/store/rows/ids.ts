// Short, readable, unguessable ids: a kind prefix and 10 Crockford base32 characters (50 random
// bits), so people can type them and collisions stay negligible for any realistic count.

import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const ID_CHARS = 10;

function randomId(prefix: string): string {
  const bytes = randomBytes(ID_CHARS);
  let id = `${prefix}-`;
  for (const byte of bytes) id += ALPHABET[byte & 31];
  return id;
}

export function newComputationId(): string {
  return randomId('c');
}

export function newCheckpointId(): string {
  return randomId('k');
}

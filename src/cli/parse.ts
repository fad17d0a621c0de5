// Parsers for the CLI's flag values. Each failure is a UsageError naming the flag and the fix.

import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import type { PlannedFault } from '../computation/config.js';
import { ShadowvmError } from '../errors.js';

export class UsageError extends ShadowvmError {
  constructor(message: string) {
    super('usage', message, 2);
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseSize(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  const unit = match ? SIZE_UNITS[(match[2] ?? '').toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new UsageError(`${flag} ${text}: not a size; write e.g. 512M or 2G`);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes <= 0) throw new UsageError(`${flag} ${text}: must be more than 0`);
  return bytes;
}

export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  const unit = match ? DURATION_UNITS[match[2] as string] : undefined;
  if (!match || unit === undefined) throw new UsageError(`${flag} ${text}: not a duration; write e.g. 500ms, 30s or 5m`);
  return Number(match[1]) * unit;
}

export function parseCount(flag: string, text: string, min = 0): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} ${text}: not a whole number; write e.g. ${Math.max(min, 2)}`);
  const value = Number(text);
  if (value < min) throw new UsageError(`${flag} ${text}: must be at least ${min}`);
  return value;
}

const TARGET = /^(primary|shadow[1-9]\d*)@(.+)$/;

function fields(flag: string, spec: string, text: string): { target: string; values: Map<string, string> } {
  const match = TARGET.exec(text.trim());
  if (!match) throw new UsageError(`${flag} ${text}: expected ${spec}`);
  const values = new Map<string, string>();
  for (const part of (match[2] as string).split(',')) {
    const [key, value] = part.split('=');
    if (!key || value === undefined || value === '') throw new UsageError(`${flag} ${text}: expected ${spec}`);
    values.set(key.trim(), value.trim());
  }
  return { target: match[1] as string, values };
}

function number(flag: string, key: string, text: string): number {
  const value = text.startsWith('0x') ? Number.parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`${flag}: ${key}=${text} is not a whole number ≥ 0`);
  return value;
}

/** `primary@epoch=3[,addr=0x1234][,bit=5]` */
export function parseBitflip(text: string): PlannedFault {
  const flag = '--inject-bitflip';
  const spec = 'VM@epoch=K[,addr=ADDRESS][,bit=0-7], e.g. primary@epoch=3';
  const { target, values } = fields(flag, spec, text);
  for (const key of values.keys())
    if (!['epoch', 'addr', 'bit'].includes(key)) throw new UsageError(`${flag} ${text}: unknown field ${key}; expected ${spec}`);
  const epochText = values.get('epoch');
  if (!epochText) throw new UsageError(`${flag} ${text}: epoch= is missing; expected ${spec}`);
  const epoch = number(flag, 'epoch', epochText);
  if (epoch < 1) throw new UsageError(`${flag} ${text}: epochs count from 1`);
  const bit = number(flag, 'bit', values.get('bit') ?? '0');
  if (bit > 7) throw new UsageError(`${flag} ${text}: bit must be 0 to 7`);
  const addr = values.get('addr');
  return { target, epoch, fault: { kind: 'bitflip', bit, ...(addr !== undefined ? { address: number(flag, 'addr', addr) } : {}) } };
}

/** `shadow1@seq=5[,epoch=1]`: corrupt the replayed input record `seq` fed to that shadow. */
export function parseCorruptInput(text: string): PlannedFault {
  const flag = '--inject-corrupt-input';
  const spec = 'VM@seq=N, e.g. shadow1@seq=5';
  const { target, values } = fields(flag, spec, text);
  for (const key of values.keys())
    if (!['seq'].includes(key)) throw new UsageError(`${flag} ${text}: unknown field ${key}; expected ${spec}`);
  const seqText = values.get('seq');
  if (seqText === undefined) throw new UsageError(`${flag} ${text}: seq= is missing; expected ${spec}`);
  return { target, epoch: 1, fault: { kind: 'corrupt-input', seq: number(flag, 'seq', seqText) } };
}

export function parseEnv(text: string): [string, string] {
  const index = text.indexOf('=');
  if (index <= 0) throw new UsageError(`--env ${text}: expected NAME=VALUE`);
  return [text.slice(0, index), text.slice(index + 1)];
}

/** A command's own flags, parsed strictly; a bad flag is a UsageError pointing at the command's help. */
export function parseCommandFlags<T extends ParseArgsOptionsConfig>(
  command: string,
  argv: readonly string[],
  options: T,
  { positionals = false }: { positionals?: boolean } = {},
) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: T }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('\n')[0]}; see shadowvm ${command} --help`);
  }
  const [extra] = parsed.positionals;
  if (!positionals && extra !== undefined) throw new UsageError(`${command}: unexpected argument ${extra}; see shadowvm ${command} --help`);
  return parsed;
}

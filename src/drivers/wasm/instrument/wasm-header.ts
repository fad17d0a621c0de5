// Just enough of the wasm binary format to reject inputs with a precise message before handing
// them to a compiler: the magic bytes, and the shape of the module's memories (V8 in Node 20
// rejects memory64 with a generic compile error, and binaryen.js offers no memory count).

const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const IMPORT_FUNC = 0;
const IMPORT_TABLE = 1;
const IMPORT_MEMORY = 2;
const IMPORT_GLOBAL = 3;
const IMPORT_TAG = 4;
const LIMITS_MEMORY64 = 0x04;
const LIMITS_HAS_MAX = 0x01;
const REF_NULLABLE = 0x63;
const REF_NON_NULLABLE = 0x64;

/** True when the bytes start like a core wasm module, version 1. */
export function hasWasmMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((byte, i) => bytes[i] === byte);
}

export interface MemoryShape {
  /** Memories imported or defined. */
  readonly count: number;
  /** At least one of them is indexed by i64. */
  readonly memory64: boolean;
}

/** Reads the memories of a module that has the wasm magic; null when the sections are malformed. */
export function scanMemories(bytes: Uint8Array): MemoryShape | null {
  try {
    return readMemories(new ByteReader(bytes, MAGIC.length));
  } catch (error) {
    if (error instanceof TruncatedError) return null;
    throw error;
  }
}

function readMemories(reader: ByteReader): MemoryShape {
  let count = 0;
  let memory64 = false;
  const takeLimits = (): void => {
    const flags = reader.byte();
    reader.leb();
    if (flags & LIMITS_HAS_MAX) reader.leb();
    count++;
    memory64 ||= (flags & LIMITS_MEMORY64) !== 0;
  };
  while (!reader.done()) {
    const id = reader.byte();
    const size = reader.leb();
    const end = reader.offset + size;
    if (id === SECTION_IMPORT) {
      for (let n = reader.leb(); n > 0; n--) {
        reader.skipName();
        reader.skipName();
        const kind = reader.byte();
        if (kind === IMPORT_MEMORY) takeLimits();
        else skipImportDescription(reader, kind);
      }
    } else if (id === SECTION_MEMORY) {
      for (let n = reader.leb(); n > 0; n--) takeLimits();
    }
    // Sections are ordered by id (custom sections aside): nothing after the memory section matters.
    if (id === SECTION_MEMORY) break;
    reader.seek(end);
  }
  return { count, memory64 };
}

function skipImportDescription(reader: ByteReader, kind: number): void {
  switch (kind) {
    case IMPORT_FUNC:
      reader.leb();
      return;
    case IMPORT_TABLE: {
      reader.skipValueType();
      const flags = reader.byte();
      reader.leb();
      if (flags & LIMITS_HAS_MAX) reader.leb();
      return;
    }
    case IMPORT_GLOBAL:
      reader.skipValueType();
      reader.byte();
      return;
    case IMPORT_TAG:
      reader.byte();
      reader.leb();
      return;
    default:
      throw new TruncatedError();
  }
}

class TruncatedError extends Error {}

class ByteReader {
  constructor(
    private readonly bytes: Uint8Array,
    public offset: number,
  ) {}

  done(): boolean {
    return this.offset >= this.bytes.length;
  }

  byte(): number {
    const value = this.bytes[this.offset++];
    if (value === undefined) throw new TruncatedError();
    return value;
  }

  /** An unsigned LEB128; values beyond 2^53 are not needed here, so float arithmetic is fine. */
  leb(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
  }

  skipName(): void {
    // The length first: `this.offset + this.leb()` would add the offset from before the length.
    const length = this.leb();
    this.seek(this.offset + length);
  }

  skipValueType(): void {
    const code = this.byte();
    if (code === REF_NULLABLE || code === REF_NON_NULLABLE) this.leb();
  }

  seek(offset: number): void {
    if (offset > this.bytes.length) throw new TruncatedError();
    this.offset = offset;
  }
}

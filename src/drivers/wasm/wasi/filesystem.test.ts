// The two preopens as C guests see them: no way out of the input dir (paths, "..", symlinks),
// the input dir read-only, and the in-memory scratch dir behaving like a POSIX directory.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipWithout } from '../../../host-tools.js';
import { ProcExit } from './errors.js';
import { RecordingGate } from './gate.js';
import { compileC, OutputLog, runGuest, watchedStdin } from './guest-fixture.js';
import { createWasi } from './wasi.js';

const ESCAPES = String.raw`
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
static void try_open(const char *path, int flags) {
  errno = 0;
  int fd = open(path, flags, 0644);
  if (fd < 0) { printf("%s: errno %d\n", path, errno); return; }
  char buf[32] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  printf("%s: read %zd %s\n", path, n, buf);
  close(fd);
}
int main(void) {
  try_open("/input/../secret.txt", O_RDONLY);
  try_open("/input/sub/../../secret.txt", O_RDONLY);
  try_open("/scratch/../input/a.txt", O_RDONLY);
  try_open("/etc/passwd", O_RDONLY);
  try_open("/input/escape-link", O_RDONLY);
  try_open("/input/escape-dir/secret.txt", O_RDONLY);
  try_open("/input/inner-link", O_RDONLY);
  try_open("/input/sub/../a.txt", O_RDONLY);
  try_open("/input/a.txt", O_WRONLY);
  try_open("/input/new.txt", O_WRONLY | O_CREAT);
  try_open("/input/a.txt/", O_RDONLY);
  errno = 0; printf("mkdir: %d errno %d\n", mkdir("/input/d", 0755), errno);
  errno = 0; printf("unlink: %d errno %d\n", unlink("/input/a.txt"), errno);
  errno = 0; printf("rename across: %d errno %d\n", rename("/scratch/x", "/input/x"), errno);
  return 0;
}
`;

const SCRATCH = String.raw`
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#define CHECK(label, expr) do { errno = 0; long r_ = (long)(expr); printf("%s = %ld errno %d\n", label, r_, r_ < 0 ? errno : 0); } while (0)
static void list(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  printf("ls %s:", path);
  while ((e = readdir(d))) printf(" %s", e->d_name);
  printf("\n");
  closedir(d);
}
int main(void) {
  CHECK("mkdir d", mkdir("/scratch/d", 0755));
  CHECK("mkdir d again", mkdir("/scratch/d", 0755));
  CHECK("mkdir missing/x", mkdir("/scratch/missing/x", 0755));
  int fd = open("/scratch/d/f.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK("write", write(fd, "hello world", 11));
  CHECK("pwrite", pwrite(fd, "W", 1, 6));
  char buf[8] = {0};
  CHECK("pread", pread(fd, buf, 5, 6));
  printf("pread: %s\n", buf);
  CHECK("lseek end", lseek(fd, 0, SEEK_END));
  CHECK("lseek past", lseek(fd, 4, SEEK_CUR));
  CHECK("write after gap", write(fd, "!", 1));
  CHECK("ftruncate", ftruncate(fd, 13));
  struct stat st;
  fstat(fd, &st);
  printf("size %lld\n", (long long)st.st_size);
  CHECK("lseek negative", lseek(fd, -100, SEEK_SET));
  close(fd);
  int ap = open("/scratch/d/f.txt", O_WRONLY | O_APPEND);
  CHECK("append", write(ap, "+", 1));
  close(ap);
  CHECK("rmdir nonempty", rmdir("/scratch/d"));
  CHECK("unlink dir", unlink("/scratch/d"));
  CHECK("rename", rename("/scratch/d/f.txt", "/scratch/g.txt"));
  CHECK("rename into itself", rename("/scratch/d", "/scratch/d/e"));
  CHECK("open missing", open("/scratch/nope", O_RDONLY));
  CHECK("exclusive", open("/scratch/g.txt", O_WRONLY | O_CREAT | O_EXCL, 0644));
  CHECK("write read-only", write(open("/scratch/g.txt", O_RDONLY), "x", 1));
  CHECK("rmdir empty", rmdir("/scratch/d"));
  mkdir("/scratch/b", 0755);
  close(open("/scratch/a", O_WRONLY | O_CREAT, 0644));
  list("/scratch");
  CHECK("unlink a", unlink("/scratch/a"));
  list("/scratch");
  return 0;
}
`;

const EXIT_3 = `
#include <stdlib.h>
int main(void) { exit(3); }
`;

describe('preopened directories seen by a C guest', { skip: skipWithout('clang') }, () => {
  let root = '';

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'shadowvm-fs-'));
    const input = join(root, 'input');
    mkdirSync(join(input, 'sub'), { recursive: true });
    mkdirSync(join(root, 'outside'));
    writeFileSync(join(input, 'a.txt'), 'alpha');
    writeFileSync(join(root, 'secret.txt'), 'SECRET');
    writeFileSync(join(root, 'outside', 'secret.txt'), 'SECRET');
    symlinkSync(join(root, 'secret.txt'), join(input, 'escape-link'));
    symlinkSync(join(root, 'outside'), join(input, 'escape-dir'));
    symlinkSync('a.txt', join(input, 'inner-link'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const run = (name: string, source: string) => {
    const out = new OutputLog();
    const result = runGuest(compileC(name, source), {
      args: [name],
      env: {},
      stdin: watchedStdin(),
      inputDir: { guestPath: '/input', hostPath: join(root, 'input') },
      scratchDir: { guestPath: '/scratch' },
      gate: new RecordingGate(() => {}),
      output: out.output,
    });
    return { ...result, out };
  };

  test('nothing outside the input dir is reachable, and the input dir is read-only', () => {
    const { exitCode, out } = run('escapes', ESCAPES);
    assert.equal(exitCode, 0);
    assert.equal(
      out.text('stdout'),
      [
        '/input/../secret.txt: errno 76',
        '/input/sub/../../secret.txt: errno 76',
        '/scratch/../input/a.txt: errno 76',
        '/etc/passwd: errno 76',
        '/input/escape-link: errno 76',
        '/input/escape-dir/secret.txt: errno 76',
        '/input/inner-link: read 5 alpha',
        '/input/sub/../a.txt: read 5 alpha',
        '/input/a.txt: errno 69',
        '/input/new.txt: errno 69',
        '/input/a.txt/: errno 54',
        'mkdir: -1 errno 69',
        'unlink: -1 errno 69',
        'rename across: -1 errno 75',
        '',
      ].join('\n'),
    );
  });

  test('the scratch dir behaves like a POSIX directory and reports every write', () => {
    const { exitCode, out, scratch } = run('scratch', SCRATCH);
    assert.equal(exitCode, 0);
    assert.equal(
      out.text('stdout'),
      [
        'mkdir d = 0 errno 0',
        'mkdir d again = -1 errno 20',
        'mkdir missing/x = -1 errno 44',
        'write = 11 errno 0',
        'pwrite = 1 errno 0',
        'pread = 5 errno 0',
        'pread: World',
        'lseek end = 11 errno 0',
        'lseek past = 15 errno 0',
        'write after gap = 1 errno 0',
        'ftruncate = 0 errno 0',
        'size 13',
        'lseek negative = -1 errno 28',
        'append = 1 errno 0',
        'rmdir nonempty = -1 errno 55',
        'unlink dir = -1 errno 31',
        'rename = 0 errno 0',
        'rename into itself = -1 errno 28',
        'open missing = -1 errno 44',
        'exclusive = -1 errno 20',
        'write read-only = -1 errno 8',
        'rmdir empty = 0 errno 0',
        'ls /scratch: . .. a b g.txt',
        'unlink a = 0 errno 0',
        'ls /scratch: . .. b g.txt',
        '',
      ].join('\n'),
    );
    // "hello World", a 2-byte hole cut back by ftruncate(13), then the appended "+".
    assert.deepEqual([...scratch.keys()], ['/scratch/g.txt']);
    assert.deepEqual(scratch.get('/scratch/g.txt'), new Uint8Array([...Buffer.from('hello World'), 0, 0, ...Buffer.from('+')]));
    // Every write is an output of the file's stream (named by the path it was opened under).
    assert.equal(Buffer.from(out.bytes('file:/scratch/d/f.txt')).toString(), 'hello worldW!+');
  });

  test('proc_exit(3) surfaces as ProcExit with code 3', () => {
    const wasi = createWasi({ args: ['exit'], env: {}, stdin: watchedStdin(), gate: new RecordingGate(() => {}), output: () => {} });
    const instance = new WebAssembly.Instance(compileC('exit3', EXIT_3), { wasi_snapshot_preview1: wasi.imports });
    wasi.bind(instance.exports.memory as WebAssembly.Memory);
    assert.throws(
      () => (instance.exports._start as () => void)(),
      (error: unknown) => error instanceof ProcExit && error.code === 3,
    );
  });
});

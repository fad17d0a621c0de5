/*
 * pipeline — the demo computation: a small but real data pipeline.
 *
 * Exercises: seconds of deterministic compute (about 4 s by default in Node) over a heap that
 * grows phase by phase (generate -> sort -> aggregate -> simulate -> hash), so memory pages
 * appear and change over many epochs; IEEE floating point; stdout that is byte-identical for the
 * same arguments and input (the result table and a SHA-256 over the final tables); progress and
 * per-phase timings on stderr (the only use of the clock); optional rows from stdin, so the guest
 * can sit in a shell pipeline.
 *
 * Usage: pipeline [seed=42] [rows=400000] [-]
 *   seed   seeds the generator coded below (not random_get: same arguments, same output)
 *   rows   synthetic sensor records to generate; the simulation runs rows/SIM_ROWS_PER_STEP steps,
 *          so small row counts make a quick run for tests
 *   -      also read records from stdin, one per line: "<station> <timestamp> <value>"
 *
 * Exit codes: 0 done, 2 bad arguments or bad stdin line, 3 out of memory.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest.h"

#define USAGE "pipeline [seed=42] [rows=400000] [-]"

enum {
  STATIONS = 48,          /* synthetic stations in the generated data */
  GRID = 256,             /* side of the heat-diffusion grid */
  SIM_ROWS_PER_STEP = 16, /* one diffusion step per this many rows */
  PROGRESS_PARTS = 8,     /* progress lines per phase on stderr */
};

static const uint64_t FIRST_TIMESTAMP = 1700000000; /* 2023-11-14, seconds */
static const uint64_t SPAN_SECONDS = 30 * 86400;    /* records cover 30 days */
static const uint32_t MAX_ROWS = 50000000;          /* keeps rows * record size inside wasm32 */

static _Noreturn void out_of_memory(const char *what, size_t bytes) {
  fprintf(stderr, "pipeline: out of memory allocating %zu bytes for %s\n", bytes, what);
  exit(3);
}

static void *checked_realloc(void *old, size_t bytes, const char *what) {
  void *fresh = realloc(old, bytes);
  if (fresh == NULL) out_of_memory(what, bytes);
  return fresh;
}

/* ---- elapsed time, stderr only ---------------------------------------------------------------- */

static double monotonic_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static double phase_started;

static void phase_begin(void) { phase_started = monotonic_seconds(); }

static void phase_end(const char *name) {
  fprintf(stderr, "pipeline: %s done in %.3f s\n", name, monotonic_seconds() - phase_started);
}

/* Every how many items a phase reports progress, so that it reports about PROGRESS_PARTS times. */
static uint32_t progress_interval(uint32_t total) {
  uint32_t interval = total / PROGRESS_PARTS + (total % PROGRESS_PARTS != 0);
  return interval ? interval : 1;
}

/* ---- deterministic generator (splitmix64) ---------------------------------------------------- */

typedef struct {
  uint64_t state;
} rng_t;

static uint64_t rng_next(rng_t *rng) {
  uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_unit(rng_t *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; }

static uint32_t rng_below(rng_t *rng, uint32_t bound) {
  return (uint32_t)(((rng_next(rng) >> 32) * bound) >> 32);
}

/* ---- records ---------------------------------------------------------------------------------- */

typedef struct {
  uint64_t timestamp;
  double value;
  uint32_t id;
  uint32_t station;
} record_t;

typedef struct {
  record_t *rows;
  size_t len;
  size_t cap;
} dataset_t;

/* Grows by half each time so the heap (and the wasm memory) grows in steps during generation. */
static void dataset_push(dataset_t *data, record_t record) {
  if (data->len == data->cap) {
    /* size_t is 32 bits in wasm32: refuse a capacity whose byte size would wrap around. */
    if (data->cap > SIZE_MAX / sizeof(record_t) / 3 * 2) out_of_memory("records", SIZE_MAX);
    data->cap = data->cap < 4096 ? 4096 : data->cap + data->cap / 2;
    data->rows = checked_realloc(data->rows, data->cap * sizeof(record_t), "records");
  }
  data->rows[data->len++] = record;
}

typedef struct {
  uint32_t code;
  double base;      /* mean temperature */
  double amplitude; /* day/night swing */
  double noise;     /* standard deviation of sensor noise */
} station_model_t;

/* Multiplying by an odd constant is a bijection mod 2^16, so codes are distinct but scattered. */
static uint32_t station_code(uint32_t index) { return (index * 40503u + 7919u) & 0xffffu; }

/* -1 at midnight, +1 at noon, linear in between: a diurnal cycle without libm. */
static double diurnal(uint64_t timestamp) {
  double phase = (double)(timestamp % 86400) / 86400.0;
  double distance = phase < 0.5 ? 0.5 - phase : phase - 0.5;
  return 1.0 - 4.0 * distance;
}

static void generate(dataset_t *data, uint64_t seed, uint32_t rows) {
  rng_t rng = {seed};
  station_model_t models[STATIONS];
  for (uint32_t i = 0; i < STATIONS; i++) {
    models[i].code = station_code(i);
    models[i].base = -5.0 + 30.0 * rng_unit(&rng);
    models[i].amplitude = 2.0 + 8.0 * rng_unit(&rng);
    models[i].noise = 0.5 + 2.5 * rng_unit(&rng);
  }
  uint32_t report_every = progress_interval(rows);
  for (uint32_t id = 0; id < rows; id++) {
    /* Squaring the uniform skews traffic: low-numbered stations report far more often. */
    double pick = rng_unit(&rng);
    const station_model_t *model = &models[(uint32_t)(pick * pick * STATIONS)];
    uint64_t timestamp = FIRST_TIMESTAMP + rng_below(&rng, (uint32_t)SPAN_SECONDS);
    /* Sum of four uniforms, centred and scaled to unit variance: cheap near-normal noise. */
    double noise = (rng_unit(&rng) + rng_unit(&rng) + rng_unit(&rng) + rng_unit(&rng) - 2.0) *
                   1.7320508075688772;
    double value = model->base + model->amplitude * diurnal(timestamp) + model->noise * noise;
    /* A faulty sensor now and then: the aggregates' min/max must show it. */
    if (rng_below(&rng, 20000) == 0) value = rng_below(&rng, 2) ? 999.9 : -999.9;
    dataset_push(data, (record_t){timestamp, value, id, model->code});
    if ((id + 1) % report_every == 0)
      fprintf(stderr, "pipeline: generated %u/%u rows\n", id + 1, rows);
  }
}

/* Appends "<station> <timestamp> <value>" lines from stdin; returns how many were read. */
static size_t read_stdin_rows(dataset_t *data) {
  char line[256];
  size_t count = 0, line_number = 0;
  while (fgets(line, sizeof line, stdin) != NULL) {
    unsigned int station = 0;
    unsigned long long timestamp = 0;
    double value = 0;
    char rest = 0;
    line_number++;
    if (line[strspn(line, " \t\r\n")] == '\0') continue; /* blank line */
    if (sscanf(line, "%u %llu %lf %c", &station, &timestamp, &value, &rest) != 3 ||
        station > 0xffff) {
      line[strcspn(line, "\r\n")] = '\0';
      fprintf(stderr,
              "pipeline: stdin line %zu: expected '<station 0-65535> <timestamp> <value>', "
              "got '%s'\n",
              line_number, line);
      exit(2);
    }
    dataset_push(data, (record_t){timestamp, value, (uint32_t)data->len, station});
    count++;
  }
  return count;
}

/* ---- stable bottom-up merge sort by (timestamp, id) ----------------------------------------- */

static int record_before(const record_t *a, const record_t *b) {
  return a->timestamp != b->timestamp ? a->timestamp < b->timestamp : a->id < b->id;
}

static void merge_runs(const record_t *src, record_t *dst, size_t lo, size_t mid, size_t hi) {
  size_t left = lo, right = mid, out = lo;
  while (left < mid && right < hi)
    dst[out++] = record_before(&src[right], &src[left]) ? src[right++] : src[left++];
  while (left < mid) dst[out++] = src[left++];
  while (right < hi) dst[out++] = src[right++];
}

/* Sorts data->rows; the scratch buffer is a second heap allocation the size of the data. */
static void sort_records(dataset_t *data) {
  size_t n = data->len;
  record_t *scratch = checked_realloc(NULL, (n ? n : 1) * sizeof(record_t), "sort buffer");
  record_t *src = data->rows, *dst = scratch;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      merge_runs(src, dst, lo, mid, hi);
    }
    record_t *swap = src;
    src = dst;
    dst = swap;
  }
  data->rows = src;
  free(dst);
}

/* ---- per-station aggregates in an open-addressing hash table ------------------------------ */

typedef struct {
  uint32_t station;
  uint32_t used;
  uint64_t count;
  double mean;
  double m2; /* sum of squared deviations (Welford), for the variance */
  double min;
  double max;
  double last;
  double max_step; /* largest change between consecutive readings in time order */
} station_stats_t;

typedef struct {
  station_stats_t *slots;
  uint32_t capacity; /* a power of two */
  uint32_t used;
} stats_table_t;

static uint32_t slot_of(uint32_t station, uint32_t capacity) {
  return (station * 0x9e3779b1u) & (capacity - 1);
}

static station_stats_t *table_find_or_add(stats_table_t *table, uint32_t station);

/* Keeps the load at most one half so probe sequences stay short. */
static void table_grow(stats_table_t *table) {
  stats_table_t old = *table;
  table->capacity = old.capacity ? old.capacity * 2 : 16;
  table->used = 0;
  table->slots = checked_realloc(NULL, table->capacity * sizeof(station_stats_t), "hash table");
  memset(table->slots, 0, table->capacity * sizeof(station_stats_t));
  for (uint32_t i = 0; i < old.capacity; i++)
    if (old.slots[i].used) *table_find_or_add(table, old.slots[i].station) = old.slots[i];
  free(old.slots);
}

static station_stats_t *table_find_or_add(stats_table_t *table, uint32_t station) {
  if (2 * (table->used + 1) > table->capacity) table_grow(table);
  uint32_t slot = slot_of(station, table->capacity);
  while (table->slots[slot].used && table->slots[slot].station != station)
    slot = (slot + 1) & (table->capacity - 1);
  station_stats_t *stats = &table->slots[slot];
  if (!stats->used) {
    *stats = (station_stats_t){.station = station, .used = 1};
    table->used++;
  }
  return stats;
}

static void stats_add(station_stats_t *stats, double value) {
  if (stats->count == 0) {
    stats->min = stats->max = value;
  } else {
    double step = value > stats->last ? value - stats->last : stats->last - value;
    if (step > stats->max_step) stats->max_step = step;
    if (value < stats->min) stats->min = value;
    if (value > stats->max) stats->max = value;
  }
  stats->count++;
  double delta = value - stats->mean;
  stats->mean += delta / (double)stats->count;
  stats->m2 += delta * (value - stats->mean);
  stats->last = value;
}

static int by_station(const void *a, const void *b) {
  uint32_t x = ((const station_stats_t *)a)->station, y = ((const station_stats_t *)b)->station;
  return (x > y) - (x < y);
}

/* Returns the stations' aggregates ordered by station code; *count receives how many. */
static station_stats_t *aggregate(const dataset_t *data, uint32_t *count) {
  stats_table_t table = {0};
  for (size_t i = 0; i < data->len; i++)
    stats_add(table_find_or_add(&table, data->rows[i].station), data->rows[i].value);
  station_stats_t *sorted =
      checked_realloc(NULL, (table.used ? table.used : 1) * sizeof(station_stats_t), "aggregates");
  uint32_t n = 0;
  for (uint32_t i = 0; i < table.capacity; i++)
    if (table.slots[i].used) sorted[n++] = table.slots[i];
  free(table.slots);
  qsort(sorted, n, sizeof(station_stats_t), by_station);
  *count = n;
  return sorted;
}

static double stats_stddev(const station_stats_t *stats) {
  if (stats->count < 2) return 0.0;
  return __builtin_sqrt(stats->m2 / (double)(stats->count - 1));
}

/* ---- simulation: heat diffusion with the stations as fixed-temperature sources -------------- */

typedef struct {
  double *cells; /* GRID * GRID, row-major */
  uint32_t steps;
  double residual; /* largest change of any cell in the last step: how far from steady state */
} heat_grid_t;

static uint32_t source_cell(uint32_t station) {
  uint32_t mixed = station * 2654435761u;
  uint32_t x = 1 + (mixed >> 8) % (GRID - 2), y = 1 + (mixed >> 20) % (GRID - 2);
  return y * GRID + x;
}

static void pin_sources(double *cells, const station_stats_t *stats, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) cells[source_cell(stats[i].station)] = stats[i].mean;
}

/* Largest change of any cell between two grids. */
static double max_change(const double *a, const double *b) {
  double largest = 0.0;
  for (size_t i = 0; i < (size_t)GRID * GRID; i++) {
    double change = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    if (change > largest) largest = change;
  }
  return largest;
}

/* Explicit diffusion steps; the border stays at 0 degrees and each station holds its mean. */
static heat_grid_t simulate(const station_stats_t *stats, uint32_t count, uint32_t steps) {
  size_t bytes = (size_t)GRID * GRID * sizeof(double);
  double *cells = checked_realloc(NULL, bytes, "grid");
  double *next = checked_realloc(NULL, bytes, "grid");
  memset(cells, 0, bytes);
  pin_sources(cells, stats, count);
  memcpy(next, cells, bytes);
  uint32_t report_every = progress_interval(steps);
  for (uint32_t step = 0; step < steps; step++) {
    for (uint32_t y = 1; y < GRID - 1; y++) {
      for (uint32_t x = 1; x < GRID - 1; x++) {
        size_t at = (size_t)y * GRID + x;
        double laplacian = cells[at - 1] + cells[at + 1] + cells[at - GRID] + cells[at + GRID] -
                           4.0 * cells[at];
        next[at] = cells[at] + 0.2 * laplacian;
      }
    }
    pin_sources(next, stats, count);
    double *swap = cells;
    cells = next;
    next = swap;
    if ((step + 1) % report_every == 0)
      fprintf(stderr, "pipeline: simulated %u/%u steps\n", step + 1, steps);
  }
  double residual = max_change(cells, next);
  free(next);
  return (heat_grid_t){cells, steps, residual};
}

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------------------------------- */

typedef struct {
  uint32_t state[8];
  uint8_t block[64];
  size_t block_len;
  uint64_t total_len;
} sha256_t;

static const uint32_t SHA256_ROUND[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha256_init(sha256_t *h) {
  static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(h->state, initial, sizeof initial);
  h->block_len = 0;
  h->total_len = 0;
}

static void sha256_compress(sha256_t *h, const uint8_t *block) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
           (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h->state[0], b = h->state[1], c = h->state[2], d = h->state[3];
  uint32_t e = h->state[4], f = h->state[5], g = h->state[6], k = h->state[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                  SHA256_ROUND[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h->state[0] += a;
  h->state[1] += b;
  h->state[2] += c;
  h->state[3] += d;
  h->state[4] += e;
  h->state[5] += f;
  h->state[6] += g;
  h->state[7] += k;
}

static void sha256_update(sha256_t *h, const void *data, size_t len) {
  const uint8_t *bytes = data;
  h->total_len += len;
  while (len > 0) {
    size_t take = 64 - h->block_len < len ? 64 - h->block_len : len;
    memcpy(h->block + h->block_len, bytes, take);
    h->block_len += take;
    bytes += take;
    len -= take;
    if (h->block_len == 64) {
      sha256_compress(h, h->block);
      h->block_len = 0;
    }
  }
}

static void sha256_final(sha256_t *h, uint8_t digest[32]) {
  uint64_t bits = h->total_len * 8;
  uint8_t pad = 0x80;
  sha256_update(h, &pad, 1);
  pad = 0;
  while (h->block_len != 56) sha256_update(h, &pad, 1);
  uint8_t length[8];
  for (int i = 0; i < 8; i++) length[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(h, length, 8);
  for (int i = 0; i < 32; i++) digest[i] = (uint8_t)(h->state[i / 4] >> (24 - 8 * (i % 4)));
}

/* Fixed little-endian encodings, so the checksum does not depend on the host's byte order. */
static void hash_u64(sha256_t *h, uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(value >> (8 * i));
  sha256_update(h, bytes, 8);
}

static void hash_f64(sha256_t *h, double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  hash_u64(h, bits);
}

/* The checksum covers every printed aggregate at full precision and every grid cell. */
static void checksum_tables(const station_stats_t *stats, uint32_t count, const heat_grid_t *grid,
                            uint8_t digest[32]) {
  sha256_t h;
  sha256_init(&h);
  for (uint32_t i = 0; i < count; i++) {
    hash_u64(&h, stats[i].station);
    hash_u64(&h, stats[i].count);
    hash_f64(&h, stats[i].mean);
    hash_f64(&h, stats[i].m2);
    hash_f64(&h, stats[i].min);
    hash_f64(&h, stats[i].max);
    hash_f64(&h, stats[i].max_step);
  }
  for (size_t i = 0; i < (size_t)GRID * GRID; i++) hash_f64(&h, grid->cells[i]);
  sha256_final(&h, digest);
}

/* ---- report ----------------------------------------------------------------------------------- */

static void print_report(uint64_t seed, uint32_t rows, size_t stdin_rows,
                         const station_stats_t *stats, uint32_t count, const heat_grid_t *grid,
                         const uint8_t digest[32]) {
  printf("pipeline: seed %llu, %u generated rows, %zu stdin rows, %u stations\n",
         (unsigned long long)seed, rows, stdin_rows, count);
  printf("%7s %8s %9s %8s %9s %9s %9s\n", "station", "count", "mean", "stddev", "min", "max",
         "max_step");
  for (uint32_t i = 0; i < count; i++)
    printf("%7u %8llu %9.4f %8.4f %9.4f %9.4f %9.4f\n", stats[i].station,
           (unsigned long long)stats[i].count, stats[i].mean, stats_stddev(&stats[i]),
           stats[i].min, stats[i].max, stats[i].max_step);
  double low = grid->cells[0], high = grid->cells[0], sum = 0.0;
  for (size_t i = 0; i < (size_t)GRID * GRID; i++) {
    double cell = grid->cells[i];
    if (cell < low) low = cell;
    if (cell > high) high = cell;
    sum += cell;
  }
  printf("heat grid %dx%d after %u steps: min %.6f max %.6f mean %.6f centre %.6f residual %.3e\n",
         GRID, GRID, grid->steps, low, high, sum / ((double)GRID * GRID),
         grid->cells[(GRID / 2) * GRID + GRID / 2], grid->residual);
  printf("sha256 ");
  for (int i = 0; i < 32; i++) printf("%02x", digest[i]);
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc > 4 || (argc == 4 && strcmp(argv[3], "-") != 0)) usage_exit(USAGE);
  uint64_t seed = arg_uint(argc, argv, 1, 42, UINT64_MAX, USAGE);
  uint32_t rows = (uint32_t)arg_uint(argc, argv, 2, 400000, MAX_ROWS, USAGE);
  dataset_t data = {0};

  phase_begin();
  generate(&data, seed, rows);
  size_t stdin_rows = argc == 4 ? read_stdin_rows(&data) : 0;
  phase_end("generate");

  phase_begin();
  sort_records(&data);
  phase_end("sort");

  phase_begin();
  uint32_t count = 0;
  station_stats_t *stats = aggregate(&data, &count);
  phase_end("aggregate");

  phase_begin();
  heat_grid_t grid = simulate(stats, count, (uint32_t)(data.len / SIM_ROWS_PER_STEP) + 1);
  phase_end("simulate");

  uint8_t digest[32];
  checksum_tables(stats, count, &grid, digest);
  print_report(seed, rows, stdin_rows, stats, count, &grid, digest);
  free(grid.cells);
  free(stats);
  free(data.rows);
  return 0;
}

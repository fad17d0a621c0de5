// The two live charts, both uPlot: each VM's failure-prediction score over time against the policy's
// thresholds, and the page-difference map (differing pages × epochs, one colour per shadow
// compared, and above each epoch the vote found differing, the replica it blamed).

import uPlot from '/vendor/uPlot.esm.js';

const AXIS = {
  stroke: '#8b96a5',
  grid: { stroke: '#232a33', width: 1 },
  ticks: { stroke: '#2a323d', width: 1 },
  font: '11px system-ui, sans-serif',
};
const COLOURS = { primary: '#4aa3ff', shadow1: '#3fb950', shadow2: '#d29922', shadow3: '#a371f7', shadow4: '#ff7b72', shadow5: '#56d4dd' };
const colourOf = (slot) => COLOURS[slot] ?? '#c9d1d9';
/** "c-…/shadow1#2" → "shadow1": generations of a replica share a line. */
export const slotOf = (vmId) => vmId.split('/')[1]?.split('#')[0] ?? vmId;

function sizeOf(element) {
  const box = element.getBoundingClientRect();
  return { width: Math.max(200, Math.floor(box.width)), height: Math.max(120, Math.floor(box.height) - 28) };
}

export class ScoreChart {
  constructor(element) {
    this.element = element;
    this.slots = [];
    this.times = [];
    this.values = new Map();
    this.thresholds = { warn: [], fail: [] };
    this.current = { warn: null, fail: null };
    this.build();
    new ResizeObserver(() => this.plot.setSize(sizeOf(element))).observe(element);
  }

  build() {
    this.plot?.destroy();
    const series = [
      { label: 'time', value: (_u, v) => (v == null ? '' : new Date(v * 1000).toLocaleTimeString()) },
      ...this.slots.map((slot) => ({
        label: slot,
        stroke: colourOf(slot),
        width: 1.5,
        points: { show: false },
        value: (_u, v) => (v == null ? '–' : v.toFixed(3)),
      })),
      { label: 'warn ≥', stroke: '#d29922', dash: [5, 4], width: 1, points: { show: false } },
      { label: 'predict-failure ≥', stroke: '#f85149', dash: [5, 4], width: 1, points: { show: false } },
    ];
    this.plot = new uPlot(
      {
        ...sizeOf(this.element),
        series,
        scales: { x: { time: true }, y: { range: [0, 1.02] } },
        axes: [{ ...AXIS }, { ...AXIS, size: 40, values: (_u, ticks) => ticks.map((t) => t.toFixed(1)) }],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      this.data(),
      this.element,
    );
  }

  data() {
    return [this.times, ...this.slots.map((slot) => this.values.get(slot)), this.thresholds.warn, this.thresholds.fail];
  }

  setThresholds(levels) {
    const known = this.current.warn !== null || this.current.fail !== null;
    this.current.warn = levels?.find((l) => l.name === 'warn')?.enter ?? levels?.[0]?.enter ?? null;
    this.current.fail = levels?.find((l) => l.name === 'predict-failure')?.enter ?? levels?.[levels.length - 1]?.enter ?? null;
    // The first thresholds learnt held from the start (the policy is set before epoch 1).
    if (!known) {
      this.thresholds.warn.fill(this.current.warn);
      this.thresholds.fail.fill(this.current.fail);
      this.schedule();
    }
  }

  /** One epoch's scores by VM id, at `at` (ms). */
  add(at, scores) {
    const fresh = Object.keys(scores)
      .map(slotOf)
      .filter((slot) => !this.slots.includes(slot));
    if (fresh.length > 0) {
      this.slots = [...this.slots, ...fresh].sort();
      for (const slot of fresh)
        this.values.set(
          slot,
          this.times.map(() => null),
        );
    }
    this.times.push(at / 1000);
    for (const slot of this.slots) this.values.get(slot).push(null);
    for (const [vmId, score] of Object.entries(scores)) this.values.get(slotOf(vmId))[this.times.length - 1] = score;
    this.thresholds.warn.push(this.current.warn);
    this.thresholds.fail.push(this.current.fail);
    if (fresh.length > 0) this.build();
    else this.schedule();
    this.element.dataset.points = String(this.times.length);
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.plot.setData(this.data());
    });
  }
}

export class PageMap {
  /** `caption` lists the latest verdicts in words (the map marks them). */
  constructor(element, caption) {
    this.element = element;
    this.caption = caption;
    this.cells = new Map();
    /** Epoch → replicas the vote blamed there ("primary", "shadow1"…); empty when it could not decide. */
    this.blamed = new Map();
    this.shadows = [];
    this.maxPage = 16;
    this.minEpoch = 1;
    this.maxEpoch = 2;
    this.plot = new uPlot(
      {
        ...sizeOf(element),
        series: [
          { label: 'epoch' },
          { label: 'differing pages', stroke: 'transparent', points: { show: false }, value: () => `${this.cells.size} cells` },
        ],
        scales: {
          x: { time: false, range: () => [this.minEpoch - 0.5, this.maxEpoch + 0.5] },
          // Headroom above the highest page: the band where the blamed replicas are marked.
          y: { range: () => [0, (this.maxPage + 1) * 1.18] },
        },
        axes: [
          { ...AXIS, label: 'epoch', labelSize: 14, labelFont: AXIS.font },
          { ...AXIS, size: 44, label: 'page', labelSize: 14, labelFont: AXIS.font },
        ],
        legend: { show: true },
        cursor: { drag: { x: true, y: true } },
        hooks: { draw: [(u) => this.drawCells(u)] },
      },
      [
        [1, 2],
        [null, null],
      ],
      element,
    );
    new ResizeObserver(() => this.plot.setSize(sizeOf(element))).observe(element);
  }

  /** A divergence: `pages` of shadow `vmId` differ from the primary at `epoch`. */
  add(epoch, vmId, pages) {
    const slot = slotOf(vmId);
    if (!this.shadows.includes(slot)) this.shadows.push(slot);
    for (const page of pages) {
      const key = `${epoch}:${page}`;
      const slots = this.cells.get(key) ?? new Set();
      slots.add(slot);
      this.cells.set(key, slots);
      this.maxPage = Math.max(this.maxPage, page);
    }
    this.extend(epoch);
    this.element.dataset.cells = String(this.cells.size);
  }

  /** The vote at `epoch` blamed these VM ids (none: no majority). */
  blame(epoch, vmIds) {
    this.blamed.set(epoch, vmIds.map(slotOf));
    const latest = [...this.blamed].sort((a, b) => b[0] - a[0]).slice(0, 4);
    this.caption.dataset.blamed = [...this.blamed].map(([e, slots]) => `${e}:${slots.join('+') || 'undecided'}`).join(' ');
    this.caption.replaceChildren(
      'blamed: ',
      ...latest.flatMap(([e, slots], i) => {
        const who = document.createElement('b');
        who.textContent = slots.join(', ') || 'no majority';
        who.style.color = slots.length === 1 ? colourOf(slots[0]) : '';
        return [...(i > 0 ? [' · '] : []), `epoch ${e} `, who];
      }),
    );
    this.extend(epoch);
  }

  extend(epoch) {
    this.minEpoch = Math.min(this.minEpoch, epoch);
    this.maxEpoch = Math.max(this.maxEpoch, epoch);
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.plot.setData([
        [this.minEpoch, this.maxEpoch],
        [null, null],
      ]);
    });
  }

  drawCells(u) {
    const { ctx } = u;
    const width = Math.max(2, Math.abs(u.valToPos(1, 'x', true) - u.valToPos(0, 'x', true)) - 1);
    const height = Math.max(2, Math.abs(u.valToPos(0, 'y', true) - u.valToPos(1, 'y', true)));
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    for (const [key, slots] of this.cells) {
      const [epoch, page] = key.split(':').map(Number);
      const x = u.valToPos(epoch - 0.5, 'x', true);
      const y = u.valToPos(page + 1, 'y', true);
      const parts = [...slots];
      parts.forEach((slot, i) => {
        ctx.fillStyle = colourOf(slot);
        ctx.globalAlpha = 0.85;
        ctx.fillRect(x + (i * width) / parts.length, y, width / parts.length, height);
      });
    }
    // The blamed replica above its epoch: a marker in its colour, and its name when there is room.
    ctx.globalAlpha = 1;
    ctx.font = `${Math.round(10 * devicePixelRatio)}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const top = u.bbox.top + 2 * devicePixelRatio;
    const size = 5 * devicePixelRatio;
    let labelledTo = Number.NEGATIVE_INFINITY;
    for (const [epoch, slots] of [...this.blamed].sort((a, b) => a[0] - b[0])) {
      const centre = u.valToPos(epoch, 'x', true);
      ctx.fillStyle = slots.length === 1 ? colourOf(slots[0]) : '#c9d1d9';
      ctx.beginPath();
      ctx.moveTo(centre - size, top);
      ctx.lineTo(centre + size, top);
      ctx.lineTo(centre, top + size * 1.4);
      ctx.fill();
      const label = slots.join('+') || 'no majority';
      const half = ctx.measureText(label).width / 2;
      if (centre - half <= labelledTo) continue;
      ctx.fillText(label, centre, top + size * 1.8);
      labelledTo = centre + half + 4 * devicePixelRatio;
    }
    ctx.restore();
  }
}

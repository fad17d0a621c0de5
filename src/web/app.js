// The dashboard: computations on the left, the selected one on the right with its live charts,
// timeline, checkpoints and controls. State comes from the REST API; the event stream says when
// something changed and carries the live series (scores, page differences, verdicts).

import { api, events } from './api.js';
import { PageMap, ScoreChart } from './charts.js';
import { renderCheckpoints, renderComputations, renderEndpoints, renderFacts, renderTimeline } from './panels.js';

const $ = (id) => document.getElementById(id);
const state = { selected: null, stream: null, scores: null, pages: null, computation: null };

// At most one run per `ms`, and always one after the last call. (A debounce that restarts its
// timer on every call would never run while a fast computation streams events without pause.)
function throttle(fn, ms) {
  let timer = 0;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = 0;
      fn();
    }, ms);
  };
}

async function refreshList() {
  const list = await api('GET', '/api/computations?limit=200');
  $('counts').innerHTML = '';
  for (const [name, value] of Object.entries(list.counts)) {
    const b = document.createElement('b');
    b.textContent = String(value);
    $('counts').append(b, ` ${name}  `);
  }
  $('counts').append(`· ${list.concurrency} at once`);
  renderComputations($('computations').querySelector('tbody'), list.items, state.selected, select);
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  const [computation, timeline, checkpoints] = await Promise.all([
    api('GET', `/api/computations/${id}`),
    api('GET', `/api/computations/${id}/timeline`),
    api('GET', `/api/computations/${id}/checkpoints`),
  ]);
  if (id !== state.selected) return;
  state.computation = computation;
  $('d-id').textContent = computation.id;
  $('d-name').textContent = computation.name;
  $('d-status').textContent = computation.live?.phase === 'queued' ? 'queued' : computation.status;
  $('d-status').dataset.status = computation.status;
  renderFacts($('d-facts'), computation);
  renderEndpoints($('d-endpoints'), computation);
  renderTimeline($('timeline').querySelector('tbody'), timeline.items);
  renderCheckpoints($('checkpoints').querySelector('tbody'), checkpoints.items);
  const targets = computation.live?.replicas.map((r) => r.name) ?? [];
  const select = $('fault-target');
  if (select.dataset.for !== targets.join(',')) {
    select.replaceChildren(...targets.map((name) => new Option(name, name)));
    select.dataset.for = targets.join(',');
  }
  const running = computation.live?.phase === 'running';
  for (const button of ['inject', 'rollback', 'apply-thresholds', 'cancel'])
    $(button).disabled = !(running || (button === 'cancel' && computation.live?.phase === 'queued'));
  const levels = Object.values(computation.live?.thresholds ?? {})[0];
  state.scores.setThresholds(levels);
  if (levels && document.activeElement?.id !== 'th-warn' && document.activeElement?.id !== 'th-fail') {
    $('th-warn').value = levels.find((l) => l.name === 'warn')?.enter ?? '';
    $('th-fail').value = levels.find((l) => l.name === 'predict-failure')?.enter ?? '';
  }
}

const refreshDetailSoon = throttle(() => refreshDetail().catch(showError), 250);
const refreshListSoon = throttle(() => refreshList().catch(showError), 400);

function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  history.replaceState(null, '', `#${new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(location.hash.slice(1))), c: id })}`);
  state.stream?.close();
  $('detail').hidden = false;
  $('empty').hidden = true;
  $('drift').replaceChildren();
  $('heatmap').replaceChildren();
  $('blamed').replaceChildren();
  state.scores = new ScoreChart($('drift'));
  state.pages = new PageMap($('heatmap'), $('blamed'));
  // Replays what the manager still keeps of this computation, then follows it live.
  state.stream = events({ computation: id, lastEventId: '0' }, (type, data) => {
    if (data.computationId !== state.selected) return;
    if (type === 'score') state.scores.add(data.at, data.scores);
    else if (type === 'divergence') state.pages.add(data.epoch, data.vmId, data.pages);
    else if (type === 'verdict') state.pages.blame(data.epoch, data.blamed);
    else if (type === 'epoch') state.pages.extend(data.epoch);
    if (type !== 'score' && type !== 'divergence') refreshDetailSoon();
  });
  refreshDetail().catch(showError);
  refreshList().catch(showError);
}

function showError(error) {
  $('control-msg').textContent = error.message;
}

async function control(label, action) {
  $('control-msg').textContent = `${label}…`;
  try {
    await action();
    $('control-msg').textContent = `${label}: sent`;
  } catch (error) {
    showError(error);
  }
  refreshDetailSoon();
}

$('inject').addEventListener('click', () =>
  control('bit flip', () =>
    api('POST', `/api/computations/${state.selected}/faults`, {
      target: $('fault-target').value,
      fault: { kind: 'bitflip', bit: Number($('fault-bit').value) },
    }),
  ),
);
$('rollback').addEventListener('click', () =>
  control('rollback', () => api('POST', `/api/computations/${state.selected}/rollback`, { reason: 'manual rollback from the dashboard' })),
);
$('cancel').addEventListener('click', () =>
  control('cancel', () => api('POST', `/api/computations/${state.selected}/cancel`, { reason: 'cancelled from the dashboard' })),
);
$('apply-thresholds').addEventListener('click', () =>
  control('thresholds', async () => {
    const warn = Number($('th-warn').value);
    const fail = Number($('th-fail').value);
    const current = state.computation?.live?.thresholds ? Object.values(state.computation.live.thresholds)[0] : [];
    const levels = [
      { name: 'warn', enter: warn, exit: Math.max(0, +(warn - 0.1).toFixed(3)), consecutive: 2, actions: ['alert'], severity: 'warning' },
      {
        name: 'predict-failure',
        enter: fail,
        exit: Math.max(0, +(fail - 0.15).toFixed(3)),
        consecutive: 1,
        actions: ['alert', 'rollback'],
        severity: 'critical',
      },
    ];
    if (!current?.length) levels.length = 2;
    await api('PUT', `/api/computations/${state.selected}/policy`, { policy: { levels } });
  }),
);

// The form shows the fields of the chosen driver only (CSS on data-driver).
$('start').elements.driver.addEventListener('change', (event) => {
  $('start').dataset.driver = event.target.value;
});

/** The driver's part of POST /api/computations, from the form. */
function driverBody(text) {
  const words = (name) => (text(name) ? text(name).split(/\s+/) : []);
  if (text('driver') === 'qemu') {
    return {
      driver: 'qemu',
      mode: text('mode'),
      kernelArgs: words('kernelArgs'),
      ...(text('image') ? { image: text('image') } : {}),
      ...(text('epochMs') ? { epochMs: Number(text('epochMs')) } : {}),
    };
  }
  return {
    guest: text('guest'),
    args: words('args'),
    profiles: text('profiles')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    ...(text('epochEvents') ? { epochEvents: Number(text('epochEvents')) } : {}),
  };
}

$('start').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const text = (name) => String(form.get(name) ?? '').trim();
  const body = {
    ...driverBody(text),
    shadows: Number(text('shadows') || 2),
    ...(text('maxEpochs') ? { maxEpochs: Number(text('maxEpochs')) } : {}),
  };
  $('start-error').textContent = '';
  try {
    const created = await api('POST', '/api/computations', body);
    select(created.computation.id);
  } catch (error) {
    $('start-error').textContent = error.message;
  }
});

events(
  {},
  (type) => {
    if (type === 'status' || type === 'end') refreshListSoon();
  },
  (connection) => {
    $('conn').dataset.state = connection;
    $('conn').textContent = connection;
  },
);
setInterval(() => refreshList().catch(() => undefined), 5000);

refreshList()
  .then(() => {
    const wanted = new URLSearchParams(location.hash.slice(1)).get('c');
    if (wanted) select(wanted);
  })
  .catch(showError);

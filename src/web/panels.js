// The table panels: computations, timeline, checkpoints, and the detail header with where the
// primary is reached. Rendered from API data with textContent only (nothing a guest printed
// becomes markup).

import { slotOf } from './charts.js';

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function badge(text, attribute, value) {
  const span = document.createElement('span');
  span.className = attribute === 'status' ? 'badge' : attribute;
  span.dataset[attribute] = value;
  span.textContent = text;
  return span;
}

export function renderComputations(tbody, items, selected, onSelect) {
  const rows = items.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    if (c.id === selected) tr.className = 'selected';
    const status = cell('');
    status.append(badge(c.live?.phase === 'queued' ? 'queued' : c.status, 'status', c.status));
    tr.append(
      cell(c.id, 'mono'),
      cell(c.name),
      status,
      cell(c.live ? String(c.live.epoch) : String(c.report?.epochs ?? c.report?.epoch ?? ''), 'num'),
    );
    tr.addEventListener('click', () => onSelect(c.id));
    return tr;
  });
  tbody.replaceChildren(...rows);
}

const time = (at) => new Date(at).toLocaleTimeString();

/** Replicas by their name in the computation ("primary", "shadow1#2"), for people. */
const names = (vmIds) => vmIds.map((vmId) => vmId.split('/')[1] ?? vmId).join(', ');

/** Why an action was taken, in one line: the verdict, prediction or request it answers. */
function describeCause(cause) {
  if (cause.kind === 'verdict') return `verdict of epoch ${cause.epoch}: ${cause.verdict}, blamed ${names(cause.blamed) || 'none'}`;
  if (cause.kind === 'prediction') return `prediction ${cause.score.toFixed(2)} (${cause.rule})`;
  return `request: ${cause.reason}`;
}

/** What the vote found: whom it blamed and who outvoted them, or how an undecided vote was settled. */
function describeVerdict(v) {
  if (v.kind !== 'undecided') return `blamed ${names(v.blamed)}; outvoted by ${names(v.majority)}`;
  const settled = v.resolution
    ? `; settled at attempt ${v.resolution.attempt}: ${v.resolution.kind}${v.resolution.blamed.length ? ` (${names(v.resolution.blamed)})` : ''}`
    : '';
  return `no majority among ${names(v.differing)}${settled}`;
}

/** One timeline entry as [what, replica, by, because, details]. */
function timelineCells(e) {
  if (e.type === 'verdict') return [e.kind, names(e.kind === 'undecided' ? e.differing : e.blamed), 'vote', '', describeVerdict(e)];
  if (e.type === 'action') {
    const dryRun = e.dryRun ? ' (dry run)' : '';
    return [e.kind, e.vmId ? names([e.vmId]) : '', e.actor, describeCause(e.cause), `${e.status}${dryRun}: ${e.outcome}`];
  }
  return [e.kind, e.vmId ? names([e.vmId]) : '', '', '', e.message];
}

export function renderTimeline(tbody, items) {
  // Checkpoints have their own panel; here they would bury the verdicts, rollbacks, resources and alerts.
  const shown = items.filter(
    (e) => e.type !== 'event' || (e.kind !== 'checkpoint' && (e.kind !== 'note' || /rollback|policy|ended/.test(e.message))),
  );
  const rows = shown.reverse().map((e) => {
    const tr = document.createElement('tr');
    tr.dataset.type = e.type;
    tr.dataset.kind = e.kind;
    const [what, replica, by, because, details] = timelineCells(e);
    const kind = cell('');
    kind.append(badge(what, 'kind', e.type === 'verdict' ? 'verdict' : e.kind));
    const replicaCell = cell(replica, 'mono');
    const vmId = e.type === 'verdict' ? e.blamed[0] : e.vmId;
    if (vmId) replicaCell.dataset.slot = slotOf(vmId);
    const byCell = cell('');
    if (by) byCell.append(badge(by, 'actor', by));
    const causeCell = cell(because);
    causeCell.title = because;
    const detailCell = cell(details);
    detailCell.title = e.type === 'action' ? `${e.reason} → ${details}` : details;
    tr.append(
      cell(e.epoch === null ? '' : String(e.epoch), 'num'),
      kind,
      replicaCell,
      byCell,
      causeCell,
      detailCell,
      cell(time(e.at), 'mono'),
    );
    return tr;
  });
  tbody.replaceChildren(...rows);
}

export function renderCheckpoints(tbody, items) {
  tbody.replaceChildren(
    ...[...items].reverse().map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.verified = String(c.verified);
      tr.append(
        cell(c.id, 'mono'),
        cell(String(c.epoch), 'num'),
        cell(c.verified ? '✓ verified' : '—'),
        cell(`${c.storedPages}/${c.pageCount}`, 'num'),
      );
      return tr;
    }),
  );
}

export function renderFacts(element, computation) {
  const live = computation.live;
  const report = computation.report;
  const facts = [
    ['phase', live?.phase ?? 'from an earlier process'],
    ['epoch', String(live?.epoch ?? report?.epochs ?? report?.epoch ?? '—')],
    ['replicas', live ? String(live.replicas.length) : '—'],
    ['exit', computation.exitCode === null ? '—' : String(computation.exitCode)],
    ['driver', [computation.config?.driver?.kind, computation.config?.driver?.mode].filter(Boolean).join(' ') || '—'],
    ['args', (computation.config?.driver?.args ?? computation.config?.driver?.kernelArgs ?? []).join(' ') || '—'],
    ['created', new Date(computation.createdAt).toLocaleString()],
  ];
  if (report?.end) facts.push(['end', report.end]);
  element.replaceChildren(
    ...facts.map(([name, value]) => {
      const span = document.createElement('span');
      const b = document.createElement('b');
      b.textContent = value;
      span.append(`${name} `, b);
      return span;
    }),
  );
}

/**
 * Where the outside world reaches the primary (free mode's mirrored HTTP server): links while it
 * runs, and where it was reached once it ended.
 */
export function renderEndpoints(element, computation) {
  const live = computation.live?.endpoints ?? [];
  const endpoints = live.length > 0 ? live : (computation.report?.endpoints ?? []);
  element.hidden = endpoints.length === 0;
  element.dataset.live = String(live.length > 0);
  element.replaceChildren(
    ...endpoints.map((endpoint) => {
      const line = document.createElement('div');
      const name = document.createElement('b');
      name.textContent = endpoint.name;
      // Only a web address becomes a link; the manager wrote it, but nothing is trusted blindly.
      const address = document.createElement(/^https?:\/\//.test(endpoint.url) && live.length > 0 ? 'a' : 'span');
      address.className = 'mono';
      address.textContent = endpoint.url;
      if (address instanceof HTMLAnchorElement) {
        address.href = endpoint.url;
        address.target = '_blank';
        address.rel = 'noopener';
      }
      line.append(live.length > 0 ? 'reach the primary: ' : 'was reached at: ', name, ' ', address, ` — ${endpoint.note}`);
      return line;
    }),
  );
}

// The table panels: computations, intervention timeline, checkpoints, and the detail header.
// Rendered from API data with textContent only (nothing a guest printed becomes markup).

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function badge(text, attribute, value) {
  const span = document.createElement('span');
  span.className = attribute === 'status' ? 'badge' : 'kind';
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

export function renderTimeline(tbody, items) {
  // Checkpoints have their own panel; here they would bury the rollbacks, resources and alerts.
  const shown = items.filter((e) => e.kind !== 'checkpoint' && (e.kind !== 'note' || /rollback|policy|ended/.test(e.reason)));
  const rows = shown.reverse().map((e) => {
    const tr = document.createElement('tr');
    tr.dataset.kind = e.kind;
    const kind = cell('');
    kind.append(badge(e.kind, 'kind', e.kind));
    const what = e.outcome ? `${e.reason} → ${e.outcome}` : e.reason;
    const whatCell = cell(what);
    whatCell.title = what;
    tr.append(
      cell(e.epoch === null ? '' : String(e.epoch), 'num'),
      kind,
      cell(e.vmId ? e.vmId.split('/')[1] : '', 'mono'),
      whatCell,
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
    ['driver', computation.config?.driver?.kind ?? '—'],
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

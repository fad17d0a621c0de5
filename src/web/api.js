// The manager's REST API and event stream, with the bearer token from the URL (#token=…) when the
// manager requires one.

const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? sessionStorage.getItem('shadowvm-token');
if (token) sessionStorage.setItem('shadowvm-token', token);

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = response.headers.get('content-type')?.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** An EventSource on /events; `replay` asks for every event the manager still keeps. */
export function events(query, onEvent, onState) {
  const params = new URLSearchParams(query);
  if (token) params.set('access_token', token);
  const source = new EventSource(`/events?${params}`);
  const types = ['status', 'endpoints', 'epoch', 'divergence', 'verdict', 'score', 'prediction', 'intervention', 'event', 'end', 'reset'];
  for (const type of types) source.addEventListener(type, (message) => onEvent(type, JSON.parse(message.data)));
  source.onopen = () => onState?.('live');
  source.onerror = () => onState?.(source.readyState === EventSource.CLOSED ? 'lost' : 'connecting');
  return source;
}

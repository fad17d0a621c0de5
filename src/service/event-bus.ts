// Everything that happens in the manager, as one numbered stream. Ids only grow, and the last
// `capacity` events stay in a ring so a client that lost its connection resumes from its
// Last-Event-ID without missing anything (or learns that it fell too far behind).

export const SERVICE_EVENT_TYPES = [
  'status',
  'endpoints',
  'epoch',
  'divergence',
  'verdict',
  'score',
  'prediction',
  'intervention',
  'event',
  'output',
  'end',
] as const;
export type ServiceEventType = (typeof SERVICE_EVENT_TYPES)[number];

export interface ServiceEvent {
  readonly id: number;
  readonly type: ServiceEventType;
  readonly computationId: string;
  readonly at: number;
  readonly data: Readonly<Record<string, unknown>>;
}

export type Listener = (event: ServiceEvent) => void;

export class EventBus {
  private readonly ring: (ServiceEvent | undefined)[];
  private nextId = 1;
  private readonly listeners = new Set<Listener>();

  constructor(readonly capacity = 20_000) {
    this.ring = new Array<ServiceEvent | undefined>(capacity);
  }

  publish(type: ServiceEventType, computationId: string, data: Readonly<Record<string, unknown>>): ServiceEvent {
    const event: ServiceEvent = { id: this.nextId++, type, computationId, at: Date.now(), data };
    this.ring[event.id % this.capacity] = event;
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Id of the newest event (0 before the first). */
  lastId(): number {
    return this.nextId - 1;
  }

  /**
   * Events after `id`, oldest first; `complete` is false when some of them already left the ring
   * (the client must re-read state instead of trusting the replay alone).
   */
  since(id: number): { events: ServiceEvent[]; complete: boolean } {
    const oldest = Math.max(1, this.nextId - this.capacity);
    const from = Math.max(id + 1, oldest);
    const events: ServiceEvent[] = [];
    for (let i = from; i < this.nextId; i++) events.push(this.ring[i % this.capacity] as ServiceEvent);
    return { events, complete: id + 1 >= oldest || id >= this.lastId() };
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

// The part of the `pg` package the PostgreSQL store's worker uses. The package ships no types and
// @types/pg is not installed; declaring only what is called keeps the worker strictly typed.

declare module 'pg' {
  export interface ClientConfig {
    readonly connectionString?: string;
    readonly connectionTimeoutMillis?: number;
    readonly application_name?: string;
  }

  export interface QueryResult {
    readonly rows: Record<string, unknown>[];
  }

  export class Client {
    constructor(config?: ClientConfig);
    connect(): Promise<void>;
    query(text: string, values?: readonly unknown[]): Promise<QueryResult>;
    setTypeParser(oid: number, format: 'text', parse: (value: string) => unknown): void;
    end(): Promise<void>;
    on(event: 'error', listener: (error: Error) => void): this;
  }
}

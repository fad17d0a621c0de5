// Runs the statements shared with PostgreSQL (src/store/rows). Their $1, $2… placeholders are,
// to SQLite, the named parameters "1", "2"…, bound here from an object keyed by position. Each
// SQL text is prepared once (shared statements have fixed texts, so there are few).

import type Database from 'better-sqlite3';
import type { SqlRunner, SqlStatement } from '../rows/sql.js';
import { withReference } from './errors.js';

export class SqliteRunner implements SqlRunner {
  private readonly prepared = new Map<string, Database.Statement>();
  private readonly runAll: (statements: readonly SqlStatement[]) => unknown[][];
  readonly withReference = withReference;

  constructor(private readonly db: Database.Database) {
    this.runAll = db.transaction((statements: readonly SqlStatement[]) => statements.map(this.query));
  }

  readonly query = ({ sql, params }: SqlStatement): unknown[] => {
    const statement = this.prepare(sql);
    const bound = Object.fromEntries(params.map((value, i) => [i + 1, value]));
    if (statement.reader) return statement.all(bound);
    statement.run(bound);
    return [];
  };

  transaction(statements: readonly SqlStatement[]): unknown[][] {
    return this.runAll(statements);
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.prepared.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }
}

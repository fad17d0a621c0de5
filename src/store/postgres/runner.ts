// The PostgreSQL connection as the code both stores share (src/store/rows) runs statements on it.

import type { SqlRunner } from '../rows/sql.js';
import type { PostgresConnection } from './connection.js';
import { withReference } from './errors.js';

export function postgresRunner(db: PostgresConnection): SqlRunner {
  return {
    query: ({ sql, params }) => db.query(sql, params),
    transaction: (statements) => db.transaction(statements),
    withReference,
  };
}

/**
 * What the shared queries need to know of the database beyond what kysely's dialect already hides: how it reports a
 * refused duplicate. SQLite names the constraint that refused the row (`SQLITE_CONSTRAINT_UNIQUE`,
 * `SQLITE_CONSTRAINT_PRIMARYKEY`); PostgreSQL answers SQLSTATE 23505 for both. Plain functions: the queries pass them
 * around unbound.
 */
export interface StoreDialect {
  /** A unique constraint other than the primary key refused the row. */
  isUniqueViolation(error: unknown): boolean;
  /** The primary key refused the row. */
  isPrimaryKeyViolation(error: unknown): boolean;
}

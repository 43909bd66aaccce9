import { appManagedQueries } from './appManaged';
import { rateLimitQueries } from './rateLimits';
import type { Keyring } from '../../security/keyring';
import type { DirectoryQueries } from '../store';
import { appQueries } from './apps';
import { assignmentQueries } from './assignments';
import type { StoreDialect } from './dialect';
import { groupQueries } from './groups';
import { linkQueries } from './links';
import { operationQueries } from './operations';
import { reconciliationQueries } from './reconciliations';
import { roleQueries } from './roles';
import type { Db } from './tables';
import { userQueries } from './users';

/**
 * The directory over one database, or over one transaction open on it (then every change joins that transaction),
 * in any dialect kysely speaks: the SQLite store and a PostgreSQL one share these queries and differ only in how
 * they connect, migrate and recognise a duplicate (`dialect`). `keyring` seals the apps' credentials at rest.
 *
 * Each concern module answers its own narrow interface with a plain object of closures over `db`; the directory is
 * their union, spread into one object. That keeps one place per query and no class that forwards eighty methods
 * by hand, and the return type makes the compiler check that together they are the whole `DirectoryStore`.
 */
export function directoryQueries(db: Db, dialect: StoreDialect, keyring: Keyring): DirectoryQueries {
  return {
    ...userQueries(db, dialect),
    ...groupQueries(db, dialect),
    ...appQueries(db, keyring),
    ...assignmentQueries(db),
    ...linkQueries(db),
    ...operationQueries(db),
    ...roleQueries(db, dialect),
    ...reconciliationQueries(db),
    ...appManagedQueries(db),
    ...rateLimitQueries(db),
  };
}

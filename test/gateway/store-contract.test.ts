import { join } from 'node:path';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/tmp.ts';
import { gatewayStoreContract } from './store-contract.ts';

gatewayStoreContract('SQLite (a file on disk)', async () => join(tempDir(), 'gateway.db'));
gatewayStoreContract('PostgreSQL (a database of its own)', testPostgresDatabase);

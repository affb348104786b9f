/** Authorization codes (RFC 6749 §4.1.2), single use by one conditional UPDATE (handles.ts). */
import type { AuthorizationCode } from '../../model.ts';
import type { AuthorizationCodeRepository } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Db } from './db.ts';
import { codeStatements, SqlHandleRepository } from './handles.ts';
import { codeRows } from './rows.ts';

export class SqlAuthorizationCodeRepository
  extends SqlHandleRepository<AuthorizationCode, Database['authorization_codes']>
  implements AuthorizationCodeRepository
{
  constructor(db: Db) {
    super(db, codeStatements, codeRows.toRow, codeRows.fromRow);
  }
}

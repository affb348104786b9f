/**
 * For tests only (production code never imports this module): the Kysely instance behind a store opened
 * by `openStorage`, to read and change rows directly.
 */
export { databaseOf } from './internal.ts';

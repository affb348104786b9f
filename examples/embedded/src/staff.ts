/**
 * The application's own users: a `staff` table in its own SQLite database, with scrypt password hashes (the
 * application's existing scheme) and its own columns. `StaffAccounts` is the account store Gatehouse asks;
 * Gatehouse never sees the table.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Account, AccountStore, ClaimsRequest } from '@gatehouse/server';
import { profileClaims } from '@gatehouse/server';
import Database from 'better-sqlite3';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;

interface StaffRow {
  id: string;
  login: string;
  password_salt: Buffer;
  password_hash: Buffer;
  full_name: string;
  email: string;
  department: string;
  employee_number: number;
  active: number;
}

export interface NewStaff {
  login: string;
  password: string;
  fullName: string;
  email: string;
  department: string;
  employeeNumber: number;
}

async function hashPassword(password: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(password, salt, 32);
}

export class StaffAccounts implements AccountStore {
  private readonly db: Database.Database;
  /** Verified when the login is unknown, so the answer takes as long as a wrong password. */
  private readonly dummy = { salt: randomBytes(16), hash: randomBytes(32) };

  constructor(file: string) {
    this.db = new Database(file);
    this.db.exec(`CREATE TABLE IF NOT EXISTS staff (
      id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, password_salt BLOB NOT NULL, password_hash BLOB NOT NULL,
      full_name TEXT NOT NULL, email TEXT NOT NULL, department TEXT NOT NULL, employee_number INTEGER NOT NULL,
      active INTEGER NOT NULL DEFAULT 1)`);
  }

  async add(staff: NewStaff): Promise<string> {
    const salt = randomBytes(16);
    const id = `staff-${staff.employeeNumber}`;
    this.db
      .prepare(
        'INSERT OR IGNORE INTO staff (id, login, password_salt, password_hash, full_name, email, department, employee_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        id,
        staff.login,
        salt,
        await hashPassword(staff.password, salt),
        staff.fullName,
        staff.email,
        staff.department,
        staff.employeeNumber,
      );
    return id;
  }

  setActive(login: string, active: boolean): void {
    this.db.prepare('UPDATE staff SET active = ? WHERE login = ?').run(active ? 1 : 0, login);
  }

  /** The row of an account, for the claims hook. */
  row(subject: string): StaffRow | undefined {
    return this.db.prepare('SELECT * FROM staff WHERE id = ?').get(subject) as StaffRow | undefined;
  }

  private account(row: StaffRow | undefined): Account | undefined {
    if (row === undefined) return undefined;
    const roles = row.department === 'Sales' ? ['OrderAdmin'] : [];
    return { subject: row.id, username: row.login, enabled: row.active === 1, roles };
  }

  async findBySubject(subject: string): Promise<Account | undefined> {
    return this.account(this.row(subject));
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    return this.account(
      this.db.prepare('SELECT * FROM staff WHERE login = ?').get(username) as StaffRow | undefined,
    );
  }

  async authenticate(username: string, password: string): Promise<Account | undefined> {
    const row = this.db.prepare('SELECT * FROM staff WHERE login = ?').get(username) as StaffRow | undefined;
    const { salt, hash } =
      row === undefined ? this.dummy : { salt: row.password_salt, hash: row.password_hash };
    const valid = timingSafeEqual(await hashPassword(password, salt), hash);
    return valid ? this.account(row) : undefined;
  }

  async claims(account: Account, request: ClaimsRequest): Promise<Record<string, unknown>> {
    const row = this.row(account.subject);
    if (row === undefined) return {};
    const profile = { name: row.full_name, email: row.email, email_verified: true };
    return profileClaims(account, profile, request);
  }

  close(): void {
    this.db.close();
  }
}

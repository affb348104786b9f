/**
 * User passwords: argon2id (RFC 9106; OWASP minimum of 19 MiB memory, 2 iterations), hashed and verified
 * on libuv's thread pool so the event loop keeps serving other requests. A login for an unknown user
 * verifies against a dummy hash, so response time does not reveal which usernames exist.
 */
/** The argon2 binding, loaded at the first hash or verification (a restarted server: at its first login). */
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const loadArgon2 = () => (argon2 ??= import('@node-rs/argon2'));

/** `Algorithm.Argon2id` of @node-rs/argon2 (a const enum, which isolated modules cannot import). */
const argon2id = 2;

export interface Argon2Parameters {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly parameters: Argon2Parameters) {}

  async hash(password: string): Promise<string> {
    const { hash } = await loadArgon2();
    return hash(password, { algorithm: argon2id, ...this.parameters });
  }

  async verify(passwordHash: string | undefined, password: string): Promise<boolean> {
    const { verify } = await loadArgon2();
    if (passwordHash === undefined) {
      this.dummyHash ??= this.hash('dummy password for unknown users');
      await verify(await this.dummyHash, password).catch(() => false);
      return false;
    }
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }
}

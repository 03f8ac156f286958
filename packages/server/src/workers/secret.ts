/**
 * The token secret the workers of one `parley start --workers N` share. Resolved once, in the
 * primary, before any worker starts: PARLEY_TOKEN_SECRET if set, else `dataDir/secret.key` (created
 * if missing; the same file a single-process node uses, so tokens stay valid when switching between
 * one and several workers). Workers get it through their environment and never race to create it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function sharedTokenSecret(given: string | undefined, dataDir: string): string {
  if (given) return given;
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
  return secret;
}

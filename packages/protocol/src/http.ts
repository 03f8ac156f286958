/** Bodies of the HTTP auth endpoints (REST, under /v1/auth). */
import { Type, type Static } from '@sinclair/typebox';

export const HandleSchema = Type.String({ minLength: 3, maxLength: 32, pattern: '^[a-zA-Z0-9_.-]+$' });

export const RegisterBody = Type.Object(
  { handle: HandleSchema, password: Type.String({ minLength: 8, maxLength: 256 }), device: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export const LoginBody = RegisterBody;
export const RefreshBody = Type.Object({ refresh: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });

export type RegisterBody = Static<typeof RegisterBody>;
export type RefreshBody = Static<typeof RefreshBody>;

/** Answer of register, login and refresh. */
export interface Tokens {
  user: string;
  handle: string;
  device: string;
  /** Bearer token for every other request and for connecting; short-lived. */
  access: string;
  accessExpiresAt: number;
  /** Exchanged at /v1/auth/refresh for a new pair; single use. */
  refresh: string;
}

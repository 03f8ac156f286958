/**
 * Decoding and validating inbound command frames, and encoding outbound server frames. Pure: no
 * I/O. The server and the SDK's tests use the same code, so a frame the SDK builds is a frame the
 * server accepts.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { CommandSchemas, type Command, type CommandType } from './commands.ts';
import { ParleyError } from './errors.ts';
import type { LogEvent, Message } from './model.ts';
import type { ServerFrame } from './server-frames.ts';

const checks = new Map<string, TypeCheck<(typeof CommandSchemas)[CommandType]>>();
for (const [type, schema] of Object.entries(CommandSchemas)) {
  checks.set(type, TypeCompiler.Compile(schema));
}

/** The outcome of decoding: the command, or an error with whatever request id could be read. */
export type Decoded = { ok: true; cmd: Command } | { ok: false; id: string | number | null; error: ParleyError };

function requestId(value: Record<string, unknown>): string | number | null {
  const id = value['id'];
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}

/** Validate an already-parsed value as a command. */
export function validateCommand(value: unknown): Decoded {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: null, error: new ParleyError('BAD_FRAME') };
  }
  const obj = value as Record<string, unknown>;
  const id = requestId(obj);
  if (typeof obj['t'] !== 'string') return { ok: false, id, error: new ParleyError('BAD_FRAME') };
  const check = checks.get(obj['t']);
  if (!check) return { ok: false, id, error: new ParleyError('UNKNOWN_TYPE', `unknown frame type "${obj['t'].slice(0, 40)}"`) };
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'invalid';
    return { ok: false, id, error: new ParleyError('INVALID', where) };
  }
  return { ok: true, cmd: value as Command };
}

/** Parse and validate one text frame. */
export function decodeCommand(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: new ParleyError('BAD_FRAME', 'frame is not valid JSON') };
  }
  return validateCommand(value);
}

export function isCommandType(t: string): t is CommandType {
  return checks.has(t);
}

/**
 * The JSON text of each message already encoded, keyed by the Message object. A group message is
 * one Message object shared by every member's log event (the stores build `{k:'message', msg}` per
 * member around the same `msg`), so a fan-out to 1,024 local sessions stringifies the body once.
 * Messages are never mutated after they are stored; entries go when the Message is collected.
 */
const encodedMessages = new WeakMap<Message, string>();

function encodeEvent(e: LogEvent): string {
  if (e.k !== 'message') return JSON.stringify(e);
  let msg = encodedMessages.get(e.msg);
  if (msg === undefined) {
    msg = JSON.stringify(e.msg);
    encodedMessages.set(e.msg, msg);
  }
  return `{"k":"message","msg":${msg}}`;
}

/**
 * The wire text of one server frame: exactly `JSON.stringify(frame)` for frames built as the
 * server builds them (`{t:'ev', c, e}` with `e` as `{k, msg}`; key order is part of the bytes).
 * An `ev` frame is assembled from its cursor and the shared encoded event, see encodedMessages.
 */
export function encodeFrame(frame: ServerFrame): string {
  if (frame.t === 'ev' && Number.isSafeInteger(frame.c)) return `{"t":"ev","c":${frame.c},"e":${encodeEvent(frame.e)}}`;
  return JSON.stringify(frame);
}

/** Mapping every error an HTTP handler can meet to the one catalogue of codes. */
import { ParleyError } from '@parley/protocol';

export interface ErrorBody {
  t: 'err';
  id: string | number | null;
  code: ParleyError['code'];
  msg: string;
}

export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const e = err as { code?: string; validation?: unknown; statusCode?: number; message?: string };
  if (e.validation) return new ParleyError('INVALID', e.message);
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ParleyError('TOO_LARGE');
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (e.statusCode === 400 && e.code?.startsWith('FST_'))) {
    return new ParleyError('BAD_FRAME', e.message);
  }
  if (e.statusCode === 404) return new ParleyError('NOT_FOUND');
  return new ParleyError('INTERNAL');
}

export function errorBody(e: ParleyError, id: string | number | null = null): ErrorBody {
  return { t: 'err', id, code: e.code, msg: e.message };
}

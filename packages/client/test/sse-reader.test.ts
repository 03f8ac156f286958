import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, type SseMessage } from '../src/index.ts';

function parse(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const p = new SseParser((m) => out.push(m));
  for (const c of chunks) p.push(c);
  return out;
}

describe('SseParser', () => {
  it('parses data, id, event and skips comments', () => {
    const msgs = parse(['retry: 1000\n\n: ka\n\nid: 7\ndata: {"t":"ev"}\n\nevent: close\ndata: {"code":1012}\n\n']);
    assert.deepEqual(msgs, [
      { data: '{"t":"ev"}', event: 'message', id: '7' },
      { data: '{"code":1012}', event: 'close', id: '7' },
    ]);
  });

  it('handles chunks split anywhere, CRLF and CR line ends, multi-line data', () => {
    const text = 'data: a\r\ndata: b\r\n\r\nid: 3\rdata:c\r\rdata: d\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const msgs = parse([text.slice(0, cut), text.slice(cut)]);
      assert.deepEqual(
        msgs.map((m) => [m.data, m.id]),
        [
          ['a\nb', ''],
          ['c', '3'],
          ['d', '3'],
        ],
        `cut at ${cut}`,
      );
    }
  });

  it('dispatches nothing for an unterminated message', () => {
    assert.deepEqual(parse(['data: half']), []);
  });
});

/**
 * RTP and RTCP header parsing (RFC 3550 §5.1 and §6.4, RFC 8285 header extensions) in place of
 * werift's `RtpHeader.deSerialize` and `RtcpHeader.deSerialize`, which read each bit field through
 * `getBit`: a number turned into a binary string, split into an array of characters, padded by
 * spreading two more arrays, sliced, joined and parsed back, six times per RTP header and three
 * times per RTCP header (every packet of every compound a subscriber sends, and once more to
 * decrypt it). Every packet a publisher sends is parsed twice
 * (once to decrypt it, once as the RtpPacket the SFU forwards), and in a 50×50 bench room that
 * was about 15 % of everything the server allocated (a sampling heap profile,
 * `SFU_BENCH_HEAP=<file>`), garbage the young generation had to collect.
 *
 * Contract: `parseRtpHeader(raw)` returns what werift 0.25's `RtpHeader.deSerialize(raw)` returns
 * for the same bytes: a werift `RtpHeader` with the same fields, extensions as subarrays of `raw`
 * (one-byte and two-byte forms, any other profile as one extension with id 0), the same
 * `payloadOffset` (including werift's stop at a one-byte id of 15) and `paddingSize`; a buffer too
 * short for its fixed header, CSRCs or extension header throws a RangeError, as werift's does.
 * `parseRtcpHeader(raw)` likewise returns werift's `RtcpHeader` (version, padding, count, type,
 * length in words) for the first four bytes, and throws on fewer. test/rtc/header-parse.test.ts
 * compares both with werift's on generated packets. `installFastHeaderParse()` makes werift use
 * them everywhere in this process.
 */
import { ExtensionProfiles, RtcpHeader, RtpHeader } from 'werift';

export function parseRtpHeader(raw: Buffer): RtpHeader {
  const h = new RtpHeader();
  const b0 = raw[0]!;
  h.version = b0 >>> 6;
  h.padding = (b0 & 0x20) !== 0;
  h.extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  h.csrcLength = cc;
  const b1 = raw.readUInt8(1);
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequenceNumber = raw.readUInt16BE(2);
  h.timestamp = raw.readUInt32BE(4);
  h.ssrc = raw.readUInt32BE(8);
  const csrc: number[] = [];
  for (let i = 0; i < cc; i++) csrc.push(raw.readUInt32BE(12 + i * 4));
  h.csrc = csrc;
  let at = 12 + cc * 4;
  if (h.extension) {
    h.extensionProfile = raw.readUInt16BE(at) as RtpHeader['extensionProfile'];
    const length = raw.readUInt16BE(at + 2) * 4;
    h.extensionLength = length;
    at += 4;
    const end = at + length;
    const exts: { id: number; payload: Buffer }[] = [];
    if (h.extensionProfile === ExtensionProfiles.OneByte) {
      while (at < end) {
        const b = raw[at]!;
        if (b === 0) {
          at += 1;
          continue;
        }
        at += 1;
        const id = b >>> 4;
        if (id === 15) break;
        const len = (b & 0x0f) + 1;
        exts.push({ id, payload: raw.subarray(at, at + len) });
        at += len;
      }
    } else if (h.extensionProfile === ExtensionProfiles.TwoByte) {
      while (at < end) {
        if (raw[at] === 0) {
          at += 1;
          continue;
        }
        const id = raw[at]!;
        const len = raw[at + 1]!;
        at += 2;
        exts.push({ id, payload: raw.subarray(at, at + len) });
        at += len;
      }
    } else {
      const payload = raw.subarray(at, end);
      exts.push({ id: 0, payload });
      at += payload.length;
    }
    h.extensions = exts;
  }
  h.payloadOffset = at;
  if (h.padding) h.paddingSize = raw[raw.length - 1]!;
  return h;
}

export function parseRtcpHeader(raw: Buffer): RtcpHeader {
  const b0 = raw.readUInt8(0);
  const type = raw.readUInt8(1);
  const length = raw.readUInt16BE(2);
  return new RtcpHeader({ version: b0 >>> 6, padding: (b0 & 0x20) !== 0, count: b0 & 0x1f, type, length });
}

const installed = Symbol.for('parley.fastHeaderParse');

/** Idempotent: werift's `RtpHeader.deSerialize` and `RtcpHeader.deSerialize` (so every packet it parses) use ours from now on. */
export function installFastHeaderParse(): void {
  const rtp = RtpHeader as unknown as Record<symbol, boolean> & { deSerialize: (raw: Buffer) => RtpHeader };
  if (rtp[installed]) return;
  rtp[installed] = true;
  rtp.deSerialize = parseRtpHeader;
  (RtcpHeader as unknown as { deSerialize: (raw: Buffer) => RtcpHeader }).deSerialize = parseRtcpHeader;
}

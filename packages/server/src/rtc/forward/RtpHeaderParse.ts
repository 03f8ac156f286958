/**
 * RTP header parsing (RFC 3550 §5.1, RFC 8285 header extensions) in place of werift's
 * `RtpHeader.deSerialize`, which reads each bit field through `getBit`: a number turned into a
 * binary string, split into an array of characters, padded by spreading two more arrays, sliced,
 * joined and parsed back, six times per header. Every packet a publisher sends is parsed twice
 * (once to decrypt it, once as the RtpPacket the SFU forwards), and in a 50×50 bench room that
 * was about 15 % of everything the server allocated (a sampling heap profile,
 * `SFU_BENCH_HEAP=<file>`), garbage the young generation had to collect.
 *
 * Contract: `parseRtpHeader(raw)` returns what werift 0.25's `RtpHeader.deSerialize(raw)` returns
 * for the same bytes: a werift `RtpHeader` with the same fields, extensions as subarrays of `raw`
 * (one-byte and two-byte forms, any other profile as one extension with id 0), the same
 * `payloadOffset` (including werift's stop at a one-byte id of 15) and `paddingSize`; a buffer too
 * short for its fixed header, CSRCs or extension header throws a RangeError, as werift's does.
 * test/rtc/rtp-header.test.ts compares the two on generated packets. `installFastRtpHeaderParse()`
 * makes werift use it everywhere in this process.
 */
import { ExtensionProfiles, RtpHeader } from 'werift';

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

const installed = Symbol.for('parley.fastRtpHeaderParse');

/** Idempotent: werift's `RtpHeader.deSerialize` (and so every RTP packet it parses) uses `parseRtpHeader` from now on. */
export function installFastRtpHeaderParse(): void {
  const cls = RtpHeader as unknown as Record<symbol, boolean> & { deSerialize: (raw: Buffer) => RtpHeader };
  if (cls[installed]) return;
  cls[installed] = true;
  cls.deSerialize = parseRtpHeader;
}

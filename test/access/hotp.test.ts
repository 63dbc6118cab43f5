import { describe, expect, it } from 'vitest';
import { counterBytes, dynamicTruncate, hmac, hotp, totp } from '../../firmware/access/hotp.ts';

const ascii = (text: string) => new Uint8Array(Buffer.from(text, 'ascii'));

describe('HOTP: RFC 4226 Appendix D', () => {
  const secret = ascii('12345678901234567890');
  // Count, HMAC-SHA-1, truncated (decimal), HOTP: Appendix D verbatim.
  const table: Array<[number, string, number, string]> = [
    [0, 'cc93cf18508d94934c64b65d8ba7667fb7cde4b0', 1284755224, '755224'],
    [1, '75a48a19d4cbe100644e8ac1397eea747a2d33ab', 1094287082, '287082'],
    [2, '0bacb7fa082fef30782211938bc1c5e70416ff44', 137359152, '359152'],
    [3, '66c28227d03a2d5529262ff016a1e6ef76557ece', 1726969429, '969429'],
    [4, 'a904c900a64b35909874b33e61c5938a8e15ed1c', 1640338314, '338314'],
    [5, 'a37e783d7b7233c083d4f62926c7a25f238d0316', 868254676, '254676'],
    [6, 'bc9cd28561042c83f219324d3c607256c03272ae', 1918287922, '287922'],
    [7, 'a4fb960c0bc06e1eabb804e5b397cdc4b45596fa', 82162583, '162583'],
    [8, '1b3c89f65e6c9e883012052823443f048b4332db', 673399871, '399871'],
    [9, '1637409809a679dc698207310c8c7fc07290d9e5', 645520489, '520489'],
  ];

  it.each(table)('counter %i', (counter, macHex, truncated, code) => {
    const mac = hmac('sha1', secret, counterBytes(counter));
    expect(Buffer.from(mac).toString('hex')).toBe(macHex);
    expect(dynamicTruncate(mac)).toBe(truncated);
    expect(hotp(secret, counter)).toBe(code);
    expect(hotp(secret, BigInt(counter), { digits: 6, algorithm: 'sha1' })).toBe(code);
  });
});

describe('TOTP: RFC 6238 Appendix B', () => {
  // Each algorithm has its own seed length (the RFC's errata-corrected seeds).
  const seeds = {
    sha1: ascii('12345678901234567890'),
    sha256: ascii('12345678901234567890123456789012'),
    sha512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
  };
  const table: Array<[number, string, string, string]> = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];

  it.each(table)('time %i', (time, sha1, sha256, sha512) => {
    expect(totp(seeds.sha1, time, { algorithm: 'sha1' })).toBe(sha1);
    expect(totp(seeds.sha256, time, { algorithm: 'sha256' })).toBe(sha256);
    expect(totp(seeds.sha512, time, { algorithm: 'sha512' })).toBe(sha512);
  });

  it('uses the RFC defaults: 30 s steps from T0 = 0, 8 digits', () => {
    expect(totp(seeds.sha1, 59)).toBe('94287082');
    expect(totp(seeds.sha1, 59, { step: 30, t0: 0, digits: 8 })).toBe('94287082');
    // The counter of T = 59 is 1: HOTP at counter 1 with 8 digits.
    expect(hotp(seeds.sha1, 1, { digits: 8 })).toBe('94287082');
  });
});

describe('argument checks name the argument', () => {
  const key = ascii('12345678901234567890');
  it.each([
    [() => hotp('x' as unknown as Uint8Array, 0), TypeError, /key/],
    [() => hotp(new Uint8Array(0), 0), RangeError, /key/],
    [() => hotp(key, -1), RangeError, /counter/],
    [() => hotp(key, 1.5), RangeError, /counter/],
    [() => hotp(key, 2n ** 64n), RangeError, /counter/],
    [() => hotp(key, 0, { digits: 0 }), RangeError, /digits/],
    [() => hotp(key, 0, { digits: 11 }), RangeError, /digits/],
    [() => hotp(key, 0, { algorithm: 'md5' as 'sha1' }), TypeError, /algorithm/],
    [() => totp(key, Number.NaN), RangeError, /unixSeconds/],
    [() => totp(key, 10, { step: 0 }), RangeError, /step/],
    [() => totp(key, 10, { t0: 20 }), RangeError, /unixSeconds/],
    [() => dynamicTruncate(new Uint8Array(10)), RangeError, /mac/],
  ] as const)('%#', (fn, type, pattern) => {
    expect(fn).toThrow(type);
    expect(fn).toThrow(pattern);
  });

  it('packs the counter big-endian in 8 bytes', () => {
    expect(Buffer.from(counterBytes(0x0102030405n)).toString('hex')).toBe('0000000102030405');
    expect(Buffer.from(counterBytes(2n ** 64n - 1n)).toString('hex')).toBe('ffffffffffffffff');
  });
});

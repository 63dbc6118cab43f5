import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeBase32, encodeBase32 } from '../../firmware/diag/base32.ts';
import {
  deriveTechKey,
  mintTechToken,
  TECH_TOKEN_MAX_VALID_MS,
  verifyTechToken,
} from '../../firmware/diag/tech-token.ts';
import {
  createProvisioning,
  deriveDeviceKeys,
  readProvisioning,
  writeProvisioning,
} from '../../firmware/provisioning.ts';
import { parseValidity, techTokenCommand } from '../../scripts/lockctl/tech-token.ts';
import { tempDir } from '../helpers/tmp.ts';

const SECRET = new Uint8Array(32).map((_, i) => i);
const KEY = deriveTechKey(SECRET);
const NOW = Date.UTC(2025, 10, 22, 13, 0, 0);
const NONCE = new Uint8Array([1, 2, 3, 4, 5]);

describe('base32 (Crockford, lower case)', () => {
  it('round-trips every length and reads upper case and look-alikes', () => {
    for (let length = 0; length < 24; length++) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 37 + length) & 0xff);
      const text = encodeBase32(bytes);
      expect(text).toMatch(/^[0-9a-hjkmnp-tv-z]*$/);
      expect(decodeBase32(text)).toEqual(bytes);
      expect(decodeBase32(text.toUpperCase())).toEqual(bytes);
    }
    expect(decodeBase32('1')).toBeUndefined();
    expect(decodeBase32('0O')).toEqual(decodeBase32('00'));
    expect(decodeBase32('u0')).toBeUndefined();
    expect(decodeBase32('01')).toBeUndefined();
  });
});

describe('technician tokens', () => {
  it('has a fixed, compact, printable shape (known answer)', () => {
    const token = mintTechToken(KEY, 'lock-1', 2 * 3_600_000, NOW, NONCE);
    expect(token).toMatch(/^tt1\.lock-1\.[0-9a-z]{32}$/);
    // The same inputs give the same token; a different nonce a different one.
    expect(mintTechToken(KEY, 'lock-1', 2 * 3_600_000, NOW, NONCE)).toBe(token);
    expect(mintTechToken(KEY, 'lock-1', 2 * 3_600_000, NOW)).not.toBe(token);
    expect(token).toMatchInlineSnapshot(`"tt1.lock-1.01mj3kzg04106105hz1sgbr790mq4kmj"`);
  });

  it('verifies for its device until it expires, naming it by its nonce', () => {
    const token = mintTechToken(KEY, 'lock-1', 2 * 3_600_000, NOW, NONCE);
    const check = verifyTechToken(KEY, 'lock-1', token, NOW + 3_600_000);
    expect(check).toEqual({
      ok: true,
      token: { deviceId: 'lock-1', expiresAt: NOW + 2 * 3_600_000, tokenId: '0102030405' },
    });
    expect(
      verifyTechToken(KEY, 'lock-1', `  ${token.toUpperCase().replace('TT1.LOCK-1', 'tt1.lock-1')} `, NOW).ok,
    ).toBe(true);
    expect(verifyTechToken(KEY, 'lock-1', token, NOW + 2 * 3_600_000)).toMatchObject({
      ok: false,
      reason: 'expired',
    });
  });

  it('refuses another device, a forged tag, another key and malformed text', () => {
    const token = mintTechToken(KEY, 'lock-1', 3_600_000, NOW);
    expect(verifyTechToken(KEY, 'lock-2', token, NOW)).toEqual({ ok: false, reason: 'wrong_device' });
    const forgedForOther = token.replace('lock-1', 'lock-2');
    expect(verifyTechToken(KEY, 'lock-2', forgedForOther, NOW)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const body = token.split('.')[2]!;
    const flipped = `tt1.lock-1.${body.slice(0, -1)}${body.endsWith('0') ? '1' : '0'}`;
    expect(verifyTechToken(KEY, 'lock-1', flipped, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    const otherKey = deriveTechKey(new Uint8Array(32).fill(9));
    expect(verifyTechToken(otherKey, 'lock-1', token, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    for (const text of [
      '',
      'tt1',
      'tt2.lock-1.' + body,
      `tt1.lock-1.${body}x`,
      `tt1.lock 1.${body}`,
      'x'.repeat(10_000),
    ]) {
      expect(verifyTechToken(KEY, 'lock-1', text, NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('is not the MQTT signing key (domain separation)', () => {
    expect(Buffer.from(deriveTechKey(SECRET)).equals(Buffer.from(deriveDeviceKeys(SECRET).signing))).toBe(
      false,
    );
  });

  it('checks its arguments, naming them', () => {
    expect(() => mintTechToken(new Uint8Array(31), 'lock-1', 60_000, NOW)).toThrow(/key/);
    expect(() => mintTechToken(KEY, 'lock 1', 60_000, NOW)).toThrow(TypeError);
    expect(() => mintTechToken(KEY, 'lock-1', TECH_TOKEN_MAX_VALID_MS + 1, NOW)).toThrow(/validForMs/);
    expect(() => mintTechToken(KEY, 'lock-1', 60_000, Number.NaN)).toThrow(/now/);
    expect(() => mintTechToken(KEY, 'lock-1', 60_000, NOW, new Uint8Array(4))).toThrow(/nonce/);
    expect(() => deriveTechKey(new Uint8Array(16))).toThrow(RangeError);
    expect(() => verifyTechToken(KEY, 'lock-1', 'x', Number.NaN)).toThrow(/now/);
  });
});

describe('lockctl tech-token', () => {
  afterEach(() => vi.restoreAllMocks());

  function capture() {
    let out = '';
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err += String(chunk);
      return true;
    });
    return { out: () => out, err: () => err };
  }

  it('mints a token the lock verifies, from the provisioning file', async () => {
    const dir = tempDir();
    const file = join(dir, 'lock-7.provisioning.json');
    writeProvisioning(file, createProvisioning('lock-7'));
    const io = capture();
    expect(await techTokenCommand(['--provisioning', file, '--valid', '2h', '--json'])).toBe(0);
    const answer = JSON.parse(io.out()) as { token: string; deviceId: string; expiresAt: string };
    expect(answer.deviceId).toBe('lock-7');
    const key = deriveTechKey(readProvisioning(file).secret);
    expect(verifyTechToken(key, 'lock-7', answer.token, Date.now()).ok).toBe(true);
    expect(Date.parse(answer.expiresAt) - Date.now()).toBeGreaterThan(2 * 3_600_000 - 5000);
    const plain = capture();
    expect(await techTokenCommand(['--provisioning', file, '--valid', '30m'])).toBe(0);
    expect(plain.out()).toMatch(/^tt1\.lock-7\.[0-9a-z]{32}\n$/);
    expect(plain.err()).toMatch(/technician token for lock-7, valid until/);
  });

  it('refuses bad flags with a message naming them', async () => {
    await expect(techTokenCommand(['--valid', '2h'])).rejects.toThrow(/--provisioning is required/);
    await expect(techTokenCommand(['--provisioning', 'x.json', '--valid', '25h'])).rejects.toThrow(
      /--valid must be/,
    );
    await expect(techTokenCommand(['--provisioning', 'x.json', '--valid', 'soon'])).rejects.toThrow(
      /--valid must be/,
    );
    await expect(techTokenCommand(['--provisioning', 'missing.json', '--valid', '1h'])).rejects.toThrow(
      /cannot read provisioning file/,
    );
  });

  it('parses durations', () => {
    expect(parseValidity('2h')).toBe(7_200_000);
    expect(parseValidity('1h30m')).toBe(5_400_000);
    expect(parseValidity('90s')).toBe(90_000);
    expect(parseValidity('')).toBeUndefined();
    expect(parseValidity('2 hours')).toBeUndefined();
  });
});

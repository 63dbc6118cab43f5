/**
 * Crockford base32, lower case, no padding: the alphabet of technician tokens. It has
 * no i, l, o or u, so a token read aloud or copied by hand from a phone survives;
 * decoding takes upper case too and reads i/l as 1 and o as 0.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const VALUES = new Map<string, number>();
for (let i = 0; i < ALPHABET.length; i++) {
  VALUES.set(ALPHABET[i]!, i);
  VALUES.set(ALPHABET[i]!.toUpperCase(), i);
}
for (const [alias, value] of [
  ['i', 1],
  ['l', 1],
  ['o', 0],
] as const) {
  VALUES.set(alias, value);
  VALUES.set(alias.toUpperCase(), value);
}

export function encodeBase32(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The bytes `text` encodes, or undefined for a character outside the alphabet or stray bits. */
export function decodeBase32(text: string): Uint8Array | undefined {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of text) {
    const value = VALUES.get(char);
    if (value === undefined) return undefined;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[index++] = (buffer >> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  // Leftover bits must be zero padding, or two texts would decode to the same bytes.
  if (bits >= 5 || (buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

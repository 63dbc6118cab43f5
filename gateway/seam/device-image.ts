/**
 * The picture the Seam components show for a Tumbler lock (`properties.image_url`): a
 * keypad lock drawn in SVG, inline as a data URL so the console loads nothing from
 * elsewhere (the components' default picture is on Seam's CDN).
 */
const KEYS = Array.from({ length: 12 }, (_, i) => {
  const x = 34 + (i % 3) * 16;
  const y = 44 + Math.floor(i / 3) * 14;
  return `<circle cx="${x}" cy="${y}" r="4.5" fill="#cfd5de"/>`;
}).join('');

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 120"><rect x="20" y="8" width="60" height="104" rx="10" fill="#2d3748"/><rect x="28" y="18" width="44" height="14" rx="3" fill="#68d391"/>${KEYS}<rect x="44" y="100" width="12" height="5" rx="2" fill="#a0aec0"/></svg>`;

export const LOCK_IMAGE_URL = `data:image/svg+xml;base64,${Buffer.from(SVG).toString('base64')}`;
export const LOCK_IMAGE_ALT_TEXT = 'Tumbler keypad lock';

import { DASHBOARD_CSS } from './dashboard-assets';

/** WCAG 2 relative luminance and contrast ratio of two `#rrggbb` colours. */
function contrast(a: string, b: string): number {
  const luminance = (hex: string): number => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const variables = Object.fromEntries([...DASHBOARD_CSS.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/g)].map((m) => [m[1], m[2]]));
const colour = (name: string): string => (name.startsWith('#') ? name : variables[name]);

describe('dashboard stylesheet', () => {
  it.each([
    ['fg', 'bg'],
    ['fg', 'panel'],
    ['muted', 'bg'],
    ['muted', 'panel'],
    ['accent', 'bg'],
    ['warn', 'bg'],
    ['bad', 'bg'],
    ['ok', 'bg'],
    ['#ffffff', 'top'],
    ['top', '#ffffff'],
    ['#ffffff', 'accent'],
    ['#ffffff', 'bad'],
  ])('text %s on %s has a contrast of at least 4.5:1', (text, background) => {
    expect(contrast(colour(text), colour(background))).toBeGreaterThanOrEqual(4.5);
  });

  it.each([
    ['focus', 'bg'],
    ['focus', 'panel'],
    ['focus-on-dark', 'top'],
  ])('the focus ring %s on %s has a contrast of at least 3:1', (ring, background) => {
    expect(contrast(colour(ring), colour(background))).toBeGreaterThanOrEqual(3);
  });
});

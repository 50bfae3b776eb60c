/** Terminal colours, only when writing to a terminal (and NO_COLOR is unset). */
const enabled = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

const wrap =
  (open: number, close: number) =>
  (text: string): string =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;

export const paint = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};

/** Baud rates the console accepts (what picocom, minicom and screen offer). */
export const BAUD_RATES = [
  1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
] as const;
export const DEFAULT_BAUD = 115200;

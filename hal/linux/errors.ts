/** The board file is missing, unreadable or does not match the schema. */
export class BoardConfigError extends Error {
  readonly code = 'BOARD_CONFIG_INVALID';

  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`board file ${file}: ${problems.join('; ')}`);
    this.name = 'BoardConfigError';
  }
}

/** A device the board file names is not present (no chip, no input node, no RTC, no tool). */
export class DeviceMissingError extends Error {
  readonly code = 'DEVICE_MISSING';

  constructor(
    /** The board-file field that names the device, e.g. `board.keypad.device`. */
    readonly field: string,
    /** The path (or command) that was looked for. */
    readonly path: string,
    hint: string,
  ) {
    super(`${field}: ${path} not found (${hint})`);
    this.name = 'DeviceMissingError';
  }
}

/** A GPIO line request or value change failed. */
export class GpioError extends Error {
  readonly code = 'GPIO_FAILED';

  constructor(message: string) {
    super(message);
    this.name = 'GpioError';
  }
}

/** Several devices are missing at once; one message names each of them. */
export class DevicesMissingError extends Error {
  readonly code = 'DEVICE_MISSING';

  constructor(readonly missing: readonly DeviceMissingError[]) {
    super(missing.map((error) => error.message).join('; '));
    this.name = 'DevicesMissingError';
  }
}

/** The keypad could not be taken exclusively (EVIOCGRAB), so its digits could leak to other readers. */
export class KeypadGrabError extends Error {
  readonly code = 'KEYPAD_NOT_EXCLUSIVE';

  constructor(path: string, reason: string) {
    super(
      `board.keypad.grab: ${path} could not be taken exclusively (${reason}); another program holds it, or it is not an input event device (grab: false is only for a test FIFO)`,
    );
    this.name = 'KeypadGrabError';
  }
}

import { describe, expect, it } from 'vitest';
import { InputQueue } from '../../firmware/diag/input-queue.ts';
import { answerLines, endsWithPrompt, isErrorAnswer } from '../../scripts/lockdiag/transcript.ts';

describe('lockdiag transcript parsing', () => {
  it('recognises the prompt only at the very end', () => {
    expect(endsWithPrompt('status\r\nlock: locked\r\nlock-1> ')).toBe(true);
    expect(endsWithPrompt('lock-1# ')).toBe(true);
    expect(endsWithPrompt('lock-1> status')).toBe(false);
    expect(endsWithPrompt('x\r\nlock-1>')).toBe(false);
  });

  it('strips the echo (with its redraws), the prompt and escapes', () => {
    const transcript = 'login \x1b[K\rlock-1> login ********\r\nlogged in\r\nsecond line\r\nlock-1# ';
    expect(answerLines(transcript)).toEqual(['logged in', 'second line']);
    expect(answerLines('status\r\nlock-1> ')).toEqual([]);
    expect(answerLines('no end of echo')).toEqual([]);
  });

  it('tells error answers: plain error lines, JSON ok:false', () => {
    expect(isErrorAnswer(['lock: locked'])).toBe(false);
    expect(isErrorAnswer(['relay: fail ...', 'error: selftest: 1 failed'])).toBe(true);
    expect(isErrorAnswer(['{"ok":true,"command":"status"}'])).toBe(false);
    expect(isErrorAnswer(['{"ok":false,"error":"x"}'])).toBe(true);
    expect(isErrorAnswer(['{not json'])).toBe(false);
  });
});

describe('InputQueue', () => {
  it('keeps the newest bytes up to its capacity and counts what it dropped', () => {
    const queue = new InputQueue(8);
    queue.push(Buffer.from('abcdef'));
    queue.push(Buffer.from('ghij'));
    expect(queue.size).toBe(8);
    expect(queue.takeDropped()).toBe(2);
    queue.push(Buffer.from('0123456789XYZ'));
    expect(queue.takeDropped()).toBe(13);
    let text = '';
    for (let byte = queue.shift(); byte !== undefined; byte = queue.shift())
      text += String.fromCharCode(byte);
    expect(text).toBe('56789XYZ');
    expect(queue.size).toBe(0);
    expect(() => new InputQueue(0)).toThrow(RangeError);
  });
});

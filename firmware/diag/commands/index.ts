import { CommandRegistry } from '../registry.ts';
import { codes, codesDisable } from './codes.ts';
import { events, why } from './history.ts';
import { config, status, version } from './info.ts';
import { keypadTest } from './keypad.ts';
import { modeSet, relayLock, relayUnlock } from './lock.ts';
import { logLevel } from './log.ts';
import { matterPair } from './matter.ts';
import { factoryResetCommand } from './reset.ts';
import { selftest } from './selftest.ts';
import { help, json, loginCommand, logout } from './session.ts';
import { time, timeSet } from './time.ts';

/** Every console command, in the order `help` lists them. */
export function buildRegistry(): CommandRegistry {
  return new CommandRegistry()
    .add(status)
    .add(codes)
    .add(why)
    .add(events)
    .add(time)
    .add(selftest)
    .add(keypadTest)
    .add(logLevel)
    .add(config)
    .add(version)
    .add(timeSet)
    .add(modeSet)
    .add(relayUnlock)
    .add(relayLock)
    .add(codesDisable)
    .add(factoryResetCommand)
    .add(matterPair)
    .add(loginCommand)
    .add(logout)
    .add(json)
    .add(help);
}

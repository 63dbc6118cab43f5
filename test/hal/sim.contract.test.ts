import { flushAsync, VirtualScheduler } from '../../hal/scheduler.ts';
import { SimActuator } from '../../hal/sim/actuator.ts';
import { SimDoor } from '../../hal/sim/door.ts';
import { SimIndicator } from '../../hal/sim/indicator.ts';
import { SimKeypad } from '../../hal/sim/keypad.ts';
import { SimRtc } from '../../hal/sim/rtc.ts';
import { SimSwitch } from '../../hal/sim/switch.ts';
import { SimWiegand } from '../../hal/sim/wiegand.ts';
import {
  actuatorContract,
  doorContract,
  indicatorContract,
  keypadContract,
  rtcContract,
  switchContract,
  wiegandContract,
} from './contract.ts';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);

keypadContract('SimKeypad', async () => {
  const device = new SimKeypad();
  return { device, driver: { press: (keys) => device.press(keys), settle: () => flushAsync() } };
});

actuatorContract('SimActuator', 'motor', async () => {
  const scheduler = new VirtualScheduler();
  const device = new SimActuator(scheduler, { travelMs: 400 });
  return {
    device,
    driver: {
      kind: 'motor',
      travelMs: 400,
      energised: () => device.energisedToward() !== null,
      jam: () => device.jam(),
      unjam: () => device.unjam(),
      settle: (ms = 0) => scheduler.advance(ms),
    },
  };
});

doorContract('SimDoor', async () => {
  const device = new SimDoor();
  return { device, driver: { set: (state) => device.set(state), settle: () => flushAsync() } };
});

switchContract('SimSwitch', async () => {
  const device = new SimSwitch();
  return { device, driver: { set: (active) => device.set(active), settle: () => flushAsync() } };
});

rtcContract('SimRtc', START, async () => {
  const device = new SimRtc(new VirtualScheduler(), START);
  return { device, driver: { loseBattery: () => device.loseBattery() } };
});

indicatorContract('SimIndicator', async () => {
  const scheduler = new VirtualScheduler();
  const device = new SimIndicator(scheduler);
  return {
    device,
    driver: { led: () => device.led, buzzing: () => device.buzzing, settle: (ms) => scheduler.advance(ms) },
  };
});

wiegandContract('SimWiegand', async () => {
  const device = new SimWiegand();
  return { device, driver: { send: (bits) => device.sendBits(bits), settle: () => flushAsync() } };
});

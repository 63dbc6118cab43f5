import type { LockState } from '../lock.ts';
import type { Topics } from './topics.ts';

/**
 * Home Assistant MQTT discovery for the lock entity (retained under homeassistant/lock/...).
 * Only keys Home Assistant's MQTT lock schema accepts, each with a value of its type: one
 * bad value makes Home Assistant reject the whole config (test/sync/home-assistant.test.ts
 * checks it against test/fixtures/ha-mqtt-lock-schema.json). No `payload_open`: the lock
 * has no separate latch, so Home Assistant offers lock and unlock only.
 */
export function homeAssistantDiscovery(deviceId: string, topics: Topics): Record<string, unknown> {
  return {
    name: null,
    unique_id: `tumbler_${deviceId}`,
    // Entity ids are lower case letters, digits and _ (device ids may have upper case and -).
    default_entity_id: `lock.tumbler_${deviceId.toLowerCase().replaceAll('-', '_')}`,
    device: {
      identifiers: [`tumbler_${deviceId}`],
      name: `Tumbler ${deviceId}`,
      manufacturer: 'Tumbler',
      model: 'keypad lock',
    },
    availability_topic: topics.availability,
    payload_available: 'online',
    payload_not_available: 'offline',
    state_topic: topics.haState,
    command_topic: topics.haSet,
    json_attributes_topic: topics.haAttributes,
    payload_lock: 'LOCK',
    payload_unlock: 'UNLOCK',
    state_locked: 'LOCKED',
    state_unlocked: 'UNLOCKED',
    state_locking: 'LOCKING',
    state_unlocking: 'UNLOCKING',
    state_jammed: 'JAMMED',
    optimistic: false,
    qos: 1,
  };
}

export function homeAssistantState(lock: LockState): string {
  return lock.toUpperCase();
}

/** Every MQTT topic of one lock (docs/protocol.md). */
export function topicsFor(deviceId: string) {
  const base = `lock/${deviceId}`;
  return {
    base,
    availability: `${base}/availability`,
    state: `${base}/state`,
    desiredCodes: `${base}/desired/codes`,
    reportedCodes: `${base}/reported/codes`,
    events: `${base}/events`,
    eventsAck: `${base}/events/ack`,
    cmd: `${base}/cmd`,
    cmdRes: `${base}/cmd/res`,
    timeReq: `${base}/time/req`,
    timeRes: `${base}/time/res`,
    haState: `${base}/ha/state`,
    haSet: `${base}/ha/set`,
    haAttributes: `${base}/ha/attributes`,
    haDiscovery: `homeassistant/lock/tumbler_${deviceId}/config`,
  };
}

export type Topics = ReturnType<typeof topicsFor>;

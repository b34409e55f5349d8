/** The alert the sensor raises when it lost events: losses are reported, never silent. */
import { defaultHostname, isoNs, type Alert } from '../runtime/alerts/alert.js';
import type { DropReport } from './sensor.js';

export const DROP_RULE = 'Gatehouse sensor dropped events';

export function dropAlert(r: DropReport, host = defaultHostname(), nowNs = BigInt(Date.now()) * 1_000_000n): Alert {
  const time = isoNs(nowNs);
  const text =
    `Sensor dropped ${r.total} events (lost in kernel buffer=${r.lostInKernel} ` +
    `dropped by full queue=${r.droppedInQueue} incomplete=${r.incomplete}); detection was incomplete in this interval`;
  return {
    time,
    rule: DROP_RULE,
    priority: 'Critical',
    source: 'internal',
    hostname: host,
    output: `${time.slice(11, 29)}: Critical ${text}`,
    output_fields: {
      'sensor.drops': r.total,
      'sensor.drops.kernel': r.lostInKernel,
      'sensor.drops.queue': r.droppedInQueue,
      'sensor.drops.incomplete': r.incomplete,
    },
    tags: ['gatehouse', 'sensor'],
  };
}

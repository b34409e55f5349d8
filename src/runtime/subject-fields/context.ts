/**
 * What the `runtime` subject's fields read: one Falco alert and, when the rule engine raised
 * it in-process, the event that triggered it. A Falco field reads the alert's output_fields
 * first, then the event (with the rule engine's derivations, e.g. the image repository
 * from the image), then a derivation over the output fields, so a Falco alert read from a
 * file and an alert raised here are read the same way. Unknown values (null, '', <NA>)
 * count as absent.
 */
import type { FieldDef as PolicyFieldDef } from '../../policy/fields.js';
import type { Alert } from '../alerts/alert.js';
import type { FieldValue, RuntimeEvent } from '../event.js';
import { fieldRegistry, readField } from '../rules/fields.js';

export interface RuntimeContext {
  alert: Alert;
  event?: RuntimeEvent;
  /** Whether the process ran outside a container (container.id 'host' or unknown). */
  onHost: boolean;
}

/** Every runtime field reads the alert as a whole (no element levels). */
export type FieldDef = PolicyFieldDef<RuntimeContext> & { target: 'alert' };

export const known = (v: FieldValue | undefined): v is Exclude<FieldValue, null> => v !== undefined && v !== null && v !== '' && v !== '<NA>';

/** A reader of one Falco field over an alert and its event (the definition is resolved once). */
export function falcoField(name: string): (alert: Alert, event: RuntimeEvent | undefined) => FieldValue | undefined {
  const def = fieldRegistry.lookup(name);
  return (alert, event) => {
    const own = alert.output_fields[name];
    if (known(own)) return own;
    if (event) {
      const v = readField(def, event, name, undefined);
      if (known(v)) return v;
    }
    if (def?.derive) {
      const v = def.derive(alert.output_fields as RuntimeEvent, undefined);
      if (known(v)) return v;
    }
    return undefined;
  };
}

/**
 * A runtime event: a flat record keyed by Falco field names (`evt.type`, `proc.name`,
 * `fd.name`, `container.id`, …). Sources (the eBPF sensor, sysdig replay, JSONL replay)
 * fill what they know; rules read fields through the field registry, which can also
 * derive fields (e.g. fd.directory from fd.name). A field a source does not know is absent.
 *
 * Conventions the rule engine relies on (src/runtime/rules/fields.ts):
 * - `null` means "the source knows this is not available" (no derivation replaces it);
 *   `undefined`/absent means "not filled", and the registry may derive it.
 * - Indexed fields may be given as their own keys (`proc.aname[2]`, `evt.arg[0]`,
 *   `container.label[app]`); ancestry may also be given as arrays starting with the parent:
 *   `proc.aname`, `proc.aexe`, `proc.aexepath`, `proc.apid` (so `proc.aname[1]` = element 0).
 * - Large integers (times in ns) may be numbers, bigints or decimal strings.
 */
export type FieldValue = string | number | boolean | bigint | string[] | number[] | null;

export type RuntimeEvent = Record<string, FieldValue | undefined>;

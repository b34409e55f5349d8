/**
 * A runtime event: a flat record keyed by Falco field names (`evt.type`, `proc.name`,
 * `fd.name`, `container.id`, …). Sources (the eBPF sensor, sysdig replay, JSONL replay)
 * fill what they know; rules read fields through the field registry, which can also
 * derive fields (e.g. fd.directory from fd.name). A field a source does not know is absent.
 */
export type FieldValue = string | number | boolean | bigint | string[] | number[] | null;

export type RuntimeEvent = Record<string, FieldValue | undefined>;

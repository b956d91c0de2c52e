// How `-o json` (and yaml) writes values the protos type loosely: one contract for every command.
// Every field of a resource is present: "" / 0 / false / [] when empty, null for an unset time or
// exit code; enum values read as the tables show them.

/** A timestamp: RFC 3339 in UTC, or null when unset. */
export const timeJson = (time: Date | undefined): string | null => time?.toISOString() ?? null;

/** An enum value as the tables show it: "STATE_ACTIVE" → "active", "STATE_UNSPECIFIED" → "unspecified". */
export const enumJson = (protoName: string): string => protoName.replace(/^STATE_/, '').toLowerCase();
